//! Conformance cases for claim: its order and filters, and claims that never
//! overlap, interleaved or concurrent.

use super::*;

/// 2. Claim orders by priority desc, then run_at, then id; respects limit,
///    lane and routes; a claimed job is running under the owner's lease.
pub(crate) async fn case_claim_order_and_filters(store: &dyn Store) {
    let lane = "claim";
    let ids = enqueue(
        store,
        &[
            new_job(lane, "r1", 0),
            new_job(lane, "r1", 5),
            new_job(lane, "r1", 1),
            new_job(lane, "r1", 5),
            new_job(lane, "r1", 0),
            new_job(lane, "r2", 10),
            new_job("other", "r1", 9),
        ],
    )
    .await;

    assert!(
        claim(store, lane, &[], "A", 10).await.is_empty(),
        "no routes, no jobs"
    );
    assert!(
        claim(store, lane, &["r1"], "A", 0).await.is_empty(),
        "limit 0, no jobs"
    );
    assert!(
        claim(store, lane, &["r9"], "A", 10).await.is_empty(),
        "unknown route"
    );
    assert!(claim(store, "nowhere", &["r1", "r2"], "A", 10)
        .await
        .is_empty());

    let got = claim(store, lane, &["r1"], "A", 3).await;
    assert_eq!(
        id_list(&got),
        [ids[1].clone(), ids[3].clone(), ids[2].clone()],
        "priority desc, then id; limit 3"
    );
    for j in &got {
        assert_claimed(j, "A", 1, LEASE);
        assert_eq!(
            &get(store, &j.id).await,
            j,
            "the claim is stored as returned"
        );
    }

    let rest = claim(store, lane, &["r1"], "B", 10).await;
    assert_eq!(id_list(&rest), [ids[0].clone(), ids[4].clone()]);
    for j in &rest {
        assert_claimed(j, "B", 1, LEASE);
    }
    assert!(
        claim(store, lane, &["r1"], "B", 10).await.is_empty(),
        "the r2 job and the other lane's job are not claimed"
    );
    assert_eq!(get(store, &ids[5]).await.state(), JobState::Queued);
    assert_eq!(get(store, &ids[6]).await.state(), JobState::Queued);
    assert_eq!(
        id_list(&claim(store, lane, &["r1", "r2"], "C", 10).await),
        [ids[5].clone()]
    );
    assert_eq!(
        id_list(&claim(store, "other", &["r1"], "C", 10).await),
        [ids[6].clone()]
    );

    // run_at comes before id: an older job released later waits behind a newer one.
    let lane = "claim-run-at";
    let ids = enqueue(store, &[new_job(lane, "r", 0), new_job(lane, "r", 0)]).await;
    let first = claim(store, lane, &["r"], "A", 1).await;
    assert_eq!(id_list(&first), [ids[0].clone()]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    settle_ok(store, &first[0], "A", Class::Ok, Next::Release, None).await;
    let (older, newer) = (get(store, &ids[0]).await, get(store, &ids[1]).await);
    assert!(
        secs_between(&newer.run_at, &older.run_at) > 0.0,
        "the released job runs later: {older:?} {newer:?}"
    );
    assert_eq!(
        id_list(&claim(store, lane, &["r"], "A", 1).await),
        [ids[1].clone()]
    );
    assert_eq!(
        id_list(&claim(store, lane, &["r"], "A", 1).await),
        [ids[0].clone()]
    );
}

/// 3a. Two owners claiming the same 100 jobs in interleaved batches never
///     get the same job, and together get all of them.
pub(crate) async fn case_claims_never_overlap(store: &dyn Store) {
    let lane = "race";
    let specs: Vec<NewJob> = (0..100).map(|i| new_job(lane, "r", i % 3)).collect();
    let all: BTreeSet<String> = enqueue(store, &specs).await.into_iter().collect();
    let mut seen = BTreeSet::new();
    let (mut by_a, mut by_b) = (0, 0);
    for _ in 0..100 {
        let a = claim(store, lane, &["r"], "A", 7).await;
        let b = claim(store, lane, &["r"], "B", 5).await;
        if a.is_empty() && b.is_empty() {
            break;
        }
        for (jobs, owner, count) in [(a, "A", &mut by_a), (b, "B", &mut by_b)] {
            for j in jobs {
                assert_claimed(&j, owner, 1, LEASE);
                assert!(seen.insert(j.id.clone()), "job {} claimed twice", j.id);
                *count += 1;
            }
        }
    }
    assert_eq!(seen, all, "every job claimed once");
    assert!(
        by_a > 0 && by_b > 0,
        "both owners claimed: A {by_a}, B {by_b}"
    );
}

/// 3b. The same race, run concurrently on two handles of one database.
pub(crate) async fn case_concurrent_claims(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    const LANE: &str = "race-concurrent";
    let specs: Vec<NewJob> = (0..100).map(|i| new_job(LANE, "r", i % 4)).collect();
    let all: BTreeSet<String> = enqueue(&*a, &specs).await.into_iter().collect();

    async fn drain(store: Arc<dyn Store>, owner: &'static str) -> Vec<String> {
        let mut got = Vec::new();
        for _ in 0..1000 {
            let batch = store
                .claim(LANE, &routes(&["r"]), owner, LEASE, 3)
                .await
                .expect("claim");
            if batch.is_empty() {
                break;
            }
            for j in batch {
                assert_eq!(j.lease_owner(), Some(owner));
                assert_eq!(j.attempts, 1, "claimed once: {j:?}");
                got.push(j.id);
            }
            tokio::task::yield_now().await;
        }
        got
    }

    let (got_a, got_b) = tokio::join!(
        tokio::spawn(drain(a.clone(), "A")),
        tokio::spawn(drain(b.clone(), "B"))
    );
    let (got_a, got_b) = (got_a.expect("claimer A"), got_b.expect("claimer B"));
    let mut seen = BTreeSet::new();
    for id in got_a.iter().chain(&got_b) {
        assert!(seen.insert(id.clone()), "job {id} claimed by both A and B");
    }
    assert_eq!(seen, all, "every job claimed once");
    // The rows agree with what each claimer was told.
    for (ids, owner) in [(&got_a, "A"), (&got_b, "B")] {
        for id in ids {
            let j = get(&*b, id).await;
            assert_eq!(
                (j.state(), j.lease_owner(), j.attempts),
                (JobState::Running, Some(owner), 1)
            );
        }
    }
}
