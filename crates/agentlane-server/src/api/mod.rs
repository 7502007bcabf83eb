//! The JSON API under `/api/v1`: reads of the store, the operator's writes
//! (through the same library calls as the command line), the live feed,
//! and the OpenAPI document that describes them all.

mod extract;
mod feed;
mod ids;
mod openapi;
mod ops;
mod read;
mod write;

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

pub use feed::{Feed, FEED_WINDOW};
pub(crate) use ids::full_id;
pub use openapi::DOCUMENT;
pub use ops::{MatrixRuns, RunState};

/// Every `/api/v1` route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/status", get(read::status))
        .route("/api/v1/lanes", get(read::lanes))
        .route("/api/v1/lanes/{lane}/pause", post(write::pause))
        .route("/api/v1/lanes/{lane}/resume", post(write::resume))
        .route("/api/v1/jobs", get(read::jobs).post(write::enqueue))
        .route("/api/v1/jobs/retry", post(write::retry_many))
        .route("/api/v1/jobs/{id}", get(read::job))
        .route("/api/v1/jobs/{id}/cancel", post(write::cancel))
        .route("/api/v1/jobs/{id}/retry", post(write::retry))
        .route("/api/v1/dispatches", get(read::dispatches))
        .route("/api/v1/dispatches/{id}", get(read::dispatch))
        .route("/api/v1/incidents", get(read::incidents))
        .route("/api/v1/incidents/{id}", get(read::incident))
        .route("/api/v1/incidents/{id}/resolve", post(write::resolve))
        .route("/api/v1/routes", get(read::routes))
        .route("/api/v1/usage", get(read::usage))
        .route("/api/v1/doctor", post(ops::doctor))
        .route(
            "/api/v1/matrix",
            get(ops::matrix_runs).post(ops::start_matrix),
        )
        .route("/api/v1/matrix/{id}", get(ops::matrix_run))
        .route("/api/v1/events", get(feed::events))
}
