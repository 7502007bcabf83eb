//! The operator's hands on the queue: cancel, retry, bulk retry, pausing a
//! lane, resolving an incident with its failed jobs re-queued. Each control
//! is a conditional write (it applies only to jobs in the states it names,
//! so it can never overwrite a worker's settlement) and records an
//! `operator_action` event with who asked and why, in the same transaction.

use serde::{Deserialize, Serialize};

use super::job::JobState;

/// Who acts, and why: recorded with every control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The operator (`user@host`).
    pub by: String,
    /// Why, in their words.
    pub why: String,
}

impl Actor {
    /// The reason a control writes on a row: `"{verb} by {by}: {why}"`.
    pub fn reason(&self, verb: &str) -> String {
        if self.why.is_empty() {
            format!("{verb} by {}", self.by)
        } else {
            format!("{verb} by {}: {}", self.by, self.why)
        }
    }
}

/// What an operator did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlAction {
    /// A waiting job was cancelled.
    Cancel,
    /// A running job's cancel was asked of its worker.
    CancelRequested,
    /// A finished or parked job was put back in its lane.
    Retry,
    /// A lane stopped claiming.
    Pause,
    /// A lane claims again.
    Resume,
    /// An incident was resolved by hand.
    Resolve,
}

impl ControlAction {
    /// The label, as stored and printed.
    pub fn label(self) -> &'static str {
        match self {
            ControlAction::Cancel => "cancel",
            ControlAction::CancelRequested => "cancel_requested",
            ControlAction::Retry => "retry",
            ControlAction::Pause => "pause",
            ControlAction::Resume => "resume",
            ControlAction::Resolve => "resolve",
        }
    }
}

/// `operator_action`: one control, on one job (or a lane, or an incident).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatorAction {
    /// What was done.
    pub action: ControlAction,
    /// The job it was done to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The lane (a pause, a resume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    /// The incident (a resolve, and the jobs it re-queued).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    /// The job's state before (cancel, retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<JobState>,
    /// Who.
    pub by: String,
    /// Why.
    pub why: String,
}

impl OperatorAction {
    /// The event of `action` by `who`, on nothing yet (set the job, lane or incident).
    pub fn new(action: ControlAction, who: &Actor) -> Self {
        OperatorAction {
            action,
            job_id: None,
            lane: None,
            incident_id: None,
            from: None,
            by: who.by.clone(),
            why: who.why.clone(),
        }
    }
}

/// What `job cancel` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Cancelled {
    /// It was waiting (queued, scheduled or parked): it is cancelled now.
    Cancelled {
        /// Its state before.
        from: JobState,
    },
    /// It is running: its worker stops its process tree at its next
    /// heartbeat and settles it `cancelled`.
    Requested {
        /// The worker that runs it.
        owner: String,
    },
    /// It had already finished: nothing to cancel.
    Finished {
        /// Its state.
        state: JobState,
    },
}

/// What `job retry` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Retried {
    /// It is queued again, its attempts kept.
    Requeued {
        /// Its state before.
        from: JobState,
    },
    /// It is not in a state a retry applies to (waiting, running, succeeded).
    NotRetryable {
        /// Its state.
        state: JobState,
    },
}

/// The states `job retry` applies to: a job that ended without success, or
/// is parked.
pub const RETRYABLE: [JobState; 3] = [JobState::Failed, JobState::Cancelled, JobState::Parked];

/// The states `job cancel` ends at once: work that is not running.
pub const CANCELLABLE: [JobState; 3] = [JobState::Queued, JobState::Scheduled, JobState::Parked];

/// Which jobs `jobs retry` re-queues.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetryFilter {
    /// Only this lane.
    pub lane: Option<String>,
    /// Only jobs whose latest class is this label.
    pub class: Option<String>,
    /// Only jobs that ended (or were last updated, for parked ones) at or
    /// after this RFC 3339 time.
    pub since: Option<String>,
    /// Only these states (each in [`RETRYABLE`]); empty: failed.
    pub states: Vec<JobState>,
}

impl RetryFilter {
    /// Whether the filter is one an operator may run: it names jobs (a lane,
    /// a class or a time; never "every failed job ever"), only retryable
    /// states, and a class label that exists. The error says what to send.
    pub fn check(&self) -> Result<(), String> {
        if self.lane.is_none() && self.class.is_none() && self.since.is_none() {
            return Err("say which jobs to retry: a lane, a class and/or a since (e.g. class rate_limited in lane main since 2h)".into());
        }
        if let Some(bad) = self.states.iter().find(|s| !RETRYABLE.contains(s)) {
            return Err(format!(
                "state {}: only failed, cancelled or parked jobs can be retried",
                bad.label()
            ));
        }
        if let Some(class) = &self.class {
            class
                .parse::<crate::class::Class>()
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// A `since` an operator writes: an RFC 3339 time, or an age before now
    /// (`30m`, `2h`, `1d`), as the RFC 3339 time the filter keeps.
    pub fn parse_since(s: &str) -> Result<String, String> {
        if let Ok(t) = s.parse::<jiff::Timestamp>() {
            return Ok(t.to_string());
        }
        let age = humantime::parse_duration(s).map_err(|e| {
            format!("'{s}' is neither an RFC 3339 time (2026-12-05T10:00:00Z) nor an age (30m, 2h, 1d): {e}")
        })?;
        let span = jiff::SignedDuration::try_from(age).map_err(|e| e.to_string())?;
        jiff::Timestamp::now()
            .checked_sub(span)
            .map(|t| t.to_string())
            .map_err(|e| format!("since {s}: {e}"))
    }

    /// The states the filter selects: its own, or failed.
    pub fn states(&self) -> Vec<JobState> {
        if self.states.is_empty() {
            vec![JobState::Failed]
        } else {
            self.states.clone()
        }
    }
}

/// A paused lane: its workers claim nothing until it is resumed; running
/// jobs finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanePause {
    /// The lane.
    pub lane: String,
    /// Who paused it.
    pub by: String,
    /// Why.
    pub why: String,
    /// When (RFC 3339).
    pub at: String,
}

/// What resolving an incident did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Resolved {
    /// Parked jobs released back to their lane.
    pub released: u64,
    /// Failed jobs re-queued (`--retry-failed`).
    pub retried: u64,
}

/// A job whose lease this worker renewed, and whether an operator asked
/// for its cancel (the reason, in words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewed {
    /// The job.
    pub id: String,
    /// `Some(reason)` when its cancel was asked: its worker stops it.
    pub cancel: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operator_action_names_only_what_it_touched() {
        let who = Actor {
            by: "ana@box".into(),
            why: "bad prompt".into(),
        };
        let mut a = OperatorAction::new(ControlAction::Cancel, &who);
        a.job_id = Some("j1".into());
        a.from = Some(JobState::Queued);
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"action": "cancel", "job_id": "j1", "from": "queued", "by": "ana@box", "why": "bad prompt"})
        );
        let back: OperatorAction = serde_json::from_value(v).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn a_bulk_retry_without_states_retries_failed_jobs() {
        assert_eq!(RetryFilter::default().states(), vec![JobState::Failed]);
        let f = RetryFilter {
            states: vec![JobState::Cancelled],
            ..Default::default()
        };
        assert_eq!(f.states(), vec![JobState::Cancelled]);
    }
}
