//! Conformance case for settle: fenced by (job, attempt, owner), one state per variant.

use super::*;

/// 4. Next is fenced by (job, attempt, owner); each variant gives its state;
///    a scheduled job waits for its run_at.
pub(crate) async fn case_settle_fenced_and_variants(store: &dyn Store) {
    for lane in [
        "s-fence",
        "s-done",
        "s-retry",
        "s-park",
        "s-fail",
        "s-release",
    ] {
        enqueue(store, &[new_job(lane, "r", 0)]).await;
    }

    // Fencing.
    let j = claim_one(store, "s-fence", "A").await;
    let before = get(store, &j.id).await;
    let auth = facts("fp-fence", Class::AuthUnavailable, "s-fence", "r");
    let right = completion(&j, "A", Class::AuthUnavailable, Next::Park, Some(auth));
    for (what, wrong) in [
        (
            "a later attempt",
            Completion {
                attempt: 2,
                ..right.clone()
            },
        ),
        (
            "an earlier attempt",
            Completion {
                attempt: 0,
                ..right.clone()
            },
        ),
        (
            "another owner",
            Completion {
                owner: "B".to_string(),
                ..right.clone()
            },
        ),
        (
            "another job",
            Completion {
                job_id: "no-such-job".to_string(),
                ..right.clone()
            },
        ),
    ] {
        assert!(
            !store.settle(&wrong).await.expect("settle"),
            "settle with {what} is refused"
        );
        assert_eq!(
            get(store, &j.id).await,
            before,
            "settle with {what} changes nothing"
        );
    }
    assert!(
        store.incidents(false).await.expect("incidents").is_empty(),
        "no incident from a refused settle"
    );
    assert!(
        store.settle(&right).await.expect("settle"),
        "the right settle applies"
    );
    assert_eq!(get(store, &j.id).await.state(), JobState::Parked);
    assert!(
        !store.settle(&right).await.expect("settle"),
        "a job no longer running is not settled again"
    );

    // Done.
    let j = claim_one(store, "s-done", "A").await;
    let c = Completion {
        dispatch_id: Some("dispatch-done".to_string()),
        ..completion(&j, "A", Class::Ok, Next::Done, None)
    };
    assert!(store.settle(&c).await.expect("settle"));
    let d = get(store, &j.id).await;
    assert_eq!(d.state(), JobState::Succeeded);
    assert!(d.finished_at().is_some(), "{d:?}");
    assert_eq!((d.lease_owner(), d.lease_expires_at()), (None, None));
    assert_eq!(d.next_action.map(Step::label), Some("done"));
    assert_eq!(d.classifier.as_deref(), Some("ok"));
    assert_eq!(d.reason.as_deref(), Some(c.reason.as_str()));
    assert_eq!(d.last_dispatch_id.as_deref(), Some("dispatch-done"));
    assert_eq!(d.attempts, 1);
    assert!(claim(store, "s-done", &["r"], "A", 10).await.is_empty());

    // Park.
    let j = claim_one(store, "s-park", "A").await;
    settle_ok(store, &j, "A", Class::CliMissing, Next::Park, None).await;
    let p = get(store, &j.id).await;
    assert_eq!(
        (p.state(), p.next_action.map(Step::label)),
        (JobState::Parked, Some("park"))
    );
    assert_eq!((p.finished_at(), p.lease_owner()), (None, None));
    assert_eq!(p.classifier.as_deref(), Some("cli_missing"));
    assert!(
        claim(store, "s-park", &["r"], "A", 10).await.is_empty(),
        "parked is not claimable"
    );

    // Fail.
    let j = claim_one(store, "s-fail", "A").await;
    settle_ok(store, &j, "A", Class::PayloadInvalid, Next::Fail, None).await;
    let f = get(store, &j.id).await;
    assert_eq!(
        (f.state(), f.next_action.map(Step::label)),
        (JobState::Failed, Some("fail"))
    );
    assert!(f.finished_at().is_some(), "{f:?}");
    assert_eq!(f.lease_owner(), None);
    assert_eq!(f.classifier.as_deref(), Some("payload_invalid"));
    assert!(claim(store, "s-fail", &["r"], "A", 10).await.is_empty());

    // Release: back to the lane with the attempt given back.
    let j = claim_one(store, "s-release", "A").await;
    settle_ok(store, &j, "A", Class::WorkerLost, Next::Release, None).await;
    let r = get(store, &j.id).await;
    assert_eq!((r.state(), r.attempts), (JobState::Queued, 0), "{r:?}");
    assert_eq!(
        (r.lease_owner(), r.lease_expires_at(), r.finished_at()),
        (None, None, None)
    );
    let again = claim_one(store, "s-release", "B").await;
    assert_eq!(again.id, j.id);
    assert_claimed(&again, "B", 1, LEASE);

    // Retry: scheduled ~1 s ahead with the next attempt's timeout and diagnostics.
    let j = claim_one(store, "s-retry", "A").await;
    let retry = Next::Retry {
        delay: Duration::from_secs(1),
        timeout: Some(Duration::from_secs(90)),
        diagnostics: true,
    };
    settle_ok(store, &j, "A", Class::Timeout, retry, None).await;
    let s = get(store, &j.id).await;
    assert_eq!(
        (s.state(), s.next_action.map(Step::label)),
        (JobState::Scheduled, Some("retry"))
    );
    assert_eq!((s.timeout_ms, s.diagnostics), (Some(90_000), true), "{s:?}");
    assert_eq!(
        (s.finished_at(), s.lease_owner(), s.lease_expires_at()),
        (None, None, None)
    );
    assert_eq!(s.classifier.as_deref(), Some("timeout"));
    let ahead = secs_between(&s.updated_at, &s.run_at);
    assert!(
        (0.95..1.5).contains(&ahead),
        "run_at is ~1 s after the settle, got {ahead}s: {s:?}"
    );
    assert!(
        claim(store, "s-retry", &["r"], "A", 10).await.is_empty(),
        "not claimable before its run_at"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let next = claim_one(store, "s-retry", "A").await;
    assert_eq!(next.id, j.id);
    assert_claimed(&next, "A", 2, LEASE);
    assert_eq!(
        (next.timeout_ms, next.diagnostics),
        (Some(90_000), true),
        "the retry's settings reach the next attempt"
    );
}
