//! `/metrics`' read of the SQLite store (one read transaction, so the
//! gauges agree with each other) and the workers' heartbeat rows
//! (migration 0013). Every query is a grouped count over an index or a
//! small table: cheap enough for a scrape every 15 s (docs/performance.md).

use rusqlite::{params, Connection, TransactionBehavior};

use super::queue::NOW;
use crate::model::metrics::WORKER_SEEN_KEPT;
use crate::model::{MetricsSnapshot, PreflightLatest, WorkerBeat, WorkerSeen};

/// A grouped count's rows as (key, key, count).
fn counts(tx: &Connection, sql: &str) -> rusqlite::Result<Vec<(String, String, u64)>> {
    let mut stmt = tx.prepare_cached(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?.max(0) as u64))
    })?;
    rows.collect()
}

pub(super) fn snapshot(conn: &mut Connection) -> rusqlite::Result<MetricsSnapshot> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
    let jobs = counts(
        &tx,
        "SELECT lane, state, count(*) FROM jobs GROUP BY lane, state ORDER BY lane, state",
    )?
    .into_iter()
    .map(Into::into)
    .collect();
    let open_incidents = counts(
        &tx,
        "SELECT classifier, repair_address, count(*) FROM incidents WHERE state = 'open'
         GROUP BY classifier, repair_address ORDER BY classifier, repair_address",
    )?
    .into_iter()
    .map(Into::into)
    .collect();
    let parked = counts(
        &tx,
        "SELECT lane, COALESCE(classifier, 'none'), count(*) FROM jobs WHERE state = 'parked'
         GROUP BY lane, classifier ORDER BY lane, classifier",
    )?
    .into_iter()
    .map(Into::into)
    .collect();
    let preflight = {
        let mut stmt = tx.prepare_cached(
            "SELECT json_extract(body, '$.route'), json_extract(body, '$.cli_resolves'),
                    json_extract(body, '$.cli_ready'), json_extract(body, '$.route_allowed')
             FROM events WHERE seq IN (
                 SELECT max(seq) FROM events WHERE kind = 'preflight_checked'
                 GROUP BY json_extract(body, '$.route'))
             ORDER BY 1",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PreflightLatest {
                route: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                cli_resolves: r.get::<_, Option<bool>>(1)?.unwrap_or(false),
                cli_ready: r.get::<_, Option<bool>>(2)?.unwrap_or(false),
                route_allowed: r.get::<_, Option<bool>>(3)?.unwrap_or(false),
            })
        })?;
        rows.filter(|p| p.as_ref().map_or(true, |p| !p.route.is_empty()))
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    let workers = {
        let mut stmt = tx.prepare_cached(
            "SELECT host, kind, lane, last_seen FROM worker_heartbeats
             WHERE last_seen > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1)
             ORDER BY host, kind, lane",
        )?;
        let rows = stmt.query_map(params![kept()], |r| {
            let seen: String = r.get(3)?;
            Ok(WorkerSeen {
                host: r.get(0)?,
                kind: r.get(1)?,
                lane: r.get(2)?,
                last_seen: seen
                    .parse::<jiff::Timestamp>()
                    .map_or(0.0, |t| t.as_millisecond() as f64 / 1000.0),
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    tx.commit()?;
    Ok(MetricsSnapshot {
        jobs,
        open_incidents,
        parked,
        preflight,
        workers,
    })
}

/// `-N seconds`: the SQLite modifier for how long a heartbeat row is kept.
fn kept() -> String {
    format!("-{} seconds", WORKER_SEEN_KEPT.as_secs())
}

pub(super) fn worker_seen(conn: &mut Connection, beat: &WorkerBeat) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached(&format!(
        "INSERT INTO worker_heartbeats (host, kind, lane, last_seen) VALUES (?1, ?2, ?3, {NOW})
         ON CONFLICT (host, kind, lane) DO UPDATE SET last_seen = excluded.last_seen"
    ))?
    .execute(params![beat.host, beat.kind, beat.lane])?;
    tx.prepare_cached(
        "DELETE FROM worker_heartbeats WHERE last_seen < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1)",
    )?
    .execute(params![kept()])?;
    tx.commit()
}
