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
//! lease/3. The dispatcher's death guard kills the agents' process groups
//! when the worker dies, so a killed worker takes its agents with it and a
//! rescued job never runs twice at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::class::Class;
use crate::config::{Config, Route};
use crate::dispatch::{repo_root, DispatchError, Dispatcher, Finished, Interrupt, JobRef};
use crate::events::PreflightChecked;
use crate::fingerprint::{failure_fingerprint, FailureFacts};
use crate::policy::{check_contract, route_allowed, Load, Payload};
use crate::os::host_name;
use crate::preflight::{Options, Preflight, Stamp};
use crate::model::{Completion, Decision, IncidentFacts, Job, Next, Step};
use crate::retry::{decide, AttemptFacts};
use crate::store::StoreError;



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

/// The most rows of each kind one maintenance pass folds or prunes, so a
/// pass stays a short transaction; the next pass (lease/2 later) goes on.
const MAINTENANCE_BATCH: usize = 5000;

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
    /// Finished jobs this worker pruned as the maintenance leader.
    pub pruned_jobs: u64,
    /// Store outages the worker waited through.
    pub store_outages: u64,
    /// Attempts whose settlement could not be written (the store stayed
    /// unreachable): their leases expire and the maintenance leader rescues them.
    pub unsettled: u64,
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
    /// The worker kind names a user that does not exist: no agent runs.
    #[error(transparent)]
    UnknownUser(#[from] crate::config::UnknownUser),
}

struct Shared {
    dispatcher: Arc<Dispatcher>,
    config: Arc<Config>,
    owner: String,
    host: String,
    lane: String,
    held: Held,
    /// What to claim for a slot its attempt frees, in the settlement's own
    /// statement; None while the worker stops or no route passes preflight.
    next: std::sync::Mutex<Option<crate::store::NextClaim>>,
    /// Jobs claimed that way.
    chained: std::sync::atomic::AtomicU64,
}

/// The outcome of one job's attempt, for the summary.
struct Ran {
    route: String,
    class: Class,
    outcome: Step,
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
        Some(kind) => routes
            .iter()
            .map(|r| kind.apply(r))
            .collect::<Result<_, _>>()?,
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
    let held = Held::default();
    let shared = Arc::new(Shared {
        dispatcher: dispatcher.clone(),
        config: config.clone(),
        owner: owner.clone(),
        host: host.clone(),
        lane: options.lane.clone(),
        held: held.clone(),
        next: std::sync::Mutex::new(None),
        chained: std::sync::atomic::AtomicU64::new(0),
    });
    // Every lease/3, renew the leases of the jobs this worker runs, in one
    // statement. A job whose lease was not renewed (expired, rescued) is
    // stopped at once. A worker that cannot renew at all (cut off from the
    // store) stops its agents 2/3 of a lease after its last renewal that
    // counted, measured on its own monotonic clock: with the dispatch's kill grace capped at lease/6
    // they are gone before the lease can expire and another worker rescues
    // the job, so a partition never yields two runs of one job.
    let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let heartbeat = {
        let store = store.clone();
        let owner = owner.clone();
        let held = held.clone();
        let lost = lost.clone();
        tokio::spawn(async move {
            use tokio::time::Instant;
            let mut last_renewed = Instant::now();
            let mut next = last_renewed + lease / 3;
            loop {
                // The agents must stop 2/3 of a lease after the last renewal
                // that counted, whatever a renewal in flight is doing: no
                // attempt runs past that deadline.
                let deadline = last_renewed + lease * 2 / 3;
                tokio::time::sleep_until(next).await;
                let sent = Instant::now();
                let budget = (lease / 3).min(deadline.saturating_duration_since(sent));
                // A renewal extends the lease from when the database ran it,
                // which is no earlier than when it was sent: measure from the
                // send, so the agents stop at 2/3 of a lease after the last
                // renewal that counted, never later.
                let ids = held.ids();
                let renewal = if budget.is_zero() {
                    None
                } else {
                    tokio::time::timeout(budget, store.heartbeat(&owner, &ids, lease))
                        .await
                        .ok()
                };
                let renewed = match renewal {
                    Some(Ok(renewed)) => {
                        last_renewed = sent;
                        held.stop_unrenewed(&ids, &renewed);
                        true
                    }
                    _ if Instant::now() >= deadline => {
                        // Cut off: the worker stops claiming and exits.
                        lost.store(true, std::sync::atomic::Ordering::SeqCst);
                        held.stop_all(libc::SIGTERM);
                        break;
                    }
                    _ => false,
                };
                next = next_renewal(sent, Instant::now(), renewed, deadline, lease);
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
    let mut outage = Outage::new(&owner);
    let mut running: JoinSet<Chain> = JoinSet::new();
    // A transient store failure (the database restarting, a connection cut)
    // does not end the worker: it waits, backing off, and tries again.
    macro_rules! patiently {
        ($op:expr) => {
            match $op {
                Ok(v) => {
                    outage.over();
                    v
                }
                Err(e) if e.is_transient() => {
                    outage.wait(&e as &dyn std::fmt::Display, &mut stop).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        };
    }
    let result: Result<(), WorkerError> = async {
        loop {
            // A worker cut off from the store has stopped its agents: it stops
            // too, instead of claiming jobs it could not hold.
            if *stop.borrow() || lost.load(std::sync::atomic::Ordering::SeqCst) {
                *shared.next.lock().unwrap_or_else(|p| p.into_inner()) = None;
                break;
            }
            // Collect finished jobs first: a job task whose settlement could
            // not be written (store unreachable) is left to the rescue.
            while let Some(done) = running.try_join_next() {
                for route in record(&mut summary, done)? {
                    if let Some(r) = config.routes.get(&route) {
                        parked.insert(route, Stamp::of(&config, r, dispatcher.home().key()));
                    }
                }
            }
            // Maintenance at most twice a lease, not on every pass of the loop:
            // it is a write transaction that the claim path should not pay for.
            // One leader among the workers runs maintenance, renewing its
            // leadership every lease/2; rescue is fenced and idempotent, so two
            // leaders by mistake would do no harm.
            if last_rescue.elapsed() >= lease / 2 {
                last_rescue = std::time::Instant::now();
                if patiently!(store.try_lead("maintenance", &owner, lease).await) {
                    for job in patiently!(store.rescue_expired(&owner, lease).await) {
                        summary.rescued += 1;
                        let shared = shared.clone();
                        let interrupt = held.hold(&job.id);
                        running.spawn(async move {
                            let id = job.id.clone();
                            let ran = settle_lost(&shared, job).await;
                            drop(interrupt);
                            shared.held.release(&id);
                            match ran {
                                Ok((ran, _)) => (vec![ran], Ok(())),
                                Err(e) => (Vec::new(), Err(e)),
                            }
                        });
                    }
                    // Fold batched incident counts; prune on the retention.
                    let done = patiently!(
                        store
                            .maintain(config.queue.retention, MAINTENANCE_BATCH)
                            .await
                    );
                    summary.pruned_jobs += done.jobs;
                }
            }
            let healthy: Vec<String> = if options.ungated {
                routes.iter().map(|r| r.name.clone()).collect()
            } else {
                patiently!(
                    check_routes(
                        &shared,
                        &preflight,
                        &routes,
                        &mut healthy_before,
                        &mut parked,
                        &mut summary,
                    )
                    .await
                )
            };
            // A finishing attempt claims its slot's next job in its own
            // settlement, on the routes that pass preflight now.
            *shared.next.lock().unwrap_or_else(|p| p.into_inner()) =
                (!healthy.is_empty()).then(|| crate::store::NextClaim {
                    lane: options.lane.clone(),
                    routes: healthy.clone(),
                    lease,
                });
            let free = concurrency.saturating_sub(running.len());
            if free > 0 && !healthy.is_empty() {
                let claimed = patiently!(
                    store
                        .claim(&options.lane, &healthy, &owner, lease, free)
                        .await
                );
                summary.claimed += claimed.len() as u64;
                for job in claimed {
                    let shared = shared.clone();
                    let interrupt = held.hold(&job.id);
                    running.spawn(run_chain(shared, job, interrupt));
                }
            }
            if options.drain && running.is_empty() {
                let pending = patiently!(store.lane_pending(&options.lane, &healthy).await);
                if pending.waiting == 0 && pending.running == 0 {
                    break;
                }
            }
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => {
                    for route in record(&mut summary, done)? {
                        if let Some(r) = config.routes.get(&route) {
                            parked.insert(route, Stamp::of(&config, r, dispatcher.home().key()));
                        }
                    }
                }
                _ = wait_for_work(&store, &options.lane, &config) => {}
                Ok(()) = stop.changed() => {}
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
                    held.stop_all(libc::SIGTERM);
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
    summary.claimed += shared.chained.load(std::sync::atomic::Ordering::Relaxed);
    summary.lost_leases = lost.load(std::sync::atomic::Ordering::SeqCst);
    summary.store_outages = outage.count;
    result.map(|()| summary)
}

/// When the heartbeat tries next. After a renewal that counted (sent at
/// `sent`): a lease/3 later. After a failed one (given up at `now`): again
/// soon, every lease/12, so a store that is back before the deadline (2/3 of
/// a lease after the last renewal that counted: a database restart, a
/// dropped connection) is renewed in time; and at the deadline at the
/// latest, where the worker gives up. Pure.
fn next_renewal<T>(sent: T, now: T, renewed: bool, deadline: T, lease: Duration) -> T
where
    T: std::ops::Add<Duration, Output = T> + Ord,
{
    if renewed {
        sent + lease / 3
    } else {
        (now + lease / 12).min(deadline)
    }
}

/// The jobs this worker holds a lease on, each with the trigger that stops
/// its agent: the heartbeat renews exactly these, and stops the ones whose
/// lease it could not renew.
#[derive(Clone, Default)]
struct Held(Arc<std::sync::Mutex<HashMap<String, tokio::sync::watch::Sender<Option<i32>>>>>);

impl Held {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, tokio::sync::watch::Sender<Option<i32>>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds `job`; the returned interrupt stops its agent.
    fn hold(&self, job: &str) -> Interrupt {
        let (tx, interrupt) = Interrupt::channel();
        self.lock().insert(job.to_string(), tx);
        interrupt
    }

    fn release(&self, job: &str) {
        self.lock().remove(job);
    }

    fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    fn stop_all(&self, signal: i32) {
        for tx in self.lock().values() {
            let _ = tx.send(Some(signal));
        }
    }

    /// Stops the jobs asked for but not renewed: their lease is gone.
    fn stop_unrenewed(&self, asked: &[String], renewed: &[String]) {
        let held = self.lock();
        for id in asked.iter().filter(|id| !renewed.contains(id)) {
            if let Some(tx) = held.get(id) {
                let _ = tx.send(Some(libc::SIGTERM));
            }
        }
    }
}

/// A store outage as the worker lives through it: said once when it starts
/// and once when it ends, with waits that double from the poll interval up
/// to 5 s.
struct Outage {
    owner: String,
    since: Option<std::time::Instant>,
    wait: Duration,
    count: u64,
}

impl Outage {
    fn new(owner: &str) -> Self {
        Outage {
            owner: owner.to_string(),
            since: None,
            wait: Duration::from_millis(100),
            count: 0,
        }
    }

    async fn wait(&mut self, e: &dyn std::fmt::Display, stop: &mut watch::Receiver<bool>) {
        if self.since.is_none() {
            self.since = Some(std::time::Instant::now());
            self.count += 1;
            eprintln!(
                "agentlane: worker {}: {e}; retrying until it answers",
                self.owner
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(self.wait) => {}
            Ok(()) = stop.changed() => {}
        }
        self.wait = (self.wait * 2).min(Duration::from_secs(5));
    }

    fn over(&mut self) {
        if let Some(since) = self.since.take() {
            eprintln!(
                "agentlane: worker {}: the store answers again after {:.1} s",
                self.owner,
                since.elapsed().as_secs_f64()
            );
        }
        self.wait = Duration::from_millis(100);
    }
}

impl WorkerError {
    /// Whether the failure was a store outage that may pass.
    pub fn is_transient(&self) -> bool {
        match self {
            WorkerError::Store(e)
            | WorkerError::Dispatch(DispatchError::Store(e))
            | WorkerError::Dispatch(DispatchError::Unrecorded { source: e, .. }) => {
                e.is_transient()
            }
            _ => false,
        }
    }
}

/// What a job task hands back: the attempts it settled (more than one when
/// it claimed the next job as it settled the previous one), and how it ended.
type Chain = (Vec<Ran>, Result<(), WorkerError>);

/// Counts a job task's attempts; returns the routes of the parked ones.
fn record(
    summary: &mut WorkerSummary,
    done: Result<Chain, tokio::task::JoinError>,
) -> Result<Vec<String>, WorkerError> {
    let (ran, ended) = match done {
        Ok(chain) => chain,
        Err(e) => return Err(WorkerError::Lane(format!("a job task failed: {e}"))),
    };
    let mut parked = Vec::new();
    for ran in ran {
        *summary.classes.entry(ran.class.label()).or_default() += 1;
        *summary.outcomes.entry(ran.outcome.label().to_string()).or_default() += 1;
        if !ran.accepted {
            summary.rejected_settles += 1;
        }
        if ran.outcome == Step::Park {
            parked.push(ran.route);
        }
    }
    match ended {
        Ok(()) => {}
        Err(e) if e.is_transient() => {
            // The attempt's settlement could not be written: its lease
            // expires and the maintenance leader rescues it as worker_lost.
            summary.unsettled += 1;
            eprintln!("agentlane: worker {}: an attempt could not be settled: {e}; its lease will expire and it will be rescued", summary.owner);
        }
        Err(e) => return Err(e),
    }
    Ok(parked)
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
        host: Some(&shared.host),
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
        reset_at: None,
    }
}

/// Runs a claimed job and, as long as each settlement claims the slot's next
/// job, those too.
async fn run_chain(shared: Arc<Shared>, job: Job, interrupt: Interrupt) -> Chain {
    let (mut job, mut interrupt) = (job, interrupt);
    let mut ran = Vec::new();
    loop {
        let id = job.id.clone();
        let result = run_job(&shared, job, interrupt).await;
        shared.held.release(&id);
        match result {
            Ok((r, next)) => {
                ran.push(r);
                let Some(next) = next else {
                    return (ran, Ok(()));
                };
                shared
                    .chained
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                interrupt = shared.held.hold(&next.id);
                job = next;
            }
            Err(e) => return (ran, Err(e)),
        }
    }
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
        // Before a `--` separator: after it they would be prompt text.
        crate::dispatch::prompt_arg::insert_options(
            &mut req.args,
            route.profile.verbose_args.iter().map(|s| s.to_string()),
        );
    }
    req.rules = route.rules.clone().map(Arc::new);
    // Stopped at 2/3 of a lease when renewals fail, the agent must be dead
    // before the lease ends: cap the SIGTERM → SIGKILL grace at lease/6.
    req.kill_grace = req.kill_grace.min(config.queue.lease / 6);
    let timeout = req.timeout;
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
    });
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

/// A job whose worker vanished: decided as `worker_lost`.
async fn settle_lost(shared: &Shared, job: Job) -> Result<(Ran, Option<Job>), WorkerError> {
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

/// The dispatch an attempt's settlement names.
enum Attempt<'a> {
    /// It ran: its outcome is not recorded yet, and is recorded with the
    /// settlement, in one transaction.
    Ran(&'a Finished),
    /// No dispatch to record: none ran (None), or a rescued attempt's.
    Recorded(Option<String>),
}

/// Settles `job`'s attempt.
async fn settle(
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
        settle: next,
        reason,
        incident,
    };
    // Worth retrying through a store outage for as long as the lease could
    // still be ours; the fence makes a repeat after a lost reply harmless.
    let store = shared.dispatcher.store();
    let patience = shared.config.queue.lease;
    // An attempt that ran, unless the worker is letting it go, claims its
    // slot's next job in the same statement. (After a lost reply, the repeat
    // is fenced off and claims nothing: a job the lost reply claimed expires
    // and is rescued.)
    let next = match (&finished, &completion.settle) {
        (Some(_), s) if !matches!(s, Next::Release) => shared
            .next
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
        _ => None,
    };
    let (accepted, next_job) = match (finished, next) {
        (Some(f), Some(next)) => {
            crate::store::with_patience(patience, || {
                store.finish_settle_and_claim(&f.report, &f.events, &completion, &next)
            })
            .await?
        }
        (Some(f), None) => {
            let accepted = crate::store::with_patience(patience, || {
                store.finish_and_settle(&f.report, &f.events, &completion)
            })
            .await?;
            (accepted, None)
        }
        (None, _) => (
            crate::store::with_patience(patience, || store.settle(&completion)).await?,
            None,
        ),
    };
    let ran = Ran {
        route: job.route.clone(),
        class,
        outcome,
        accepted,
    };
    Ok((ran, next_job))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_retries_soon_after_a_failure_and_never_past_its_deadline() {
        let s = Duration::from_secs_f64;
        let lease = s(30.0);
        // (sent, now, renewed, deadline) → next try; times as offsets.
        let cases = [
            ((s(10.0), s(10.1), true, s(20.0)), s(20.0)), // a lease/3 after the send
            ((s(10.0), s(10.2), false, s(20.0)), s(12.7)), // a failure: again in lease/12
            ((s(10.0), s(19.0), false, s(20.0)), s(20.0)), // not past the deadline
            ((s(10.0), s(20.0), false, s(20.0)), s(20.0)), // at it: give up there
        ];
        for ((sent, now, renewed, deadline), want) in cases {
            assert_eq!(
                next_renewal(sent, now, renewed, deadline, lease),
                want,
                "sent {sent:?}, now {now:?}, renewed {renewed}, deadline {deadline:?}"
            );
        }
    }
}
