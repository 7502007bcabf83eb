//! The queue's SQL for PostgreSQL. Claims take `FOR UPDATE SKIP LOCKED`;
//! times come from `now()`; writes after a claim are fenced.

use std::time::Duration;

use tokio_postgres::Row;

use super::{err, PostgresStore};
use crate::model::DispatchReport;
use crate::events::Event;
use crate::model::incident::{incident_priority, repair_address};
use crate::model::{
    Completion, Incident, IncidentFacts, Job, JobFilter, LanePending, NewJob, Next, Status,
};
use crate::store::StoreError;

fn job_columns(p: &str) -> String {
    format!(
        "{p}id, {p}kind, {p}lane, {p}route, {p}prompt, {p}fields, {p}priority, {p}state::text, {p}attempts, al_ts({p}run_at), al_ts({p}created_at), al_ts({p}updated_at), al_ts({p}finished_at), {p}lease_owner, al_ts({p}lease_expires_at), {p}timeout_ms, {p}diagnostics, {p}classifier, {p}next_action, {p}reason, {p}incident_id, {p}last_dispatch_id"
    )
}

fn job_row(row: &Row) -> Result<Job, StoreError> {
    let state: String = row.get(7);
    let fields: serde_json::Value = row.get(5);
    Ok(Job {
        id: row.get(0),
        kind: row.get(1),
        lane: row.get(2),
        route: row.get(3),
        prompt: row.get(4),
        fields: serde_json::from_value(fields).unwrap_or_default(),
        priority: row.get(6),
        state: state.parse().map_err(StoreError::Corrupt)?,
        attempts: row.get::<_, i32>(8) as u32,
        run_at: row.get(9),
        created_at: row.get(10),
        updated_at: row.get(11),
        finished_at: row.get(12),
        lease_owner: row.get(13),
        lease_expires_at: row.get(14),
        timeout_ms: row.get::<_, Option<i64>>(15).map(|t| t.max(0) as u64),
        diagnostics: row.get(16),
        classifier: row.get(17),
        next_action: row
            .get::<_, Option<String>>(18)
            .map(|a| a.parse())
            .transpose()
            .map_err(StoreError::Corrupt)?,
        reason: row.get(19),
        incident_id: row.get(20),
        last_dispatch_id: row.get(21),
    })
}

fn jobs_of(rows: &[Row]) -> Result<Vec<Job>, StoreError> {
    rows.iter().map(job_row).collect()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Jobs per INSERT of an enqueue: one statement (one round trip) each, all
/// in one transaction.
const ENQUEUE_CHUNK: usize = 1000;

#[allow(
    clippy::expect_used,
    reason = "strings, numbers, string-keyed maps and lossily written paths always serialise"
)]
pub(super) async fn enqueue(s: &PostgresStore, jobs: &[NewJob]) -> Result<Vec<String>, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
    // Rows as arrays, one per column, in ascending id order (UUIDv7).
    let stmt = tx
        .prepare(
            "INSERT INTO jobs (id, kind, lane, route, prompt, fields, priority, next_action, reason)
             SELECT id, kind, lane, route, prompt, fields, priority, 'run', 'queued'
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::bigint[])
                  AS t(id, kind, lane, route, prompt, fields, priority)",
        )
        .await
        .map_err(&e)?;
    let mut ids = Vec::with_capacity(jobs.len());
    for chunk in jobs.chunks(ENQUEUE_CHUNK) {
        let chunk_ids: Vec<String> = chunk
            .iter()
            .map(|_| uuid::Uuid::now_v7().to_string())
            .collect();
        let column = |f: fn(&NewJob) -> &str| chunk.iter().map(f).collect::<Vec<&str>>();
        let fields: Vec<serde_json::Value> = chunk
            .iter()
            .map(|j| serde_json::to_value(&j.fields).expect("fields serialise"))
            .collect();
        let priorities: Vec<i64> = chunk.iter().map(|j| j.priority).collect();
        tx.execute(
            &stmt,
            &[
                &chunk_ids,
                &column(|j| &j.kind),
                &column(|j| &j.lane),
                &column(|j| &j.route),
                &column(|j| &j.prompt),
                &fields,
                &priorities,
            ],
        )
        .await
        .map_err(&e)?;
        ids.extend(chunk_ids);
    }
    // Closed inside the transaction: under transaction pooling, the server
    // connection that prepared it is only ours until the commit.
    drop(stmt);
    // Wake idle workers, once per lane, when (and only if) the jobs commit.
    let mut lanes: Vec<&str> = jobs.iter().map(|j| j.lane.as_str()).collect();
    lanes.sort_unstable();
    lanes.dedup();
    for lane in lanes {
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&super::listen::CHANNEL, &lane],
        )
        .await
        .map_err(&e)?;
    }
    tx.commit().await.map_err(&e)?;
    if jobs.len() >= ENQUEUE_CHUNK {
        refresh_stale_statistics(s, &client, jobs.len()).await;
    }
    Ok(ids)
}

/// After a large enqueue, refreshes the planner's statistics of `jobs` when
/// they count fewer rows than the batch just added. Claims are prepared
/// once per connection, and a plan made while the table was analyzed empty
/// scans the whole table on every claim until autovacuum's next analyze (up
/// to a minute or more away): a claim that grows with the finished jobs.
/// ANALYZE invalidates those plans at once. Best effort: a role that may
/// not analyze the table leaves it to autovacuum.
async fn refresh_stale_statistics(
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

pub(super) async fn claim(
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
    let sql = format!(
        "WITH picked AS (
             SELECT id FROM jobs
             WHERE lane = $3 AND state IN ('queued', 'scheduled') AND run_at <= now() AND route = ANY($4)
             ORDER BY priority DESC, run_at, id LIMIT $5
             FOR UPDATE SKIP LOCKED)
         UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, lease_owner = $1,
                lease_expires_at = now() + $2 * interval '1 millisecond', updated_at = now(),
                next_action = 'run', reason = 'running on ' || $1
         FROM picked WHERE j.id = picked.id
         RETURNING {}",
        job_columns("j.")
    );
    let rows = s
        .rows(
            &client,
            &sql,
            &[&owner, &millis(lease), &lane, &routes, &(limit as i64)],
        )
        .await?;
    let mut claimed = jobs_of(&rows)?;
    claimed.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.run_at.cmp(&b.run_at))
            .then(a.id.cmp(&b.id))
    });
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
     RETURNING id";

pub(super) async fn heartbeat(
    s: &PostgresStore,
    owner: &str,
    jobs: &[String],
    lease: Duration,
) -> Result<Vec<String>, StoreError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let client = s.client().await?;
    let rows = s
        .rows(&client, RENEW, &[&owner, &millis(lease), &jobs])
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Opens the incident of `f` or finds the open one, attaches the job, and
/// counts this occurrence in `incident_counts`, in one statement. No shared
/// row is locked: the insert does nothing on a conflict with a committed open
/// incident, and the counts are folded in later by the maintenance leader.
async fn upsert_incident(
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
                 INSERT INTO incidents (id, failure_fingerprint, classifier, repair_address, priority, route, lane, host, repair_hint, evidence, reset_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $12::text::timestamptz)
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

/// The fenced settlement of a job (`j`) and the resolution of its incident
/// when a released job succeeded (`resolved`), and whether the fence matched
/// (`f`): CTEs shared by SETTLE and finish_settle_and_claim_sql. Parameters
/// $1–$14.
/// The settlement's CTEs. The fence is the job, its attempt and its lease
/// owner; it does not name the state, which the owner implies (see
/// [`RENEW`]), so the update can only find the job by its primary key.
macro_rules! settle_ctes {
    () => {
        "j AS (
            UPDATE jobs SET state = $4::text::job_state, next_action = $5, reason = $6, classifier = $7,
                   run_at = now() + COALESCE($8::float8, 0) * interval '1 millisecond',
                   timeout_ms = COALESCE($9, timeout_ms), diagnostics = $10,
                   finished_at = CASE WHEN $11 THEN now() ELSE NULL END,
                   attempts = attempts + $12, last_dispatch_id = COALESCE($13, last_dispatch_id),
                   lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
            WHERE id = $1 AND attempts = $2 AND lease_owner = $3
            RETURNING id, incident_id),
        resolved AS (
            UPDATE incidents SET state = 'resolved', resolved_at = now(), resolution = 'a released job succeeded'
            WHERE $14 AND state = 'open' AND id = (SELECT incident_id FROM j)
              AND NOT EXISTS (SELECT 1 FROM incident_jobs ij JOIN jobs p ON p.id = ij.job_id
                              WHERE ij.incident_id = incidents.id AND p.state = 'parked' AND p.id <> $1)
            RETURNING 1),
        f AS (SELECT EXISTS (SELECT 1 FROM j) AS ok)"
    };
}

/// The fenced settlement and its decision event, in one statement: the
/// event says `job_decided` when the fence matched and
/// `job_decision_rejected` when it did not ($15 and $16 are their bodies).
/// A success also resolves the job's incident once none of its jobs is
/// parked any more.
pub(crate) const SETTLE: &str = concat!(
    "WITH ",
    settle_ctes!(),
    "
    INSERT INTO events (job_id, kind, body)
    SELECT $1, CASE WHEN f.ok THEN 'job_decided' ELSE 'job_decision_rejected' END,
           CASE WHEN f.ok THEN $15::jsonb ELSE $16::jsonb END
    FROM f
    RETURNING kind"
);

/// A job dispatch's outcome, its settlement and one claim for the slot it
/// frees, in one statement (one commit). The dispatch is finished once (`d`,
/// $17–$24) and its events ($25, $26) are written only then, whatever the
/// fence says; the decision event follows them. The claim happens only when
/// the settlement was accepted (`f.ok`), for the same owner ($3), in lane
/// $27 on routes $28 (none: no claim), leased for $29 ms. The job settled here is
/// still running in the statement's snapshot, so it is never the one
/// claimed. Returns one row: the claimed job's columns (all NULL when none
/// was claimed), then whether the settlement was accepted.
pub(crate) fn finish_settle_and_claim_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "WITH d AS (
                UPDATE dispatches SET finished_at = now(), classifier = $18, exit_code = $19, signal = $20,
                       timed_out = $21, duration_ms = $22, failure_fingerprint = $23, report = $24
                WHERE id = $17 AND finished_at IS NULL RETURNING id, job_id), {settle},
            ins AS (
                INSERT INTO events (dispatch_id, job_id, kind, body)
                SELECT x.dispatch_id, x.job_id, x.kind, x.body FROM (
                    SELECT d.id, d.job_id, ev.kind, ev.body, ev.n
                    FROM d, unnest($25::text[], $26::jsonb[]) WITH ORDINALITY AS ev(kind, body, n)
                    UNION ALL
                    SELECT NULL, $1, CASE WHEN f.ok THEN 'job_decided' ELSE 'job_decision_rejected' END,
                           CASE WHEN f.ok THEN $15::jsonb ELSE $16::jsonb END, 9223372036854775807
                    FROM f) AS x(dispatch_id, job_id, kind, body, n)
                ORDER BY x.n
                RETURNING 1),
            picked AS (
                SELECT id FROM jobs
                WHERE (SELECT ok FROM f) AND lane = $27 AND state IN ('queued', 'scheduled')
                  AND run_at <= now() AND route = ANY($28)
                ORDER BY priority DESC, run_at, id LIMIT 1
                FOR UPDATE SKIP LOCKED),
            claimed AS (
                UPDATE jobs c SET state = 'running', attempts = c.attempts + 1, lease_owner = $3,
                       lease_expires_at = now() + $29 * interval '1 millisecond', updated_at = now(),
                       next_action = 'run', reason = 'running on ' || $3
                FROM picked WHERE c.id = picked.id
                RETURNING c.*)
            SELECT {columns}, (SELECT ok FROM f)
            FROM (SELECT 1) AS one LEFT JOIN claimed ON true",
            settle = settle_ctes!(),
            columns = job_columns("claimed.")
        )
    })
}

/// The parameters of SETTLE ($1–$16), owned.
struct SettleParams {
    job_id: String,
    attempt: i32,
    owner: String,
    state: &'static str,
    action: &'static str,
    reason: String,
    class: String,
    delay_ms: Option<f64>,
    timeout_ms: Option<i64>,
    diagnostics: bool,
    terminal: bool,
    attempts_delta: i32,
    dispatch_id: Option<String>,
    done: bool,
    accepted_body: serde_json::Value,
    rejected_body: serde_json::Value,
}

impl SettleParams {
    #[allow(
        clippy::expect_used,
        reason = "strings, numbers, string-keyed maps and lossily written paths always serialise"
    )]
    fn of(c: &Completion) -> SettleParams {
        let row = c.settle.row();
        let decided = c.decided();
        SettleParams {
            job_id: c.job_id.clone(),
            attempt: c.attempt as i32,
            owner: c.owner.clone(),
            state: row.state.label(),
            action: row.action.label(),
            reason: c.reason.clone(),
            class: c.class.label(),
            delay_ms: row.delay.map(millis),
            timeout_ms: row.timeout_ms,
            diagnostics: row.diagnostics,
            terminal: row.terminal,
            attempts_delta: row.attempts_delta,
            dispatch_id: c.dispatch_id.clone(),
            done: matches!(c.settle, Next::Done),
            accepted_body: serde_json::to_value(Event::JobDecided(decided.clone()))
                .expect("events serialise"),
            rejected_body: serde_json::to_value(Event::JobDecisionRejected(decided))
                .expect("events serialise"),
        }
    }

    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 16] {
        [
            &self.job_id,
            &self.attempt,
            &self.owner,
            &self.state,
            &self.action,
            &self.reason,
            &self.class,
            &self.delay_ms,
            &self.timeout_ms,
            &self.diagnostics,
            &self.terminal,
            &self.attempts_delta,
            &self.dispatch_id,
            &self.done,
            &self.accepted_body,
            &self.rejected_body,
        ]
    }
}

/// Whether the rows a settling statement returned include an accepted decision.
fn accepted(rows: &[Row]) -> bool {
    rows.iter().any(|r| r.get::<_, &str>(0) == "job_decided")
}

pub(super) async fn settle(s: &PostgresStore, c: &Completion) -> Result<bool, StoreError> {
    let p = SettleParams::of(c);
    settle_with(s, SETTLE, &p.params(), c).await
}

/// The outcome and the settlement, claiming nothing.
pub(super) async fn finish_and_settle(
    s: &PostgresStore,
    r: &DispatchReport,
    events: &[Event],
    c: &Completion,
) -> Result<bool, StoreError> {
    let nothing = crate::store::NextClaim {
        lane: String::new(),
        routes: Vec::new(),
        lease: Duration::ZERO,
    };
    Ok(finish_settle_and_claim(s, r, events, c, &nothing).await?.0)
}

pub(super) async fn finish_settle_and_claim(
    s: &PostgresStore,
    r: &DispatchReport,
    events: &[Event],
    c: &Completion,
    next: &crate::store::NextClaim,
) -> Result<(bool, Option<Job>), StoreError> {
    let p = SettleParams::of(c);
    let f = super::FinishParams::of(r, events);
    let lease = millis(next.lease);
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = p.params().to_vec();
    params.extend(f.params());
    params.extend([
        &next.lane as &(dyn tokio_postgres::types::ToSql + Sync),
        &next.routes,
        &lease,
    ]);
    let mut client = s.client().await?;
    let e = err(&s.location);
    let sql = finish_settle_and_claim_sql();
    let read = |row: &Row| -> Result<(bool, Option<Job>), StoreError> {
        let accepted: bool = row.get(22);
        let job = match row.get::<_, Option<String>>(0) {
            Some(_) => Some(job_row(row)?),
            None => None,
        };
        Ok((accepted, job))
    };
    let Some(facts) = &c.incident else {
        let row = s.row(&client, sql, &params).await?;
        return read(&row);
    };
    let tx = client.transaction().await.map_err(&e)?;
    let stmt = s.prepare_in(&tx, sql).await?;
    let row = tx.query_one(&stmt, &params).await.map_err(&e)?;
    let answer = read(&row)?;
    // The row holds the statement: both go before the commit, so the
    // statement is closed inside the transaction (see `rescue_expired`).
    drop((row, stmt));
    if answer.0 {
        upsert_incident(s, &tx, facts, Some(&c.job_id)).await?;
    }
    tx.commit().await.map_err(&e)?;
    Ok(answer)
}

/// Runs a settling statement: alone (one round trip, one commit) when the
/// attempt opened no incident, else in a transaction with the incident's.
async fn settle_with(
    s: &PostgresStore,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    c: &Completion,
) -> Result<bool, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let Some(facts) = &c.incident else {
        let rows = s.rows(&client, sql, params).await?;
        return Ok(accepted(&rows));
    };
    let tx = client.transaction().await.map_err(&e)?;
    let stmt = s.prepare_in(&tx, sql).await?;
    let rows = tx.query(&stmt, params).await.map_err(&e)?;
    let accepted = accepted(&rows);
    drop((rows, stmt)); // closed inside the transaction (see `rescue_expired`)
    if accepted {
        upsert_incident(s, &tx, facts, Some(&c.job_id)).await?;
    }
    tx.commit().await.map_err(&e)?;
    Ok(accepted)
}

pub(super) async fn open_incident(
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

pub(super) async fn rescue_expired(
    s: &PostgresStore,
    owner: &str,
    lease: Duration,
) -> Result<Vec<Job>, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
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
        let old_owner: Option<String> = row.get(22);
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

pub(super) async fn release_parked(
    s: &PostgresStore,
    lane: &str,
    route: &str,
    why: &str,
) -> Result<u64, StoreError> {
    let client = s.client().await?;
    s.exec(
        &client,
        "UPDATE jobs SET state = 'queued', run_at = now(), next_action = 'run', reason = $3, updated_at = now()
         WHERE state = 'parked' AND lane = $1 AND route = $2
           AND COALESCE(classifier, '') NOT IN ('payload_invalid', 'route_not_allowed')",
        &[&lane, &route, &why],
    )
    .await
}

pub(super) async fn resolve_incident(
    s: &PostgresStore,
    id: &str,
    resolution: &str,
) -> Result<Option<u64>, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
    let closed = tx
        .execute("UPDATE incidents SET state = 'resolved', resolved_at = now(), resolution = $2 WHERE id = $1 AND state = 'open'", &[&id, &resolution])
        .await
        .map_err(&e)?;
    if closed == 0 {
        tx.commit().await.map_err(&e)?;
        return Ok(None);
    }
    let released = tx
        .execute(
            "UPDATE jobs SET state = 'queued', run_at = now(), next_action = 'run', reason = 'released: incident ' || $1 || ' resolved', updated_at = now()
             WHERE state = 'parked' AND id IN (SELECT job_id FROM incident_jobs WHERE incident_id = $1)",
            &[&id],
        )
        .await
        .map_err(&e)?;
    tx.commit().await.map_err(&e)?;
    Ok(Some(released))
}

pub(super) async fn lane_pending(
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

pub(super) async fn jobs(s: &PostgresStore, f: &JobFilter) -> Result<Vec<Job>, StoreError> {
    let client = s.client().await?;
    let limit = if f.limit == 0 {
        i64::MAX
    } else {
        f.limit as i64
    };
    let state = f.state.map(|st| st.label());
    let sql = format!(
        "SELECT {} FROM jobs WHERE ($1::text IS NULL OR lane = $1) AND ($2::text IS NULL OR state::text = $2) ORDER BY id DESC LIMIT $3",
        job_columns("")
    );
    let rows = s.rows(&client, &sql, &[&f.lane, &state, &limit]).await?;
    jobs_of(&rows)
}

pub(super) async fn job(s: &PostgresStore, id: &str) -> Result<Option<Job>, StoreError> {
    let client = s.client().await?;
    let sql = format!("SELECT {} FROM jobs WHERE id = $1", job_columns(""));
    let rows = s.rows(&client, &sql, &[&id]).await?;
    rows.first().map(job_row).transpose()
}

const INCIDENT_COLUMNS: &str = "id, failure_fingerprint, classifier, state, repair_address, priority, route, lane, host, repair_hint, evidence, affected_jobs, occurrences, al_ts(first_seen) AS first_seen, al_ts(last_seen) AS last_seen, al_ts(resolved_at) AS resolved_at, resolution, al_ts(reset_at) AS reset_at";

/// An incident row, decoded by column name; a label no enum knows is a
/// corrupt row, never a silent default.
fn incident_row(row: &Row) -> Result<Incident, StoreError> {
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

pub(super) async fn incidents(
    s: &PostgresStore,
    open_only: bool,
) -> Result<Vec<Incident>, StoreError> {
    let client = s.client().await?;
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incident_totals WHERE (NOT $1 OR state = 'open')
         ORDER BY state = 'resolved', priority DESC, affected_jobs DESC, last_seen DESC"
    );
    let rows = s.rows(&client, &sql, &[&open_only]).await?;
    rows.iter().map(incident_row).collect()
}

pub(super) async fn incident(
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

pub(super) async fn status(s: &PostgresStore) -> Result<Status, StoreError> {
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
