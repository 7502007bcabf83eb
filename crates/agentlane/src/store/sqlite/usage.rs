//! Usage per attempt on SQLite (issue 17): the columns migration 0011 fills
//! from each finished dispatch's report, summed per job, per group over a
//! window, and per lane for today (UTC, the database clock).

use rusqlite::{Connection, OptionalExtension};
use std::time::Duration;

use crate::model::{AttemptUsage, Usage, UsageGroup, UsageTotal};

/// The group's key, as SQL over `dispatches d LEFT JOIN jobs j`.
fn key(by: UsageGroup) -> &'static str {
    match by {
        UsageGroup::Route => "COALESCE(d.route, '-')",
        UsageGroup::Lane => "COALESCE(j.lane, '-')",
        UsageGroup::Kind => "COALESCE(j.kind, '-')",
        UsageGroup::Day => "substr(d.finished_at, 1, 10)",
    }
}

pub(super) fn job_usage(
    conn: &mut Connection,
    job_id: &str,
) -> rusqlite::Result<Vec<AttemptUsage>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, attempt, usage_input_tokens, usage_output_tokens, usage_cached_tokens,
                usage_cost_usd, usage_model, usage_turns
         FROM dispatches WHERE job_id = ?1 AND usage_input_tokens IS NOT NULL ORDER BY attempt, id",
    )?;
    let rows = stmt.query_map([job_id], |r| {
        Ok(AttemptUsage {
            dispatch_id: r.get(0)?,
            attempt: r.get::<_, Option<i64>>(1)?.map(|a| a as u32),
            usage: Usage {
                input_tokens: r.get::<_, i64>(2)?.max(0) as u64,
                output_tokens: r.get::<_, Option<i64>>(3)?.unwrap_or(0).max(0) as u64,
                cached_tokens: r.get::<_, Option<i64>>(4)?.unwrap_or(0).max(0) as u64,
                cost_usd: r.get(5)?,
                model: r.get(6)?,
                turns: r.get::<_, Option<i64>>(7)?.map(|t| t.max(0) as u64),
            },
        })
    })?;
    rows.collect()
}

pub(super) fn usage_totals(
    conn: &mut Connection,
    by: UsageGroup,
    since: Option<Duration>,
) -> rusqlite::Result<Vec<UsageTotal>> {
    let sql = format!(
        "SELECT {k} AS k, count(*), TOTAL(d.usage_input_tokens), TOTAL(d.usage_output_tokens),
                TOTAL(d.usage_cached_tokens), sum(d.usage_cost_usd), TOTAL(d.usage_turns)
         FROM dispatches d LEFT JOIN jobs j ON j.id = d.job_id
         WHERE d.usage_input_tokens IS NOT NULL
           AND (?1 IS NULL OR d.finished_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ?1 || ' seconds'))
         GROUP BY k ORDER BY k",
        k = key(by)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([since.map(|s| s.as_secs_f64())], |r| {
        Ok(UsageTotal {
            key: r.get(0)?,
            attempts: r.get::<_, i64>(1)?.max(0) as u64,
            input_tokens: r.get::<_, f64>(2)? as u64,
            output_tokens: r.get::<_, f64>(3)? as u64,
            cached_tokens: r.get::<_, f64>(4)? as u64,
            cost_usd: r.get(5)?,
            turns: r.get::<_, f64>(6)? as u64,
        })
    })?;
    rows.collect()
}

pub(super) fn job_spent(conn: &mut Connection, job_id: &str) -> rusqlite::Result<Option<f64>> {
    conn.prepare_cached("SELECT sum(usage_cost_usd) FROM dispatches WHERE job_id = ?1")?
        .query_row([job_id], |r| r.get(0))
        .optional()
        .map(Option::flatten)
}

pub(super) fn lane_spent_today(conn: &mut Connection, lane: &str) -> rusqlite::Result<f64> {
    conn.prepare_cached(
        "SELECT TOTAL(d.usage_cost_usd) FROM dispatches d JOIN jobs j ON j.id = d.job_id
         WHERE j.lane = ?1 AND d.usage_input_tokens IS NOT NULL
           AND d.finished_at >= strftime('%Y-%m-%dT00:00:00.000Z', 'now')",
    )?
    .query_row([lane], |r| r.get(0))
}
