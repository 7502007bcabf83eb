//! The route's circuit breaker in the worker (the decisions are
//! `crate::breaker`, pure; the row is the store's, shared by the fleet).
//!
//! - After each settled attempt ([`after_settle`]): a runtime failure on a
//!   closed route reads the route's latest attempts from the store (every
//!   worker's) and may open the breaker; the half-open trial's end closes
//!   it, or reopens it at the next backoff step.
//! - Each pass ([`Worker::breakers`]): an open breaker whose probe is due is
//!   probed by one worker (it pushes the probe back by a lease with a
//!   versioned write first): a fresh preflight of the route, with its canary
//!   where the route configures `canary_args`. A half-open route's one
//!   trial job is claimed with its breaker (`QueueStore::claim_trial`).
//! - Opening opens one incident (its class the dominant failure, its hint
//!   the next probe time); closing resolves it. Every transition is a
//!   `route_breaker` event with its reason and a log line, and passes
//!   through [`breaker_transition`], where the alert sender belongs.
//!
//! The claim statement itself refuses a route whose breaker is not closed
//! (`store::rules::NOT_BROKEN`), so nothing here has to remember it.

use std::time::Duration;

use super::run::run_chain;
use super::types::{Clock, Shared, Worker, WorkerError};
use crate::breaker::{step, Breaker, Input, State, Transition};
use crate::class::Class;
use crate::events::{Event, RouteBreakerChanged};
use crate::fingerprint::{failure_fingerprint, FailureFacts};
use crate::model::{Actor, BreakerState, IncidentFacts, Job, RouteBreaker};
use crate::preflight::{Options, Preflight};

/// How often a worker reads the breakers' rows for due probes and trials.
const BREAKERS_EVERY: Duration = Duration::from_secs(1);

/// How long a worker that took a probe holds it: past this, the probe is
/// due again for any worker (the prober died). Pure.
fn probe_lease(shared: &Shared) -> Duration {
    shared.config.preflight.probe_timeout * 4 + Duration::from_secs(30)
}

/// What the worker's breakers need besides the store: the clock that
/// decides (the system's; tests pass their own).
pub(super) struct Breakers {
    pub(super) clock: Clock,
    /// Whether this worker's failures may open a breaker: not an ungated
    /// worker's (the canary matrix records every cell, impossible ones
    /// included, and must not rest the routes it measures).
    pub(super) opens: bool,
    /// The half-open trials this worker claimed and has not settled: only
    /// their settlements (and failures that count, and lost attempts) need
    /// the breaker's row; a plain success reads nothing more.
    pub(super) trials: std::sync::Mutex<std::collections::HashSet<String>>,
}

async fn row_of(shared: &Shared, route: &str) -> Result<Option<RouteBreaker>, WorkerError> {
    Ok(shared
        .store
        .route_breakers()
        .await?
        .into_iter()
        .find(|b| b.route == route))
}

/// Feeds a settled attempt of `job` (class `class`) to its route's breaker.
/// A failure to read or write the breaker is logged, never the
/// settlement's: the next attempt feeds it again.
pub(super) async fn after_settle(shared: &Shared, job: &Job, class: Class) {
    if let Err(e) = feed(shared, job, class).await {
        tracing::warn!(route = %job.route, job_id = %job.id, "circuit breaker not updated: {e}");
    }
}

async fn feed(shared: &Shared, job: &Job, class: Class) -> Result<(), WorkerError> {
    let trial = shared
        .breakers
        .trials
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&job.id);
    // A success (or any class that is no evidence) of a job that is not
    // this worker's trial changes no breaker: no store read per job. A
    // lost attempt is read: it may be another worker's trial.
    if !trial && !class.breaker_evidence() && class != Class::WorkerLost {
        return Ok(());
    }
    let before = row_of(shared, &job.route).await?;
    let breaker = before
        .as_ref()
        .map_or_else(Breaker::closed, Breaker::from_row);
    let settings = &shared.config.breaker;
    let now = shared.breakers.clock.now();
    let attempts;
    let mut dominant = None;
    let input = match &breaker.state {
        State::HalfOpen {
            trial: Some(trial), ..
        } if *trial == job.id => Input::Settled {
            job: &job.id,
            class,
        },
        State::Closed if settings.enabled && shared.breakers.opens && class.breaker_evidence() => {
            attempts = shared
                .store
                .route_attempts(&job.route, settings.window_attempts as usize)
                .await?;
            let failures = crate::breaker::evidence(settings, &attempts, breaker.changed_at, now);
            dominant = crate::breaker::dominant(&failures);
            Input::Attempts(&attempts)
        }
        _ => return Ok(()),
    };
    if let Some(t) = step(
        settings,
        &breaker,
        &input,
        now,
        super::settle::jitter_sample(),
    ) {
        apply(shared, &job.route, before, t, dominant).await?;
    }
    Ok(())
}

/// Writes a transition (only over the row it was decided from: a worker
/// that loses the race changes nothing), then what goes with it: the
/// incident opened or resolved, the event, the log line, the alert.
/// `dominant` is the class most of the failures that open it had.
/// Returns the row written, None when another worker wrote first.
async fn apply(
    shared: &Shared,
    route: &str,
    before: Option<RouteBreaker>,
    t: Transition,
    dominant: Option<Class>,
) -> Result<Option<RouteBreaker>, WorkerError> {
    let mut row = t.to.to_row(route, before.as_ref());
    let to = row.state;
    let mut opened_by: Option<(Class, String)> = None;
    if t.from == BreakerState::Closed && to == BreakerState::Open {
        let class = dominant.unwrap_or(Class::TransientIo);
        let facts = incident(shared, route, &row, class);
        opened_by = Some((class, facts.repair_hint.clone()));
        row.incident_id = Some(shared.store.open_incident(&facts).await?);
    }
    if !shared.store.write_breaker(&row).await? {
        tracing::debug!(route, "circuit breaker changed by another worker first");
        return Ok(None);
    }
    row.version += 1;
    if to == BreakerState::Closed {
        if let Some(id) = &row.incident_id {
            let who = Actor {
                by: shared.owner.clone(),
                why: format!("circuit breaker of route '{route}' closed: {}", row.reason),
            };
            shared.store.resolve_incident(id, &who, false).await?;
        }
    }
    if t.from == to {
        tracing::info!(
            route,
            state = to.label(),
            reason = %row.reason,
            "circuit breaker unchanged"
        );
    } else {
        let event = RouteBreakerChanged {
            route: route.to_string(),
            from: t.from,
            to,
            reason: row.reason.clone(),
            next_probe_at: row.next_probe_at,
            owner: shared.owner.clone(),
        };
        match to {
            BreakerState::Open => tracing::warn!(
                route,
                from = t.from.label(),
                to = to.label(),
                reason = %event.reason,
                "circuit breaker open: the route claims nothing until a probe passes"
            ),
            _ => tracing::info!(
                route,
                from = t.from.label(),
                to = to.label(),
                reason = %event.reason,
                "circuit breaker changed"
            ),
        }
        breaker_transition(shared, &event, opened_by);
        shared
            .store
            .append_event(&Event::RouteBreaker(event))
            .await?;
    }
    Ok(Some(row))
}

/// Every change of a route's breaker passes here once, written and
/// recorded: the webhooks hear of it opening (with the class and hint of
/// the failures that opened it) and closing.
fn breaker_transition(
    shared: &Shared,
    event: &RouteBreakerChanged,
    opened_by: Option<(Class, String)>,
) {
    use crate::alerts::Alert;
    match (event.to, opened_by) {
        (BreakerState::Open, Some((class, hint))) => shared.alerts.send(Alert::BreakerOpened {
            route: event.route.clone(),
            class,
            hint,
            failures: 0,
            waiting: None,
        }),
        (BreakerState::Closed, _) => shared.alerts.send(Alert::BreakerClosed {
            route: event.route.clone(),
            reason: event.reason.clone(),
        }),
        _ => {}
    }
}

/// The incident a breaker opens: one per route and dominant class (the
/// fingerprint leaves the host out: the breaker is the fleet's).
fn incident(shared: &Shared, route: &str, row: &RouteBreaker, class: Class) -> IncidentFacts {
    let evidence = format!("circuit breaker open on route '{route}'");
    let fingerprint = failure_fingerprint(&FailureFacts {
        class,
        cli_path: None,
        cwd_root: None,
        route: Some(route),
        evidence: Some(&evidence),
        host: None,
    })
    .unwrap_or_default();
    IncidentFacts {
        fingerprint,
        class,
        route: Some(route.to_string()),
        lane: None,
        host: shared.host.clone(),
        repair_hint: format!(
            "the circuit breaker of route '{route}' is open ({}): nothing is claimed for it; the next probe (preflight{}) is at {}. Fix the provider or network side, or wait: a passing probe runs one trial job, and its success closes the breaker",
            row.reason,
            if shared
                .config
                .routes
                .get(route)
                .is_some_and(|r| r.canary_args.is_some())
            {
                " and canary"
            } else {
                ""
            },
            row.next_probe_at
                .map_or_else(|| "once due".to_string(), |t| t.to_string()),
        ),
        evidence: Some(evidence),
        reset_at: None,
        stamp: None,
    }
}

impl Worker {
    /// The breakers of this worker's routes: a due probe is taken and run
    /// (by one worker of the fleet); a half-open route's trial job is
    /// claimed when a slot is free.
    pub(super) async fn breakers(&mut self) -> Result<(), WorkerError> {
        // Probes and trials are due in seconds: read the rows at most once a
        // second, not at every pass (one query less per job on a busy lane).
        if self
            .breakers_checked
            .is_some_and(|t| t.elapsed() < BREAKERS_EVERY)
        {
            return Ok(());
        }
        self.breakers_checked = Some(std::time::Instant::now());
        let rows = self.store.route_breakers().await;
        let rows = self.answered(rows)?;
        let now = self.shared.breakers.clock.now();
        for row in rows {
            let Some(route) = self.routes.iter().find(|r| r.name == row.route).cloned() else {
                continue;
            };
            let b = Breaker::from_row(&row);
            match &b.state {
                State::Open { .. } if b.probe_due(now) => self.probe(&route, row, &b, now).await?,
                State::HalfOpen { trial: None, .. } if self.running.len() < self.concurrency => {
                    self.claim_trial(&route.name).await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn probe(
        &mut self,
        route: &crate::config::Route,
        row: RouteBreaker,
        b: &Breaker,
        now: jiff::Timestamp,
    ) -> Result<(), WorkerError> {
        let shared = self.shared.clone();
        let settings = &shared.config.breaker;
        let lease = probe_lease(&shared);
        let Some(taken) = step(settings, b, &Input::ProbeTaken { lease }, now, 0.0) else {
            return Ok(());
        };
        let mut held = taken.to.to_row(&route.name, Some(&row));
        if !shared.store.write_breaker(&held).await? {
            return Ok(()); // another worker probes
        }
        held.version += 1;
        let canary = route.canary_args.is_some();
        tracing::info!(route = %route.name, canary, "circuit breaker probe");
        // A fresh preflight (no cache: the probe must look now), recorded as
        // `preflight_checked` like every probe.
        let result = Preflight::new(shared.config.preflight.clone())
            .check(
                &shared.dispatcher,
                &shared.config,
                route,
                None,
                Options { canary },
            )
            .await?;
        let passed = result.cli_resolves && result.cli_ready;
        let detail = if passed {
            format!(
                "preflight{} passes",
                if canary { " and canary" } else { "" }
            )
        } else {
            format!(
                "{}: {}",
                result
                    .classifier
                    .map_or_else(|| "unknown".into(), |c| c.label()),
                result.evidence.as_deref().unwrap_or("preflight fails")
            )
        };
        let b = Breaker::from_row(&held);
        let now = shared.breakers.clock.now();
        let input = Input::Probe {
            passed,
            detail: &detail,
        };
        if let Some(t) = step(settings, &b, &input, now, super::settle::jitter_sample()) {
            apply(&shared, &route.name, Some(held), t, None).await?;
        }
        Ok(())
    }

    async fn claim_trial(&mut self, route: &str) -> Result<(), WorkerError> {
        let lease = self.shared.config.queue.lease;
        let claimed = self
            .store
            .claim_trial(&self.options.lane, route, &self.shared.owner, lease)
            .await;
        let Some(job) = self.answered(claimed)? else {
            return Ok(());
        };
        tracing::info!(
            job_id = %job.id,
            route = %job.route,
            attempt = job.attempts,
            "claimed as the circuit breaker's half-open trial"
        );
        self.summary.claimed += 1;
        self.shared
            .breakers
            .trials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job.id.clone());
        let interrupt = self.shared.held.hold(&job.id);
        self.running
            .spawn(run_chain(self.shared.clone(), job, interrupt));
        Ok(())
    }
}
