//! Incidents: opened or counted (appended to `incident_counts`), rescue and
//! release of jobs, resolution, and the reads through `incident_totals`.

use std::time::Duration;

use tokio_postgres::Row;

use crate::store::postgres::{err, PostgresStore};

use super::*;
use crate::model::incident::{incident_priority, repair_address};
use crate::model::RouteBlock;
use crate::model::{Incident, IncidentFacts, Job};
use crate::store::rules::{self, INCIDENT_ORDER};
use crate::store::StoreError;

/// Opens the incident of `f` or finds the open one, attaches the job, and
/// counts this occurrence in `incident_counts`, in one statement. No shared
/// row is locked: the insert does nothing on a conflict with a committed open
/// incident, and the counts are folded in later by the maintenance leader.
pub(super) async fn upsert_incident(
    s: &PostgresStore,
    tx: &deadpool_postgres::Transaction<'_>,
    f: &IncidentFacts,
    job_id: Option<&str>,
) -> Result<String, StoreError> {
    let location = s.location.as_str();
    let e = err(location);
    let stmt = s
        .prepare_in(
            tx,
            "WITH opened AS (
                 INSERT INTO incidents (id, failure_fingerprint, classifier, repair_address, priority, route, lane, host, repair_hint, evidence, reset_at, stamp)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $12::text::timestamptz, $13)
                 ON CONFLICT (failure_fingerprint) WHERE state = 'open' DO NOTHING
                 RETURNING id),
             inc AS (
                 SELECT id FROM opened
                 UNION ALL
                 SELECT id FROM incidents WHERE failure_fingerprint = $2 AND state = 'open'
                 LIMIT 1),
             attached AS (
                 INSERT INTO incident_jobs (incident_id, job_id)
                 SELECT inc.id, $11 FROM inc WHERE $11::text IS NOT NULL
                 ON CONFLICT DO NOTHING RETURNING 1),
             linked AS (
                 UPDATE jobs SET incident_id = inc.id FROM inc WHERE jobs.id = $11),
             counted AS (
                 INSERT INTO incident_counts (incident_id, occurrences, affected, reset_at)
                 SELECT inc.id, 1, (SELECT count(*) FROM attached), $12::text::timestamptz FROM inc)
             SELECT id FROM inc",
        )
        .await?;
    let reset_at = f.reset_at.map(crate::model::job::stored_time);
    // An open incident found by the insert's conflict but committed after
    // this statement's snapshot is not visible to it: the next statement
    // (a new snapshot) finds it, or opens a new one if it was resolved.
    for _ in 0..3 {
        let id = uuid::Uuid::now_v7().to_string();
        let row = tx
            .query_opt(
                &stmt,
                &[
                    &id,
                    &f.fingerprint,
                    &f.class.label(),
                    &repair_address(f.class).label(),
                    &incident_priority(f.class),
                    &f.route,
                    &f.lane,
                    &f.host,
                    &f.repair_hint,
                    &f.evidence,
                    &job_id,
                    &reset_at,
                    &f.stamp,
                ],
            )
            .await
            .map_err(&e)?;
        if let Some(row) = row {
            return Ok(row.get(0));
        }
    }
    Err(StoreError::Unavailable {
        location: location.to_string(),
        message: format!(
            "the open incident of fingerprint {} kept changing; try again",
            f.fingerprint
        ),
    })
}

pub(in crate::store::postgres) async fn open_incident(
    s: &PostgresStore,
    facts: &IncidentFacts,
) -> Result<String, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
    let id = upsert_incident(s, &tx, facts, None).await?;
    tx.commit().await.map_err(&e)?;
    Ok(id)
}

pub(in crate::store::postgres) async fn rescue_expired(
    s: &PostgresStore,
    owner: &str,
    lease: Duration,
) -> Result<Vec<Job>, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
    // A job an operator asked to cancel whose worker disappeared is not run
    // again: it ends cancelled, as its worker would have settled it.
    let sql = format!(
        "UPDATE jobs SET {set}, lease_owner = NULL, lease_expires_at = NULL
         WHERE state = 'running' AND lease_expires_at < now() AND cancel_reason IS NOT NULL",
        set = crate::store::rules::cancel_set("cancel_reason", "now()")
    );
    tx.execute(&sql, &[]).await.map_err(&e)?;
    let sql = format!(
        "WITH lost AS (
             SELECT id, lease_owner AS old_owner FROM jobs
             WHERE state = 'running' AND lease_expires_at < now()
             FOR UPDATE SKIP LOCKED)
         UPDATE jobs j SET lease_owner = $1, lease_expires_at = now() + $2 * interval '1 millisecond', updated_at = now()
         FROM lost WHERE j.id = lost.id
         RETURNING {}, lost.old_owner",
        job_columns("j.")
    );
    let rows = tx
        .query(&sql, &[&owner, &millis(lease)])
        .await
        .map_err(&e)?;
    let mut rescued = Vec::with_capacity(rows.len());
    for row in &rows {
        let j = job_row(row)?;
        let old_owner: Option<String> = row.get(JOB_COLUMN_COUNT);
        let dangling = tx
            .query_opt(
                "SELECT id FROM dispatches WHERE job_id = $1 AND attempt = $2 AND finished_at IS NULL ORDER BY id DESC LIMIT 1",
                &[&j.id, &(j.attempts as i32)],
            )
            .await
            .map_err(&e)?;
        if let Some(d) = dangling {
            let dispatch: String = d.get(0);
            tx.execute("UPDATE dispatches SET finished_at = now(), classifier = 'worker_lost' WHERE id = $1", &[&dispatch]).await.map_err(&e)?;
            let body = serde_json::json!({
                "kind": "runner_classified_failure",
                "dispatch_id": dispatch,
                "classifier": "worker_lost",
                "rule": "fact.lease_expired",
                "evidence": format!("runner_prepare without runner_exit; the lease of {} expired", old_owner.as_deref().unwrap_or("its worker")),
                "repair_hint": "the worker running this attempt disappeared (killed, OOM, power loss, cut off from the database); the job is decided again",
                "failure_fingerprint": null,
                "timed_out": false,
                "retry_after_secs": null
            });
            tx.execute(
                "INSERT INTO events (dispatch_id, job_id, kind, body) VALUES ($1, $2, 'runner_classified_failure', $3)",
                &[&dispatch, &j.id, &body],
            )
            .await
            .map_err(&e)?;
        }
        rescued.push(j);
    }
    // Rows hold their statement: drop them so it is closed inside the
    // transaction (under transaction pooling the server connection that
    // prepared it is ours only until the commit).
    drop(rows);
    tx.commit().await.map_err(&e)?;
    Ok(rescued)
}

pub(in crate::store::postgres) async fn release_parked(
    s: &PostgresStore,
    lane: &str,
    route: &str,
    host: &str,
    stamp: &str,
    why: &str,
) -> Result<u64, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
    let sql = format!(
        "UPDATE incidents SET state = 'resolved', resolved_at = now(), resolution = $5 WHERE {resolves}",
        resolves = rules::preflight_resolves("$1", "$2", "$3", "$4"),
    );
    tx.execute(&sql, &[&lane, &route, &host, &stamp, &why])
        .await
        .map_err(&e)?;
    let sql = format!(
        "UPDATE jobs SET state = 'queued', run_at = now(), next_action = 'run', reason = $3, updated_at = now()
         WHERE state = 'parked' AND lane = $1 AND route = $2
           AND COALESCE(classifier, '') NOT IN ('payload_invalid', 'route_not_allowed')
           AND NOT ({still})",
        still = rules::still_blocked_parked(),
    );
    let released = tx.execute(&sql, &[&lane, &route, &why]).await.map_err(&e)?;
    tx.commit().await.map_err(&e)?;
    Ok(released)
}

/// The routes of a lane that hard stops block for a worker on `host` (None: any).
pub(in crate::store::postgres) async fn route_blocks(
    s: &PostgresStore,
    lane: &str,
    host: Option<&str>,
) -> Result<Vec<RouteBlock>, StoreError> {
    let client = s.client().await?;
    let sql = rules::blocks("$1", "$2::text", "now()");
    let rows = s.rows(&client, &sql, &[&lane, &host]).await?;
    let mut blocks = Vec::with_capacity(rows.len());
    for row in &rows {
        let label: String = row.get(2);
        let class = label
            .parse::<crate::class::Class>()
            .map_err(|e| StoreError::Corrupt(format!("incidents.classifier: {e}")))?;
        blocks.push(RouteBlock {
            route: row.get(0),
            incident_id: row.get(1),
            class,
            repair_hint: row.get(3),
            host: row.get(4),
        });
    }
    blocks.dedup_by(|a, b| a.route == b.route);
    Ok(blocks)
}

pub(super) const INCIDENT_COLUMNS: &str = "id, failure_fingerprint, classifier, state, repair_address, priority, route, lane, host, repair_hint, evidence, affected_jobs, occurrences, al_ts(first_seen) AS first_seen, al_ts(last_seen) AS last_seen, al_ts(resolved_at) AS resolved_at, resolution, al_ts(reset_at) AS reset_at";

/// An incident row, decoded by column name; a label no enum knows is a
/// corrupt row, never a silent default.
pub(super) fn incident_row(row: &Row) -> Result<Incident, StoreError> {
    let text = |column: &str| -> Result<String, StoreError> {
        row.try_get::<_, String>(column)
            .map_err(|e| StoreError::Corrupt(format!("incidents.{column}: {e}")))
    };
    let parsed = |column: &str, e: String| StoreError::Corrupt(format!("incidents.{column}: {e}"));
    Ok(Incident {
        id: text("id")?,
        failure_fingerprint: text("failure_fingerprint")?,
        classifier: text("classifier")?
            .parse()
            .map_err(|e: crate::class::UnknownClass| parsed("classifier", e.to_string()))?,
        state: text("state")?.parse().map_err(|e| parsed("state", e))?,
        repair_address: text("repair_address")?
            .parse()
            .map_err(|e| parsed("repair_address", e))?,
        priority: row.get("priority"),
        route: row.get("route"),
        lane: row.get("lane"),
        host: row.get("host"),
        repair_hint: row.get("repair_hint"),
        evidence: row.get("evidence"),
        affected_jobs: row.get::<_, i64>("affected_jobs") as u64,
        occurrences: row.get::<_, i64>("occurrences") as u64,
        first_seen: row.get("first_seen"),
        last_seen: row.get("last_seen"),
        resolved_at: row.get("resolved_at"),
        resolution: row.get("resolution"),
        reset_at: row
            .get::<_, Option<String>>("reset_at")
            .and_then(|t| t.parse().ok()),
    })
}

pub(in crate::store::postgres) async fn incidents(
    s: &PostgresStore,
    open_only: bool,
) -> Result<Vec<Incident>, StoreError> {
    let client = s.client().await?;
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incident_totals WHERE (NOT $1 OR state = 'open')
         ORDER BY {INCIDENT_ORDER}"
    );
    let rows = s.rows(&client, &sql, &[&open_only]).await?;
    rows.iter().map(incident_row).collect()
}

pub(in crate::store::postgres) async fn incident(
    s: &PostgresStore,
    id: &str,
) -> Result<Option<(Incident, Vec<String>)>, StoreError> {
    let client = s.client().await?;
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incident_totals WHERE starts_with(id, $1) ORDER BY id LIMIT 2"
    );
    let rows = s.rows(&client, &sql, &[&id]).await?;
    let found = match rows.len() {
        0 => return Ok(None),
        1 => incident_row(&rows[0])?,
        _ if rows[0].get::<_, String>("id") == id => incident_row(&rows[0])?,
        _ => return Err(StoreError::Ambiguous(id.to_string())),
    };
    let jobs = s
        .rows(
            &client,
            "SELECT job_id FROM incident_jobs WHERE incident_id = $1 ORDER BY attached_at, job_id",
            &[&found.id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(Some((found, jobs)))
}
