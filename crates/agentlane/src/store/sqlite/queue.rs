//! The queue's SQL for SQLite. Every time comes from the database clock; every
//! write after a claim is fenced by (job id, attempt, lease owner).

use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use crate::events::Event;
use crate::model::incident::{incident_priority, repair_address};
use crate::model::RouteBlock;
use crate::model::{
    Completion, Enqueued, Incident, IncidentFacts, Job, JobFilter, JobStatus, LanePending, NewJob,
    Next, Renewed, Status,
};
use crate::store::rules::{self, CLAIM_ORDER, INCIDENT_ORDER, RESOLVED_BY_SUCCESS};

pub(super) const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// `'+N.NNN seconds'`, the SQLite date modifier for a duration.
fn offset(d: Duration) -> String {
    format!("+{:.3} seconds", d.as_secs_f64())
}

const JOB_COLUMNS: &str = "id, kind, lane, route, prompt, fields, priority, state, attempts, run_at, created_at, updated_at, finished_at, lease_owner, lease_expires_at, timeout_ms, diagnostics, classifier, next_action, reason, incident_id, last_dispatch_id, key, label";

/// A job row, decoded by column name; a state, a next action or payload
/// fields that do not decode are a conversion failure naming the column (a
/// corrupt row), never a silent default.
fn job(row: &Row<'_>) -> rusqlite::Result<Job> {
    let corrupt = |column: &str, e: String| {
        rusqlite::Error::FromSqlConversionFailure(
            row.as_ref().column_index(column).unwrap_or(0),
            rusqlite::types::Type::Text,
            format!("jobs.{column}: {e}").into(),
        )
    };
    let fields: String = row.get("fields")?;
    let state: String = row.get("state")?;
    Ok(Job {
        id: row.get("id")?,
        kind: row.get("kind")?,
        lane: row.get("lane")?,
        route: row.get("route")?,
        prompt: row.get("prompt")?,
        fields: serde_json::from_str(&fields).map_err(|e| corrupt("fields", e.to_string()))?,
        priority: row.get("priority")?,
        status: JobStatus::from_columns(
            state.parse().map_err(|e| corrupt("state", e))?,
            row.get("lease_owner")?,
            row.get("lease_expires_at")?,
            row.get("finished_at")?,
        )
        .map_err(|e| corrupt(e.column, e.to_string()))?,
        attempts: row.get("attempts")?,
        run_at: row.get("run_at")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        timeout_ms: row
            .get::<_, Option<i64>>("timeout_ms")?
            .map(|t| t.max(0) as u64),
        diagnostics: row.get::<_, i64>("diagnostics")? != 0,
        classifier: row.get("classifier")?,
        next_action: row
            .get::<_, Option<String>>("next_action")?
            .map(|a| a.parse())
            .transpose()
            .map_err(|e| corrupt("next_action", e))?,
        reason: row.get("reason")?,
        incident_id: row.get("incident_id")?,
        last_dispatch_id: row.get("last_dispatch_id")?,
        key: row.get("key")?,
        label: row.get("label")?,
    })
}

#[allow(
    clippy::expect_used,
    reason = "strings, numbers, string-keyed maps and lossily written paths always serialise"
)]
pub(super) fn enqueue(conn: &mut Connection, jobs: &[NewJob]) -> rusqlite::Result<Vec<Enqueued>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = Vec::with_capacity(jobs.len());
    {
        // A taken key inserts nothing (the unique index `jobs_key`); the
        // existing job's id is read back in the same transaction. Writers
        // are serialised by BEGIN IMMEDIATE, so no other enqueue can come
        // between the two.
        let mut insert = tx.prepare_cached(
            "INSERT INTO jobs (id, kind, lane, route, prompt, fields, priority, next_action, reason, key, label)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'run', 'queued', ?8, ?9)
             ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING",
        )?;
        let mut existing = tx.prepare_cached("SELECT id FROM jobs WHERE key = ?1")?;
        for j in jobs {
            let id = uuid::Uuid::now_v7().to_string();
            let fields = serde_json::to_string(&j.fields).expect("fields serialise");
            let added = insert.execute(params![
                id, j.kind, j.lane, j.route, j.prompt, fields, j.priority, j.key, j.label
            ])?;
            out.push(match (added, &j.key) {
                (0, Some(key)) => Enqueued {
                    id: existing.query_row([key], |r| r.get(0))?,
                    existed: true,
                },
                _ => Enqueued { id, existed: false },
            });
        }
    }
    tx.commit()?;
    Ok(out)
}

pub(super) fn claim(
    conn: &mut Connection,
    lane: &str,
    routes: &[String],
    owner: &str,
    lease: Duration,
    limit: usize,
) -> rusqlite::Result<Vec<Job>> {
    if routes.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let claimed = claim_in(&tx, lane, routes, owner, lease, limit)?;
    tx.commit()?;
    Ok(claimed)
}

/// The claim, inside the caller's transaction, in claim order.
#[allow(
    clippy::expect_used,
    reason = "strings, numbers, string-keyed maps and lossily written paths always serialise"
)]
pub(super) fn claim_in(
    tx: &Transaction<'_>,
    lane: &str,
    routes: &[String],
    owner: &str,
    lease: Duration,
    limit: usize,
) -> rusqlite::Result<Vec<Job>> {
    if routes.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let routes = serde_json::to_string(routes).expect("routes serialise");
    let claimed = {
        let sql = format!(
            "UPDATE jobs SET {set}
             WHERE id IN (SELECT id FROM jobs WHERE {claimable} ORDER BY {CLAIM_ORDER} LIMIT ?5)
             RETURNING {JOB_COLUMNS}",
            set = rules::claim_set("?1", "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?2)", NOW),
            claimable = rules::claimable("?3", NOW, "IN (SELECT value FROM json_each(?4))", "?6",),
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                owner,
                offset(lease),
                lane,
                routes,
                limit as i64,
                crate::model::owner::host_of(owner)
            ],
            job,
        )?;
        rows.collect::<rusqlite::Result<Vec<Job>>>()?
    };
    let mut claimed = claimed;
    claimed.sort_by(rules::claim_order);
    Ok(claimed)
}

#[allow(
    clippy::expect_used,
    reason = "strings, numbers, string-keyed maps and lossily written paths always serialise"
)]
pub(super) fn heartbeat(
    conn: &mut Connection,
    owner: &str,
    jobs: &[String],
    lease: Duration,
) -> rusqlite::Result<Vec<Renewed>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(jobs).expect("ids serialise");
    let sql = "UPDATE jobs SET lease_expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?2)
               WHERE state = 'running' AND lease_owner = ?1 AND id IN (SELECT value FROM json_each(?3))
                 AND lease_expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
               RETURNING id, cancel_reason";
    let mut stmt = conn.prepare_cached(sql)?;
    let renewed = stmt
        .query_map(params![owner, offset(lease), ids], |r| {
            Ok(Renewed {
                id: r.get(0)?,
                cancel: r.get(1)?,
            })
        })?
        .collect();
    renewed
}

fn upsert_incident(
    tx: &Transaction<'_>,
    f: &IncidentFacts,
    job_id: Option<&str>,
) -> rusqlite::Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let sql = format!(
        "INSERT INTO incidents (id, failure_fingerprint, classifier, repair_address, priority, route, lane, host, repair_hint, evidence, occurrences, reset_at, stamp)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?12)
         ON CONFLICT (failure_fingerprint) WHERE state = 'open'
         DO UPDATE SET occurrences = occurrences + 1, last_seen = {NOW},
            reset_at = CASE WHEN reset_at IS NULL OR excluded.reset_at > reset_at
                            THEN COALESCE(excluded.reset_at, reset_at) ELSE reset_at END
         RETURNING id"
    );
    let incident: String = tx.prepare_cached(&sql)?.query_row(
        params![
            id,
            f.fingerprint,
            f.class.label(),
            repair_address(f.class).label(),
            incident_priority(f.class),
            f.route,
            f.lane,
            f.host,
            f.repair_hint,
            f.evidence,
            f.reset_at.map(crate::model::job::stored_time),
            f.stamp
        ],
        |r| r.get(0),
    )?;
    if let Some(job_id) = job_id {
        let attached = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO incident_jobs (incident_id, job_id) VALUES (?1, ?2)",
            )?
            .execute(params![incident, job_id])?;
        if attached > 0 {
            tx.prepare_cached(
                "UPDATE incidents SET affected_jobs = affected_jobs + 1 WHERE id = ?1",
            )?
            .execute([&incident])?;
        }
        tx.prepare_cached("UPDATE jobs SET incident_id = ?2 WHERE id = ?1")?
            .execute(params![job_id, incident])?;
    }
    Ok(incident)
}

pub(super) fn settle(conn: &mut Connection, c: &Completion) -> rusqlite::Result<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let accepted = settle_in(&tx, c)?;
    tx.commit()?;
    Ok(accepted)
}

/// The settlement, inside the caller's transaction.
pub(super) fn settle_in(tx: &Transaction<'_>, c: &Completion) -> rusqlite::Result<bool> {
    let row = c.next.row();
    let (state, action, delay, timeout_ms, diagnostics, terminal, attempts_delta) = (
        row.state.label(),
        row.action.label(),
        row.delay,
        row.timeout_ms,
        row.diagnostics,
        row.terminal,
        row.attempts_delta,
    );
    let sql = format!(
        "UPDATE jobs SET state = ?4, next_action = ?5, reason = ?6, classifier = ?7,
                run_at = CASE WHEN ?8 IS NULL THEN {NOW} ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?8) END,
                timeout_ms = COALESCE(?9, timeout_ms), diagnostics = ?10,
                finished_at = CASE WHEN ?11 THEN {NOW} ELSE NULL END,
                attempts = attempts + ?12,
                last_dispatch_id = COALESCE(?13, last_dispatch_id),
                lease_owner = NULL, lease_expires_at = NULL, updated_at = {NOW}
         WHERE id = ?1 AND attempts = ?2 AND lease_owner = ?3 AND state = 'running'"
    );
    let changed = tx.prepare_cached(&sql)?.execute(params![
        c.job_id,
        c.attempt,
        c.owner,
        state,
        action,
        c.reason,
        c.class.label(),
        delay.map(offset),
        timeout_ms,
        diagnostics,
        terminal,
        attempts_delta,
        c.dispatch_id,
    ])?;
    let decided = c.decided();
    if changed == 0 {
        // The lease was lost (rescued by another worker): this late write
        // changes nothing but is counted.
        super::insert_event(
            tx,
            None,
            Some(&c.job_id),
            &Event::JobDecisionRejected(decided),
        )?;
        return Ok(false);
    }
    super::insert_event(tx, None, Some(&c.job_id), &Event::JobDecided(decided))?;
    if let Some(facts) = &c.incident {
        upsert_incident(tx, facts, Some(&c.job_id))?;
    }
    if matches!(c.next, Next::Done) {
        // An incident resolves itself once a job released from it succeeds
        // (the rule: `rules::success_resolves`).
        let sql = format!(
            "UPDATE incidents SET state = 'resolved', resolved_at = {NOW}, resolution = '{RESOLVED_BY_SUCCESS}'
             WHERE id = (SELECT incident_id FROM jobs WHERE id = ?1) AND {resolves}",
            resolves = rules::success_resolves("?1"),
        );
        tx.prepare_cached(&sql)?.execute([&c.job_id])?;
    }
    Ok(true)
}

pub(super) fn open_incident(
    conn: &mut Connection,
    facts: &IncidentFacts,
) -> rusqlite::Result<String> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let id = upsert_incident(&tx, facts, None)?;
    tx.commit()?;
    Ok(id)
}

/// Takes over running jobs whose lease expired: their attempt's dispatch is
/// finished as `worker_lost` and the jobs are returned, leased to `owner`, to be decided.
pub(super) fn rescue_expired(
    conn: &mut Connection,
    owner: &str,
    lease: Duration,
) -> rusqlite::Result<Vec<Job>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // A job an operator asked to cancel whose worker disappeared is not run
    // again: it ends cancelled, as its worker would have settled it.
    let sql = format!(
        "UPDATE jobs SET {set}, lease_owner = NULL, lease_expires_at = NULL
         WHERE state = 'running' AND lease_expires_at < {NOW} AND cancel_reason IS NOT NULL",
        set = rules::cancel_set("cancel_reason", NOW)
    );
    tx.prepare_cached(&sql)?.execute([])?;
    // RETURNING yields the new owner; the evidence must name the lost one.
    let lost_owners: std::collections::HashMap<String, Option<String>> = {
        let sql = format!(
            "SELECT id, lease_owner FROM jobs WHERE state = 'running' AND lease_expires_at < {NOW}"
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let rescued = {
        let sql = format!(
            "UPDATE jobs SET lease_owner = ?1, lease_expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?2), updated_at = {NOW}
             WHERE state = 'running' AND lease_expires_at < {NOW}
             RETURNING {JOB_COLUMNS}"
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![owner, offset(lease)], job)?;
        rows.collect::<rusqlite::Result<Vec<Job>>>()?
    };
    for j in &rescued {
        let dangling: Option<String> = tx
            .prepare_cached("SELECT id FROM dispatches WHERE job_id = ?1 AND attempt = ?2 AND finished_at IS NULL ORDER BY id DESC LIMIT 1")?
            .query_row(params![j.id, j.attempts], |r| r.get(0))
            .optional()?;
        if let Some(dispatch) = dangling {
            let sql = format!("UPDATE dispatches SET finished_at = {NOW}, classifier = 'worker_lost' WHERE id = ?1");
            tx.prepare_cached(&sql)?.execute([&dispatch])?;
            let body = serde_json::json!({
                "kind": "runner_classified_failure",
                "dispatch_id": dispatch,
                "classifier": "worker_lost",
                "rule": "fact.lease_expired",
                "evidence": format!("runner_prepare without runner_exit; the lease of {} expired", lost_owners.get(&j.id).cloned().flatten().as_deref().unwrap_or("its worker")),
                "repair_hint": "the worker running this attempt disappeared (killed, OOM, power loss); the job is decided again",
                "failure_fingerprint": null,
                "timed_out": false,
                "retry_after_secs": null
            });
            tx.prepare_cached("INSERT INTO events (dispatch_id, job_id, kind, body) VALUES (?1, ?2, 'runner_classified_failure', ?3)")?
                .execute(params![dispatch, j.id, body.to_string()])?;
        }
    }
    tx.commit()?;
    Ok(rescued)
}

pub(super) fn release_parked(
    conn: &mut Connection,
    lane: &str,
    route: &str,
    host: &str,
    stamp: &str,
    why: &str,
) -> rusqlite::Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let sql = format!(
        "UPDATE incidents SET state = 'resolved', resolved_at = {NOW}, resolution = ?5 WHERE {resolves}",
        resolves = rules::preflight_resolves("?1", "?2", "?3", "?4"),
    );
    tx.prepare_cached(&sql)?
        .execute(params![lane, route, host, stamp, why])?;
    let sql = format!(
        "UPDATE jobs SET state = 'queued', run_at = {NOW}, next_action = 'run', reason = ?3, updated_at = {NOW}
         WHERE state = 'parked' AND lane = ?1 AND route = ?2
           AND COALESCE(classifier, '') NOT IN ('payload_invalid', 'route_not_allowed')
           AND NOT ({still})",
        still = rules::still_blocked_parked(),
    );
    let released = tx
        .prepare_cached(&sql)?
        .execute(params![lane, route, why])? as u64;
    tx.commit()?;
    Ok(released)
}

/// The routes of a lane that hard stops block for a worker on `host` (None: any).
pub(super) fn route_blocks(
    conn: &mut Connection,
    lane: &str,
    host: Option<&str>,
) -> rusqlite::Result<Vec<RouteBlock>> {
    let sql = rules::blocks("?1", "?2", NOW);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![lane, host], |row| {
        let label: String = row.get(2)?;
        let class = label.parse::<crate::class::Class>().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("incidents.classifier: {e}").into(),
            )
        })?;
        Ok(RouteBlock {
            route: row.get(0)?,
            incident_id: row.get(1)?,
            class,
            repair_hint: row.get(3)?,
            host: row.get(4)?,
        })
    })?;
    let mut blocks: Vec<RouteBlock> = rows.collect::<rusqlite::Result<_>>()?;
    blocks.dedup_by(|a, b| a.route == b.route);
    Ok(blocks)
}

#[allow(
    clippy::expect_used,
    reason = "strings, numbers, string-keyed maps and lossily written paths always serialise"
)]
pub(super) fn lane_pending(
    conn: &mut Connection,
    lane: &str,
    routes: &[String],
) -> rusqlite::Result<LanePending> {
    let routes = serde_json::to_string(routes).expect("routes serialise");
    let waiting: i64 = conn.prepare_cached(
        "SELECT count(*) FROM jobs WHERE lane = ?1 AND state IN ('queued', 'scheduled') AND route IN (SELECT value FROM json_each(?2))",
    )?
    .query_row(params![lane, routes], |r| r.get(0))?;
    let running: i64 = conn
        .prepare_cached("SELECT count(*) FROM jobs WHERE lane = ?1 AND state = 'running'")?
        .query_row([lane], |r| r.get(0))?;
    Ok(LanePending {
        waiting: waiting as u64,
        running: running as u64,
    })
}

pub(super) fn jobs(conn: &mut Connection, f: &JobFilter) -> rusqlite::Result<Vec<Job>> {
    // Only the filters given become conditions: the form `(?1 IS NULL OR
    // lane = ?1)` kept the planner from every index, so a filtered page read
    // every row newer than its last one (docs/performance.md, "Server (issue
    // 18)"). With `jobs_lane_state` on (lane, state, id) such a page is one
    // index range.
    let state = f.state.map(|s| s.label());
    let limit = if f.limit == 0 {
        i64::MAX
    } else {
        f.limit as i64
    };
    let filters: [(&str, Option<&dyn rusqlite::ToSql>); 6] = [
        ("lane = ?", f.lane.as_ref().map(|v| v as _)),
        ("state = ?", state.as_ref().map(|v| v as _)),
        ("updated_at >= ?", f.updated_since.as_ref().map(|v| v as _)),
        ("kind = ?", f.kind.as_ref().map(|v| v as _)),
        ("classifier = ?", f.class.as_ref().map(|v| v as _)),
        ("id < ?", f.before.as_ref().map(|v| v as _)),
    ];
    let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1");
    let mut args: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(7);
    for (condition, value) in filters {
        if let Some(v) = value {
            sql.push_str(" AND ");
            sql.push_str(condition);
            args.push(v);
        }
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    args.push(&limit);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(args.as_slice(), job)?;
    rows.collect()
}

pub(super) fn job_by_id(conn: &mut Connection, id: &str) -> rusqlite::Result<Option<Job>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1");
    conn.prepare_cached(&sql)?.query_row([id], job).optional()
}

const INCIDENT_COLUMNS: &str = "id, failure_fingerprint, classifier, state, repair_address, priority, route, lane, host, repair_hint, evidence, affected_jobs, occurrences, first_seen, last_seen, resolved_at, resolution, reset_at";

/// An incident row, decoded by column name; a label no enum knows is a
/// conversion failure (a corrupt row), never a silent default.
fn incident(row: &Row<'_>) -> rusqlite::Result<Incident> {
    fn parsed<T: std::str::FromStr>(row: &Row<'_>, column: &str) -> rusqlite::Result<T>
    where
        T::Err: std::fmt::Display,
    {
        let text: String = row.get(column)?;
        text.parse().map_err(|e: T::Err| {
            rusqlite::Error::FromSqlConversionFailure(
                row.as_ref().column_index(column).unwrap_or(0),
                rusqlite::types::Type::Text,
                format!("incidents.{column}: {e}").into(),
            )
        })
    }
    Ok(Incident {
        id: row.get("id")?,
        failure_fingerprint: row.get("failure_fingerprint")?,
        classifier: parsed(row, "classifier")?,
        state: parsed(row, "state")?,
        repair_address: parsed(row, "repair_address")?,
        priority: row.get("priority")?,
        route: row.get("route")?,
        lane: row.get("lane")?,
        host: row.get("host")?,
        repair_hint: row.get("repair_hint")?,
        evidence: row.get("evidence")?,
        affected_jobs: row.get::<_, i64>("affected_jobs")? as u64,
        occurrences: row.get::<_, i64>("occurrences")? as u64,
        first_seen: row.get("first_seen")?,
        last_seen: row.get("last_seen")?,
        resolved_at: row.get("resolved_at")?,
        resolution: row.get("resolution")?,
        reset_at: row
            .get::<_, Option<String>>("reset_at")?
            .and_then(|t| t.parse().ok()),
    })
}

pub(super) fn incidents(conn: &mut Connection, open_only: bool) -> rusqlite::Result<Vec<Incident>> {
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE (?1 = 0 OR state = 'open')
         ORDER BY {INCIDENT_ORDER}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([open_only as i64], incident)?;
    rows.collect()
}

pub(super) fn incident_by_id(
    conn: &mut Connection,
    id: &str,
) -> rusqlite::Result<Option<(Incident, Vec<String>)>> {
    let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id >= ?1 AND id < ?1 || x'ff' ORDER BY id LIMIT 2");
    let mut found = {
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([id], incident)?;
        rows.collect::<rusqlite::Result<Vec<Incident>>>()?
    };
    if found.len() > 1 && found[0].id != id {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "'{id}' matches more than one incident: give more characters of the id"
        )));
    }
    let Some(found) = found.drain(..).next() else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT job_id FROM incident_jobs WHERE incident_id = ?1 ORDER BY attached_at, job_id",
    )?;
    let jobs = stmt
        .query_map([&found.id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(Some((found, jobs)))
}

pub(super) fn status(conn: &mut Connection) -> rusqlite::Result<Status> {
    let mut stmt = conn.prepare_cached(
        "SELECT lane, state, count(*) FROM jobs GROUP BY lane, state ORDER BY lane, state",
    )?;
    let lanes = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut stmt = conn.prepare_cached("SELECT classifier, count(*) FROM jobs WHERE classifier IS NOT NULL GROUP BY classifier ORDER BY count(*) DESC")?;
    let classes = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let open: i64 = conn.query_row(
        "SELECT count(*) FROM incidents WHERE state = 'open'",
        [],
        |r| r.get(0),
    )?;
    Ok(Status {
        lanes,
        classes,
        open_incidents: open as u64,
    })
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
