//! Circuit breakers on PostgreSQL: the rows (`route_breakers`), each
//! written only over the version it was read at (`INSERT … ON CONFLICT DO
//! UPDATE … WHERE version = $10`: of two writers, the second finds the
//! version moved and writes nothing), the half-open trial taken with its
//! breaker's row locked and its job claimed in the same transaction, and a
//! route's latest attempts for the breaker's window.

use std::time::Duration;

use tokio_postgres::Row;

use super::jobs::{claim_sql, jobs_of, millis};
use crate::model::owner::host_of;
use crate::model::{BreakerState, Job, RouteAttempt, RouteBreaker};
use crate::store::postgres::{err, PostgresStore};
use crate::store::rules::TRIAL_CLAIMING;
use crate::store::StoreError;

fn time(row: &Row, col: &str) -> Option<jiff::Timestamp> {
    row.get::<_, Option<String>>(col)
        .and_then(|t| t.parse().ok())
}

fn breaker(row: &Row) -> RouteBreaker {
    let state: String = row.get("state");
    RouteBreaker {
        route: row.get("route"),
        // The table's CHECK admits only the three labels.
        state: BreakerState::from_label(&state).unwrap_or(BreakerState::Open),
        opened_at: time(row, "opened_at"),
        next_probe_at: time(row, "next_probe_at"),
        probes_failed: row.get::<_, i64>("probes_failed").clamp(0, u32::MAX as i64) as u32,
        reason: row.get("reason"),
        trial_job: row.get("trial_job"),
        changed_at: time(row, "changed_at").unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        incident_id: row.get("incident_id"),
        version: row.get("version"),
    }
}

pub(in crate::store::postgres) async fn route_breakers(
    s: &PostgresStore,
) -> Result<Vec<RouteBreaker>, StoreError> {
    let client = s.client().await?;
    let rows = s
        .rows(
            &client,
            "SELECT route, state, al_ts(opened_at) AS opened_at,
                    al_ts(next_probe_at) AS next_probe_at, probes_failed, reason, trial_job,
                    al_ts(changed_at) AS changed_at, incident_id, version
             FROM route_breakers ORDER BY route",
            &[],
        )
        .await?;
    Ok(rows.iter().map(breaker).collect())
}

pub(in crate::store::postgres) async fn write_breaker(
    s: &PostgresStore,
    b: &RouteBreaker,
) -> Result<bool, StoreError> {
    let client = s.client().await?;
    let ts = |t: Option<jiff::Timestamp>| t.map(|t| t.to_string());
    let n = s
        .exec(
            &client,
            "INSERT INTO route_breakers (route, state, opened_at, next_probe_at, probes_failed,
                                         reason, trial_job, changed_at, incident_id, version)
             SELECT $1, $2, $3::text::timestamptz, $4::text::timestamptz, $5, $6, $7,
                    $8::text::timestamptz, $9, $10::bigint + 1
             WHERE $10::bigint = 0 OR EXISTS (SELECT 1 FROM route_breakers WHERE route = $1)
             ON CONFLICT (route) DO UPDATE SET
                 state = excluded.state, opened_at = excluded.opened_at,
                 next_probe_at = excluded.next_probe_at, probes_failed = excluded.probes_failed,
                 reason = excluded.reason, trial_job = excluded.trial_job,
                 changed_at = excluded.changed_at, incident_id = excluded.incident_id,
                 version = excluded.version
             WHERE route_breakers.version = $10::bigint",
            &[
                &b.route,
                &b.state.label(),
                &ts(b.opened_at),
                &ts(b.next_probe_at),
                &(b.probes_failed as i64),
                &b.reason,
                &b.trial_job,
                &b.changed_at.to_string(),
                &b.incident_id,
                &b.version,
            ],
        )
        .await?;
    Ok(n > 0)
}

/// Takes `route`'s half-open trial (its row locked by the update: a second
/// claimer waits, then finds the trial taken) and claims its one job.
pub(in crate::store::postgres) async fn claim_trial(
    s: &PostgresStore,
    lane: &str,
    route: &str,
    owner: &str,
    lease: Duration,
) -> Result<Option<Job>, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
    let taken = tx
        .execute(
            "UPDATE route_breakers SET trial_job = $2
             WHERE route = $1 AND state = 'half_open' AND trial_job IS NULL",
            &[&route, &TRIAL_CLAIMING],
        )
        .await
        .map_err(&e)?;
    if taken == 0 {
        return Ok(None);
    }
    let routes = vec![route.to_string()];
    let rows = tx
        .query(
            &claim_sql(),
            &[
                &owner,
                &millis(lease),
                &lane,
                &routes,
                &1i64,
                &host_of(owner),
            ],
        )
        .await
        .map_err(&e)?;
    let Some(job) = jobs_of(&rows)?.pop() else {
        // Rolled back on drop: the trial is still free.
        return Ok(None);
    };
    tx.execute(
        "UPDATE route_breakers SET trial_job = $2, version = version + 1,
                reason = 'job ' || $2 || ' runs as the trial on ' || $3
         WHERE route = $1",
        &[&route, &job.id, &owner],
    )
    .await
    .map_err(&e)?;
    tx.commit().await.map_err(&e)?;
    Ok(Some(job))
}

pub(in crate::store::postgres) async fn route_attempts(
    s: &PostgresStore,
    route: &str,
    limit: usize,
) -> Result<Vec<RouteAttempt>, StoreError> {
    let client = s.client().await?;
    let rows = s
        .rows(
            &client,
            "SELECT al_ts(finished_at) AS at, classifier FROM dispatches
             WHERE route = $1 AND job_id IS NOT NULL AND finished_at IS NOT NULL
               AND classifier IS NOT NULL
             ORDER BY finished_at DESC LIMIT $2",
            &[&route, &(limit as i64)],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let at = r.get::<_, String>("at").parse().ok()?;
            let class = r.get::<_, String>("classifier").parse().ok()?;
            Some(RouteAttempt { at, class })
        })
        .collect())
}
