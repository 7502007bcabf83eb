//! The worker: claims jobs of one lane and runs them through the dispatcher.
//!
//! ```text
//! loop: rescue expired leases (worker_lost) ─▶ preflight each route of the lane (cached)
//!         │ failing route: claim nothing for it, one incident, re-probe when its stamp changes or the TTL passes
//!         │ passing again: release its parked jobs
//!       ─▶ claim up to the free slots on healthy routes ─▶ run each: dispatch ─▶ decide ─▶ settle (fenced)
//!       ─▶ drain? exit when the lane has nothing queued, scheduled or running on runnable routes
//! stop (SIGTERM/SIGINT): claim nothing more, let running jobs finish up to the grace, then stop
//! them and release them back to the lane.
//! ```
//! A heartbeat task renews all of this worker's leases in one statement every
//! lease/3. Agents get a parent-death signal, so a killed worker takes its
//! agents with it and a rescued job never runs twice at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::class::Class;
use crate::config::{Config, Route};
use crate::dispatch::{repo_root, DispatchError, Dispatcher, Interrupt, JobRef};
use crate::events::PreflightChecked;
use crate::fingerprint::{failure_fingerprint, FailureFacts};
use crate::policy::{check_contract, route_allowed, Load, Payload};
use crate::preflight::{host_name, Options, Preflight, Stamp};
use crate::retry::{decide, AttemptFacts, Decision};
use crate::store::StoreError;

use super::{Completion, IncidentFacts, Job, Settle};

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The lane it serves.
    pub lane: String,
    /// Jobs at once.
    pub concurrency: usize,
    /// Exit when the lane has no work left.
    pub drain: bool,
    /// The worker's kind (a label: "local", "ci", "gpu-box" ...), part of its lease-owner id.
    pub kind: String,
    /// Claim without the preflight gate. Only the canary matrix does this: it
    /// must record evidence for every cell, impossible ones included.
    pub ungated: bool,
}

/// What a worker did, by class: its summary on exit.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WorkerSummary {
    /// This worker's lease-owner id.
    pub owner: String,
    /// Jobs claimed.
    pub claimed: u64,
    /// Attempts by class.
    pub classes: BTreeMap<String, u64>,
    /// Settlements by outcome (done, retry, park, fail, release).
    pub outcomes: BTreeMap<String, u64>,
    /// Late settlements rejected by the fence (the lease was lost).
    pub rejected_settles: u64,
    /// Jobs rescued from expired leases.
    pub rescued: u64,
    /// The worker stopped because it could not renew its leases (cut off from the store).
    pub lost_leases: bool,
    /// Routes whose preflight failed, with the class.
    pub unhealthy_routes: BTreeMap<String, String>,
}

/// A worker failure (the store); a failing agent is never one.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The dispatcher failed.
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    /// The lane cannot run anything.
    #[error("{0}")]
    Lane(String),
}

struct Shared {
    dispatcher: Arc<Dispatcher>,
    config: Arc<Config>,
    owner: String,
    host: String,
    lane: String,
    abort: Interrupt,
}

/// The outcome of one job's attempt, for the summary.
struct Ran {
    route: String,
    class: Class,
    outcome: &'static str,
    accepted: bool,
}

/// Per route, the preflight stamp seen when a job of it was last parked: the
/// parked jobs are released once preflight passes with a different stamp
/// (binary installed, PATH fixed, credentials written) — never by a re-probe
/// of an unchanged environment, which would only park them again.
type ParkedStamps = HashMap<String, Stamp>;

fn jitter_sample() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::getrandom(&mut b);
    u32::from_le_bytes(b) as f64 / (u32::MAX as f64 + 1.0)
}

/// An idle pass: woken by new jobs (LISTEN/NOTIFY) or after the poll interval.
async fn wait_for_work(store: &Arc<dyn crate::store::Store>, lane: &str, config: &Config) {
    if config.queue.listen {
        store.wait_for_jobs(lane, config.queue.poll).await;
    } else {
        tokio::time::sleep(config.queue.poll).await;
    }
}

/// Runs a worker until it is stopped (or, with `drain`, until the lane is empty).
pub async fn run_worker(
    dispatcher: Arc<Dispatcher>,
    config: Arc<Config>,
    options: WorkerOptions,
    mut stop: watch::Receiver<bool>,
) -> Result<WorkerSummary, WorkerError> {
    let store = dispatcher.store().clone();
    let host = host_name();
    let owner = format!(
        "{}@{host}:{}:{}",
        options.kind,
        std::process::id(),
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    );
    let lane_cfg = config.lanes.get(&options.lane);
    let routes: Vec<Route> = match lane_cfg {
        Some(l) if !l.routes.is_empty() => l
            .routes
            .iter()
            .filter_map(|r| config.routes.get(r).cloned())
            .collect(),
        _ => config.routes.values().cloned().collect(),
    };
    // A configured worker kind gives every route its context (environment, user).
    let routes: Vec<Route> = match config.workers.get(&options.kind) {
        Some(kind) => routes.iter().map(|r| kind.apply(r)).collect(),
        None => routes,
    };
    if routes.is_empty() {
        return Err(WorkerError::Lane(format!(
            "lane '{}' has no routes to run: define routes in {}",
            options.lane,
            config.path.display()
        )));
    }
    let concurrency = options.concurrency.max(1).min(
        lane_cfg
            .and_then(|l| l.concurrency)
            .map_or(usize::MAX, |c| c as usize),
    );
    let lease = config.queue.lease;
    let (abort_tx, abort) = Interrupt::channel();
    let abort_tx = Arc::new(abort_tx);
    let shared = Arc::new(Shared {
        dispatcher: dispatcher.clone(),
        config: config.clone(),
        owner: owner.clone(),
        host: host.clone(),
        lane: options.lane.clone(),
        abort,
    });
    // Renew every lease in one statement every lease/3. A worker that cannot
    // renew (cut off from the store) stops its agents once two renewals have
    // failed, measured on its own monotonic clock: with the dispatch's kill
    // grace they are gone before the lease can expire and another worker
    // rescues the job, so a partition never yields two runs of one job.
    let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let heartbeat = {
        let store = store.clone();
        let owner = owner.clone();
        let abort_tx = abort_tx.clone();
        let lost = lost.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(lease / 3);
            let mut last_renewed = std::time::Instant::now();
            loop {
                tick.tick().await;
                match store.heartbeat(&owner, lease).await {
                    Ok(_) => last_renewed = std::time::Instant::now(),
                    Err(_) if last_renewed.elapsed() >= lease * 2 / 3 => {
                        lost.store(true, std::sync::atomic::Ordering::SeqCst);
                        let _ = abort_tx.send(Some(libc::SIGTERM));
                    }
                    Err(_) => {}
                }
            }
        })
    };
    let preflight = Preflight::new(config.preflight.clone());
    let mut summary = WorkerSummary {
        owner: owner.clone(),
        ..Default::default()
    };
    let mut healthy_before: HashMap<String, bool> = HashMap::new();
    let mut parked: ParkedStamps = HashMap::new();
    let mut last_rescue = std::time::Instant::now() - lease;
    let mut running: JoinSet<Result<Ran, WorkerError>> = JoinSet::new();
    let result: Result<(), WorkerError> = async {
        loop {
            // A worker cut off from the store has stopped its agents: it stops
            // too, instead of claiming jobs it could not hold.
            if *stop.borrow() || lost.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            // Maintenance at most twice a lease, not on every pass of the loop:
            // it is a write transaction that the claim path should not pay for.
            // One leader among the workers runs maintenance, renewing its
            // leadership every lease/2; rescue is fenced and idempotent, so two
            // leaders by mistake would do no harm.
            if last_rescue.elapsed() >= lease / 2 {
                last_rescue = std::time::Instant::now();
                if store.try_lead("maintenance", &owner, lease).await? {
                    for job in store.rescue_expired(&owner, lease).await? {
                        summary.rescued += 1;
                        let shared = shared.clone();
                        running.spawn(async move { settle_lost(&shared, job).await });
                    }
                }
            }
            let healthy: Vec<String> = if options.ungated {
                routes.iter().map(|r| r.name.clone()).collect()
            } else {
                check_routes(
                    &shared,
                    &preflight,
                    &routes,
                    &mut healthy_before,
                    &mut parked,
                    &mut summary,
                )
                .await?
            };
            let free = concurrency.saturating_sub(running.len());
            if free > 0 && !healthy.is_empty() {
                let claimed = store
                    .claim(&options.lane, &healthy, &owner, lease, free)
                    .await?;
                summary.claimed += claimed.len() as u64;
                for job in claimed {
                    let shared = shared.clone();
                    running.spawn(async move { run_job(&shared, job).await });
                }
            }
            if options.drain && running.is_empty() {
                let pending = store.lane_pending(&options.lane, &healthy).await?;
                if pending.waiting == 0 && pending.running == 0 {
                    break;
                }
            }
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => {
                    if let Some(route) = record(&mut summary, done)? {
                        if let Some(r) = config.routes.get(&route) {
                            parked.insert(route, Stamp::of(&config, r, dispatcher.home().key()));
                        }
                    }
                }
                _ = wait_for_work(&store, &options.lane, &config) => {}
                _ = stop.changed() => {}
            }
        }
        // Stopping: let running jobs finish up to the grace, then stop and release them.
        let grace = tokio::time::sleep(config.queue.shutdown_grace);
        tokio::pin!(grace);
        while !running.is_empty() {
            tokio::select! {
                Some(done) = running.join_next() => {
                    record(&mut summary, done)?;
                }
                _ = &mut grace => {
                    let _ = abort_tx.send(Some(libc::SIGTERM));
                    while let Some(done) = running.join_next().await {
                        record(&mut summary, done)?;
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    heartbeat.abort();
    summary.lost_leases = lost.load(std::sync::atomic::Ordering::SeqCst);
    result.map(|()| summary)
}

fn record(
    summary: &mut WorkerSummary,
    done: Result<Result<Ran, WorkerError>, tokio::task::JoinError>,
) -> Result<Option<String>, WorkerError> {
    let ran = match done {
        Ok(r) => r?,
        Err(e) => return Err(WorkerError::Lane(format!("a job task failed: {e}"))),
    };
    *summary.classes.entry(ran.class.label()).or_default() += 1;
    *summary.outcomes.entry(ran.outcome.to_string()).or_default() += 1;
    if !ran.accepted {
        summary.rejected_settles += 1;
    }
    Ok((ran.outcome == "park").then_some(ran.route))
}

/// Preflights every route (cached); returns the names of the healthy ones.
async fn check_routes(
    shared: &Shared,
    preflight: &Preflight,
    routes: &[Route],
    before: &mut HashMap<String, bool>,
    parked: &mut ParkedStamps,
    summary: &mut WorkerSummary,
) -> Result<Vec<String>, WorkerError> {
    let store = shared.dispatcher.store();
    let mut healthy = Vec::new();
    for route in routes {
        let result = preflight
            .check(
                &shared.dispatcher,
                &shared.config,
                route,
                None,
                Options::default(),
            )
            .await?;
        let ok = result.cli_resolves && result.cli_ready;
        let was = before.insert(route.name.clone(), ok);
        if ok {
            healthy.push(route.name.clone());
            summary.unhealthy_routes.remove(&route.name);
            let changed_since_park = parked.get(&route.name).is_some_and(|at| {
                *at != Stamp::of(&shared.config, route, shared.dispatcher.home().key())
            });
            if was != Some(true) || changed_since_park {
                parked.remove(&route.name);
                // Health flipped, the environment changed since a park, or a
                // fresh worker: release what was parked for this route.
                store
                    .release_parked(
                        &shared.lane,
                        &route.name,
                        &format!(
                            "released: preflight of route '{}' passes on {}",
                            route.name, shared.host
                        ),
                    )
                    .await?;
            }
        } else {
            summary.unhealthy_routes.insert(
                route.name.clone(),
                result
                    .classifier
                    .map_or_else(|| "unknown".into(), |c| c.label()),
            );
            if !result.cached {
                store
                    .open_incident(&preflight_incident(shared, route, &result))
                    .await?;
            }
        }
    }
    Ok(healthy)
}

fn preflight_incident(shared: &Shared, route: &Route, r: &PreflightChecked) -> IncidentFacts {
    let class = r.classifier.unwrap_or(Class::UnknownExit(-1));
    let cwd = route
        .cwd
        .clone()
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
    let root = repo_root(&cwd).unwrap_or(cwd);
    let fingerprint = failure_fingerprint(&FailureFacts {
        class,
        cli_path: r.cli_path.as_deref(),
        cwd_root: Some(&root),
        route: Some(&route.name),
        evidence: r.evidence.as_deref(),
    })
    .unwrap_or_default();
    IncidentFacts {
        fingerprint,
        class,
        route: Some(route.name.clone()),
        lane: Some(shared.lane.clone()),
        host: shared.host.clone(),
        repair_hint: r.repair_hint.clone().unwrap_or_default(),
        evidence: r.evidence.clone(),
    }
}

async fn run_job(shared: &Shared, job: Job) -> Result<Ran, WorkerError> {
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
            None,
            Class::ConfigInvalid,
            Settle::Park,
            reason,
            None,
        )
        .await;
    };
    let kind = config.kinds.get(&job.kind);
    let lane = config.lanes.get(&job.lane);
    let mut req = route.request(Some(job.prompt.clone().into_bytes()));
    req.job = Some(JobRef {
        id: job.id.clone(),
        attempt: job.attempts,
    });
    req.gate = kind
        .map(|k| {
            check_contract(
                k,
                &Payload {
                    prompt: job.prompt.as_bytes(),
                    fields: &job.fields,
                },
            )
        })
        .transpose()
        .err()
        .or_else(|| route_allowed(kind, route, lane, Some(&job.fields), Load::default()).err());
    if let Some(ms) = job.timeout_ms {
        req.timeout = Some(Duration::from_millis(ms));
    }
    if job.diagnostics {
        req.diagnostics = true;
        req.tail_bytes = 64 * 1024;
        req.args
            .extend(route.profile.verbose_args.iter().map(|s| s.to_string()));
    }
    req.rules = route.rules.clone().map(Arc::new);
    // Stopped at 2/3 of a lease when renewals fail, the agent must be dead
    // before the lease ends: cap the SIGTERM → SIGKILL grace at lease/6.
    req.kill_grace = req.kill_grace.min(config.queue.lease / 6);
    let timeout = req.timeout;
    let report = shared
        .dispatcher
        .dispatch(req, shared.abort.clone())
        .await?;
    if report.interrupted_by.is_some() {
        let reason = "released: the worker stopped before the attempt finished".to_string();
        return settle(
            shared,
            &job,
            Some(report.dispatch_id.clone()),
            report.classifier,
            Settle::Release,
            reason,
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
            retry_after_secs: report.retry_after_secs.or_else(|| match report.classifier {
                Class::QuotaExhausted => seconds_until_reset(report.evidence.as_deref()),
                _ => None,
            }),
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
    });
    let (settlement, reason) = settlement(decision);
    settle(
        shared,
        &job,
        Some(report.dispatch_id),
        report.classifier,
        settlement,
        reason,
        incident,
    )
    .await
}

/// A decision as the store settles it, with its reason.
fn settlement(decision: Decision) -> (Settle, String) {
    match decision {
        Decision::Done => (Settle::Done, "succeeded".to_string()),
        Decision::Retry {
            delay,
            timeout,
            diagnostics,
            reason,
        } => (
            Settle::Retry {
                delay,
                timeout,
                diagnostics,
            },
            reason,
        ),
        Decision::Park { reason } => (Settle::Park, reason),
        Decision::Fail { reason } => (Settle::Fail, reason),
    }
}

/// Seconds until a usage limit's printed reset (a Unix time), if it is in the future.
fn seconds_until_reset(evidence: Option<&str>) -> Option<u64> {
    let at = crate::classify::hint::reset_epoch(evidence?)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    at.checked_sub(now).filter(|s| *s > 0)
}

/// A job whose worker vanished: decided as `worker_lost`.
async fn settle_lost(shared: &Shared, job: Job) -> Result<Ran, WorkerError> {
    let decision = decide(
        &shared.config.retry,
        &AttemptFacts {
            class: Class::WorkerLost,
            attempt: job.attempts,
            route: Some(&job.route),
            retry_after_secs: None,
            timeout: job.timeout_ms.map(Duration::from_millis),
            evidence: Some("the lease of the worker running it expired"),
            jitter_sample: jitter_sample(),
        },
    );
    let (settlement, reason) = settlement(decision);
    settle(
        shared,
        &job,
        job.last_dispatch_id.clone(),
        Class::WorkerLost,
        settlement,
        reason,
        None,
    )
    .await
}

async fn settle(
    shared: &Shared,
    job: &Job,
    dispatch_id: Option<String>,
    class: Class,
    settle: Settle,
    reason: String,
    incident: Option<IncidentFacts>,
) -> Result<Ran, WorkerError> {
    let outcome = match &settle {
        Settle::Done => "done",
        Settle::Retry { .. } => "retry",
        Settle::Park => "park",
        Settle::Fail => "fail",
        Settle::Release => "release",
    };
    let accepted = shared
        .dispatcher
        .store()
        .settle(&Completion {
            job_id: job.id.clone(),
            attempt: job.attempts,
            owner: shared.owner.clone(),
            dispatch_id,
            class,
            settle,
            reason,
            incident,
        })
        .await?;
    Ok(Ran {
        route: job.route.clone(),
        class,
        outcome,
        accepted,
    })
}
