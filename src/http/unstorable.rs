//! Characters a backend cannot store, handled at the edge: Postgres `text` and `jsonb` cannot
//! hold U+0000 (NUL), so a NUL that reached the store would fail the write (a 500, or a poisoned
//! call-log batch) on one backend and not the other. Retell payloads are free text we keep, so
//! their NULs are stripped ([`strip`]); the admin API refuses them with a 422 naming the field
//! ([`MESSAGE`], [`contains`]), since an operator typed the value and should see it refused.
//!
//! JSON cannot carry the other unstorable text (lone surrogates, invalid UTF-8): the parser
//! refuses those bodies already.

use serde_json::Value;

/// The message for a field holding a NUL.
pub const MESSAGE: &str = "must not contain NUL characters (\\u0000)";

/// Whether a character cannot be stored by every backend.
fn unstorable(c: char) -> bool {
    c == '\0'
}

/// Whether `text` holds a character some backend cannot store.
pub fn text_contains(text: &str) -> bool {
    text.chars().any(unstorable)
}

/// Whether any string of `value` (object keys included) holds such a character.
pub fn contains(value: &Value) -> bool {
    match value {
        Value::String(s) => text_contains(s),
        Value::Array(items) => items.iter().any(contains),
        Value::Object(map) => map.iter().any(|(k, v)| text_contains(k) || contains(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Removes such characters from every string of `value` (object keys included).
pub fn strip(value: &mut Value) {
    match value {
        Value::String(s) => strip_text(s),
        Value::Array(items) => items.iter_mut().for_each(strip),
        Value::Object(map) => {
            if map.keys().any(|k| text_contains(k)) {
                let old = std::mem::take(map);
                for (mut key, mut item) in old {
                    strip_text(&mut key);
                    strip(&mut item);
                    map.insert(key, item);
                }
            } else {
                map.values_mut().for_each(strip);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn strip_text(text: &mut String) {
    if text_contains(text) {
        text.retain(|c| !unstorable(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_found_and_stripped_everywhere_in_a_value() {
        let mut value = json!({"transcript": "a\u{0000}b", "call": {"k\u{0000}": ["x\u{0000}", 1]},
            "clean": "Grüße"});
        assert!(contains(&value));
        assert!(contains(&value["call"]));
        assert!(!contains(&value["clean"]));
        strip(&mut value);
        assert!(!contains(&value));
        assert_eq!(
            value,
            json!({"transcript": "ab", "call": {"k": ["x", 1]}, "clean": "Grüße"})
        );
    }
}
