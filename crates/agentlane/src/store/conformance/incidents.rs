//! Conformance cases for incidents: one per fingerprint, the latest reset kept,
//! resolution on success.

use super::*;

/// An incident of a usage limit keeps the latest reset its failures named:
/// an earlier one or none does not move it back, a later one moves it on,
/// through settlements, a preflight's incident and (PostgreSQL) the fold.
pub(crate) async fn case_incident_keeps_latest_reset(store: &dyn Store) {
    let lane = "reset";
    let specs: Vec<NewJob> = (0..4).map(|_| new_job(lane, "r", 0)).collect();
    let ids = enqueue(store, &specs).await;
    let claimed = claim(store, lane, &["r"], "A", 10).await;
    let at = |s: &str| Some(s.parse::<jiff::Timestamp>().expect("a time"));
    let resets = [
        at("2030-01-01T12:00:00Z"),
        at("2030-01-01T10:00:00Z"),
        None,
        at("2030-01-02T09:30:00Z"),
    ];
    let want = [
        at("2030-01-01T12:00:00Z"),
        at("2030-01-01T12:00:00Z"),
        at("2030-01-01T12:00:00Z"),
        at("2030-01-02T09:30:00Z"),
    ];
    for (i, (reset, want)) in resets.iter().zip(want).enumerate() {
        let f = IncidentFacts {
            reset_at: *reset,
            ..facts("fp-quota", Class::QuotaExhausted, lane, "r")
        };
        let job = find(&claimed, &ids[i]).clone();
        settle_ok(store, &job, "A", Class::QuotaExhausted, Next::Park, Some(f)).await;
        let open = open_with(store, "fp-quota").await;
        assert_eq!(open.len(), 1, "{open:?}");
        assert_eq!(open[0].reset_at, want, "after reset {reset:?}: {open:?}");
    }
    // A preflight's incident (no reset) keeps it too.
    store
        .open_incident(&facts("fp-quota", Class::QuotaExhausted, lane, "r"))
        .await
        .expect("open incident");
    store.maintain(None, 1000).await.expect("maintain");
    let inc = open_with(store, "fp-quota").await.remove(0);
    let (shown, _) = incident(store, &inc.id).await;
    assert_eq!(shown.reset_at, at("2030-01-02T09:30:00Z"), "{shown:?}");
    assert_eq!(shown.occurrences, 5);
    let json = serde_json::to_value(&shown).expect("json");
    assert_eq!(json["reset_at"], "2030-01-02T09:30:00Z");
    // An incident without any reset has none.
    let none = facts("fp-none", Class::RateLimited, lane, "r");
    let id = store.open_incident(&none).await.expect("open incident");
    assert_eq!(incident(store, &id).await.0.reset_at, None);
}

/// 5. Incidents: one open incident per fingerprint, distinct affected jobs,
///    occurrences, priority order, resolution releasing parked jobs.
pub(crate) async fn case_incidents(store: &dyn Store) {
    let lane = "inc";
    let specs: Vec<NewJob> = (0..7).map(|_| new_job(lane, "r", 0)).collect();
    let ids = enqueue(store, &specs).await;
    let claimed = claim(store, lane, &["r"], "A", 10).await;
    assert_eq!(id_set(&claimed), ids.iter().cloned().collect());
    let job = |i: usize| find(&claimed, &ids[i]).clone();

    // A lower-priority incident first, so priority order is not age order.
    let rate = facts("fp-rate", Class::RateLimited, lane, "r");
    settle_ok(
        store,
        &job(0),
        "A",
        Class::RateLimited,
        Next::Fail,
        Some(rate.clone()),
    )
    .await;
    let auth = facts("fp-auth", Class::AuthUnavailable, lane, "r");
    for i in 1..6 {
        settle_ok(
            store,
            &job(i),
            "A",
            Class::AuthUnavailable,
            Next::Park,
            Some(auth.clone()),
        )
        .await;
    }

    let open = store.incidents(true).await.expect("incidents");
    assert_eq!(open.len(), 2, "one incident per fingerprint: {open:?}");
    let auth_inc = open_with(store, "fp-auth").await.remove(0);
    let rate_inc = open_with(store, "fp-rate").await.remove(0);
    assert_eq!(open[0].id, auth_inc.id, "higher priority first: {open:?}");
    assert_eq!(
        (auth_inc.affected_jobs, auth_inc.occurrences),
        (5, 5),
        "{auth_inc:?}"
    );
    assert_eq!(
        (rate_inc.affected_jobs, rate_inc.occurrences),
        (1, 1),
        "{rate_inc:?}"
    );
    assert_eq!(auth_inc.state.label(), "open");
    assert_eq!(auth_inc.classifier.label(), "auth_unavailable");
    assert_eq!(auth_inc.repair_address.label(), "runtime");
    assert_eq!(auth_inc.priority, incident_priority(Class::AuthUnavailable));
    assert_eq!(rate_inc.priority, incident_priority(Class::RateLimited));
    assert_eq!(
        (auth_inc.route.as_deref(), auth_inc.lane.as_deref()),
        (Some("r"), Some(lane))
    );
    assert_eq!(
        (auth_inc.host.as_str(), auth_inc.repair_hint.as_str()),
        ("host-1", "repair fp-auth")
    );
    assert_eq!(auth_inc.evidence.as_deref(), Some("evidence of fp-auth"));
    assert_eq!(
        (
            auth_inc.resolved_at.as_deref(),
            auth_inc.resolution.as_deref()
        ),
        (None, None)
    );
    for id in &ids[1..6] {
        assert_eq!(
            get(store, id).await.incident_id.as_deref(),
            Some(auth_inc.id.as_str())
        );
    }
    assert_eq!(
        get(store, &ids[0]).await.incident_id.as_deref(),
        Some(rate_inc.id.as_str())
    );
    let (found, attached) = incident(store, &auth_inc.id).await;
    assert_eq!(found, auth_inc);
    assert_eq!(
        attached.iter().cloned().collect::<BTreeSet<_>>(),
        ids[1..6].iter().cloned().collect()
    );
    assert_eq!(attached.len(), 5);
    let prefix = &auth_inc.id[..auth_inc.id.len() - 2];
    assert_eq!(
        incident(store, prefix).await.0.id,
        auth_inc.id,
        "found by id prefix"
    );
    assert!(store
        .incident("no-such-incident")
        .await
        .expect("incident")
        .is_none());

    // The same job failing twice: two occurrences, one affected job.
    let io = facts("fp-io", Class::TransientIo, lane, "r");
    settle_ok(
        store,
        &job(6),
        "A",
        Class::TransientIo,
        retry_now(),
        Some(io.clone()),
    )
    .await;
    let again = claim_one(store, lane, "A").await;
    assert_eq!((again.id.as_str(), again.attempts), (ids[6].as_str(), 2));
    settle_ok(
        store,
        &again,
        "A",
        Class::TransientIo,
        Next::Park,
        Some(io.clone()),
    )
    .await;
    let io_inc = open_with(store, "fp-io").await;
    assert_eq!(io_inc.len(), 1, "{io_inc:?}");
    assert_eq!(
        (io_inc[0].affected_jobs, io_inc[0].occurrences),
        (1, 2),
        "{io_inc:?}"
    );
    assert_eq!(incident(store, &io_inc[0].id).await.1, [ids[6].clone()]);

    // A failure with no job counts an occurrence, not an affected job.
    assert_eq!(
        store.open_incident(&auth).await.expect("open_incident"),
        auth_inc.id
    );
    let counted = incident(store, &auth_inc.id).await.0;
    assert_eq!((counted.affected_jobs, counted.occurrences), (5, 6));
    let pre = facts("fp-preflight", Class::CliMissing, lane, "r");
    let pre_id = store.open_incident(&pre).await.expect("open_incident");
    assert_eq!(
        store.open_incident(&pre).await.expect("open_incident"),
        pre_id
    );
    let (pre_inc, pre_jobs) = incident(store, &pre_id).await;
    assert_eq!((pre_inc.affected_jobs, pre_inc.occurrences), (0, 2));
    assert!(pre_jobs.is_empty());

    // Priority order over four open incidents (two at 100, two at 40).
    let open = store.incidents(true).await.expect("incidents");
    let priorities: Vec<i64> = open.iter().map(|i| i.priority).collect();
    assert_eq!(priorities, [100, 100, 40, 40], "{open:?}");

    // Resolving releases the incident's parked jobs, once.
    assert_eq!(
        store
            .resolve_incident(&auth_inc.id, &who("token renewed"), false)
            .await
            .expect("resolve")
            .map(|r| r.released),
        Some(5)
    );
    for id in &ids[1..6] {
        let j = get(store, id).await;
        assert_eq!(
            (j.state(), j.next_action.map(Step::label)),
            (JobState::Queued, Some("run")),
            "{j:?}"
        );
    }
    assert_eq!(
        get(store, &ids[6]).await.state(),
        JobState::Parked,
        "another incident's job stays parked"
    );
    let resolved = incident(store, &auth_inc.id).await.0;
    assert_eq!(resolved.state.label(), "resolved");
    assert!(resolved.resolved_at.is_some());
    assert_eq!(
        resolved.resolution.as_deref(),
        Some("resolved by ana@console: token renewed"),
        "the resolution names who resolved it and why"
    );
    assert_eq!(
        store
            .resolve_incident(&auth_inc.id, &who("again"), false)
            .await
            .expect("resolve")
            .map(|r| r.released),
        None
    );
    assert_eq!(
        store
            .resolve_incident("no-such-incident", &who("x"), false)
            .await
            .expect("resolve")
            .map(|r| r.released),
        None
    );
    let open = store.incidents(true).await.expect("incidents");
    assert!(
        open.iter()
            .all(|i| i.id != auth_inc.id && i.state.label() == "open"),
        "{open:?}"
    );
    assert_eq!(open.len(), 3);
    let every = store.incidents(false).await.expect("incidents");
    assert_eq!(every.len(), 4);
    assert_eq!(
        every.last().map(|i| i.id.as_str()),
        Some(auth_inc.id.as_str()),
        "open first: {every:?}"
    );
    // An incident with no parked job releases none.
    assert_eq!(
        store
            .resolve_incident(&rate_inc.id, &who("waited"), false)
            .await
            .expect("resolve")
            .map(|r| r.released),
        Some(0)
    );
    assert_eq!(get(store, &ids[0]).await.state(), JobState::Failed);

    // After resolution, the same fingerprint opens a new incident.
    let j = claim(store, lane, &["r"], "A", 1).await.remove(0);
    assert_eq!(j.attempts, 2);
    settle_ok(
        store,
        &j,
        "A",
        Class::AuthUnavailable,
        Next::Park,
        Some(auth.clone()),
    )
    .await;
    let reopened = open_with(store, "fp-auth").await;
    assert_eq!(reopened.len(), 1, "{reopened:?}");
    assert_ne!(reopened[0].id, auth_inc.id, "a new incident");
    assert_eq!((reopened[0].affected_jobs, reopened[0].occurrences), (1, 1));
    assert_eq!(
        get(store, &j.id).await.incident_id.as_deref(),
        Some(reopened[0].id.as_str())
    );
    let old = incident(store, &auth_inc.id).await.0;
    assert_eq!(
        (old.state.label(), old.affected_jobs, old.occurrences),
        ("resolved", 5, 6)
    );
}

/// 6. An incident resolves itself when an attached job succeeds and none of
///    its jobs is still parked.
pub(crate) async fn case_incident_resolves_on_success(store: &dyn Store) {
    let lane = "heal";
    let ids = enqueue(store, &[new_job(lane, "r", 0), new_job(lane, "r", 0)]).await;
    let got = claim(store, lane, &["r"], "A", 10).await;
    let (j0, j1) = (find(&got, &ids[0]).clone(), find(&got, &ids[1]).clone());
    let net = facts("fp-net", Class::NetworkUnavailable, lane, "r");
    settle_ok(
        store,
        &j0,
        "A",
        Class::NetworkUnavailable,
        retry_now(),
        Some(net.clone()),
    )
    .await;
    settle_ok(
        store,
        &j1,
        "A",
        Class::NetworkUnavailable,
        Next::Park,
        Some(net.clone()),
    )
    .await;
    let inc_id = open_with(store, "fp-net").await.remove(0).id;
    assert_eq!(incident(store, &inc_id).await.0.affected_jobs, 2);

    // An unrelated success leaves an unrelated incident open.
    let other_id = store
        .open_incident(&facts(
            "fp-unrelated",
            // Not a hard stop, which would block the route (`blocks.rs`).
            Class::RateLimited,
            "heal-other",
            "r",
        ))
        .await
        .expect("open_incident");
    enqueue(store, &[new_job("heal-other", "r", 0)]).await;
    let o = claim_one(store, "heal-other", "A").await;
    settle_ok(store, &o, "A", Class::Ok, Next::Done, None).await;
    assert_eq!(incident(store, &other_id).await.0.state.label(), "open");

    // j0 succeeds while j1 is still parked: the incident stays open.
    let r0 = claim_one(store, lane, "A").await;
    assert_eq!(r0.id, j0.id);
    settle_ok(store, &r0, "A", Class::Ok, Next::Done, None).await;
    assert_eq!(
        incident(store, &inc_id).await.0.state.label(),
        "open",
        "a job is still parked"
    );

    // j1 released and succeeds: resolved.
    assert_eq!(
        store
            .release_parked(lane, "r", "h", "stamp-2", "network back")
            .await
            .expect("release"),
        1
    );
    let r1 = claim_one(store, lane, "A").await;
    assert_eq!(r1.id, j1.id);
    settle_ok(store, &r1, "A", Class::Ok, Next::Done, None).await;
    let healed = incident(store, &inc_id).await.0;
    assert_eq!(healed.state.label(), "resolved", "{healed:?}");
    assert!(
        healed.resolved_at.is_some() && healed.resolution.is_some(),
        "{healed:?}"
    );
    assert_eq!(incident(store, &other_id).await.0.state.label(), "open");
    assert_eq!(store.status().await.expect("status").open_incidents, 1);
}
