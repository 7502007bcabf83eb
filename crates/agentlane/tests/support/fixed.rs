//! Fixed model values (fixed ids, times and texts) for the snapshot and
//! previous-release tests.
//!
//! Every struct of the model is built field by field HERE and nowhere else:
//! a refactor of the model (issue 15) changes these helpers, never the
//! expected bytes under `tests/data/snapshots/` or `tests/data/db/`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use agentlane::classify::Layer;
use agentlane::dispatch::DispatchReport;
use agentlane::envprint::{EnvFingerprint, VarPrint};
use agentlane::events::{
    Artifacts, Check, ClassifiedFailure, Event, Exit, JobAdmitted, LeakedProcess, PreflightChecked,
    Prepare,
};
use agentlane::model::termination::{Status, Termination};
use agentlane::model::{IncidentState, RepairAddress, Step};
use agentlane::queue::{
    Completion, Incident, IncidentFacts, Job, JobState, JobStatus, NewJob, Next,
};
use agentlane::Class;

/// A fixed, time-ordered-looking dispatch id (`n` in 1..).
pub fn dispatch_id(n: u32) -> String {
    format!("0193a000-0000-7000-8000-{n:012}")
}

/// A fixed reset time: 2026-03-01T15:00:00Z.
pub fn reset_at() -> jiff::Timestamp {
    "2026-03-01T15:00:00Z".parse().unwrap()
}

/// A later fixed reset time: 2026-03-01T18:30:00.250Z.
pub fn later_reset_at() -> jiff::Timestamp {
    "2026-03-01T18:30:00.250Z".parse().unwrap()
}

pub fn env_fingerprint() -> EnvFingerprint {
    let mut vars = BTreeMap::new();
    vars.insert(
        "ANTHROPIC_API_KEY".to_string(),
        VarPrint {
            present: true,
            hash: Some("5f0c2a9d81e34b7a".to_string()),
        },
    );
    vars.insert(
        "HOME".to_string(),
        VarPrint {
            present: true,
            hash: Some("0a1b2c3d4e5f6071".to_string()),
        },
    );
    vars.insert(
        "OPENAI_API_KEY".to_string(),
        VarPrint {
            present: false,
            hash: None,
        },
    );
    let mut files = BTreeMap::new();
    files.insert(".claude/.credentials.json".to_string(), true);
    files.insert(".codex/auth.json".to_string(), false);
    EnvFingerprint {
        id: "e3b0c44298fc1c14".to_string(),
        path_entries: vec![
            "/usr/local/bin".to_string(),
            "/usr/bin".to_string(),
            "/bin".to_string(),
        ],
        vars,
        files,
        var_count: 14,
    }
}

/// The job a dispatch runs: (job id, attempt).
pub type JobAttempt<'a> = Option<(&'a str, u32)>;

/// `runner_prepare` of a dispatch of `claude -p` in /srv/repo.
pub fn prepare(id: &str, job: JobAttempt<'_>) -> Prepare {
    Prepare {
        dispatch_id: id.to_string(),
        program: "claude".to_string(),
        cli_path: Some(PathBuf::from("/usr/local/bin/claude")),
        interpreter: Some(PathBuf::from("/usr/bin/node")),
        argv: vec![
            "claude".to_string(),
            "-p".to_string(),
            "--output-format".to_string(),
            "json".to_string(),
        ],
        cwd: PathBuf::from("/srv/repo/sub"),
        cwd_exists: true,
        repo_root: Some(PathBuf::from("/srv/repo")),
        prompt_bytes: 42,
        prompt_via: "stdin".to_string(),
        timeout_ms: Some(1_200_000),
        route: Some("claude-sonnet".to_string()),
        model: Some("sonnet".to_string()),
        job_id: job.map(|(id, _)| id.to_string()),
        attempt: job.map(|(_, a)| a),
        env_fingerprint: env_fingerprint(),
        env_names: None,
        host: None,
    }
}

/// The outcomes the snapshots cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit zero, classified ok.
    Ok,
    /// A classified failure with a reset time (usage limit).
    RateLimitedWithReset,
    /// The supervisor's timeout ended it.
    Timeout,
    /// Killed by a signal it did not get from agentlane.
    KilledBySignal,
    /// Refused before launch: the executable does not resolve; never started.
    RefusedBeforeLaunch,
    /// agentlane received SIGINT and stopped the agent.
    Interrupted,
    /// Artifact files failed and were truncated; processes leaked; diagnostics on.
    ArtifactErrors,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Ok,
        Outcome::RateLimitedWithReset,
        Outcome::Timeout,
        Outcome::KilledBySignal,
        Outcome::RefusedBeforeLaunch,
        Outcome::Interrupted,
        Outcome::ArtifactErrors,
    ];

    /// The snapshot file stem.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::RateLimitedWithReset => "rate-limited-with-reset",
            Outcome::Timeout => "timeout",
            Outcome::KilledBySignal => "killed-by-signal",
            Outcome::RefusedBeforeLaunch => "refused-before-launch",
            Outcome::Interrupted => "interrupted",
            Outcome::ArtifactErrors => "artifact-errors",
        }
    }
}

/// The report of a dispatch `id` with `outcome`, built field by field.
pub fn report(id: &str, outcome: Outcome, job: JobAttempt<'_>) -> DispatchReport {
    let p = prepare(id, job);
    let mut r = DispatchReport {
        dispatch_id: p.dispatch_id,
        classifier: Class::Ok,
        layer: Layer::Fact,
        rule: "fact.exit_zero".to_string(),
        evidence: None,
        repair_hint: "nothing to do".to_string(),
        termination: Termination::Ended(Status::Code(0)),
        duration_ms: 81_234,
        program: p.program,
        argv: p.argv,
        cwd: p.cwd,
        cwd_exists: p.cwd_exists,
        repo_root: p.repo_root,
        cli_path: p.cli_path,
        interpreter: p.interpreter,
        env_fingerprint: p.env_fingerprint,
        env_names: None,
        prompt_bytes: p.prompt_bytes,
        prompt_via: p.prompt_via,
        timeout_ms: p.timeout_ms,
        stdout_bytes: 1_024,
        stderr_bytes: 0,
        stdout_tail: "{\"result\":\"done\"}\n".to_string(),
        stderr_tail: String::new(),
        artifacts: Artifacts {
            stdout: Some(PathBuf::from(format!(
                "/home/al/.local/state/agentlane/artifacts/{id}/stdout"
            ))),
            stderr: None,
        },
        artifact_error: None,
        artifact_errors: Vec::new(),
        stdout_artifact_truncated: false,
        stderr_artifact_truncated: false,
        stdout_dropped_bytes: 0,
        stderr_dropped_bytes: 0,
        leaked: false,
        leaked_processes: Vec::new(),
        failure_fingerprint: None,
        retry_after_secs: None,
        reset_at: None,
        route: p.route,
        model: p.model,
        job_id: p.job_id,
        attempt: p.attempt,
        exit_status: 0,
        usage: None,
        watchdog: None,
    };
    let stderr_artifact = PathBuf::from(format!(
        "/home/al/.local/state/agentlane/artifacts/{id}/stderr"
    ));
    match outcome {
        Outcome::Ok => {}
        Outcome::RateLimitedWithReset => {
            r.classifier = Class::QuotaExhausted;
            r.layer = Layer::Cli;
            r.rule = "claude.usage_limit".to_string();
            r.evidence = Some("Claude AI usage limit reached|1772377200".to_string());
            r.repair_hint =
                "the usage limit resets at 2026-03-01T15:00:00Z; the job waits until then"
                    .to_string();
            r.termination = Termination::Ended(Status::Code(1));
            r.duration_ms = 2_310;
            r.stdout_bytes = 0;
            r.stderr_bytes = 44;
            r.stdout_tail = String::new();
            r.stderr_tail = "Claude AI usage limit reached|1772377200\n".to_string();
            r.artifacts = Artifacts {
                stdout: None,
                stderr: Some(stderr_artifact),
            };
            r.failure_fingerprint = Some("fp-quota-9c1d7e20".to_string());
            r.retry_after_secs = Some(3_600);
            r.reset_at = Some(reset_at());
            r.exit_status = 69;
        }
        Outcome::Timeout => {
            r.classifier = Class::Timeout;
            r.rule = "fact.timeout".to_string();
            r.evidence = Some("no exit after 20m; SIGTERM, then SIGKILL after 5s".to_string());
            r.repair_hint = "raise --timeout or split the task".to_string();
            r.termination = Termination::TimedOut(Status::Signal(9));
            r.duration_ms = 1_205_002;
            r.stdout_bytes = 7;
            r.stdout_tail = "working".to_string();
            r.failure_fingerprint = Some("fp-timeout-41aa03bc".to_string());
            r.exit_status = 124;
        }
        Outcome::KilledBySignal => {
            r.classifier = Class::KilledBySignal;
            r.rule = "fact.signal".to_string();
            r.evidence = Some("killed by SIGKILL (9)".to_string());
            r.repair_hint = "something killed the agent (the OOM killer?)".to_string();
            r.termination = Termination::Ended(Status::Signal(9));
            r.duration_ms = 15_000;
            r.failure_fingerprint = Some("fp-signal-77e0f1a2".to_string());
            r.exit_status = 137;
        }
        Outcome::RefusedBeforeLaunch => {
            r.classifier = Class::CliMissing;
            r.rule = "fact.cli_missing".to_string();
            r.evidence = Some("'claude' is not on PATH=/usr/bin:/bin".to_string());
            r.repair_hint = "install claude or put it on the service's PATH".to_string();
            r.termination = Termination::NotStarted;
            r.duration_ms = 0;
            r.cli_path = None;
            r.interpreter = None;
            r.stdout_bytes = 0;
            r.stdout_tail = String::new();
            r.artifacts = Artifacts::default();
            r.failure_fingerprint = Some("fp-cli-missing-0d9e8f7a".to_string());
            r.exit_status = 127;
        }
        Outcome::Interrupted => {
            r.classifier = Class::KilledBySignal;
            r.rule = "fact.interrupted".to_string();
            r.evidence =
                Some("agentlane received SIGINT and stopped the agent's process group".to_string());
            r.repair_hint = "the dispatch of 'claude' was interrupted by SIGINT sent to agentlane (an operator, a service manager stopping the unit, or a CI cancel); nothing is wrong with the agent itself".to_string();
            r.termination = Termination::Interrupted {
                by: 2,
                status: Status::Signal(2),
            };
            r.duration_ms = 3_456;
            r.failure_fingerprint = Some("fp-interrupted-5b6c7d8e".to_string());
            r.exit_status = 130;
        }
        Outcome::ArtifactErrors => {
            r.classifier = Class::UnknownExit(3);
            r.layer = Layer::Unknown;
            r.rule = "unknown".to_string();
            r.evidence =
                Some("fatal: \"quoted\" \\ back\\slash \u{e9}t\u{e9} \u{1f600}\ttab".to_string());
            r.repair_hint = "read the stderr tail".to_string();
            r.termination = Termination::Ended(Status::Code(3));
            r.env_names = Some(vec![
                "ANTHROPIC_API_KEY".to_string(),
                "HOME".to_string(),
                "PATH".to_string(),
            ]);
            r.stdout_bytes = 70_000_000;
            r.stderr_bytes = 2_048;
            r.stderr_tail = "fatal: [REDACTED:anthropic_key] rejected\n".to_string();
            r.artifacts = Artifacts {
                stdout: Some(PathBuf::from(format!(
                    "/home/al/.local/state/agentlane/artifacts/{id}/stdout"
                ))),
                stderr: Some(stderr_artifact),
            };
            r.artifact_errors = vec![
                "stdout: cannot write /home/al/.local/state/agentlane/artifacts/x/stdout: No space left on device (os error 28)".to_string(),
                "stderr: cannot create /home/al/.local/state/agentlane/artifacts/x/stderr: Permission denied (os error 13)".to_string(),
            ];
            r.artifact_error = r.artifact_errors.first().cloned();
            r.stdout_artifact_truncated = true;
            r.stderr_artifact_truncated = true;
            r.stdout_dropped_bytes = 2_891_136;
            r.stderr_dropped_bytes = 2_048;
            r.leaked = true;
            r.leaked_processes = vec![
                LeakedProcess {
                    pid: 4242,
                    cmdline: "node /usr/local/lib/mcp-server.js --port 7777".to_string(),
                    held_pipes: true,
                },
                LeakedProcess {
                    pid: 4243,
                    cmdline: "sleep 3600".to_string(),
                    held_pipes: false,
                },
            ];
            r.failure_fingerprint = Some("fp-unknown-3-aa11bb22".to_string());
            r.exit_status = 3;
        }
    }
    r
}

/// `runner_exit` of a report, built field by field (as the dispatcher does).
pub fn exit_event(r: &DispatchReport) -> Exit {
    Exit {
        dispatch_id: r.dispatch_id.clone(),
        exit_code: r.termination.exit_code(),
        signal: r.termination.signal(),
        timed_out: r.termination.timed_out(),
        duration_ms: r.duration_ms,
        stdout_bytes: r.stdout_bytes,
        stderr_bytes: r.stderr_bytes,
        stdout_tail: r.stdout_tail.clone(),
        stderr_tail: r.stderr_tail.clone(),
        artifacts: r.artifacts.clone(),
        artifact_errors: r.artifact_errors.clone(),
        leaked: r.leaked,
        leaked_processes: r.leaked_processes.clone(),
        classifier: r.classifier,
        usage: r.usage.clone(),
        watchdog: r.watchdog.clone(),
    }
}

/// `runner_classified_failure` of a report, built field by field.
pub fn classified_event(r: &DispatchReport) -> ClassifiedFailure {
    ClassifiedFailure {
        dispatch_id: r.dispatch_id.clone(),
        classifier: r.classifier,
        layer: r.layer,
        rule: r.rule.clone(),
        evidence: r.evidence.clone(),
        repair_hint: r.repair_hint.clone(),
        failure_fingerprint: r.failure_fingerprint.clone(),
        timed_out: r.termination.timed_out(),
        retry_after_secs: r.retry_after_secs,
        reset_at: r.reset_at,
    }
}

/// The events that finish a dispatch, as the dispatcher records them: a
/// refusal before launch has no `runner_exit`; a failure adds
/// `runner_classified_failure`.
pub fn finish_events(r: &DispatchReport, launched: bool) -> Vec<Event> {
    let mut events = Vec::new();
    if launched {
        events.push(Event::RunnerExit(exit_event(r)));
    }
    if r.classifier.is_failure() {
        events.push(Event::RunnerClassifiedFailure(classified_event(r)));
    }
    events
}

/// Incident facts of a report's failure (fixed host).
pub fn incident_facts(r: &DispatchReport, lane: &str) -> IncidentFacts {
    IncidentFacts {
        fingerprint: r.failure_fingerprint.clone().unwrap_or_default(),
        class: r.classifier,
        route: r.route.clone(),
        lane: Some(lane.to_string()),
        host: "build-01".to_string(),
        repair_hint: r.repair_hint.clone(),
        evidence: r.evidence.clone(),
        reset_at: r.reset_at,
        stamp: None,
    }
}

/// A completion of (job, attempt) by `owner`, built field by field.
#[allow(clippy::too_many_arguments)]
pub fn completion(
    job_id: &str,
    attempt: u32,
    owner: &str,
    dispatch_id: Option<&str>,
    class: Class,
    next: Next,
    reason: &str,
    incident: Option<IncidentFacts>,
) -> Completion {
    Completion {
        job_id: job_id.to_string(),
        attempt,
        owner: owner.to_string(),
        dispatch_id: dispatch_id.map(str::to_string),
        class,
        next,
        reason: reason.to_string(),
        incident,
    }
}

/// A retry settlement.
pub fn retry(delay: Duration, timeout: Option<Duration>, diagnostics: bool) -> Next {
    Next::Retry {
        delay,
        timeout,
        diagnostics,
    }
}

/// A job to enqueue; `case` names it in its fields (the tests find jobs by it).
pub fn new_job(case: &str, lane: &str, priority: i64) -> NewJob {
    let mut fields = BTreeMap::new();
    fields.insert("case".to_string(), serde_json::json!(case));
    fields.insert("issue".to_string(), serde_json::json!(15));
    fields.insert(
        "labels".to_string(),
        serde_json::json!(["model", "refactor"]),
    );
    NewJob {
        kind: "fix".to_string(),
        lane: lane.to_string(),
        route: "claude-sonnet".to_string(),
        prompt: format!("fix the failing test ({case})"),
        fields,
        priority,
        key: None,
        label: None,
    }
}

/// `job_admitted`.
pub fn job_admitted(job_id: &str) -> JobAdmitted {
    JobAdmitted {
        job_id: job_id.to_string(),
        prompt_redacted: true,
        reason: "the prompt held a secret (anthropic_key); it was redacted before storing"
            .to_string(),
    }
}

/// `preflight_checked` of a route whose CLI is missing.
pub fn preflight_failed() -> PreflightChecked {
    PreflightChecked {
        route: "codex-default".to_string(),
        kind: Some("fix".to_string()),
        host: "build-01".to_string(),
        cli_resolves: false,
        cli_ready: false,
        route_allowed: true,
        classifier: Some(Class::CliMissing),
        repair_hint: Some("install codex or put it on the service's PATH".to_string()),
        evidence: Some("'codex' is not on PATH=/usr/bin:/bin".to_string()),
        cli_path: None,
        env_fingerprint: "e3b0c44298fc1c14".to_string(),
        checks: vec![
            Check {
                name: "cli_resolves".to_string(),
                ok: false,
                detail: "'codex' is not on PATH=/usr/bin:/bin".to_string(),
            },
            Check {
                name: "route_allowed".to_string(),
                ok: true,
                detail: "policy allows codex-default for fix".to_string(),
            },
        ],
        probe_dispatches: vec![dispatch_id(900)],
        cached: false,
    }
}

/// A stored job, built field by field (fixed id and times).
pub fn job(state: JobState) -> Job {
    let mut fields = BTreeMap::new();
    fields.insert("case".to_string(), serde_json::json!("snapshot"));
    fields.insert("issue".to_string(), serde_json::json!(15));
    let parked = state == JobState::Parked;
    Job {
        id: "0193a000-0000-7000-9000-000000000001".to_string(),
        kind: "fix".to_string(),
        lane: "build".to_string(),
        route: "claude-sonnet".to_string(),
        prompt: "never printed".to_string(),
        fields,
        priority: 5,
        status: JobStatus::from_columns(
            state,
            (state == JobState::Running).then(|| "build-01:4242".to_string()),
            (state == JobState::Running).then(|| "2026-03-01T14:01:00.000Z".to_string()),
            None,
        )
        .expect("the snapshot states need no finish time"),
        attempts: 2,
        run_at: "2026-03-01T14:00:00.000Z".to_string(),
        created_at: "2026-03-01T13:59:58.123Z".to_string(),
        updated_at: "2026-03-01T14:00:01.456Z".to_string(),
        timeout_ms: Some(2_400_000),
        diagnostics: true,
        classifier: Some(if parked { "quota_exhausted" } else { "timeout" }.to_string()),
        next_action: Some(if parked { Step::Park } else { Step::Retry }),
        reason: Some("timeout: retry with twice the timeout and diagnostics".to_string()),
        incident_id: parked.then(|| "0193a000-0000-7000-a000-000000000001".to_string()),
        last_dispatch_id: Some(dispatch_id(2)),
        key: None,
        label: None,
    }
}

/// A stored incident, built field by field (fixed id and times).
pub fn incident(open: bool) -> Incident {
    Incident {
        id: format!(
            "0193a000-0000-7000-a000-00000000000{}",
            if open { 1 } else { 2 }
        ),
        failure_fingerprint: "fp-quota-9c1d7e20".to_string(),
        classifier: Class::QuotaExhausted,
        state: if open {
            IncidentState::Open
        } else {
            IncidentState::Resolved
        },
        repair_address: RepairAddress::Runtime,
        priority: 80,
        route: Some("claude-sonnet".to_string()),
        lane: Some("build".to_string()),
        host: "build-01".to_string(),
        repair_hint: "the usage limit resets at 2026-03-01T15:00:00Z; the job waits until then"
            .to_string(),
        evidence: Some("Claude AI usage limit reached|1772377200".to_string()),
        affected_jobs: 3,
        occurrences: 4,
        first_seen: "2026-03-01T14:00:01.456Z".to_string(),
        last_seen: "2026-03-01T14:05:09.010Z".to_string(),
        resolved_at: (!open).then(|| "2026-03-01T15:00:02.000Z".to_string()),
        resolution: (!open).then(|| "resolved by an operator".to_string()),
        reset_at: Some(if open { reset_at() } else { later_reset_at() }),
    }
}
