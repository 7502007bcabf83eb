//! What the dashboard (`agentlane serve`) reads that no command did: jobs
//! finished per lane and minute, for the overview's throughput sparkline.

use rusqlite::Connection;
use std::time::Duration;

use crate::store::LaneMinute;

pub(super) fn finished_per_minute(
    conn: &mut Connection,
    since: Duration,
) -> rusqlite::Result<Vec<LaneMinute>> {
    // finished_at is RFC 3339 UTC text: its first 16 characters are the minute.
    let mut stmt = conn.prepare_cached(
        "SELECT lane, substr(finished_at, 1, 16) AS m, count(*) FROM jobs
         WHERE finished_at IS NOT NULL
           AND finished_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ?1 || ' seconds')
         GROUP BY lane, m ORDER BY lane, m",
    )?;
    let rows = stmt.query_map([since.as_secs_f64()], |r| {
        Ok(LaneMinute {
            lane: r.get(0)?,
            minute: r.get(1)?,
            finished: r.get::<_, i64>(2)?.max(0) as u64,
        })
    })?;
    rows.collect()
}
