//! Maintenance on PostgreSQL, run by the leader: folding batched incident
//! counts and pruning on the retention. Each step is one transaction that
//! locks what it takes with `SKIP LOCKED`, so it is idempotent and two
//! leaders by mistake split the work instead of doubling it.

use std::time::Duration;

use super::{err, PostgresStore};
use crate::store::{Maintenance, StoreError};

pub(super) async fn maintain(
    s: &PostgresStore,
    retention: Option<Duration>,
    batch: usize,
) -> Result<Maintenance, StoreError> {
    let mut done = Maintenance {
        folded_counts: fold_counts(s, batch).await?,
        ..Maintenance::default()
    };
    if let Some(retention) = retention {
        prune(s, retention, batch, &mut done).await?;
    }
    Ok(done)
}

/// Moves up to `batch` count deltas into their incidents, in one statement:
/// a reader of `incident_totals` sees either the deltas or the folded sums.
async fn fold_counts(s: &PostgresStore, batch: usize) -> Result<u64, StoreError> {
    let client = s.client().await?;
    let row = s
        .row(
            &client,
            "WITH moved AS (
                 DELETE FROM incident_counts WHERE seq IN (
                     SELECT seq FROM incident_counts ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
                 RETURNING incident_id, occurrences, affected, at, reset_at),
             sums AS (
                 SELECT incident_id, sum(occurrences)::bigint AS o, sum(affected)::bigint AS a, max(at) AS last,
                        max(reset_at) AS reset
                 FROM moved GROUP BY incident_id),
             folded AS (
                 UPDATE incidents i SET occurrences = i.occurrences + sums.o,
                        affected_jobs = i.affected_jobs + sums.a,
                        last_seen = GREATEST(i.last_seen, sums.last),
                        reset_at = GREATEST(i.reset_at, sums.reset)
                 FROM sums WHERE i.id = sums.incident_id
                 RETURNING 1)
             SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM folded)",
            &[&(batch as i64)],
        )
        .await?;
    Ok(row.get::<_, i64>(0) as u64)
}

async fn prune(
    s: &PostgresStore,
    retention: Duration,
    batch: usize,
    done: &mut Maintenance,
) -> Result<(), StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let ms = retention.as_secs_f64() * 1000.0;
    let limit = batch as i64;
    let tx = client.transaction().await.map_err(&e)?;
    // Finished jobs, with their attempts, events and incident links.
    let jobs: Vec<String> = tx
        .query(
            "SELECT id FROM jobs
             WHERE finished_at < now() - $1 * interval '1 millisecond'
               AND state IN ('succeeded', 'failed', 'cancelled')
             ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&ms, &limit],
        )
        .await
        .map_err(&e)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !jobs.is_empty() {
        done.events += tx
            .execute("DELETE FROM events WHERE job_id = ANY($1)", &[&jobs])
            .await
            .map_err(&e)?;
        done.events += tx
            .execute(
                "DELETE FROM events WHERE dispatch_id IN (SELECT id FROM dispatches WHERE job_id = ANY($1))",
                &[&jobs],
            )
            .await
            .map_err(&e)?;
        tx.execute("DELETE FROM incident_jobs WHERE job_id = ANY($1)", &[&jobs])
            .await
            .map_err(&e)?;
        done.dispatches += tx
            .execute("DELETE FROM dispatches WHERE job_id = ANY($1)", &[&jobs])
            .await
            .map_err(&e)?;
        done.jobs += tx
            .execute("DELETE FROM jobs WHERE id = ANY($1)", &[&jobs])
            .await
            .map_err(&e)?;
    }
    // Runs without a job (`agentlane exec`), with their events.
    let runs: Vec<String> = tx
        .query(
            "SELECT id FROM dispatches
             WHERE job_id IS NULL AND finished_at < now() - $1 * interval '1 millisecond'
             ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&ms, &limit],
        )
        .await
        .map_err(&e)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !runs.is_empty() {
        done.events += tx
            .execute("DELETE FROM events WHERE dispatch_id = ANY($1)", &[&runs])
            .await
            .map_err(&e)?;
        done.dispatches += tx
            .execute("DELETE FROM dispatches WHERE id = ANY($1)", &[&runs])
            .await
            .map_err(&e)?;
    }
    // Events of neither (preflight_checked).
    let loose = tx
        .execute(
            "DELETE FROM events WHERE seq IN (
                 SELECT seq FROM events
                 WHERE job_id IS NULL AND dispatch_id IS NULL AND at < now() - $1 * interval '1 millisecond'
                 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&ms, &limit],
        )
        .await
        .map_err(&e)?;
    done.events += loose;
    // Resolved incidents, with their links and unfolded counts.
    let incidents: Vec<String> = tx
        .query(
            "SELECT id FROM incidents
             WHERE state = 'resolved' AND resolved_at < now() - $1 * interval '1 millisecond'
             ORDER BY resolved_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&ms, &limit],
        )
        .await
        .map_err(&e)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !incidents.is_empty() {
        for sql in [
            "DELETE FROM incident_jobs WHERE incident_id = ANY($1)",
            "DELETE FROM incident_counts WHERE incident_id = ANY($1)",
            "DELETE FROM account_quotas WHERE incident_id = ANY($1)",
        ] {
            tx.execute(sql, &[&incidents]).await.map_err(&e)?;
        }
        done.incidents += tx
            .execute("DELETE FROM incidents WHERE id = ANY($1)", &[&incidents])
            .await
            .map_err(&e)?;
    }
    done.more = jobs.len() == batch
        || runs.len() == batch
        || loose as usize == batch
        || incidents.len() == batch;
    tx.commit().await.map_err(&e)
}
