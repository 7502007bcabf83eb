//! Conformance case for usage per attempt (issue 17): what each finished
//! dispatch's report says it used is kept with the attempt, summed per job,
//! per route, lane, kind and day over a window, and per lane for today.

use super::*;
use crate::model::{Usage, UsageGroup};

fn used(input: u64, cost: Option<f64>, turns: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: input / 10,
        cached_tokens: input / 2,
        cost_usd: cost,
        model: Some("claude-sonnet-4-5".into()),
        turns: Some(turns),
    }
}

/// Finishes `job`'s current attempt with `usage`, settled `next`.
async fn attempt(store: &dyn Store, job: &Job, usage: Option<Usage>, next: Next) -> String {
    let d = uuid::Uuid::now_v7().to_string();
    store
        .record_prepare(&prepare(&d, job))
        .await
        .expect("record_prepare");
    let (mut report, events) = outcome(&d, job, Class::Ok);
    report.usage = usage;
    let mut c = completion(job, "U", Class::Ok, next, None);
    c.dispatch_id = Some(d.clone());
    assert!(store
        .finish_and_settle(&report, &events, &c)
        .await
        .expect("finish_and_settle"));
    d
}

/// 30. Usage is stored with the finish: per job across its attempts (in
///     order), per lane for today, and grouped by route, lane, kind and day
///     over a window; attempts that reported none count nowhere, and a cost
///     is summed only from attempts that reported one.
pub(crate) async fn case_usage_per_attempt_and_totals(store: &dyn Store) {
    let mut other = new_job("spend-b", "r2", 0);
    other.kind = "fix".into();
    let ids = enqueue(
        store,
        &[
            new_job("spend-a", "r", 0),
            new_job("spend-a", "r", 0),
            other,
        ],
    )
    .await;
    let a = claim(store, "spend-a", &["r"], "U", 2).await;
    let (first, silent) = (find(&a, &ids[0]).clone(), find(&a, &ids[1]).clone());
    let d1 = attempt(store, &first, Some(used(100, Some(0.5), 2)), retry_now()).await;
    attempt(store, &silent, None, Next::Done).await;
    let again = claim_one(store, "spend-a", "U").await;
    assert_eq!((again.id.as_str(), again.attempts), (ids[0].as_str(), 2));
    let d2 = attempt(store, &again, Some(used(40, Some(0.25), 1)), Next::Done).await;
    let b = claim(store, "spend-b", &["r2"], "U", 1).await.remove(0);
    // Through the dispatch log alone (the path of `exec`), without a cost.
    let d3 = uuid::Uuid::now_v7().to_string();
    store
        .record_prepare(&prepare(&d3, &b))
        .await
        .expect("prepare");
    let (mut report, events) = outcome(&d3, &b, Class::Ok);
    report.usage = Some(used(10, None, 1));
    store.record_finish(&report, &events).await.expect("finish");

    // Per job, per attempt.
    let per = store.job_usage(&ids[0]).await.expect("job_usage");
    let order: Vec<_> = per
        .iter()
        .map(|u| (u.dispatch_id.clone(), u.attempt))
        .collect();
    assert_eq!(order, vec![(d1.clone(), Some(1)), (d2, Some(2))]);
    assert_eq!(
        per[0].usage,
        used(100, Some(0.5), 2),
        "every field round-trips"
    );
    let sum = Usage::sum(per.iter().map(|u| &u.usage)).unwrap();
    assert_eq!(
        (sum.input_tokens, sum.cost_usd, sum.turns),
        (140, Some(0.75), Some(3))
    );
    assert!(store.job_usage(&ids[1]).await.unwrap().is_empty());
    assert_eq!(store.job_spent(&ids[0]).await.unwrap(), Some(0.75));
    assert_eq!(
        store.job_spent(&ids[1]).await.unwrap(),
        None,
        "no cost reported"
    );
    assert_eq!(
        store.job_spent(&ids[2]).await.unwrap(),
        None,
        "tokens, no cost"
    );
    assert_eq!(store.lane_spent_today("spend-a").await.unwrap(), 0.75);
    assert_eq!(store.lane_spent_today("spend-b").await.unwrap(), 0.0);
    assert_eq!(store.lane_spent_today("nowhere").await.unwrap(), 0.0);
    // The report kept in the dispatch row still carries it.
    let record = store.dispatch(&d1).await.unwrap().expect("dispatch");
    assert_eq!(
        record.report.and_then(|r| r.get("usage").cloned()),
        Some(serde_json::to_value(used(100, Some(0.5), 2)).unwrap())
    );

    // Totals, grouped.
    let totals = |by| async move { store.usage_totals(by, None).await.expect("usage_totals") };
    let lanes = totals(UsageGroup::Lane).await;
    let got: Vec<_> = lanes
        .iter()
        .map(|t| {
            (
                t.key.as_str(),
                t.attempts,
                t.input_tokens,
                t.output_tokens,
                t.cached_tokens,
                t.cost_usd,
                t.turns,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("spend-a", 2, 140, 14, 70, Some(0.75), 3),
            ("spend-b", 1, 10, 1, 5, None, 1),
        ]
    );
    let keys = |t: Vec<crate::model::UsageTotal>| {
        t.into_iter()
            .map(|t| (t.key, t.attempts))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(totals(UsageGroup::Route).await),
        vec![("r".into(), 2), ("r2".into(), 1)]
    );
    assert_eq!(
        keys(totals(UsageGroup::Kind).await),
        vec![("fix".into(), 1), ("review".into(), 2)]
    );
    let days = totals(UsageGroup::Day).await;
    assert_eq!(days.len(), 1, "{days:?}");
    assert_eq!(days[0].attempts, 3);
    assert!(
        days[0].key.len() == 10 && days[0].key.as_bytes()[4] == b'-',
        "a UTC date: {days:?}"
    );

    // A window: everything finished within the hour, nothing within 1 ms
    // of a moment later.
    let hour = store
        .usage_totals(UsageGroup::Lane, Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(hour, lanes);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let none = store
        .usage_totals(UsageGroup::Lane, Some(Duration::from_millis(1)))
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
}
