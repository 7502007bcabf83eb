//! The worker's types: its options and errors, what the loop shares with
//! the job tasks, and the running worker itself.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::gate::GateMemory;
use super::held::Held;
use super::outage::Outage;
use super::summary::{Chain, WorkerSummary};
use super::trust::Trust;
use crate::config::{Config, Route};
use crate::dispatch::{DispatchError, Dispatcher};
use crate::preflight::Preflight;
use crate::store::{NextClaim, QueueStore, StoreError};

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
    /// The clock that decides when an account's quota has reset and when a
    /// route's circuit breaker probes (the system's; tests pass their own).
    pub clock: Clock,
    /// Where this process counts its work for `/metrics` (None: not counted).
    pub metrics: Option<Arc<crate::metrics::WorkerMetrics>>,
}

/// A wall clock for the worker's time decisions: the system's, or one a
/// test sets.
#[derive(Clone)]
pub struct Clock(std::sync::Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(std::sync::Arc::new(jiff::Timestamp::now))
    }

    /// A clock that reads `f`.
    pub fn from_fn(f: impl Fn() -> jiff::Timestamp + Send + Sync + 'static) -> Clock {
        Clock(std::sync::Arc::new(f))
    }

    /// Now.
    pub fn now(&self) -> jiff::Timestamp {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
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
    /// The lane or the worker kind cannot be planned (an unknown lane, no
    /// routes, a user that does not exist): no agent runs.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
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

/// What the loop and the job tasks share.
pub(super) struct Shared {
    pub(super) dispatcher: Arc<Dispatcher>,
    /// Set by the heartbeat when the worker is cut off from the store (it
    /// could not renew its leases in time): see `heartbeat.rs`.
    pub(super) lost: Arc<AtomicBool>,
    /// The queue's part of the store.
    pub(super) store: Arc<dyn QueueStore>,
    pub(super) config: Arc<Config>,
    pub(super) owner: String,
    pub(super) host: String,
    pub(super) lane: String,
    pub(super) held: Held,
    /// What to claim for a slot its attempt frees, in the settlement's own
    /// statement; None while the worker stops or no route passes preflight.
    pub(super) next: std::sync::Mutex<Option<NextClaim>>,
    /// Jobs claimed that way.
    pub(super) chained: AtomicU64,
    /// Which routes have earned full concurrency (see `trust.rs`).
    pub(super) trust: Trust,
    /// A settlement saw `quota_exhausted`: the next pass parks the account's
    /// jobs at once instead of at its next scheduled check.
    pub(super) quota_seen: AtomicBool,
    /// The routes' circuit breakers (see `breaker.rs`).
    pub(super) breakers: super::breaker::Breakers,
    /// Where alerts go (off without webhooks).
    pub(super) alerts: crate::alerts::Alerts,
    /// Where this process counts its work (`WorkerOptions::metrics`).
    pub(super) metrics: Option<Arc<crate::metrics::WorkerMetrics>>,
}

impl Shared {
    /// What a settlement claims: on the gate's routes that this worker
    /// trusts (a route on trial runs one job at a time), none when none.
    pub(super) fn next_claim(&self) -> Option<NextClaim> {
        let next = self
            .next
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        let routes = self.trust.chainable(&next.routes);
        (!routes.is_empty()).then_some(NextClaim { routes, ..next })
    }

    /// Counts into the process's metrics, when it has them.
    pub(super) fn count(&self, f: impl FnOnce(&crate::metrics::WorkerMetrics)) {
        if let Some(m) = &self.metrics {
            f(m);
        }
    }

    /// The routes this worker could claim on now (its last pass's): what
    /// an idle wait asks the store about.
    pub(super) fn claimable_routes(&self) -> Vec<String> {
        self.next
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|n| n.routes.clone())
            .unwrap_or_default()
    }

    pub(super) fn set_next_claim(&self, next: Option<NextClaim>) {
        *self.next.lock().unwrap_or_else(|p| p.into_inner()) = next;
    }
}

/// Whether the worker goes on after a pass.
pub(super) enum Pass {
    /// Run another pass.
    Again,
    /// Stop (then the shutdown).
    Stop,
}

/// A running worker: its settings, what it remembers between passes, and
/// the job tasks it runs.
pub(super) struct Worker {
    pub(super) shared: Arc<Shared>,
    pub(super) store: Arc<dyn QueueStore>,
    pub(super) options: WorkerOptions,
    pub(super) routes: Vec<Route>,
    pub(super) concurrency: usize,
    pub(super) preflight: Preflight,
    pub(super) gate: GateMemory,
    pub(super) summary: WorkerSummary,
    pub(super) last_maintenance: std::time::Instant,
    pub(super) outage: Outage,
    pub(super) running: JoinSet<Chain>,
    /// Set by the heartbeat when the worker is cut off from the store.
    pub(super) lost: Arc<AtomicBool>,
    pub(super) stop: watch::Receiver<bool>,
    /// Whether the lane's daily budget held it at the last pass (`budget.rs`).
    pub(super) budget_held: bool,
    /// Accounts' quotas: which routes they block, when last read.
    pub(super) quota: super::quota::QuotaMemory,
    /// When the breakers' rows were last read for probes and trials.
    pub(super) breakers_checked: Option<std::time::Instant>,
    /// The store's mark of the last idle look ([`crate::store::IdleWait`]).
    pub(super) idle_mark: Option<f64>,
    /// The last idle wait ran out on a quiet lane (nothing due on this
    /// worker's routes): the next pass claims nothing.
    pub(super) quiet: bool,
}
