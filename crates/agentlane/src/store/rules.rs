//! The queue's domain rules, written once for every backend.
//!
//! The SQL of each backend stays with its backend, but what it decides is
//! defined here, in fragments both dialects accept: which jobs a worker may
//! claim and in what order, how a claim marks a job, and when a success
//! resolves the incident its job was released from. A backend splices in
//! only its own placeholders and clock. The conformance suite
//! (`store::conformance`) holds every backend to the same outcomes.

use std::cmp::Ordering;

use crate::model::Job;

/// Claim order: higher priority first, then the job that has waited
/// longest (`run_at`), then the oldest id (ids are time-ordered), so that
/// equal jobs run first-in, first-out.
pub(crate) const CLAIM_ORDER: &str = "priority DESC, run_at, id";

/// [`CLAIM_ORDER`] in Rust, for rows a backend returns unordered (an
/// `UPDATE … RETURNING` keeps no order).
pub(crate) fn claim_order(a: &Job, b: &Job) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| a.run_at.cmp(&b.run_at))
        .then_with(|| a.id.cmp(&b.id))
}

/// The jobs a worker may claim: in its `lane`, waiting (queued, or
/// scheduled for a retry) and due by `now`, on one of its routes
/// (`route_in`: the backend's test of `route` against the worker's list,
/// e.g. `= ANY($4)`).
pub(crate) fn claimable(lane: &str, now: &str, route_in: &str) -> String {
    format!(
        "lane = {lane} AND state IN ('queued', 'scheduled') AND run_at <= {now} AND route {route_in}"
    )
}

/// What a claim writes: the job runs, one more attempt (the fencing token
/// of its settlement), leased to `owner` until `lease_until`.
pub(crate) fn claim_set(owner: &str, lease_until: &str, now: &str) -> String {
    format!(
        "state = 'running', attempts = attempts + 1, lease_owner = {owner},
         lease_expires_at = {lease_until}, updated_at = {now},
         next_action = 'run', reason = 'running on ' || {owner}"
    )
}

/// The order `incidents` lists them in: open before resolved, then by
/// priority (what blocks the most work first), the jobs each affects, and
/// the most recently seen.
pub(crate) const INCIDENT_ORDER: &str =
    "state = 'resolved', priority DESC, affected_jobs DESC, last_seen DESC";

/// The resolution recorded when a success resolves an incident.
pub(crate) const RESOLVED_BY_SUCCESS: &str = "a released job succeeded";

/// When a job's success resolves its incident (`incidents` is the row being
/// updated): the incident is open, and none of its jobs other than the one
/// that succeeded (`job`) is still parked. A success while other jobs still
/// wait behind the incident proves the route works again but leaves them to
/// the operator's `incident resolve` (or to preflight), which releases them.
pub(crate) fn success_resolves(job: &str) -> String {
    format!(
        "incidents.state = 'open'
         AND NOT EXISTS (SELECT 1 FROM incident_jobs ij JOIN jobs p ON p.id = ij.job_id
                         WHERE ij.incident_id = incidents.id AND p.state = 'parked' AND p.id <> {job})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::JobStatus;

    fn job(id: &str, priority: i64, run_at: &str) -> Job {
        Job {
            id: id.into(),
            kind: "k".into(),
            lane: "main".into(),
            route: "r".into(),
            prompt: String::new(),
            fields: Default::default(),
            priority,
            status: JobStatus::Queued,
            attempts: 0,
            run_at: run_at.into(),
            created_at: String::new(),
            updated_at: String::new(),
            timeout_ms: None,
            diagnostics: false,
            classifier: None,
            next_action: None,
            reason: None,
            incident_id: None,
            last_dispatch_id: None,
        }
    }

    #[test]
    fn claim_order_is_priority_then_wait_then_id() {
        let mut jobs = [
            job("c", 0, "2026-01-01T00:00:02.000Z"),
            job("b", 0, "2026-01-01T00:00:01.000Z"),
            job("a", 0, "2026-01-01T00:00:02.000Z"),
            job("z", 5, "2026-01-01T00:00:09.000Z"),
        ];
        jobs.sort_by(claim_order);
        let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["z", "b", "a", "c"]);
    }

    #[test]
    fn the_rules_name_only_shared_sql() {
        // Fragments both dialects accept: no placeholders or clock of their own.
        for sql in [
            claimable("L", "NOW", "IN R"),
            claim_set("O", "U", "NOW"),
            success_resolves("J"),
            CLAIM_ORDER.to_string(),
            INCIDENT_ORDER.to_string(),
        ] {
            assert!(!sql.contains('$') && !sql.contains('?'), "{sql}");
            assert!(!sql.contains("now()") && !sql.contains("strftime"), "{sql}");
        }
    }
}
