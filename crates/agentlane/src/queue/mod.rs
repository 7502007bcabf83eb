//! The durable queue: jobs, their states, and the incidents they attach to.
//!
//! Jobs are rows (see the store); this module holds their types and the
//! pure parts of the queue's decisions. The worker (`worker.rs`) claims jobs
//! through the store, runs them through the one dispatcher, and settles each
//! attempt with the retry table's decision — fenced by (job, attempt, owner),
//! so a worker that lost its lease changes nothing.

pub mod admit;
pub mod jsonl;
pub mod worker;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::class::Class;

/// The state of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting to be claimed.
    Queued,
    /// Waiting for its retry time.
    Scheduled,
    /// Claimed by a worker under a lease.
    Running,
    /// Done.
    Succeeded,
    /// Failed for good.
    Failed,
    /// Kept out of its lane until preflight changes or its incident is resolved.
    Parked,
    /// Cancelled by an operator.
    Cancelled,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 7] = [
        JobState::Queued,
        JobState::Scheduled,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Parked,
        JobState::Cancelled,
    ];

    /// The stored label.
    pub fn label(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Scheduled => "scheduled",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Parked => "parked",
            JobState::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        JobState::ALL
            .into_iter()
            .find(|st| st.label() == s)
            .ok_or_else(|| format!("unknown job state '{s}': use one of queued, scheduled, running, succeeded, failed, parked, cancelled"))
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Its kind (policy and payload contract).
    pub kind: String,
    /// Its lane.
    pub lane: String,
    /// Its route (chosen by policy when the producer gave none).
    pub route: String,
    /// The prompt.
    pub prompt: String,
    /// Named payload fields.
    pub fields: BTreeMap<String, Value>,
    /// Higher runs first.
    pub priority: i64,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Time-ordered id (UUIDv7).
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Lane.
    pub lane: String,
    /// Route.
    pub route: String,
    /// The prompt (not printed by listings).
    #[serde(skip_serializing)]
    pub prompt: String,
    /// Payload fields.
    pub fields: BTreeMap<String, Value>,
    /// Priority.
    pub priority: i64,
    /// State.
    pub state: JobState,
    /// Attempts started.
    pub attempts: u32,
    /// When it may run (database clock).
    pub run_at: String,
    /// Created (database clock).
    pub created_at: String,
    /// Last change (database clock).
    pub updated_at: String,
    /// Finished, when terminal.
    pub finished_at: Option<String>,
    /// The worker holding its lease.
    pub lease_owner: Option<String>,
    /// When that lease expires.
    pub lease_expires_at: Option<String>,
    /// The next attempt's timeout, when a retry changed it.
    pub timeout_ms: Option<u64>,
    /// The next attempt runs with expanded diagnostics.
    pub diagnostics: bool,
    /// The latest classification.
    pub classifier: Option<String>,
    /// What happens next, in one word (run, retry, park, fail, done).
    pub next_action: Option<String>,
    /// Why, in words.
    pub reason: Option<String>,
    /// The incident it is attached to.
    pub incident_id: Option<String>,
    /// The latest attempt's dispatch.
    pub last_dispatch_id: Option<String>,
}

/// How an attempt settles the job.
#[derive(Debug, Clone, PartialEq)]
pub enum Settle {
    /// Succeeded.
    Done,
    /// Run again after `delay`.
    Retry {
        /// Delay before the next attempt.
        delay: Duration,
        /// The next attempt's timeout.
        timeout: Option<Duration>,
        /// Expanded diagnostics next time.
        diagnostics: bool,
    },
    /// Parked.
    Park,
    /// Failed for good.
    Fail,
    /// Given back to the lane unchanged (a stopping worker).
    Release,
}

/// What a settlement writes to the job row: the same on every backend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SettleRow {
    /// The new state.
    pub state: JobState,
    /// `next_action`.
    pub action: &'static str,
    /// Delay before `run_at`, for a retry.
    pub delay: Option<Duration>,
    /// The next attempt's timeout, when it changes.
    pub timeout_ms: Option<i64>,
    /// Expanded diagnostics next time.
    pub diagnostics: bool,
    /// The job is finished (`finished_at` is set).
    pub terminal: bool,
    /// Added to `attempts` (a release gives the attempt back).
    pub attempts_delta: i32,
}

impl Settle {
    /// The row values this settlement writes.
    pub fn row(&self) -> SettleRow {
        let base = |state, action, terminal| SettleRow {
            state,
            action,
            delay: None,
            timeout_ms: None,
            diagnostics: false,
            terminal,
            attempts_delta: 0,
        };
        match self {
            Settle::Done => base(JobState::Succeeded, "done", true),
            Settle::Retry {
                delay,
                timeout,
                diagnostics,
            } => SettleRow {
                delay: Some(*delay),
                timeout_ms: timeout.map(|t| t.as_millis() as i64),
                diagnostics: *diagnostics,
                ..base(JobState::Scheduled, "retry", false)
            },
            Settle::Park => base(JobState::Parked, "park", false),
            Settle::Fail => base(JobState::Failed, "fail", true),
            Settle::Release => SettleRow {
                attempts_delta: -1,
                ..base(JobState::Queued, "run", false)
            },
        }
    }
}

/// Where an incident's repair belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairAddress {
    /// The runtime: executable, environment, auth, network, provider.
    Runtime,
    /// The router and policy.
    Router,
    /// The producer of the payload.
    Producer,
}

impl RepairAddress {
    /// The stored label.
    pub fn label(self) -> &'static str {
        match self {
            RepairAddress::Runtime => "runtime",
            RepairAddress::Router => "router",
            RepairAddress::Producer => "producer",
        }
    }
}

/// Where a class's repair belongs. Pure.
pub fn repair_address(class: Class) -> RepairAddress {
    match class {
        Class::PayloadInvalid => RepairAddress::Producer,
        Class::RouteNotAllowed => RepairAddress::Router,
        _ => RepairAddress::Runtime,
    }
}

/// An incident's priority: an outage of a whole route or lane (the runtime
/// cannot run anything there) outranks a single job's problem. Pure.
pub fn incident_priority(class: Class) -> i64 {
    match class {
        Class::CliMissing
        | Class::CliNotExecutable
        | Class::InterpreterMissing
        | Class::AuthUnavailable
        | Class::ConfigInvalid => 100,
        Class::CwdMissing
        | Class::SandboxOrPolicyBlock
        | Class::QuotaExhausted
        | Class::NetworkUnavailable => 80,
        Class::RouteNotAllowed => 60,
        Class::RateLimited | Class::TransientIo | Class::Timeout | Class::WorkerLost => 40,
        Class::UnknownExit(_) | Class::KilledBySignal => 30,
        Class::PayloadInvalid => 10,
        Class::Ok => 0,
    }
}

/// What opens or attaches to an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentFacts {
    /// The failure fingerprint.
    pub fingerprint: String,
    /// The class.
    pub class: Class,
    /// The route.
    pub route: Option<String>,
    /// The lane.
    pub lane: Option<String>,
    /// The host.
    pub host: String,
    /// The repair hint.
    pub repair_hint: String,
    /// The evidence.
    pub evidence: Option<String>,
    /// When the limit resets, when the failure said (the report's `reset_at`).
    pub reset_at: Option<jiff::Timestamp>,
}

/// The settlement of one attempt, fenced by (job, attempt, owner).
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The job.
    pub job_id: String,
    /// The attempt that ran (the fencing token).
    pub attempt: u32,
    /// The worker that holds the lease.
    pub owner: String,
    /// The attempt's dispatch.
    pub dispatch_id: Option<String>,
    /// The class.
    pub class: Class,
    /// What happens to the job.
    pub settle: Settle,
    /// Why, in words.
    pub reason: String,
    /// The incident to open or attach to (failures).
    pub incident: Option<IncidentFacts>,
}

impl Completion {
    /// The `job_decided` (or `job_decision_rejected`) event this settlement records.
    pub fn decided(&self) -> crate::events::JobDecided {
        let row = self.settle.row();
        crate::events::JobDecided {
            job_id: self.job_id.clone(),
            attempt: self.attempt,
            owner: self.owner.clone(),
            dispatch_id: self.dispatch_id.clone(),
            classifier: self.class,
            action: row.action.to_string(),
            delay_secs: row.delay.map(|d| d.as_secs_f64()),
            reason: self.reason.clone(),
        }
    }
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Id.
    pub id: String,
    /// The failure fingerprint it collects.
    pub failure_fingerprint: String,
    /// The class.
    pub classifier: String,
    /// open | resolved.
    pub state: String,
    /// runtime | router | producer.
    pub repair_address: String,
    /// Higher first.
    pub priority: i64,
    /// The route, when known.
    pub route: Option<String>,
    /// The lane, when known.
    pub lane: Option<String>,
    /// The host it was seen on.
    pub host: String,
    /// What to do.
    pub repair_hint: String,
    /// The evidence of the first occurrence.
    pub evidence: Option<String>,
    /// Distinct jobs affected.
    pub affected_jobs: u64,
    /// Occurrences (attempts and preflight checks).
    pub occurrences: u64,
    /// First seen (database clock).
    pub first_seen: String,
    /// Last seen (database clock).
    pub last_seen: String,
    /// Resolved at.
    pub resolved_at: Option<String>,
    /// How it was resolved.
    pub resolution: Option<String>,
    /// The latest reset its failures named (usage and rate limits; UTC).
    #[serde(default)]
    pub reset_at: Option<jiff::Timestamp>,
}

/// A reset time as the stores keep it: UTC with milliseconds, the shape of
/// every stored time, so that text order is time order.
pub fn stored_time(t: jiff::Timestamp) -> String {
    format!("{t:.3}")
}

/// Filter for `agentlane jobs`.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only this lane.
    pub lane: Option<String>,
    /// Only this state.
    pub state: Option<JobState>,
    /// At most this many (0 = all).
    pub limit: usize,
}

/// Work left in a lane, for `worker --drain`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LanePending {
    /// Queued or scheduled jobs on the given routes (due now or later).
    pub waiting: u64,
    /// Running jobs (any worker).
    pub running: u64,
}

/// Counts for `agentlane status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// (lane, state, count).
    pub lanes: Vec<(String, String, u64)>,
    /// (class, count) over every job's latest classification.
    pub classes: Vec<(String, u64)>,
    /// Open incidents.
    pub open_incidents: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_outrank_single_job_problems() {
        assert!(incident_priority(Class::CliMissing) > incident_priority(Class::RateLimited));
        assert!(
            incident_priority(Class::AuthUnavailable) > incident_priority(Class::PayloadInvalid)
        );
        assert_eq!(
            repair_address(Class::PayloadInvalid),
            RepairAddress::Producer
        );
        assert_eq!(
            repair_address(Class::RouteNotAllowed),
            RepairAddress::Router
        );
        assert_eq!(
            repair_address(Class::InterpreterMissing),
            RepairAddress::Runtime
        );
    }

    #[test]
    fn states_round_trip() {
        for s in JobState::ALL {
            assert_eq!(s.label().parse::<JobState>().unwrap(), s);
        }
    }
}
