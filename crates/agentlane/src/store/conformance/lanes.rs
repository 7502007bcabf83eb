//! Conformance cases for what a lane and the store report: pending work, status.

use super::*;

/// 9. lane_pending: queued and scheduled jobs on the routes, running jobs in the lane.
pub(crate) async fn case_lane_pending(store: &dyn Store) {
    let lane = "pend";
    assert_eq!(
        store
            .lane_pending(lane, &routes(&["r1"]))
            .await
            .expect("pending"),
        LanePending::default()
    );
    // Stage 1: jobs that get claimed and settled.
    let ids = enqueue(
        store,
        &[
            new_job(lane, "r1", 0),    // 0 parked
            new_job(lane, "r1", 0),    // 1 succeeded
            new_job(lane, "r1", 0),    // 2 running
            new_job(lane, "r2", 0),    // 3 scheduled a minute ahead
            new_job(lane, "r3", 0),    // 4 running on a route not asked about
            new_job("pend2", "r1", 0), // 5 running in another lane
        ],
    )
    .await;
    let mut got = claim(store, lane, &["r1", "r2", "r3"], "A", 100).await;
    got.extend(claim(store, "pend2", &["r1"], "A", 100).await);
    assert_eq!(got.len(), 6);
    settle_ok(
        store,
        find(&got, &ids[0]),
        "A",
        Class::AuthUnavailable,
        Next::Park,
        None,
    )
    .await;
    settle_ok(store, find(&got, &ids[1]), "A", Class::Ok, Next::Done, None).await;
    let later = Next::Retry {
        delay: Duration::from_secs(60),
        timeout: None,
        diagnostics: false,
    };
    settle_ok(
        store,
        find(&got, &ids[3]),
        "A",
        Class::RateLimited,
        later,
        None,
    )
    .await;
    // Stage 2: queued jobs.
    enqueue(
        store,
        &[
            new_job(lane, "r1", 0),
            new_job(lane, "r1", 0),
            new_job(lane, "r3", 0),
            new_job("pend2", "r1", 0),
        ],
    )
    .await;

    let pending = |r: &'static [&'static str], l: &'static str| async move {
        store.lane_pending(l, &routes(r)).await.expect("pending")
    };
    assert_eq!(
        pending(&["r1", "r2"], lane).await,
        LanePending {
            waiting: 3,
            running: 2
        }
    );
    assert_eq!(
        pending(&["r1"], lane).await,
        LanePending {
            waiting: 2,
            running: 2
        }
    );
    assert_eq!(
        pending(&["r3"], lane).await,
        LanePending {
            waiting: 1,
            running: 2
        }
    );
    assert_eq!(
        pending(&["r1", "r2", "r3"], lane).await,
        LanePending {
            waiting: 4,
            running: 2
        }
    );
    assert_eq!(
        pending(&["r1"], "pend2").await,
        LanePending {
            waiting: 1,
            running: 1
        }
    );
    assert_eq!(pending(&["r1"], "nowhere").await, LanePending::default());
}

/// 10. status: counts per lane and state, per class, and open incidents.
pub(crate) async fn case_status(store: &dyn Store) {
    let empty = store.status().await.expect("status");
    assert!(
        empty.lanes.is_empty() && empty.classes.is_empty(),
        "{empty:?}"
    );
    assert_eq!(empty.open_incidents, 0);

    let ids = enqueue(
        store,
        &[
            new_job("L1", "r", 0), // 0 failed auth_unavailable
            new_job("L1", "r", 0), // 1 failed auth_unavailable
            new_job("L1", "r", 0), // 2 running
            new_job("L2", "r", 0), // 3 parked cli_missing
            new_job("L2", "r", 0), // 4 succeeded
        ],
    )
    .await;
    let mut got = claim(store, "L1", &["r"], "A", 100).await;
    got.extend(claim(store, "L2", &["r"], "A", 100).await);
    assert_eq!(got.len(), 5);
    let auth = facts("fp-auth", Class::AuthUnavailable, "L1", "r");
    for i in [0, 1] {
        settle_ok(
            store,
            find(&got, &ids[i]),
            "A",
            Class::AuthUnavailable,
            Next::Fail,
            Some(auth.clone()),
        )
        .await;
    }
    let cli = facts("fp-cli", Class::CliMissing, "L2", "r");
    settle_ok(
        store,
        find(&got, &ids[3]),
        "A",
        Class::CliMissing,
        Next::Park,
        Some(cli),
    )
    .await;
    settle_ok(store, find(&got, &ids[4]), "A", Class::Ok, Next::Done, None).await;
    enqueue(store, &[new_job("L1", "r", 0), new_job("L1", "r", 0)]).await;
    let pre = store
        .open_incident(&facts("fp-pre", Class::ConfigInvalid, "L3", "r"))
        .await
        .expect("open_incident");
    assert_eq!(
        store
            .resolve_incident(&pre, &who("fixed"), false)
            .await
            .expect("resolve")
            .map(|r| r.released),
        Some(0)
    );

    let status = store.status().await.expect("status");
    let mut lanes = status.lanes.clone();
    lanes.sort();
    let want: Vec<(String, String, u64)> = [
        ("L1", "failed", 2),
        ("L1", "queued", 2),
        ("L1", "running", 1),
        ("L2", "parked", 1),
        ("L2", "succeeded", 1),
    ]
    .into_iter()
    .map(|(l, s, n)| (l.to_string(), s.to_string(), n))
    .collect();
    assert_eq!(lanes, want, "{status:?}");
    let mut classes = status.classes.clone();
    classes.sort();
    let want: Vec<(String, u64)> = [("auth_unavailable", 2), ("cli_missing", 1), ("ok", 1)]
        .into_iter()
        .map(|(c, n)| (c.to_string(), n))
        .collect();
    assert_eq!(classes, want, "{status:?}");
    assert_eq!(
        status.open_incidents, 2,
        "fp-auth and fp-cli open, fp-pre resolved"
    );
}
