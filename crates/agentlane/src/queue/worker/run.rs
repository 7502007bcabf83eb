//! Running a claimed job: its request built from the route and the job,
//! gated by the kind's payload contract and the route policy, dispatched
//! (unrecorded: the outcome is recorded with the settlement), decided by the
//! retry table, and settled — then the slot's next job, when the settlement
//! claimed one.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::settle::{jitter_sample, settle, Attempt, Ran};
use super::summary::Chain;
use super::{Shared, WorkerError};
use crate::class::Class;
use crate::dispatch::{DispatchError, Interrupt};
use crate::model::{Decision, IncidentFacts, Job, Next};
use crate::retry::{decide, AttemptFacts};
use crate::trace;
use tracing::Instrument;

/// Runs a claimed job and, as long as each settlement claims the slot's next
/// job, those too.
pub(super) async fn run_chain(shared: Arc<Shared>, job: Job, interrupt: Interrupt) -> Chain {
    let (mut job, mut interrupt) = (job, interrupt);
    let mut ran = Vec::new();
    loop {
        let (id, route) = (job.id.clone(), job.route.clone());
        let span = attempt_span(&job);
        let result = run_job(&shared, job, interrupt).instrument(span).await;
        shared.held.release(&id);
        match result {
            Ok((r, next)) => {
                ran.push(r);
                let Some(next) = next else {
                    return (ran, Ok(()));
                };
                shared.chained.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    job_id = %next.id,
                    lane = %next.lane,
                    route = %next.route,
                    attempt = next.attempts,
                    "claimed with the previous settlement"
                );
                interrupt = shared.held.hold(&next.id);
                job = next;
            }
            Err(e) => {
                shared.trust.abandoned(&route, &id);
                return (ran, Err(e));
            }
        }
    }
}

/// The attempt's span of the job's trace (`crate::trace`): the parent of
/// the dispatcher's stage spans. A no-op unless the binary exports traces.
fn attempt_span(job: &Job) -> tracing::Span {
    use tracing::field::Empty;
    tracing::trace_span!(
        target: trace::TARGET,
        trace::ATTEMPT,
        job_id = %job.id,
        lane = %job.lane,
        kind = %job.kind,
        route = %job.route,
        attempt = job.attempts,
        dispatch_id = Empty,
        class = Empty,
        exit_code = Empty,
        signal = Empty,
        timed_out = Empty,
        exit_status = Empty,
        decision = Empty,
        accepted = Empty,
    )
}

async fn run_job(
    shared: &Shared,
    job: Job,
    interrupt: Interrupt,
) -> Result<(Ran, Option<Job>), WorkerError> {
    let config = &shared.config;
    let Some(route) = config.routes.get(&job.route) else {
        let reason = format!(
            "route '{}' is no longer in {}: re-route the job or restore the route",
            job.route,
            config.path.display()
        );
        return settle(
            shared,
            &job,
            Attempt::Recorded(None),
            Class::ConfigInvalid,
            Decision {
                next: Next::Park,
                reason,
            },
            None,
        )
        .await;
    };
    let req = crate::plan::job_request(config, route, &job);
    let timeout = req.timeout;
    tracing::info!(
        job_id = %job.id,
        route = %job.route,
        attempt = job.attempts,
        "launching"
    );
    let finished = match shared.dispatcher.dispatch_unrecorded(req, interrupt).await {
        Ok(finished) => finished,
        // The store failed around the attempt (its prepare or its outcome
        // could not be recorded): give the job back rather than guess.
        Err(DispatchError::Store(e)) if e.is_transient() => {
            let reason = format!("released: the store failed around the attempt ({e})");
            return settle(
                shared,
                &job,
                Attempt::Recorded(None),
                Class::WorkerLost,
                Decision {
                    next: Next::Release,
                    reason,
                },
                None,
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    let report = &finished.report;
    let span = tracing::Span::current();
    if !span.is_disabled() {
        span.record("dispatch_id", report.dispatch_id.as_str());
        span.record("exit_code", report.termination.exit_code());
        span.record("signal", report.termination.signal());
        span.record("timed_out", report.termination.timed_out());
        span.record("exit_status", report.exit_status);
    }
    tracing::info!(
        job_id = %job.id,
        dispatch_id = %report.dispatch_id,
        route = %job.route,
        attempt = job.attempts,
        class = %report.classifier.label(),
        exit_code = report.termination.exit_code(),
        signal = report.termination.signal(),
        timed_out = report.termination.timed_out(),
        duration_ms = report.duration_ms,
        "attempt ended"
    );
    // An operator cancelled it while it ran: its heartbeat stopped the
    // process tree; it ends cancelled, whatever the stop made of the attempt.
    if let Some(reason) = shared.held.cancelled(&job.id) {
        return settle(
            shared,
            &job,
            Attempt::Ran(&finished),
            report.classifier,
            Decision {
                next: Next::Cancel,
                reason,
            },
            None,
        )
        .await;
    }
    if report.termination.interrupted_by().is_some() {
        let reason = "released: the worker stopped before the attempt finished".to_string();
        return settle(
            shared,
            &job,
            Attempt::Ran(&finished),
            report.classifier,
            Decision {
                next: Next::Release,
                reason,
            },
            None,
        )
        .await;
    }
    let decision = decide(
        &config.retry,
        &AttemptFacts {
            class: report.classifier,
            attempt: job.attempts,
            route: Some(&route.name),
            retry_after_secs: report.retry_after_secs,
            reset_at: report.reset_at,
            now: jiff::Timestamp::now(),
            timeout,
            evidence: report.evidence.as_deref(),
            jitter_sample: jitter_sample(),
        },
    );
    let incident = report.failure_fingerprint.as_ref().map(|fp| IncidentFacts {
        fingerprint: fp.clone(),
        class: report.classifier,
        route: Some(route.name.clone()),
        lane: Some(job.lane.clone()),
        host: shared.host.clone(),
        repair_hint: report.repair_hint.clone(),
        evidence: report.evidence.clone(),
        reset_at: report.reset_at,
        stamp: report.classifier.stops_route().then(|| {
            let key = shared.dispatcher.home().key();
            crate::preflight::Stamp::of(config, route, key).digest(key)
        }),
    });
    // Budgets (`budget.rs`): a spent job is not retried; a spent lane's
    // settlement claims no next job.
    let decision = super::budget::job_decision(shared, &job, &finished, decision).await?;
    super::budget::stop_chaining_if_spent(shared, &finished).await?;
    settle(
        shared,
        &job,
        Attempt::Ran(&finished),
        report.classifier,
        decision,
        incident,
    )
    .await
}
