//! The rows the stores hand out: dispatch summaries and records, stored events,
//! maintenance passes and whole-store snapshots.

use crate::model::DispatchReport;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One line of `agentlane runs`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DispatchSummary {
    /// The dispatch id.
    pub dispatch_id: String,
    /// When runner_prepare was recorded (database clock, RFC 3339 UTC).
    pub created_at: String,
    /// When the dispatch finished, if it did.
    pub finished_at: Option<String>,
    /// The program as asked for.
    pub program: String,
    /// The working directory.
    pub cwd: String,
    /// The route, if any.
    pub route: Option<String>,
    /// The job, if any.
    pub job_id: Option<String>,
    /// The class (null while running or when the worker was lost).
    pub classifier: Option<String>,
    /// The exit code.
    pub exit_code: Option<i32>,
    /// The signal.
    pub signal: Option<i32>,
    /// Whether the timeout ended it.
    pub timed_out: bool,
    /// Duration in ms.
    pub duration_ms: Option<u64>,
}

/// One stored event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredEvent {
    /// Global sequence number.
    pub seq: i64,
    /// When it was recorded (database clock).
    pub at: String,
    /// Its kind.
    pub kind: String,
    /// Its body.
    pub body: serde_json::Value,
}

/// What a worker claims for the slot a finished attempt frees
/// ([`QueueStore::finish_settle_and_claim`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NextClaim {
    /// The lane.
    pub lane: String,
    /// The routes this worker can run now (preflight passed); none claims nothing.
    pub routes: Vec<String>,
    /// The lease of the claimed job.
    pub lease: Duration,
}

/// A dispatch with its report and events (`agentlane show`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DispatchRecord {
    /// The summary row.
    pub summary: DispatchSummary,
    /// The final report, once finished.
    pub report: Option<serde_json::Value>,
    /// The events, in order.
    pub events: Vec<StoredEvent>,
}

/// The report as a store keeps it: without its environment fingerprint
/// (1–2 KB), which the dispatch's `runner_prepare` event already holds.
/// Reading the dispatch back ([`DispatchRecord::restored`]) puts it back.
#[allow(
    clippy::expect_used,
    reason = "strings, numbers, string-keyed maps and lossily written paths always serialise"
)]
pub(crate) fn stored_report(r: &DispatchReport) -> serde_json::Value {
    let mut v = serde_json::to_value(r).expect("reports serialise");
    if let Some(m) = v.as_object_mut() {
        m.remove("env_fingerprint");
    }
    v
}

impl DispatchRecord {
    /// The record with the report whole again: its environment fingerprint
    /// taken from the `runner_prepare` event (see [`stored_report`]). A
    /// report stored whole (before this) is left as it is.
    pub(crate) fn restored(mut self) -> DispatchRecord {
        if let Some(serde_json::Value::Object(report)) = &mut self.report {
            if !report.contains_key("env_fingerprint") {
                let prepared = self
                    .events
                    .iter()
                    .find(|e| e.kind == "runner_prepare")
                    .and_then(|e| e.body.get("env_fingerprint"));
                if let Some(fp) = prepared {
                    report.insert("env_fingerprint".to_string(), fp.clone());
                }
            }
        }
        self
    }
}

/// What one maintenance pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Maintenance {
    /// Batched incident counts folded into their incidents.
    pub folded_counts: u64,
    /// Finished jobs deleted.
    pub jobs: u64,
    /// Dispatches deleted (the pruned jobs' attempts and old job-less runs).
    pub dispatches: u64,
    /// Events deleted.
    pub events: u64,
    /// Resolved incidents deleted.
    pub incidents: u64,
    /// A batch was full: there may be more to prune.
    pub more: bool,
}

/// The tables of a store, in an order that respects their references.
pub const TABLES: &[&str] = &["dispatches", "events", "jobs", "incidents", "incident_jobs"];

/// Every row of a store: per table, one JSON object per row (times as the
/// store's RFC 3339 text, JSON columns as JSON).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// (table, rows) in [`TABLES`] order.
    pub tables: Vec<(String, Vec<serde_json::Value>)>,
}
