//! Conformance case for what the dashboard reads: jobs finished per lane and
//! UTC minute (the overview's throughput sparkline).

use super::*;

/// 34. `finished_per_minute` counts the jobs that finished (succeeded or
///     failed, not parked, queued or retried) per lane, in the minute their
///     `finished_at` names, and nothing of a lane with no finished job.
pub(crate) async fn case_finished_per_minute(store: &dyn Store) {
    let ids = enqueue(
        store,
        &[
            new_job("tp-a", "r", 0),
            new_job("tp-a", "r", 0),
            new_job("tp-a", "r", 0),
            new_job("tp-a", "r", 0),
            new_job("tp-b", "r", 0),
            new_job("tp-idle", "r", 0),
        ],
    )
    .await;
    let a = claim(store, "tp-a", &["r"], "U", 4).await;
    settle_ok(store, find(&a, &ids[0]), "U", Class::Ok, Next::Done, None).await;
    settle_ok(
        store,
        find(&a, &ids[1]),
        "U",
        Class::Timeout,
        Next::Fail,
        None,
    )
    .await;
    settle_ok(
        store,
        find(&a, &ids[2]),
        "U",
        Class::Timeout,
        retry_now(),
        None,
    )
    .await;
    settle_ok(
        store,
        find(&a, &ids[3]),
        "U",
        Class::Timeout,
        Next::Park,
        None,
    )
    .await;
    let b = claim_one(store, "tp-b", "U").await;
    settle_ok(store, &b, "U", Class::Ok, Next::Done, None).await;

    let got = store
        .finished_per_minute(Duration::from_secs(3600))
        .await
        .expect("finished_per_minute");
    let mine: Vec<_> = got.iter().filter(|m| m.lane.starts_with("tp-")).collect();
    let total = |lane: &str| -> u64 {
        mine.iter()
            .filter(|m| m.lane == lane)
            .map(|m| m.finished)
            .sum()
    };
    assert_eq!(
        (total("tp-a"), total("tp-b"), total("tp-idle")),
        (2, 1, 0),
        "{got:?}"
    );
    // Each point is the minute of its jobs' finished_at (YYYY-MM-DDTHH:MM),
    // in order: by lane, then minute.
    let mut want: Vec<(String, String)> = Vec::new();
    for id in [&ids[0], &ids[1], &b.id] {
        let j = get(store, id).await;
        let finished = j.finished_at().expect("a finished job has a finish time");
        want.push((j.lane.clone(), finished.chars().take(16).collect()));
    }
    let mut points: Vec<(String, String)> = Vec::new();
    for m in &mine {
        for _ in 0..m.finished {
            points.push((m.lane.clone(), m.minute.clone()));
        }
    }
    want.sort();
    assert_eq!(points, want, "{got:?}");
}
