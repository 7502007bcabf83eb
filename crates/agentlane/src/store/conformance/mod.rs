//! The store conformance suite: one set of cases, generic over [`Store`], that
//! every backend must pass. The `sqlite` module at the bottom runs each case
//! on a fresh SQLite file; a PostgreSQL module will call the same cases.
//!
//! Each case asserts behaviour that breaks when the backend's SQL is wrong:
//! orderings are checked with data whose insertion order differs from the
//! expected order, and every "changes nothing" is checked against the row as
//! it was before.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::class::Class;
use crate::events::Prepare;
use crate::model::Step;
use crate::queue::{
    incident_priority, Completion, Incident, IncidentFacts, Job, JobFilter, JobState, LanePending,
    NewJob, Settle,
};
use crate::store::Store;

/// The ordinary lease of these cases.
const LEASE: Duration = Duration::from_secs(60);
/// A lease short enough to expire during a case.
const SHORT: Duration = Duration::from_secs(1);
/// Longer than [`SHORT`], with room for clock granularity.
const PAST_SHORT: Duration = Duration::from_millis(1300);

mod finish;
mod maintenance;
pub(crate) use finish::*;
pub(crate) use maintenance::*;

// ---------------------------------------------------------------- helpers

fn new_job(lane: &str, route: &str, priority: i64) -> NewJob {
    let mut fields = BTreeMap::new();
    fields.insert("priority".to_string(), serde_json::json!(priority));
    fields.insert("lane".to_string(), serde_json::json!(lane));
    NewJob {
        kind: "review".to_string(),
        lane: lane.to_string(),
        route: route.to_string(),
        prompt: format!("review {lane}/{route} at {priority}"),
        fields,
        priority,
    }
}

fn routes(r: &[&str]) -> Vec<String> {
    r.iter().map(|s| s.to_string()).collect()
}

fn id_list(jobs: &[Job]) -> Vec<String> {
    jobs.iter().map(|j| j.id.clone()).collect()
}

fn id_set(jobs: &[Job]) -> BTreeSet<String> {
    jobs.iter().map(|j| j.id.clone()).collect()
}

fn find<'a>(jobs: &'a [Job], id: &str) -> &'a Job {
    jobs.iter()
        .find(|j| j.id == id)
        .unwrap_or_else(|| panic!("job {id} is among {:?}", id_list(jobs)))
}

fn at(s: &str) -> SystemTime {
    humantime::parse_rfc3339(s)
        .or_else(|_| humantime::parse_rfc3339_weak(s))
        .unwrap_or_else(|e| panic!("timestamp {s:?} parses: {e}"))
}

/// `later - earlier` in seconds (negative when `later` is earlier).
fn secs_between(earlier: &str, later: &str) -> f64 {
    match at(later).duration_since(at(earlier)) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

fn facts(fingerprint: &str, class: Class, lane: &str, route: &str) -> IncidentFacts {
    IncidentFacts {
        fingerprint: fingerprint.to_string(),
        class,
        route: Some(route.to_string()),
        lane: Some(lane.to_string()),
        host: "host-1".to_string(),
        repair_hint: format!("repair {fingerprint}"),
        evidence: Some(format!("evidence of {fingerprint}")),
        reset_at: None,
    }
}

fn completion(
    job: &Job,
    owner: &str,
    class: Class,
    settle: Settle,
    incident: Option<IncidentFacts>,
) -> Completion {
    Completion {
        job_id: job.id.clone(),
        attempt: job.attempts,
        owner: owner.to_string(),
        dispatch_id: None,
        class,
        settle,
        reason: format!("{} by {owner}", class.label()),
        incident,
    }
}

fn retry_now() -> Settle {
    Settle::Retry {
        delay: Duration::ZERO,
        timeout: None,
        diagnostics: false,
    }
}

fn prepare(dispatch_id: &str, job: &Job) -> Prepare {
    Prepare {
        dispatch_id: dispatch_id.to_string(),
        program: "claude".to_string(),
        cli_path: None,
        interpreter: None,
        argv: vec!["claude".to_string(), "-p".to_string()],
        cwd: "/tmp".into(),
        cwd_exists: true,
        repo_root: None,
        prompt_bytes: job.prompt.len() as u64,
        prompt_via: "stdin".to_string(),
        timeout_ms: None,
        route: Some(job.route.clone()),
        model: None,
        job_id: Some(job.id.clone()),
        attempt: Some(job.attempts),
        env_fingerprint: crate::envprint::env_fingerprint(
            &Default::default(),
            &Default::default(),
            &[0u8; 32],
        ),
        env_names: None,
    }
}

async fn enqueue(store: &dyn Store, jobs: &[NewJob]) -> Vec<String> {
    let ids = store.enqueue(jobs).await.expect("enqueue");
    assert_eq!(ids.len(), jobs.len(), "one id per enqueued job");
    ids
}

async fn get(store: &dyn Store, id: &str) -> Job {
    store
        .job(id)
        .await
        .expect("job")
        .unwrap_or_else(|| panic!("job {id} exists"))
}

async fn claim(store: &dyn Store, lane: &str, r: &[&str], owner: &str, limit: usize) -> Vec<Job> {
    store
        .claim(lane, &routes(r), owner, LEASE, limit)
        .await
        .expect("claim")
}

/// Claims the one due job of `lane` (route `r`).
async fn claim_one(store: &dyn Store, lane: &str, owner: &str) -> Job {
    let mut got = claim(store, lane, &["r"], owner, 10).await;
    assert_eq!(got.len(), 1, "exactly one due job in lane {lane}: {got:?}");
    got.remove(0)
}

async fn settle_ok(
    store: &dyn Store,
    job: &Job,
    owner: &str,
    class: Class,
    settle: Settle,
    incident: Option<IncidentFacts>,
) {
    let c = completion(job, owner, class, settle, incident);
    assert!(
        store.settle(&c).await.expect("settle"),
        "the settle of {} (attempt {}) by its owner {owner} applies",
        job.id,
        job.attempts
    );
}

async fn jobs(
    store: &dyn Store,
    lane: Option<&str>,
    state: Option<JobState>,
    limit: usize,
) -> Vec<String> {
    let filter = JobFilter {
        lane: lane.map(str::to_string),
        state,
        limit,
    };
    id_list(&store.jobs(&filter).await.expect("jobs"))
}

async fn incident(store: &dyn Store, id: &str) -> (Incident, Vec<String>) {
    store
        .incident(id)
        .await
        .expect("incident")
        .unwrap_or_else(|| panic!("incident {id} exists"))
}

async fn open_with(store: &dyn Store, fingerprint: &str) -> Vec<Incident> {
    store
        .incidents(true)
        .await
        .expect("incidents")
        .into_iter()
        .filter(|i| i.failure_fingerprint == fingerprint)
        .collect()
}

/// A freshly claimed job: running, leased to `owner` for about `lease`.
fn assert_claimed(j: &Job, owner: &str, attempts: u32, lease: Duration) {
    assert_eq!(j.state, JobState::Running, "{j:?}");
    assert_eq!(j.attempts, attempts, "{j:?}");
    assert_eq!(j.lease_owner.as_deref(), Some(owner), "{j:?}");
    assert_eq!(j.finished_at, None, "{j:?}");
    let expires = j
        .lease_expires_at
        .as_deref()
        .expect("a claimed job has a lease");
    let ahead = secs_between(&j.updated_at, expires);
    let want = lease.as_secs_f64();
    assert!(
        ahead > want - 0.5 && ahead < want + 0.5,
        "lease expires {ahead}s after the claim, want ~{want}s: {j:?}"
    );
    assert!(
        at(expires) > SystemTime::now(),
        "lease in the future: {j:?}"
    );
}

// ---------------------------------------------------------------- cases

/// 1b. A large enqueue (more jobs than one statement carries on PostgreSQL)
///     returns one distinct id per job, in order, and stores every job.
pub(crate) async fn case_enqueue_many(store: &dyn Store) {
    let lane = "many";
    let jobs: Vec<NewJob> = (0..2500)
        .map(|i| NewJob {
            prompt: format!("job {i}"),
            priority: i % 3,
            ..new_job(lane, "r", 0)
        })
        .collect();
    let ids = enqueue(store, &jobs).await;
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend");
    for i in [0, 999, 1000, 1001, 2499] {
        let job = get(store, &ids[i]).await;
        assert_eq!(
            (job.prompt.as_str(), job.priority, job.state),
            (
                format!("job {i}").as_str(),
                (i % 3) as i64,
                JobState::Queued
            )
        );
    }
    let status = store.status().await.expect("status");
    let queued = status
        .lanes
        .iter()
        .find(|(l, s, _)| l == lane && s == "queued")
        .map(|(_, _, n)| *n);
    assert_eq!(queued, Some(2500), "{status:?}");
}

/// 1. Enqueue returns ids in order (UUIDv7, sortable); jobs are readable one
///    by one and listed newest first with lane/state filters and limits.
pub(crate) async fn case_enqueue_and_read(store: &dyn Store) {
    assert!(jobs(store, None, None, 0).await.is_empty());
    assert!(store.job("no-such-job").await.expect("job").is_none());

    let lanes = ["a", "b", "a", "b", "a", "a", "b", "a"];
    let specs: Vec<NewJob> = lanes
        .iter()
        .enumerate()
        .map(|(i, lane)| new_job(lane, if i % 2 == 0 { "r1" } else { "r2" }, i as i64))
        .collect();
    let mut all = enqueue(store, &specs[..5]).await;
    all.extend(enqueue(store, &specs[5..]).await);

    for id in &all {
        let u = uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id} is a UUID: {e}"));
        assert_eq!(u.get_version_num(), 7, "{id} is a UUIDv7");
    }
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, all, "ids are distinct and sort in creation order");

    for (id, spec) in all.iter().zip(&specs) {
        let j = get(store, id).await;
        assert_eq!(&j.id, id);
        assert_eq!(
            (&j.kind, &j.lane, &j.route, &j.prompt, &j.fields, j.priority),
            (
                &spec.kind,
                &spec.lane,
                &spec.route,
                &spec.prompt,
                &spec.fields,
                spec.priority
            ),
            "the stored job is the enqueued one"
        );
        assert_eq!(j.state, JobState::Queued);
        assert_eq!(j.attempts, 0);
        assert_eq!(
            (j.lease_owner.as_deref(), j.lease_expires_at.as_deref()),
            (None, None)
        );
        assert_eq!(
            (j.finished_at.as_deref(), j.timeout_ms, j.diagnostics),
            (None, None, false)
        );
        assert_eq!(
            (j.classifier.as_deref(), j.incident_id.as_deref()),
            (None, None)
        );
        assert_eq!(j.last_dispatch_id, None);
    }

    let newest_first: Vec<String> = all.iter().rev().cloned().collect();
    let of_lane = |lane: &str| -> Vec<String> {
        newest_first
            .iter()
            .zip(lanes.iter().rev())
            .filter(|(_, l)| **l == lane)
            .map(|(id, _)| id.clone())
            .collect()
    };
    assert_eq!(
        jobs(store, None, None, 0).await,
        newest_first,
        "limit 0 = all, newest first"
    );
    assert_eq!(jobs(store, None, None, 3).await, newest_first[..3]);
    assert_eq!(jobs(store, Some("a"), None, 0).await, of_lane("a"));
    assert_eq!(jobs(store, Some("b"), None, 2).await, of_lane("b")[..2]);
    assert!(jobs(store, Some("c"), None, 0).await.is_empty());
    assert_eq!(
        jobs(store, None, Some(JobState::Queued), 0).await,
        newest_first
    );
    assert!(jobs(store, None, Some(JobState::Running), 0)
        .await
        .is_empty());

    // Claim lane a's highest-priority job (the last one enqueued): the state filter sees it.
    let claimed = claim(store, "a", &["r1", "r2"], "A", 1).await;
    assert_eq!(id_list(&claimed), [all[7].clone()]);
    assert_eq!(
        jobs(store, None, Some(JobState::Running), 0).await,
        [all[7].clone()]
    );
    assert!(jobs(store, Some("b"), Some(JobState::Running), 0)
        .await
        .is_empty());
    let queued_a: Vec<String> = of_lane("a")
        .into_iter()
        .filter(|id| *id != all[7])
        .collect();
    assert_eq!(
        jobs(store, Some("a"), Some(JobState::Queued), 0).await,
        queued_a
    );
}

/// 2. Claim orders by priority desc, then run_at, then id; respects limit,
///    lane and routes; a claimed job is running under the owner's lease.
pub(crate) async fn case_claim_order_and_filters(store: &dyn Store) {
    let lane = "claim";
    let ids = enqueue(
        store,
        &[
            new_job(lane, "r1", 0),
            new_job(lane, "r1", 5),
            new_job(lane, "r1", 1),
            new_job(lane, "r1", 5),
            new_job(lane, "r1", 0),
            new_job(lane, "r2", 10),
            new_job("other", "r1", 9),
        ],
    )
    .await;

    assert!(
        claim(store, lane, &[], "A", 10).await.is_empty(),
        "no routes, no jobs"
    );
    assert!(
        claim(store, lane, &["r1"], "A", 0).await.is_empty(),
        "limit 0, no jobs"
    );
    assert!(
        claim(store, lane, &["r9"], "A", 10).await.is_empty(),
        "unknown route"
    );
    assert!(claim(store, "nowhere", &["r1", "r2"], "A", 10)
        .await
        .is_empty());

    let got = claim(store, lane, &["r1"], "A", 3).await;
    assert_eq!(
        id_list(&got),
        [ids[1].clone(), ids[3].clone(), ids[2].clone()],
        "priority desc, then id; limit 3"
    );
    for j in &got {
        assert_claimed(j, "A", 1, LEASE);
        assert_eq!(
            &get(store, &j.id).await,
            j,
            "the claim is stored as returned"
        );
    }

    let rest = claim(store, lane, &["r1"], "B", 10).await;
    assert_eq!(id_list(&rest), [ids[0].clone(), ids[4].clone()]);
    for j in &rest {
        assert_claimed(j, "B", 1, LEASE);
    }
    assert!(
        claim(store, lane, &["r1"], "B", 10).await.is_empty(),
        "the r2 job and the other lane's job are not claimed"
    );
    assert_eq!(get(store, &ids[5]).await.state, JobState::Queued);
    assert_eq!(get(store, &ids[6]).await.state, JobState::Queued);
    assert_eq!(
        id_list(&claim(store, lane, &["r1", "r2"], "C", 10).await),
        [ids[5].clone()]
    );
    assert_eq!(
        id_list(&claim(store, "other", &["r1"], "C", 10).await),
        [ids[6].clone()]
    );

    // run_at comes before id: an older job released later waits behind a newer one.
    let lane = "claim-run-at";
    let ids = enqueue(store, &[new_job(lane, "r", 0), new_job(lane, "r", 0)]).await;
    let first = claim(store, lane, &["r"], "A", 1).await;
    assert_eq!(id_list(&first), [ids[0].clone()]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    settle_ok(store, &first[0], "A", Class::Ok, Settle::Release, None).await;
    let (older, newer) = (get(store, &ids[0]).await, get(store, &ids[1]).await);
    assert!(
        secs_between(&newer.run_at, &older.run_at) > 0.0,
        "the released job runs later: {older:?} {newer:?}"
    );
    assert_eq!(
        id_list(&claim(store, lane, &["r"], "A", 1).await),
        [ids[1].clone()]
    );
    assert_eq!(
        id_list(&claim(store, lane, &["r"], "A", 1).await),
        [ids[0].clone()]
    );
}

/// 3a. Two owners claiming the same 100 jobs in interleaved batches never
///     get the same job, and together get all of them.
pub(crate) async fn case_claims_never_overlap(store: &dyn Store) {
    let lane = "race";
    let specs: Vec<NewJob> = (0..100).map(|i| new_job(lane, "r", i % 3)).collect();
    let all: BTreeSet<String> = enqueue(store, &specs).await.into_iter().collect();
    let mut seen = BTreeSet::new();
    let (mut by_a, mut by_b) = (0, 0);
    for _ in 0..100 {
        let a = claim(store, lane, &["r"], "A", 7).await;
        let b = claim(store, lane, &["r"], "B", 5).await;
        if a.is_empty() && b.is_empty() {
            break;
        }
        for (jobs, owner, count) in [(a, "A", &mut by_a), (b, "B", &mut by_b)] {
            for j in jobs {
                assert_claimed(&j, owner, 1, LEASE);
                assert!(seen.insert(j.id.clone()), "job {} claimed twice", j.id);
                *count += 1;
            }
        }
    }
    assert_eq!(seen, all, "every job claimed once");
    assert!(
        by_a > 0 && by_b > 0,
        "both owners claimed: A {by_a}, B {by_b}"
    );
}

/// 3b. The same race, run concurrently on two handles of one database.
pub(crate) async fn case_concurrent_claims(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    const LANE: &str = "race-concurrent";
    let specs: Vec<NewJob> = (0..100).map(|i| new_job(LANE, "r", i % 4)).collect();
    let all: BTreeSet<String> = enqueue(&*a, &specs).await.into_iter().collect();

    async fn drain(store: Arc<dyn Store>, owner: &'static str) -> Vec<String> {
        let mut got = Vec::new();
        for _ in 0..1000 {
            let batch = store
                .claim(LANE, &routes(&["r"]), owner, LEASE, 3)
                .await
                .expect("claim");
            if batch.is_empty() {
                break;
            }
            for j in batch {
                assert_eq!(j.lease_owner.as_deref(), Some(owner));
                assert_eq!(j.attempts, 1, "claimed once: {j:?}");
                got.push(j.id);
            }
            tokio::task::yield_now().await;
        }
        got
    }

    let (got_a, got_b) = tokio::join!(
        tokio::spawn(drain(a.clone(), "A")),
        tokio::spawn(drain(b.clone(), "B"))
    );
    let (got_a, got_b) = (got_a.expect("claimer A"), got_b.expect("claimer B"));
    let mut seen = BTreeSet::new();
    for id in got_a.iter().chain(&got_b) {
        assert!(seen.insert(id.clone()), "job {id} claimed by both A and B");
    }
    assert_eq!(seen, all, "every job claimed once");
    // The rows agree with what each claimer was told.
    for (ids, owner) in [(&got_a, "A"), (&got_b, "B")] {
        for id in ids {
            let j = get(&*b, id).await;
            assert_eq!(
                (j.state, j.lease_owner.as_deref(), j.attempts),
                (JobState::Running, Some(owner), 1)
            );
        }
    }
}

/// 4. Settle is fenced by (job, attempt, owner); each variant gives its state;
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
    let right = completion(&j, "A", Class::AuthUnavailable, Settle::Park, Some(auth));
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
    assert_eq!(get(store, &j.id).await.state, JobState::Parked);
    assert!(
        !store.settle(&right).await.expect("settle"),
        "a job no longer running is not settled again"
    );

    // Done.
    let j = claim_one(store, "s-done", "A").await;
    let c = Completion {
        dispatch_id: Some("dispatch-done".to_string()),
        ..completion(&j, "A", Class::Ok, Settle::Done, None)
    };
    assert!(store.settle(&c).await.expect("settle"));
    let d = get(store, &j.id).await;
    assert_eq!(d.state, JobState::Succeeded);
    assert!(d.finished_at.is_some(), "{d:?}");
    assert_eq!(
        (d.lease_owner.as_deref(), d.lease_expires_at.as_deref()),
        (None, None)
    );
    assert_eq!(d.next_action.map(Step::label), Some("done"));
    assert_eq!(d.classifier.as_deref(), Some("ok"));
    assert_eq!(d.reason.as_deref(), Some(c.reason.as_str()));
    assert_eq!(d.last_dispatch_id.as_deref(), Some("dispatch-done"));
    assert_eq!(d.attempts, 1);
    assert!(claim(store, "s-done", &["r"], "A", 10).await.is_empty());

    // Park.
    let j = claim_one(store, "s-park", "A").await;
    settle_ok(store, &j, "A", Class::CliMissing, Settle::Park, None).await;
    let p = get(store, &j.id).await;
    assert_eq!(
        (p.state, p.next_action.map(Step::label)),
        (JobState::Parked, Some("park"))
    );
    assert_eq!(
        (p.finished_at.as_deref(), p.lease_owner.as_deref()),
        (None, None)
    );
    assert_eq!(p.classifier.as_deref(), Some("cli_missing"));
    assert!(
        claim(store, "s-park", &["r"], "A", 10).await.is_empty(),
        "parked is not claimable"
    );

    // Fail.
    let j = claim_one(store, "s-fail", "A").await;
    settle_ok(store, &j, "A", Class::PayloadInvalid, Settle::Fail, None).await;
    let f = get(store, &j.id).await;
    assert_eq!(
        (f.state, f.next_action.map(Step::label)),
        (JobState::Failed, Some("fail"))
    );
    assert!(f.finished_at.is_some(), "{f:?}");
    assert_eq!(f.lease_owner, None);
    assert_eq!(f.classifier.as_deref(), Some("payload_invalid"));
    assert!(claim(store, "s-fail", &["r"], "A", 10).await.is_empty());

    // Release: back to the lane with the attempt given back.
    let j = claim_one(store, "s-release", "A").await;
    settle_ok(store, &j, "A", Class::WorkerLost, Settle::Release, None).await;
    let r = get(store, &j.id).await;
    assert_eq!((r.state, r.attempts), (JobState::Queued, 0), "{r:?}");
    assert_eq!(
        (
            r.lease_owner.as_deref(),
            r.lease_expires_at.as_deref(),
            r.finished_at.as_deref()
        ),
        (None, None, None)
    );
    let again = claim_one(store, "s-release", "B").await;
    assert_eq!(again.id, j.id);
    assert_claimed(&again, "B", 1, LEASE);

    // Retry: scheduled ~1 s ahead with the next attempt's timeout and diagnostics.
    let j = claim_one(store, "s-retry", "A").await;
    let retry = Settle::Retry {
        delay: Duration::from_secs(1),
        timeout: Some(Duration::from_secs(90)),
        diagnostics: true,
    };
    settle_ok(store, &j, "A", Class::Timeout, retry, None).await;
    let s = get(store, &j.id).await;
    assert_eq!(
        (s.state, s.next_action.map(Step::label)),
        (JobState::Scheduled, Some("retry"))
    );
    assert_eq!((s.timeout_ms, s.diagnostics), (Some(90_000), true), "{s:?}");
    assert_eq!(
        (
            s.finished_at.as_deref(),
            s.lease_owner.as_deref(),
            s.lease_expires_at.as_deref()
        ),
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
        settle_ok(
            store,
            &job,
            "A",
            Class::QuotaExhausted,
            Settle::Park,
            Some(f),
        )
        .await;
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
        Settle::Fail,
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
            Settle::Park,
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
    assert_eq!(auth_inc.state, "open");
    assert_eq!(auth_inc.classifier, "auth_unavailable");
    assert_eq!(auth_inc.repair_address, "runtime");
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
        Settle::Park,
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
            .resolve_incident(&auth_inc.id, "token renewed")
            .await
            .expect("resolve"),
        Some(5)
    );
    for id in &ids[1..6] {
        let j = get(store, id).await;
        assert_eq!(
            (j.state, j.next_action.map(Step::label)),
            (JobState::Queued, Some("run")),
            "{j:?}"
        );
    }
    assert_eq!(
        get(store, &ids[6]).await.state,
        JobState::Parked,
        "another incident's job stays parked"
    );
    let resolved = incident(store, &auth_inc.id).await.0;
    assert_eq!(resolved.state, "resolved");
    assert!(resolved.resolved_at.is_some());
    assert_eq!(resolved.resolution.as_deref(), Some("token renewed"));
    assert_eq!(
        store
            .resolve_incident(&auth_inc.id, "again")
            .await
            .expect("resolve"),
        None
    );
    assert_eq!(
        store
            .resolve_incident("no-such-incident", "x")
            .await
            .expect("resolve"),
        None
    );
    let open = store.incidents(true).await.expect("incidents");
    assert!(
        open.iter()
            .all(|i| i.id != auth_inc.id && i.state == "open"),
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
            .resolve_incident(&rate_inc.id, "waited")
            .await
            .expect("resolve"),
        Some(0)
    );
    assert_eq!(get(store, &ids[0]).await.state, JobState::Failed);

    // After resolution, the same fingerprint opens a new incident.
    let j = claim(store, lane, &["r"], "A", 1).await.remove(0);
    assert_eq!(j.attempts, 2);
    settle_ok(
        store,
        &j,
        "A",
        Class::AuthUnavailable,
        Settle::Park,
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
        (old.state.as_str(), old.affected_jobs, old.occurrences),
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
        Settle::Park,
        Some(net.clone()),
    )
    .await;
    let inc_id = open_with(store, "fp-net").await.remove(0).id;
    assert_eq!(incident(store, &inc_id).await.0.affected_jobs, 2);

    // An unrelated success leaves an unrelated incident open.
    let other_id = store
        .open_incident(&facts(
            "fp-unrelated",
            Class::QuotaExhausted,
            "heal-other",
            "r",
        ))
        .await
        .expect("open_incident");
    enqueue(store, &[new_job("heal-other", "r", 0)]).await;
    let o = claim_one(store, "heal-other", "A").await;
    settle_ok(store, &o, "A", Class::Ok, Settle::Done, None).await;
    assert_eq!(incident(store, &other_id).await.0.state, "open");

    // j0 succeeds while j1 is still parked: the incident stays open.
    let r0 = claim_one(store, lane, "A").await;
    assert_eq!(r0.id, j0.id);
    settle_ok(store, &r0, "A", Class::Ok, Settle::Done, None).await;
    assert_eq!(
        incident(store, &inc_id).await.0.state,
        "open",
        "a job is still parked"
    );

    // j1 released and succeeds: resolved.
    assert_eq!(
        store
            .release_parked(lane, "r", "network back")
            .await
            .expect("release"),
        1
    );
    let r1 = claim_one(store, lane, "A").await;
    assert_eq!(r1.id, j1.id);
    settle_ok(store, &r1, "A", Class::Ok, Settle::Done, None).await;
    let healed = incident(store, &inc_id).await.0;
    assert_eq!(healed.state, "resolved", "{healed:?}");
    assert!(
        healed.resolved_at.is_some() && healed.resolution.is_some(),
        "{healed:?}"
    );
    assert_eq!(incident(store, &other_id).await.0.state, "open");
    assert_eq!(store.status().await.expect("status").open_incidents, 1);
}

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
            .expect("heartbeat"),
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
        renewed.lease_expires_at.as_deref().expect("lease"),
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
        (still.state, still.lease_owner.as_deref()),
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
    let late = completion(&lost, "worker-A", Class::Ok, Settle::Done, None);
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
        (decided.state, decided.lease_owner.as_deref()),
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
        settle_ok(store, find(&got, &ids[i]), "A", class, Settle::Park, None).await;
    }
    settle_ok(
        store,
        find(&got, &ids[6]),
        "A",
        Class::AuthUnavailable,
        Settle::Fail,
        None,
    )
    .await;
    let queued = enqueue(store, &[new_job(lane, "r", 0)]).await.remove(0);

    assert_eq!(
        store
            .release_parked(lane, "r", "preflight passed")
            .await
            .expect("release"),
        2
    );
    for i in [0, 1] {
        let j = get(store, &ids[i]).await;
        assert_eq!(
            (j.state, j.next_action.map(Step::label)),
            (JobState::Queued, Some("run")),
            "{j:?}"
        );
        assert_eq!(j.reason.as_deref(), Some("preflight passed"));
    }
    for i in [2, 3, 4, 5] {
        assert_eq!(
            get(store, &ids[i]).await.state,
            JobState::Parked,
            "job {i} stays parked"
        );
    }
    assert_eq!(get(store, &ids[6]).await.state, JobState::Failed);
    assert_eq!(
        get(store, &queued).await.reason.as_deref(),
        Some("queued"),
        "a queued job is untouched"
    );
    assert_eq!(
        store
            .release_parked(lane, "r", "again")
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

/// 9. lane_pending: queued and scheduled jobs on the routes, running jobs in the lane.
pub(crate) async fn case_lane_pending(store: &dyn Store) {
    let lane = "pend";
    assert_eq!(
        store
            .lane_pending(lane, &routes(&["r1"]))
            .await
            .expect("pending"),
        LanePending::default()
    );
    // Stage 1: jobs that get claimed and settled.
    let ids = enqueue(
        store,
        &[
            new_job(lane, "r1", 0),    // 0 parked
            new_job(lane, "r1", 0),    // 1 succeeded
            new_job(lane, "r1", 0),    // 2 running
            new_job(lane, "r2", 0),    // 3 scheduled a minute ahead
            new_job(lane, "r3", 0),    // 4 running on a route not asked about
            new_job("pend2", "r1", 0), // 5 running in another lane
        ],
    )
    .await;
    let mut got = claim(store, lane, &["r1", "r2", "r3"], "A", 100).await;
    got.extend(claim(store, "pend2", &["r1"], "A", 100).await);
    assert_eq!(got.len(), 6);
    settle_ok(
        store,
        find(&got, &ids[0]),
        "A",
        Class::AuthUnavailable,
        Settle::Park,
        None,
    )
    .await;
    settle_ok(
        store,
        find(&got, &ids[1]),
        "A",
        Class::Ok,
        Settle::Done,
        None,
    )
    .await;
    let later = Settle::Retry {
        delay: Duration::from_secs(60),
        timeout: None,
        diagnostics: false,
    };
    settle_ok(
        store,
        find(&got, &ids[3]),
        "A",
        Class::RateLimited,
        later,
        None,
    )
    .await;
    // Stage 2: queued jobs.
    enqueue(
        store,
        &[
            new_job(lane, "r1", 0),
            new_job(lane, "r1", 0),
            new_job(lane, "r3", 0),
            new_job("pend2", "r1", 0),
        ],
    )
    .await;

    let pending = |r: &'static [&'static str], l: &'static str| async move {
        store.lane_pending(l, &routes(r)).await.expect("pending")
    };
    assert_eq!(
        pending(&["r1", "r2"], lane).await,
        LanePending {
            waiting: 3,
            running: 2
        }
    );
    assert_eq!(
        pending(&["r1"], lane).await,
        LanePending {
            waiting: 2,
            running: 2
        }
    );
    assert_eq!(
        pending(&["r3"], lane).await,
        LanePending {
            waiting: 1,
            running: 2
        }
    );
    assert_eq!(
        pending(&["r1", "r2", "r3"], lane).await,
        LanePending {
            waiting: 4,
            running: 2
        }
    );
    assert_eq!(
        pending(&["r1"], "pend2").await,
        LanePending {
            waiting: 1,
            running: 1
        }
    );
    assert_eq!(pending(&["r1"], "nowhere").await, LanePending::default());
}

/// 10. status: counts per lane and state, per class, and open incidents.
pub(crate) async fn case_status(store: &dyn Store) {
    let empty = store.status().await.expect("status");
    assert!(
        empty.lanes.is_empty() && empty.classes.is_empty(),
        "{empty:?}"
    );
    assert_eq!(empty.open_incidents, 0);

    let ids = enqueue(
        store,
        &[
            new_job("L1", "r", 0), // 0 failed auth_unavailable
            new_job("L1", "r", 0), // 1 failed auth_unavailable
            new_job("L1", "r", 0), // 2 running
            new_job("L2", "r", 0), // 3 parked cli_missing
            new_job("L2", "r", 0), // 4 succeeded
        ],
    )
    .await;
    let mut got = claim(store, "L1", &["r"], "A", 100).await;
    got.extend(claim(store, "L2", &["r"], "A", 100).await);
    assert_eq!(got.len(), 5);
    let auth = facts("fp-auth", Class::AuthUnavailable, "L1", "r");
    for i in [0, 1] {
        settle_ok(
            store,
            find(&got, &ids[i]),
            "A",
            Class::AuthUnavailable,
            Settle::Fail,
            Some(auth.clone()),
        )
        .await;
    }
    let cli = facts("fp-cli", Class::CliMissing, "L2", "r");
    settle_ok(
        store,
        find(&got, &ids[3]),
        "A",
        Class::CliMissing,
        Settle::Park,
        Some(cli),
    )
    .await;
    settle_ok(
        store,
        find(&got, &ids[4]),
        "A",
        Class::Ok,
        Settle::Done,
        None,
    )
    .await;
    enqueue(store, &[new_job("L1", "r", 0), new_job("L1", "r", 0)]).await;
    let pre = store
        .open_incident(&facts("fp-pre", Class::ConfigInvalid, "L3", "r"))
        .await
        .expect("open_incident");
    assert_eq!(
        store
            .resolve_incident(&pre, "fixed")
            .await
            .expect("resolve"),
        Some(0)
    );

    let status = store.status().await.expect("status");
    let mut lanes = status.lanes.clone();
    lanes.sort();
    let want: Vec<(String, String, u64)> = [
        ("L1", "failed", 2),
        ("L1", "queued", 2),
        ("L1", "running", 1),
        ("L2", "parked", 1),
        ("L2", "succeeded", 1),
    ]
    .into_iter()
    .map(|(l, s, n)| (l.to_string(), s.to_string(), n))
    .collect();
    assert_eq!(lanes, want, "{status:?}");
    let mut classes = status.classes.clone();
    classes.sort();
    let want: Vec<(String, u64)> = [("auth_unavailable", 2), ("cli_missing", 1), ("ok", 1)]
        .into_iter()
        .map(|(c, n)| (c.to_string(), n))
        .collect();
    assert_eq!(classes, want, "{status:?}");
    assert_eq!(
        status.open_incidents, 2,
        "fp-auth and fp-cli open, fp-pre resolved"
    );
}

/// One leader at a time; the leader renews; another takes over once its lease expires.
pub(crate) async fn case_leadership(store: &dyn Store) {
    use std::time::Duration;
    let lease = Duration::from_millis(800);
    assert!(
        store
            .try_lead("maintenance", "A", lease)
            .await
            .expect("lead"),
        "the first asks, the first leads"
    );
    assert!(
        !store
            .try_lead("maintenance", "B", lease)
            .await
            .expect("lead"),
        "B may not lead while A's lease holds"
    );
    assert!(
        store
            .try_lead("maintenance", "A", lease)
            .await
            .expect("lead"),
        "A renews"
    );
    assert!(
        store.try_lead("other", "B", lease).await.expect("lead"),
        "leaderships are per name"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        store
            .try_lead("maintenance", "B", lease)
            .await
            .expect("lead"),
        "B takes over an expired lease"
    );
    assert!(
        !store
            .try_lead("maintenance", "A", lease)
            .await
            .expect("lead"),
        "A has lost it"
    );
}

/// Applies macro `$m` to every conformance case, as `test => case`: each
/// backend's module runs them all.
#[cfg(test)]
macro_rules! every_case {
    ($m:ident) => {
        $m! {
            enqueue_and_read => case_enqueue_and_read,
            enqueue_many => case_enqueue_many,
            claim_order_and_filters => case_claim_order_and_filters,
            claims_never_overlap => case_claims_never_overlap,
            settle_fenced_and_variants => case_settle_fenced_and_variants,
            incidents => case_incidents,
            incident_keeps_latest_reset => case_incident_keeps_latest_reset,
            incident_resolves_on_success => case_incident_resolves_on_success,
            rescue_expired => case_rescue_expired,
            rescue_evidence_names_lost_worker => case_rescue_evidence_names_lost_worker,
            release_parked => case_release_parked,
            lane_pending => case_lane_pending,
            status => case_status,
            leadership => case_leadership,
            prunes_on_retention => case_prunes_on_retention,
            prunes_in_batches => case_prunes_in_batches,
            finish_and_settle => case_finish_and_settle,
            finish_settle_and_claim => case_finish_settle_and_claim,
        }
    };
}

#[cfg(test)]
mod sqlite {
    use std::sync::Arc;

    use crate::store::sqlite::SqliteStore;
    use crate::store::Store;

    fn open(dir: &tempfile::TempDir) -> SqliteStore {
        SqliteStore::open(&dir.path().join("agentlane.db")).expect("open the store")
    }

    macro_rules! cases {
        ($($test:ident => $case:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $test() {
                let dir = tempfile::tempdir().expect("tempdir");
                let store = open(&dir);
                super::$case(&store).await;
            }
        )*};
    }

    every_case!(cases);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_claims() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a: Arc<dyn Store> = Arc::new(open(&dir));
        let b: Arc<dyn Store> = Arc::new(open(&dir));
        super::case_concurrent_claims(a, b).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn incident_counts_are_exact_under_concurrency() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stores: Vec<Arc<dyn Store>> = (0..4).map(|_| Arc::new(open(&dir)) as _).collect();
        super::case_incident_counts_are_exact_under_concurrency(stores).await;
    }
}

/// The same suite on PostgreSQL: each test in a fresh schema of the database
/// named by `AGENTLANE_TEST_POSTGRES` (default: the local server's `test`
/// database). `.ci/run` starts the server when it is not running.
#[cfg(test)]
mod postgres {
    use std::sync::Arc;

    use crate::store::postgres::PostgresStore;
    use crate::store::Store;

    fn base_url() -> String {
        std::env::var("AGENTLANE_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
    }

    async fn drop_schema(schema: &str) {
        if let Ok((client, conn)) =
            tokio_postgres::connect(&base_url(), tokio_postgres::NoTls).await
        {
            tokio::spawn(conn);
            let _ = client
                .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                .await;
        }
    }

    /// A fresh schema, and a URL whose connections use it.
    async fn fresh_schema() -> (String, String) {
        let schema = format!("al_test_{}", uuid::Uuid::now_v7().simple());
        let (client, conn) = tokio_postgres::connect(&base_url(), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {} ({e}): start it (.ci/run does) or set AGENTLANE_TEST_POSTGRES", base_url()));
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("create schema");
        let sep = if base_url().contains('?') { '&' } else { '?' };
        (
            format!("{}{sep}options=-c%20search_path%3D{schema}", base_url()),
            schema,
        )
    }

    async fn open(url: &str) -> PostgresStore {
        PostgresStore::open(url)
            .await
            .expect("open the PostgreSQL store")
    }

    use super as conformance;

    /// Tests of the conformance cases, each with a store from the `open`
    /// in scope where the macro is used.
    macro_rules! cases {
        ($($test:ident => $case:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $test() {
                let (url, schema) = fresh_schema().await;
                let store = open(&url).await;
                conformance::$case(&store).await;
                drop_schema(&schema).await;
            }
        )*};
    }

    /// The same cases with every statement sent unnamed with its parameter
    /// types, as under a pooler's transaction pooling (`pool_mode=transaction`),
    /// straight to the server: each statement's types are learned and used.
    mod unnamed {
        use super::{drop_schema, fresh_schema, PostgresStore};
        use crate::store::conformance;

        async fn open(url: &str) -> PostgresStore {
            PostgresStore::open(&format!("{url}&pool_mode=transaction"))
                .await
                .expect("open the PostgreSQL store (pool_mode=transaction)")
        }

        every_case!(cases);
    }

    every_case!(cases);

    /// A large enqueue into a table analyzed while empty refreshes the
    /// statistics, so claims planned afterwards use the claim index instead
    /// of scanning the table (a plan that grows with every finished job).
    #[tokio::test]
    async fn a_large_enqueue_refreshes_statistics_analyzed_empty() {
        let (url, schema) = fresh_schema().await;
        let store = open(&url).await;
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        client.batch_execute("ANALYZE jobs").await.expect("analyze");
        let reltuples = || async {
            client
                .query_one(
                    "SELECT reltuples FROM pg_class WHERE oid = 'jobs'::regclass",
                    &[],
                )
                .await
                .expect("reltuples")
                .get::<_, f32>(0)
        };
        assert_eq!(reltuples().await, 0.0, "analyzed empty");
        let jobs: Vec<_> = (0..1500).map(|_| super::new_job("stats", "r", 0)).collect();
        super::enqueue(&store, &jobs).await;
        let after = reltuples().await;
        assert!(after >= 1500.0, "statistics refreshed: reltuples {after}");
        drop_schema(&schema).await;
    }

    /// The times every read renders (`al_ts`) are inlined into the statement,
    /// not run as a SQL function of their own for each value.
    #[tokio::test]
    async fn rendered_times_are_inlined() {
        let (url, schema) = fresh_schema().await;
        let _store = open(&url).await; // migrated
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        let plan: String = client
            .query("EXPLAIN VERBOSE SELECT al_ts(now())", &[])
            .await
            .expect("explain")
            .iter()
            .map(|r| r.get::<_, String>(0) + "\n")
            .collect();
        assert!(
            plan.contains("to_char") && !plan.contains("al_ts("),
            "al_ts is not inlined:\n{plan}"
        );
        drop_schema(&schema).await;
    }

    /// The settlement's fence and the lease renewal find their jobs by primary
    /// key in the generic plans a worker's cached statements end up with, on
    /// statistics where few jobs run (the usual case). Through the partial
    /// `jobs_leases` index the lookup would visit every lease taken since the
    /// last vacuum: a per-job cost that grows with the churn.
    #[tokio::test]
    async fn settlement_and_renewal_find_the_job_by_primary_key() {
        use crate::store::postgres::queue_sql;
        let (url, schema) = fresh_schema().await;
        let store = open(&url).await;
        let jobs: Vec<_> = (0..1500).map(|_| super::new_job("plans", "r", 0)).collect();
        super::enqueue(&store, &jobs).await; // analyzes: every job queued, none running
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        client
            .batch_execute("SET plan_cache_mode = force_generic_plan")
            .await
            .expect("generic plans");
        // (name, statement, its parameters, the part of the plan that must use the key)
        let cases = [
            ("settle", queue_sql::SETTLE, 16, "CTE j"),
            (
                "finish_settle_and_claim",
                queue_sql::finish_settle_and_claim_sql(),
                29,
                "CTE j",
            ),
            ("renew", queue_sql::RENEW, 3, "Update on jobs"),
        ];
        for (name, sql, params, part) in cases {
            client
                .batch_execute(&format!("PREPARE {name} AS {sql}"))
                .await
                .unwrap_or_else(|e| panic!("prepare {name}: {e}"));
            let nulls = vec!["NULL"; params].join(", ");
            let plan: String = client
                .query(&format!("EXPLAIN EXECUTE {name}({nulls})"), &[])
                .await
                .unwrap_or_else(|e| panic!("explain {name}: {e}"))
                .iter()
                .map(|r| r.get::<_, String>(0) + "\n")
                .collect();
            // The plan of `part`: from its line to the next CTE.
            let from = plan
                .find(part)
                .unwrap_or_else(|| panic!("{name}: no {part} in\n{plan}"));
            let rest = &plan[from + part.len()..];
            let scope = &rest[..rest.find("CTE ").unwrap_or(rest.len())];
            assert!(
                scope.contains("jobs_pkey") && !scope.contains("jobs_leases"),
                "{name}: the job is not found by its primary key:\n{plan}"
            );
        }
        drop_schema(&schema).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_claims() {
        let (url, schema) = fresh_schema().await;
        let a: Arc<dyn Store> = Arc::new(open(&url).await);
        let b: Arc<dyn Store> = Arc::new(open(&url).await);
        super::case_concurrent_claims(a, b).await;
        drop_schema(&schema).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn incident_counts_are_exact_under_concurrency() {
        let (url, schema) = fresh_schema().await;
        let mut stores: Vec<Arc<dyn Store>> = Vec::new();
        for _ in 0..4 {
            stores.push(Arc::new(open(&url).await));
        }
        super::case_incident_counts_are_exact_under_concurrency(stores).await;
        drop_schema(&schema).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn new_jobs_wake_an_idle_worker_through_listen_notify() {
        use std::time::{Duration, Instant};
        let (url, schema) = fresh_schema().await;
        let waiter = Arc::new(open(&url).await);
        let producer = open(&url).await;
        let lane = format!("lane-{}", uuid::Uuid::now_v7().simple());
        // Start the listener and drain the wake-up every (re)connect gives.
        waiter
            .wait_for_jobs(&lane, Duration::from_millis(500))
            .await;
        waiter
            .wait_for_jobs(&lane, Duration::from_millis(200))
            .await;
        let w = waiter.clone();
        let l = lane.clone();
        let idle = tokio::spawn(async move {
            let started = Instant::now();
            w.wait_for_jobs(&l, Duration::from_secs(20)).await;
            started.elapsed()
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let job = crate::queue::NewJob {
            kind: "k".into(),
            lane: lane.clone(),
            route: "r".into(),
            prompt: "p".into(),
            fields: Default::default(),
            priority: 0,
        };
        producer.enqueue(&[job]).await.expect("enqueue");
        let waited = idle.await.expect("join");
        assert!(
            waited >= Duration::from_millis(250),
            "woken before the enqueue ({waited:?}): a stale wake-up"
        );
        assert!(
            waited < Duration::from_secs(10),
            "not woken by NOTIFY: waited {waited:?} of the 20 s poll"
        );
        drop_schema(&schema).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn five_workers_migrating_an_empty_database_at_once() {
        let (url, schema) = fresh_schema().await;
        let opens = (0..5).map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PostgresStore::open(&url).await.map(|_| ()) })
        });
        for handle in opens.collect::<Vec<_>>() {
            handle
                .await
                .expect("join")
                .expect("every concurrent start migrates or finds the schema migrated");
        }
        drop_schema(&schema).await;
    }
}
