//! Circuit breakers on SQLite: the rows (`route_breakers`), each written
//! only over the version it was read at, the half-open trial claimed with
//! its breaker in one `BEGIN IMMEDIATE` transaction, and a route's latest
//! attempts for the breaker's window.

use std::time::Duration;

use rusqlite::{params, Connection, Row, TransactionBehavior};

use super::queue::claim_in;
use crate::model::{BreakerState, Job, RouteAttempt, RouteBreaker};
use crate::store::rules::TRIAL_CLAIMING;

const COLUMNS: &str = "route, state, opened_at, next_probe_at, probes_failed, reason, trial_job, changed_at, incident_id, version";

fn time(row: &Row<'_>, col: &str) -> rusqlite::Result<Option<jiff::Timestamp>> {
    Ok(row
        .get::<_, Option<String>>(col)?
        .and_then(|t| t.parse().ok()))
}

fn breaker(row: &Row<'_>) -> rusqlite::Result<RouteBreaker> {
    let state: String = row.get("state")?;
    Ok(RouteBreaker {
        route: row.get("route")?,
        // The table's CHECK admits only the three labels.
        state: BreakerState::from_label(&state).unwrap_or(BreakerState::Open),
        opened_at: time(row, "opened_at")?,
        next_probe_at: time(row, "next_probe_at")?,
        probes_failed: row
            .get::<_, i64>("probes_failed")?
            .clamp(0, u32::MAX as i64) as u32,
        reason: row.get("reason")?,
        trial_job: row.get("trial_job")?,
        changed_at: time(row, "changed_at")?.unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        incident_id: row.get("incident_id")?,
        version: row.get("version")?,
    })
}

pub(super) fn route_breakers(conn: &mut Connection) -> rusqlite::Result<Vec<RouteBreaker>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM route_breakers ORDER BY route"
    ))?;
    let rows = stmt.query_map([], breaker)?;
    rows.collect()
}

/// Writes `b` if the stored row is still at `b.version` (0: no row yet);
/// the stored version becomes `b.version + 1`.
pub(super) fn write_breaker(conn: &mut Connection, b: &RouteBreaker) -> rusqlite::Result<bool> {
    let ts = |t: Option<jiff::Timestamp>| t.map(|t| t.to_string());
    let n = conn
        .prepare_cached(&format!(
            "INSERT INTO route_breakers ({COLUMNS})
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 + 1
             WHERE ?10 = 0 OR EXISTS (SELECT 1 FROM route_breakers WHERE route = ?1)
             ON CONFLICT (route) DO UPDATE SET
                 state = excluded.state, opened_at = excluded.opened_at,
                 next_probe_at = excluded.next_probe_at, probes_failed = excluded.probes_failed,
                 reason = excluded.reason, trial_job = excluded.trial_job,
                 changed_at = excluded.changed_at, incident_id = excluded.incident_id,
                 version = excluded.version
             WHERE route_breakers.version = ?10"
        ))?
        .execute(params![
            b.route,
            b.state.label(),
            ts(b.opened_at),
            ts(b.next_probe_at),
            b.probes_failed as i64,
            b.reason,
            b.trial_job,
            b.changed_at.to_string(),
            b.incident_id,
            b.version,
        ])?;
    Ok(n > 0)
}

/// Takes `route`'s half-open trial and claims its one job, in one
/// transaction; nothing when the breaker is not half-open, its trial is
/// taken, or no job is due.
pub(super) fn claim_trial(
    conn: &mut Connection,
    lane: &str,
    route: &str,
    owner: &str,
    lease: Duration,
) -> rusqlite::Result<Option<Job>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let taken = tx
        .prepare_cached(
            "UPDATE route_breakers SET trial_job = ?2
             WHERE route = ?1 AND state = 'half_open' AND trial_job IS NULL",
        )?
        .execute(params![route, TRIAL_CLAIMING])?;
    if taken == 0 {
        return Ok(None);
    }
    let Some(job) = claim_in(&tx, lane, &[route.to_string()], owner, lease, 1)?.pop() else {
        // Rolled back: the trial is still free.
        return Ok(None);
    };
    tx.prepare_cached(
        "UPDATE route_breakers SET trial_job = ?2, version = version + 1,
                reason = 'job ' || ?2 || ' runs as the trial on ' || ?3
         WHERE route = ?1",
    )?
    .execute(params![route, job.id, owner])?;
    tx.commit()?;
    Ok(Some(job))
}

/// The route's latest `limit` finished job attempts, newest first.
pub(super) fn route_attempts(
    conn: &mut Connection,
    route: &str,
    limit: usize,
) -> rusqlite::Result<Vec<RouteAttempt>> {
    let mut stmt = conn.prepare_cached(
        "SELECT finished_at, classifier FROM dispatches
         WHERE route = ?1 AND job_id IS NOT NULL AND finished_at IS NOT NULL AND classifier IS NOT NULL
         ORDER BY finished_at DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![route, limit as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (at, class) = row?;
        if let (Ok(at), Ok(class)) = (at.parse(), class.parse()) {
            out.push(RouteAttempt { at, class });
        }
    }
    Ok(out)
}
