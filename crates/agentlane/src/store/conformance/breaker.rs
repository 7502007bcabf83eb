//! Conformance cases for circuit breakers per route: a row written only over
//! the version it was read at; an open breaker claims nothing (in a pass or
//! a settlement's chained claim); a half-open one gives exactly one trial
//! job across concurrent claimers; a closed one claims as before; a route's
//! latest attempts read back newest first.

use super::finish::outcome;
use super::*;
use crate::model::{BreakerState, RouteBreaker};

fn row(route: &str, state: BreakerState, version: i64) -> RouteBreaker {
    let now: jiff::Timestamp = "2031-01-01T12:00:00Z".parse().unwrap();
    RouteBreaker {
        route: route.into(),
        state,
        opened_at: Some(now),
        next_probe_at: (state == BreakerState::Open)
            .then(|| "2031-01-01T12:00:30Z".parse().unwrap()),
        probes_failed: 2,
        reason: format!("{} by the conformance suite", state.label()),
        trial_job: None,
        changed_at: now,
        incident_id: Some("inc-1".into()),
        version,
    }
}

async fn breaker(store: &dyn Store, route: &str) -> RouteBreaker {
    store
        .route_breakers()
        .await
        .expect("route_breakers")
        .into_iter()
        .find(|b| b.route == route)
        .unwrap_or_else(|| panic!("route {route} has a breaker row"))
}

/// 31. A breaker row is written only over the version it was read at: the
///     first write (version 0) inserts, a second writer of version 0 loses,
///     a write of the current version wins and bumps it; every field reads
///     back as written. An open breaker claims nothing, in a pass or in a
///     settlement's chained claim, and only on its own route; a half-open
///     one claims nothing but its one trial (`claim_trial`), whose job is
///     recorded on the row; a second trial claim gets nothing; the trial's
///     settlement chains no claim either; once closed, the route claims
///     again. A trial claim with no job due leaves the trial free.
pub(crate) async fn case_breaker_blocks_claims_until_closed(store: &dyn Store) {
    let lane = "brk";
    let ids = enqueue(
        store,
        &[
            new_job(lane, "r", 0),
            new_job(lane, "r", 0),
            new_job(lane, "r", 0),
            new_job(lane, "other", 0),
        ],
    )
    .await;
    let running = claim(store, lane, &["r"], "w0", 1).await.remove(0);

    let open = row("r", BreakerState::Open, 0);
    assert!(
        store.write_breaker(&open).await.expect("write"),
        "first write inserts"
    );
    assert!(
        !store.write_breaker(&open).await.expect("write"),
        "a second writer of version 0 loses"
    );
    let stored = breaker(store, "r").await;
    assert_eq!(
        stored,
        RouteBreaker {
            version: 1,
            ..open.clone()
        },
        "reads back whole"
    );

    assert!(
        claim(store, lane, &["r"], "w1", 10).await.is_empty(),
        "open: no claim"
    );
    let other = claim(store, lane, &["other"], "w1", 10).await;
    assert_eq!(
        id_list(&other),
        vec![ids[3].clone()],
        "other routes claim as usual"
    );
    // A settlement's chained claim refuses the open route too.
    let next = crate::store::NextClaim {
        lane: lane.into(),
        routes: routes(&["r"]),
        lease: LEASE,
    };
    let d = uuid::Uuid::now_v7().to_string();
    store
        .record_prepare(&prepare(&d, &running))
        .await
        .expect("prepare");
    let (report, events) = outcome(&d, &running, Class::TransientIo);
    let mut c = completion(&running, "w0", Class::TransientIo, retry_now(), None);
    c.dispatch_id = Some(d.clone());
    let (accepted, chained) = store
        .finish_settle_and_claim(&report, &events, &c, &next)
        .await
        .expect("finish_settle_and_claim");
    assert!(accepted);
    assert!(
        chained.is_none(),
        "open: a settlement claims nothing: {chained:?}"
    );
    assert_eq!(
        store
            .claim_trial(lane, "r", "w1", LEASE)
            .await
            .expect("trial"),
        None,
        "open: no trial"
    );

    let half = RouteBreaker {
        state: BreakerState::HalfOpen,
        next_probe_at: None,
        ..stored.clone()
    };
    assert!(
        !store
            .write_breaker(&RouteBreaker {
                version: 0,
                ..half.clone()
            })
            .await
            .expect("write"),
        "a stale version loses"
    );
    assert!(store.write_breaker(&half).await.expect("write"));
    assert!(
        claim(store, lane, &["r"], "w1", 10).await.is_empty(),
        "half-open: no ordinary claim"
    );
    let trial = store
        .claim_trial(lane, "r", "w1", LEASE)
        .await
        .expect("trial")
        .expect("half-open: one trial job");
    assert_eq!(trial.route, "r");
    assert_eq!(trial.lease_owner(), Some("w1"));
    let with_trial = breaker(store, "r").await;
    assert_eq!(with_trial.trial_job.as_deref(), Some(trial.id.as_str()));
    assert_eq!(with_trial.version, 3, "taking the trial is a write");
    assert_eq!(
        store
            .claim_trial(lane, "r", "w2", LEASE)
            .await
            .expect("trial"),
        None
    );
    assert!(claim(store, lane, &["r"], "w2", 10).await.is_empty());

    let closed = RouteBreaker {
        state: BreakerState::Closed,
        trial_job: None,
        ..with_trial
    };
    assert!(store.write_breaker(&closed).await.expect("write"));
    assert_eq!(breaker(store, "r").await.state, BreakerState::Closed);
    assert_eq!(
        claim(store, lane, &["r"], "w2", 10).await.len(),
        2,
        "closed: the route claims again (the retried job and the last queued one)"
    );

    // Half-open with nothing due: the trial stays free.
    let empty = RouteBreaker {
        route: "idle".into(),
        ..row("idle", BreakerState::HalfOpen, 0)
    };
    assert!(store.write_breaker(&empty).await.expect("write"));
    assert_eq!(
        store
            .claim_trial(lane, "idle", "w1", LEASE)
            .await
            .expect("trial"),
        None
    );
    let idle = breaker(store, "idle").await;
    assert_eq!((idle.trial_job, idle.version), (None, 1), "nothing changed");
}

/// 32. Many claimers race for one half-open trial with many jobs due:
///     exactly one job is claimed, by one of them.
pub(crate) async fn case_half_open_gives_one_trial(stores: Vec<Arc<dyn Store>>) {
    const LANE: &str = "brk-race";
    let specs: Vec<NewJob> = (0..20).map(|_| new_job(LANE, "r", 0)).collect();
    enqueue(&*stores[0], &specs).await;
    assert!(stores[0]
        .write_breaker(&row("r", BreakerState::HalfOpen, 0))
        .await
        .expect("write"));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, store) in stores.into_iter().enumerate() {
        tasks.spawn(async move {
            let owner = format!("w{i}");
            let mut got = Vec::new();
            for _ in 0..5 {
                if let Some(j) = store
                    .claim_trial(LANE, "r", &owner, LEASE)
                    .await
                    .expect("trial")
                {
                    got.push(j.id);
                }
                got.extend(
                    store
                        .claim(LANE, &routes(&["r"]), &owner, LEASE, 5)
                        .await
                        .expect("claim")
                        .into_iter()
                        .map(|j| j.id),
                );
                tokio::task::yield_now().await;
            }
            got
        });
    }
    let mut all = Vec::new();
    while let Some(got) = tasks.join_next().await {
        all.extend(got.expect("claimer"));
    }
    assert_eq!(all.len(), 1, "one trial across every claimer: {all:?}");
}

/// 33. A route's latest finished attempts read back newest first, with
///     their classes, and only that route's.
pub(crate) async fn case_route_attempts_newest_first(store: &dyn Store) {
    let lane = "brk-attempts";
    enqueue(store, &[new_job(lane, "r", 0), new_job(lane, "other", 0)]).await;
    for (route, class) in [("r", Class::TransientIo), ("other", Class::Ok)] {
        let job = claim(store, lane, &[route], "w", 1).await.remove(0);
        let d = uuid::Uuid::now_v7().to_string();
        store
            .record_prepare(&prepare(&d, &job))
            .await
            .expect("prepare");
        let (report, events) = outcome(&d, &job, class);
        let mut c = completion(&job, "w", class, retry_now(), None);
        c.dispatch_id = Some(d);
        assert!(store
            .finish_and_settle(&report, &events, &c)
            .await
            .expect("finish"));
    }
    // The retried job of `r` fails again, later.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let job = claim(store, lane, &["r"], "w", 1).await.remove(0);
    let d = uuid::Uuid::now_v7().to_string();
    store
        .record_prepare(&prepare(&d, &job))
        .await
        .expect("prepare");
    let (report, events) = outcome(&d, &job, Class::Timeout);
    let mut c = completion(&job, "w", Class::Timeout, Next::Fail, None);
    c.dispatch_id = Some(d);
    assert!(store
        .finish_and_settle(&report, &events, &c)
        .await
        .expect("finish"));

    let got = store.route_attempts("r", 10).await.expect("route_attempts");
    let classes: Vec<Class> = got.iter().map(|a| a.class).collect();
    assert_eq!(classes, vec![Class::Timeout, Class::TransientIo]);
    assert!(got[0].at > got[1].at, "{got:?}");
    assert_eq!(store.route_attempts("r", 1).await.expect("limit").len(), 1);
}
