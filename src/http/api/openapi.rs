//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the admin API, written by hand in
//! `docs/openapi.json` and compiled in. No auth: it describes the API, it holds no data.
//! A test holds it to [`super::endpoints`] in both directions.

use actix_web::http::header::ContentType;
use actix_web::HttpResponse;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("../../../docs/openapi.json");

/// `GET /api/v1/openapi.json`
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(DOCUMENT)
}
