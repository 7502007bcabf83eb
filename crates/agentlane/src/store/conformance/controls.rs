//! Conformance cases for the operator's controls: cancel, retry, bulk
//! retry, pause/resume, resolve with `--retry-failed`, and ids people can
//! type. Each control changes only rows in the states it names (so a
//! worker's settlement and a control never overwrite each other) and
//! records an `operator_action` event with who and why.

use super::*;
use crate::model::{Cancelled, ControlAction, Retried, RetryFilter};
use crate::store::{IdKind, IdMatch, NextClaim, StoreError};

/// The operator actions recorded for a job: (action, by, why).
async fn actions(store: &dyn Store, job: &str) -> Vec<(String, String, String)> {
    store
        .job_events(job)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == "operator_action")
        .map(|e| {
            let s = |k: &str| e.body[k].as_str().unwrap_or_default().to_string();
            (s("action"), s("by"), s("why"))
        })
        .collect()
}

/// 20. `job cancel`: a queued or parked job is cancelled at once (finished,
///     next action `cancel`, the reason names who and why, an event); a
///     running job's cancel is asked of its worker — its heartbeat returns
///     the reason, and its settlement as `Cancel` ends it cancelled; a
///     finished job is left as it is; a running job whose lease expired
///     (no worker holds it) is cancelled at once, and one whose worker
///     vanished after the request is not rescued but cancelled.
pub(crate) async fn case_cancel(store: &dyn Store) {
    let lane = "cancel";
    let ids = enqueue(
        store,
        &[
            new_job(lane, "r", 9),
            new_job(lane, "r", 0),
            new_job(lane, "r", 0),
        ],
    )
    .await;
    // Queued → cancelled.
    let queued = &ids[2];
    assert_eq!(
        store
            .cancel_job(queued, &who("wrong repo"))
            .await
            .expect("cancel"),
        Some(Cancelled::Cancelled {
            from: JobState::Queued
        })
    );
    let j = get(store, queued).await;
    assert_eq!(j.state(), JobState::Cancelled);
    assert!(j.finished_at().is_some(), "a cancelled job is finished");
    assert_eq!(j.next_action, Some(crate::model::Step::Cancel));
    assert_eq!(
        j.reason.as_deref(),
        Some("cancelled by ana@console: wrong repo")
    );
    assert_eq!(
        actions(store, queued).await,
        vec![("cancel".into(), "ana@console".into(), "wrong repo".into())]
    );
    // Cancelling it again changes nothing and records nothing.
    assert_eq!(
        store
            .cancel_job(queued, &who("again"))
            .await
            .expect("cancel"),
        Some(Cancelled::Finished {
            state: JobState::Cancelled
        })
    );
    assert_eq!(actions(store, queued).await.len(), 1);
    assert_eq!(
        store
            .cancel_job("no-such-job", &who("x"))
            .await
            .expect("cancel"),
        None
    );

    // Running → requested; the heartbeat carries it; the worker settles it.
    let running = claim(store, lane, &["r"], "worker-C", 1).await.remove(0);
    assert_eq!(running.id, ids[0]);
    let held = vec![running.id.clone()];
    let before = store
        .heartbeat("worker-C", &held, LEASE)
        .await
        .expect("heartbeat");
    assert_eq!(before[0].cancel, None, "nobody asked yet");
    assert_eq!(
        store
            .cancel_job(&running.id, &who("runaway"))
            .await
            .expect("cancel"),
        Some(Cancelled::Requested {
            owner: "worker-C".into()
        })
    );
    assert_eq!(
        get(store, &running.id).await.state(),
        JobState::Running,
        "the worker, not the control, ends a running attempt"
    );
    let renewed = store
        .heartbeat("worker-C", &held, LEASE)
        .await
        .expect("heartbeat");
    assert_eq!(renewed.len(), 1, "a job being cancelled is still renewed");
    assert_eq!(
        renewed[0].cancel.as_deref(),
        Some("cancelled by ana@console: runaway")
    );
    settle_ok(store, &running, "worker-C", Class::Ok, Next::Cancel, None).await;
    let j = get(store, &running.id).await;
    assert_eq!(j.state(), JobState::Cancelled);
    assert!(j.finished_at().is_some());
    assert_eq!(
        actions(store, &running.id).await[0].0,
        ControlAction::CancelRequested.label()
    );

    // Finished jobs are left alone.
    let done = claim(store, lane, &["r"], "worker-C", 1).await.remove(0);
    settle_ok(store, &done, "worker-C", Class::Ok, Next::Done, None).await;
    assert_eq!(
        store
            .cancel_job(&done.id, &who("late"))
            .await
            .expect("cancel"),
        Some(Cancelled::Finished {
            state: JobState::Succeeded
        })
    );
    assert_eq!(get(store, &done.id).await.state(), JobState::Succeeded);

    // A running job whose lease expired: nobody would stop it — cancelled now.
    let lane2 = "cancel-expired";
    let ids2 = enqueue(store, &[new_job(lane2, "r", 0), new_job(lane2, "r", 0)]).await;
    let gone = store
        .claim(lane2, &routes(&["r"]), "worker-gone", SHORT, 2)
        .await
        .expect("claim");
    assert_eq!(gone.len(), 2);
    // Ask for one's cancel while its lease is live, then let both expire.
    let asked = &ids2[1];
    assert!(matches!(
        store
            .cancel_job(asked, &who("stop it"))
            .await
            .expect("cancel"),
        Some(Cancelled::Requested { .. })
    ));
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(
        store
            .cancel_job(&ids2[0], &who("stuck"))
            .await
            .expect("cancel"),
        Some(Cancelled::Cancelled {
            from: JobState::Running
        }),
        "an expired lease has no worker to ask"
    );
    let rescued = store
        .rescue_expired("worker-R", LEASE)
        .await
        .expect("rescue");
    assert!(
        rescued.is_empty(),
        "a job whose cancel was asked is not rescued to run again: {rescued:?}"
    );
    let j = get(store, asked).await;
    assert_eq!(j.state(), JobState::Cancelled);
    assert_eq!(
        j.reason.as_deref(),
        Some("cancelled by ana@console: stop it")
    );
}

/// 21. `job retry` and `jobs retry`: a failed, cancelled or parked job is
///     queued again and claimable, its attempts kept (the next claim is
///     attempt n+1), no longer finished; a waiting, running or succeeded
///     job is not retryable and is left as it is. The bulk retry selects by
///     lane, class and time, and leaves everything else alone.
pub(crate) async fn case_retry(store: &dyn Store) {
    let lane = "retry";
    let ids = enqueue(store, &[new_job(lane, "r", 0), new_job(lane, "r", 0)]).await;
    let first = claim(store, lane, &["r"], "worker-R", 1).await.remove(0);
    settle_ok(
        store,
        &first,
        "worker-R",
        Class::RateLimited,
        Next::Fail,
        None,
    )
    .await;
    assert_eq!(get(store, &first.id).await.state(), JobState::Failed);
    assert_eq!(
        store.retry_job(&ids[1], &who("x")).await.expect("retry"),
        Some(Retried::NotRetryable {
            state: JobState::Queued
        })
    );
    assert_eq!(
        store
            .retry_job(&first.id, &who("quota back"))
            .await
            .expect("retry"),
        Some(Retried::Requeued {
            from: JobState::Failed
        })
    );
    let j = get(store, &first.id).await;
    assert_eq!(j.state(), JobState::Queued);
    assert_eq!(j.finished_at(), None);
    assert_eq!(j.attempts, 1, "attempts are kept");
    assert_eq!(
        j.reason.as_deref(),
        Some("retried by ana@console: quota back")
    );
    assert_eq!(
        actions(store, &first.id).await,
        vec![("retry".into(), "ana@console".into(), "quota back".into())]
    );
    let again = claim(store, lane, &["r"], "worker-R", 2).await;
    let again = find(&again, &first.id);
    assert_eq!(again.attempts, 2, "the next claim is the next attempt");
    assert_eq!(
        store.retry_job(&first.id, &who("x")).await.expect("retry"),
        Some(Retried::NotRetryable {
            state: JobState::Running
        }),
        "a running job is not retried under its worker"
    );
    settle_ok(store, again, "worker-R", Class::Ok, Next::Done, None).await;
    assert_eq!(
        store.retry_job(&first.id, &who("x")).await.expect("retry"),
        Some(Retried::NotRetryable {
            state: JobState::Succeeded
        })
    );
    assert_eq!(
        store.retry_job("nope", &who("x")).await.expect("retry"),
        None
    );

    // Bulk: three rate-limited failures in lane A, one auth failure in A,
    // one rate-limited failure in lane B.
    let a = "bulk-a";
    let b = "bulk-b";
    let mut jobs_a = Vec::new();
    for _ in 0..4 {
        jobs_a.push(new_job(a, "r", 0));
    }
    enqueue(store, &jobs_a).await;
    enqueue(store, &[new_job(b, "r", 0)]).await;
    let claimed = claim(store, a, &["r"], "worker-R", 10).await;
    for (i, j) in claimed.iter().enumerate() {
        let class = if i == 0 {
            Class::AuthUnavailable
        } else {
            Class::RateLimited
        };
        settle_ok(store, j, "worker-R", class, Next::Fail, None).await;
    }
    let other = claim(store, b, &["r"], "worker-R", 1).await.remove(0);
    settle_ok(
        store,
        &other,
        "worker-R",
        Class::RateLimited,
        Next::Fail,
        None,
    )
    .await;

    let future = RetryFilter {
        lane: Some(a.into()),
        since: Some("2999-01-01T00:00:00Z".into()),
        ..Default::default()
    };
    assert!(store
        .retry_jobs(&future, &who("x"))
        .await
        .expect("bulk")
        .is_empty());
    let filter = RetryFilter {
        lane: Some(a.into()),
        class: Some("rate_limited".into()),
        since: Some("2000-01-01T00:00:00Z".into()),
        states: Vec::new(),
    };
    let retried = store
        .retry_jobs(&filter, &who("limits reset"))
        .await
        .expect("bulk");
    let expected: BTreeSet<String> = claimed[1..].iter().map(|j| j.id.clone()).collect();
    assert_eq!(retried.iter().cloned().collect::<BTreeSet<_>>(), expected);
    for id in &retried {
        assert_eq!(get(store, id).await.state(), JobState::Queued);
        assert_eq!(actions(store, id).await.len(), 1);
    }
    assert_eq!(
        get(store, &claimed[0].id).await.state(),
        JobState::Failed,
        "another class"
    );
    assert_eq!(
        get(store, &other.id).await.state(),
        JobState::Failed,
        "another lane"
    );
    assert!(
        store
            .retry_jobs(&filter, &who("twice"))
            .await
            .expect("bulk")
            .is_empty(),
        "a second bulk retry finds them queued, not failed"
    );
}

/// 22. `lane pause`: a paused lane claims nothing — in a claim or in a
///     settlement's chained claim — while other lanes claim on; pausing
///     twice keeps the first pause; resume lets it claim again.
pub(crate) async fn case_pause(store: &dyn Store) {
    let lane = "paused";
    let ids = enqueue(
        store,
        &[
            new_job(lane, "r", 0),
            new_job(lane, "r", 0),
            new_job("other", "r", 0),
        ],
    )
    .await;
    let running = claim(store, lane, &["r"], "worker-P", 1).await.remove(0);
    assert!(store.pause_lane(lane, &who("deploy")).await.expect("pause"));
    assert!(
        !store.pause_lane(lane, &who("again")).await.expect("pause"),
        "already paused"
    );
    let pause = store
        .lane_paused(lane)
        .await
        .expect("paused")
        .expect("a pause");
    assert_eq!(
        (pause.by.as_str(), pause.why.as_str()),
        ("ana@console", "deploy")
    );
    assert_eq!(store.lane_paused("other").await.expect("paused"), None);
    assert!(claim(store, lane, &["r"], "worker-P", 5).await.is_empty());
    assert_eq!(claim(store, "other", &["r"], "worker-P", 5).await.len(), 1);

    // The running job finishes; its settlement claims nothing next.
    let d = uuid::Uuid::now_v7().to_string();
    store
        .record_prepare(&prepare(&d, &running))
        .await
        .expect("prepare");
    let (report, events) = super::finish::outcome(&d, &running, Class::Ok);
    let (accepted, chained) = store
        .finish_settle_and_claim(
            &report,
            &events,
            &completion(&running, "worker-P", Class::Ok, Next::Done, None),
            &NextClaim {
                lane: lane.to_string(),
                routes: routes(&["r"]),
                lease: LEASE,
            },
        )
        .await
        .expect("settle and claim");
    assert!(accepted, "a running job finishes in a paused lane");
    assert_eq!(chained, None, "a paused lane chains no claim");

    assert_eq!(store.lane_pauses().await.expect("pauses").len(), 1);
    assert!(store.resume_lane(lane, &who("done")).await.expect("resume"));
    assert!(!store.resume_lane(lane, &who("done")).await.expect("resume"));
    assert!(store.lane_pauses().await.expect("pauses").is_empty());
    let got = claim(store, lane, &["r"], "worker-P", 5).await;
    assert_eq!(id_list(&got), vec![ids[1].clone()]);
}

/// 23. `incident resolve --retry-failed`: the incident's parked jobs are
///     released and its failed jobs queued again (attempts kept); without
///     the flag its failed jobs stay failed.
pub(crate) async fn case_resolve_retry_failed(store: &dyn Store) {
    for (lane, retry_failed) in [("resolve-retry", true), ("resolve-keep", false)] {
        enqueue(store, &[new_job(lane, "r", 0), new_job(lane, "r", 0)]).await;
        let fp = format!("fp-{lane}");
        let got = claim(store, lane, &["r"], "worker-I", 2).await;
        settle_ok(
            store,
            &got[0],
            "worker-I",
            Class::RateLimited,
            Next::Fail,
            Some(facts(&fp, Class::RateLimited, lane, "r")),
        )
        .await;
        settle_ok(
            store,
            &got[1],
            "worker-I",
            Class::RateLimited,
            Next::Park,
            Some(facts(&fp, Class::RateLimited, lane, "r")),
        )
        .await;
        let inc = open_with(store, &fp).await.remove(0);
        let done = store
            .resolve_incident(&inc.id, &who("quota raised"), retry_failed)
            .await
            .expect("resolve")
            .expect("open");
        assert_eq!(done.released, 1, "{lane}");
        assert_eq!(done.retried, u64::from(retry_failed), "{lane}");
        let want = if retry_failed {
            JobState::Queued
        } else {
            JobState::Failed
        };
        let failed = get(store, &got[0].id).await;
        assert_eq!(failed.state(), want, "{lane}");
        assert_eq!(failed.attempts, 1);
        assert_eq!(get(store, &got[1].id).await.state(), JobState::Queued);
        let (resolved, _) = incident(store, &inc.id).await;
        assert_eq!(
            resolved.resolution.as_deref(),
            Some("resolved by ana@console: quota raised")
        );
    }
}

/// 24. Ids people can type: a unique prefix or suffix of 6+ characters
///     names one job, dispatch or incident; a shared prefix names several;
///     a short or non-hex fragment is refused before any SQL.
pub(crate) async fn case_resolve_ids(store: &dyn Store) {
    let ids = enqueue(store, &[new_job("ids", "r", 0), new_job("ids", "r", 0)]).await;
    let whole = &ids[0];
    let resolve = |f: String| async move { store.resolve_id(IdKind::Job, &f).await };
    assert_eq!(
        resolve(whole.clone()).await.expect("id"),
        IdMatch::One(whole.clone())
    );
    let suffix = whole[whole.len() - 8..].to_string();
    assert_eq!(
        resolve(suffix.to_uppercase()).await.expect("id"),
        IdMatch::One(whole.clone()),
        "the random end of a UUIDv7, in any case"
    );
    // Both ids were made in the same millisecond or close: their first
    // 6 characters (48 bits of milliseconds, the first 24) are shared.
    match resolve(whole[..6].to_string()).await.expect("id") {
        IdMatch::Many(found) => assert!(found.contains(&ids[0]) && found.contains(&ids[1])),
        other => panic!("a shared prefix names both jobs, got {other:?}"),
    }
    assert_eq!(
        resolve("abcdefabcdef".to_string()).await.expect("id"),
        IdMatch::None
    );
    for bad in ["01a2", "0199%%", "x' OR '1"] {
        assert!(
            matches!(
                store.resolve_id(IdKind::Job, bad).await,
                Err(StoreError::InvalidId(_))
            ),
            "{bad}"
        );
    }
    assert_eq!(
        store
            .resolve_id(IdKind::Incident, &whole[whole.len() - 8..])
            .await
            .expect("id"),
        IdMatch::None,
        "a job's id names no incident"
    );
}

/// 25. `jobs --follow` reads the jobs changed since a time: a claim, a
///     settlement and a control each move a job's `updated_at`, and the
///     filter returns exactly the jobs changed at or after it.
pub(crate) async fn case_jobs_changed_since(store: &dyn Store) {
    let ids = enqueue(store, &[new_job("since", "r", 0), new_job("since", "r", 0)]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let claimed = claim(store, "since", &["r"], "worker-S", 1).await.remove(0);
    let since = claimed.updated_at.clone();
    let changed = |since: String| async move {
        let filter = JobFilter {
            lane: Some("since".into()),
            updated_since: Some(since),
            ..Default::default()
        };
        id_list(&store.jobs(&filter).await.expect("jobs"))
    };
    assert_eq!(changed(since.clone()).await, vec![claimed.id.clone()]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let other = ids.iter().find(|i| **i != claimed.id).unwrap().clone();
    store.cancel_job(&other, &who("x")).await.expect("cancel");
    let after_cancel = get(store, &other).await.updated_at;
    assert_eq!(changed(after_cancel).await, vec![other.clone()]);
    let mut both = changed(since).await;
    both.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(both, want);
}

/// 26. A job's label is stored and read back as given, and a job without
///     one reads back without one.
pub(crate) async fn case_label_round_trip(store: &dyn Store) {
    let mut labelled = new_job("labels", "r", 0);
    labelled.label = Some("review PR 1234 — ünïcode".into());
    let ids = enqueue(store, &[labelled, new_job("labels", "r", 0)]).await;
    assert_eq!(
        get(store, &ids[0]).await.label.as_deref(),
        Some("review PR 1234 — ünïcode")
    );
    assert_eq!(get(store, &ids[1]).await.label, None);
    let claimed = claim(store, "labels", &["r"], "worker-L", 2).await;
    assert!(
        claimed.iter().any(|j| j.label.is_some()),
        "a claim reads it too"
    );
}
