//! Doctor and matrix from the API: the same library calls as `agentlane
//! doctor` (`Preflight::check`, which records `preflight_checked`) and
//! `agentlane matrix` (`matrix::session::run`, in the background: a run
//! takes minutes; its state is polled at `/api/v1/matrix/{id}`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentlane::dispatch::Dispatcher;
use agentlane::matrix::session::{self, Session};
use agentlane::matrix::setup::Request;
use agentlane::matrix::Dimension;
use agentlane::preflight::{Options, Preflight};
use agentlane::store::IdKind;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::extract::Body;
use super::ids::full_id;
use crate::problem::Problem;
use crate::state::AppState;

/// `POST /api/v1/doctor` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoctorBody {
    route: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    canary: bool,
}

fn no_home() -> Problem {
    Problem::new(StatusCode::CONFLICT, "no_home", "this server has no agentlane home", "doctor and matrix write artifacts under the agentlane home: start `agentlane serve` with --home DIR or AGENTLANE_HOME")
}

/// `POST /api/v1/doctor`: preflight every route (or one), recorded as
/// `preflight_checked` events.
pub async fn doctor(
    State(state): State<AppState>,
    Body(b): Body<DoctorBody>,
) -> Result<Json<Value>, Problem> {
    let config = state
        .config
        .as_deref()
        .ok_or_else(|| Problem::no_config("doctor"))?;
    let home = state.home.clone().ok_or_else(no_home)?;
    let kind = match &b.kind {
        Some(k) => Some(
            config
                .kind(k)
                .map_err(|e| Problem::not_found(e.to_string()))?,
        ),
        None => None,
    };
    let routes: Vec<&agentlane::config::Route> = match &b.route {
        Some(name) => vec![config
            .route(name)
            .map_err(|e| Problem::not_found(e.to_string()))?],
        None => config.routes.values().collect(),
    };
    if routes.is_empty() {
        return Err(Problem::no_config(
            "doctor (the configuration defines no routes)",
        ));
    }
    let log: Arc<dyn agentlane::store::DispatchLog> = state.store.clone();
    let dispatcher = Dispatcher::new(home, log, Some(config.rules.clone()));
    let preflight = Preflight::new(config.preflight.clone());
    let mut results = Vec::new();
    for route in routes {
        let r = preflight
            .check(
                &dispatcher,
                config,
                route,
                kind,
                Options { canary: b.canary },
            )
            .await
            .map_err(Problem::store)?;
        results.push(r);
    }
    Ok(Json(json!({ "results": results })))
}

/// A matrix run's progress as this server knows it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RunState {
    /// Cells are running.
    Running {
        /// Cells done.
        done: u64,
        /// Cells in all (0 until planned).
        total: u64,
    },
    /// Finished: the report is stored.
    Finished,
    /// It could not run.
    Failed {
        /// Why.
        error: String,
    },
}

/// Matrix runs started by this server.
#[derive(Debug, Default)]
pub struct MatrixRuns(Mutex<BTreeMap<String, (String, RunState)>>);

impl MatrixRuns {
    fn set(&self, id: &str, route: &str, s: RunState) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(id.to_string(), (route.to_string(), s));
        }
    }
    fn get(&self, id: &str) -> Option<(String, RunState)> {
        self.0.lock().ok()?.get(id).cloned()
    }
    fn all(&self) -> Vec<(String, String, RunState)> {
        self.0
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(k, (r, s))| (k.clone(), r.clone(), s.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
    fn running(&self) -> Option<String> {
        self.all()
            .into_iter()
            .find(|(_, _, s)| matches!(s, RunState::Running { .. }))
            .map(|(id, _, _)| id)
    }
}

/// `POST /api/v1/matrix` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixBody {
    route: Option<String>,
    job: Option<String>,
    only: Option<String>,
    max_cells: Option<usize>,
    /// A duration (`2m`).
    cell_timeout: Option<String>,
    parallel: Option<usize>,
    thin_path: Option<String>,
    service_user: Option<String>,
}

/// `POST /api/v1/matrix`: starts a run (one at a time); 202 with its id.
pub async fn start_matrix(
    State(state): State<AppState>,
    Body(b): Body<MatrixBody>,
) -> Result<Response, Problem> {
    let config = state
        .config
        .clone()
        .ok_or_else(|| Problem::no_config("the matrix"))?;
    let home = state.home.clone().ok_or_else(no_home)?;
    let route = match &b.route {
        Some(r) => config
            .route(r)
            .map_err(|e| Problem::not_found(e.to_string()))?
            .clone(),
        None => config
            .routes
            .values()
            .next()
            .cloned()
            .ok_or_else(|| Problem::no_config("the matrix (no routes)"))?,
    };
    let only = b
        .only
        .as_deref()
        .map(|o| {
            o.parse::<Dimension>()
                .map_err(|e| Problem::bad_request(format!("only: {e}")))
        })
        .transpose()?;
    let cell_timeout = match b.cell_timeout.as_deref() {
        Some(t) => humantime::parse_duration(t).map_err(|e| {
            Problem::bad_request(format!(
                "cell_timeout={t:?}: {e}; write a duration such as 2m"
            ))
        })?,
        None => Duration::from_secs(120),
    };
    let parallel = b.parallel.unwrap_or(2);
    if !(1..=16).contains(&parallel) {
        return Err(Problem::bad_request("parallel: 1 to 16 cells at once"));
    }
    let job_payload = match &b.job {
        Some(id) => {
            let id = full_id(&state, IdKind::Job, id).await?;
            Some(
                state
                    .store
                    .job(&id)
                    .await
                    .map_err(Problem::store)?
                    .ok_or_else(|| Problem::not_found(format!("no job '{id}'")))?
                    .prompt,
            )
        }
        None => None,
    };
    if let Some(running) = state.matrix.running() {
        return Err(Problem::conflict(
            "matrix_running",
            format!(
                "matrix run {running} is still running: wait for it (GET /api/v1/matrix/{running})"
            ),
        ));
    }
    let id = session::new_id();
    let request = Request {
        job_payload,
        service_user: b.service_user,
        thin_path: Some(
            b.thin_path
                .unwrap_or_else(|| agentlane::matrix::THIN_PATH.to_string()),
        ),
        only,
        max_cells: b.max_cells,
    };
    let run = Session {
        request,
        parallel,
        cell_timeout: Some(cell_timeout),
    };
    state
        .matrix
        .set(&id, &route.name, RunState::Running { done: 0, total: 0 });
    let (st, run_id) = (state.clone(), id.clone());
    // A run of its own runtime on its own thread: its cells' processes and
    // workers never compete with the server's requests for a runtime thread.
    std::thread::spawn(move || {
        let end = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => {
                let progress = |done: u64, total: u64| {
                    st.matrix
                        .set(&run_id, &route.name, RunState::Running { done, total })
                };
                match rt.block_on(session::run(
                    &config, &route, &home, &run_id, run, &progress,
                )) {
                    Ok(_) => RunState::Finished,
                    Err(e) => RunState::Failed {
                        error: e.to_string(),
                    },
                }
            }
            Err(e) => RunState::Failed {
                error: format!("cannot start the matrix's runtime: {e}"),
            },
        };
        st.matrix.set(&run_id, &route.name, end);
    });
    let body = json!({"id": id, "state": "running", "url": format!("/api/v1/matrix/{id}")});
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `GET /api/v1/matrix`: runs this server started and the finished runs
/// stored in the home, newest first.
pub async fn matrix_runs(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    let mut out: Vec<Value> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (id, route, s) in state.matrix.all().into_iter().rev() {
        if !matches!(s, RunState::Finished) {
            seen.insert(id.clone());
            out.push(json!({"id": id, "route": route, "status": s}));
        }
    }
    if let Some(home) = &state.home {
        for (id, report) in session::stored_reports(home.root()) {
            if seen.insert(id.clone()) {
                out.push(json!({
                    "id": id,
                    "route": report.get("route"),
                    "status": {"state": "finished"},
                    "shape": report.get("shape"),
                    "dimension": report.get("dimension"),
                    "repair_address": report.get("repair_address"),
                }));
            }
        }
    }
    Ok(Json(json!({ "runs": out })))
}

/// `GET /api/v1/matrix/{id}`: a run's state, and its report once finished.
pub async fn matrix_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    if !session::valid_id(&id) {
        return Err(Problem::bad_request(
            "a matrix run id is letters, digits and dashes",
        ));
    }
    let known = state.matrix.get(&id);
    let report = state
        .home
        .as_ref()
        .and_then(|h| session::stored_report(h.root(), &id));
    match (known, report) {
        (_, Some(report)) => Ok(Json(
            json!({"id": id, "status": {"state": "finished"}, "report": report}),
        )),
        (Some((route, s)), None) => Ok(Json(
            json!({"id": id, "route": route, "status": s, "report": null}),
        )),
        (None, None) => Err(Problem::not_found(format!(
            "no matrix run '{id}': GET /api/v1/matrix lists them"
        ))),
    }
}
