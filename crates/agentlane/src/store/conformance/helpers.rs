//! What the conformance cases share: their imports, leases, and the helpers
//! that build jobs, claim, settle and read back.

pub(super) use std::collections::{BTreeMap, BTreeSet};
pub(super) use std::sync::Arc;
pub(super) use std::time::{Duration, SystemTime};

pub(super) use crate::class::Class;
pub(super) use crate::events::Prepare;
pub(super) use crate::model::incident::incident_priority;
pub(super) use crate::model::{
    Completion, Incident, IncidentFacts, Job, JobFilter, JobState, LanePending, NewJob, Next, Step,
};
pub(super) use crate::store::Store;

/// The ordinary lease of these cases.
pub(super) const LEASE: Duration = Duration::from_secs(60);
/// A lease short enough to expire during a case.
pub(super) const SHORT: Duration = Duration::from_secs(1);
/// Longer than [`SHORT`], with room for clock granularity.
pub(super) const PAST_SHORT: Duration = Duration::from_millis(1300);

pub(super) fn new_job(lane: &str, route: &str, priority: i64) -> NewJob {
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
        key: None,
        label: None,
    }
}

pub(super) fn routes(r: &[&str]) -> Vec<String> {
    r.iter().map(|s| s.to_string()).collect()
}

pub(super) fn id_list(jobs: &[Job]) -> Vec<String> {
    jobs.iter().map(|j| j.id.clone()).collect()
}

pub(super) fn id_set(jobs: &[Job]) -> BTreeSet<String> {
    jobs.iter().map(|j| j.id.clone()).collect()
}

pub(super) fn find<'a>(jobs: &'a [Job], id: &str) -> &'a Job {
    jobs.iter()
        .find(|j| j.id == id)
        .unwrap_or_else(|| panic!("job {id} is among {:?}", id_list(jobs)))
}

pub(super) fn at(s: &str) -> SystemTime {
    humantime::parse_rfc3339(s)
        .or_else(|_| humantime::parse_rfc3339_weak(s))
        .unwrap_or_else(|e| panic!("timestamp {s:?} parses: {e}"))
}

/// `later - earlier` in seconds (negative when `later` is earlier).
pub(super) fn secs_between(earlier: &str, later: &str) -> f64 {
    match at(later).duration_since(at(earlier)) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

pub(super) fn facts(fingerprint: &str, class: Class, lane: &str, route: &str) -> IncidentFacts {
    IncidentFacts {
        fingerprint: fingerprint.to_string(),
        class,
        route: Some(route.to_string()),
        lane: Some(lane.to_string()),
        host: "host-1".to_string(),
        repair_hint: format!("repair {fingerprint}"),
        evidence: Some(format!("evidence of {fingerprint}")),
        reset_at: None,
        stamp: None,
    }
}

pub(super) fn completion(
    job: &Job,
    owner: &str,
    class: Class,
    next: Next,
    incident: Option<IncidentFacts>,
) -> Completion {
    Completion {
        job_id: job.id.clone(),
        attempt: job.attempts,
        owner: owner.to_string(),
        dispatch_id: None,
        class,
        next,
        reason: format!("{} by {owner}", class.label()),
        incident,
    }
}

pub(super) fn retry_now() -> Next {
    Next::Retry {
        delay: Duration::ZERO,
        timeout: None,
        diagnostics: false,
    }
}

pub(super) fn prepare(dispatch_id: &str, job: &Job) -> Prepare {
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
        host: None,
    }
}

pub(super) async fn enqueue(store: &dyn Store, jobs: &[NewJob]) -> Vec<String> {
    let ids = store.enqueue(jobs).await.expect("enqueue");
    assert_eq!(ids.len(), jobs.len(), "one id per enqueued job");
    ids
}

pub(super) async fn get(store: &dyn Store, id: &str) -> Job {
    store
        .job(id)
        .await
        .expect("job")
        .unwrap_or_else(|| panic!("job {id} exists"))
}

pub(super) async fn claim(
    store: &dyn Store,
    lane: &str,
    r: &[&str],
    owner: &str,
    limit: usize,
) -> Vec<Job> {
    store
        .claim(lane, &routes(r), owner, LEASE, limit)
        .await
        .expect("claim")
}

/// Claims the one due job of `lane` (route `r`).
pub(super) async fn claim_one(store: &dyn Store, lane: &str, owner: &str) -> Job {
    let mut got = claim(store, lane, &["r"], owner, 10).await;
    assert_eq!(got.len(), 1, "exactly one due job in lane {lane}: {got:?}");
    got.remove(0)
}

pub(super) async fn settle_ok(
    store: &dyn Store,
    job: &Job,
    owner: &str,
    class: Class,
    next: Next,
    incident: Option<IncidentFacts>,
) {
    let c = completion(job, owner, class, next, incident);
    assert!(
        store.settle(&c).await.expect("settle"),
        "the settle of {} (attempt {}) by its owner {owner} applies",
        job.id,
        job.attempts
    );
}

pub(super) async fn jobs(
    store: &dyn Store,
    lane: Option<&str>,
    state: Option<JobState>,
    limit: usize,
) -> Vec<String> {
    let filter = JobFilter {
        lane: lane.map(str::to_string),
        state,
        limit,
        ..Default::default()
    };
    id_list(&store.jobs(&filter).await.expect("jobs"))
}

pub(super) async fn incident(store: &dyn Store, id: &str) -> (Incident, Vec<String>) {
    store
        .incident(id)
        .await
        .expect("incident")
        .unwrap_or_else(|| panic!("incident {id} exists"))
}

pub(super) async fn open_with(store: &dyn Store, fingerprint: &str) -> Vec<Incident> {
    store
        .incidents(true)
        .await
        .expect("incidents")
        .into_iter()
        .filter(|i| i.failure_fingerprint == fingerprint)
        .collect()
}

/// A freshly claimed job: running, leased to `owner` for about `lease`.
pub(super) fn assert_claimed(j: &Job, owner: &str, attempts: u32, lease: Duration) {
    assert_eq!(j.state(), JobState::Running, "{j:?}");
    assert_eq!(j.attempts, attempts, "{j:?}");
    assert_eq!(j.lease_owner(), Some(owner), "{j:?}");
    assert_eq!(j.finished_at(), None, "{j:?}");
    let expires = j.lease_expires_at().expect("a claimed job has a lease");
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

/// An operator with a reason.
pub(super) fn who(why: &str) -> crate::model::Actor {
    crate::model::Actor {
        by: "ana@console".into(),
        why: why.into(),
    }
}
