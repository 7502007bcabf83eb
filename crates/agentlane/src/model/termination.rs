//! How a dispatch's process ended, as one value: it never started, it ended
//! on its own, agentlane's timeout stopped it, or agentlane was interrupted
//! and stopped it — each with the status the process left (an exit code, a
//! signal, or none when the status was lost).
//!
//! The report's JSON keeps its four flat fields (`exit_code`, `signal`,
//! `timed_out`, `interrupted_by`); [`Flat`] is that shape. A process whose
//! status was lost and one that never started both read back as
//! [`Termination::NotStarted`] from those fields: the status is lost only
//! when another reaper took the child, which the dispatcher prevents.

use serde::{Deserialize, Serialize};

/// The status a process left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
    /// No status was seen (reaped elsewhere; never expected).
    Lost,
}

impl Status {
    /// From what `wait` reported.
    pub fn of(code: Option<i32>, signal: Option<i32>) -> Status {
        match (code, signal) {
            (Some(c), _) => Status::Code(c),
            (None, Some(s)) => Status::Signal(s),
            (None, None) => Status::Lost,
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Flat", into = "Flat")]
pub enum Termination {
    /// Refused before launch: no process ran.
    NotStarted,
    /// The process ended on its own.
    Ended(Status),
    /// agentlane's timeout stopped it.
    TimedOut(Status),
    /// agentlane's watchdog stopped it because its outcome was already
    /// known: a terminal error line, or a final result after which it did
    /// not exit (the report's `watchdog` says which).
    Stopped(Status),
    /// agentlane received signal `by` and stopped it.
    Interrupted {
        /// The signal agentlane received (and forwarded).
        by: i32,
        /// What the process left.
        status: Status,
    },
}

impl Termination {
    /// The status the process left, if it ran.
    pub fn status(self) -> Option<Status> {
        match self {
            Termination::NotStarted => None,
            Termination::Ended(s) | Termination::TimedOut(s) | Termination::Stopped(s) => Some(s),
            Termination::Interrupted { status, .. } => Some(status),
        }
    }

    /// Its exit code, when it exited.
    pub fn exit_code(self) -> Option<i32> {
        match self.status() {
            Some(Status::Code(c)) => Some(c),
            _ => None,
        }
    }

    /// The signal that ended it.
    pub fn signal(self) -> Option<i32> {
        match self.status() {
            Some(Status::Signal(s)) => Some(s),
            _ => None,
        }
    }

    /// Whether agentlane's timeout stopped it.
    pub fn timed_out(self) -> bool {
        matches!(self, Termination::TimedOut(_))
    }

    /// Whether the watchdog stopped it early (its outcome was known).
    pub fn stopped_early(self) -> bool {
        matches!(self, Termination::Stopped(_))
    }

    /// The signal agentlane received, when it was interrupted.
    pub fn interrupted_by(self) -> Option<i32> {
        match self {
            Termination::Interrupted { by, .. } => Some(by),
            _ => None,
        }
    }
}

/// The report's four flat fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flat {
    /// The child's exit code (null if it never launched or died by a signal).
    pub exit_code: Option<i32>,
    /// The signal that ended it.
    pub signal: Option<i32>,
    /// Whether the supervisor's timeout ended it.
    pub timed_out: bool,
    /// The signal agentlane itself received and forwarded, if interrupted.
    pub interrupted_by: Option<i32>,
    /// Whether the watchdog stopped it early (written only when true, so
    /// reports of runs it did not stop keep their shape).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped_early: bool,
}

impl From<Termination> for Flat {
    fn from(t: Termination) -> Flat {
        Flat {
            exit_code: t.exit_code(),
            signal: t.signal(),
            timed_out: t.timed_out(),
            interrupted_by: t.interrupted_by(),
            stopped_early: t.stopped_early(),
        }
    }
}

impl From<Flat> for Termination {
    fn from(f: Flat) -> Termination {
        let status = Status::of(f.exit_code, f.signal);
        match (f.interrupted_by, f.timed_out, status) {
            (Some(by), _, status) => Termination::Interrupted { by, status },
            (None, false, status) if f.stopped_early => Termination::Stopped(status),
            (None, true, status) => Termination::TimedOut(status),
            (None, false, Status::Lost) => Termination::NotStarted,
            (None, false, status) => Termination::Ended(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test_case(Termination::NotStarted; "never started")]
    #[test_case(Termination::Ended(Status::Code(0)); "exit zero")]
    #[test_case(Termination::Ended(Status::Code(3)); "exit three")]
    #[test_case(Termination::Ended(Status::Signal(9)); "killed")]
    #[test_case(Termination::TimedOut(Status::Signal(15)); "timed out by sigterm")]
    #[test_case(Termination::TimedOut(Status::Code(143)); "timed out and exited")]
    #[test_case(Termination::TimedOut(Status::Lost); "timed out, status lost")]
    #[test_case(Termination::Stopped(Status::Signal(15)); "stopped early")]
    #[test_case(Termination::Stopped(Status::Code(0)); "stopped early, exited zero")]
    #[test_case(Termination::Interrupted { by: 2, status: Status::Code(130) }; "interrupted")]
    #[test_case(Termination::Interrupted { by: 15, status: Status::Signal(15) }; "terminated")]
    fn round_trips_through_the_flat_fields(t: Termination) {
        assert_eq!(Termination::from(Flat::from(t)), t);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Termination>(&json).unwrap(), t);
    }

    #[test]
    fn the_flat_json_is_the_reports_four_fields() {
        let t = Termination::TimedOut(Status::Signal(9));
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"exit_code":null,"signal":9,"timed_out":true,"interrupted_by":null}"#
        );
    }
}
