//! The runner events: the public record of a dispatch.
//!
//! `runner_prepare` is written before launch, `runner_exit` after the process
//! ended, `runner_classified_failure` when the class is not `ok`. Events are
//! data: serde structs tagged by `kind`, stored in the same transaction as the
//! state change they describe and printed as JSON where a user asks.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::class::Class;
use crate::envprint::EnvFingerprint;

/// One event.
#[allow(
    clippy::large_enum_variant,
    reason = "a dispatch builds a handful of events once; boxing the prepare would only move the bytes"
)]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// Before launch: what is about to run, where, with what.
    RunnerPrepare(Prepare),
    /// After the process ended: how it ended and what it printed.
    RunnerExit(Exit),
    /// The class, the rule that matched, the evidence and the hint.
    RunnerClassifiedFailure(ClassifiedFailure),
    /// A preflight of one route: the three booleans and their evidence.
    PreflightChecked(PreflightChecked),
    /// What the queue decided after an attempt, and why.
    JobDecided(JobDecided),
    /// A settlement the fence refused: the worker had lost its lease.
    JobDecisionRejected(JobDecided),
    /// A job was admitted with a prompt changed on the way in (secrets redacted).
    JobAdmitted(JobAdmitted),
    /// An operator's control: cancel, retry, pause, resume, resolve.
    OperatorAction(super::control::OperatorAction),
    /// An alert reached a webhook (after its retries).
    AlertDelivered(super::alert::AlertDelivery),
    /// An alert could not reach a webhook: its attempts ran out, or it was refused.
    AlertFailed(super::alert::AlertDelivery),
    /// A route's circuit breaker changed state (`crate::breaker`).
    RouteBreaker(RouteBreakerChanged),
}

/// `route_breaker`: a route's breaker moved from one state to another, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RouteBreakerChanged {
    /// The route.
    pub route: String,
    /// The state before (`closed`, `open`, `half_open`).
    pub from: super::breaker::BreakerState,
    /// The state after.
    pub to: super::breaker::BreakerState,
    /// Why, in words.
    pub reason: String,
    /// Open: when the next probe is due.
    pub next_probe_at: Option<jiff::Timestamp>,
    /// The worker that made the change.
    pub owner: String,
}

/// `job_admitted`: what admission changed in a job before it was stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobAdmitted {
    /// The job.
    pub job_id: String,
    /// True when secrets were removed from the prompt (`[queue] prompt_secrets = "redact"`).
    pub prompt_redacted: bool,
    /// What was done, in words.
    pub reason: String,
}

/// `job_decided` / `job_decision_rejected`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobDecided {
    /// The job.
    pub job_id: String,
    /// The attempt (the fencing token).
    pub attempt: u32,
    /// The worker that decided.
    pub owner: String,
    /// The attempt's dispatch.
    pub dispatch_id: Option<String>,
    /// The class.
    pub classifier: Class,
    /// What happens next, as the job row says it: done, retry, park, fail, or
    /// run (a released job waits to run again).
    pub action: crate::model::Step,
    /// Seconds until the retry.
    pub delay_secs: Option<f64>,
    /// Why, in words.
    pub reason: String,
}

impl Event {
    /// The event kind as stored (`runner_prepare`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RunnerPrepare(_) => "runner_prepare",
            Event::RunnerExit(_) => "runner_exit",
            Event::RunnerClassifiedFailure(_) => "runner_classified_failure",
            Event::PreflightChecked(_) => "preflight_checked",
            Event::JobDecided(_) => "job_decided",
            Event::JobDecisionRejected(_) => "job_decision_rejected",
            Event::JobAdmitted(_) => "job_admitted",
            Event::OperatorAction(_) => "operator_action",
            Event::AlertDelivered(_) => "alert_delivered",
            Event::AlertFailed(_) => "alert_failed",
            Event::RouteBreaker(_) => "route_breaker",
        }
    }

    /// The job an event belongs to when it is stored on its own ([`crate::store::DispatchLog::append_event`]).
    pub fn job_id(&self) -> Option<&str> {
        match self {
            Event::JobAdmitted(a) => Some(&a.job_id),
            Event::OperatorAction(a) => a.job_id.as_deref(),
            Event::AlertDelivered(a) | Event::AlertFailed(a) => a.job_id.as_deref(),
            _ => None,
        }
    }
}

/// `runner_prepare`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Prepare {
    /// Time-ordered dispatch id (UUIDv7).
    pub dispatch_id: String,
    /// The program as asked for.
    pub program: String,
    /// The resolved executable (null when it did not resolve).
    #[serde(serialize_with = "crate::lossy_path::write_opt")]
    pub cli_path: Option<PathBuf>,
    /// The shebang interpreter, when the program is a script.
    #[serde(serialize_with = "crate::lossy_path::write_opt")]
    pub interpreter: Option<PathBuf>,
    /// The argument vector, redacted (prompt arguments replaced by their size).
    pub argv: Vec<String>,
    /// The working directory.
    #[serde(serialize_with = "crate::lossy_path::write")]
    pub cwd: PathBuf,
    /// Whether it exists as a directory.
    pub cwd_exists: bool,
    /// The repository root (git), if any.
    #[serde(serialize_with = "crate::lossy_path::write_opt")]
    pub repo_root: Option<PathBuf>,
    /// Prompt size in bytes.
    pub prompt_bytes: u64,
    /// How the prompt reaches the child.
    pub prompt_via: String,
    /// The timeout in milliseconds, if any.
    pub timeout_ms: Option<u64>,
    /// The route, when the dispatch came from one.
    pub route: Option<String>,
    /// The selected model, when known.
    pub model: Option<String>,
    /// The job, when the dispatch runs a queued job.
    pub job_id: Option<String>,
    /// The attempt number of that job.
    pub attempt: Option<u32>,
    /// The child's environment fingerprint.
    pub env_fingerprint: EnvFingerprint,
    /// Every variable name of the child's environment (expanded diagnostics only; names, never values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_names: Option<Vec<String>>,
    /// The host that ran it, which holds its artifacts (`show` from another
    /// host names it). Absent in records of earlier releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A process left behind by the agent, as evidence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LeakedProcess {
    /// Its pid.
    pub pid: i32,
    /// Its command line (redacted).
    pub cmdline: String,
    /// Whether it held the agent's stdout/stderr open.
    pub held_pipes: bool,
}

/// `runner_exit`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Exit {
    /// The dispatch.
    pub dispatch_id: String,
    /// The exit code, when the process exited.
    pub exit_code: Option<i32>,
    /// The signal, when it died by one.
    pub signal: Option<i32>,
    /// Whether the supervisor's timeout ended it.
    pub timed_out: bool,
    /// Wall time from spawn to the end of capture, in ms.
    pub duration_ms: u64,
    /// Bytes the child wrote to stdout.
    pub stdout_bytes: u64,
    /// Bytes the child wrote to stderr.
    pub stderr_bytes: u64,
    /// The end of stdout (redacted, lossy UTF-8).
    pub stdout_tail: String,
    /// The end of stderr (redacted, lossy UTF-8).
    pub stderr_tail: String,
    /// The full, redacted stdout/stderr files.
    pub artifacts: Artifacts,
    /// Why artifacts are incomplete (a stream and its write error), if they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifact_errors: Vec<String>,
    /// Whether descendants outlived the agent (held its pipes or survived it).
    pub leaked: bool,
    /// Those descendants.
    pub leaked_processes: Vec<LeakedProcess>,
    /// The class (also `ok`).
    pub classifier: Class,
    /// Tokens, turns and cost the CLI reported, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<super::usage::Usage>,
    /// What the watchdog did, when it stopped the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watchdog: Option<crate::model::report::Watchdog>,
}

/// Paths of the full captured output. A stream that printed nothing has no
/// file (`None`): its byte count is 0 and its tail empty.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Artifacts {
    /// Full stdout (redacted).
    #[serde(serialize_with = "crate::lossy_path::write_opt")]
    pub stdout: Option<PathBuf>,
    /// Full stderr (redacted).
    #[serde(serialize_with = "crate::lossy_path::write_opt")]
    pub stderr: Option<PathBuf>,
}

/// `runner_classified_failure`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClassifiedFailure {
    /// The dispatch.
    pub dispatch_id: String,
    /// The class.
    pub classifier: Class,
    /// The classifier layer that decided it.
    #[serde(default)]
    pub layer: crate::class::Layer,
    /// The rule id or fact that decided it.
    pub rule: String,
    /// The line that decided it.
    pub evidence: Option<String>,
    /// The repair hint.
    pub repair_hint: String,
    /// The failure fingerprint.
    pub failure_fingerprint: Option<String>,
    /// Whether the run timed out (kept when the class names a cause).
    pub timed_out: bool,
    /// Seconds the CLI asked to wait, when it said.
    pub retry_after_secs: Option<u64>,
    /// When the usage or rate limit resets (UTC, RFC 3339), when the CLI said.
    #[serde(default)]
    pub reset_at: Option<jiff::Timestamp>,
}

/// One check inside a preflight.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Check {
    /// What was checked (`cli_resolves`, `version`, `auth_material`, ...).
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// `preflight_checked`: can this worker run this route, here, now?
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PreflightChecked {
    /// The route.
    pub route: String,
    /// The job kind `route_allowed` was judged for, if any. Stored as
    /// `job_kind`: `kind` is the event's own tag (events written before
    /// this name carry the key twice and do not read back as an `Event`).
    #[serde(rename = "job_kind", alias = "kind")]
    pub kind: Option<String>,
    /// The host the check ran on.
    pub host: String,
    /// The executable (and its interpreter) resolves and is executable.
    pub cli_resolves: bool,
    /// The CLI can run here: version, auth material, config files, directories.
    pub cli_ready: bool,
    /// Policy allows the route (for the kind, when given).
    pub route_allowed: bool,
    /// The class of the first failing check (null when all pass).
    pub classifier: Option<Class>,
    /// What to do about it.
    pub repair_hint: Option<String>,
    /// The evidence of the first failing check.
    pub evidence: Option<String>,
    /// The resolved executable.
    #[serde(serialize_with = "crate::lossy_path::write_opt")]
    pub cli_path: Option<PathBuf>,
    /// The environment fingerprint id of the route's environment.
    pub env_fingerprint: String,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Dispatches the probes ran as (version, auth status, canary).
    pub probe_dispatches: Vec<String>,
    /// Whether this result came from the cache.
    pub cached: bool,
}

impl PreflightChecked {
    /// All three booleans are true.
    pub fn passed(&self) -> bool {
        self.cli_resolves && self.cli_ready && self.route_allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The job kind must not collide with the event's `kind` tag: a stored
    /// `preflight_checked` reads back as the event it was written from.
    #[test]
    fn a_preflight_event_with_a_job_kind_reads_back_whole() {
        let checked = PreflightChecked {
            route: "codex-default".into(),
            kind: Some("fix".into()),
            host: "h".into(),
            cli_resolves: true,
            cli_ready: false,
            route_allowed: true,
            classifier: Some(Class::AuthUnavailable),
            repair_hint: Some("log in".into()),
            evidence: Some("Not logged in".into()),
            cli_path: None,
            env_fingerprint: "env-1".into(),
            checks: Vec::new(),
            probe_dispatches: Vec::new(),
            cached: false,
        };
        let event = Event::PreflightChecked(checked);
        let body = serde_json::to_string(&event).unwrap();
        assert_eq!(body.matches("\"kind\"").count(), 1, "{body}");
        let back: Event = serde_json::from_str(&body).unwrap();
        assert_eq!(back, event);
        // Standalone, the old name still reads.
        let old: PreflightChecked = serde_json::from_str(
            &serde_json::to_string(&match &event {
                Event::PreflightChecked(p) => p,
                _ => unreachable!(),
            })
            .unwrap()
            .replace("\"job_kind\"", "\"kind\""),
        )
        .unwrap();
        assert_eq!(old.kind.as_deref(), Some("fix"));
    }
}
