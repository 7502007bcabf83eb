//! The dispatch report: the one JSON object `exec --json` prints.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::class::Class;
use crate::envprint::EnvFingerprint;
use crate::events::{Artifacts, LeakedProcess};

/// Everything agentlane knows about one dispatch, secrets removed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DispatchReport {
    /// Time-ordered id (UUIDv7).
    pub dispatch_id: String,
    /// The class.
    pub classifier: Class,
    /// The classifier layer that decided it: fact, cli, user, generic or unknown.
    #[serde(default)]
    pub layer: crate::class::Layer,
    /// The rule id or fact that decided the class.
    pub rule: String,
    /// The line that decided it, when text did.
    pub evidence: Option<String>,
    /// What to do about it, with this dispatch's facts.
    pub repair_hint: String,
    /// How the process ended (in JSON: `exit_code`, `signal`, `timed_out`,
    /// `interrupted_by`).
    #[serde(flatten)]
    pub termination: super::termination::Termination,
    /// Spawn to end of capture, in ms (0 if never launched).
    pub duration_ms: u64,
    /// The program as asked for.
    pub program: String,
    /// The argument vector, redacted (prompt arguments replaced by their size).
    pub argv: Vec<String>,
    /// The working directory.
    #[serde(serialize_with = "crate::lossy_path::write")]
    pub cwd: PathBuf,
    /// Whether it existed.
    pub cwd_exists: bool,
    /// The repository root, if any.
    #[serde(serialize_with = "crate::lossy_path::write_opt")]
    pub repo_root: Option<PathBuf>,
    /// The resolved executable.
    #[serde(serialize_with = "crate::lossy_path::write_opt")]
    pub cli_path: Option<PathBuf>,
    /// The resolved shebang interpreter.
    #[serde(serialize_with = "crate::lossy_path::write_opt")]
    pub interpreter: Option<PathBuf>,
    /// The child's environment fingerprint.
    pub env_fingerprint: EnvFingerprint,
    /// Every variable name of the child's environment (expanded diagnostics only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_names: Option<Vec<String>>,
    /// The prompt's size.
    pub prompt_bytes: u64,
    /// How the prompt reached the child.
    pub prompt_via: String,
    /// The timeout, in ms.
    pub timeout_ms: Option<u64>,
    /// Bytes written to stdout.
    pub stdout_bytes: u64,
    /// Bytes written to stderr.
    pub stderr_bytes: u64,
    /// The end of stdout, redacted.
    pub stdout_tail: String,
    /// The end of stderr, redacted.
    pub stderr_tail: String,
    /// The full redacted output files.
    pub artifacts: Artifacts,
    /// The first of `artifact_errors` (kept for readers of older reports).
    pub artifact_error: Option<String>,
    /// Why artifacts are incomplete: one entry per stream whose file could
    /// not be created or written (`"stdout: cannot write …: No space left on
    /// device (os error 28)"`). The dispatch is still classified from its tails.
    #[serde(default)]
    pub artifact_errors: Vec<String>,
    /// Whether the stdout artifact holds less than the stream (its cap, or an error).
    #[serde(default)]
    pub stdout_artifact_truncated: bool,
    /// Whether the stderr artifact holds less than the stream (its cap, or an error).
    #[serde(default)]
    pub stderr_artifact_truncated: bool,
    /// Redacted stdout bytes not in its artifact.
    #[serde(default)]
    pub stdout_dropped_bytes: u64,
    /// Redacted stderr bytes not in its artifact.
    #[serde(default)]
    pub stderr_dropped_bytes: u64,
    /// Whether descendants outlived the agent.
    pub leaked: bool,
    /// Those descendants (killed by agentlane).
    pub leaked_processes: Vec<LeakedProcess>,
    /// The failure fingerprint (null for ok).
    pub failure_fingerprint: Option<String>,
    /// Seconds the CLI asked to wait, when it said (or until `reset_at`).
    pub retry_after_secs: Option<u64>,
    /// When the usage or rate limit resets, as the CLI said it (UTC, RFC
    /// 3339; `quota_exhausted` and `rate_limited` only).
    #[serde(default)]
    pub reset_at: Option<jiff::Timestamp>,
    /// The route, when given.
    pub route: Option<String>,
    /// The selected model, when known.
    pub model: Option<String>,
    /// The job, when the dispatch runs one.
    pub job_id: Option<String>,
    /// The attempt of that job.
    pub attempt: Option<u32>,
    /// The exit status `agentlane exec` returns for this dispatch.
    pub exit_status: i32,
    /// Tokens, turns and cost as the CLI reported them in its structured
    /// output (absent when it reported none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<super::usage::Usage>,
    /// Why agentlane's watchdog stopped the run before it ended on its own
    /// (idle, a terminal line, or done but not exiting), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watchdog: Option<Watchdog>,
}

/// What the watchdog did to a run (`dispatch/watch.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watchdog {
    /// `idle` (no output for the route's `idle_timeout`), `terminal` (a
    /// terminal rule's line stood for the settle time) or `done` (a final
    /// result, then no exit within the grace: the result is kept).
    pub kind: String,
    /// What it saw, as one line (also the report's evidence unless a rule
    /// named a more specific cause).
    pub message: String,
    /// The process tree as it was before an idle stop (pid, state, wchan,
    /// command line, pipes), a JSON file beside the artifacts.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::lossy_path::write_opt"
    )]
    pub snapshot: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report as stored before the artifact fields existed (the shape of
    /// an `exec --json` of that time, trimmed of nothing it required).
    const OLD: &str = r#"{"dispatch_id":"01a2","classifier":"rate_limited","rule":"generic.rate_limited",
        "evidence":"Error: 429 Too Many Requests","repair_hint":"retry","exit_code":1,"signal":null,
        "timed_out":false,"interrupted_by":null,"duration_ms":12,"program":"fake","argv":["fake"],
        "cwd":"/tmp","cwd_exists":true,"repo_root":null,"cli_path":"/bin/fake","interpreter":null,
        "env_fingerprint":{"id":"x","path_entries":[],"vars":{},"files":{},"var_count":0},
        "prompt_bytes":0,"prompt_via":"stdin","timeout_ms":null,"stdout_bytes":5,"stderr_bytes":29,
        "stdout_tail":"","stderr_tail":"Error: 429 Too Many Requests\n",
        "artifacts":{"stdout":null,"stderr":null},"artifact_error":"No space left on device (os error 28)",
        "leaked":false,"leaked_processes":[],"failure_fingerprint":null,"retry_after_secs":null,
        "route":null,"model":null,"job_id":null,"attempt":null,"exit_status":1}"#;

    #[test]
    fn a_report_stored_before_the_artifact_fields_still_parses() {
        let r: DispatchReport = serde_json::from_str(OLD).unwrap();
        assert_eq!(r.classifier, Class::RateLimited);
        assert_eq!(
            r.artifact_error.as_deref(),
            Some("No space left on device (os error 28)")
        );
        assert!(r.artifact_errors.is_empty());
        assert!(!r.stdout_artifact_truncated && !r.stderr_artifact_truncated);
        assert_eq!((r.stdout_dropped_bytes, r.stderr_dropped_bytes), (0, 0));
        // And it round-trips with the new fields.
        let again: DispatchReport =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(again, r);
    }
}
