//! The read endpoints: what the store holds, as JSON. Nothing here decides;
//! every value comes from the library's readers.

use std::collections::BTreeMap;
use std::time::Duration;

use agentlane::model::UsageGroup;
use agentlane::queue::{JobFilter, JobState};
use agentlane::store::IdKind;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::Q;
use super::ids::full_id;
use crate::problem::Problem;
use crate::state::AppState;

type Reply = Result<Json<Value>, Problem>;

/// Largest page of jobs or dispatches.
pub const MAX_PAGE: usize = 500;
/// Page size when none is asked.
pub const DEFAULT_PAGE: usize = 50;

/// Counts per lane and state, per class, and open incidents.
pub async fn status(State(state): State<AppState>) -> Reply {
    let s = state.store.status().await.map_err(Problem::store)?;
    let lanes: Vec<Value> = s
        .lanes
        .iter()
        .map(|(lane, st, n)| json!({"lane": lane, "state": st, "count": n}))
        .collect();
    let classes: Vec<Value> = s
        .classes
        .iter()
        .map(|(c, n)| json!({"class": c, "count": n}))
        .collect();
    Ok(Json(
        json!({"lanes": lanes, "classes": classes, "open_incidents": s.open_incidents}),
    ))
}

/// Every lane (stored or configured) with a count per state and its pause.
pub async fn lanes(State(state): State<AppState>) -> Reply {
    let s = state.store.status().await.map_err(Problem::store)?;
    let pauses = state.store.lane_pauses().await.map_err(Problem::store)?;
    let mut lanes: BTreeMap<String, BTreeMap<&'static str, u64>> = BTreeMap::new();
    let zero = || {
        JobState::ALL
            .iter()
            .map(|s| (s.label(), 0))
            .collect::<BTreeMap<_, _>>()
    };
    if let Some(c) = &state.config {
        for name in c.lanes.keys() {
            lanes.entry(name.clone()).or_insert_with(zero);
        }
    }
    for (lane, st, n) in &s.lanes {
        let counts = lanes.entry(lane.clone()).or_insert_with(zero);
        if let Some(label) = JobState::ALL.iter().map(|s| s.label()).find(|l| l == st) {
            counts.insert(label, *n);
        }
    }
    let out: Vec<Value> = lanes
        .into_iter()
        .map(|(lane, counts)| {
            let paused = pauses.iter().find(|p| p.lane == lane);
            json!({"lane": lane, "counts": counts, "paused": paused})
        })
        .collect();
    Ok(Json(json!({ "lanes": out })))
}

/// `GET /api/v1/jobs` parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    lane: Option<String>,
    state: Option<String>,
    kind: Option<String>,
    class: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

fn page_size(limit: Option<usize>) -> Result<usize, Problem> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(Problem::bad_request(format!(
            "limit={n}: ask for 1 to {MAX_PAGE} per page and follow next_cursor"
        ))),
    }
}

/// Jobs, newest first, in cursor pages.
pub async fn jobs(State(state): State<AppState>, Q(q): Q<JobsQuery>) -> Reply {
    let limit = page_size(q.limit)?;
    let job_state = q
        .state
        .as_deref()
        .map(|s| {
            s.parse::<JobState>().map_err(|_| {
                let all: Vec<_> = JobState::ALL.iter().map(|s| s.label()).collect();
                Problem::bad_request(format!(
                    "state={s:?} is not a job state: use one of {}",
                    all.join(", ")
                ))
            })
        })
        .transpose()?;
    if let Some(c) = q.class.as_deref() {
        if c.parse::<agentlane::class::Class>().is_err() {
            return Err(Problem::bad_request(format!(
                "class={c:?} is not a class label: `agentlane explain` lists them"
            )));
        }
    }
    let filter = JobFilter {
        lane: q.lane,
        state: job_state,
        kind: q.kind,
        class: q.class,
        before: q.cursor,
        limit: limit + 1,
        ..Default::default()
    };
    let mut rows = state.store.jobs(&filter).await.map_err(Problem::store)?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if more {
        rows.last().map(|j| j.id.clone())
    } else {
        None
    };
    Ok(Json(json!({"jobs": rows, "next_cursor": next_cursor})))
}

/// One job: its row, its attempts (each dispatch with its report: class,
/// evidence, tails, argv, environment fingerprint), its events, its
/// decisions and its usage.
pub async fn job(State(state): State<AppState>, Path(id): Path<String>) -> Reply {
    let id = full_id(&state, IdKind::Job, &id).await?;
    let store = &state.store;
    let job = store
        .job(&id)
        .await
        .map_err(Problem::store)?
        .ok_or_else(|| Problem::not_found(format!("no job '{id}'")))?;
    let summaries = store.job_dispatches(&id).await.map_err(Problem::store)?;
    let mut attempts = Vec::with_capacity(summaries.len());
    for s in summaries {
        let record = store
            .dispatch(&s.dispatch_id)
            .await
            .map_err(Problem::store)?;
        attempts.push(match record {
            Some(r) => json!({"dispatch": r.summary, "report": r.report}),
            None => json!({"dispatch": s, "report": null}),
        });
    }
    let events = store.job_events(&id).await.map_err(Problem::store)?;
    let decisions: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "job_decided")
        .cloned()
        .collect();
    let usage = store.job_usage(&id).await.map_err(Problem::store)?;
    Ok(Json(json!({
        "job": job,
        "attempts": attempts,
        "decisions": decisions,
        "events": events,
        "usage": usage,
    })))
}

/// `GET /api/v1/dispatches` parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    limit: Option<usize>,
}

/// The most recent dispatches (every agent run: exec, worker, doctor), newest first.
pub async fn dispatches(State(state): State<AppState>, Q(q): Q<LimitQuery>) -> Reply {
    let limit = page_size(q.limit)?;
    let rows = state
        .store
        .recent_dispatches(limit)
        .await
        .map_err(Problem::store)?;
    Ok(Json(json!({ "dispatches": rows })))
}

/// One dispatch with its report and events.
pub async fn dispatch(State(state): State<AppState>, Path(id): Path<String>) -> Reply {
    let id = full_id(&state, IdKind::Dispatch, &id).await?;
    let r = state
        .store
        .dispatch(&id)
        .await
        .map_err(Problem::store)?
        .ok_or_else(|| Problem::not_found(format!("no dispatch '{id}'")))?;
    Ok(Json(
        json!({"dispatch": r.summary, "report": r.report, "events": r.events}),
    ))
}

/// `GET /api/v1/incidents` parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentsQuery {
    open: Option<bool>,
}

/// Incidents by priority, open first; account quotas with their parked jobs.
pub async fn incidents(State(state): State<AppState>, Q(q): Q<IncidentsQuery>) -> Reply {
    let rows = state
        .store
        .incidents(q.open.unwrap_or(false))
        .await
        .map_err(Problem::store)?;
    let quotas = state
        .store
        .quota_incidents()
        .await
        .map_err(Problem::store)?;
    let quotas: Vec<Value> = quotas.iter().map(|q| json!(q)).collect();
    Ok(Json(json!({"incidents": rows, "quotas": quotas})))
}

/// One incident with the jobs it affects and what the class means.
pub async fn incident(State(state): State<AppState>, Path(id): Path<String>) -> Reply {
    let id = full_id(&state, IdKind::Incident, &id).await?;
    let (incident, jobs) = state
        .store
        .incident(&id)
        .await
        .map_err(Problem::store)?
        .ok_or_else(|| Problem::not_found(format!("no incident '{id}'")))?;
    let info = incident.classifier.info();
    let explain = json!({"meaning": info.meaning, "causes": info.causes, "repair": info.repair, "retry": info.retry});
    Ok(Json(
        json!({"incident": incident, "affected_jobs": jobs, "explain": explain}),
    ))
}

/// Every route with its latest preflight (the three booleans) and its breaker.
pub async fn routes(State(state): State<AppState>) -> Reply {
    let checked = state
        .store
        .recent_events("preflight_checked", 2000)
        .await
        .map_err(Problem::store)?;
    let breakers = state.store.route_breakers().await.map_err(Problem::store)?;
    let mut routes: BTreeMap<String, Value> = BTreeMap::new();
    if let Some(c) = &state.config {
        for name in c.routes.keys() {
            routes.insert(
                name.clone(),
                json!({"route": name, "configured": true, "preflight": null, "breaker": null}),
            );
        }
    }
    // Newest first: the first event per route is its latest.
    for e in &checked {
        let Some(route) = e.body.get("route").and_then(Value::as_str) else {
            continue;
        };
        let entry = routes.entry(route.to_string()).or_insert_with(
            || json!({"route": route, "configured": false, "preflight": null, "breaker": null}),
        );
        if entry["preflight"].is_null() {
            let b = &e.body;
            entry["preflight"] = json!({
                "at": e.at,
                "host": b.get("host"),
                "job_kind": b.get("job_kind"),
                "cli_resolves": b.get("cli_resolves"),
                "cli_ready": b.get("cli_ready"),
                "route_allowed": b.get("route_allowed"),
                "classifier": b.get("classifier"),
                "repair_hint": b.get("repair_hint"),
                "evidence": b.get("evidence"),
            });
        }
    }
    for b in breakers {
        let entry = routes.entry(b.route.clone()).or_insert_with(
            || json!({"route": b.route, "configured": false, "preflight": null, "breaker": null}),
        );
        entry["breaker"] = json!(b);
    }
    Ok(Json(
        json!({"routes": routes.into_values().collect::<Vec<_>>()}),
    ))
}

/// `GET /api/v1/usage` parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    by: Option<UsageGroup>,
    /// A duration: `24h`, `7d`, `90m`.
    since: Option<String>,
}

/// Usage totals by route, lane, kind or day.
pub async fn usage(State(state): State<AppState>, Q(q): Q<UsageQuery>) -> Reply {
    let by = q.by.unwrap_or_default();
    let since: Option<Duration> = q
        .since
        .as_deref()
        .map(|s| {
            humantime::parse_duration(s).map_err(|e| {
                Problem::bad_request(format!(
                    "since={s:?}: {e}; write a duration such as 24h or 7d"
                ))
            })
        })
        .transpose()?;
    let groups = state
        .store
        .usage_totals(by, since)
        .await
        .map_err(Problem::store)?;
    Ok(Json(
        json!({"by": by.label(), "since_secs": since.map(|s| s.as_secs()), "groups": groups}),
    ))
}
