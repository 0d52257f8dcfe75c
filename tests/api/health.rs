//! Liveness, readiness, metrics, request ids, error bodies and body limits.

use crate::helpers::{skip, spawn_app};
use std::io::Write;
use std::process::{Command, Stdio};

#[actix_web::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let answer = app.get("/healthz").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["status"], "ok");
}

#[actix_web::test]
async fn readyz_is_ready_once_started_and_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    let answer = app.get("/readyz").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["checks"]["database"], "up");
    assert_eq!(answer.json()["checks"]["redis"], "not_configured");

    app.database.close().await;
    let answer = app.get("/readyz").await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.json()["checks"]["database"], "down");
    assert_eq!(answer.json()["status"], "not_ready");
}

#[actix_web::test]
async fn every_answer_carries_a_request_id_and_a_sane_client_id_is_kept() {
    let app = spawn_app().await;
    let generated = app.get("/healthz").await;
    let id = generated
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(id.len(), 32, "a fresh id is generated: {id:?}");

    let request = app
        .request(awc::http::Method::GET, "/healthz")
        .insert_header(("x-request-id", "abc-123"));
    let kept = app.send(request, None).await;
    assert_eq!(
        kept.headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("abc-123")
    );

    let request = app
        .request(awc::http::Method::GET, "/healthz")
        .insert_header(("x-request-id", "<script>"));
    let replaced = app.send(request, None).await;
    assert_ne!(
        replaced
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("<script>")
    );
}

#[actix_web::test]
async fn unknown_paths_get_a_json_404() {
    let app = spawn_app().await;
    let answer = app.get("/no/such/thing").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["error"]["code"], "not_found");
}

#[actix_web::test]
async fn bodies_over_the_limit_get_413_before_they_are_read() {
    let app = spawn_app().await;
    let answer = app.post("/healthz", vec![b'x'; 1024 * 1024 + 1]).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert_eq!(answer.json()["error"]["code"], "payload_too_large");
}

/// Parses Prometheus text with the official Python client's parser; `None` when it is missing.
fn parse_with_prometheus_client(text: &str) -> Option<String> {
    let script = "import sys\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        for family in text_string_to_metric_families(sys.stdin.read()):\n\
        \x20   print(family.name, family.type, len(family.samples))\n";
    // Asked first, on its own: a parser that exits on the import error closes its stdin before
    // the metrics are written, and a missing optional client is a skip, not a broken pipe.
    match Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output()
    {
        Err(e) => {
            skip("python3 (for the Prometheus parser)", e);
            return None;
        }
        Ok(probe) if !probe.status.success() => {
            skip(
                "prometheus_client (pip install -r tests/requirements.txt)",
                String::from_utf8_lossy(&probe.stderr).trim(),
            );
            return None;
        }
        Ok(_) => {}
    }
    let child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            skip("python3 (for the Prometheus parser)", e);
            return None;
        }
    };
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(text.as_bytes())
        .expect("parser reads stdin");
    let output = child.wait_with_output().expect("parser runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Prometheus parser rejected /metrics: {stderr}\n---\n{text}"
    );
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[actix_web::test]
async fn metrics_are_valid_prometheus_text_with_request_build_and_process_metrics() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    app.get("/nope").await;
    let answer = app.get("/metrics").await;
    assert_eq!(answer.status, 200);
    let content_type = answer
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert!(
        answer.body.contains(
            r#"callflow_http_requests_total{route="/healthz",method="GET",status="200"}"#
        ),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains(r#"route="unmatched""#),
        "unknown paths share one label value"
    );
    assert!(
        answer
            .body
            .contains("callflow_http_request_duration_seconds_bucket{"),
        "latency is a histogram"
    );
    let Some(families) = parse_with_prometheus_client(&answer.body) else {
        return;
    };
    for expected in [
        "callflow_http_requests counter",
        "callflow_http_request_duration_seconds histogram",
        "callflow_build_info gauge",
        "process_resident_memory_bytes gauge",
    ] {
        assert!(
            families.lines().any(|l| l.starts_with(expected)),
            "missing {expected:?} in:\n{families}"
        );
    }
}
