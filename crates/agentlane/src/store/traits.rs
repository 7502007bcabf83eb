//! The stores' contracts, narrow by consumer: the dispatcher writes through a
//! [`DispatchLog`], the worker through a [`QueueStore`], the read commands
//! through a [`Reader`]; a [`Store`] is all three (and a copy's target).

use super::{
    DispatchRecord, DispatchSummary, FeedEvent, IdKind, IdMatch, IdleWait, LaneMinute, Maintenance,
    NextClaim, Snapshot, StoreError, StoredEvent,
};
use crate::events::{Event, Prepare};
use crate::model::DispatchReport;
use crate::model::{
    Actor, Cancelled, Completion, Enqueued, Incident, IncidentFacts, Job, JobFilter, LanePause,
    LanePending, NewJob, QuotaIncident, Renewed, Resolved, Retried, RetryFilter, RouteBlock,
    Status,
};
use crate::model::{AttemptUsage, UsageGroup, UsageTotal};
use async_trait::async_trait;
use std::time::Duration;

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
    /// Enqueues jobs in one transaction (all or none); returns, in order,
    /// each job's id and whether its key was already taken. A job whose key
    /// a stored job (or an earlier job of the same batch: the first wins)
    /// already holds is not stored: its answer is that job's id. Race-safe:
    /// two enqueues of one key at once store one job.
    async fn enqueue_keyed(&self, jobs: &[NewJob]) -> Result<Vec<Enqueued>, StoreError>;
    /// [`QueueStore::enqueue_keyed`], the ids only.
    async fn enqueue(&self, jobs: &[NewJob]) -> Result<Vec<String>, StoreError> {
        Ok(self
            .enqueue_keyed(jobs)
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect())
    }
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
    /// not expired; returns the jobs renewed, each with the reason of its
    /// cancel when an operator asked for one (its worker stops it and
    /// settles it cancelled). A job missing from the answer is lost
    /// (expired, rescued or settled): its agent must stop. A job the owner
    /// does not know it holds (a claim whose reply was lost) is never
    /// renewed, so it expires and is rescued.
    async fn heartbeat(
        &self,
        owner: &str,
        jobs: &[String],
        lease: Duration,
    ) -> Result<Vec<Renewed>, StoreError>;
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
    /// Preflight passed on `host` for `route` in `lane`, whose stamp digest
    /// is now `stamp`: resolves the route's open host-local hard stops on
    /// that host that failed under another stamp (`why` is the resolution),
    /// then releases the route's parked jobs, except payload and policy
    /// refusals that no environment fixes and jobs whose incident is still
    /// an open hard stop; returns the jobs released.
    async fn release_parked(
        &self,
        lane: &str,
        route: &str,
        host: &str,
        stamp: &str,
        why: &str,
    ) -> Result<u64, StoreError>;
    /// The routes of `lane` that hard stops block for a worker on `host`
    /// (None: on any host), one per route.
    async fn route_blocks(
        &self,
        lane: &str,
        host: Option<&str>,
    ) -> Result<Vec<RouteBlock>, StoreError>;
    /// The open `quota_exhausted` incidents, each with the account whose
    /// jobs it parked (once a worker did) and how many jobs wait on it.
    async fn quota_incidents(&self) -> Result<Vec<QuotaIncident>, StoreError>;
    /// An account is out of quota: parks every queued job of `routes` (the
    /// routes that spend `account`, in any lane) behind the open incident
    /// `id`, with `reason`, and records the account on it — in one
    /// transaction, and only while the incident is open (a release that ran
    /// first is never undone). Idempotent; returns the jobs parked now.
    /// They are released with the incident ([`QueueStore::resolve_incident`]).
    async fn park_for_account(
        &self,
        id: &str,
        account: &crate::model::Account,
        routes: &[String],
        reason: &str,
    ) -> Result<u64, StoreError>;
    /// Every route's circuit breaker row (`crate::breaker`), by route.
    async fn route_breakers(&self) -> Result<Vec<crate::model::RouteBreaker>, StoreError>;
    /// Writes a breaker row, conditionally: only if the stored row is still
    /// at `row.version` (0: the route has no row yet); the stored version
    /// becomes `row.version + 1`. False when another worker wrote first —
    /// so two workers never both open, probe or close one breaker.
    async fn write_breaker(&self, row: &crate::model::RouteBreaker) -> Result<bool, StoreError>;
    /// The half-open trial: in one transaction, takes `route`'s half-open
    /// breaker whose trial is free and claims one due job of `route` in
    /// `lane` for `owner`, recorded as the trial (`trial_job`, the version
    /// bumped). None when the breaker is not half-open, another worker took
    /// the trial, or no job is due — then nothing changed. Across any
    /// number of concurrent claimers, one trial job.
    async fn claim_trial(
        &self,
        lane: &str,
        route: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Job>, StoreError>;
    /// The latest `limit` finished job attempts on `route` (any lane, any
    /// worker), newest first: the breaker's window.
    async fn route_attempts(
        &self,
        route: &str,
        limit: usize,
    ) -> Result<Vec<crate::model::RouteAttempt>, StoreError>;
    /// Resolves an open incident (by `who`, whose reason is the resolution)
    /// and releases its parked jobs; with `retry_failed`, re-queues the
    /// failed jobs it covers too (attempts kept). Records an
    /// `operator_action` event per job moved. None when no open incident
    /// has that id.
    async fn resolve_incident(
        &self,
        id: &str,
        who: &Actor,
        retry_failed: bool,
    ) -> Result<Option<Resolved>, StoreError>;
    /// The lane's pause, when an operator paused it: its workers claim
    /// nothing (the claim checks it too).
    async fn lane_paused(&self, lane: &str) -> Result<Option<LanePause>, StoreError>;
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
    /// The dollars a job's finished attempts reported, summed (None: none
    /// reported a cost). The retry decision compares it with the per-job
    /// budget.
    async fn job_spent(&self, job_id: &str) -> Result<Option<f64>, StoreError>;
    /// The dollars the attempts of `lane`'s jobs reported since the start of
    /// today (UTC, by the database clock): what its daily budget is spent by.
    async fn lane_spent_today(&self, lane: &str) -> Result<f64, StoreError>;
    /// An idle worker's wait ([`IdleWait`]): returns when jobs may be
    /// claimable, and at its `timeout` at the latest. A store that cannot
    /// tell waits `poll` (the default: SQLite, whose reads are local).
    async fn wait_for_jobs(&self, wait: &mut IdleWait<'_>) {
        tokio::time::sleep(wait.poll).await;
    }
    /// A worker's heartbeat for `/metrics`: upserts its row (host, kind,
    /// lane) as seen now (the database clock) and deletes the rows not seen
    /// for [`crate::model::metrics::WORKER_SEEN_KEPT`], in one transaction.
    async fn worker_seen(&self, beat: &crate::model::WorkerBeat) -> Result<(), StoreError>;
}

/// The operator's controls: each a conditional write that applies only to
/// jobs in the states it names (so it never overwrites a worker's
/// settlement), recorded with an `operator_action` event (who, why) in the
/// same transaction.
#[async_trait]
pub trait Control: Send + Sync {
    /// Cancels a job: a waiting one (queued, scheduled, parked) at once; a
    /// running one by asking its worker, which stops its process tree within
    /// a heartbeat and settles it cancelled (a running job whose lease has
    /// expired is cancelled at once: no worker holds it). None: no such job.
    async fn cancel_job(&self, id: &str, who: &Actor) -> Result<Option<Cancelled>, StoreError>;
    /// Puts a failed, cancelled or parked job back in its lane, queued now,
    /// its attempts kept. None: no such job.
    async fn retry_job(&self, id: &str, who: &Actor) -> Result<Option<Retried>, StoreError>;
    /// [`Control::retry_job`] for every job the filter selects, in one
    /// transaction; returns their ids.
    async fn retry_jobs(
        &self,
        filter: &RetryFilter,
        who: &Actor,
    ) -> Result<Vec<String>, StoreError>;
    /// Pauses a lane; false when it was already paused (its pause is kept).
    async fn pause_lane(&self, lane: &str, who: &Actor) -> Result<bool, StoreError>;
    /// Resumes a lane; false when it was not paused.
    async fn resume_lane(&self, lane: &str, who: &Actor) -> Result<bool, StoreError>;
    /// Every paused lane.
    async fn lane_pauses(&self) -> Result<Vec<LanePause>, StoreError>;
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
    /// The full id of a job, dispatch or incident that `fragment` (a whole
    /// id, or a prefix or suffix of at least 6 characters) names.
    async fn resolve_id(&self, kind: IdKind, fragment: &str) -> Result<IdMatch, StoreError>;
    /// One dispatch by id or unique id prefix.
    async fn dispatch(&self, id_or_prefix: &str) -> Result<Option<DispatchRecord>, StoreError>;
    /// The events of a job (its attempts' and its decisions), in order.
    async fn job_events(&self, job_id: &str) -> Result<Vec<StoredEvent>, StoreError>;
    /// Events with a sequence number above `after`, oldest first, at most
    /// `limit`: the live feed's source. A sequence number is taken at insert
    /// and a transaction may commit after a later one, so a reader that must
    /// see every event re-reads a window below its last number.
    async fn events_after(&self, after: i64, limit: usize) -> Result<Vec<FeedEvent>, StoreError>;
    /// The highest event sequence number stored (0 when none): where a live
    /// feed starts.
    async fn last_event_seq(&self) -> Result<i64, StoreError>;
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
    /// The usage each attempt of a job reported, in attempt order (attempts
    /// that reported none are left out).
    async fn job_usage(&self, job_id: &str) -> Result<Vec<AttemptUsage>, StoreError>;
    /// Usage summed by route, lane, kind or UTC day over the attempts that
    /// finished within `since` of now (the database clock; None: all),
    /// ordered by the group's key.
    async fn usage_totals(
        &self,
        by: UsageGroup,
        since: Option<Duration>,
    ) -> Result<Vec<UsageTotal>, StoreError>;
    /// Rows per table, to check a copy.
    async fn row_counts(&self) -> Result<Vec<(String, u64)>, StoreError>;
    /// The store's facts for `/metrics`' gauges, read in one snapshot:
    /// jobs by lane and state, open incidents by class and repair address,
    /// parked jobs by lane and class, each route's latest preflight, and
    /// the workers seen within a day.
    async fn metrics_snapshot(&self) -> Result<crate::model::MetricsSnapshot, StoreError>;
    /// Jobs finished (succeeded, failed, cancelled) per lane and UTC minute
    /// within `since` of now (the database clock), by lane then minute;
    /// minutes without one are left out. The dashboard's sparkline.
    async fn finished_per_minute(&self, since: Duration) -> Result<Vec<LaneMinute>, StoreError>;
}

/// The whole contract of a backend: the three narrow traits, and loading a
/// copy (`agentlane store copy`). Callers take the narrowest trait they need
/// (`Arc<dyn Store>` coerces to each).
#[async_trait]
pub trait Store: QueueStore + Reader + Control {
    /// Loads a snapshot into this (empty) store, in one transaction.
    async fn import_rows(&self, _snapshot: &Snapshot) -> Result<(), StoreError> {
        Err(StoreError::Unsupported("importing into this store".into()))
    }
}
