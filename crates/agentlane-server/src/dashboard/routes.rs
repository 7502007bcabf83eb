//! The dashboard's routes: pages, their fragments and the embedded assets.
//! Handlers read through the store's `Reader` and render; they decide
//! nothing (the one write, resolve, is the API's).

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

use agentlane::store::{IdKind, StoreError};

use super::layout::{page, Nav};
use super::{incident, job, matrix, overview};
use crate::state::AppState;

const CSS: &str = include_str!("assets/dashboard.css");
const JS: &str = include_str!("assets/dashboard.js");

/// The dashboard's routes (pages need the token when one is configured;
/// `/assets/` is open: the guard in `auth` decides).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(overview_page))
        .route("/fragments/{name}", get(overview_fragment))
        .route("/jobs/{id}", get(job_page))
        .route("/fragments/jobs/{id}", get(job_fragment))
        .route("/incidents/{id}", get(incident_page))
        .route("/fragments/incidents/{id}", get(incident_fragment))
        .route("/matrix", get(matrix_page))
        .route("/assets/dashboard.css", get(css))
        .route("/assets/dashboard.js", get(js))
}

/// An asset, cached for a short while (a new binary may change it).
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

/// A whole page, never cached (it shows the store as it is now).
fn html_page(status: StatusCode, m: Markup) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Html(m.into_string()),
    )
        .into_response()
}

/// An error as a page a person reads: what went wrong and what to do.
fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    html_page(
        status,
        page(
            title,
            Nav::Overview,
            None,
            html! { h1 { (title) } p.error { (detail) } p { a href="/" { "Back to the overview" } } },
        ),
    )
}

fn store_down(e: StoreError) -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The store did not answer",
        &format!("{e}; check that the database is reachable (`agentlane status` on this host says the same), then reload."),
    )
}

async fn overview_page(State(state): State<AppState>) -> Response {
    match overview::body(&state).await {
        Ok(body) => html_page(
            StatusCode::OK,
            page("Overview", Nav::Overview, Some(""), body),
        ),
        Err(e) => store_down(e),
    }
}

/// A fragment: the section's HTML alone, for the script to swap in.
fn fragment(r: Result<Markup, StoreError>) -> Response {
    match r {
        Ok(m) => html_page(StatusCode::OK, m),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CACHE_CONTROL, "no-store")],
            Html(html! { p.error { "The store did not answer: " (e.to_string()) } }.into_string()),
        )
            .into_response(),
    }
}

async fn overview_fragment(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match overview::fragment(&state, &name).await {
        Some(r) => fragment(r),
        None => error_page(
            StatusCode::NOT_FOUND,
            "No such section",
            &format!(
                "the overview's sections are {}",
                overview::FRAGMENTS.join(", ")
            ),
        ),
    }
}

/// The full id a path's fragment names (resolved as the API resolves it),
/// or the page that says why not.
async fn full_id(state: &AppState, kind: IdKind, fragment: &str) -> Result<String, Response> {
    crate::api::full_id(state, kind, fragment)
        .await
        .map_err(|p| {
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
            error_page(status, &capitalised(p.title), &p.detail)
        })
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

async fn job_markup(state: &AppState, id: &str) -> Result<Markup, Response> {
    let id = full_id(state, IdKind::Job, id).await?;
    match job::load(state, &id).await {
        Ok(Some(v)) => Ok(job::body(&v)),
        Ok(None) => Err(error_page(
            StatusCode::NOT_FOUND,
            "No such job",
            &format!("no job {id}"),
        )),
        Err(e) => Err(store_down(e)),
    }
}

async fn job_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match job_markup(&state, &id).await {
        Ok(body) => {
            let body =
                html! { div data-fragment=(format!("/fragments/jobs/{id}")) id="f-job" { (body) } };
            html_page(StatusCode::OK, page("Job", Nav::Job, Some(""), body))
        }
        Err(r) => r,
    }
}

async fn job_fragment(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    job_markup(&state, &id)
        .await
        .map_or_else(|r| r, |m| html_page(StatusCode::OK, m))
}

async fn incident_markup(state: &AppState, id: &str) -> Result<Markup, Response> {
    let id = full_id(state, IdKind::Incident, id).await?;
    match incident::load(state, &id).await {
        Ok(Some(v)) => Ok(incident::body(&v)),
        Ok(None) => Err(error_page(
            StatusCode::NOT_FOUND,
            "No such incident",
            &format!("no incident {id}"),
        )),
        Err(e) => Err(store_down(e)),
    }
}

async fn incident_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match incident_markup(&state, &id).await {
        Ok(body) => {
            // The resolve answer stays outside the fragment a refresh replaces.
            let body = html! {
                div data-fragment=(format!("/fragments/incidents/{id}")) id="f-incident" { (body) }
                p #resolve-result role="status" aria-live="polite" {}
            };
            html_page(
                StatusCode::OK,
                page("Incident", Nav::Incident, Some(""), body),
            )
        }
        Err(r) => r,
    }
}

async fn incident_fragment(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    incident_markup(&state, &id)
        .await
        .map_or_else(|r| r, |m| html_page(StatusCode::OK, m))
}

#[derive(Deserialize)]
struct MatrixQuery {
    run: Option<String>,
}

async fn matrix_page(State(state): State<AppState>, Query(q): Query<MatrixQuery>) -> Response {
    let root = state.home.as_ref().map(|h| h.root().to_path_buf());
    let has_home = root.is_some();
    let runs = match root {
        Some(r) => {
            tokio::task::spawn_blocking(move || agentlane::matrix::session::stored_reports(&r))
                .await
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let body = matrix::body(has_home, &runs, q.run.as_deref());
    html_page(StatusCode::OK, page("Matrix", Nav::Matrix, None, body))
}
