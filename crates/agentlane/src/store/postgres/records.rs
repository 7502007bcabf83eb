//! The dispatch log's rows: a finish's parameters, events, summaries.

use tokio_postgres::Row;

use super::*;
use super::{DispatchSummary, StoreError, StoredEvent};
use crate::events::Event;
use crate::model::DispatchReport;

/// The parameters that finish a dispatch, owned: its id, classifier, exit
/// code, signal, timed_out, duration, fingerprint, report, and its events'
/// kinds and bodies.
pub(super) struct FinishParams {
    dispatch_id: String,
    classifier: String,
    exit_code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    duration_ms: i64,
    fingerprint: Option<String>,
    report: serde_json::Value,
    kinds: Vec<&'static str>,
    bodies: Vec<serde_json::Value>,
}

impl FinishParams {
    pub(super) fn of(r: &DispatchReport, events: &[Event]) -> FinishParams {
        FinishParams {
            dispatch_id: r.dispatch_id.clone(),
            classifier: r.classifier.label(),
            exit_code: r.termination.exit_code(),
            signal: r.termination.signal(),
            timed_out: r.termination.timed_out(),
            duration_ms: r.duration_ms as i64,
            fingerprint: r.failure_fingerprint.clone(),
            report: crate::store::stored_report(r),
            kinds: events.iter().map(Event::kind).collect(),
            bodies: events.iter().map(json).collect(),
        }
    }

    pub(super) fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 10] {
        [
            &self.dispatch_id,
            &self.classifier,
            &self.exit_code,
            &self.signal,
            &self.timed_out,
            &self.duration_ms,
            &self.fingerprint,
            &self.report,
            &self.kinds,
            &self.bodies,
        ]
    }
}

#[allow(
    clippy::expect_used,
    reason = "strings, numbers, string-keyed maps and lossily written paths always serialise"
)]
pub(super) fn json(v: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).expect("events serialise")
}

pub(super) async fn insert_event(
    tx: &tokio_postgres::Transaction<'_>,
    location: &str,
    dispatch_id: Option<&str>,
    job_id: Option<&str>,
    event: &Event,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO events (dispatch_id, job_id, kind, body) VALUES ($1, $2, $3, $4)",
        &[&dispatch_id, &job_id, &event.kind(), &json(event)],
    )
    .await
    .map_err(err(location))?;
    Ok(())
}

pub(super) const SUMMARY_COLUMNS: &str = "id, al_ts(created_at), al_ts(finished_at), program, cwd, route, job_id, classifier, exit_code, signal, timed_out, duration_ms";

pub(super) fn summary(row: &Row) -> DispatchSummary {
    DispatchSummary {
        dispatch_id: row.get(0),
        created_at: row.get(1),
        finished_at: row.get(2),
        program: row.get(3),
        cwd: row.get(4),
        route: row.get(5),
        job_id: row.get(6),
        classifier: row.get(7),
        exit_code: row.get(8),
        signal: row.get(9),
        timed_out: row.get(10),
        duration_ms: row.get::<_, Option<i64>>(11).map(|d| d.max(0) as u64),
    }
}

pub(super) fn stored_event(row: &Row) -> StoredEvent {
    StoredEvent {
        seq: row.get(0),
        at: row.get(1),
        kind: row.get(2),
        body: row.get(3),
    }
}
