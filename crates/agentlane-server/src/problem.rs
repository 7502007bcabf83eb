//! Errors as JSON problem documents (RFC 9457): a stable `code` a program
//! can match and a `detail` that says the fix.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One problem document.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Problem {
    /// The HTTP status, repeated in the body.
    pub status: u16,
    /// A stable code (`unauthorized`, `not_found`, `payload_invalid`, …).
    pub code: &'static str,
    /// A short, stable summary of the code.
    pub title: &'static str,
    /// What was wrong and how to fix it.
    pub detail: String,
    /// Details for a program (a refused line's field, an ambiguous id's
    /// candidates), when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Value>,
}

impl Problem {
    /// A problem with this status, code and title.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            status: status.as_u16(),
            code,
            title,
            detail: detail.into(),
            extra: None,
        }
    }

    /// With details for a program.
    pub fn with_extra(mut self, extra: serde_json::Value) -> Self {
        self.extra = Some(extra);
        self
    }

    /// 401: no token, or the wrong one.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid token is required",
            detail,
        )
    }

    /// 403: refused whatever the token (a foreign Host, a cross-site write).
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, "refused", detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such resource",
            detail,
        )
    }

    /// 400: the request itself is malformed (a query parameter, a body).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request is malformed",
            detail,
        )
    }

    /// 409: an id fragment matches several.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "conflict", detail)
    }

    /// 422: a job the configuration refuses.
    pub fn payload_invalid(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "payload_invalid",
            "the job was refused",
            detail,
        )
    }

    /// 503: the store did not answer.
    pub fn store(e: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the store did not answer",
            format!("{e}; check that the database is reachable (agentlane status on this host says the same)"),
        )
    }

    /// 409: the server was started without a configuration file.
    pub fn no_config(what: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "no_config",
            "this server has no configuration",
            format!("{what} needs the routes and kinds of a configuration: start `agentlane serve --config FILE`"),
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}
