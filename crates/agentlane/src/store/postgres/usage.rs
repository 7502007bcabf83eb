//! Usage per attempt on PostgreSQL (issue 17): the columns migration 0011
//! fills from each finished dispatch's report, summed per job, per group
//! over a window, and per lane for today (UTC, the database clock).

use std::time::Duration;

use tokio_postgres::Row;

use super::PostgresStore;
use crate::model::{AttemptUsage, Usage, UsageGroup, UsageTotal};
use crate::store::StoreError;

/// The group's key, as SQL over `dispatches d LEFT JOIN jobs j`.
fn key(by: UsageGroup) -> &'static str {
    match by {
        UsageGroup::Route => "COALESCE(d.route, '-')",
        UsageGroup::Lane => "COALESCE(j.lane, '-')",
        UsageGroup::Kind => "COALESCE(j.kind, '-')",
        UsageGroup::Day => "to_char(d.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    }
}

fn count(row: &Row, i: usize) -> Result<u64, tokio_postgres::Error> {
    Ok(row.try_get::<_, Option<i64>>(i)?.unwrap_or(0).max(0) as u64)
}

pub(super) async fn job_usage(
    s: &PostgresStore,
    job_id: &str,
) -> Result<Vec<AttemptUsage>, StoreError> {
    let client = s.client().await?;
    let rows = s
        .rows(
            &client,
            "SELECT id, attempt, usage_input_tokens, usage_output_tokens, usage_cached_tokens,
                    usage_cost_usd, usage_model, usage_turns
             FROM dispatches WHERE job_id = $1::text AND usage_input_tokens IS NOT NULL
             ORDER BY attempt, id",
            &[&job_id],
        )
        .await?;
    let e = super::connect::err(&s.location);
    rows.iter()
        .map(|r| -> Result<AttemptUsage, tokio_postgres::Error> {
            Ok(AttemptUsage {
                dispatch_id: r.try_get(0)?,
                attempt: r.try_get::<_, Option<i32>>(1)?.map(|a| a.max(0) as u32),
                usage: Usage {
                    input_tokens: count(r, 2)?,
                    output_tokens: count(r, 3)?,
                    cached_tokens: count(r, 4)?,
                    cost_usd: r.try_get(5)?,
                    model: r.try_get(6)?,
                    turns: r.try_get::<_, Option<i64>>(7)?.map(|t| t.max(0) as u64),
                },
            })
        })
        .collect::<Result<_, _>>()
        .map_err(e)
}

pub(super) async fn usage_totals(
    s: &PostgresStore,
    by: UsageGroup,
    since: Option<Duration>,
) -> Result<Vec<UsageTotal>, StoreError> {
    let client = s.client().await?;
    let sql = format!(
        "SELECT {k} AS k, count(*)::bigint, COALESCE(sum(d.usage_input_tokens), 0)::bigint,
                COALESCE(sum(d.usage_output_tokens), 0)::bigint, COALESCE(sum(d.usage_cached_tokens), 0)::bigint,
                sum(d.usage_cost_usd), COALESCE(sum(d.usage_turns), 0)::bigint
         FROM dispatches d LEFT JOIN jobs j ON j.id = d.job_id
         WHERE d.usage_input_tokens IS NOT NULL
           AND ($1::bigint IS NULL OR d.finished_at >= now() - $1::bigint * interval '1 millisecond')
         GROUP BY k ORDER BY k",
        k = key(by)
    );
    let since_ms = since.map(|d| d.as_millis().min(i64::MAX as u128) as i64);
    let rows = s.rows(&client, &sql, &[&since_ms]).await?;
    let e = super::connect::err(&s.location);
    rows.iter()
        .map(|r| -> Result<UsageTotal, tokio_postgres::Error> {
            Ok(UsageTotal {
                key: r.try_get(0)?,
                attempts: count(r, 1)?,
                input_tokens: count(r, 2)?,
                output_tokens: count(r, 3)?,
                cached_tokens: count(r, 4)?,
                cost_usd: r.try_get(5)?,
                turns: count(r, 6)?,
            })
        })
        .collect::<Result<_, _>>()
        .map_err(e)
}

pub(super) async fn job_spent(s: &PostgresStore, job_id: &str) -> Result<Option<f64>, StoreError> {
    let client = s.client().await?;
    let row = s
        .row(
            &client,
            "SELECT sum(usage_cost_usd) FROM dispatches WHERE job_id = $1::text",
            &[&job_id],
        )
        .await?;
    row.try_get(0).map_err(super::connect::err(&s.location))
}

pub(super) async fn lane_spent_today(s: &PostgresStore, lane: &str) -> Result<f64, StoreError> {
    let client = s.client().await?;
    let row = s
        .row(
            &client,
            "SELECT COALESCE(sum(d.usage_cost_usd), 0)::float8 FROM dispatches d JOIN jobs j ON j.id = d.job_id
             WHERE j.lane = $1::text AND d.usage_input_tokens IS NOT NULL
               AND d.finished_at >= date_trunc('day', now(), 'UTC')",
            &[&lane],
        )
        .await?;
    row.try_get(0).map_err(super::connect::err(&s.location))
}
