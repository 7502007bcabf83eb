//! Everything a store reads back, rendered field by field.

use super::*;

pub(crate) fn job_json(j: &Job) -> Value {
    json!({
        "id": j.id, "kind": j.kind, "lane": j.lane, "route": j.route, "prompt": j.prompt,
        "fields": j.fields, "priority": j.priority, "state": j.state().label(),
        "attempts": j.attempts, "run_at": j.run_at, "created_at": j.created_at,
        "updated_at": j.updated_at, "finished_at": j.finished_at(),
        "lease_owner": j.lease_owner(), "lease_expires_at": j.lease_expires_at(),
        "timeout_ms": j.timeout_ms, "diagnostics": j.diagnostics,
        "classifier": j.classifier, "next_action": j.next_action, "reason": j.reason,
        "incident_id": j.incident_id, "last_dispatch_id": j.last_dispatch_id,
    })
}

pub(crate) fn incident_json(i: &Incident, jobs: &[String]) -> Value {
    json!({
        "id": i.id, "failure_fingerprint": i.failure_fingerprint, "classifier": i.classifier,
        "state": i.state, "repair_address": i.repair_address, "priority": i.priority,
        "route": i.route, "lane": i.lane, "host": i.host, "repair_hint": i.repair_hint,
        "evidence": i.evidence, "affected_jobs": i.affected_jobs, "occurrences": i.occurrences,
        "first_seen": i.first_seen, "last_seen": i.last_seen, "resolved_at": i.resolved_at,
        "resolution": i.resolution, "reset_at": i.reset_at.map(|t| t.to_string()),
        "jobs": jobs,
    })
}

pub(crate) fn summary_json(s: &DispatchSummary) -> Value {
    json!({
        "dispatch_id": s.dispatch_id, "created_at": s.created_at, "finished_at": s.finished_at,
        "program": s.program, "cwd": s.cwd, "route": s.route, "job_id": s.job_id,
        "classifier": s.classifier, "exit_code": s.exit_code, "signal": s.signal,
        "timed_out": s.timed_out, "duration_ms": s.duration_ms,
    })
}

pub(crate) fn event_json(e: &StoredEvent) -> Value {
    json!({"seq": e.seq, "at": e.at, "kind": e.kind, "body": e.body})
}

pub(crate) fn seqs(events: &[StoredEvent]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

/// The tables of the release's schema.
const RELEASE_TABLES: &[&str] = &["dispatches", "events", "jobs", "incidents", "incident_jobs"];

/// Everything the store reads back, through its API.
pub(crate) async fn readback(store: &dyn Store) -> Value {
    // The tables the release had; a table added since (lane_pauses, issue
    // 16) is asserted empty instead, since the release wrote nothing there.
    let mut counts = store.row_counts().await.unwrap();
    for (table, n) in counts
        .iter()
        .filter(|(t, _)| !RELEASE_TABLES.contains(&t.as_str()))
    {
        assert_eq!(*n, 0, "{table} did not exist in the release");
    }
    counts.retain(|(t, _)| RELEASE_TABLES.contains(&t.as_str()));
    let status = store.status().await.unwrap();
    let mut jobs = Vec::new();
    for j in store
        .jobs(&JobFilter {
            limit: 0,
            ..Default::default()
        })
        .await
        .unwrap()
    {
        assert_eq!(
            store.job(&j.id).await.unwrap().as_ref(),
            Some(&j),
            "job {}",
            j.id
        );
        let events = store.job_events(&j.id).await.unwrap();
        let attempts = store.job_dispatches(&j.id).await.unwrap();
        let mut v = job_json(&j);
        v["event_seqs"] = json!(seqs(&events));
        v["dispatches"] = json!(attempts.iter().map(|d| &d.dispatch_id).collect::<Vec<_>>());
        jobs.push(v);
    }
    let mut dispatches = Vec::new();
    for s in store.recent_dispatches(10_000).await.unwrap() {
        let record = store.dispatch(&s.dispatch_id).await.unwrap().unwrap();
        assert_eq!(record.summary, s, "dispatch {}", s.dispatch_id);
        let mut v = summary_json(&s);
        v["report"] = record.report.clone().unwrap_or(Value::Null);
        v["event_seqs"] = json!(seqs(&record.events));
        dispatches.push(v);
    }
    let mut incidents = Vec::new();
    for i in store.incidents(false).await.unwrap() {
        let (one, jobs) = store.incident(&i.id).await.unwrap().unwrap();
        assert_eq!(one, i, "incident {}", i.id);
        incidents.push(incident_json(&i, &jobs));
    }
    let mut events = Vec::new();
    for kind in EVENT_KINDS {
        events.extend(store.recent_events(kind, 10_000).await.unwrap());
    }
    events.sort_by_key(|e| e.seq);
    json!({
        "row_counts": counts.iter().map(|(t, n)| json!([t, n])).collect::<Vec<_>>(),
        "status": {
            "lanes": status.lanes.iter().map(|(l, s, n)| json!([l, s, n])).collect::<Vec<_>>(),
            "classes": status.classes.iter().map(|(c, n)| json!([c, n])).collect::<Vec<_>>(),
            "open_incidents": status.open_incidents,
        },
        "jobs": jobs,
        "dispatches": dispatches,
        "incidents": incidents,
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
    })
}

// ---------------------------------------------------------------- checks
