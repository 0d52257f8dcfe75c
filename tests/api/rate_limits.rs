//! Admin API rate limits: per IP on everything under `/api/v1` (not Retell, not health or
//! metrics), per token once the token is accepted; 429 with `Retry-After` and our error body.

use crate::helpers::{spawn_app_on, Answer, TestApp, TestDb};
use awc::http::Method;
use callflow::http::api::auth::{issue_token, TokenRequest};
use callflow::retell::signature;
use callflow::seed::COMPANY_SLUG;
use callflow_actors::domain::Role;
use chrono::Utc;

const DEMO_KEY: &str = "demo-retell-key-change-me";

async fn admin_token(app: &TestApp) -> String {
    let request = TokenRequest {
        company: COMPANY_SLUG.into(),
        role: Role::Admin,
        staff: None,
        branch: None,
        name: None,
    };
    issue_token(&*app.database.store(), &request, Utc::now())
        .await
        .expect("token issued")
        .secret
}

async fn list(app: &TestApp, token: Option<&str>) -> Answer {
    let mut request = app.request(Method::GET, "/api/v1/callbacks");
    if let Some(token) = token {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    app.send(request, None).await
}

async fn webhook(app: &TestApp) -> Answer {
    let body: &[u8] = br#"{"event":"call_teleported","call":{"call_id":"call_x"}}"#;
    let header = signature::sign(body, DEMO_KEY.as_bytes(), Utc::now().timestamp_millis());
    let request = app
        .request(Method::POST, "/retell/webhook")
        .content_type("application/json")
        .insert_header(("X-Retell-Signature", header));
    app.send(request, Some(body.to_vec())).await
}

fn assert_rate_limited(answer: &Answer) {
    assert_eq!(answer.status, 429, "{}", answer.body);
    let retry_after: u64 = answer
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in whole seconds");
    assert!(retry_after >= 1, "Retry-After: {retry_after}");
    assert!(retry_after <= 60, "Retry-After: {retry_after}");
    let body = answer.json();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

#[actix_web::test]
async fn the_sixth_request_from_an_ip_within_a_minute_gets_429_but_retell_is_exempt() {
    let app = spawn_app_on(
        TestDb::sqlite(),
        &[("CALLFLOW_RATE_LIMITS__PER_IP_PER_MINUTE", "5")],
    )
    .await;
    let token = admin_token(&app).await;
    // A request without a token counts against the IP as well.
    let answer = list(&app, None).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    for n in 2..=5 {
        let answer = list(&app, Some(&token)).await;
        assert_eq!(answer.status, 200, "request {n}: {}", answer.body);
    }
    let answer = list(&app, Some(&token)).await;
    assert_rate_limited(&answer);
    // Unknown admin paths are under the same limit; the token does not matter.
    assert_rate_limited(&list(&app, None).await);
    assert_rate_limited(
        &app.send(app.request(Method::GET, "/api/v1/nothing-here"), None)
            .await,
    );

    for n in 1..=10 {
        let answer = webhook(&app).await;
        assert_eq!(answer.status, 204, "webhook {n}: {}", answer.body);
    }
    for path in ["/healthz", "/readyz"] {
        let answer = app.get(path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    }
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("callflow_rate_limited_total{limit=\"ip\"}"),
        "{}",
        metrics.body
    );
}

#[actix_web::test]
async fn an_exhausted_token_gets_429_while_another_is_still_served() {
    let app = spawn_app_on(
        TestDb::sqlite(),
        &[
            ("CALLFLOW_RATE_LIMITS__PER_IP_PER_MINUTE", "1000"),
            ("CALLFLOW_RATE_LIMITS__PER_TOKEN_PER_MINUTE", "3"),
        ],
    )
    .await;
    let (busy, quiet) = (admin_token(&app).await, admin_token(&app).await);
    for n in 1..=3 {
        let answer = list(&app, Some(&busy)).await;
        assert_eq!(answer.status, 200, "request {n}: {}", answer.body);
    }
    assert_rate_limited(&list(&app, Some(&busy)).await);
    let answer = list(&app, Some(&quiet)).await;
    assert_eq!(answer.status, 200, "another token: {}", answer.body);
    // Wrong tokens are refused by authentication, never by the token limit.
    let answer = list(&app, Some("cf_not-a-real-token")).await;
    assert_eq!(answer.status, 401, "{}", answer.body);

    let metrics = app.get("/metrics").await;
    assert!(
        metrics
            .body
            .contains("callflow_rate_limited_total{limit=\"token\"}"),
        "{}",
        metrics.body
    );
}

#[actix_web::test]
async fn a_limit_of_zero_is_off() {
    let app = spawn_app_on(
        TestDb::sqlite(),
        &[
            ("CALLFLOW_RATE_LIMITS__PER_IP_PER_MINUTE", "0"),
            ("CALLFLOW_RATE_LIMITS__PER_TOKEN_PER_MINUTE", "0"),
        ],
    )
    .await;
    let token = admin_token(&app).await;
    for n in 1..=20 {
        let answer = list(&app, Some(&token)).await;
        assert_eq!(answer.status, 200, "request {n}: {}", answer.body);
    }
}
