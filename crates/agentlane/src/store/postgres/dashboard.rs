//! What the dashboard (`agentlane serve`) reads that no command did: jobs
//! finished per lane and minute, for the overview's throughput sparkline.

use std::time::Duration;

use super::PostgresStore;
use crate::store::{LaneMinute, StoreError};

pub(super) async fn finished_per_minute(
    s: &PostgresStore,
    since: Duration,
) -> Result<Vec<LaneMinute>, StoreError> {
    let client = s.client().await?;
    let since_ms = since.as_millis().min(i64::MAX as u128) as i64;
    let rows = s
        .rows(
            &client,
            "SELECT lane, to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI') AS m, count(*)::bigint
             FROM jobs
             WHERE finished_at IS NOT NULL AND finished_at >= now() - $1::bigint * interval '1 millisecond'
             GROUP BY lane, m ORDER BY lane, m",
            &[&since_ms],
        )
        .await?;
    let e = super::connect::err(&s.location);
    rows.iter()
        .map(|r| -> Result<LaneMinute, tokio_postgres::Error> {
            Ok(LaneMinute {
                lane: r.try_get(0)?,
                minute: r.try_get(1)?,
                finished: r.try_get::<_, i64>(2)?.max(0) as u64,
            })
        })
        .collect::<Result<_, _>>()
        .map_err(e)
}
