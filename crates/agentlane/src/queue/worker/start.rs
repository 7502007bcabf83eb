//! Starting a worker: its routes (each in its worker kind's context), its
//! lease-owner id, its heartbeat; then its passes until it stops.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::gate::GateMemory;
use super::heartbeat;
use super::held::Held;
use super::outage::Outage;
use super::summary::WorkerSummary;
use super::trust::Trust;
use super::types::{Shared, Worker, WorkerError, WorkerOptions};
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::os::host_name;
use crate::preflight::Preflight;
use crate::store::QueueStore;

/// Runs a worker until it is stopped (or, with `drain`, until the lane is empty).
pub async fn run_worker(
    dispatcher: Arc<Dispatcher>,
    store: Arc<dyn QueueStore>,
    config: Arc<Config>,
    options: WorkerOptions,
    stop: watch::Receiver<bool>,
) -> Result<WorkerSummary, WorkerError> {
    let routes = crate::plan::worker_routes(&config, &options.lane, &options.kind)?;
    let host = host_name();
    let owner = crate::model::owner::lease_owner(
        &options.kind,
        &host,
        std::process::id(),
        &uuid::Uuid::now_v7().simple().to_string()[20..],
    );
    let concurrency = options.concurrency.max(1).min(
        config
            .lanes
            .get(&options.lane)
            .and_then(|l| l.concurrency)
            .map_or(usize::MAX, |c| c as usize),
    );
    let lease = config.queue.lease;
    let clock = options.clock.clone();
    let (alerts, alerts_task) = crate::alerts::spawn(
        &config.alerts,
        store.clone(),
        &host,
        Some(options.lane.clone()),
        Arc::new(move || clock.now()),
        |var| std::env::var(var).ok(),
    );
    let lost = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Shared {
        lost: lost.clone(),
        dispatcher,
        store: store.clone(),
        config: config.clone(),
        owner: owner.clone(),
        host,
        lane: options.lane.clone(),
        held: Held::default(),
        next: std::sync::Mutex::new(None),
        chained: AtomicU64::new(0),
        trust: Trust::default(),
        quota_seen: AtomicBool::new(false),
        breakers: super::breaker::Breakers {
            clock: options.clock.clone(),
            opens: !options.ungated,
            trials: Default::default(),
        },
        alerts,
        metrics: options.metrics.clone(),
    });
    if options.ungated || !config.queue.trial {
        let names: Vec<String> = routes.iter().map(|r| r.name.clone()).collect();
        shared.trust.trust_all(&names);
    }
    tracing::info!(
        owner = %owner,
        lane = %options.lane,
        routes = %routes.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(","),
        concurrency,
        drain = options.drain,
        "worker started"
    );
    let heartbeat = heartbeat::spawn(
        store.clone(),
        owner.clone(),
        shared.held.clone(),
        lease,
        lost.clone(),
    );
    let seen = heartbeat::spawn_seen(
        store.clone(),
        crate::model::WorkerBeat {
            host: host_name(),
            kind: options.kind.clone(),
            lane: options.lane.clone(),
        },
        lease / 3,
    );
    let worker = Worker {
        shared,
        store,
        preflight: Preflight::new(config.preflight.clone()),
        gate: GateMemory::default(),
        summary: WorkerSummary {
            owner: owner.clone(),
            ..Default::default()
        },
        last_maintenance: std::time::Instant::now() - lease,
        outage: Outage::new(&owner),
        running: JoinSet::new(),
        lost,
        stop,
        budget_held: false,
        quota: super::quota::QuotaMemory::new(&config, &host_name()),
        breakers_checked: None,
        idle_mark: None,
        quiet: false,
        options,
        routes,
        concurrency,
    };
    let summary = worker.run().await;
    heartbeat.abort();
    seen.abort();
    alerts_task.flush(super::alerting::FLUSH_WAIT).await;
    match &summary {
        Ok(s) => tracing::info!(
            owner = %owner,
            claimed = s.claimed,
            rescued = s.rescued,
            "worker stopped"
        ),
        Err(e) => tracing::error!(owner = %owner, "worker stopped: {e}"),
    }
    summary
}
