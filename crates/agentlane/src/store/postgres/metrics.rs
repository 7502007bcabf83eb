//! `/metrics`' read of the PostgreSQL store (one read-only REPEATABLE READ
//! transaction, so the gauges agree with each other) and the workers'
//! heartbeat rows (migration 0013). Every query is a grouped count over an
//! index or a small table: cheap enough for a scrape every 15 s
//! (docs/performance.md).

use deadpool_postgres::Transaction;
use tokio_postgres::IsolationLevel;

use super::connect::{err, PostgresStore};
use crate::model::metrics::WORKER_SEEN_KEPT;
use crate::model::{MetricsSnapshot, PreflightLatest, WorkerBeat, WorkerSeen};
use crate::store::StoreError;

/// A grouped count's rows as (key, key, count).
async fn counts(
    s: &PostgresStore,
    tx: &Transaction<'_>,
    sql: &str,
) -> Result<Vec<(String, String, u64)>, StoreError> {
    let rows = tx.query(sql, &[]).await.map_err(err(&s.location))?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get::<_, i64>(2).max(0) as u64))
        .collect())
}

pub(super) async fn snapshot(s: &PostgresStore) -> Result<MetricsSnapshot, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client
        .build_transaction()
        .read_only(true)
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()
        .await
        .map_err(&e)?;
    let jobs = counts(
        s,
        &tx,
        "SELECT lane, state::text, count(*) FROM jobs GROUP BY lane, state ORDER BY lane, state::text",
    )
    .await?
    .into_iter()
    .map(Into::into)
    .collect();
    let open_incidents = counts(
        s,
        &tx,
        "SELECT classifier, repair_address::text, count(*) FROM incidents WHERE state = 'open'
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .await?
    .into_iter()
    .map(Into::into)
    .collect();
    let parked = counts(
        s,
        &tx,
        "SELECT lane, COALESCE(classifier, 'none'), count(*) FROM jobs WHERE state = 'parked'
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .await?
    .into_iter()
    .map(Into::into)
    .collect();
    let preflight = tx
        .query(
            "SELECT DISTINCT ON (body->>'route') body->>'route',
                    COALESCE((body->>'cli_resolves')::boolean, false),
                    COALESCE((body->>'cli_ready')::boolean, false),
                    COALESCE((body->>'route_allowed')::boolean, false)
             FROM events WHERE kind = 'preflight_checked' AND body->>'route' IS NOT NULL
             ORDER BY body->>'route', seq DESC",
            &[],
        )
        .await
        .map_err(&e)?
        .iter()
        .map(|r| PreflightLatest {
            route: r.get(0),
            cli_resolves: r.get(1),
            cli_ready: r.get(2),
            route_allowed: r.get(3),
        })
        .collect();
    let kept = WORKER_SEEN_KEPT.as_secs_f64();
    let workers = tx
        .query(
            "SELECT host, kind, lane, extract(epoch FROM last_seen)::float8 FROM worker_heartbeats
             WHERE last_seen > now() - $1::float8 * interval '1 second'
             ORDER BY host, kind, lane",
            &[&kept],
        )
        .await
        .map_err(&e)?
        .iter()
        .map(|r| WorkerSeen {
            host: r.get(0),
            kind: r.get(1),
            lane: r.get(2),
            last_seen: r.get(3),
        })
        .collect();
    tx.commit().await.map_err(&e)?;
    Ok(MetricsSnapshot {
        jobs,
        open_incidents,
        parked,
        preflight,
        workers,
    })
}

pub(super) async fn worker_seen(s: &PostgresStore, beat: &WorkerBeat) -> Result<(), StoreError> {
    // One statement, on the kept connection when it is up: an idle worker's
    // only other write.
    const SEEN: &str = "WITH gone AS (
             DELETE FROM worker_heartbeats
              WHERE last_seen < now() - $4::float8 * interval '1 second'
                AND NOT (host = $1 AND kind = $2 AND lane = $3))
         INSERT INTO worker_heartbeats (host, kind, lane, last_seen) VALUES ($1, $2, $3, now())
         ON CONFLICT (host, kind, lane) DO UPDATE SET last_seen = excluded.last_seen";
    let kept_secs = WORKER_SEEN_KEPT.as_secs_f64();
    let typed: [(
        &(dyn tokio_postgres::types::ToSql + Sync),
        tokio_postgres::types::Type,
    ); 4] = [
        (&beat.host, tokio_postgres::types::Type::TEXT),
        (&beat.kind, tokio_postgres::types::Type::TEXT),
        (&beat.lane, tokio_postgres::types::Type::TEXT),
        (&kept_secs, tokio_postgres::types::Type::FLOAT8),
    ];
    if let Some(Ok(_)) = s.kept().query(SEEN, &typed).await {
        return Ok(());
    }
    let client = s.client().await?;
    s.exec(
        &client,
        SEEN,
        &[&beat.host, &beat.kind, &beat.lane, &kept_secs],
    )
    .await
    .map(|_| ())
}
