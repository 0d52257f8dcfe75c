//! Configuration: the committed `config.toml` is the complete set of defaults (compiled into the
//! binary), a user's file is merged over it, and `CALLFLOW_<SECTION>__<KEY>` variables over that.
//!
//! Because the defaults tree holds every key, an unknown key (in a file or a variable) is caught
//! before deserialisation, and a variable's text is read as the type its default has. Every error
//! names the key and where it came from.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::{Table, Value};

/// The committed `config.toml`: the defaults of every key.
pub const DEFAULTS: &str = include_str!("../config.toml");

/// Prefix of every configuration environment variable.
pub const ENV_PREFIX: &str = "CALLFLOW_";

/// The complete, validated configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTP server.
    pub server: ServerConfig,
    /// Database connection.
    pub database: DatabaseConfig,
    /// Optional Redis for several nodes.
    pub redis: RedisConfig,
    /// Retell webhook verification.
    pub retell: RetellConfig,
    /// Slot computation and holds.
    pub scheduling: SchedulingConfig,
    /// Callback SLAs and escalation.
    pub callbacks: CallbacksConfig,
    /// Staff-selection weights.
    pub scoring: ScoringConfig,
    /// Admin API rate limits.
    pub rate_limits: RateLimitsConfig,
    /// Log output.
    pub logging: LoggingConfig,
    /// Outbound webhooks, Slack, Teams and e-mail delivery.
    pub notifications: NotificationsConfig,
    /// The SMTP server e-mail alerts go through.
    pub smtp: SmtpConfig,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address.
    pub bind: SocketAddr,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Grace period for in-flight work on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Time a client gets to send its request headers.
    pub client_request_timeout_secs: u64,
    /// Mount `GET /bench/static` (a fixed small JSON answer): the HTTP ceiling the load
    /// harness compares the webhook path against. Off in production.
    pub bench_static_endpoint: bool,
}

/// The Retell key in the shipped `config.toml`: fine for trying callflow on this machine, refused
/// on any address others can reach.
pub const DEMO_RETELL_API_KEY: &str = "demo-retell-key-change-me";

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`; may hold a password, so it is a secret.
    pub url: Secret,
    /// Pool size.
    pub max_connections: u32,
    /// Wait for a pooled connection.
    pub acquire_timeout_secs: u64,
    /// How long start-up keeps retrying an unreachable database.
    pub startup_retry_secs: u64,
    /// Seed the demo company into an empty database on `serve`.
    pub seed_demo_when_empty: bool,
}

/// `[redis]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// Empty for a single node.
    pub url: Secret,
    /// Prefix of every key written.
    pub key_prefix: String,
}

/// `[retell]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetellConfig {
    /// Webhook API key used to verify signatures.
    pub api_key: Secret,
    /// Accepted clock difference of a signature's timestamp.
    pub signature_tolerance_secs: u64,
}

/// `[scheduling]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulingConfig {
    /// Slot start granularity.
    pub slot_interval_minutes: u32,
    /// Earliest bookable time from now.
    pub minimum_notice_minutes: u32,
    /// Latest bookable day from today.
    pub booking_horizon_days: u32,
    /// Lifetime of an unconfirmed hold.
    pub hold_ttl_secs: u64,
    /// Inactivity after which a call is ended.
    pub call_idle_timeout_secs: u64,
    /// Most slots offered per answer.
    pub max_slots_offered: u32,
}

/// `[callbacks]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbacksConfig {
    /// Window in which a repeat request merges into the open one.
    pub duplicate_window_minutes: u32,
    /// ISO 3166 country of national phone numbers (`"DE"`).
    pub default_region: String,
    /// SLA for urgent callbacks.
    pub sla_urgent_minutes: u32,
    /// SLA for high-priority callbacks.
    pub sla_high_minutes: u32,
    /// SLA for normal callbacks.
    pub sla_normal_minutes: u32,
    /// Warning ahead of the deadline.
    pub sla_warning_minutes: u32,
    /// Attempts before closing as unreachable.
    pub max_attempts: u32,
    /// Highest escalation level.
    pub max_escalation_level: u32,
    /// Whether new callbacks are assigned automatically.
    pub auto_assign: bool,
    /// Automatic assignment looks at staff at work within this many minutes.
    pub assignment_horizon_minutes: u32,
    /// Past the deadline at the highest level, a callback expires after this many minutes.
    pub expire_after_minutes: u32,
}

/// `[scoring]`: weights of the staff-selection score, adding up to 1.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringConfig {
    /// Skills match the service.
    pub skill_match: f64,
    /// Free at the wanted time.
    pub availability: f64,
    /// The customer's preferred staff member.
    pub customer_preference: f64,
    /// Fewer bookings today and this week.
    pub workload_balance: f64,
    /// Speaks the caller's language.
    pub language: f64,
}

/// `[rate_limits]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// Admin API requests per minute per client IP; 0 turns the limit off.
    pub per_ip_per_minute: u32,
    /// Admin API requests per minute per token; 0 turns the limit off.
    pub per_token_per_minute: u32,
    /// Take the client IP from `Forwarded` / `X-Forwarded-For` instead of the peer address.
    /// Only behind a proxy that sets these headers itself: clients can send any value.
    pub trust_forwarded_for: bool,
}

/// `[logging]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// Output format.
    pub format: LogFormat,
    /// Level or filter directives.
    pub level: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, coloured on a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[notifications]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsConfig {
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// Backoff ceiling after the first failed attempt; doubles per attempt.
    pub backoff_base_ms: u64,
    /// Largest backoff ceiling.
    pub backoff_max_secs: u64,
    /// Time one attempt (connect, send, answer) may take.
    pub request_timeout_secs: u64,
    /// Attempts in flight at once on this node.
    pub concurrency: usize,
    /// How often the outbox is checked for work other nodes queued.
    pub poll_interval_ms: u64,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a local relay only).
    None,
    /// Plain connection upgraded with STARTTLS (required), usually port 587.
    Starttls,
    /// TLS from the first byte, usually port 465.
    Tls,
}

/// `[smtp]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Server host name; empty turns e-mail off.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Login; empty for none.
    pub username: String,
    /// Password for `username`.
    pub password: Secret,
    /// Sender address (`Callflow <alerts@example.com>` or a bare address).
    pub from: String,
    /// Transport security.
    pub tls: SmtpTls,
}

impl SmtpConfig {
    /// Whether e-mail is configured at all.
    pub fn is_enabled(&self) -> bool {
        !self.host.trim().is_empty()
    }
}

impl Config {
    /// The `[notifications]` and `[smtp]` checks of [`Config::validate`].
    fn validate_notifications(&self) -> Result<(), (&'static str, String)> {
        let n = &self.notifications;
        let positive: [(&'static str, u64); 5] = [
            ("notifications.max_attempts", n.max_attempts.into()),
            ("notifications.backoff_base_ms", n.backoff_base_ms),
            ("notifications.request_timeout_secs", n.request_timeout_secs),
            ("notifications.concurrency", n.concurrency as u64),
            ("notifications.poll_interval_ms", n.poll_interval_ms),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err((key, "must be greater than 0".into()));
        }
        if n.backoff_max_secs.saturating_mul(1000) < n.backoff_base_ms {
            return Err((
                "notifications.backoff_max_secs",
                "must not be below notifications.backoff_base_ms".into(),
            ));
        }
        if self.smtp.is_enabled() {
            if self.smtp.port == 0 {
                return Err(("smtp.port", "must be greater than 0".into()));
            }
            if self.smtp.from.parse::<lettre::message::Mailbox>().is_err() {
                return Err((
                    "smtp.from",
                    "must be an e-mail address (or \"Name <address>\") when smtp.host is set"
                        .into(),
                ));
            }
        }
        Ok(())
    }
}

/// A value that must never appear in logs or debug output.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no value is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A key that callflow does not know.
    #[error("unknown config key `{key}` (from {origin})")]
    UnknownKey {
        /// Dotted key, e.g. `server.bnd`.
        key: String,
        /// The file or variable that set it.
        origin: String,
    },
    /// A known key with a value that cannot be used.
    #[error("invalid value for config key `{key}` (from {origin}): {message}")]
    Invalid {
        /// Dotted key.
        key: String,
        /// The file or variable that set it.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

/// Where each key's value came from, for error messages.
type Origins = BTreeMap<String, String>;

impl Config {
    /// Loads the defaults, then `file` (if any), then the `CALLFLOW_*__*` variables in `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut tree: Table =
            DEFAULTS
                .parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: "built-in defaults".into(),
                    message: e.to_string(),
                })?;
        let mut origins = Origins::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let user: Table = text
                .parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    path: path.to_owned(),
                    message: e.message().to_owned() + &line_of(&text, e.span()),
                })?;
            merge_file(
                &mut tree,
                user,
                &path.display().to_string(),
                "",
                &mut origins,
            )?;
        }
        let mut vars: Vec<_> = env
            .into_iter()
            .filter(|(name, _)| is_override(name))
            .collect();
        vars.sort();
        for (name, raw) in vars {
            apply_env(&mut tree, &name, &raw, &mut origins)?;
        }
        let config: Config = serde_path_to_error::deserialize(Value::Table(tree)).map_err(|e| {
            let key = e.path().to_string();
            // toml appends "in `key`" on a second line; the key is already in our message.
            let message = e.into_inner().to_string();
            ConfigError::Invalid {
                origin: origin_of(&origins, &key),
                message: message.lines().next().unwrap_or_default().to_owned(),
                key,
            }
        })?;
        config
            .validate()
            .map_err(|(key, message)| ConfigError::Invalid {
                origin: origin_of(&origins, key),
                key: key.to_owned(),
                message,
            })?;
        Ok(config)
    }

    /// Checks what types alone cannot: ranges, schemes, weights adding up.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        let url = self.database.url.expose();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err((
                "database.url",
                "must start with sqlite:, postgres:// or postgresql://".into(),
            ));
        }
        let redis = self.redis.url.expose();
        if !(redis.is_empty() || redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            return Err((
                "redis.url",
                "must be empty or start with redis:// or rediss://".into(),
            ));
        }
        if self.retell.api_key.is_empty() {
            return Err(("retell.api_key", "must not be empty".into()));
        }
        // Anyone can read the shipped key, so it may only guard a server nobody else can reach.
        if self.retell.api_key.expose() == DEMO_RETELL_API_KEY
            && !self.server.bind.ip().is_loopback()
        {
            return Err((
                "retell.api_key",
                format!(
                    "is the public demo key, which only works on a loopback address; set your Retell \
                     API key (CALLFLOW_RETELL__API_KEY) before binding to {}",
                    self.server.bind
                ),
            ));
        }
        let positive: [(&'static str, u64); 10] = [
            ("server.max_body_bytes", self.server.max_body_bytes as u64),
            (
                "server.client_request_timeout_secs",
                self.server.client_request_timeout_secs,
            ),
            (
                "database.max_connections",
                self.database.max_connections.into(),
            ),
            (
                "database.acquire_timeout_secs",
                self.database.acquire_timeout_secs,
            ),
            (
                "scheduling.slot_interval_minutes",
                self.scheduling.slot_interval_minutes.into(),
            ),
            (
                "scheduling.booking_horizon_days",
                self.scheduling.booking_horizon_days.into(),
            ),
            ("scheduling.hold_ttl_secs", self.scheduling.hold_ttl_secs),
            (
                "scheduling.call_idle_timeout_secs",
                self.scheduling.call_idle_timeout_secs,
            ),
            (
                "scheduling.max_slots_offered",
                self.scheduling.max_slots_offered.into(),
            ),
            ("callbacks.max_attempts", self.callbacks.max_attempts.into()),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err((key, "must be greater than 0".into()));
        }
        if self.scheduling.slot_interval_minutes > 24 * 60 {
            return Err((
                "scheduling.slot_interval_minutes",
                "must be at most 1440 (a day)".into(),
            ));
        }
        let sla = [
            (
                "callbacks.sla_urgent_minutes",
                self.callbacks.sla_urgent_minutes,
            ),
            (
                "callbacks.sla_high_minutes",
                self.callbacks.sla_high_minutes,
            ),
            (
                "callbacks.sla_normal_minutes",
                self.callbacks.sla_normal_minutes,
            ),
        ];
        if let Some((key, _)) = sla.iter().find(|(_, v)| *v == 0) {
            return Err((key, "must be greater than 0".into()));
        }
        if !callflow_actors::domain::phone::is_known_region(&self.callbacks.default_region) {
            return Err((
                "callbacks.default_region",
                "must be an ISO 3166 country code such as \"DE\"".into(),
            ));
        }
        let s = &self.scoring;
        let weights = [
            ("scoring.skill_match", s.skill_match),
            ("scoring.availability", s.availability),
            ("scoring.customer_preference", s.customer_preference),
            ("scoring.workload_balance", s.workload_balance),
            ("scoring.language", s.language),
        ];
        if let Some((key, _)) = weights.iter().find(|(_, w)| !(0.0..=1.0).contains(w)) {
            return Err((key, "must be between 0 and 1".into()));
        }
        let sum: f64 = weights.iter().map(|(_, w)| w).sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err((
                "scoring",
                format!("weights must add up to 1, they add up to {sum:.3}"),
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.logging.level) {
            return Err(("logging.level", e.to_string()));
        }
        self.validate_notifications()?;
        Ok(())
    }
}

impl Config {
    /// The engine's settings. Slot ids are sealed with a key derived from the Retell API key,
    /// which every node of a deployment shares.
    pub fn engine_settings(&self) -> callflow_actors::EngineSettings {
        let s = &self.scheduling;
        let w = &self.scoring;
        callflow_actors::EngineSettings {
            rules: callflow_actors::domain::availability::SchedulingRules {
                slot_interval_minutes: s.slot_interval_minutes,
                minimum_notice: chrono::Duration::minutes(i64::from(s.minimum_notice_minutes)),
                booking_horizon_days: s.booking_horizon_days,
            },
            hold_ttl: Duration::from_secs(s.hold_ttl_secs),
            call_idle_timeout: Duration::from_secs(s.call_idle_timeout_secs),
            max_slots_offered: s.max_slots_offered as usize,
            weights: callflow_actors::domain::scoring::ScoringWeights {
                skill_match: w.skill_match,
                availability: w.availability,
                customer_preference: w.customer_preference,
                workload_balance: w.workload_balance,
                language: w.language,
            },
            slot_secret: self.retell.api_key.expose().as_bytes().to_vec(),
            ..callflow_actors::EngineSettings::default()
        }
    }
}

impl Config {
    /// The rules callbacks are opened and merged by, from `[callbacks]`; the text limits are
    /// the domain's defaults.
    pub fn callback_policy(&self) -> callflow_actors::domain::callback::CallbackPolicy {
        let c = &self.callbacks;
        let minutes = |m: u32| chrono::Duration::minutes(i64::from(m));
        callflow_actors::domain::callback::CallbackPolicy {
            duplicate_window: minutes(c.duplicate_window_minutes),
            sla_urgent: minutes(c.sla_urgent_minutes),
            sla_high: minutes(c.sla_high_minutes),
            sla_normal: minutes(c.sla_normal_minutes),
            default_region: c.default_region.trim().to_ascii_uppercase(),
            max_attempts: c.max_attempts,
            ..Default::default()
        }
    }
}

impl Config {
    /// How callbacks are assigned automatically, from `[callbacks]`.
    pub fn assignment_rules(&self) -> callflow_actors::domain::assignment::AssignmentRules {
        callflow_actors::domain::assignment::AssignmentRules {
            horizon: chrono::Duration::minutes(i64::from(
                self.callbacks.assignment_horizon_minutes,
            )),
        }
    }

    /// How the SLA monitor warns, escalates and expires, from `[callbacks]`; an escalated
    /// callback gets the urgent SLA.
    pub fn sla_rules(&self) -> callflow_actors::domain::sla::SlaRules {
        let c = &self.callbacks;
        let minutes = |m: u32| chrono::Duration::minutes(i64::from(m));
        callflow_actors::domain::sla::SlaRules {
            warning: minutes(c.sla_warning_minutes),
            max_escalation_level: c.max_escalation_level,
            expire_after: minutes(c.expire_after_minutes),
            escalated_sla: minutes(c.sla_urgent_minutes),
        }
    }
}

impl ServerConfig {
    /// Grace period for in-flight work on shutdown.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}

impl DatabaseConfig {
    /// True for a SQLite URL.
    pub fn is_sqlite(&self) -> bool {
        self.url.expose().starts_with("sqlite:")
    }

    /// The URL with any password replaced, safe to log.
    pub fn redacted_url(&self) -> String {
        redact_url(self.url.expose())
    }
}

/// Replaces the password in `scheme://user:password@host/…` with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

fn is_override(name: &str) -> bool {
    name.starts_with(ENV_PREFIX) && name.contains("__")
}

fn origin_of(origins: &Origins, key: &str) -> String {
    // serde_path_to_error paths look like `server.bind`; a key's section may be what was set.
    origins
        .get(key)
        .or_else(|| {
            key.split('.')
                .next()
                .and_then(|section| origins.get(section))
        })
        .cloned()
        .unwrap_or_else(|| "built-in defaults".into())
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| {
        format!(
            " (line {})",
            text[..s.start.min(text.len())].lines().count().max(1)
        )
    })
    .unwrap_or_default()
}

/// Merges `user` over `base`, refusing keys `base` does not have.
fn merge_file(
    base: &mut Table,
    user: Table,
    origin: &str,
    prefix: &str,
    origins: &mut Origins,
) -> Result<(), ConfigError> {
    for (key, value) in user {
        let dotted = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (base.get_mut(&key), value) {
            (None, _) => {
                return Err(ConfigError::UnknownKey {
                    key: dotted,
                    origin: origin.to_owned(),
                })
            }
            (Some(Value::Table(into)), Value::Table(from)) => {
                merge_file(into, from, origin, &dotted, origins)?
            }
            (Some(slot), value) => {
                origins.insert(dotted, origin.to_owned());
                *slot = value;
            }
        }
    }
    Ok(())
}

/// Sets the key named by `CALLFLOW_SECTION__KEY` to `raw`, read as the type of its default.
fn apply_env(
    tree: &mut Table,
    name: &str,
    raw: &str,
    origins: &mut Origins,
) -> Result<(), ConfigError> {
    let path: Vec<String> = name[ENV_PREFIX.len()..]
        .split("__")
        .map(str::to_lowercase)
        .collect();
    let key = path.join(".");
    let unknown = || ConfigError::UnknownKey {
        key: key.clone(),
        origin: format!("environment variable {name}"),
    };
    let (last, parents) = path.split_last().ok_or_else(unknown)?;
    let mut table = &mut *tree;
    for part in parents {
        table = match table.get_mut(part) {
            Some(Value::Table(t)) => t,
            _ => return Err(unknown()),
        };
    }
    let slot = table.get_mut(last).ok_or_else(unknown)?;
    if matches!(slot, Value::Table(_)) {
        return Err(unknown());
    }
    let invalid = |message: &str| ConfigError::Invalid {
        key: key.clone(),
        origin: format!("environment variable {name}"),
        message: message.to_owned(),
    };
    *slot = match slot {
        Value::String(_) => Value::String(raw.to_owned()),
        Value::Integer(_) => Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| invalid("expected a whole number"))?,
        ),
        Value::Float(_) => Value::Float(
            raw.trim()
                .parse()
                .map_err(|_| invalid("expected a number"))?,
        ),
        Value::Boolean(_) => Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(invalid("expected true or false")),
        }),
        _ => {
            let doc: Table = format!("v = {raw}")
                .parse()
                .map_err(|_| invalid("expected a TOML value"))?;
            doc.get("v")
                .cloned()
                .ok_or_else(|| invalid("expected a TOML value"))?
        }
    };
    origins.insert(key, format!("environment variable {name}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn write(text: &str) -> tempfile_path::TempFile {
        tempfile_path::TempFile::with(text)
    }

    /// A uniquely named file in the temp dir, removed on drop.
    mod tempfile_path {
        pub struct TempFile(pub std::path::PathBuf);
        impl TempFile {
            pub fn with(text: &str) -> Self {
                let path = std::env::temp_dir()
                    .join(format!("callflow-config-{}.toml", uuid::Uuid::new_v4()));
                std::fs::write(&path, text).expect("temp file is writable");
                Self(path)
            }
        }
        impl Drop for TempFile {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn the_committed_config_toml_parses_and_validates() {
        let config = Config::load(
            Some(Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/config.toml"
            ))),
            [],
        )
        .expect("committed config.toml is valid");
        assert_eq!(config.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database.url.expose(), "sqlite://data/callflow.db");
        assert_eq!(config.server.max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn the_demo_retell_key_is_refused_on_an_address_others_can_reach() {
        let err = Config::load(None, env(&[("CALLFLOW_SERVER__BIND", "0.0.0.0:8080")]))
            .expect_err("demo key on 0.0.0.0");
        let text = err.to_string();
        assert!(text.contains("retell.api_key"), "{text}");
        assert!(text.contains("loopback"), "{text}");
        let own_key = Config::load(
            None,
            env(&[
                ("CALLFLOW_SERVER__BIND", "0.0.0.0:8080"),
                ("CALLFLOW_RETELL__API_KEY", "key_own"),
            ]),
        );
        assert!(own_key.is_ok(), "an own key may listen anywhere");
        let ipv6_loopback = Config::load(None, env(&[("CALLFLOW_SERVER__BIND", "[::1]:8080")]));
        assert!(ipv6_loopback.is_ok(), "the demo key works on ::1");
    }

    #[test]
    fn environment_variables_override_file_and_defaults() {
        let file = write("[server]\nbind = \"127.0.0.1:9000\"\nworkers = 2\n");
        let config = Config::load(
            Some(&file.0),
            env(&[
                ("CALLFLOW_SERVER__BIND", "0.0.0.0:7000"),
                ("CALLFLOW_DATABASE__URL", "postgres://u:pw@db/callflow"),
                ("CALLFLOW_SCHEDULING__SLOT_INTERVAL_MINUTES", "30"),
                ("CALLFLOW_DATABASE__SEED_DEMO_WHEN_EMPTY", "false"),
                ("CALLFLOW_RETELL__API_KEY", "12345"),
                ("CALLFLOW_CONFIG", "ignored.toml"),
                ("CALLFLOW_TEST_POSTGRES_URL", "ignored"),
            ]),
        )
        .expect("valid");
        assert_eq!(config.server.bind.to_string(), "0.0.0.0:7000");
        assert_eq!(
            config.server.workers, 2,
            "file value kept where no variable is set"
        );
        assert_eq!(config.scheduling.slot_interval_minutes, 30);
        assert!(!config.database.seed_demo_when_empty);
        assert_eq!(
            config.retell.api_key.expose(),
            "12345",
            "numeric text stays a string for string keys"
        );
        assert_eq!(
            config.database.redacted_url(),
            "postgres://u:***@db/callflow"
        );
    }

    #[test]
    fn unknown_keys_are_refused_naming_the_key_and_its_origin() {
        let file = write("[server]\nbnd = \"127.0.0.1:9000\"\n");
        let err = Config::load(Some(&file.0), [])
            .expect_err("unknown key")
            .to_string();
        assert!(err.contains("`server.bnd`"), "{err}");
        assert!(err.contains(&file.0.display().to_string()), "{err}");

        let err = Config::load(None, env(&[("CALLFLOW_SERVER__PORT", "80")]))
            .expect_err("unknown")
            .to_string();
        assert!(
            err.contains("`server.port`") && err.contains("CALLFLOW_SERVER__PORT"),
            "{err}"
        );

        let err = Config::load(None, env(&[("CALLFLOW_SERVR__BIND", "x")]))
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("`servr.bind`"), "{err}");
    }

    #[test]
    fn bad_values_are_refused_naming_the_key() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("CALLFLOW_SERVER__BIND", "not an address")],
                "server.bind",
            ),
            (&[("CALLFLOW_SERVER__WORKERS", "many")], "server.workers"),
            (&[("CALLFLOW_SERVER__WORKERS", "-1")], "server.workers"),
            (&[("CALLFLOW_DATABASE__URL", "mysql://x")], "database.url"),
            (
                &[("CALLFLOW_SCHEDULING__HOLD_TTL_SECS", "0")],
                "scheduling.hold_ttl_secs",
            ),
            (&[("CALLFLOW_SCORING__LANGUAGE", "0.5")], "scoring"),
            (&[("CALLFLOW_LOGGING__FORMAT", "xml")], "logging.format"),
            (&[("CALLFLOW_REDIS__URL", "localhost")], "redis.url"),
        ];
        for (vars, key) in cases {
            let err = Config::load(None, env(vars))
                .expect_err("invalid")
                .to_string();
            assert!(err.contains(&format!("`{key}`")), "{vars:?}: {err}");
        }
        let file = write("[server]\nworkers = \"four\"\n");
        let err = Config::load(Some(&file.0), [])
            .expect_err("invalid")
            .to_string();
        assert!(
            err.contains("`server.workers`") && err.contains(&file.0.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn syntax_errors_and_missing_files_are_reported_with_the_path() {
        let file = write("[server\nbind = 1\n");
        let err = Config::load(Some(&file.0), [])
            .expect_err("bad toml")
            .to_string();
        assert!(
            err.contains("not valid TOML") && err.contains("line 1"),
            "{err}"
        );
        let err =
            Config::load(Some(Path::new("/nonexistent/callflow.toml")), []).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/callflow.toml"));
    }

    #[test]
    fn the_callback_policy_follows_the_callbacks_section() {
        let config = Config::load(
            None,
            env(&[
                ("CALLFLOW_CALLBACKS__SLA_HIGH_MINUTES", "30"),
                ("CALLFLOW_CALLBACKS__DEFAULT_REGION", "at"),
            ]),
        )
        .expect("valid");
        let policy = config.callback_policy();
        let defaults = callflow_actors::domain::callback::CallbackPolicy::default();
        assert_eq!(policy.sla_high, chrono::Duration::minutes(30));
        assert_eq!(policy.default_region, "AT");
        assert_eq!(
            policy,
            callflow_actors::domain::callback::CallbackPolicy {
                sla_high: policy.sla_high,
                default_region: policy.default_region.clone(),
                ..defaults
            },
            "everything else is the committed default"
        );
        let err = Config::load(
            None,
            env(&[("CALLFLOW_CALLBACKS__DEFAULT_REGION", "Germany")]),
        )
        .expect_err("not a region")
        .to_string();
        assert!(err.contains("`callbacks.default_region`"), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let config = Config::load(
            None,
            env(&[("CALLFLOW_RETELL__API_KEY", "key_super_secret")]),
        )
        .expect("valid");
        let printed = format!("{config:?}");
        assert!(!printed.contains("key_super_secret"));
        assert!(printed.contains("[redacted]"));
    }
}
