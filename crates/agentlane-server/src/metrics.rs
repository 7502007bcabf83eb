//! `/metrics`: the store's gauges and, when this process hosts workers,
//! their counters, in the OpenMetrics text format
//! ([`agentlane::metrics::CONTENT_TYPE`]; Prometheus asks for it and reads
//! it natively). Mounted behind the guard by `agentlane serve`
//! ([`metrics`]), and served by `agentlane worker --metrics ADDR` on its own
//! small router ([`serve_worker_metrics`]) so a fleet is scraped without a
//! separate server.
//!
//! A store that does not answer a scrape is `agentlane_store_up 0` (the
//! process's counters are still served, with status 200): a scrape that
//! fails as a whole would hide them exactly when they matter.

use std::future::Future;
use std::sync::Arc;

use agentlane::metrics::{render, WorkerMetrics, CONTENT_TYPE};
use agentlane::store::Store;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::problem::Problem;
use crate::state::AppState;

/// One scrape: the store's snapshot (None when it did not answer) and the
/// process's metrics, rendered.
async fn scrape(store: &dyn Store, process: Option<&WorkerMetrics>) -> Response {
    let snapshot = match store.metrics_snapshot().await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("/metrics: the store did not answer: {e}");
            None
        }
    };
    match render(snapshot.as_ref(), process) {
        Ok(text) => (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(e) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics_unrendered",
            "the metrics could not be rendered",
            format!("{e}; this is a bug in agentlane: report it with the server's log"),
        )
        .into_response(),
    }
}

/// `GET /metrics` of `agentlane serve` (behind the guard: the token unless
/// `--open-metrics`).
pub async fn metrics(State(state): State<AppState>) -> Response {
    scrape(state.store.as_ref(), state.process_metrics()).await
}

/// What the worker's metrics router shares.
#[derive(Clone)]
struct WorkerState {
    store: Arc<dyn Store>,
    metrics: Arc<WorkerMetrics>,
}

async fn worker_metrics(State(s): State<WorkerState>) -> Response {
    scrape(s.store.as_ref(), Some(&s.metrics)).await
}

/// Liveness of the worker process: it answers while it runs. (Whether the
/// store answers is `agentlane_store_up` in `/metrics`.)
async fn worker_healthz() -> Response {
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({"status": "ok"})),
    )
        .into_response()
}

/// The worker's own router: `/metrics` and `/healthz`, nothing else. It
/// serves counts and the names of lanes, routes, classes and hosts — no job
/// content, no prompt, no token — so it needs no guard.
pub fn worker_router(store: Arc<dyn Store>, metrics: Arc<WorkerMetrics>) -> Router {
    Router::new()
        .route("/metrics", get(worker_metrics))
        .route("/healthz", get(worker_healthz))
        .with_state(WorkerState { store, metrics })
}

/// Serves the worker's `/metrics` and `/healthz` on `listener` until
/// `shutdown` completes.
pub async fn serve_worker_metrics(
    listener: tokio::net::TcpListener,
    store: Arc<dyn Store>,
    metrics: Arc<WorkerMetrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, worker_router(store, metrics))
        .with_graceful_shutdown(shutdown)
        .await
}
