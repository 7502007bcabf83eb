//! An idle worker's wait on PostgreSQL: what a worker with free slots and
//! an empty lane costs the server.
//!
//! One cheap question, on the kept connection: which of the lane's waiting
//! jobs (on the routes the worker can run) became due since the worker's
//! mark, and when is the next one due. Then:
//! - LISTEN works: ask once; a job due since the mark ends the wait at once;
//!   otherwise sleep until a notification (enqueue), the next job's due time
//!   (a retry's backoff), or the timeout (the fallback pass), whichever comes
//!   first. A released or rescued job is picked up by that fallback pass.
//! - No LISTEN (a transaction pooler, or `[queue] listen = false`): ask
//!   again and again until a job is due since the mark, or the timeout; the
//!   interval backs off from `poll` to [`PROBE_MAX`] (2 s) while nothing is new,
//!   so a long-idle worker asks every 2 s and one that just
//!   worked asks every `poll`.
//!
//! A wait that runs to its timeout asks once more whether any job in the
//! lane is due at all; when none is, the worker's fallback pass is quiet:
//! it leads maintenance and checks quotas, but claims nothing.
//!
//! A job that was due before the mark and still waits (its route is
//! blocked, its lane paused) does not end the next wait: the pass that
//! followed the mark saw it. The mark is taken [`SLACK_SECS`] early, since a job's
//! `run_at` is its enqueue transaction's start, which can be before a mark
//! taken while that transaction was still open: a job still waiting ends
//! waits for `SLACK_SECS` after it became due, then no more.

use std::time::Duration;

use tokio_postgres::types::Type;

use super::PostgresStore;
use crate::store::IdleWait;

/// The longest interval between questions without LISTEN (never under `poll`).
const PROBE_MAX: Duration = Duration::from_secs(2);

/// How far back of the mark a due job still counts as new.
const SLACK_SECS: f64 = 2.0;

/// The question. `$3` is the mark less [`SLACK_SECS`] (epoch seconds, the
/// database's clock).
const DUE: &str = "SELECT extract(epoch FROM now())::float8,
        bool_or(run_at <= now()),
        extract(epoch FROM min(run_at) FILTER (WHERE run_at > now()) - now())::float8
   FROM jobs
  WHERE lane = $1 AND state IN ('queued', 'scheduled') AND route = ANY($2)
    AND run_at > to_timestamp($3)";

/// Whether any job in the lane is due now, on any route: asked when a wait
/// runs to its timeout, so that a quiet lane's fallback pass can skip its
/// gate and claim. Any route, not only the ones that passed the gate: a job
/// waiting for a route to recover (its CLI installed) keeps the passes, and
/// so the preflights that notice it, going.
const ANY_DUE: &str = "SELECT EXISTS (SELECT 1 FROM jobs
  WHERE lane = $1 AND state IN ('queued', 'scheduled') AND run_at <= now())";

async fn nothing_due(s: &PostgresStore, w: &IdleWait<'_>) -> bool {
    let params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 1] = [(&w.lane, Type::TEXT)];
    let rows = match s.kept().query(ANY_DUE, &params).await {
        Some(Ok(rows)) => rows,
        _ => return false,
    };
    rows.first()
        .is_some_and(|r| !r.get::<_, Option<bool>>(0).unwrap_or(true))
}

/// The answer: the database's now (the next mark), whether a job became
/// due since the mark, and in how long the next one is due.
struct Due {
    now: f64,
    fresh: bool,
    next_in: Option<Duration>,
}

async fn ask(s: &PostgresStore, w: &IdleWait<'_>) -> Option<Due> {
    let mark = w.mark.map_or(0.0, |m| m - SLACK_SECS);
    let routes = w.routes.to_vec();
    let params: [(&(dyn tokio_postgres::types::ToSql + Sync), Type); 3] = [
        (&w.lane, Type::TEXT),
        (&routes, Type::TEXT_ARRAY),
        (&mark, Type::FLOAT8),
    ];
    let rows = match s.kept().query(DUE, &params).await {
        Some(rows) => rows.ok()?,
        None => {
            let client = s.client().await.ok()?;
            client.query_typed(DUE, &params).await.ok()?
        }
    };
    let row = rows.first()?;
    let next_in: Option<f64> = row.get(2);
    Some(Due {
        now: row.get(0),
        fresh: row.get::<_, Option<bool>>(1).unwrap_or(false),
        next_in: next_in.map(|s| Duration::from_secs_f64(s.max(0.0))),
    })
}

pub(super) async fn wait_for_jobs(s: &PostgresStore, w: &mut IdleWait<'_>) {
    // After a quiet wait (nothing due at all) there is no recent activity
    // to follow closely: ask at the slowest rate from the start.
    let mut every = if std::mem::take(&mut w.quiet) {
        PROBE_MAX.max(w.poll)
    } else {
        w.poll
    };
    let started = tokio::time::Instant::now();
    let deadline = started + w.timeout;
    let kept = s.kept().clone();
    let notified = kept.lane(w.lane);
    loop {
        let Some(due) = ask(s, w).await else {
            // The store does not answer: the pass after the poll finds out.
            tokio::time::sleep(w.poll.min(w.timeout)).await;
            return;
        };
        w.mark = Some(due.now);
        if due.fresh {
            return;
        }
        let mut until = deadline;
        if let Some(next) = due.next_in {
            until = until.min(tokio::time::Instant::now() + next);
        }
        if w.listen && kept.listening() {
            let woken = tokio::time::timeout_at(until, notified.notified()).await;
            if woken.is_err() && until == deadline {
                w.quiet = nothing_due(s, w).await;
            }
            return;
        }
        let now = tokio::time::Instant::now();
        if now >= until {
            return;
        }
        tokio::time::sleep_until(until.min(now + every)).await;
        if tokio::time::Instant::now() >= until {
            if until == deadline {
                w.quiet = nothing_due(s, w).await;
            }
            return;
        }
        every = (every * 2).min(PROBE_MAX.max(w.poll));
    }
}
