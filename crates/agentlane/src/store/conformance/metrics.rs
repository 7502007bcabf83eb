//! Conformance case for `/metrics`' read of the store
//! (`Reader::metrics_snapshot`) and the workers' heartbeat rows
//! (`QueueStore::worker_seen`, migration 0013).

use super::*;
use crate::events::{Event, PreflightChecked};
use crate::model::{
    IncidentCount, LaneStateCount, MetricsSnapshot, ParkedCount, PreflightLatest, WorkerBeat,
};

fn checked(route: &str, cli_resolves: bool, cli_ready: bool) -> Event {
    Event::PreflightChecked(PreflightChecked {
        route: route.into(),
        kind: None,
        host: "host-1".into(),
        cli_resolves,
        cli_ready,
        route_allowed: true,
        classifier: (!(cli_resolves && cli_ready)).then_some(Class::CliMissing),
        repair_hint: None,
        evidence: None,
        cli_path: None,
        env_fingerprint: "env-1".into(),
        checks: Vec::new(),
        probe_dispatches: Vec::new(),
        cached: false,
    })
}

fn count(lane: &str, state: &str, count: u64) -> LaneStateCount {
    LaneStateCount {
        lane: lane.into(),
        state: state.into(),
        count,
    }
}

/// 40. An empty store's snapshot is empty. Then: jobs are counted by lane
///     and state; open incidents by class and repair address (a resolved
///     one is not); parked jobs by lane and the class that parked them; a
///     route's preflight is its latest `preflight_checked` (an older failure
///     of the same route is not shown); a worker's heartbeat row is one per
///     (host, kind, lane) however often it beats, its time on the database
///     clock (within a minute of now).
pub(crate) async fn case_metrics_snapshot(store: &dyn Store) {
    let empty = store.metrics_snapshot().await.expect("metrics_snapshot");
    assert_eq!(empty, MetricsSnapshot::default());

    let ids = enqueue(
        store,
        &[
            new_job("M1", "r", 0), // 0 failed auth_unavailable (incident)
            new_job("M1", "r", 0), // 1 parked cli_missing (incident, resolved)
            new_job("M1", "r", 0), // 2 running
            new_job("M2", "r", 0), // 3 queued
        ],
    )
    .await;
    let got = claim(store, "M1", &["r"], "A", 3).await;
    assert_eq!(got.len(), 3);
    let auth = facts("fp-auth", Class::AuthUnavailable, "M1", "r");
    settle_ok(
        store,
        find(&got, &ids[0]),
        "A",
        Class::AuthUnavailable,
        Next::Fail,
        Some(auth),
    )
    .await;
    let cli = facts("fp-cli", Class::CliMissing, "M1", "r");
    settle_ok(
        store,
        find(&got, &ids[1]),
        "A",
        Class::CliMissing,
        Next::Park,
        Some(cli),
    )
    .await;
    store
        .append_event(&checked("r", false, false))
        .await
        .unwrap();
    store
        .append_event(&checked("other", true, false))
        .await
        .unwrap();
    store.append_event(&checked("r", true, true)).await.unwrap();
    let beat = WorkerBeat {
        host: "host-1".into(),
        kind: "local".into(),
        lane: "M1".into(),
    };
    store.worker_seen(&beat).await.expect("worker_seen");
    store.worker_seen(&beat).await.expect("worker_seen again");

    let s = store.metrics_snapshot().await.expect("metrics_snapshot");
    assert_eq!(
        s.jobs,
        vec![
            count("M1", "failed", 1),
            count("M1", "parked", 1),
            count("M1", "running", 1),
            count("M2", "queued", 1),
        ]
    );
    let mut incidents = s.open_incidents.clone();
    incidents.sort_by(|a, b| a.class.cmp(&b.class));
    assert_eq!(
        incidents,
        vec![
            IncidentCount {
                class: "auth_unavailable".into(),
                repair_address: "runtime".into(),
                count: 1
            },
            IncidentCount {
                class: "cli_missing".into(),
                repair_address: "runtime".into(),
                count: 1
            },
        ]
    );
    assert_eq!(
        s.parked,
        vec![ParkedCount {
            lane: "M1".into(),
            reason: "cli_missing".into(),
            count: 1
        }]
    );
    assert_eq!(
        s.preflight,
        vec![
            PreflightLatest {
                route: "other".into(),
                cli_resolves: true,
                cli_ready: false,
                route_allowed: true
            },
            PreflightLatest {
                route: "r".into(),
                cli_resolves: true,
                cli_ready: true,
                route_allowed: true
            },
        ],
        "each route's latest check"
    );
    assert_eq!(s.workers.len(), 1, "one row per host, kind and lane: {s:?}");
    let w = &s.workers[0];
    assert_eq!(
        (w.host.as_str(), w.kind.as_str(), w.lane.as_str()),
        ("host-1", "local", "M1")
    );
    let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
    assert!(
        (now - w.last_seen).abs() < 60.0,
        "seen now: {} vs {now}",
        w.last_seen
    );

    // A resolved incident is no longer open.
    let open = store.incidents(true).await.unwrap();
    let cli_incident = open
        .iter()
        .find(|i| i.classifier == Class::CliMissing)
        .unwrap();
    let who = crate::model::Actor {
        by: "tester@host".into(),
        why: "fixed".into(),
    };
    store
        .resolve_incident(&cli_incident.id, &who, false)
        .await
        .unwrap();
    let s = store.metrics_snapshot().await.unwrap();
    assert_eq!(s.open_incidents.len(), 1, "{:?}", s.open_incidents);
    assert_eq!(s.open_incidents[0].class, "auth_unavailable");
    assert!(
        s.parked.is_empty(),
        "the resolution released the parked job: {:?}",
        s.parked
    );
}
