//! Settling an attempt, fenced by (job, attempt, owner): with its outcome
//! and, for a freed slot, the next claim, in one statement.

use std::time::Duration;

use tokio_postgres::Row;

use crate::events::Event;
use crate::model::DispatchReport;
use crate::store::postgres::{err, PostgresStore};

use super::*;
use crate::model::{Completion, Job, Next};
use crate::store::rules::{self, CLAIM_ORDER, RESOLVED_BY_SUCCESS};
use crate::store::StoreError;

/// The settlement's CTEs, shared by [`settle_sql`] and
/// [`finish_settle_and_claim_sql`] (parameters $1–$14): the fenced update of
/// the job (`j`), the resolution of its incident when a released job
/// succeeded (`resolved`, by [`rules::success_resolves`]), and whether the
/// fence matched (`f`). The fence is the job, its attempt and its lease
/// owner; it does not name the state, which the owner implies (see
/// [`RENEW`]), so the update can only find the job by its primary key. The
/// job settled here is still running in the statement's snapshot, which the
/// rule's `p.id <> $1` makes irrelevant.
fn settle_ctes() -> String {
    format!(
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
            UPDATE incidents SET state = 'resolved', resolved_at = now(), resolution = '{RESOLVED_BY_SUCCESS}'
            WHERE $14 AND id = (SELECT incident_id FROM j) AND {resolves}
            RETURNING 1),
        f AS (SELECT EXISTS (SELECT 1 FROM j) AS ok)",
        resolves = rules::success_resolves("$1"),
    )
}

/// The fenced settlement and its decision event, in one statement: the
/// event says `job_decided` when the fence matched and
/// `job_decision_rejected` when it did not ($15 and $16 are their bodies).
/// A success also resolves the job's incident once none of its jobs is
/// parked any more.
pub(crate) fn settle_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "WITH {ctes}
            INSERT INTO events (job_id, kind, body)
            SELECT $1, CASE WHEN f.ok THEN 'job_decided' ELSE 'job_decision_rejected' END,
                   CASE WHEN f.ok THEN $15::jsonb ELSE $16::jsonb END
            FROM f
            RETURNING kind",
            ctes = settle_ctes()
        )
    })
}

/// A job dispatch's outcome, its settlement and one claim for the slot it
/// frees, in one statement (one commit). The dispatch is finished once (`d`,
/// $17–$24) and its events ($25, $26) are written only then, whatever the
/// fence says; the decision event follows them. The claim happens only when
/// the settlement was accepted (`f.ok`), for the same owner ($3), in lane
/// $27 on routes $28 (none: no claim), leased for $29 ms, for a worker on host $30. The job settled here is
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
                WHERE (SELECT ok FROM f) AND {claimable}
                ORDER BY {CLAIM_ORDER} LIMIT 1
                FOR UPDATE SKIP LOCKED),
            claimed AS (
                UPDATE jobs c SET {claim}
                FROM picked WHERE c.id = picked.id
                RETURNING c.*)
            SELECT {columns}, (SELECT ok FROM f)
            FROM (SELECT 1) AS one LEFT JOIN claimed ON true",
            settle = settle_ctes(),
            claimable = rules::claimable("$27", "now()", "= ANY($28)", "$30"),
            claim = rules::claim_set("$3", "now() + $29 * interval '1 millisecond'", "now()"),
            columns = job_columns("claimed.")
        )
    })
}

/// The parameters of [`settle_sql`] ($1–$16), owned.
pub(super) struct SettleParams {
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
        let row = c.next.row();
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
            done: matches!(c.next, Next::Done),
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
pub(super) fn accepted(rows: &[Row]) -> bool {
    rows.iter().any(|r| r.get::<_, &str>(0) == "job_decided")
}

pub(in crate::store::postgres) async fn settle(
    s: &PostgresStore,
    c: &Completion,
) -> Result<bool, StoreError> {
    let p = SettleParams::of(c);
    settle_with(s, settle_sql(), &p.params(), c).await
}

/// The outcome and the settlement, claiming nothing.
pub(in crate::store::postgres) async fn finish_and_settle(
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

pub(in crate::store::postgres) async fn finish_settle_and_claim(
    s: &PostgresStore,
    r: &DispatchReport,
    events: &[Event],
    c: &Completion,
    next: &crate::store::NextClaim,
) -> Result<(bool, Option<Job>), StoreError> {
    let p = SettleParams::of(c);
    let f = crate::store::postgres::FinishParams::of(r, events);
    let lease = millis(next.lease);
    let host = crate::model::owner::host_of(&c.owner);
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = p.params().to_vec();
    params.extend(f.params());
    params.extend([
        &next.lane as &(dyn tokio_postgres::types::ToSql + Sync),
        &next.routes,
        &lease,
        &host,
    ]);
    let mut client = s.client().await?;
    let e = err(&s.location);
    let sql = finish_settle_and_claim_sql();
    let read = |row: &Row| -> Result<(bool, Option<Job>), StoreError> {
        let accepted: bool = row.get(JOB_COLUMN_COUNT);
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
pub(super) async fn settle_with(
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
