//! The application: routes, the guard in front of them, and the listener.

use std::future::Future;
use std::net::SocketAddr;

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{middleware, Router};
use serde::Deserialize;

use crate::auth::{self, COOKIE};
use crate::state::AppState;

/// How `agentlane serve` was asked to listen.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address (`127.0.0.1:7878` by default).
    pub listen: SocketAddr,
}

/// Every route, behind the guard.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/login", get(login_page).post(login))
        .merge(crate::api::router())
        .merge(crate::dashboard::router())
        .fallback(no_such_path)
        .route("/metrics", get(crate::metrics::metrics))
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .with_state(state)
}

/// Serves until `shutdown` completes; in-flight requests finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The feed follows the store from the start: a client that connects
    // later misses nothing stored after it connected.
    state.feed.start(&state.store);
    let feed = state.feed.clone();
    let shutdown = async move {
        shutdown.await;
        feed.close();
    };
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Any path no route serves: a problem document that says where the list is.
async fn no_such_path(method: axum::http::Method, uri: axum::http::Uri) -> crate::problem::Problem {
    crate::problem::Problem::not_found(format!(
        "nothing is served at {method} {}: the API's endpoints are listed in /api/v1/openapi.json",
        uri.path()
    ))
}

/// Liveness and the store's answer: 200 when the store answers, 503 when not.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.row_counts().await {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        Err(e) => crate::problem::Problem::store(e).into_response(),
    }
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

/// Only a path of this server is a place to go back to.
pub(crate) fn local_path(next: Option<&str>) -> &str {
    match next {
        // Browsers drop tabs and newlines from a URL ("/\t/evil" is "//evil").
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            n
        }
        _ => "/",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn login_page(Query(q): Query<Next>) -> Html<String> {
    Html(login_html(local_path(q.next.as_deref()), None))
}

fn login_html(next: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>agentlane: sign in</title>\
<meta name=\"viewport\" content=\"width=device-width\"></head><body>\
<main><h1>agentlane</h1><p>This server needs its token (the content of its --token-file or AGENTLANE_TOKEN).</p>{error}\
<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"next\" value=\"{}\">\
<label>Token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" autofocus></label> \
<button type=\"submit\">Sign in</button></form></main></body></html>",
        escape(next)
    )
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let next = local_path(form.next.as_deref()).to_string();
    let Some(token) = &state.access.token else {
        return Redirect::to(&next).into_response();
    };
    if !token.matches(form.token.as_bytes()) {
        return (
            StatusCode::UNAUTHORIZED,
            Html(login_html(&next, Some("That is not this server's token."))),
        )
            .into_response();
    }
    let mut r = Redirect::to(&next).into_response();
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
        token.session_value()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
