//! Settling an attempt: the decision, fenced by (job, attempt, owner), in
//! one transaction with the attempt's outcome — and, for an attempt that ran,
//! the claim of its slot's next job in the same statement.

use std::time::Duration;

use super::Shared;
use super::WorkerError;
use crate::class::Class;
use crate::dispatch::Finished;
use crate::model::{Completion, Decision, IncidentFacts, Job, Next, Step};
use crate::retry::{decide, AttemptFacts};
use crate::trace;

/// The outcome of one job's attempt, for the summary.
pub(super) struct Ran {
    pub(super) class: Class,
    pub(super) outcome: Step,
    pub(super) accepted: bool,
}

/// The dispatch an attempt's settlement names.
pub(super) enum Attempt<'a> {
    /// It ran: its outcome is not recorded yet, and is recorded with the
    /// settlement, in one transaction.
    Ran(&'a Finished),
    /// No dispatch to record: none ran (None), or a rescued attempt's.
    Recorded(Option<String>),
}

/// A uniform sample in [0, 1) for the retry table's jitter.
pub(super) fn jitter_sample() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::getrandom(&mut b);
    u32::from_le_bytes(b) as f64 / (u32::MAX as f64 + 1.0)
}

/// A job whose worker vanished: decided as `worker_lost`.
pub(super) async fn settle_lost(
    shared: &Shared,
    job: Job,
) -> Result<(Ran, Option<Job>), WorkerError> {
    let decision = decide(
        &shared.config.retry,
        &AttemptFacts {
            class: Class::WorkerLost,
            attempt: job.attempts,
            route: Some(&job.route),
            retry_after_secs: None,
            reset_at: None,
            now: jiff::Timestamp::now(),
            timeout: job.timeout_ms.map(Duration::from_millis),
            evidence: Some("the lease of the worker running it expired"),
            jitter_sample: jitter_sample(),
        },
    );
    settle(
        shared,
        &job,
        Attempt::Recorded(job.last_dispatch_id.clone()),
        Class::WorkerLost,
        decision,
        None,
    )
    .await
}

/// The decision's log line: a job that needs a person (parked, failed for
/// good, a settlement the fence refused) is a warning; the rest is info.
fn log_decision(job: &Job, c: &Completion, accepted: bool) {
    let action = c.next.step().label();
    let delay_secs = c.next.row().delay.map(|d| d.as_secs_f64());
    if !accepted {
        tracing::warn!(
            job_id = %job.id,
            route = %job.route,
            attempt = c.attempt,
            class = %c.class.label(),
            action = %action,
            "settlement refused: this worker lost the job's lease (another worker decides it)"
        );
        return;
    }
    if let Some(i) = &c.incident {
        tracing::warn!(
            job_id = %job.id,
            route = %job.route,
            class = %i.class.label(),
            fingerprint = %i.fingerprint,
            hint = %i.repair_hint,
            "incident opened or counted"
        );
    }
    match c.next {
        Next::Park | Next::Fail => tracing::warn!(
            job_id = %job.id,
            route = %job.route,
            attempt = c.attempt,
            class = %c.class.label(),
            action = %action,
            reason = %c.reason,
            "decided"
        ),
        _ => tracing::info!(
            job_id = %job.id,
            route = %job.route,
            attempt = c.attempt,
            class = %c.class.label(),
            action = %action,
            delay_secs,
            reason = %c.reason,
            "decided"
        ),
    }
}

/// The decision on the attempt's span (`crate::trace`) and, when the job
/// reached a final state, the event its job span is built from.
fn trace_decision(job: &Job, c: &Completion, accepted: bool) {
    let span = tracing::Span::current();
    if !span.is_disabled() {
        span.record("class", c.class.label().as_str());
        span.record("decision", c.next.step().label());
        span.record("accepted", accepted);
    }
    if accepted && matches!(c.next, Next::Done | Next::Fail | Next::Cancel) {
        tracing::trace!(
            target: trace::TARGET,
            job_id = %job.id,
            lane = %job.lane,
            kind = %job.kind,
            route = %job.route,
            attempts = c.attempt,
            class = %c.class.label(),
            decision = c.next.step().label(),
            created_at = %job.created_at,
            "{}",
            trace::JOB
        );
    }
}

/// Settles `job`'s attempt.
pub(super) async fn settle(
    shared: &Shared,
    job: &Job,
    attempt: Attempt<'_>,
    class: Class,
    decision: Decision,
    incident: Option<IncidentFacts>,
) -> Result<(Ran, Option<Job>), WorkerError> {
    let Decision { next, reason } = decision;
    let outcome = next.step();
    let (finished, dispatch_id) = match attempt {
        Attempt::Ran(f) => (Some(f), Some(f.report.dispatch_id.clone())),
        Attempt::Recorded(id) => (None, id),
    };
    let completion = Completion {
        job_id: job.id.clone(),
        attempt: job.attempts,
        owner: shared.owner.clone(),
        dispatch_id,
        class,
        next,
        reason,
        incident,
    };
    // Worth retrying through a store outage for as long as the lease is
    // ours: the job stays held, so the heartbeat (on its kept connection)
    // renews it meanwhile, and a settlement the server could not take (its
    // connection slots all taken) is not turned into a lost lease and a
    // second run. Once the heartbeat gives up (cut off), so does this. The
    // fence makes a repeat after a lost reply harmless.
    let store = &shared.store;
    let patience = shared.config.queue.lease;
    let lost = &shared.lost;
    // An attempt that ran, unless the worker is letting it go, claims its
    // slot's next job in the same statement. (After a lost reply, the repeat
    // is fenced off and claims nothing: a job the lost reply claimed expires
    // and is rescued.)
    // A hard stop claims nothing: the route is blocked by its incident, and
    // this worker's trust in it is gone until an attempt earns it back.
    shared.trust.settled(&job.route, &job.id, class);
    if class == Class::QuotaExhausted {
        shared
            .quota_seen
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let claim = match (&finished, &completion.next) {
        _ if class.stops_route() => None,
        (Some(_), s) if !matches!(s, Next::Release) => shared.next_claim(),
        _ => None,
    };
    let (accepted, next_job) = match (finished, claim) {
        (Some(f), Some(next)) => {
            while_held(lost, patience, || {
                store.finish_settle_and_claim(&f.report, &f.events, &completion, &next)
            })
            .await?
        }
        (Some(f), None) => {
            let accepted = while_held(lost, patience, || {
                store.finish_and_settle(&f.report, &f.events, &completion)
            })
            .await?;
            (accepted, None)
        }
        (None, _) => (
            while_held(lost, patience, || store.settle(&completion)).await?,
            None,
        ),
    };
    log_decision(job, &completion, accepted);
    trace_decision(job, &completion, accepted);
    if accepted {
        shared.count(|m| m.decided(class, outcome));
        super::breaker::after_settle(shared, job, class).await;
        super::alerting::settled(shared, &job.route, &completion);
    }
    let ran = Ran {
        class,
        outcome,
        accepted,
    };
    Ok((ran, next_job))
}

/// [`crate::store::with_patience`] again and again while the worker is not
/// cut off (`lost`): a settlement waits out a saturated server for as long
/// as the heartbeat holds the lease.
async fn while_held<T, F, Fut>(
    lost: &std::sync::atomic::AtomicBool,
    patience: Duration,
    mut op: F,
) -> Result<T, crate::store::StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::store::StoreError>>,
{
    loop {
        match crate::store::with_patience(patience, &mut op).await {
            Err(e) if e.is_transient() && !lost.load(std::sync::atomic::Ordering::SeqCst) => {
                tracing::warn!("a settlement is waiting for the store: {e}");
            }
            other => return other,
        }
    }
}
