//! Conformance cases for rescue: expired leases taken over and their workers
//! named; parked jobs released.

use super::*;

/// 7. rescue_expired takes over lost leases, finishes the dangling dispatch as
///    worker_lost and fences the lost worker; a heartbeat keeps a lease.
pub(crate) async fn case_rescue_expired(store: &dyn Store) {
    // A job whose owner heartbeats.
    enqueue(store, &[new_job("hb", "r", 0)]).await;
    let kept = store
        .claim("hb", &routes(&["r"]), "worker-H", SHORT, 10)
        .await
        .expect("claim");
    assert_eq!(kept.len(), 1);
    let held = id_list(&kept);
    assert_eq!(
        store
            .heartbeat("worker-H", &held, LEASE)
            .await
            .expect("heartbeat")
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        held,
        "the owner renews the lease it holds"
    );
    assert!(
        store
            .heartbeat("nobody", &held, LEASE)
            .await
            .expect("heartbeat")
            .is_empty(),
        "another owner renews nothing"
    );
    let renewed = get(store, &kept[0].id).await;
    let ahead = secs_between(
        &kept[0].updated_at,
        renewed.lease_expires_at().expect("lease"),
    );
    assert!(
        ahead > 50.0,
        "the heartbeat renewed the lease to ~60 s, got {ahead}s"
    );

    // A job whose owner disappears mid-attempt.
    enqueue(store, &[new_job("lost", "r", 0)]).await;
    let lost = store
        .claim("lost", &routes(&["r"]), "worker-A", SHORT, 10)
        .await
        .expect("claim");
    assert_eq!(lost.len(), 1);
    let lost = lost.into_iter().next().expect("one");
    assert_claimed(&lost, "worker-A", 1, SHORT);
    let dispatch_id = uuid::Uuid::now_v7().to_string();
    store
        .record_prepare(&prepare(&dispatch_id, &lost))
        .await
        .expect("record_prepare");
    assert!(
        store
            .rescue_expired("worker-B", LEASE)
            .await
            .expect("rescue")
            .is_empty(),
        "nothing expired yet"
    );

    tokio::time::sleep(PAST_SHORT).await;
    assert!(
        store
            .heartbeat("worker-A", std::slice::from_ref(&lost.id), LEASE)
            .await
            .expect("heartbeat")
            .is_empty(),
        "an expired lease is not renewed: it belongs to the rescue"
    );
    let rescued = store
        .rescue_expired("worker-B", LEASE)
        .await
        .expect("rescue");
    assert_eq!(
        id_list(&rescued),
        std::slice::from_ref(&lost.id),
        "only the expired lease (the heartbeat kept the other)"
    );
    let r = &rescued[0];
    assert_claimed(r, "worker-B", 1, LEASE);
    assert_eq!(
        &get(store, &r.id).await,
        r,
        "the rescue is stored as returned"
    );
    let still = get(store, &kept[0].id).await;
    assert_eq!(
        (still.state(), still.lease_owner()),
        (JobState::Running, Some("worker-H"))
    );

    // The dangling dispatch is finished as worker_lost, with its event.
    let rec = store
        .dispatch(&dispatch_id)
        .await
        .expect("dispatch")
        .expect("the dispatch exists");
    assert_eq!(
        rec.summary.classifier.as_deref(),
        Some("worker_lost"),
        "{rec:?}"
    );
    assert!(rec.summary.finished_at.is_some(), "{rec:?}");
    let ev = rec
        .events
        .iter()
        .find(|e| e.kind == "runner_classified_failure")
        .unwrap_or_else(|| panic!("a runner_classified_failure event: {rec:?}"));
    assert_eq!(ev.body["classifier"], "worker_lost");
    assert_eq!(ev.body["dispatch_id"], dispatch_id.as_str());
    let recent = store
        .recent_events("runner_classified_failure", 0)
        .await
        .expect("events");
    assert!(
        recent
            .iter()
            .any(|e| e.body["dispatch_id"] == dispatch_id.as_str()),
        "{recent:?}"
    );
    let attempts = store
        .job_dispatches(&lost.id)
        .await
        .expect("job_dispatches");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].classifier.as_deref(), Some("worker_lost"));

    assert!(
        store
            .rescue_expired("worker-C", LEASE)
            .await
            .expect("rescue")
            .is_empty(),
        "B's lease is fresh"
    );

    // The lost worker's late record of its attempt changes nothing: the
    // attempt stays worker_lost, and no runner_exit appears.
    let late_report = crate::dispatch::base_report(
        &crate::dispatch::DispatchRequest::new("claude", Vec::new()),
        &prepare(&dispatch_id, &lost),
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
    let late_exit = crate::events::Event::RunnerClassifiedFailure(
        crate::dispatch::classified_event(&late_report),
    );
    for _ in 0..2 {
        store
            .record_finish(&late_report, std::slice::from_ref(&late_exit))
            .await
            .expect("a late record_finish is not an error");
    }
    let after = store
        .dispatch(&dispatch_id)
        .await
        .expect("dispatch")
        .expect("exists");
    assert_eq!(after.summary.classifier.as_deref(), Some("worker_lost"));
    assert_eq!(
        after.events.len(),
        rec.events.len(),
        "a dispatch is finished once: {after:?}"
    );

    // The lost worker's late settle is fenced; the rescuer's applies.
    let late = completion(&lost, "worker-A", Class::Ok, Next::Done, None);
    assert!(
        !store.settle(&late).await.expect("settle"),
        "A lost its lease"
    );
    assert_eq!(
        &get(store, &lost.id).await,
        r,
        "A's late settle changed nothing"
    );
    settle_ok(store, r, "worker-B", Class::WorkerLost, retry_now(), None).await;
    let decided = get(store, &lost.id).await;
    assert_eq!(
        (decided.state(), decided.lease_owner()),
        (JobState::Scheduled, None)
    );
    assert_eq!(decided.classifier.as_deref(), Some("worker_lost"));
}

/// 7b. The worker_lost evidence names the worker whose lease expired, not the rescuer.
pub(crate) async fn case_rescue_evidence_names_lost_worker(store: &dyn Store) {
    enqueue(store, &[new_job("lost-evidence", "r", 0)]).await;
    let lost = store
        .claim("lost-evidence", &routes(&["r"]), "worker-A", SHORT, 10)
        .await
        .expect("claim")
        .remove(0);
    let dispatch_id = uuid::Uuid::now_v7().to_string();
    store
        .record_prepare(&prepare(&dispatch_id, &lost))
        .await
        .expect("record_prepare");
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(
        store
            .rescue_expired("worker-B", LEASE)
            .await
            .expect("rescue")
            .len(),
        1
    );
    let rec = store
        .dispatch(&dispatch_id)
        .await
        .expect("dispatch")
        .expect("exists");
    let ev = rec
        .events
        .iter()
        .find(|e| e.kind == "runner_classified_failure")
        .expect("a runner_classified_failure event");
    let evidence = ev.body["evidence"].as_str().unwrap_or_default();
    assert!(
        evidence.contains("worker-A") && !evidence.contains("worker-B"),
        "the evidence names the lost worker-A, got {evidence:?}"
    );
}

/// 8. release_parked releases that lane+route's parked jobs, except those
///    whose repair is not the runtime's (payload_invalid, route_not_allowed).
pub(crate) async fn case_release_parked(store: &dyn Store) {
    let lane = "rel";
    let ids = enqueue(
        store,
        &[
            new_job(lane, "r", 0),   // 0 parked auth_unavailable: released
            new_job(lane, "r", 0),   // 1 parked cli_missing: released
            new_job(lane, "r", 0),   // 2 parked payload_invalid: kept
            new_job(lane, "r", 0),   // 3 parked route_not_allowed: kept
            new_job(lane, "r2", 0),  // 4 parked on another route: kept
            new_job("rel2", "r", 0), // 5 parked in another lane: kept
            new_job(lane, "r", 0),   // 6 failed auth_unavailable: kept
        ],
    )
    .await;
    let mut got = claim(store, lane, &["r", "r2"], "A", 100).await;
    got.extend(claim(store, "rel2", &["r"], "A", 100).await);
    assert_eq!(got.len(), 7);
    let parks = [
        (0, Class::AuthUnavailable),
        (1, Class::CliMissing),
        (2, Class::PayloadInvalid),
        (3, Class::RouteNotAllowed),
        (4, Class::AuthUnavailable),
        (5, Class::AuthUnavailable),
    ];
    for (i, class) in parks {
        settle_ok(store, find(&got, &ids[i]), "A", class, Next::Park, None).await;
    }
    settle_ok(
        store,
        find(&got, &ids[6]),
        "A",
        Class::AuthUnavailable,
        Next::Fail,
        None,
    )
    .await;
    let queued = enqueue(store, &[new_job(lane, "r", 0)]).await.remove(0);

    assert_eq!(
        store
            .release_parked(lane, "r", "h", "stamp-2", "preflight passed")
            .await
            .expect("release"),
        2
    );
    for i in [0, 1] {
        let j = get(store, &ids[i]).await;
        assert_eq!(
            (j.state(), j.next_action.map(Step::label)),
            (JobState::Queued, Some("run")),
            "{j:?}"
        );
        assert_eq!(j.reason.as_deref(), Some("preflight passed"));
    }
    for i in [2, 3, 4, 5] {
        assert_eq!(
            get(store, &ids[i]).await.state(),
            JobState::Parked,
            "job {i} stays parked"
        );
    }
    assert_eq!(get(store, &ids[6]).await.state(), JobState::Failed);
    assert_eq!(
        get(store, &queued).await.reason.as_deref(),
        Some("queued"),
        "a queued job is untouched"
    );
    assert_eq!(
        store
            .release_parked(lane, "r", "h", "stamp-2", "again")
            .await
            .expect("release"),
        0
    );

    let released = claim(store, lane, &["r"], "B", 100).await;
    assert_eq!(
        id_set(&released),
        [ids[0].clone(), ids[1].clone(), queued]
            .into_iter()
            .collect()
    );
}
