//! Dispatch rows and events: how they are written and decoded.

use crate::events::Event;
use crate::model::DispatchReport;
use crate::store::{DispatchSummary, StoreError, StoredEvent};
use rusqlite::params;

/// Finishes a dispatch inside the caller's transaction. Once only: a retry,
/// or a late write after the attempt was rescued as worker_lost, changes nothing.
pub(super) fn finish_in(
    tx: &rusqlite::Transaction<'_>,
    r: &DispatchReport,
    events: &[Event],
) -> rusqlite::Result<()> {
    let finished = tx
        .prepare_cached(
            "UPDATE dispatches SET finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                classifier = ?2, exit_code = ?3, signal = ?4, timed_out = ?5, duration_ms = ?6,
                failure_fingerprint = ?7, report = ?8
             WHERE id = ?1 AND finished_at IS NULL",
        )?
        .execute(params![
            r.dispatch_id,
            r.classifier.label(),
            r.termination.exit_code(),
            r.termination.signal(),
            r.termination.timed_out(),
            r.duration_ms as i64,
            r.failure_fingerprint,
            json(&crate::store::stored_report(r)),
        ])?;
    if finished > 0 {
        for event in events {
            insert_event(tx, Some(&r.dispatch_id), r.job_id.as_deref(), event)?;
        }
    }
    Ok(())
}

#[allow(
    clippy::expect_used,
    reason = "strings, numbers, string-keyed maps and lossily written paths always serialise"
)]
pub(super) fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("events serialise")
}

pub(super) fn insert_event(
    tx: &rusqlite::Transaction<'_>,
    dispatch_id: Option<&str>,
    job_id: Option<&str>,
    event: &Event,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO events (dispatch_id, job_id, kind, body) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![dispatch_id, job_id, event.kind(), json(event)])?;
    Ok(())
}

pub(super) type RawEvent = (i64, String, String, String);

pub(super) fn decode_events(rows: Vec<RawEvent>) -> Result<Vec<StoredEvent>, StoreError> {
    rows.into_iter()
        .map(|(seq, at, kind, body)| {
            let body = serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))?;
            Ok(StoredEvent {
                seq,
                at,
                kind,
                body,
            })
        })
        .collect()
}

pub(super) const SUMMARY_COLUMNS: &str = "id, created_at, finished_at, program, cwd, route, job_id, classifier, exit_code, signal, timed_out, duration_ms";

pub(super) fn summary(row: &rusqlite::Row<'_>) -> rusqlite::Result<DispatchSummary> {
    Ok(DispatchSummary {
        dispatch_id: row.get(0)?,
        created_at: row.get(1)?,
        finished_at: row.get(2)?,
        program: row.get(3)?,
        cwd: row.get(4)?,
        route: row.get(5)?,
        job_id: row.get(6)?,
        classifier: row.get(7)?,
        exit_code: row.get(8)?,
        signal: row.get(9)?,
        timed_out: row.get::<_, i64>(10)? != 0,
        duration_ms: row.get::<_, Option<i64>>(11)?.map(|d| d.max(0) as u64),
    })
}
