//! Conformance case for an account's quota: every queued job of the
//! account's routes, in any lane, is parked behind the one open incident,
//! idempotently, and released with it; nothing is parked behind an
//! incident that is no longer open.

use super::*;
use crate::model::Account;

fn account() -> Account {
    Account {
        key: "0123456789abcdef".into(),
        label: "claude account (key …a1f3)".into(),
    }
}

/// 30. A quota incident opened by a job of lane `qa` on route `r1` parks the
///     queued jobs of `r1` and `r2` (another lane's route on the same
///     account) but not `r3`'s nor running ones; `quota_incidents` lists it
///     with its reset, account and parked count; a second call parks only
///     jobs enqueued since; the resolution releases them all; after it,
///     nothing parks behind the incident and it is no longer listed.
pub(crate) async fn case_account_quota_parks_and_releases(store: &dyn Store) {
    let ids = enqueue(
        store,
        &[
            new_job("qa", "r1", 0),
            new_job("qa", "r1", 0),
            new_job("qb", "r2", 0),
            new_job("qb", "r2", 0),
            new_job("qc", "r3", 0),
        ],
    )
    .await;
    let failing = claim(store, "qa", &["r1"], "w1", 1).await.remove(0);
    let _running = claim(store, "qb", &["r2"], "w2", 1).await.remove(0);
    let reset: jiff::Timestamp = "2031-01-01T15:00:00Z".parse().unwrap();
    settle_ok(
        store,
        &failing,
        "w1",
        Class::QuotaExhausted,
        Next::Park,
        Some(IncidentFacts {
            reset_at: Some(reset),
            ..facts("fp-quota", Class::QuotaExhausted, "qa", "r1")
        }),
    )
    .await;
    let open = store.quota_incidents().await.expect("quota incidents");
    assert_eq!(open.len(), 1, "{open:?}");
    let q = &open[0];
    assert_eq!(q.route.as_deref(), Some("r1"));
    assert_eq!(q.reset_at, Some(reset));
    assert_eq!(
        (q.account.as_deref(), q.parked),
        (None, 1),
        "the failed job is parked, no account yet"
    );

    let routes = routes(&["r1", "r2"]);
    let parked = store
        .park_for_account(&q.id, &account(), &routes, "parked: out of quota")
        .await
        .expect("park");
    assert_eq!(
        parked, 2,
        "r1's and r2's queued jobs, not the running one nor r3's"
    );
    for (i, state) in [
        JobState::Parked,
        JobState::Parked,
        JobState::Running,
        JobState::Parked,
        JobState::Queued,
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(get(store, &ids[i]).await.state(), *state, "job {i}");
    }
    assert_eq!(
        get(store, &ids[3]).await.reason.as_deref(),
        Some("parked: out of quota")
    );
    let again = store
        .park_for_account(&q.id, &account(), &routes, "parked: out of quota")
        .await
        .expect("park again");
    assert_eq!(again, 0, "idempotent");
    let later = enqueue(store, &[new_job("qb", "r2", 0)]).await;
    assert_eq!(
        store
            .park_for_account(&q.id, &account(), &routes, "parked: out of quota")
            .await
            .expect("park later"),
        1,
        "a job enqueued since is parked at the next call"
    );
    let open = store.quota_incidents().await.expect("quota incidents");
    assert_eq!(open[0].account.as_deref(), Some("0123456789abcdef"));
    assert_eq!(
        open[0].account_label.as_deref(),
        Some("claude account (key …a1f3)")
    );
    assert_eq!(open[0].parked, 4);

    let resolved = store
        .resolve_incident(&q.id, &who("the quota reset"), false)
        .await
        .expect("resolve")
        .expect("it was open");
    assert_eq!(resolved.released, 4);
    for id in [&ids[0], &ids[1], &ids[3], &later[0]] {
        assert_eq!(get(store, id).await.state(), JobState::Queued);
    }
    assert!(store.quota_incidents().await.expect("listed").is_empty());
    assert_eq!(
        store
            .park_for_account(&q.id, &account(), &routes, "parked: out of quota")
            .await
            .expect("park after"),
        0,
        "nothing parks behind a resolved incident"
    );
    assert_eq!(get(store, &ids[1]).await.state(), JobState::Queued);
}
