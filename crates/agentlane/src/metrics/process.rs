//! The process's own counters and histograms: what this worker did. Cheap
//! to update (atomics behind a label lookup), shared by the worker's loop
//! and its job tasks through an `Arc`.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::class::Class;
use crate::model::Step;

/// A family's label set: (name, value) pairs, every value from a bounded set.
type Labels = Vec<(&'static str, String)>;

/// A histogram family with fixed buckets.
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// How long an agent ran: seconds to hours.
const DISPATCH_BUCKETS: [f64; 14] = [
    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0,
];
/// How long a due job waited for a worker: milliseconds to an hour.
const WAIT_BUCKETS: [f64; 14] = [
    0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];
/// How long the claim statement took: sub-millisecond to seconds.
const CLAIM_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

fn dispatch_histogram() -> Histogram {
    Histogram::new(DISPATCH_BUCKETS)
}
fn wait_histogram() -> Histogram {
    Histogram::new(WAIT_BUCKETS)
}
fn claim_histogram() -> Histogram {
    Histogram::new(CLAIM_BUCKETS)
}

/// What one worker process counts. Its registry renders only what this
/// process did, so summing over scrape targets never counts twice.
#[derive(Debug)]
pub struct WorkerMetrics {
    registry: Registry,
    dispatches: Family<Labels, Counter>,
    dispatch_duration: Histograms,
    claim_latency: Histograms,
    claim_duration: Histograms,
    retries: Family<Labels, Counter>,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        WorkerMetrics::new()
    }
}

impl WorkerMetrics {
    /// Every family registered, all empty.
    pub fn new() -> WorkerMetrics {
        let mut registry = Registry::default();
        let dispatches = Family::<Labels, Counter>::default();
        let dispatch_duration = Histograms::new_with_constructor(dispatch_histogram);
        let claim_latency = Histograms::new_with_constructor(wait_histogram);
        let claim_duration = Histograms::new_with_constructor(claim_histogram);
        let retries = Family::<Labels, Counter>::default();
        registry.register(
            "agentlane_dispatches",
            "Agent runs this process finished, by route and class (ok for a success).",
            dispatches.clone(),
        );
        registry.register_with_unit(
            "agentlane_dispatch_duration",
            "How long each agent run of this process took, by route.",
            Unit::Seconds,
            dispatch_duration.clone(),
        );
        registry.register_with_unit(
            "agentlane_claim_latency",
            "How long a job waited, due, before this process claimed it (database clock), by lane.",
            Unit::Seconds,
            claim_latency.clone(),
        );
        registry.register_with_unit(
            "agentlane_claim_duration",
            "How long this process's claim statements took, by lane.",
            Unit::Seconds,
            claim_duration.clone(),
        );
        registry.register(
            "agentlane_retries",
            "Decisions this process took on attempts that did not succeed, by class and action (retry, park, fail, release, cancel).",
            retries.clone(),
        );
        WorkerMetrics {
            registry,
            dispatches,
            dispatch_duration,
            claim_latency,
            claim_duration,
            retries,
        }
    }

    /// An agent run ended with `class` after `duration`.
    pub fn dispatched(&self, route: &str, class: Class, duration: Duration) {
        self.dispatches
            .get_or_create(&vec![
                ("route", route.to_string()),
                ("class", class.label()),
            ])
            .inc();
        self.dispatch_duration
            .get_or_create(&vec![("route", route.to_string())])
            .observe(duration.as_secs_f64());
    }

    /// A job of `lane` was claimed after waiting `waited` while due.
    pub fn claimed(&self, lane: &str, waited: Duration) {
        self.claim_latency
            .get_or_create(&vec![("lane", lane.to_string())])
            .observe(waited.as_secs_f64());
    }

    /// A claim statement for `lane` took `took`.
    pub fn claim_took(&self, lane: &str, took: Duration) {
        self.claim_duration
            .get_or_create(&vec![("lane", lane.to_string())])
            .observe(took.as_secs_f64());
    }

    /// A settlement decided `action` for an attempt that ended with `class`;
    /// a success (`ok` decided `done`) is not a retry and is not counted.
    pub fn decided(&self, class: Class, action: Step) {
        if class == Class::Ok && action == Step::Done {
            return;
        }
        self.retries
            .get_or_create(&vec![
                ("class", class.label()),
                ("action", action.label().to_string()),
            ])
            .inc();
    }

    /// The registry, for [`crate::metrics::render`].
    pub(super) fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// How long a claimed job waited while due: from its `run_at` to its claim
/// (`updated_at`), both on the database clock, so no clock skew between
/// hosts enters it. None when either time does not parse.
pub fn claim_wait(run_at: &str, claimed_at: &str) -> Option<Duration> {
    let due: jiff::Timestamp = run_at.parse().ok()?;
    let claimed: jiff::Timestamp = claimed_at.parse().ok()?;
    let ms = claimed
        .as_millisecond()
        .saturating_sub(due.as_millisecond());
    Some(Duration::from_millis(ms.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_from_due_to_claim_and_never_negative() {
        assert_eq!(
            claim_wait("2026-12-05T10:00:00.000Z", "2026-12-05T10:00:02.500Z"),
            Some(Duration::from_millis(2500))
        );
        // A claim stamped before its run_at (clock rounding) waited zero.
        assert_eq!(
            claim_wait("2026-12-05T10:00:01.000Z", "2026-12-05T10:00:00.999Z"),
            Some(Duration::ZERO)
        );
        assert_eq!(claim_wait("yesterday", "2026-12-05T10:00:00Z"), None);
    }

    #[test]
    fn a_success_is_not_a_retry() {
        let m = WorkerMetrics::new();
        m.decided(Class::Ok, Step::Done);
        let ok = vec![("class", "ok".to_string()), ("action", "done".to_string())];
        assert!(m.retries.get(&ok).is_none());
        m.decided(Class::Timeout, Step::Retry);
        m.decided(Class::Timeout, Step::Retry);
        let key = vec![
            ("class", "timeout".to_string()),
            ("action", "retry".to_string()),
        ];
        assert_eq!(m.retries.get_or_create(&key).get(), 2);
    }
}
