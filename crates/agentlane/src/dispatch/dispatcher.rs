//! The dispatcher: prepare → launch → supervise → exit → classify → record,
//! one path for every agent invocation.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::model::report::{DispatchReport, Watchdog};
use crate::model::Termination;

use super::{
    guard, launch, prepare, proctree, supervise, watch, DispatchError, DispatchRequest, Interrupt,
};
use crate::classify::{self, HintContext, Observed, RuleSet};
use crate::events::{ClassifiedFailure, Event, Exit};
use crate::fingerprint::{failure_fingerprint, FailureFacts};
use crate::home::Home;
use crate::store::{DispatchLog, StoreError};
use crate::trace;
use tracing::Instrument;

/// How long the outcome of a dispatch is retried through a store outage.
const FINISH_PATIENCE: Duration = Duration::from_secs(30);

/// The dispatcher. One per process; share it by reference.
pub struct Dispatcher {
    home: Home,
    /// The only part of the store the dispatcher writes.
    log: Arc<dyn DispatchLog>,
    rules: Option<RuleSet>,
    running: Arc<Mutex<HashSet<i32>>>,
    guard: Option<&'static guard::Guard>,
}

impl Dispatcher {
    /// A dispatcher over a home and the store's dispatch log (an
    /// `Arc<dyn Store>` coerces to it). `rules` replaces the built-in set
    /// (pass built-ins merged with a user file); `None` uses the built-ins.
    pub fn new(home: Home, log: Arc<dyn DispatchLog>, rules: Option<RuleSet>) -> Self {
        // The guard first: started after, it would be our own child.
        let guard = guard::start();
        proctree::become_subreaper();
        Dispatcher {
            home,
            log,
            rules,
            running: Arc::new(Mutex::new(HashSet::new())),
            guard,
        }
    }

    /// The home directory.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// The dispatch log it records into (preflight records its results there too).
    pub fn log(&self) -> &Arc<dyn DispatchLog> {
        &self.log
    }

    fn rules(&self) -> &RuleSet {
        self.rules.as_ref().unwrap_or_else(|| RuleSet::builtin())
    }

    /// Runs one dispatch through every stage and records it.
    pub async fn dispatch(
        &self,
        req: DispatchRequest,
        interrupt: Interrupt,
    ) -> Result<DispatchReport, DispatchError> {
        let finished = self.dispatch_unrecorded(req, interrupt).await?;
        match self.record_finish(&finished.report, &finished.events).await {
            Ok(()) => Ok(finished.report),
            Err(source) => Err(DispatchError::Unrecorded {
                report: Box::new(finished.report),
                source,
            }),
        }
    }

    /// Runs one dispatch through every stage but the last: its prepare is
    /// recorded, its outcome is returned for the caller to record, with
    /// [`crate::store::QueueStore::finish_and_settle`] (a queue worker, which writes the outcome
    /// and the job's settlement in one transaction) or [`crate::store::DispatchLog::record_finish`].
    /// A launch that failed inside agentlane is recorded here and returned as
    /// the error.
    pub async fn dispatch_unrecorded(
        &self,
        req: DispatchRequest,
        interrupt: Interrupt,
    ) -> Result<Finished, DispatchError> {
        let dispatch_id = uuid::Uuid::now_v7().to_string();
        // The stages' spans (`crate::trace`): nothing listens unless the
        // binary exports traces.
        let span = stage_span(trace::PREPARE);
        span.record("dispatch_id", dispatch_id.as_str());
        let prepared = span.in_scope(|| prepare::prepare(&req, &dispatch_id, &self.home));
        span.record("refused", prepared.outcome.is_err());
        self.log
            .record_prepare(&prepared.event)
            .instrument(span)
            .await?;
        let ready = match prepared.outcome {
            Ok(ready) => ready,
            Err(refusal) => {
                return Ok(stage_span(trace::CLASSIFY)
                    .in_scope(|| classified(finish_refused(&req, &prepared.event, refusal))))
            }
        };
        let launched = stage_span(trace::LAUNCH)
            .in_scope(|| launch::launch(ready, &req, &self.home, &self.running, self.guard));
        let running = match launched {
            Ok(running) => running,
            Err(launch::LaunchError::Refused(refusal)) => {
                return Ok(stage_span(trace::CLASSIFY)
                    .in_scope(|| classified(finish_refused(&req, &prepared.event, refusal))))
            }
            Err(launch::LaunchError::Agentlane(e)) => {
                let refusal = classify::Classification {
                    layer: crate::classify::Layer::Fact,
                    class: crate::Class::UnknownExit(-1),
                    rule: "fact.agentlane_error".into(),
                    evidence: Some(e.to_string()),
                    repair_hint: "agentlane could not launch the program; see the error".into(),
                    retry_after_secs: None,
                    reset_at: None,
                };
                let failed = finish_refused(&req, &prepared.event, refusal);
                let _ = self.record_finish(&failed.report, &failed.events).await;
                return Err(e);
            }
        };
        // The rule set is loaded only if the child prints a line that needs it.
        let rules = || req.rules.as_deref().unwrap_or_else(|| self.rules());
        let exited =
            supervise::supervise(running, &req, interrupt, &self.running, self.guard, &rules)
                .instrument(stage_span(trace::SUPERVISE))
                .await;
        Ok(stage_span(trace::CLASSIFY)
            .in_scope(|| classified(self.finish_exited(&req, &prepared.event, exited))))
    }

    /// Records the outcome of a dispatch that happened: worth waiting for
    /// through a store outage (a database restart) rather than losing. Safe to
    /// retry: the store records a dispatch's finish once.
    async fn record_finish(
        &self,
        report: &DispatchReport,
        events: &[Event],
    ) -> Result<(), StoreError> {
        crate::store::with_patience(FINISH_PATIENCE, || self.log.record_finish(report, events))
            .await
    }

    fn finish_exited(
        &self,
        req: &DispatchRequest,
        prepare: &crate::events::Prepare,
        exited: supervise::Exited,
    ) -> Finished {
        let timeout_text = req
            .timeout
            .map(|t| humantime::format_duration(t).to_string());
        let cwd_text = prepare.cwd.display().to_string();
        let cli_text = prepare.cli_path.as_ref().map(|p| p.display().to_string());
        // A printed reset ("resets 3pm") is read with the clock now and in the
        // zone the child printed it in.
        let zone = classify::reset::child_zone(exited.child_tz.as_deref());
        let ctx = HintContext {
            program: &req.program,
            cli_path: cli_text.as_deref(),
            home: exited.child_home.as_deref(),
            path: exited.child_path.as_deref(),
            cwd: &cwd_text,
            timeout: timeout_text.as_deref(),
            exit_code: exited.termination.exit_code(),
            signal: exited.termination.signal(),
            dispatch_id: &prepare.dispatch_id,
            now: Some(jiff::Timestamp::now()),
            zone: Some(&zone),
            ..HintContext::default()
        };
        let t = exited.termination;
        let rules = || req.rules.as_deref().unwrap_or_else(|| self.rules());
        let observed = |exit_code, timed_out| Observed {
            exit_code,
            signal: if exit_code.is_some() {
                None
            } else {
                t.signal()
            },
            timed_out,
            stdout_tail: &exited.stdout.tail,
            stderr_tail: &exited.stderr.tail,
            stdout_truncated: exited.stdout.tail_truncated,
            stderr_truncated: exited.stderr.tail_truncated,
        };
        let classification = match (t.interrupted_by(), &exited.watchdog) {
            (Some(sig), _) => interrupted(sig, &ctx),
            // Its work was done (a final result printed): judged as the exit
            // zero the CLI owed, so a failed result stays a failure.
            (None, Some(stop @ watch::Stop::Done { .. })) => {
                let mut c = classify::classify(&observed(Some(0), false), rules, &ctx);
                if !c.class.is_failure() {
                    c.rule = "fact.result_then_stopped".into();
                    c.evidence = Some(stop.evidence());
                }
                c
            }
            (None, Some(watch::Stop::Terminal { rule, .. })) => {
                let stop = exited.watchdog.as_ref().map(watch::Stop::evidence);
                match rules().rules().iter().find(|r| &r.id == rule) {
                    Some(r) => classify::classify_by_rule(
                        &observed(t.exit_code(), false),
                        r,
                        stop.unwrap_or_default(),
                        &ctx,
                    ),
                    None => classify::classify(&observed(t.exit_code(), true), rules, &ctx),
                }
            }
            (None, idle) => {
                let mut c =
                    classify::classify(&observed(t.exit_code(), t.timed_out()), rules, &ctx);
                if let (Some(stop @ watch::Stop::Idle { silent_for, .. }), crate::Class::Timeout) =
                    (idle, c.class)
                {
                    c.rule = "fact.idle_timeout".into();
                    c.evidence = Some(stop.evidence());
                    c.repair_hint = format!(
                        "'{}' printed nothing for {} (the route's idle_timeout) and was stopped; the process tree as it hung is in {}: a wchan of a network or pipe wait points at the API or a prompt on stdin; read the tails with `agentlane show {}`, or raise idle_timeout if the work legitimately goes quiet that long",
                        req.program,
                        humantime::format_duration(*silent_for),
                        exited
                            .snapshot
                            .as_ref()
                            .map_or("(no snapshot could be written)".to_string(), |p| p.display().to_string()),
                        prepare.dispatch_id
                    );
                }
                c
            }
        };
        let classification = judge_success(req, &prepare.cwd, &exited, classification, &ctx);
        let exit_status = match t.interrupted_by() {
            Some(sig) => 128 + sig,
            None if t.stopped_early() => crate::exit_status::for_stopped(classification.class),
            None => crate::exit_status::for_dispatch(
                classification.class,
                t.exit_code(),
                t.signal(),
                t.timed_out(),
            ),
        };
        let mut report = base_report(req, prepare, classification, exit_status);
        report.termination = t;
        report.duration_ms = exited.duration.as_millis() as u64;
        report.stdout_bytes = exited.stdout.bytes;
        report.stderr_bytes = exited.stderr.bytes;
        report.stdout_tail = String::from_utf8_lossy(&exited.stdout.report_tail).into_owned();
        report.stderr_tail = String::from_utf8_lossy(&exited.stderr.report_tail).into_owned();
        report.artifacts = exited.artifacts.clone();
        report.artifact_errors = [("stdout", &exited.stdout), ("stderr", &exited.stderr)]
            .into_iter()
            .filter_map(|(name, s)| Some(format!("{name}: {}", s.artifact_error.as_ref()?)))
            .collect();
        report.artifact_error = report.artifact_errors.first().cloned();
        report.stdout_artifact_truncated = exited.stdout.artifact_truncated;
        report.stderr_artifact_truncated = exited.stderr.artifact_truncated;
        report.stdout_dropped_bytes = exited.stdout.dropped_bytes;
        report.stderr_dropped_bytes = exited.stderr.dropped_bytes;
        report.leaked = !exited.leaked.is_empty();
        report.leaked_processes = exited.leaked.clone();
        report.watchdog = exited.watchdog.as_ref().map(|stop| Watchdog {
            kind: stop.kind().to_string(),
            message: stop.evidence(),
            snapshot: exited.snapshot.clone(),
        });
        if let Some(stop) = &exited.watchdog {
            tracing::warn!(
                dispatch_id = %report.dispatch_id,
                watchdog = stop.kind(),
                class = %report.classifier,
                "{}",
                stop.evidence()
            );
        }
        report.failure_fingerprint = fingerprint_of(&report);
        report.usage = crate::usage::extract(&exited.stdout.tail, &exited.stderr.tail);
        let exit_event = Exit {
            dispatch_id: report.dispatch_id.clone(),
            exit_code: t.exit_code(),
            signal: t.signal(),
            timed_out: t.timed_out(),
            duration_ms: report.duration_ms,
            stdout_bytes: report.stdout_bytes,
            stderr_bytes: report.stderr_bytes,
            stdout_tail: report.stdout_tail.clone(),
            stderr_tail: report.stderr_tail.clone(),
            artifacts: report.artifacts.clone(),
            artifact_errors: report.artifact_errors.clone(),
            leaked: report.leaked,
            leaked_processes: report.leaked_processes.clone(),
            classifier: report.classifier,
            usage: report.usage.clone(),
            watchdog: report.watchdog.clone(),
        };
        let mut events = vec![Event::RunnerExit(exit_event)];
        if report.classifier.is_failure() {
            events.push(Event::RunnerClassifiedFailure(classified_event(&report)));
        }
        Finished { report, events }
    }
}

/// One stage's span of a job's trace (`crate::trace`), a child of the
/// attempt's. Disabled (a no-op) unless the binary exports traces.
fn stage_span(name: &'static str) -> tracing::Span {
    // `span!` needs its name at compile time: one arm per stage.
    match name {
        trace::PREPARE => {
            tracing::trace_span!(target: trace::TARGET, trace::PREPARE, dispatch_id = tracing::field::Empty, refused = tracing::field::Empty)
        }
        trace::LAUNCH => tracing::trace_span!(target: trace::TARGET, trace::LAUNCH),
        trace::SUPERVISE => tracing::trace_span!(target: trace::TARGET, trace::SUPERVISE),
        _ => {
            tracing::trace_span!(target: trace::TARGET, trace::CLASSIFY, class = tracing::field::Empty, exit_status = tracing::field::Empty)
        }
    }
}

/// Records a finished dispatch's class and exit status on the current
/// (classify) span.
fn classified(finished: Finished) -> Finished {
    let span = tracing::Span::current();
    if span.is_disabled() {
        return finished;
    }
    span.record("class", finished.report.classifier.label().as_str());
    span.record("exit_status", finished.report.exit_status);
    finished
}

/// A run judged `ok` that did no work becomes `empty_success`: the built-in
/// checks of its result, then the route's success contract
/// (`classify::success`). The two facts that need the file system — the work
/// tree's status and the contract's file — are gathered here, and only when
/// the contract asks for them.
fn judge_success(
    req: &DispatchRequest,
    cwd: &std::path::Path,
    exited: &supervise::Exited,
    c: classify::Classification,
    ctx: &HintContext<'_>,
) -> classify::Classification {
    use classify::success;
    if c.class != crate::Class::Ok {
        return c;
    }
    let facts = success::run_facts(&exited.stdout.tail, exited.stdout.tail_truncated);
    let contract = req.success.as_deref();
    let tree = success::TreeFacts {
        worktree_changed: contract
            .filter(|c| c.changed_worktree)
            .and_then(|_| worktree_changed(cwd)),
        file_exists: contract
            .and_then(|c| c.file_exists.as_ref())
            .map(|f| cwd.join(f).exists()),
    };
    let Some(broken) = success::judge(&facts, contract, tree) else {
        return c;
    };
    let hint_ctx = HintContext {
        evidence: Some(&broken.evidence),
        ..*ctx
    };
    classify::Classification {
        class: crate::Class::EmptySuccess,
        layer: crate::classify::Layer::Fact,
        rule: broken.rule.to_string(),
        repair_hint: classify::hint::default_hint(crate::Class::EmptySuccess, &hint_ctx),
        evidence: Some(broken.evidence),
        retry_after_secs: None,
        reset_at: None,
    }
}

/// Whether `git status --porcelain` in `cwd` prints anything; `None` when
/// it cannot tell (not a work tree, git missing). git is run directly, never
/// through a shell, with a clean locale.
fn worktree_changed(cwd: &std::path::Path) -> Option<bool> {
    let out = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=normal"])
        .current_dir(cwd)
        .env("LC_ALL", "C")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(!out.stdout.is_empty())
}

/// The outcome of a dispatch, before it is recorded: its report and its
/// final events (`runner_exit`, `runner_classified_failure`).
#[derive(Debug)]
pub struct Finished {
    /// The report.
    pub report: DispatchReport,
    /// The events that finish the dispatch, in order.
    pub events: Vec<Event>,
}

/// A dispatch refused before (or at) launch: a classified result.
fn finish_refused(
    req: &DispatchRequest,
    prepare: &crate::events::Prepare,
    refusal: classify::Classification,
) -> Finished {
    let exit_status = crate::exit_status::for_dispatch(refusal.class, None, None, false);
    let report = base_report(req, prepare, refusal, exit_status);
    let events = vec![Event::RunnerClassifiedFailure(classified_event(&report))];
    Finished { report, events }
}

fn interrupted(sig: i32, ctx: &HintContext<'_>) -> classify::Classification {
    let name = classify::hint::signal_name(sig);
    classify::Classification {
        layer: crate::classify::Layer::Fact,
        class: crate::Class::KilledBySignal,
        rule: "fact.interrupted".into(),
        evidence: Some(format!("agentlane received {name} and stopped the agent's process group")),
        repair_hint: format!(
            "the dispatch of '{}' was interrupted by {name} sent to agentlane (an operator, a service manager stopping the unit, or a CI cancel); nothing is wrong with the agent itself",
            ctx.program
        ),
        retry_after_secs: None,
        reset_at: None,
    }
}

pub(crate) fn base_report(
    req: &DispatchRequest,
    p: &crate::events::Prepare,
    c: classify::Classification,
    exit_status: i32,
) -> DispatchReport {
    let mut report = DispatchReport {
        dispatch_id: p.dispatch_id.clone(),
        classifier: c.class,
        layer: c.layer,
        rule: c.rule,
        evidence: c.evidence,
        repair_hint: c.repair_hint,
        termination: Termination::NotStarted,
        duration_ms: 0,
        program: req.program.clone(),
        argv: p.argv.clone(),
        cwd: p.cwd.clone(),
        cwd_exists: p.cwd_exists,
        repo_root: p.repo_root.clone(),
        cli_path: p.cli_path.clone(),
        interpreter: p.interpreter.clone(),
        env_fingerprint: p.env_fingerprint.clone(),
        env_names: p.env_names.clone(),
        prompt_bytes: p.prompt_bytes,
        prompt_via: p.prompt_via.clone(),
        timeout_ms: p.timeout_ms,
        stdout_bytes: 0,
        stderr_bytes: 0,
        stdout_tail: String::new(),
        stderr_tail: String::new(),
        artifacts: Default::default(),
        artifact_error: None,
        artifact_errors: Vec::new(),
        stdout_artifact_truncated: false,
        stderr_artifact_truncated: false,
        stdout_dropped_bytes: 0,
        stderr_dropped_bytes: 0,
        leaked: false,
        leaked_processes: Vec::new(),
        failure_fingerprint: None,
        retry_after_secs: c.retry_after_secs,
        reset_at: c.reset_at.map(classify::reset::ResetAt::timestamp),
        route: req.route.clone(),
        model: req.model.clone(),
        job_id: req.job.as_ref().map(|j| j.id.clone()),
        attempt: req.job.as_ref().map(|j| j.attempt),
        exit_status,
        usage: None,
        watchdog: None,
    };
    report.failure_fingerprint = fingerprint_of(&report);
    report
}

fn fingerprint_of(r: &DispatchReport) -> Option<String> {
    failure_fingerprint(&FailureFacts {
        class: r.classifier,
        cli_path: r.cli_path.as_deref(),
        cwd_root: r.repo_root.as_deref().or(Some(r.cwd.as_path())),
        route: r.route.as_deref(),
        evidence: r.evidence.as_deref(),
        host: Some(this_host()),
    })
}

/// This host's name, read once per process.
fn this_host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(crate::os::host_name)
}

pub(crate) fn classified_event(r: &DispatchReport) -> ClassifiedFailure {
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
