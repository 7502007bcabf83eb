//! Jobs: enqueue (1000 per statement), claim (`FOR UPDATE SKIP LOCKED`),
//! heartbeat, and the reads over them.

use std::time::Duration;

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use crate::store::postgres::{err, PostgresStore};

use crate::model::owner::host_of;
use crate::model::{Enqueued, Job, JobFilter, JobStatus, LanePending, NewJob, Status};
use crate::store::rules::{self, CLAIM_ORDER};
use crate::store::StoreError;

/// How many columns [`job_columns`] selects: a statement's own columns
/// after them start at this index.
pub(super) const JOB_COLUMN_COUNT: usize = 24;

pub(super) fn job_columns(p: &str) -> String {
    format!(
        "{p}id, {p}kind, {p}lane, {p}route, {p}prompt, {p}fields, {p}priority, {p}state::text AS state, {p}attempts, al_ts({p}run_at) AS run_at, al_ts({p}created_at) AS created_at, al_ts({p}updated_at) AS updated_at, al_ts({p}finished_at) AS finished_at, {p}lease_owner, al_ts({p}lease_expires_at) AS lease_expires_at, {p}timeout_ms, {p}diagnostics, {p}classifier, {p}next_action, {p}reason, {p}incident_id, {p}last_dispatch_id, {p}key, {p}label"
    )
}

/// A job row, decoded by column name; a state, a next action or payload
/// fields that do not decode are a corrupt row naming its column, never a
/// silent default.
pub(super) fn job_row(row: &Row) -> Result<Job, StoreError> {
    let corrupt = |column: &str, e: String| StoreError::Corrupt(format!("jobs.{column}: {e}"));
    let state: String = row.get("state");
    let fields: serde_json::Value = row.get("fields");
    Ok(Job {
        id: row.get("id"),
        kind: row.get("kind"),
        lane: row.get("lane"),
        route: row.get("route"),
        prompt: row.get("prompt"),
        fields: serde_json::from_value(fields).map_err(|e| corrupt("fields", e.to_string()))?,
        priority: row.get("priority"),
        status: JobStatus::from_columns(
            state.parse().map_err(|e| corrupt("state", e))?,
            row.get("lease_owner"),
            row.get("lease_expires_at"),
            row.get("finished_at"),
        )
        .map_err(|e| corrupt(e.column, e.to_string()))?,
        attempts: row.get::<_, i32>("attempts") as u32,
        run_at: row.get("run_at"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        timeout_ms: row
            .get::<_, Option<i64>>("timeout_ms")
            .map(|t| t.max(0) as u64),
        diagnostics: row.get("diagnostics"),
        classifier: row.get("classifier"),
        next_action: row
            .get::<_, Option<String>>("next_action")
            .map(|a| a.parse())
            .transpose()
            .map_err(|e| corrupt("next_action", e))?,
        reason: row.get("reason"),
        incident_id: row.get("incident_id"),
        last_dispatch_id: row.get("last_dispatch_id"),
        key: row.get("key"),
        label: row.get("label"),
    })
}

pub(super) fn jobs_of(rows: &[Row]) -> Result<Vec<Job>, StoreError> {
    rows.iter().map(job_row).collect()
}

pub(super) fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Jobs per INSERT of an enqueue: one statement (one round trip) each, all
/// in one transaction.
pub(super) const ENQUEUE_CHUNK: usize = 1000;

#[allow(
    clippy::expect_used,
    reason = "strings, numbers, string-keyed maps and lossily written paths always serialise"
)]
pub(in crate::store::postgres) async fn enqueue(
    s: &PostgresStore,
    jobs: &[NewJob],
) -> Result<Vec<Enqueued>, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
    // Rows as arrays, one per column; ids are UUIDv7 made in the batch's
    // order, so they ascend in it. A taken key inserts nothing (the unique
    // index `jobs_key`): RETURNING names the rows added, and the others' ids
    // are read back by key in the same transaction. A concurrent enqueue of
    // the same key waits on the index entry until the other commits, then
    // inserts nothing, and the next statement (read committed) sees the job
    // it committed. Rows are inserted in key order (then id: a key repeated
    // in the batch keeps its first job), so two batches sharing keys take
    // the index entries in one order and cannot deadlock.
    let stmt = tx
        .prepare(
            "INSERT INTO jobs (id, kind, lane, route, prompt, fields, priority, next_action, reason, key, label)
             SELECT id, kind, lane, route, prompt, fields, priority, 'run', 'queued', key, label
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::bigint[], $8::text[], $9::text[])
                  AS t(id, kind, lane, route, prompt, fields, priority, key, label)
             ORDER BY key NULLS LAST, id
             ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING
             RETURNING id",
        )
        .await
        .map_err(&e)?;
    let existing = tx
        .prepare("SELECT key, id FROM jobs WHERE key = ANY($1::text[])")
        .await
        .map_err(&e)?;
    let ids: Vec<String> = jobs
        .iter()
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    // Stable: equal keys (and the unkeyed) keep the batch's order.
    order.sort_by(|&a, &b| match (&jobs[a].key, &jobs[b].key) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let mut out: Vec<Option<Enqueued>> = vec![None; jobs.len()];
    for chunk in order.chunks(ENQUEUE_CHUNK) {
        let chunk_ids: Vec<&str> = chunk.iter().map(|&i| ids[i].as_str()).collect();
        let column =
            |f: fn(&NewJob) -> &str| chunk.iter().map(|&i| f(&jobs[i])).collect::<Vec<&str>>();
        let fields: Vec<serde_json::Value> = chunk
            .iter()
            .map(|&i| serde_json::to_value(&jobs[i].fields).expect("fields serialise"))
            .collect();
        let priorities: Vec<i64> = chunk.iter().map(|&i| jobs[i].priority).collect();
        let keys: Vec<Option<&str>> = chunk.iter().map(|&i| jobs[i].key.as_deref()).collect();
        let labels: Vec<Option<&str>> = chunk.iter().map(|&i| jobs[i].label.as_deref()).collect();
        let added: std::collections::HashSet<String> = tx
            .query(
                &stmt,
                &[
                    &chunk_ids,
                    &column(|j| &j.kind),
                    &column(|j| &j.lane),
                    &column(|j| &j.route),
                    &column(|j| &j.prompt),
                    &fields,
                    &priorities,
                    &keys,
                    &labels,
                ],
            )
            .await
            .map_err(&e)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let taken: Vec<&str> = chunk
            .iter()
            .filter(|&&i| !added.contains(&ids[i]))
            .filter_map(|&i| jobs[i].key.as_deref())
            .collect();
        let holders: std::collections::HashMap<String, String> = if taken.is_empty() {
            Default::default()
        } else {
            tx.query(&existing, &[&taken])
                .await
                .map_err(&e)?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect()
        };
        for &i in chunk {
            let id = &ids[i];
            out[i] = Some(if added.contains(id) {
                Enqueued {
                    id: id.clone(),
                    existed: false,
                }
            } else {
                let key = jobs[i].key.as_ref();
                let holder = key.and_then(|k| holders.get(k)).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "jobs: job {id} was not inserted and no job holds its key {key:?}"
                    ))
                })?;
                Enqueued {
                    id: holder.clone(),
                    existed: true,
                }
            });
        }
    }
    // Closed inside the transaction: under transaction pooling, the server
    // connection that prepared it is only ours until the commit.
    drop(stmt);
    drop(existing);
    // Wake idle workers, once per lane, when (and only if) the jobs commit.
    let mut lanes: Vec<&str> = jobs.iter().map(|j| j.lane.as_str()).collect();
    lanes.sort_unstable();
    lanes.dedup();
    for lane in lanes {
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&crate::store::postgres::kept::CHANNEL, &lane],
        )
        .await
        .map_err(&e)?;
    }
    tx.commit().await.map_err(&e)?;
    if jobs.len() >= ENQUEUE_CHUNK {
        refresh_stale_statistics(s, &client, jobs.len()).await;
    }
    Ok(out.into_iter().flatten().collect())
}

/// After a large enqueue, refreshes the planner's statistics of `jobs` when
/// they count fewer rows than the batch just added. Claims are prepared
/// once per connection, and a plan made while the table was analyzed empty
/// scans the whole table on every claim until autovacuum's next analyze (up
/// to a minute or more away): a claim that grows with the finished jobs.
/// ANALYZE invalidates those plans at once. Best effort: a role that may
/// not analyze the table leaves it to autovacuum.
pub(super) async fn refresh_stale_statistics(
    s: &PostgresStore,
    client: &deadpool_postgres::Client,
    added: usize,
) {
    let stale = s
        .row(
            client,
            "SELECT reltuples < $1 FROM pg_class WHERE oid = 'jobs'::regclass",
            &[&(added as f32)],
        )
        .await
        .map(|row| row.get::<_, bool>(0))
        .unwrap_or(false);
    if stale {
        let _ = client.batch_execute("ANALYZE jobs").await;
    }
}

/// The claim: owner $1, lease $2 ms, lane $3, routes $4, limit $5, the
/// owner's host $6.
pub(super) fn claim_sql() -> String {
    format!(
        "WITH picked AS (
             SELECT id FROM jobs WHERE {claimable}
             ORDER BY {CLAIM_ORDER} LIMIT $5
             FOR UPDATE SKIP LOCKED)
         UPDATE jobs j SET {set}
         FROM picked WHERE j.id = picked.id
         RETURNING {columns}",
        claimable = rules::claimable("$3", "now()", "= ANY($4)", "$6"),
        set = rules::claim_set("$1", "now() + $2 * interval '1 millisecond'", "now()"),
        columns = job_columns("j.")
    )
}

pub(in crate::store::postgres) async fn claim(
    s: &PostgresStore,
    lane: &str,
    routes: &[String],
    owner: &str,
    lease: Duration,
    limit: usize,
) -> Result<Vec<Job>, StoreError> {
    if routes.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let client = s.client().await?;
    let sql = claim_sql();
    let rows = s
        .rows(
            &client,
            &sql,
            &[
                &owner,
                &millis(lease),
                &lane,
                &routes,
                &(limit as i64),
                &host_of(owner),
            ],
        )
        .await?;
    let mut claimed = jobs_of(&rows)?;
    claimed.sort_by(rules::claim_order);
    Ok(claimed)
}

/// Renews owner $1's unexpired leases on jobs $3 for $2 ms. Like the
/// settlement's fence it does not name the state: a job has a lease owner
/// exactly while it runs (every statement that takes a job out of `running`
/// clears `lease_owner`), and a `state = 'running'` condition lets the
/// planner pick the partial `jobs_leases` index over the primary key. That
/// index keeps an entry for every lease taken since the last vacuum, so the
/// lookup would grow with the churn instead of touching one row.
pub(crate) const RENEW: &str =
    "UPDATE jobs SET lease_expires_at = now() + $2 * interval '1 millisecond'
     WHERE lease_owner = $1 AND id = ANY($3) AND lease_expires_at > now()
     RETURNING id, cancel_reason";

pub(in crate::store::postgres) async fn heartbeat(
    s: &PostgresStore,
    owner: &str,
    jobs: &[String],
    lease: Duration,
) -> Result<Vec<crate::model::Renewed>, StoreError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    // On the kept connection, so a pool the server will not give another
    // connection (all its slots taken) does not cost the worker its leases.
    let ms = millis(lease);
    let jobs = jobs.to_vec();
    let typed: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 3] = [
        (&owner, Type::TEXT),
        (&ms, Type::FLOAT8),
        (&jobs, Type::TEXT_ARRAY),
    ];
    let rows = match s.kept().query(RENEW, &typed).await {
        Some(Ok(rows)) => rows,
        // Not up (or it just failed): the pool.
        _ => {
            let client = s.client().await?;
            s.rows(&client, RENEW, &[&owner, &ms, &jobs]).await?
        }
    };
    Ok(rows
        .iter()
        .map(|r| crate::model::Renewed {
            id: r.get(0),
            cancel: r.get(1),
        })
        .collect())
}

pub(in crate::store::postgres) async fn lane_pending(
    s: &PostgresStore,
    lane: &str,
    routes: &[String],
) -> Result<LanePending, StoreError> {
    let client = s.client().await?;
    let row = s
        .row(
            &client,
            "SELECT count(*) FILTER (WHERE state IN ('queued', 'scheduled') AND route = ANY($2)),
                    count(*) FILTER (WHERE state = 'running')
             FROM jobs WHERE lane = $1 AND state IN ('queued', 'scheduled', 'running')",
            &[&lane, &routes],
        )
        .await?;
    let (waiting, running): (i64, i64) = (row.get(0), row.get(1));
    Ok(LanePending {
        waiting: waiting as u64,
        running: running as u64,
    })
}

pub(in crate::store::postgres) async fn jobs(
    s: &PostgresStore,
    f: &JobFilter,
) -> Result<Vec<Job>, StoreError> {
    // Only the filters given become conditions, and the state is compared as
    // the enum: `($2::text IS NULL OR state::text = $2)` kept every index but
    // the lane's out of a filtered page, which read and sorted all of its
    // lane's rows (docs/performance.md, "Server (issue 18)"). With
    // `jobs_lane_state` on (lane, state, id) such a page is one index range.
    let client = s.client().await?;
    let limit = if f.limit == 0 {
        i64::MAX
    } else {
        f.limit as i64
    };
    let state = f.state.map(|st| st.label());
    let filters: [(&str, Option<&(dyn ToSql + Sync)>); 6] = [
        ("lane = $", f.lane.as_ref().map(|v| v as _)),
        (
            "state = ($::text)::job_state",
            state.as_ref().map(|v| v as _),
        ),
        (
            "updated_at >= ($::text)::timestamptz",
            f.updated_since.as_ref().map(|v| v as _),
        ),
        ("kind = $", f.kind.as_ref().map(|v| v as _)),
        ("classifier = $", f.class.as_ref().map(|v| v as _)),
        ("id < $", f.before.as_ref().map(|v| v as _)),
    ];
    let mut sql = format!("SELECT {} FROM jobs WHERE true", job_columns(""));
    let mut args: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(7);
    for (condition, value) in filters {
        if let Some(v) = value {
            args.push(v);
            sql.push_str(" AND ");
            sql.push_str(&condition.replace('$', &format!("${}", args.len())));
        }
    }
    args.push(&limit);
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", args.len()));
    let rows = s.rows(&client, &sql, &args).await?;
    jobs_of(&rows)
}

pub(in crate::store::postgres) async fn job(
    s: &PostgresStore,
    id: &str,
) -> Result<Option<Job>, StoreError> {
    let client = s.client().await?;
    let sql = format!("SELECT {} FROM jobs WHERE id = $1", job_columns(""));
    let rows = s.rows(&client, &sql, &[&id]).await?;
    rows.first().map(job_row).transpose()
}

pub(in crate::store::postgres) async fn status(s: &PostgresStore) -> Result<Status, StoreError> {
    let client = s.client().await?;
    let lanes = s
        .rows(&client, "SELECT lane, state::text, count(*) FROM jobs GROUP BY lane, state ORDER BY lane, state::text", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get::<_, i64>(2) as u64))
        .collect();
    let classes = s
        .rows(&client, "SELECT classifier, count(*) FROM jobs WHERE classifier IS NOT NULL GROUP BY classifier ORDER BY count(*) DESC", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
        .collect();
    let open: i64 = s
        .row(
            &client,
            "SELECT count(*) FROM incidents WHERE state = 'open'",
            &[],
        )
        .await?
        .get(0);
    Ok(Status {
        lanes,
        classes,
        open_incidents: open as u64,
    })
}
