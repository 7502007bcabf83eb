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
    /// The producer's idempotency key: a second job with the same key is not
    /// stored, its enqueue returns the first one's id ([`Enqueued::existed`]).
    pub key: Option<String>,
    /// A short label for people (`jobs` lists it), when the producer gave one.
    pub label: Option<String>,
}

/// One job of an enqueue: its id, and whether a job with its key was
/// already stored (then `id` is that job's, and nothing was added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    /// The job's id (the existing job's, for a duplicate key).
    pub id: String,
    /// True when the key was already taken: no job was added.
    pub existed: bool,
}

/// The longest idempotency key, in characters.
pub const MAX_KEY_CHARS: usize = 200;

/// The longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 120;

/// A label is 1 to [`MAX_LABEL_CHARS`] printable characters (spaces allowed). Pure.
pub fn check_label(label: &str) -> Result<(), String> {
    let chars = label.chars().count();
    if label.trim().is_empty() {
        return Err("the label is empty: give 1 to 120 printable characters (e.g. 'review PR 1234'), or none".into());
    }
    if chars > MAX_LABEL_CHARS {
        return Err(format!(
            "the label is {chars} characters long, over the limit of {MAX_LABEL_CHARS}: a label names the job for people; put the details in the prompt or a field"
        ));
    }
    if let Some(c) = label.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the label holds a non-printable character ({c:?}): use printable characters only"
        ));
    }
    Ok(())
}

/// Checks an idempotency key: 1 to [`MAX_KEY_CHARS`] characters, none of
/// them a control character or whitespace other than a plain space, and not
/// blank. The error says what is wrong.
pub fn check_key(key: &str) -> Result<(), String> {
    let chars = key.chars().count();
    if key.trim().is_empty() {
        return Err("the key is empty: give 1 to 200 printable characters (e.g. a ticket id or a content hash)".into());
    }
    if chars > MAX_KEY_CHARS {
        return Err(format!(
            "the key is {chars} characters long, over the limit of {MAX_KEY_CHARS}: use a shorter id, or a hash of the content"
        ));
    }
    if let Some((at, c)) = key
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() || (c.is_whitespace() && *c != ' '))
    {
        return Err(format!(
            "the key holds a non-printable character ({:?}) at character {}: use printable characters only",
            c,
            at + 1
        ));
    }
    Ok(())
}

/// A running job's lease: who holds it and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The worker holding the lease (`host:pid`).
    pub owner: String,
    /// When the lease expires unless renewed (database clock).
    pub expires_at: String,
}

/// Where a job is in its life, with the data that only that place has: a
/// running job always has a lease, a finished one always a finish time, and
/// nothing else has either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting to be claimed.
    Queued,
    /// Waiting for its retry time (`run_at`).
    Scheduled,
    /// Claimed by a worker under a lease.
    Running(Lease),
    /// Done.
    Succeeded {
        /// When it finished (database clock).
        finished_at: String,
    },
    /// Failed for good.
    Failed {
        /// When it finished (database clock).
        finished_at: String,
    },
    /// Kept out of its lane until preflight changes or its incident is resolved.
    Parked,
    /// Cancelled by an operator.
    Cancelled {
        /// When it was cancelled (database clock), when the store recorded it.
        finished_at: Option<String>,
    },
}

/// A stored row's lifecycle columns could not make a [`JobStatus`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job state '{state}' needs {column} set")]
pub struct StatusMismatch {
    /// The state label.
    pub state: &'static str,
    /// The column that is missing.
    pub column: &'static str,
}

impl JobStatus {
    /// The state this status is in.
    pub fn state(&self) -> JobState {
        match self {
            JobStatus::Queued => JobState::Queued,
            JobStatus::Scheduled => JobState::Scheduled,
            JobStatus::Running(_) => JobState::Running,
            JobStatus::Succeeded { .. } => JobState::Succeeded,
            JobStatus::Failed { .. } => JobState::Failed,
            JobStatus::Parked => JobState::Parked,
            JobStatus::Cancelled { .. } => JobState::Cancelled,
        }
    }

    /// The status from the stored columns. A running job without a lease
    /// owner or expiry, or a succeeded or failed one without a finish time,
    /// is an error (a corrupt row); columns that the state does not use are
    /// ignored.
    pub fn from_columns(
        state: JobState,
        lease_owner: Option<String>,
        lease_expires_at: Option<String>,
        finished_at: Option<String>,
    ) -> Result<JobStatus, StatusMismatch> {
        let need = |v: Option<String>, column| {
            v.ok_or(StatusMismatch {
                state: state.label(),
                column,
            })
        };
        Ok(match state {
            JobState::Queued => JobStatus::Queued,
            JobState::Scheduled => JobStatus::Scheduled,
            JobState::Running => JobStatus::Running(Lease {
                owner: need(lease_owner, "lease_owner")?,
                expires_at: need(lease_expires_at, "lease_expires_at")?,
            }),
            JobState::Succeeded => JobStatus::Succeeded {
                finished_at: need(finished_at, "finished_at")?,
            },
            JobState::Failed => JobStatus::Failed {
                finished_at: need(finished_at, "finished_at")?,
            },
            JobState::Parked => JobStatus::Parked,
            JobState::Cancelled => JobStatus::Cancelled { finished_at },
        })
    }

    /// The lease, when running.
    pub fn lease(&self) -> Option<&Lease> {
        match self {
            JobStatus::Running(lease) => Some(lease),
            _ => None,
        }
    }

    /// The finish time, when finished.
    pub fn finished_at(&self) -> Option<&str> {
        match self {
            JobStatus::Succeeded { finished_at } | JobStatus::Failed { finished_at } => {
                Some(finished_at)
            }
            JobStatus::Cancelled { finished_at } => finished_at.as_deref(),
            _ => None,
        }
    }
}

/// A stored job. Its JSON is the flat shape every release has written
/// (`state`, `finished_at`, `lease_owner`, `lease_expires_at` as separate
/// fields, in that order among the others).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "JobWire", try_from = "JobWire")]
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
    pub prompt: String,
    /// Payload fields.
    pub fields: BTreeMap<String, Value>,
    /// Priority.
    pub priority: i64,
    /// Where it is in its life, with that place's data.
    pub status: JobStatus,
    /// Attempts started (while running: the attempt that holds the lease,
    /// the fencing token of its settlement).
    pub attempts: u32,
    /// When it may run (database clock).
    pub run_at: String,
    /// Created (database clock).
    pub created_at: String,
    /// Last change (database clock).
    pub updated_at: String,
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
    /// The producer's idempotency key, when it gave one.
    pub key: Option<String>,
    /// Its label for people, when the producer gave one.
    pub label: Option<String>,
}

impl Job {
    /// Its state.
    pub fn state(&self) -> JobState {
        self.status.state()
    }

    /// The worker holding its lease, when running.
    pub fn lease_owner(&self) -> Option<&str> {
        self.status.lease().map(|l| l.owner.as_str())
    }

    /// When its lease expires, when running.
    pub fn lease_expires_at(&self) -> Option<&str> {
        self.status.lease().map(|l| l.expires_at.as_str())
    }

    /// When it finished, when finished.
    pub fn finished_at(&self) -> Option<&str> {
        self.status.finished_at()
    }
}

/// The flat JSON shape of a [`Job`] (the prompt is never written).
#[derive(Serialize, Deserialize)]
struct JobWire {
    id: String,
    kind: String,
    lane: String,
    route: String,
    #[serde(skip_serializing, default)]
    prompt: String,
    fields: BTreeMap<String, Value>,
    priority: i64,
    state: JobState,
    attempts: u32,
    run_at: String,
    created_at: String,
    updated_at: String,
    finished_at: Option<String>,
    lease_owner: Option<String>,
    lease_expires_at: Option<String>,
    timeout_ms: Option<u64>,
    diagnostics: bool,
    classifier: Option<String>,
    next_action: Option<super::next::Step>,
    reason: Option<String>,
    incident_id: Option<String>,
    last_dispatch_id: Option<String>,
    // Last, and absent when there is none: a job without a key writes the
    // JSON every earlier release wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
}

impl From<Job> for JobWire {
    fn from(j: Job) -> JobWire {
        let state = j.state();
        let finished_at = j.finished_at().map(str::to_string);
        let (lease_owner, lease_expires_at) = match j.status {
            JobStatus::Running(Lease { owner, expires_at }) => (Some(owner), Some(expires_at)),
            _ => (None, None),
        };
        JobWire {
            id: j.id,
            kind: j.kind,
            lane: j.lane,
            route: j.route,
            prompt: j.prompt,
            fields: j.fields,
            priority: j.priority,
            state,
            attempts: j.attempts,
            run_at: j.run_at,
            created_at: j.created_at,
            updated_at: j.updated_at,
            finished_at,
            lease_owner,
            lease_expires_at,
            timeout_ms: j.timeout_ms,
            diagnostics: j.diagnostics,
            classifier: j.classifier,
            next_action: j.next_action,
            reason: j.reason,
            incident_id: j.incident_id,
            last_dispatch_id: j.last_dispatch_id,
            key: j.key,
            label: j.label,
        }
    }
}

impl TryFrom<JobWire> for Job {
    type Error = StatusMismatch;
    fn try_from(w: JobWire) -> Result<Job, StatusMismatch> {
        Ok(Job {
            status: JobStatus::from_columns(
                w.state,
                w.lease_owner,
                w.lease_expires_at,
                w.finished_at,
            )?,
            id: w.id,
            kind: w.kind,
            lane: w.lane,
            route: w.route,
            prompt: w.prompt,
            fields: w.fields,
            priority: w.priority,
            attempts: w.attempts,
            run_at: w.run_at,
            created_at: w.created_at,
            updated_at: w.updated_at,
            timeout_ms: w.timeout_ms,
            diagnostics: w.diagnostics,
            classifier: w.classifier,
            next_action: w.next_action,
            reason: w.reason,
            incident_id: w.incident_id,
            last_dispatch_id: w.last_dispatch_id,
            key: w.key,
            label: w.label,
        })
    }
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
    /// Only jobs changed at or after this stored time (`jobs --follow`).
    pub updated_since: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only jobs whose latest attempt was classified so.
    pub class: Option<String>,
    /// Only jobs older than this id (ids are time-ordered UUIDv7): the next
    /// page after a page that ended with it.
    pub before: Option<String>,
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
    fn a_key_is_one_to_two_hundred_printable_characters() {
        let cases: &[(&str, bool)] = &[
            ("ticket-42", true),
            ("a key with spaces", true),
            ("ключ/é", true),
            ("", false),
            ("   ", false),
            ("tab\there", false),
            ("line\nbreak", false),
            ("nul\0", false),
        ];
        for (key, ok) in cases {
            assert_eq!(check_key(key).is_ok(), *ok, "{key:?}: {:?}", check_key(key));
        }
        assert!(check_key(&"é".repeat(200)).is_ok());
        let e = check_key(&"k".repeat(201)).unwrap_err();
        assert!(e.contains("201") && e.contains("200"), "{e}");
    }

    #[test]
    fn states_round_trip() {
        for s in JobState::ALL {
            assert_eq!(s.label().parse::<JobState>().unwrap(), s);
        }
    }

    #[test]
    fn status_needs_the_columns_its_state_has() {
        let some = |s: &str| Some(s.to_string());
        let cases = [
            (
                JobState::Running,
                None,
                some("t"),
                None,
                Some("lease_owner"),
            ),
            (
                JobState::Running,
                some("w"),
                None,
                None,
                Some("lease_expires_at"),
            ),
            (JobState::Succeeded, None, None, None, Some("finished_at")),
            (JobState::Failed, None, None, None, Some("finished_at")),
            (JobState::Cancelled, None, None, None, None),
            (JobState::Queued, some("stale"), None, some("stale"), None),
        ];
        for (state, owner, expires, finished, missing) in cases {
            let got = JobStatus::from_columns(state, owner, expires, finished);
            match missing {
                Some(column) => assert_eq!(got.unwrap_err().column, column, "{state:?}"),
                None => assert_eq!(got.unwrap().state(), state),
            }
        }
        // Columns a state does not use are dropped, not carried.
        let queued =
            JobStatus::from_columns(JobState::Queued, some("w"), some("t"), some("f")).unwrap();
        assert_eq!((queued.lease(), queued.finished_at()), (None, None));
    }
}
