//! Conformance case for what `agentlane serve` reads (issue 18): the live
//! feed of events after a sequence number, with each event's job and lane,
//! and the job list's kind/class filters and cursor pages.

use super::*;
use crate::events::{Event, JobAdmitted};

pub(crate) async fn case_events_after_and_job_pages(store: &dyn Store) {
    let mut a = new_job("feed-a", "r", 0);
    a.kind = "fix".into();
    let b = new_job("feed-b", "r", 0);
    let c = new_job("feed-a", "r", 0);
    let ids = enqueue(store, &[a, b, c]).await;
    let start = store
        .events_after(0, 0)
        .await
        .expect("events_after with limit 0")
        .len();
    assert_eq!(start, 0, "a limit of 0 returns nothing");
    let before = store.events_after(0, 100_000).await.expect("events_after");
    let base = before.last().map_or(0, |e| e.seq);
    for id in &ids {
        let e = Event::JobAdmitted(JobAdmitted {
            job_id: id.clone(),
            prompt_redacted: false,
            reason: "feed".into(),
        });
        store.append_event(&e).await.expect("append_event");
    }
    let feed = store.events_after(base, 100).await.expect("events_after");
    let last = store.last_event_seq().await.expect("last_event_seq");
    assert_eq!(
        Some(last),
        feed.last().map(|e| e.seq),
        "the last sequence number is the newest event's"
    );
    assert_eq!(
        feed.len(),
        3,
        "the three new events and nothing older: {feed:?}"
    );
    assert!(feed.windows(2).all(|w| w[0].seq < w[1].seq), "oldest first");
    let jobs: Vec<_> = feed
        .iter()
        .map(|e| e.job_id.clone().unwrap_or_default())
        .collect();
    assert_eq!(jobs, ids, "each event names its job");
    let lanes: Vec<_> = feed
        .iter()
        .map(|e| e.lane.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        lanes,
        ["feed-a", "feed-b", "feed-a"],
        "each event carries its job's lane"
    );
    assert!(feed
        .iter()
        .all(|e| e.kind == "job_admitted" && e.body["job_id"].is_string()));
    let page = store.events_after(base, 2).await.expect("events_after");
    assert_eq!(page.len(), 2, "the limit holds");
    let rest = store
        .events_after(page[1].seq, 100)
        .await
        .expect("events_after");
    assert_eq!(
        rest.len(),
        1,
        "the next page starts after the last one seen"
    );
    assert_eq!(rest[0].seq, feed[2].seq);

    // Kind filter, and pages by cursor: newest first, no overlap, no gap.
    let by_kind = store
        .jobs(&JobFilter {
            kind: Some("fix".into()),
            ..Default::default()
        })
        .await
        .expect("jobs by kind");
    assert_eq!(id_list(&by_kind), [ids[0].clone()]);
    let lane_a = JobFilter {
        lane: Some("feed-a".into()),
        limit: 1,
        ..Default::default()
    };
    let first = store.jobs(&lane_a).await.expect("first page");
    assert_eq!(id_list(&first), [ids[2].clone()], "newest first");
    let second = store
        .jobs(&JobFilter {
            before: Some(first[0].id.clone()),
            ..lane_a.clone()
        })
        .await
        .expect("second page");
    assert_eq!(
        id_list(&second),
        [ids[0].clone()],
        "the page after the cursor"
    );
    let third = store
        .jobs(&JobFilter {
            before: Some(second[0].id.clone()),
            ..lane_a
        })
        .await
        .expect("third page");
    assert!(third.is_empty(), "past the oldest: nothing");

    // Class filter: the latest attempt's class.
    let job = claim_one(store, "feed-b", "F").await;
    settle_ok(store, &job, "F", Class::CliMissing, Next::Fail, None).await;
    let failed = store
        .jobs(&JobFilter {
            class: Some("cli_missing".into()),
            ..Default::default()
        })
        .await
        .expect("jobs by class");
    assert_eq!(id_list(&failed), [ids[1].clone()]);
    let none = store
        .jobs(&JobFilter {
            class: Some("auth_missing".into()),
            lane: Some("feed-b".into()),
            ..Default::default()
        })
        .await
        .expect("jobs by class");
    assert!(none.is_empty());
}
