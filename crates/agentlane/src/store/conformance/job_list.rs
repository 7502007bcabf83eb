//! Conformance case for the job list's filters taken together (issue 18's
//! `GET /api/v1/jobs` and `agentlane jobs`): each filter given becomes a
//! condition of its own, so every combination must still select exactly the
//! jobs that match all of them, newest first, in cursor pages.

use super::*;

pub(crate) async fn case_job_list_filters_combine(store: &dyn Store) {
    let mut batch = Vec::new();
    for lane in ["list-a", "list-a", "list-a", "list-a", "list-b", "list-b"] {
        let mut j = new_job(lane, "r", 0);
        j.kind = "list".into();
        batch.push(j);
    }
    let ids = enqueue(store, &batch).await;
    // The oldest two of list-a fail by timeout, the oldest of list-b by cli_missing.
    for _ in 0..2 {
        let job = claim(store, "list-a", &["r"], "L", 1).await.remove(0);
        settle_ok(store, &job, "L", Class::Timeout, Next::Fail, None).await;
    }
    let job = claim(store, "list-b", &["r"], "L", 1).await.remove(0);
    settle_ok(store, &job, "L", Class::CliMissing, Next::Fail, None).await;

    let list = |f: JobFilter| async move {
        let got = store.jobs(&f).await.expect("jobs");
        id_list(&got)
    };
    let base = JobFilter {
        kind: Some("list".into()),
        ..Default::default()
    };
    let failed_a = JobFilter {
        lane: Some("list-a".into()),
        state: Some(JobState::Failed),
        ..base.clone()
    };
    assert_eq!(
        list(failed_a.clone()).await,
        [ids[1].clone(), ids[0].clone()],
        "lane and state together: that lane's failed jobs, newest first"
    );
    let page = list(JobFilter {
        limit: 1,
        ..failed_a.clone()
    })
    .await;
    assert_eq!(page, [ids[1].clone()], "the limit holds with filters");
    assert_eq!(
        list(JobFilter {
            before: Some(page[0].clone()),
            ..failed_a.clone()
        })
        .await,
        [ids[0].clone()],
        "the cursor pages within the filters"
    );
    assert_eq!(
        list(JobFilter {
            state: Some(JobState::Failed),
            ..base.clone()
        })
        .await,
        [ids[4].clone(), ids[1].clone(), ids[0].clone()],
        "the state alone: failed jobs of every lane"
    );
    assert_eq!(
        list(JobFilter {
            lane: Some("list-a".into()),
            state: Some(JobState::Queued),
            ..base.clone()
        })
        .await,
        [ids[3].clone(), ids[2].clone()],
        "another state of the same lane"
    );
    assert_eq!(
        list(JobFilter {
            class: Some("timeout".into()),
            ..failed_a.clone()
        })
        .await,
        [ids[1].clone(), ids[0].clone()],
        "lane, state and class"
    );
    assert!(
        list(JobFilter {
            class: Some("cli_missing".into()),
            ..failed_a.clone()
        })
        .await
        .is_empty(),
        "a class of another lane's jobs selects none of this lane's"
    );
    assert_eq!(
        list(JobFilter {
            lane: Some("list-b".into()),
            state: Some(JobState::Failed),
            updated_since: Some("2000-01-01T00:00:00.000Z".into()),
            ..base.clone()
        })
        .await,
        [ids[4].clone()],
        "a past updated_since keeps what the other filters select"
    );
    assert!(
        list(JobFilter {
            updated_since: Some("2999-01-01T00:00:00.000Z".into()),
            ..failed_a
        })
        .await
        .is_empty(),
        "a future updated_since selects nothing"
    );
    assert!(
        list(JobFilter {
            kind: Some("review".into()),
            lane: Some("list-a".into()),
            ..Default::default()
        })
        .await
        .is_empty(),
        "the kind filter applies with the lane"
    );
}
