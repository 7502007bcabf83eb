//! Maintenance on SQLite: pruning on the retention, in one write
//! transaction per pass. Incident counts are written directly (SQLite has
//! one writer, so there is nothing to batch).

use std::time::Duration;

use rusqlite::{params, Connection, TransactionBehavior};

use crate::store::Maintenance;

/// `strftime` of now minus `retention`, the cutoff of what is old enough to prune.
fn cutoff(retention: Duration) -> String {
    format!(
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-{:.3} seconds')",
        retention.as_secs_f64()
    )
}

fn ids(tx: &rusqlite::Transaction<'_>, sql: &str, limit: usize) -> rusqlite::Result<Vec<String>> {
    let mut stmt = tx.prepare_cached(sql)?;
    let rows = stmt.query_map([limit as i64], |r| r.get(0))?;
    rows.collect()
}

#[allow(
    clippy::expect_used,
    reason = "strings, numbers, string-keyed maps and lossily written paths always serialise"
)]
pub(super) fn maintain(
    conn: &mut Connection,
    retention: Option<Duration>,
    batch: usize,
) -> rusqlite::Result<Maintenance> {
    let mut done = Maintenance::default();
    let Some(retention) = retention else {
        return Ok(done);
    };
    let before = cutoff(retention);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let jobs = ids(
        &tx,
        &format!(
            "SELECT id FROM jobs WHERE finished_at < {before}
               AND state IN ('succeeded', 'failed', 'cancelled')
             ORDER BY finished_at LIMIT ?1"
        ),
        batch,
    )?;
    if !jobs.is_empty() {
        let list = serde_json::to_string(&jobs).expect("ids serialise");
        let run = |sql: &str| -> rusqlite::Result<u64> {
            Ok(tx.prepare_cached(sql)?.execute(params![list])? as u64)
        };
        done.events += run("DELETE FROM events WHERE job_id IN (SELECT value FROM json_each(?1))")?;
        done.events += run("DELETE FROM events WHERE dispatch_id IN (SELECT id FROM dispatches WHERE job_id IN (SELECT value FROM json_each(?1)))")?;
        run("DELETE FROM incident_jobs WHERE job_id IN (SELECT value FROM json_each(?1))")?;
        done.dispatches +=
            run("DELETE FROM dispatches WHERE job_id IN (SELECT value FROM json_each(?1))")?;
        done.jobs += run("DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?1))")?;
    }
    let runs = ids(
        &tx,
        &format!(
            "SELECT id FROM dispatches WHERE job_id IS NULL AND finished_at < {before}
             ORDER BY finished_at LIMIT ?1"
        ),
        batch,
    )?;
    if !runs.is_empty() {
        let list = serde_json::to_string(&runs).expect("ids serialise");
        done.events += tx
            .prepare_cached(
                "DELETE FROM events WHERE dispatch_id IN (SELECT value FROM json_each(?1))",
            )?
            .execute(params![list])? as u64;
        done.dispatches += tx
            .prepare_cached("DELETE FROM dispatches WHERE id IN (SELECT value FROM json_each(?1))")?
            .execute(params![list])? as u64;
    }
    let loose = tx
        .prepare_cached(&format!(
            "DELETE FROM events WHERE seq IN (
                 SELECT seq FROM events WHERE job_id IS NULL AND dispatch_id IS NULL AND at < {before}
                 ORDER BY at LIMIT ?1)"
        ))?
        .execute(params![batch as i64])? as u64;
    done.events += loose;
    let incidents = ids(
        &tx,
        &format!(
            "SELECT id FROM incidents WHERE state = 'resolved' AND resolved_at < {before}
             ORDER BY resolved_at LIMIT ?1"
        ),
        batch,
    )?;
    if !incidents.is_empty() {
        let list = serde_json::to_string(&incidents).expect("ids serialise");
        for sql in [
            "DELETE FROM incident_jobs WHERE incident_id IN (SELECT value FROM json_each(?1))",
            "DELETE FROM account_quotas WHERE incident_id IN (SELECT value FROM json_each(?1))",
        ] {
            tx.prepare_cached(sql)?.execute(params![list])?;
        }
        done.incidents += tx
            .prepare_cached("DELETE FROM incidents WHERE id IN (SELECT value FROM json_each(?1))")?
            .execute(params![list])? as u64;
    }
    done.more = jobs.len() == batch
        || runs.len() == batch
        || loose as usize == batch
        || incidents.len() == batch;
    tx.commit()?;
    Ok(done)
}
