//! Jobs: what is queued, its state, and the filters and counts read over them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// What happens next (run, retry, park, fail, done).
    pub next_action: Option<super::next::Step>,
    /// Why, in words.
    pub reason: Option<String>,
    /// The incident it is attached to.
    pub incident_id: Option<String>,
    /// The latest attempt's dispatch.
    pub last_dispatch_id: Option<String>,
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
    fn states_round_trip() {
        for s in JobState::ALL {
            assert_eq!(s.label().parse::<JobState>().unwrap(), s);
        }
    }
}
