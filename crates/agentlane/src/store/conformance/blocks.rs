//! Conformance case for hard stops: the first route-level failure blocks
//! further claims on its route — on its host for a host-local class, on
//! every host for an account's quota until its reset — and preflight on
//! that host, or the incident's resolution, lifts the block.

use super::*;
use crate::model::RouteBlock;
use crate::store::NextClaim;

const ON_A: &str = "local@host-a:1:aaaa";
const ON_B: &str = "local@host-b:2:bbbb";

fn stop(fingerprint: &str, class: Class, lane: &str, route: &str, host: &str) -> IncidentFacts {
    IncidentFacts {
        host: host.to_string(),
        stamp: Some("stamp-1".to_string()),
        ..facts(fingerprint, class, lane, route)
    }
}

fn blocked_routes(blocks: &[RouteBlock]) -> Vec<&str> {
    blocks.iter().map(|b| b.route.as_str()).collect()
}

/// 19. A job parked by a hard stop on host A (auth_unavailable) blocks its
///     route for A's workers — a claim and a settlement's claim skip it —
///     while host B and the other routes claim on; the block is listed for
///     A and for any host, not for B. A quota blocks every host until its
///     reset. Preflight passing on A under the stamp the stop failed with
///     changes nothing; under another stamp it resolves A's host-local stop
///     and releases the parked job, and the route claims again.
pub(crate) async fn case_hard_stop_blocks_claims(store: &dyn Store) {
    let lane = "blocks";
    let ids = enqueue(
        store,
        &[
            new_job(lane, "r", 9),
            new_job(lane, "r", 0),
            new_job(lane, "r", 0),
            new_job(lane, "s", 0),
            new_job(lane, "s", 0),
        ],
    )
    .await;
    let first = claim(store, lane, &["r"], ON_A, 1).await.remove(0);
    assert_eq!(first.id, ids[0]);
    let c = completion(
        &first,
        ON_A,
        Class::AuthUnavailable,
        Next::Park,
        Some(stop(
            "fp-bad-key",
            Class::AuthUnavailable,
            lane,
            "r",
            "host-a",
        )),
    );
    assert!(store.settle(&c).await.expect("settle"));

    // A's workers claim only route s; B's are not blocked by A's credentials.
    let on_a = claim(store, lane, &["r", "s"], ON_A, 10).await;
    assert_eq!(
        on_a.iter().map(|j| j.route.as_str()).collect::<Vec<_>>(),
        ["s", "s"],
        "host A claims nothing of the blocked route"
    );
    let blocks = store
        .route_blocks(lane, Some("host-a"))
        .await
        .expect("blocks");
    assert_eq!(blocked_routes(&blocks), ["r"]);
    assert_eq!(blocks[0].class, Class::AuthUnavailable);
    assert_eq!(blocks[0].repair_hint, "repair fp-bad-key");
    assert!(store
        .route_blocks(lane, Some("host-b"))
        .await
        .expect("blocks")
        .is_empty());
    assert_eq!(
        blocked_routes(&store.route_blocks(lane, None).await.expect("blocks")),
        ["r"]
    );

    // A settlement on A claims its slot's next job on the trusted routes,
    // never on the blocked one.
    let s_job = on_a[0].clone();
    let next = NextClaim {
        lane: lane.to_string(),
        routes: routes(&["r"]),
        lease: LEASE,
    };
    let d = uuid::Uuid::now_v7().to_string();
    store
        .record_prepare(&prepare(&d, &s_job))
        .await
        .expect("prepare");
    let (report, events) = super::finish::outcome(&d, &s_job, Class::Ok);
    let (accepted, chained) = store
        .finish_settle_and_claim(
            &report,
            &events,
            &completion(&s_job, ON_A, Class::Ok, Next::Done, None),
            &next,
        )
        .await
        .expect("finish_settle_and_claim");
    assert!(accepted);
    assert_eq!(
        chained, None,
        "a settlement on host A claims nothing on the blocked route"
    );

    // Host B claims the route.
    let on_b = claim(store, lane, &["r"], ON_B, 1).await;
    assert_eq!(
        on_b.len(),
        1,
        "host B is not blocked by host A's credentials"
    );
    settle_ok(store, &on_b[0], ON_B, Class::Ok, Next::Done, None).await;

    // A quota blocks every host until its reset.
    let quota_lane = "blocks-quota";
    let q = enqueue(
        store,
        &[new_job(quota_lane, "q", 0), new_job(quota_lane, "q", 0)],
    )
    .await;
    let qjob = claim(store, quota_lane, &["q"], ON_A, 1).await.remove(0);
    let future = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let c = completion(
        &qjob,
        ON_A,
        Class::QuotaExhausted,
        Next::Park,
        Some(IncidentFacts {
            reset_at: Some(future),
            ..stop("fp-quota", Class::QuotaExhausted, quota_lane, "q", "host-a")
        }),
    );
    assert!(store.settle(&c).await.expect("settle"));
    assert!(
        claim(store, quota_lane, &["q"], ON_B, 1).await.is_empty(),
        "an account's quota blocks host B too"
    );
    assert_eq!(
        blocked_routes(
            &store
                .route_blocks(quota_lane, Some("host-b"))
                .await
                .expect("blocks")
        ),
        ["q"]
    );
    // Preflight on A does not clear an account's quota.
    store
        .release_parked(quota_lane, "q", "host-a", "stamp-2", "preflight passes")
        .await
        .expect("release");
    assert!(claim(store, quota_lane, &["q"], ON_B, 1).await.is_empty());
    let _ = q;

    // Preflight passing on A in the environment the stop failed under (a
    // restarted worker) resolves nothing and releases nothing.
    let released = store
        .release_parked(lane, "r", "host-a", "stamp-1", "preflight passes")
        .await
        .expect("release");
    assert_eq!(
        released, 0,
        "the parked job stays parked behind its open stop"
    );
    assert_eq!(open_with(store, "fp-bad-key").await.len(), 1);
    assert!(claim(store, lane, &["r"], ON_A, 10).await.is_empty());

    // With a changed environment it resolves A's stop and releases its
    // parked job: route r claims again on A.
    let released = store
        .release_parked(
            lane,
            "r",
            "host-a",
            "stamp-2",
            "released: preflight passes on host-a",
        )
        .await
        .expect("release");
    assert_eq!(released, 1, "the parked job is released");
    assert!(store
        .route_blocks(lane, Some("host-a"))
        .await
        .expect("blocks")
        .is_empty());
    let open = open_with(store, "fp-bad-key").await;
    assert!(open.is_empty(), "the stop is resolved: {open:?}");
    let again = claim(store, lane, &["r"], ON_A, 10).await;
    assert_eq!(again.len(), 2, "the released job and the one left queued");
    assert!(id_set(&again).contains(&ids[0]));
}
