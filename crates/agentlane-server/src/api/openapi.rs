//! The OpenAPI document, written by hand beside the routes it describes
//! (`openapi.json`) and served as is; `tests/api.rs` checks that every
//! route is documented and every documented operation answers as described.

use axum::http::header;
use axum::response::IntoResponse;

/// The document (OpenAPI 3.1, JSON).
pub const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json`.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
