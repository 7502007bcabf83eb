//! The queue's domain rules, written once for every backend.
//!
//! The SQL of each backend stays with its backend, but what it decides is
//! defined here, in fragments both dialects accept: which jobs a worker may
//! claim and in what order, how a claim marks a job, and when a success
//! resolves the incident its job was released from. A backend splices in
//! only its own placeholders and clock. The conformance suite
//! (`store::conformance`) holds every backend to the same outcomes.

use std::cmp::Ordering;

use crate::class::{Class, NAMED_CLASSES};
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

/// The jobs a worker on `host` may claim: in its `lane`, waiting (queued,
/// or scheduled for a retry) and due by `now`, on one of its routes
/// (`route_in`: the backend's test of `route` against the worker's list,
/// e.g. `= ANY($4)`), not on a route a hard stop blocks ([`unblocked`]),
/// not in a lane an operator paused ([`NOT_PAUSED`]), and not on a route
/// whose circuit breaker is open or half-open ([`NOT_BROKEN`]).
pub(crate) fn claimable(lane: &str, now: &str, route_in: &str, host: &str) -> String {
    format!(
        "lane = {lane} AND state IN ('queued', 'scheduled') AND run_at <= {now} AND route {route_in}
         AND {unblocked} AND {NOT_PAUSED} AND {NOT_BROKEN}",
        unblocked = unblocked(host, now)
    )
}

/// A job's lane is not paused (`lane pause`): a paused lane claims nothing,
/// in a worker's pass or in a settlement's chained claim; running jobs
/// finish.
pub(crate) const NOT_PAUSED: &str =
    "NOT EXISTS (SELECT 1 FROM lane_pauses p WHERE p.lane = jobs.lane)";

/// What a half-open breaker's `trial_job` holds, inside the one transaction
/// that claims its trial (`claim_trial`), and never after it commits: the
/// only moment a claim may take a job of a route whose breaker is not
/// closed. (Job ids are UUIDs: no job has this id.)
pub(crate) const TRIAL_CLAIMING: &str = "(claiming the trial)";

/// A job's route has no open circuit breaker (`crate::breaker`): an open
/// breaker claims nothing, in a pass or in a settlement's chained claim; a
/// half-open one claims only its one trial, in `claim_trial`'s transaction
/// (see [`TRIAL_CLAIMING`]).
pub(crate) const NOT_BROKEN: &str = "NOT EXISTS (SELECT 1 FROM route_breakers k
                 WHERE k.route = jobs.route AND k.state <> 'closed'
                   AND (k.trial_job IS NULL OR k.trial_job <> '(claiming the trial)'))";

/// The labels of `states`, as an SQL list.
pub(crate) fn state_list(states: &[crate::model::JobState]) -> String {
    states
        .iter()
        .map(|s| format!("'{}'", s.label()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `job retry` (and `jobs retry`, `incident resolve --retry-failed`)
/// writes: the job waits in its lane again, due now, its attempts kept, no
/// longer finished, with the operator's reason. `{reason}` and `{now}` are
/// the backend's placeholder and clock.
pub(crate) fn retry_set(reason: &str, now: &str) -> String {
    format!(
        "state = 'queued', run_at = {now}, updated_at = {now}, finished_at = NULL,
         lease_owner = NULL, lease_expires_at = NULL, cancel_reason = NULL,
         next_action = 'run', reason = {reason}"
    )
}

/// What cancelling a waiting job writes: finished, cancelled, with the reason.
pub(crate) fn cancel_set(reason: &str, now: &str) -> String {
    format!(
        "state = 'cancelled', finished_at = {now}, updated_at = {now},
         next_action = 'cancel', reason = {reason}"
    )
}

/// The labels of the classes `keep` selects, as an SQL list.
fn labels(keep: impl Fn(&Class) -> bool) -> String {
    NAMED_CLASSES
        .iter()
        .filter(|c| keep(c))
        .map(|c| format!("'{}'", c.label()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A job's route is not blocked for a worker on `host`: no open incident of
/// a route-level hard stop ([`Class::stops_route`]) names the job's route
/// (and its lane, when the incident has one) — on this host for a host-local
/// class (a missing CLI or a bad credential on one machine stops only that
/// machine), anywhere for the others (an account's quota) — unless its
/// reset has passed. The block lifts when the incident is resolved: by the
/// operator, by a released job's success, or by preflight passing on that
/// host with a changed environment.
pub(crate) fn unblocked(host: &str, now: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM incidents b
                     WHERE b.state = 'open' AND b.route = jobs.route
                       AND (b.lane IS NULL OR b.lane = jobs.lane)
                       AND b.classifier IN ({stops})
                       AND (b.host = {host} OR b.classifier IN ({anywhere}))
                       AND (b.reset_at IS NULL OR b.reset_at > {now}))",
        stops = labels(|c| c.stops_route()),
        anywhere = labels(|c| c.stops_route() && !c.is_host_local()),
    )
}

/// The incidents preflight resolves when it passes on `host` with a changed
/// environment for `route` in `lane` (a binary installed, a credential
/// written): the open host-local hard stops of that route on that host whose
/// recorded stamp digest differs from `stamp` (or that recorded none). An
/// account's quota is not the host's to clear.
pub(crate) fn preflight_resolves(lane: &str, route: &str, host: &str, stamp: &str) -> String {
    format!(
        "state = 'open' AND route = {route} AND (lane IS NULL OR lane = {lane}) AND host = {host}
         AND classifier IN ({local}) AND (stamp IS NULL OR stamp <> {stamp})",
        local = labels(|c| c.stops_route() && c.is_host_local()),
    )
}

/// A parked job whose incident is still an open hard stop stays parked when
/// its route's parked jobs are released: the cause is still there.
pub(crate) fn still_blocked_parked() -> String {
    format!(
        "incident_id IN (SELECT id FROM incidents WHERE state = 'open' AND classifier IN ({stops}))",
        stops = labels(|c| c.stops_route()),
    )
}

/// The open blocks of a lane for a worker on `host` (NULL: on any host), one row per blocked
/// route: `route, id, classifier, repair_hint, host` of the blocking incident (the
/// latest seen, when several block one route). `{lane}`, `{host}`, `{now}`
/// are the backend's placeholders and clock.
pub(crate) fn blocks(lane: &str, host: &str, now: &str) -> String {
    format!(
        "SELECT b.route, b.id, b.classifier, b.repair_hint, b.host FROM incidents b
         WHERE b.state = 'open' AND b.route IS NOT NULL
           AND (b.lane IS NULL OR b.lane = {lane})
           AND b.classifier IN ({stops})
           AND ({host} IS NULL OR b.host = {host} OR b.classifier IN ({anywhere}))
           AND (b.reset_at IS NULL OR b.reset_at > {now})
         ORDER BY b.route, b.last_seen DESC, b.id",
        stops = labels(|c| c.stops_route()),
        anywhere = labels(|c| c.stops_route() && !c.is_host_local()),
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

/// The open quota incidents and their accounts: `id, route, reset_at,
/// account, label, parked, repair_hint` (`{incidents}` is the table or view
/// that holds an incident's latest `reset_at`, aliased `i`; `{reset_at}`
/// renders it as stored text).
pub(crate) fn quota_incidents(incidents: &str, reset_at: &str) -> String {
    format!(
        "SELECT i.id, i.route, {reset_at} AS reset_at, q.account, q.label,
                (SELECT count(*) FROM jobs j WHERE j.incident_id = i.id AND j.state = 'parked') AS parked,
                i.repair_hint
         FROM {incidents} i LEFT JOIN account_quotas q ON q.incident_id = i.id
         WHERE i.state = 'open' AND i.classifier = 'quota_exhausted'
         ORDER BY i.first_seen, i.id"
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
            key: None,
            label: None,
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
    fn a_block_names_every_hard_stop_and_spares_other_hosts_only_for_host_local_ones() {
        let sql = unblocked("H", "NOW");
        for class in NAMED_CLASSES {
            let quoted = format!("'{}'", class.label());
            assert_eq!(sql.contains(&quoted), class.stops_route(), "{class:?}");
        }
        let anywhere = sql
            .split("b.classifier IN (")
            .nth(2)
            .expect("the second list");
        assert!(anywhere.contains("'quota_exhausted'"), "{sql}");
        assert!(!anywhere.contains("'auth_unavailable'"), "{sql}");
    }

    #[test]
    fn the_breaker_rule_names_the_trial_marker() {
        assert!(NOT_BROKEN.contains(&format!("'{TRIAL_CLAIMING}'")));
        assert!(claimable("L", "NOW", "IN R", "H").contains(NOT_BROKEN));
    }

    #[test]
    fn the_rules_name_only_shared_sql() {
        // Fragments both dialects accept: no placeholders or clock of their own.
        for sql in [
            claimable("L", "NOW", "IN R", "H"),
            blocks("L", "H", "NOW"),
            preflight_resolves("L", "R", "H", "S"),
            still_blocked_parked(),
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
