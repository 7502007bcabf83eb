//! The heartbeat: every lease/3, renew the leases of the jobs this worker
//! runs, in one statement. A job whose lease was not renewed (expired,
//! rescued) is stopped at once; so is one an operator cancelled (the
//! renewal reads the request), which then settles cancelled. A worker that cannot renew at all (cut off
//! from the store) stops its agents 2/3 of a lease after its last renewal
//! that counted, measured on its own monotonic clock: with the dispatch's
//! kill grace capped at lease/6 they are gone before the lease can expire
//! and another worker rescues the job, so a partition never yields two runs
//! of one job.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::held::Held;
use crate::store::QueueStore;

/// Starts the heartbeat task; `lost` is set when the worker is cut off.
pub(super) fn spawn(
    store: Arc<dyn QueueStore>,
    owner: String,
    held: Held,
    lease: Duration,
    lost: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_renewed = Instant::now();
        let mut next = last_renewed + lease / 3;
        loop {
            // The agents must stop 2/3 of a lease after the last renewal
            // that counted, whatever a renewal in flight is doing: no
            // attempt runs past that deadline.
            let deadline = last_renewed + lease * 2 / 3;
            tokio::time::sleep_until(next).await;
            let sent = Instant::now();
            let budget = (lease / 3).min(deadline.saturating_duration_since(sent));
            // A renewal extends the lease from when the database ran it,
            // which is no earlier than when it was sent: measure from the
            // send, so the agents stop at 2/3 of a lease after the last
            // renewal that counted, never later.
            let ids = held.ids();
            let renewal = if budget.is_zero() {
                None
            } else {
                tokio::time::timeout(budget, store.heartbeat(&owner, &ids, lease))
                    .await
                    .ok()
            };
            let renewed = match renewal {
                Some(Ok(renewed)) => {
                    last_renewed = sent;
                    held.renewed(&ids, &renewed);
                    true
                }
                _ if Instant::now() >= deadline => {
                    // Cut off: the worker stops claiming and exits.
                    lost.store(true, Ordering::SeqCst);
                    held.stop_all(libc::SIGTERM);
                    break;
                }
                _ => false,
            };
            next = next_renewal(sent, Instant::now(), renewed, deadline, lease);
        }
    })
}

/// Starts the task that keeps this worker's heartbeat row (host, kind,
/// lane) fresh for `/metrics`, every `every`. Apart from the lease renewals,
/// so a slow write here never delays them; a failed write is logged and
/// tried again at the next tick.
pub(super) fn spawn_seen(
    store: Arc<dyn QueueStore>,
    beat: crate::model::WorkerBeat,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = store.worker_seen(&beat).await {
                tracing::debug!("the heartbeat row was not written: {e}");
            }
        }
    })
}

/// When the heartbeat tries next. After a renewal that counted (sent at
/// `sent`): a lease/3 later. After a failed one (given up at `now`): again
/// soon, every lease/12, so a store that is back before the deadline (2/3 of
/// a lease after the last renewal that counted: a database restart, a
/// dropped connection) is renewed in time; and at the deadline at the
/// latest, where the worker gives up. Pure.
pub(super) fn next_renewal<T>(sent: T, now: T, renewed: bool, deadline: T, lease: Duration) -> T
where
    T: std::ops::Add<Duration, Output = T> + Ord,
{
    if renewed {
        sent + lease / 3
    } else {
        (now + lease / 12).min(deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_retries_soon_after_a_failure_and_never_past_its_deadline() {
        let s = Duration::from_secs_f64;
        let lease = s(30.0);
        // (sent, now, renewed, deadline) → next try; times as offsets.
        let cases = [
            ((s(10.0), s(10.1), true, s(20.0)), s(20.0)), // a lease/3 after the send
            ((s(10.0), s(10.2), false, s(20.0)), s(12.7)), // a failure: again in lease/12
            ((s(10.0), s(19.0), false, s(20.0)), s(20.0)), // not past the deadline
            ((s(10.0), s(20.0), false, s(20.0)), s(20.0)), // at it: give up there
        ];
        for ((sent, now, renewed, deadline), want) in cases {
            assert_eq!(
                next_renewal(sent, now, renewed, deadline, lease),
                want,
                "sent {sent:?}, now {now:?}, renewed {renewed}, deadline {deadline:?}"
            );
        }
    }
}
