//! The store: where dispatches and their events live durably.
//!
//! A trait, so the embedded SQLite default ([`sqlite::SqliteStore`]) and the
//! PostgreSQL backend for many machines implement one contract, tested by one
//! conformance suite. Times are taken from the database clock, never from a
//! caller's wall clock.

#[cfg(test)]
pub(crate) mod conformance;
pub mod postgres;
pub mod sqlite;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::model::DispatchReport;
use crate::events::{Event, Prepare};
use crate::model::{
    Completion, Incident, IncidentFacts, Job, JobFilter, LanePending, NewJob, Status,
};

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("the store at {location} failed: {message}")]
    Backend {
        /// Where the store is (file or URL without password).
        location: String,
        /// The backend's message.
        message: String,
    },
    /// The database cannot be reached right now (connection refused, closed
    /// or timed out; a server shutting down or starting; busy): the same
    /// request may succeed later.
    #[error("the store at {location} is unavailable: {message}")]
    Unavailable {
        /// Where the store is (file or URL without password).
        location: String,
        /// What failed.
        message: String,
    },
    /// A stored row could not be decoded.
    #[error("corrupt row in the store: {0}")]
    Corrupt(String),
    /// An id prefix matched more than one dispatch.
    #[error("'{0}' matches more than one dispatch: give more characters of the id")]
    Ambiguous(String),
    /// The store cannot do this.
    #[error("this store does not support {0}")]
    Unsupported(String),
    /// A copy's target already holds data.
    #[error("the target store is not empty ({0}): copy into a fresh database")]
    NotEmpty(String),
    /// The database was written by a newer agentlane: its schema version is
    /// above the newest this binary knows, so it is not used.
    #[error("the store at {location} has schema version {found}, newer than this agentlane knows ({supported}): upgrade agentlane, or point --store (or AGENTLANE_STORE) at another database")]
    SchemaTooNew {
        /// Where the store is (file or URL without password).
        location: String,
        /// The schema version found in the database.
        found: i64,
        /// The newest schema version this binary knows.
        supported: i64,
    },
    /// The database file is not a database or is damaged. The message says
    /// how to check it and what to do, wherever the damage shows.
    #[error("the store at {location} is damaged: {message}\nhint: {location} is not a sound SQLite database: check it with `sqlite3 {location} 'PRAGMA integrity_check'`, then restore it from a backup, or move it aside (agentlane creates a new, empty one)")]
    Damaged {
        /// The database file.
        location: String,
        /// The backend's message.
        message: String,
    },
}

impl StoreError {
    /// Whether the same request may succeed later (the store was unreachable).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// Runs `op` until it succeeds, fails for good, or `patience` has passed
/// since the first failure; waits between tries double from 50 ms up to 2 s.
/// Only transient failures ([`StoreError::is_transient`]) are retried, so
/// the operation must be idempotent or fenced.
pub async fn with_patience<T, F, Fut>(patience: Duration, mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let started = std::time::Instant::now();
    let mut wait = Duration::from_millis(50);
    loop {
        match op().await {
            Err(e) if e.is_transient() && started.elapsed() + wait <= patience => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

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

/// What the dispatcher writes: a dispatch's prepare (before the launch) and
/// its finish (events and report together), and events that belong to no
/// dispatch.
#[async_trait]
pub trait DispatchLog: Send + Sync {
    /// Records `runner_prepare` and creates the dispatch row, in one transaction.
    async fn record_prepare(&self, prepare: &Prepare) -> Result<(), StoreError>;
    /// Records the final events and the report, in one transaction.
    async fn record_finish(
        &self,
        report: &DispatchReport,
        events: &[Event],
    ) -> Result<(), StoreError>;
    /// Appends an event that belongs to no dispatch (e.g. `preflight_checked`).
    async fn append_event(&self, event: &Event) -> Result<(), StoreError>;
}

/// What a worker writes and reads to run the queue: enqueue, claim, renew,
/// settle (fenced by job, attempt and owner), rescue, incidents, leadership,
/// maintenance. A settlement records its attempt's outcome too, so the queue
/// store is also a dispatch log.
#[async_trait]
pub trait QueueStore: DispatchLog {
    /// Enqueues jobs in one transaction; returns their ids in order.
    async fn enqueue(&self, jobs: &[NewJob]) -> Result<Vec<String>, StoreError>;
    /// Claims up to `limit` due jobs of `lane` on `routes`, leased to `owner`.
    async fn claim(
        &self,
        lane: &str,
        routes: &[String],
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError>;
    /// Renews, in one statement, the leases `owner` holds on `jobs` that have
    /// not expired; returns the ids renewed. A job missing from the answer is
    /// lost (expired, rescued or settled): its agent must stop. A job the
    /// owner does not know it holds (a claim whose reply was lost) is never
    /// renewed, so it expires and is rescued.
    async fn heartbeat(
        &self,
        owner: &str,
        jobs: &[String],
        lease: Duration,
    ) -> Result<Vec<String>, StoreError>;
    /// Settles an attempt, fenced by (job, attempt, owner); false when the lease was lost.
    async fn settle(&self, completion: &Completion) -> Result<bool, StoreError>;
    /// Records the outcome of a job's dispatch ([`DispatchLog::record_finish`]) and
    /// settles its attempt ([`QueueStore::settle`]) in one transaction: one commit
    /// per attempt instead of two. The outcome is recorded (once) whatever
    /// the fence says; returns whether the settlement was accepted.
    async fn finish_and_settle(
        &self,
        report: &DispatchReport,
        events: &[Event],
        completion: &Completion,
    ) -> Result<bool, StoreError> {
        self.record_finish(report, events).await?;
        self.settle(completion).await
    }
    /// [`QueueStore::finish_and_settle`], then, only if the settlement was
    /// accepted, a claim of one due job for the slot it frees (`next`), for
    /// the same owner, in the same transaction: a worker that keeps its slots
    /// busy pays one commit fewer per job. Returns whether the settlement was
    /// accepted, and the job claimed.
    async fn finish_settle_and_claim(
        &self,
        report: &DispatchReport,
        events: &[Event],
        completion: &Completion,
        next: &NextClaim,
    ) -> Result<(bool, Option<Job>), StoreError> {
        let accepted = self.finish_and_settle(report, events, completion).await?;
        if !accepted || next.routes.is_empty() {
            return Ok((accepted, None));
        }
        let mut claimed = self
            .claim(&next.lane, &next.routes, &completion.owner, next.lease, 1)
            .await?;
        Ok((accepted, claimed.pop()))
    }
    /// Opens (or counts another occurrence of) the incident of a failure with no job (preflight).
    async fn open_incident(&self, facts: &IncidentFacts) -> Result<String, StoreError>;
    /// Takes over running jobs whose lease expired, finishing their attempt as worker_lost.
    async fn rescue_expired(&self, owner: &str, lease: Duration) -> Result<Vec<Job>, StoreError>;
    /// Releases the parked jobs of a lane's route back to the lane (runtime classes only).
    async fn release_parked(&self, lane: &str, route: &str, why: &str) -> Result<u64, StoreError>;
    /// Resolves an open incident and releases its parked jobs; None when no open incident has that id.
    async fn resolve_incident(&self, id: &str, resolution: &str)
        -> Result<Option<u64>, StoreError>;
    /// Work left in a lane on these routes.
    async fn lane_pending(&self, lane: &str, routes: &[String]) -> Result<LanePending, StoreError>;
    /// Takes or renews the leadership lease `name` for `owner`; true when
    /// `owner` leads (it held it, or the previous leader's lease expired).
    async fn try_lead(&self, name: &str, owner: &str, lease: Duration) -> Result<bool, StoreError>;
    /// Maintenance, run by the leader: folds batched incident counts into
    /// their incidents and, with a `retention`, deletes what finished longer
    /// ago than it — jobs that succeeded, failed or were cancelled (with their
    /// attempts, events and incident links), dispatches without a job, events
    /// of neither, resolved incidents — at most `batch` of each per call.
    /// Parked, queued and running work is never pruned. Idempotent, and safe
    /// when two leaders run it at once.
    async fn maintain(
        &self,
        retention: Option<Duration>,
        batch: usize,
    ) -> Result<Maintenance, StoreError>;
    /// Waits until new jobs may be claimable in `lane`, or `timeout`. The
    /// default polls (sleeps); PostgreSQL wakes on LISTEN/NOTIFY.
    async fn wait_for_jobs(&self, _lane: &str, timeout: Duration) {
        tokio::time::sleep(timeout).await;
    }
}

/// What the read commands (`show`, `runs`, `jobs`, `job`, `incidents`,
/// `status`) and `store copy` read.
#[async_trait]
pub trait Reader: Send + Sync {
    /// The most recent events of one kind, newest first.
    async fn recent_events(&self, kind: &str, limit: usize)
        -> Result<Vec<StoredEvent>, StoreError>;
    /// The most recent dispatches, newest first.
    async fn recent_dispatches(&self, limit: usize) -> Result<Vec<DispatchSummary>, StoreError>;
    /// One dispatch by id or unique id prefix.
    async fn dispatch(&self, id_or_prefix: &str) -> Result<Option<DispatchRecord>, StoreError>;
    /// The events of a job (its attempts' and its decisions), in order.
    async fn job_events(&self, job_id: &str) -> Result<Vec<StoredEvent>, StoreError>;
    /// The dispatches (attempts) of a job, in order.
    async fn job_dispatches(&self, job_id: &str) -> Result<Vec<DispatchSummary>, StoreError>;
    /// Jobs, newest first.
    async fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError>;
    /// One job.
    async fn job(&self, id: &str) -> Result<Option<Job>, StoreError>;
    /// Incidents by priority (open first).
    async fn incidents(&self, open_only: bool) -> Result<Vec<Incident>, StoreError>;
    /// One incident (id or prefix of 8+ characters) and its affected jobs.
    async fn incident(&self, id: &str) -> Result<Option<(Incident, Vec<String>)>, StoreError>;
    /// Counts per lane and state, per class, and open incidents.
    async fn status(&self) -> Result<Status, StoreError>;
    /// Every row of every table, for `agentlane store copy`.
    async fn export_rows(&self) -> Result<Snapshot, StoreError> {
        Err(StoreError::Unsupported("exporting from this store".into()))
    }
    /// Rows per table, to check a copy.
    async fn row_counts(&self) -> Result<Vec<(String, u64)>, StoreError>;
}

/// The whole contract of a backend: the three narrow traits, and loading a
/// copy (`agentlane store copy`). Callers take the narrowest trait they need
/// (`Arc<dyn Store>` coerces to each).
#[async_trait]
pub trait Store: QueueStore + Reader {
    /// Loads a snapshot into this (empty) store, in one transaction.
    async fn import_rows(&self, _snapshot: &Snapshot) -> Result<(), StoreError> {
        Err(StoreError::Unsupported("importing into this store".into()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn unavailable() -> StoreError {
        StoreError::Unavailable {
            location: "db".into(),
            message: "connection refused".into(),
        }
    }

    #[tokio::test]
    async fn with_patience_retries_an_outage_until_the_store_answers() {
        let tries = AtomicU32::new(0);
        let got = with_patience(Duration::from_secs(5), || async {
            match tries.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(unavailable()),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(got.expect("answered on the third try"), 2);
    }

    #[tokio::test]
    async fn with_patience_never_retries_a_permanent_failure() {
        let tries = AtomicU32::new(0);
        let got: Result<(), _> = with_patience(Duration::from_secs(5), || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::Corrupt("bad row".into()))
        })
        .await;
        assert!(matches!(got, Err(StoreError::Corrupt(_))));
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn with_patience_gives_up_once_its_patience_is_spent() {
        let tries = AtomicU32::new(0);
        let got: Result<(), _> = with_patience(Duration::from_millis(200), || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(unavailable())
        })
        .await;
        assert!(got.expect_err("still down").is_transient());
        let n = tries.load(Ordering::SeqCst);
        assert!(
            (2..=4).contains(&n),
            "50 + 100 ms of waits fit in 200 ms: {n} tries"
        );
    }
}
