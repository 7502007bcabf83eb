//! How an attempt settles its job: the decision as the store applies it.

use std::time::Duration;

use crate::class::Class;

use super::incident::IncidentFacts;
use super::job::JobState;

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
