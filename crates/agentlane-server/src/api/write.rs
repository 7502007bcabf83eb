//! The operator's writes, each the library call the command line makes:
//! `queue::submit::submit` (enqueue), the store's conditional controls
//! (cancel, retry, pause, resume, resolve), each recorded with who asked
//! and why.

use agentlane::model::{Actor, Cancelled, Retried, RetryFilter};
use agentlane::queue::jsonl::{parse_line, Line, LineError};
use agentlane::queue::submit::{submit, Submission};
use agentlane::queue::JobState;
use agentlane::store::IdKind;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::Body;
use super::ids::full_id;
use crate::problem::Problem;
use crate::state::AppState;

/// Most jobs in one enqueue request.
pub const MAX_BATCH: usize = 10_000;

/// Who acts and why: `NAME via api@HOST` (the name is the client's claim,
/// recorded as such; the server's token is what authorised it).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Why {
    why: Option<String>,
    by: Option<String>,
}

fn actor(by: Option<&str>, why: Option<String>) -> Result<Actor, Problem> {
    let host = agentlane::os::host_name();
    let by = match by.map(str::trim) {
        None | Some("") => format!("api@{host}"),
        Some(n) if n.len() <= 80 && n.chars().all(|c| !c.is_control()) => {
            format!("{n} via api@{host}")
        }
        Some(_) => {
            return Err(Problem::bad_request(
                "by: give a name of at most 80 printable characters",
            ))
        }
    };
    let why = why.unwrap_or_default();
    if why.len() > 2000 {
        return Err(Problem::bad_request("why: at most 2000 bytes"));
    }
    Ok(Actor { by, why })
}

/// `POST /api/v1/jobs`: one job object, or `{"jobs": [...]}`. Every job is
/// checked first; all are stored or none (422 lists every refused one).
pub async fn enqueue(
    State(state): State<AppState>,
    Body(body): Body<Value>,
) -> Result<Response, Problem> {
    let config = state
        .config
        .as_deref()
        .ok_or_else(|| Problem::no_config("enqueueing"))?;
    let (single, items) =
        match body {
            Value::Object(mut m) if m.contains_key("jobs") => match m.remove("jobs") {
                Some(Value::Array(items)) if m.is_empty() => (false, items),
                Some(Value::Array(_)) => {
                    return Err(Problem::bad_request(
                        "a batch is {\"jobs\": [...]} and nothing else",
                    ))
                }
                _ => return Err(Problem::bad_request("jobs: give an array of job objects")),
            },
            v @ Value::Object(_) => (true, vec![v]),
            Value::Null => return Err(Problem::bad_request(
                "send a job object {\"kind\": …, \"lane\": …, \"prompt\": …} or {\"jobs\": [...]}",
            )),
            _ => return Err(Problem::bad_request("the body must be a JSON object")),
        };
    if items.is_empty() {
        return Err(Problem::bad_request("jobs: the batch is empty"));
    }
    if items.len() > MAX_BATCH {
        return Err(Problem::bad_request(format!(
            "jobs: {} in one request; send at most {MAX_BATCH} per request",
            items.len()
        )));
    }
    // Each element is read exactly as a line of `enqueue --jsonl` is.
    let lines: Vec<Line> = items
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let parsed = if v.is_object() {
                parse_line(&v.to_string())
            } else {
                Err(LineError { field: None, reason: "not a job object: each job is a JSON object such as {\"kind\": …, \"lane\": …, \"prompt\": …}".into() })
            };
            (i + 1, parsed)
        })
        .collect();
    match submit(config, state.store.as_ref(), lines)
        .await
        .map_err(Problem::store)?
    {
        Submission::Refused { refused, admitted } => {
            let n = refused.len();
            let first = &refused[0];
            let detail = if single {
                format!(
                    "{}: {}{}",
                    first.class,
                    first
                        .field
                        .as_deref()
                        .map(|f| format!("{f}: "))
                        .unwrap_or_default(),
                    first.message
                )
            } else {
                format!("nothing was enqueued: {n} of {} jobs refused (positions are 1-based); fix them and send the whole batch again", n + admitted)
            };
            Err(Problem::payload_invalid(detail).with_extra(json!({ "refused": refused })))
        }
        Submission::Stored { jobs, warnings } => {
            let created = jobs.iter().any(|j| !j.existed);
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let body = if single {
                json!({"job": jobs[0], "warnings": warnings})
            } else {
                json!({"jobs": jobs, "warnings": warnings})
            };
            Ok((status, Json(body)).into_response())
        }
    }
}

/// `POST /api/v1/jobs/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(w): Body<Why>,
) -> Result<Json<Value>, Problem> {
    let id = full_id(&state, IdKind::Job, &id).await?;
    let who = actor(w.by.as_deref(), w.why)?;
    let outcome = state
        .store
        .cancel_job(&id, &who)
        .await
        .map_err(Problem::store)?
        .ok_or_else(|| Problem::not_found(format!("no job '{id}'")))?;
    if let Cancelled::Finished { state: st } = outcome {
        return Err(Problem::conflict(
            "already_finished",
            format!(
                "job {id} already finished ({}): nothing to cancel",
                st.label()
            ),
        )
        .with_extra(json!({"job_id": id, "result": outcome})));
    }
    Ok(Json(json!({"job_id": id, "by": who.by, "result": outcome})))
}

/// `POST /api/v1/jobs/{id}/retry`.
pub async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(w): Body<Why>,
) -> Result<Json<Value>, Problem> {
    let id = full_id(&state, IdKind::Job, &id).await?;
    let who = actor(w.by.as_deref(), w.why)?;
    let outcome = state
        .store
        .retry_job(&id, &who)
        .await
        .map_err(Problem::store)?
        .ok_or_else(|| Problem::not_found(format!("no job '{id}'")))?;
    if let Retried::NotRetryable { state: st } = outcome {
        return Err(Problem::conflict(
            "not_retryable",
            format!(
                "job {id} is {}: only failed, cancelled or parked jobs can be retried",
                st.label()
            ),
        )
        .with_extra(json!({"job_id": id, "result": outcome})));
    }
    Ok(Json(json!({"job_id": id, "by": who.by, "result": outcome})))
}

/// `POST /api/v1/jobs/retry` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryMany {
    lane: Option<String>,
    class: Option<String>,
    /// An RFC 3339 time or an age (`2h`).
    since: Option<String>,
    #[serde(default)]
    states: Vec<JobState>,
    why: Option<String>,
    by: Option<String>,
}

/// `POST /api/v1/jobs/retry`: every job the filter selects, queued again.
pub async fn retry_many(
    State(state): State<AppState>,
    Body(r): Body<RetryMany>,
) -> Result<Json<Value>, Problem> {
    let since = r
        .since
        .as_deref()
        .map(RetryFilter::parse_since)
        .transpose()
        .map_err(|e| Problem::bad_request(format!("since: {e}")))?;
    let filter = RetryFilter {
        lane: r.lane,
        class: r.class,
        since,
        states: r.states,
    };
    filter.check().map_err(Problem::bad_request)?;
    let who = actor(r.by.as_deref(), r.why)?;
    let ids = state
        .store
        .retry_jobs(&filter, &who)
        .await
        .map_err(Problem::store)?;
    Ok(Json(json!({"retried": ids, "by": who.by})))
}

fn lane_name(lane: &str) -> Result<(), Problem> {
    if lane.is_empty() || lane.len() > 200 || lane.chars().any(char::is_control) {
        return Err(Problem::bad_request(
            "a lane name is 1 to 200 printable characters",
        ));
    }
    Ok(())
}

/// `POST /api/v1/lanes/{lane}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    Path(lane): Path<String>,
    Body(w): Body<Why>,
) -> Result<Json<Value>, Problem> {
    lane_name(&lane)?;
    let who = actor(w.by.as_deref(), w.why)?;
    let changed = state
        .store
        .pause_lane(&lane, &who)
        .await
        .map_err(Problem::store)?;
    Ok(Json(
        json!({"lane": lane, "paused": true, "changed": changed, "by": who.by}),
    ))
}

/// `POST /api/v1/lanes/{lane}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    Path(lane): Path<String>,
    Body(w): Body<Why>,
) -> Result<Json<Value>, Problem> {
    lane_name(&lane)?;
    let who = actor(w.by.as_deref(), w.why)?;
    let changed = state
        .store
        .resume_lane(&lane, &who)
        .await
        .map_err(Problem::store)?;
    Ok(Json(
        json!({"lane": lane, "paused": false, "changed": changed, "by": who.by}),
    ))
}

/// `POST /api/v1/incidents/{id}/resolve` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    #[serde(default)]
    retry_failed: bool,
    why: Option<String>,
    by: Option<String>,
}

/// `POST /api/v1/incidents/{id}/resolve`: releases its parked jobs (and,
/// with `retry_failed`, queues its failed ones again).
pub async fn resolve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(r): Body<Resolve>,
) -> Result<Json<Value>, Problem> {
    let id = full_id(&state, IdKind::Incident, &id).await?;
    let who = actor(r.by.as_deref(), r.why)?;
    let done = state
        .store
        .resolve_incident(&id, &who, r.retry_failed)
        .await
        .map_err(Problem::store)?
        .ok_or_else(|| Problem::conflict("not_open", format!("incident {id} is not open: GET /api/v1/incidents?open=true lists the open ones")))?;
    Ok(Json(
        json!({"incident_id": id, "by": who.by, "released": done.released, "retried": done.retried}),
    ))
}
