//! The store's facts as gauges: one fresh registry per scrape, built from
//! one [`MetricsSnapshot`]. The same from every scrape target (a worker or
//! a server over the same store): aggregate them with `max`, never `sum`.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::model::{JobState, MetricsSnapshot};

type Labels = Vec<(&'static str, String)>;

/// The three checks of a preflight, as the `check` label names them.
const CHECKS: [&str; 3] = ["cli_resolves", "cli_ready", "route_allowed"];

/// The store's gauges: `agentlane_store_up` (1 when the store answered this
/// scrape, else 0 and nothing else) and, from `snapshot`, jobs by lane and
/// state (every state of every lane that has a job, zeros included, so a
/// series never vanishes while its lane exists), open incidents by class and
/// repair address, parked jobs by lane and class, each route's latest
/// preflight per check (1 passed, 0 failed), and each worker's last
/// heartbeat (Unix seconds).
pub fn store_gauges(snapshot: Option<&MetricsSnapshot>) -> Registry {
    let mut registry = Registry::default();
    let up = Gauge::<i64>::default();
    up.set(i64::from(snapshot.is_some()));
    registry.register(
        "agentlane_store_up",
        "1 when the store answered this scrape, 0 when it did not (then no store gauge is shown).",
        up,
    );
    let Some(s) = snapshot else {
        return registry;
    };
    let jobs = Family::<Labels, Gauge>::default();
    let mut lanes: Vec<&str> = s.jobs.iter().map(|c| c.lane.as_str()).collect();
    lanes.dedup();
    for lane in lanes {
        for state in JobState::ALL {
            jobs.get_or_create(&vec![
                ("lane", lane.to_string()),
                ("state", state.label().to_string()),
            ])
            .set(0);
        }
    }
    for c in &s.jobs {
        jobs.get_or_create(&vec![("lane", c.lane.clone()), ("state", c.state.clone())])
            .set(count(c.count));
    }
    registry.register(
        "agentlane_jobs",
        "Jobs in the store by lane and state (a store fact: aggregate with max).",
        jobs,
    );
    let incidents = s.open_incidents.iter().map(|c| {
        (
            vec![
                ("class", c.class.clone()),
                ("repair_address", c.repair_address.clone()),
            ],
            count(c.count),
        )
    });
    registry.register(
        "agentlane_open_incidents",
        "Open incidents by class and repair address (runtime, router, producer).",
        gauges(incidents),
    );
    let parked = s.parked.iter().map(|c| {
        (
            vec![("lane", c.lane.clone()), ("reason", c.reason.clone())],
            count(c.count),
        )
    });
    registry.register(
        "agentlane_parked_jobs",
        "Parked jobs by lane and reason: the class of the attempt that parked them (none: no attempt).",
        gauges(parked),
    );
    let preflight = s.preflight.iter().flat_map(|p| {
        CHECKS
            .iter()
            .zip([p.cli_resolves, p.cli_ready, p.route_allowed])
            .map(|(check, passed)| {
                (
                    vec![("route", p.route.clone()), ("check", check.to_string())],
                    i64::from(passed),
                )
            })
    });
    registry.register(
        "agentlane_preflight_passed",
        "The latest preflight of each route, per check (cli_resolves, cli_ready, route_allowed): 1 passed, 0 failed.",
        gauges(preflight),
    );
    let seen = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    for w in &s.workers {
        seen.get_or_create(&vec![
            ("host", w.host.clone()),
            ("kind", w.kind.clone()),
            ("lane", w.lane.clone()),
        ])
        .set(w.last_seen);
    }
    registry.register_with_unit(
        "agentlane_worker_last_seen_timestamp",
        "When each worker (host, kind, lane) last sent its heartbeat, in Unix seconds; rows not seen for a day are dropped.",
        Unit::Seconds,
        seen,
    );
    registry
}

/// A gauge family with these (labels, value) rows.
fn gauges(rows: impl Iterator<Item = (Labels, i64)>) -> Family<Labels, Gauge> {
    let family = Family::<Labels, Gauge>::default();
    for (labels, v) in rows {
        family.get_or_create(&labels).set(v);
    }
    family
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
