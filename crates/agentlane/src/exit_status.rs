//! The exit statuses `agentlane exec` returns, so scripts can branch on them.
//!
//! The child's own code passes through when it ran and exited; everything
//! agentlane decides itself uses a distinct, documented code (sysexits-style
//! where one fits, the shell conventions 124/126/127 where scripts expect
//! them).

use crate::class::Class;

/// Usage error: agentlane's own command line or an input file named on it.
pub const USAGE: i32 = 64;
/// The payload broke its contract (`payload_invalid`); nothing was spawned.
pub const PAYLOAD_INVALID: i32 = 65;
/// The working directory is missing (`cwd_missing`); nothing was spawned.
pub const CWD_MISSING: i32 = 66;
/// `doctor`: at least one checked route failed preflight.
pub const UNAVAILABLE: i32 = 69;
/// An internal error in agentlane (a bug: please report it).
pub const SOFTWARE: i32 = 70;
/// The operating system refused a resource agentlane needed (fork, pipe).
pub const OS_ERROR: i32 = 71;
/// The home directory or an artifact could not be created.
pub const CANT_CREATE: i32 = 73;
/// The store (database) failed.
pub const IO_ERROR: i32 = 74;
/// The dispatch ran and its report was printed, but the store could not
/// record its outcome (sysexits' EX_TEMPFAIL: try again once the store can
/// be written).
pub const UNRECORDED: i32 = 75;
/// Policy refused the route (`route_not_allowed`).
pub const NOT_ALLOWED: i32 = 77;
/// A configuration or rules file is invalid (`config_invalid` before launch).
pub const CONFIG: i32 = 78;
/// The supervisor's timeout ended the run (as coreutils `timeout`).
pub const TIMED_OUT: i32 = 124;
/// The program cannot be executed (not executable, interpreter missing).
pub const CANNOT_EXECUTE: i32 = 126;
/// The program was not found.
pub const NOT_FOUND: i32 = 127;

/// A hand control (`job cancel`, `job retry`) changed nothing: the job's
/// state does not allow it (cancelling a finished job, retrying a running one).
pub const CONTROL_REFUSED: i32 = 102;

/// The watchdog stopped the agent early because its failure was already
/// known (a line matched a `terminal` rule, or the CLI printed a failed
/// final result and did not exit).
pub const STOPPED_EARLY: i32 = 103;

/// The agent exited 0 but its run is a failure: it did no work
/// (`empty_success`), or its CLI's own result said it failed.
pub const FAILED_EXIT_ZERO: i32 = 104;

/// `worker --drain`: every job it settled ended, but some failed for good.
pub const WORKER_SOME_FAILED: i32 = 100;
/// `worker --drain`: some jobs were parked or are left blocked behind an
/// open incident, or a route failed preflight: a route needs repair.
pub const WORKER_NEEDS_REPAIR: i32 = 101;

/// The documented statuses of `worker --drain`.
pub const WORKER_TABLE: &[(&str, &str)] = &[
    ("0", "every job the worker settled succeeded (or there was nothing to do)"),
    ("100", "some jobs failed for good or were cancelled (none was parked or left blocked)"),
    (
        "101",
        "some jobs were parked or are left blocked behind an incident, or a route failed preflight: see `agentlane incidents --open`",
    ),
    ("74", "the store failed, or the worker lost its leases"),
    ("78", "the configuration cannot run the lane (unknown lane, a worker kind's unknown user)"),
];

/// The exit status of a worker that drained its lane: what it settled,
/// and what it left behind. Needing repair wins over failures, since it
/// names a route, not a job.
pub fn for_drain(failed: u64, parked: u64, blocked_routes: usize, unhealthy_routes: usize) -> i32 {
    if parked > 0 || blocked_routes > 0 || unhealthy_routes > 0 {
        WORKER_NEEDS_REPAIR
    } else if failed > 0 {
        WORKER_SOME_FAILED
    } else {
        0
    }
}

/// The documented table, for `--help` and the README.
pub const TABLE: &[(&str, &str)] = &[
    ("N", "the child's own exit code when it ran and exited"),
    ("128+N", "the child died by signal N"),
    (
        "64",
        "usage: bad option, bad duration, unreadable --prompt-file/--env-file",
    ),
    ("65", "payload_invalid: refused before launch"),
    ("66", "cwd_missing: refused before launch"),
    ("69", "doctor: a checked route failed preflight"),
    ("70", "internal error in agentlane"),
    ("71", "the OS refused a resource (fork, pipe)"),
    ("73", "cannot create the home directory or artifacts"),
    ("74", "the store (database) failed"),
    (
        "75",
        "the dispatch ran, but the store could not record its outcome (the report is still printed)",
    ),
    ("77", "route_not_allowed"),
    (
        "78",
        "config_invalid before launch (agentlane's config or rules file)",
    ),
    (
        "103",
        "stopped early: the failure was already known (a terminal line, or a failed final result and no exit)",
    ),
    (
        "104",
        "the agent exited 0 but failed: empty_success, or its CLI's result said it failed",
    ),
    ("124", "timed out"),
    ("126", "cli_not_executable or interpreter_missing"),
    ("127", "cli_missing"),
];

/// The exit status for a finished dispatch.
///
/// `timed_out` wins over the exit facts; a pre-launch class maps to its own
/// code; otherwise the child's status passes through.
pub fn for_dispatch(
    class: Class,
    exit_code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
) -> i32 {
    if timed_out {
        return TIMED_OUT;
    }
    for_class(class, exit_code, signal)
}

/// The exit status for a dispatch the watchdog stopped: 0 when its work was
/// done (a successful final result), [`STOPPED_EARLY`] otherwise.
pub fn for_stopped(class: Class) -> i32 {
    if class.is_failure() {
        STOPPED_EARLY
    } else {
        0
    }
}

fn for_class(class: Class, exit_code: Option<i32>, signal: Option<i32>) -> i32 {
    match class {
        Class::CliMissing if exit_code.is_none() => return NOT_FOUND,
        Class::CliNotExecutable | Class::InterpreterMissing if exit_code.is_none() => {
            return CANNOT_EXECUTE
        }
        Class::CwdMissing if exit_code.is_none() => return CWD_MISSING,
        Class::PayloadInvalid if exit_code.is_none() => return PAYLOAD_INVALID,
        Class::RouteNotAllowed if exit_code.is_none() => return NOT_ALLOWED,
        Class::ConfigInvalid if exit_code.is_none() => return CONFIG,
        _ => {}
    }
    match (exit_code, signal) {
        (Some(0), _) if class.is_failure() => FAILED_EXIT_ZERO,
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => SOFTWARE,
    }
}

#[cfg(test)]
mod tests {
    #[test_case(0, 0, 0, 0 => 0; "all succeeded")]
    #[test_case(3, 0, 0, 0 => WORKER_SOME_FAILED; "some failed")]
    #[test_case(3, 1, 0, 0 => WORKER_NEEDS_REPAIR; "a park wins over failures")]
    #[test_case(0, 0, 1, 0 => WORKER_NEEDS_REPAIR; "jobs left blocked")]
    #[test_case(0, 0, 0, 1 => WORKER_NEEDS_REPAIR; "a route failed preflight")]
    fn a_drain_exits_by_what_it_left(
        failed: u64,
        parked: u64,
        blocked: usize,
        unhealthy: usize,
    ) -> i32 {
        for_drain(failed, parked, blocked, unhealthy)
    }

    use super::*;
    use test_case::test_case;

    #[test_case(Class::Ok, Some(0), None, false => 0; "success passes zero through")]
    #[test_case(Class::UnknownExit(3), Some(3), None, false => 3; "child code passes through")]
    #[test_case(Class::AuthUnavailable, Some(41), None, false => 41; "classified child keeps its code")]
    #[test_case(Class::KilledBySignal, None, Some(9), false => 137; "signal is 128 plus n")]
    #[test_case(Class::Timeout, None, Some(15), true => 124; "timeout wins over the signal")]
    #[test_case(Class::NetworkUnavailable, None, Some(15), true => 124; "a named timeout still exits 124")]
    #[test_case(Class::CliMissing, None, None, false => 127; "not found")]
    #[test_case(Class::CliNotExecutable, None, None, false => 126; "not executable")]
    #[test_case(Class::InterpreterMissing, None, None, false => 126; "interpreter missing")]
    #[test_case(Class::CwdMissing, None, None, false => 66; "cwd missing")]
    #[test_case(Class::PayloadInvalid, None, None, false => 65; "payload invalid")]
    #[test_case(Class::CliMissing, Some(127), None, false => 127; "wrapper inner command not found keeps child code")]
    fn exit_status_for(class: Class, code: Option<i32>, sig: Option<i32>, timed_out: bool) -> i32 {
        for_dispatch(class, code, sig, timed_out)
    }
}
