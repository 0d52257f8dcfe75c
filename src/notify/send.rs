//! The transports: HTTPS (awc on rustls with the ring provider) for webhooks, Slack and Teams,
//! SMTP (lettre) for e-mail. Each attempt ends in a [`Sent`]; deciding what follows is the
//! worker's.

use super::message;
use super::signature::{self, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER};
use super::target::Kind;
use crate::config::{SmtpConfig, SmtpTls};
use awc::http::header::{CONTENT_TYPE, USER_AGENT};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Most of a receiver's answer we read (and throw away) so the connection can be reused.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// How an attempt went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// Accepted (2xx, or SMTP 2xx).
    Accepted {
        /// HTTP status or SMTP reply code.
        code: i32,
    },
    /// The receiver says the endpoint is gone for good (HTTP 410).
    Gone,
    /// Refused for good (an SMTP 5xx reply such as "no such mailbox"): retrying cannot help.
    Rejected {
        /// SMTP reply code.
        code: Option<i32>,
        /// What the server said.
        error: String,
    },
    /// Failed in a way a retry may fix (timeout, connection refused, 5xx, 429, …).
    Failed {
        /// HTTP status or SMTP reply code, if there was an answer.
        code: Option<i32>,
        /// What went wrong.
        error: String,
    },
}

/// Why the transports could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// TLS could not be configured.
    #[error("cannot configure TLS for outbound notifications: {0}")]
    Tls(#[from] rustls::Error),
    /// The SMTP settings are unusable.
    #[error("invalid [smtp] settings: {0}")]
    Smtp(String),
}

/// The e-mail side, when `[smtp]` is configured.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// The mailer for `config`, or `None` when `smtp.host` is empty.
    pub fn new(config: &SmtpConfig, timeout: Duration) -> Result<Option<Self>, TransportError> {
        if !config.is_enabled() {
            return Ok(None);
        }
        let host = config.host.trim();
        let builder = match config.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| TransportError::Smtp(e.to_string()))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| TransportError::Smtp(e.to_string()))?,
        };
        let mut builder = builder.port(config.port).timeout(Some(timeout));
        if !config.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.username.clone(),
                config.password.expose().to_owned(),
            ));
        }
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|e| TransportError::Smtp(format!("smtp.from: {e}")))?;
        Ok(Some(Self {
            transport: builder.build(),
            from,
        }))
    }

    /// Sends `event` as an e-mail to `to`.
    pub async fn send(&self, to: &str, event: &Value) -> Sent {
        let to = match to.parse::<Mailbox>() {
            Ok(to) => to,
            Err(e) => {
                return Sent::Rejected {
                    code: None,
                    error: format!("invalid recipient {to:?}: {e}"),
                }
            }
        };
        let (subject, body) = message::email(&message::summarize(event));
        let email = match lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
        {
            Ok(email) => email,
            Err(e) => {
                return Sent::Rejected {
                    code: None,
                    error: format!("cannot build the e-mail: {e}"),
                }
            }
        };
        match self.transport.send(email).await {
            Ok(response) => Sent::Accepted {
                code: smtp_code(&response.code()).unwrap_or(250),
            },
            Err(e) => {
                let code = e.status().as_ref().and_then(smtp_code);
                if e.is_permanent() {
                    Sent::Rejected {
                        code,
                        error: e.to_string(),
                    }
                } else {
                    Sent::Failed {
                        code,
                        error: e.to_string(),
                    }
                }
            }
        }
    }
}

fn smtp_code(code: &lettre::transport::smtp::response::Code) -> Option<i32> {
    code.to_string().parse().ok()
}

/// The TLS settings of outbound HTTPS: Mozilla's roots (compiled in), the ring provider,
/// HTTP/1.1 only.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, TransportError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// An HTTP client for notifications: per-request timeout, no redirects (a receiver that moved
/// must be updated, not followed to wherever it points).
///
/// awc clients are bound to the thread that made them: build it on the worker's thread.
pub fn http_client(timeout: Duration) -> Result<awc::Client, TransportError> {
    let connector = awc::Connector::new()
        .rustls_0_23(tls_config()?)
        .timeout(timeout);
    Ok(awc::Client::builder()
        .connector(connector)
        .timeout(timeout)
        .disable_redirects()
        .add_default_header((USER_AGENT, concat!("callflow/", env!("CARGO_PKG_VERSION"))))
        .finish())
}

/// The body and extra headers of an HTTP notification of `kind`.
pub fn http_request(
    kind: Kind,
    event: &Value,
    secret: &str,
    now_unix: i64,
) -> (Vec<u8>, Vec<(&'static str, String)>) {
    match kind {
        Kind::Webhook => {
            let body = serde_json::to_vec(event).unwrap_or_default();
            let headers = vec![
                (SIGNATURE_HEADER, signature::sign(secret, now_unix, &body)),
                (
                    EVENT_ID_HEADER,
                    event
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                ),
                (
                    EVENT_TYPE_HEADER,
                    event
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                ),
            ];
            (body, headers)
        }
        Kind::Slack => (
            serde_json::to_vec(&message::slack(&message::summarize(event))).unwrap_or_default(),
            Vec::new(),
        ),
        Kind::Teams => (
            serde_json::to_vec(&message::teams(&message::summarize(event))).unwrap_or_default(),
            Vec::new(),
        ),
        // E-mail goes through the mailer, never over HTTP.
        Kind::Email => (Vec::new(), Vec::new()),
    }
}

/// POSTs a JSON body to `url`.
pub async fn post(
    client: &awc::Client,
    url: &str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
) -> Sent {
    let mut request = client
        .post(url)
        .insert_header((CONTENT_TYPE, "application/json"));
    for (name, value) in headers {
        request = request.insert_header((name, value));
    }
    match request.send_body(body).await {
        Ok(mut response) => {
            // Read the answer so the connection goes back to the pool; its content is not ours.
            let _ = response.body().limit(MAX_ANSWER_BYTES).await;
            let status = response.status();
            let code = i32::from(status.as_u16());
            if status.is_success() {
                Sent::Accepted { code }
            } else if status == awc::http::StatusCode::GONE {
                Sent::Gone
            } else {
                Sent::Failed {
                    code: Some(code),
                    error: format!("the receiver answered {status}"),
                }
            }
        }
        Err(e) => Sent::Failed {
            code: None,
            error: e.to_string(),
        },
    }
}
