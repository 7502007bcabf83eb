//! Conformance cases for enqueue: ids in order, every job stored and readable.

use super::*;

/// 1b. A large enqueue (more jobs than one statement carries on PostgreSQL)
///     returns one distinct id per job, in order, and stores every job.
pub(crate) async fn case_enqueue_many(store: &dyn Store) {
    let lane = "many";
    let jobs: Vec<NewJob> = (0..2500)
        .map(|i| NewJob {
            prompt: format!("job {i}"),
            priority: i % 3,
            ..new_job(lane, "r", 0)
        })
        .collect();
    let ids = enqueue(store, &jobs).await;
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend");
    for i in [0, 999, 1000, 1001, 2499] {
        let job = get(store, &ids[i]).await;
        assert_eq!(
            (job.prompt.as_str(), job.priority, job.state()),
            (
                format!("job {i}").as_str(),
                (i % 3) as i64,
                JobState::Queued
            )
        );
    }
    let status = store.status().await.expect("status");
    let queued = status
        .lanes
        .iter()
        .find(|(l, s, _)| l == lane && s == "queued")
        .map(|(_, _, n)| *n);
    assert_eq!(queued, Some(2500), "{status:?}");
}

/// 1. Enqueue returns ids in order (UUIDv7, sortable); jobs are readable one
///    by one and listed newest first with lane/state filters and limits.
pub(crate) async fn case_enqueue_and_read(store: &dyn Store) {
    assert!(jobs(store, None, None, 0).await.is_empty());
    assert!(store.job("no-such-job").await.expect("job").is_none());

    let lanes = ["a", "b", "a", "b", "a", "a", "b", "a"];
    let specs: Vec<NewJob> = lanes
        .iter()
        .enumerate()
        .map(|(i, lane)| new_job(lane, if i % 2 == 0 { "r1" } else { "r2" }, i as i64))
        .collect();
    let mut all = enqueue(store, &specs[..5]).await;
    all.extend(enqueue(store, &specs[5..]).await);

    for id in &all {
        let u = uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id} is a UUID: {e}"));
        assert_eq!(u.get_version_num(), 7, "{id} is a UUIDv7");
    }
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, all, "ids are distinct and sort in creation order");

    for (id, spec) in all.iter().zip(&specs) {
        let j = get(store, id).await;
        assert_eq!(&j.id, id);
        assert_eq!(
            (&j.kind, &j.lane, &j.route, &j.prompt, &j.fields, j.priority),
            (
                &spec.kind,
                &spec.lane,
                &spec.route,
                &spec.prompt,
                &spec.fields,
                spec.priority
            ),
            "the stored job is the enqueued one"
        );
        assert_eq!(j.state(), JobState::Queued);
        assert_eq!(j.attempts, 0);
        assert_eq!((j.lease_owner(), j.lease_expires_at()), (None, None));
        assert_eq!(
            (j.finished_at(), j.timeout_ms, j.diagnostics),
            (None, None, false)
        );
        assert_eq!(
            (j.classifier.as_deref(), j.incident_id.as_deref()),
            (None, None)
        );
        assert_eq!(j.last_dispatch_id, None);
    }

    let newest_first: Vec<String> = all.iter().rev().cloned().collect();
    let of_lane = |lane: &str| -> Vec<String> {
        newest_first
            .iter()
            .zip(lanes.iter().rev())
            .filter(|(_, l)| **l == lane)
            .map(|(id, _)| id.clone())
            .collect()
    };
    assert_eq!(
        jobs(store, None, None, 0).await,
        newest_first,
        "limit 0 = all, newest first"
    );
    assert_eq!(jobs(store, None, None, 3).await, newest_first[..3]);
    assert_eq!(jobs(store, Some("a"), None, 0).await, of_lane("a"));
    assert_eq!(jobs(store, Some("b"), None, 2).await, of_lane("b")[..2]);
    assert!(jobs(store, Some("c"), None, 0).await.is_empty());
    assert_eq!(
        jobs(store, None, Some(JobState::Queued), 0).await,
        newest_first
    );
    assert!(jobs(store, None, Some(JobState::Running), 0)
        .await
        .is_empty());

    // Claim lane a's highest-priority job (the last one enqueued): the state filter sees it.
    let claimed = claim(store, "a", &["r1", "r2"], "A", 1).await;
    assert_eq!(id_list(&claimed), [all[7].clone()]);
    assert_eq!(
        jobs(store, None, Some(JobState::Running), 0).await,
        [all[7].clone()]
    );
    assert!(jobs(store, Some("b"), Some(JobState::Running), 0)
        .await
        .is_empty());
    let queued_a: Vec<String> = of_lane("a")
        .into_iter()
        .filter(|id| *id != all[7])
        .collect();
    assert_eq!(
        jobs(store, Some("a"), Some(JobState::Queued), 0).await,
        queued_a
    );
}
