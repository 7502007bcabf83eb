//! The scenario the fixtures were written from, through the Store API.

use super::*;

/// Claims the one due job of `lane` and checks it is `id`.
pub(crate) async fn claim(store: &dyn Store, lane: &str, id: &str, lease: Duration) -> u32 {
    let routes = vec!["claude-sonnet".to_string()];
    let got = store.claim(lane, &routes, OWNER, lease, 1).await.unwrap();
    assert_eq!(got.len(), 1, "one job claimed in {lane}");
    assert_eq!(got[0].id, id, "the job with the highest priority");
    got[0].attempts
}

/// One attempt of `job`: prepare, run to `outcome`, finish and settle.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn attempt(
    store: &dyn Store,
    job: &str,
    n: u32,
    outcome: Outcome,
    settle: Next,
    reason: &str,
    incident: bool,
    tweak: impl FnOnce(&mut agentlane::dispatch::DispatchReport),
) {
    let attempt = claim(store, "build", job, Duration::from_secs(600)).await;
    let id = dispatch_id(n);
    store
        .record_prepare(&prepare(&id, Some((job, attempt))))
        .await
        .unwrap();
    let mut r = report(&id, outcome, Some((job, attempt)));
    tweak(&mut r);
    let events = finish_events(&r, outcome != Outcome::RefusedBeforeLaunch);
    let facts = incident.then(|| incident_facts(&r, "build"));
    let c = completion(
        job,
        attempt,
        OWNER,
        Some(&id),
        r.classifier,
        settle,
        reason,
        facts,
    );
    assert!(store.finish_and_settle(&r, &events, &c).await.unwrap());
}

/// What the previous release wrote: see the top of this file.
pub(crate) async fn scenario(store: &dyn Store) {
    let cases = [
        ("succeeded", "build", 100),
        ("retried_then_succeeded", "build", 90),
        ("failed_after_retry", "build", 80),
        ("parked_a", "build", 70),
        ("parked_b", "build", 65),
        ("released_by_resolve", "build", 60),
        ("lost_then_scheduled", "build", 55),
        ("running", "build", 50),
        ("queued", "review", 0),
    ];
    let jobs: Vec<_> = cases.iter().map(|(c, l, p)| new_job(c, l, *p)).collect();
    let ids = store.enqueue(&jobs).await.unwrap();
    let id = |case: &str| ids[cases.iter().position(|(c, _, _)| *c == case).unwrap()].clone();
    let now = Duration::ZERO;

    attempt(
        store,
        &id("succeeded"),
        1,
        Outcome::Ok,
        Next::Done,
        "ok: done",
        false,
        |_| {},
    )
    .await;

    let j = id("retried_then_succeeded");
    let longer = retry(now, Some(Duration::from_secs(2_400)), true);
    let why = "timeout: retry with twice the timeout and diagnostics";
    attempt(store, &j, 2, Outcome::Timeout, longer, why, false, |_| {}).await;
    attempt(
        store,
        &j,
        3,
        Outcome::Ok,
        Next::Done,
        "ok: done",
        false,
        |_| {},
    )
    .await;

    let j = id("failed_after_retry");
    let again = retry(now, None, false);
    let why = "killed_by_signal: retry once";
    attempt(
        store,
        &j,
        4,
        Outcome::KilledBySignal,
        again,
        why,
        false,
        |_| {},
    )
    .await;
    let why = "unknown_exit_3: no retry left";
    attempt(
        store,
        &j,
        5,
        Outcome::ArtifactErrors,
        Next::Fail,
        why,
        true,
        |_| {},
    )
    .await;

    let why = "quota_exhausted: parked until the limit resets";
    let j = id("parked_a");
    attempt(
        store,
        &j,
        6,
        Outcome::RateLimitedWithReset,
        Next::Park,
        why,
        true,
        |_| {},
    )
    .await;
    // Maintenance folds the incident counts so far (PostgreSQL batches them);
    // the later ones stay as they are written.
    store.maintain(None, 100).await.unwrap();
    let j = id("parked_b");
    attempt(
        store,
        &j,
        7,
        Outcome::RateLimitedWithReset,
        Next::Park,
        why,
        true,
        |r| {
            r.reset_at = Some(later_reset_at());
        },
    )
    .await;

    let j = id("released_by_resolve");
    let why = "cli_missing: parked until an operator repairs the route";
    attempt(
        store,
        &j,
        8,
        Outcome::RefusedBeforeLaunch,
        Next::Park,
        why,
        true,
        |_| {},
    )
    .await;

    // A worker disappears mid-attempt: its lease expires, another rescues the
    // job (worker_lost) and schedules it; the lost worker's late outcome is
    // not recorded and its decision is rejected.
    let j = id("lost_then_scheduled");
    let n = claim(store, "build", &j, Duration::from_millis(1)).await;
    let lost = dispatch_id(9);
    store
        .record_prepare(&prepare(&lost, Some((&j, n))))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rescued = store
        .rescue_expired(RESCUER, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(rescued.len(), 1);
    let later = retry(Duration::from_secs(3_600), None, false);
    let decided = completion(
        &j,
        n,
        RESCUER,
        Some(&lost),
        Class::WorkerLost,
        later,
        "worker_lost: retry in an hour",
        None,
    );
    assert!(store.settle(&decided).await.unwrap());
    let late = report(&lost, Outcome::Interrupted, Some((&j, n)));
    let events = finish_events(&late, true);
    let rejected = completion(
        &j,
        n,
        OWNER,
        Some(&lost),
        late.classifier,
        Next::Fail,
        "late: the lease was lost",
        None,
    );
    assert!(!store
        .finish_and_settle(&late, &events, &rejected)
        .await
        .unwrap());

    let j = id("running");
    let n = claim(store, "build", &j, Duration::from_secs(3_600)).await;
    store
        .record_prepare(&prepare(&dispatch_id(10), Some((&j, n))))
        .await
        .unwrap();

    // The operator repairs the route: its incident resolves, its job goes back
    // to the lane (after the claims above, which it would outrank).
    let j = id("released_by_resolve");
    let incident = store.job(&j).await.unwrap().unwrap().incident_id.unwrap();
    let released = store
        .resolve_incident(
            &incident,
            &agentlane::model::Actor {
                by: "tester@host".into(),
                why: "resolved by an operator".into(),
            },
            false,
        )
        .await
        .unwrap();
    assert_eq!(released.map(|r| r.released), Some(1));

    store
        .append_event(&Event::JobAdmitted(job_admitted(&id("queued"))))
        .await
        .unwrap();

    // No job: an interrupted exec, and a preflight that opened an incident.
    let exec = dispatch_id(11);
    store.record_prepare(&prepare(&exec, None)).await.unwrap();
    let r = report(&exec, Outcome::Interrupted, None);
    store
        .record_finish(&r, &finish_events(&r, true))
        .await
        .unwrap();
    let pre = preflight_failed();
    store
        .append_event(&Event::PreflightChecked(pre.clone()))
        .await
        .unwrap();
    store
        .open_incident(&agentlane::queue::IncidentFacts {
            fingerprint: "fp-preflight-codex-1234".to_string(),
            class: Class::CliMissing,
            route: Some(pre.route.clone()),
            lane: None,
            host: pre.host.clone(),
            repair_hint: pre.repair_hint.clone().unwrap(),
            evidence: pre.evidence.clone(),
            reset_at: None,
            stamp: None,
        })
        .await
        .unwrap();
}

// ---------------------------------------------------------------- readback
