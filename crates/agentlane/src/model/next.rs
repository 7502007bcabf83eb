//! What happens next to a job: ONE vocabulary for the retry table's
//! decision, the store's settlement, the `job_decided` event, the job row's
//! `next_action` and the worker's summary.
//!
//! [`Next`] carries the data a settlement needs (a retry's delay, timeout and
//! diagnostics); [`Step`] is the same without data, as it is stored and
//! printed. The operator's configuration names a class's *policy*
//! ([`crate::retry::Action`]: retry, park or fail); the table turns a policy
//! and an attempt's facts into a [`Decision`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::job::JobState;

/// What happens to a job after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// It succeeded: finished.
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
    /// Kept out of its lane until preflight changes or its incident is resolved.
    Park,
    /// Failed for good.
    Fail,
    /// Given back to the lane unchanged (a stopping worker).
    Release,
    /// Stopped by an operator's `job cancel` while it ran: finished.
    Cancel,
}

/// [`Next`] without its data: the label events, rows and summaries carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Waiting to run (a new, released or freed job's `next_action`).
    Run,
    /// Finished with success.
    Done,
    /// A retry is scheduled.
    Retry,
    /// Parked.
    Park,
    /// Failed for good.
    Fail,
    /// Given back by a stopping worker.
    Release,
    /// Cancelled by an operator.
    Cancel,
}

impl Step {
    /// Every step.
    pub const ALL: [Step; 7] = [
        Step::Run,
        Step::Done,
        Step::Retry,
        Step::Park,
        Step::Fail,
        Step::Release,
        Step::Cancel,
    ];

    /// The label, as stored and printed.
    pub fn label(self) -> &'static str {
        match self {
            Step::Run => "run",
            Step::Done => "done",
            Step::Retry => "retry",
            Step::Park => "park",
            Step::Fail => "fail",
            Step::Release => "release",
            Step::Cancel => "cancel",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl std::str::FromStr for Step {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Step::ALL
            .into_iter()
            .find(|step| step.label() == s)
            .ok_or_else(|| format!("unknown next action '{s}' (expected one of run, done, retry, park, fail, release, cancel)"))
    }
}

/// What the retry table decided, with its reason in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What happens next.
    pub next: Next,
    /// Why.
    pub reason: String,
}

/// What a settlement writes to the job row: the same on every backend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SettleRow {
    /// The new state.
    pub state: JobState,
    /// `next_action`.
    pub action: Step,
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

impl Next {
    /// The step this is.
    pub fn step(&self) -> Step {
        match self {
            Next::Done => Step::Done,
            Next::Retry { .. } => Step::Retry,
            Next::Park => Step::Park,
            Next::Fail => Step::Fail,
            Next::Release => Step::Release,
            Next::Cancel => Step::Cancel,
        }
    }

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
            Next::Done => base(JobState::Succeeded, Step::Done, true),
            Next::Retry {
                delay,
                timeout,
                diagnostics,
            } => SettleRow {
                delay: Some(*delay),
                timeout_ms: timeout.map(|t| t.as_millis() as i64),
                diagnostics: *diagnostics,
                ..base(JobState::Scheduled, Step::Retry, false)
            },
            Next::Park => base(JobState::Parked, Step::Park, false),
            Next::Fail => base(JobState::Failed, Step::Fail, true),
            Next::Cancel => base(JobState::Cancelled, Step::Cancel, true),
            // A released job waits to run again, its attempt given back.
            Next::Release => SettleRow {
                attempts_delta: -1,
                ..base(JobState::Queued, Step::Run, false)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip_through_their_labels_and_json() {
        for step in Step::ALL {
            assert_eq!(step.label().parse::<Step>(), Ok(step));
            assert_eq!(
                serde_json::to_string(&step).unwrap(),
                format!("\"{}\"", step.label())
            );
        }
        assert!("later".parse::<Step>().is_err());
    }

    #[test]
    fn each_next_writes_its_row() {
        let retry = Next::Retry {
            delay: Duration::from_millis(1500),
            timeout: Some(Duration::from_secs(90)),
            diagnostics: true,
        };
        let row = retry.row();
        assert_eq!(
            (row.state, row.action, row.terminal),
            (JobState::Scheduled, Step::Retry, false)
        );
        assert_eq!(
            (row.delay, row.timeout_ms, row.diagnostics),
            (Some(Duration::from_millis(1500)), Some(90_000), true)
        );
        assert_eq!(Next::Done.row().state, JobState::Succeeded);
        assert!(Next::Done.row().terminal && Next::Fail.row().terminal);
        assert_eq!(Next::Park.row().state, JobState::Parked);
        let cancel = Next::Cancel.row();
        assert_eq!(
            (cancel.state, cancel.action, cancel.terminal),
            (JobState::Cancelled, Step::Cancel, true)
        );
        let release = Next::Release.row();
        assert_eq!(
            (release.state, release.action, release.attempts_delta),
            (JobState::Queued, Step::Run, -1)
        );
        // The event names what happened; the row, what the job waits for.
        assert_eq!(Next::Release.step(), Step::Release);
    }
}
