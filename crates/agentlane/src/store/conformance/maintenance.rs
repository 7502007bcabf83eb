//! Conformance cases for maintenance: pruning on the retention, and incident
//! counts that stay exact however they are written (batched on PostgreSQL,
//! direct on SQLite) and whenever they are folded.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::store::Maintenance;

/// 13. maintain prunes finished work older than the retention — jobs with
///     their attempts and events, job-less runs and events, resolved
///     incidents — and never parked, queued or running work; a second pass
///     finds nothing; no retention prunes nothing.
pub(crate) async fn case_prunes_on_retention(store: &dyn Store) {
    let lane = "prune";
    let ids = enqueue(
        store,
        &(0..5).map(|_| new_job(lane, "r", 0)).collect::<Vec<_>>(),
    )
    .await;
    let claimed = claim(store, lane, &["r"], "A", 4).await;
    assert_eq!(claimed.len(), 4);
    let job = |i: usize| find(&claimed, &ids[i]).clone();
    // ids[0] succeeds with a recorded attempt; ids[1] fails into an incident
    // that gets resolved; ids[2] is parked; ids[3] keeps running; ids[4] is queued.
    let dispatch_id = uuid::Uuid::now_v7().to_string();
    store
        .record_prepare(&prepare(&dispatch_id, &job(0)))
        .await
        .expect("record_prepare");
    settle_ok(store, &job(0), "A", Class::Ok, Next::Done, None).await;
    let fail = facts("fp-prune", Class::RateLimited, lane, "r");
    settle_ok(
        store,
        &job(1),
        "A",
        Class::RateLimited,
        Next::Fail,
        Some(fail),
    )
    .await;
    let parked = facts("fp-parked", Class::AuthUnavailable, lane, "r");
    settle_ok(
        store,
        &job(2),
        "A",
        Class::AuthUnavailable,
        Next::Park,
        Some(parked),
    )
    .await;
    let resolved = open_with(store, "fp-prune").await.remove(0);
    store
        .resolve_incident(&resolved.id, &who("fixed"), false)
        .await
        .expect("resolve")
        .map(|r| r.released)
        .expect("it was open");
    let exec_run = uuid::Uuid::now_v7().to_string();
    let mut run = prepare(&exec_run, &job(0));
    run.job_id = None;
    run.attempt = None;
    store.record_prepare(&run).await.expect("record_prepare");
    finish(store, &run).await;
    let before = counts(store).await;

    // Nothing is old enough yet, and no retention prunes nothing.
    let none = store.maintain(None, 100).await.expect("maintain");
    assert_eq!(
        (none.jobs, none.dispatches, none.events, none.incidents),
        (0, 0, 0, 0)
    );
    let young = store
        .maintain(Some(Duration::from_secs(3600)), 100)
        .await
        .expect("maintain");
    assert_eq!(
        (young.jobs, young.dispatches, young.events, young.incidents),
        (0, 0, 0, 0)
    );
    assert_eq!(counts(store).await, before);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let pruned = store
        .maintain(Some(Duration::from_millis(100)), 100)
        .await
        .expect("maintain");
    assert_eq!(
        pruned.jobs, 2,
        "the succeeded and the failed job: {pruned:?}"
    );
    assert_eq!(
        pruned.dispatches, 2,
        "job 0's attempt and the exec run: {pruned:?}"
    );
    assert!(
        pruned.events >= 4,
        "their events (decisions, prepare, finish): {pruned:?}"
    );
    assert_eq!(pruned.incidents, 1, "the resolved incident: {pruned:?}");
    assert!(!pruned.more);
    for gone in [&ids[0], &ids[1]] {
        assert!(
            store.job(gone).await.expect("job").is_none(),
            "{gone} pruned"
        );
        assert!(store.job_events(gone).await.expect("events").is_empty());
        assert!(store
            .job_dispatches(gone)
            .await
            .expect("dispatches")
            .is_empty());
    }
    assert!(store.dispatch(&exec_run).await.expect("dispatch").is_none());
    assert!(store
        .incident(&resolved.id)
        .await
        .expect("incident")
        .is_none());
    for kept in [&ids[2], &ids[3], &ids[4]] {
        assert!(store.job(kept).await.expect("job").is_some(), "{kept} kept");
    }
    assert_eq!(get(store, &ids[2]).await.state(), JobState::Parked);
    assert_eq!(
        open_with(store, "fp-parked").await.len(),
        1,
        "open incidents are kept"
    );

    let again = store
        .maintain(Some(Duration::from_millis(100)), 100)
        .await
        .expect("maintain");
    assert_eq!(
        Maintenance {
            folded_counts: 0,
            ..again.clone()
        },
        Maintenance::default(),
        "a second pass finds nothing: {again:?}"
    );
}

/// 14. A batch smaller than the work prunes at most a batch and says there is more.
pub(crate) async fn case_prunes_in_batches(store: &dyn Store) {
    let lane = "batches";
    enqueue(
        store,
        &(0..5).map(|_| new_job(lane, "r", 0)).collect::<Vec<_>>(),
    )
    .await;
    for job in claim(store, lane, &["r"], "A", 5).await {
        settle_ok(store, &job, "A", Class::Ok, Next::Done, None).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let retention = Some(Duration::from_millis(100));
    let first = store.maintain(retention, 2).await.expect("maintain");
    assert_eq!((first.jobs, first.more), (2, true), "{first:?}");
    let second = store.maintain(retention, 2).await.expect("maintain");
    let third = store.maintain(retention, 2).await.expect("maintain");
    assert_eq!(first.jobs + second.jobs + third.jobs, 5);
    assert!(jobs(store, Some(lane), None, 0).await.is_empty());
}

/// 15. Failures of one fingerprint settled by many workers at once make one
///     incident whose counts are exact before and after maintenance folds them.
pub(crate) async fn case_incident_counts_are_exact_under_concurrency(stores: Vec<Arc<dyn Store>>) {
    let lane = "storm";
    const EACH: usize = 40;
    let n = stores.len() * EACH;
    let first = stores[0].clone();
    enqueue(
        &*first,
        &(0..n).map(|_| new_job(lane, "r", 0)).collect::<Vec<_>>(),
    )
    .await;
    let mut tasks = Vec::new();
    for (w, store) in stores.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            let mut settled = 0;
            while settled < EACH {
                let got = store
                    .claim(lane, &routes(&["r"]), &owner, LEASE, EACH - settled)
                    .await
                    .expect("claim");
                for job in got {
                    let f = facts("fp-storm", Class::RateLimited, lane, "r");
                    let c = completion(&job, &owner, Class::RateLimited, Next::Fail, Some(f));
                    assert!(store.settle(&c).await.expect("settle"));
                    settled += 1;
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("a worker task");
    }
    let storm = open_with(&*first, "fp-storm").await;
    assert_eq!(storm.len(), 1, "one incident: {storm:?}");
    assert_eq!(
        (storm[0].affected_jobs, storm[0].occurrences),
        (n as u64, n as u64)
    );
    let (_, affected) = incident(&*first, &storm[0].id).await;
    assert_eq!(affected.len(), n);
    loop {
        let done = first.maintain(None, 7).await.expect("maintain");
        if done.folded_counts == 0 {
            break;
        }
    }
    let folded = open_with(&*first, "fp-storm").await.remove(0);
    assert_eq!(
        (folded.affected_jobs, folded.occurrences),
        (n as u64, n as u64),
        "folding keeps the counts exact"
    );
    assert!(folded.last_seen >= storm[0].first_seen);
}

async fn finish(store: &dyn Store, p: &crate::events::Prepare) {
    let report = crate::dispatch::base_report(
        &crate::dispatch::DispatchRequest::new("claude", Vec::new()),
        p,
        crate::classify::Classification {
            layer: crate::classify::Layer::Fact,
            class: Class::Ok,
            rule: "fact.exit_zero".into(),
            evidence: None,
            repair_hint: String::new(),
            retry_after_secs: None,
            reset_at: None,
        },
        0,
    );
    let event =
        crate::events::Event::RunnerClassifiedFailure(crate::dispatch::classified_event(&report));
    store
        .record_finish(&report, std::slice::from_ref(&event))
        .await
        .expect("record_finish");
}

async fn counts(store: &dyn Store) -> Vec<(String, u64)> {
    store.row_counts().await.expect("row counts")
}
