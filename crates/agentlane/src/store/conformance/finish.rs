//! Conformance case for `finish_and_settle`: a job dispatch's outcome and
//! its settlement written together (one transaction; one statement on
//! PostgreSQL when no incident opens).

use super::*;
use crate::dispatch::DispatchReport;
use crate::events::Event;

/// A report and its final event for `job`'s dispatch `dispatch_id`, classified `class`.
pub(super) fn outcome(dispatch_id: &str, job: &Job, class: Class) -> (DispatchReport, Vec<Event>) {
    let mut req = crate::dispatch::DispatchRequest::new("claude", Vec::new());
    req.route = Some(job.route.clone());
    req.job = Some(crate::dispatch::JobRef {
        id: job.id.clone(),
        attempt: job.attempts,
    });
    let report = crate::dispatch::base_report(
        &req,
        &prepare(dispatch_id, job),
        crate::classify::Classification {
            layer: crate::classify::Layer::Fact,
            class,
            rule: "conformance".into(),
            evidence: Some(format!("{} happened", class.label())),
            repair_hint: "nothing".into(),
            retry_after_secs: None,
            reset_at: None,
        },
        1,
    );
    let event = Event::RunnerClassifiedFailure(crate::dispatch::classified_event(&report));
    (report, vec![event])
}

fn kinds(events: &[crate::store::StoredEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

/// 15. finish_and_settle finishes the dispatch and settles the attempt at
///     once: the decision event follows the dispatch's events; an incident
///     opens with the job attached. Repeating it (a retry after a lost
///     reply) finishes nothing twice and is a rejected decision. A worker
///     that lost its lease still records its dispatch's outcome, once, but
///     settles nothing.
pub(crate) async fn case_finish_and_settle(store: &dyn Store) {
    let lane = "finish";
    let ids = enqueue(store, &[new_job(lane, "r", 0), new_job(lane, "r", 0)]).await;
    let claimed = claim(store, lane, &["r"], "A", 2).await;
    assert_eq!(claimed.len(), 2);
    let (failing, lost) = (
        find(&claimed, &ids[0]).clone(),
        find(&claimed, &ids[1]).clone(),
    );

    // A failure that opens an incident and is retried later.
    let d1 = uuid::Uuid::now_v7().to_string();
    store
        .record_prepare(&prepare(&d1, &failing))
        .await
        .expect("record_prepare");
    let (report, events) = outcome(&d1, &failing, Class::RateLimited);
    let mut c = completion(
        &failing,
        "A",
        Class::RateLimited,
        Next::Retry {
            delay: Duration::from_secs(3600),
            timeout: None,
            diagnostics: false,
        },
        Some(facts("fp-finish", Class::RateLimited, lane, "r")),
    );
    c.dispatch_id = Some(d1.clone());
    assert!(
        store
            .finish_and_settle(&report, &events, &c)
            .await
            .expect("finish_and_settle"),
        "the owner's settlement applies"
    );
    let job = get(store, &failing.id).await;
    assert_eq!(job.state(), JobState::Scheduled, "{job:?}");
    assert_eq!(job.classifier.as_deref(), Some("rate_limited"));
    assert_eq!(job.last_dispatch_id.as_deref(), Some(d1.as_str()));
    let rec = store
        .dispatch(&d1)
        .await
        .expect("dispatch")
        .expect("exists");
    assert_eq!(rec.summary.classifier.as_deref(), Some("rate_limited"));
    assert!(rec.summary.finished_at.is_some(), "{rec:?}");
    // The report reads back whole: its environment fingerprint, kept once
    // (in runner_prepare), is part of it again.
    let read = rec
        .report
        .as_ref()
        .expect("a finished dispatch has its report");
    assert_eq!(read["dispatch_id"], d1.as_str());
    assert_eq!(
        read["env_fingerprint"],
        serde_json::to_value(&report.env_fingerprint).expect("serialise"),
        "{read}"
    );
    let evs = store.job_events(&failing.id).await.expect("job_events");
    assert_eq!(
        kinds(&evs),
        ["runner_prepare", "runner_classified_failure", "job_decided"],
        "the decision follows the dispatch's events"
    );
    let open = open_with(store, "fp-finish").await;
    assert_eq!(open.len(), 1, "{open:?}");
    let (_, attached) = incident(store, &open[0].id).await;
    assert_eq!(attached, vec![failing.id.clone()]);
    assert_eq!(job.incident_id.as_deref(), Some(open[0].id.as_str()));

    // The same call again (its reply was lost): nothing is finished twice,
    // and the settlement is fenced off.
    assert!(
        !store
            .finish_and_settle(&report, &events, &c)
            .await
            .expect("a repeat is not an error"),
        "a repeated settlement is rejected"
    );
    let again = store.job_events(&failing.id).await.expect("job_events");
    assert_eq!(
        kinds(&again),
        [
            "runner_prepare",
            "runner_classified_failure",
            "job_decided",
            "job_decision_rejected"
        ]
    );
    assert_eq!(
        get(store, &failing.id).await,
        job,
        "the repeat changed nothing"
    );
    assert_eq!(open_with(store, "fp-finish").await, open, "counted once");

    // A worker without the lease: its dispatch's outcome is recorded, once;
    // the job stays with its owner.
    let d2 = uuid::Uuid::now_v7().to_string();
    store
        .record_prepare(&prepare(&d2, &lost))
        .await
        .expect("record_prepare");
    let (report, events) = outcome(&d2, &lost, Class::Ok);
    let mut c = completion(&lost, "B", Class::Ok, Next::Done, None);
    c.dispatch_id = Some(d2.clone());
    assert!(
        !store
            .finish_and_settle(&report, &events, &c)
            .await
            .expect("finish_and_settle"),
        "B never held the lease"
    );
    assert_eq!(get(store, &lost.id).await, lost, "the job is still A's");
    let rec = store
        .dispatch(&d2)
        .await
        .expect("dispatch")
        .expect("exists");
    assert_eq!(rec.summary.classifier.as_deref(), Some("ok"));
    assert_eq!(
        kinds(&store.job_events(&lost.id).await.expect("job_events")),
        [
            "runner_prepare",
            "runner_classified_failure",
            "job_decision_rejected"
        ]
    );
}

/// 17. finish_settle_and_claim settles and, only when the settlement was
///     accepted and routes are given, claims the next due job for the same
///     owner; a non-owner's call settles nothing and claims nothing.
pub(crate) async fn case_finish_settle_and_claim(store: &dyn Store) {
    let lane = "chain";
    let ids = enqueue(
        store,
        &(0..3).map(|_| new_job(lane, "r", 0)).collect::<Vec<_>>(),
    )
    .await;
    let first = claim_one_of(store, lane, "A").await;
    assert_eq!(first.id, ids[0]);
    let next = crate::store::NextClaim {
        lane: lane.to_string(),
        routes: routes(&["r"]),
        lease: LEASE,
    };
    // The owner: settled, and the next due job claimed for it.
    let (d, (accepted, claimed)) = run_and_claim(store, &first, "A", &next).await;
    assert!(accepted);
    let second = claimed.expect("the next due job is claimed");
    assert_eq!(second.id, ids[1], "in claim order");
    assert_claimed(&second, "A", 1, LEASE);
    assert_eq!(second, get(store, &ids[1]).await);
    assert_eq!(get(store, &ids[0]).await.state(), JobState::Succeeded);
    let rec = store.dispatch(&d).await.expect("dispatch").expect("exists");
    assert!(rec.summary.finished_at.is_some(), "{rec:?}");

    // Not the owner: nothing settled, nothing claimed.
    let (_, answer) = run_and_claim(store, &second, "B", &next).await;
    assert_eq!(answer, (false, None));
    assert_eq!(get(store, &ids[2]).await.state(), JobState::Queued);

    // No routes (none passes preflight now): settled, nothing claimed.
    let no_routes = crate::store::NextClaim {
        routes: Vec::new(),
        ..next.clone()
    };
    let (_, answer) = run_and_claim(store, &second, "A", &no_routes).await;
    assert_eq!(answer, (true, None));
    assert_eq!(get(store, &ids[2]).await.state(), JobState::Queued);
}

/// Records a successful dispatch of `job` by `owner` and writes its outcome
/// with finish_settle_and_claim; returns the dispatch id and the answer.
async fn run_and_claim(
    store: &dyn Store,
    job: &Job,
    owner: &str,
    next: &crate::store::NextClaim,
) -> (String, (bool, Option<Job>)) {
    let d = uuid::Uuid::now_v7().to_string();
    store
        .record_prepare(&prepare(&d, job))
        .await
        .expect("record_prepare");
    let (report, events) = outcome(&d, job, Class::Ok);
    let mut c = completion(job, owner, Class::Ok, Next::Done, None);
    c.dispatch_id = Some(d.clone());
    let answer = store
        .finish_settle_and_claim(&report, &events, &c, next)
        .await
        .expect("finish_settle_and_claim");
    (d, answer)
}

async fn claim_one_of(store: &dyn Store, lane: &str, owner: &str) -> Job {
    let mut got = claim(store, lane, &["r"], owner, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    got.remove(0)
}
