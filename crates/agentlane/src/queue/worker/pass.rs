//! The pass loop: maintenance, gate, claim, drain check, idle — each a
//! step returning a `Result`; this is the one place that decides what a
//! store outage means (wait, backing off, and run the pass again).

use std::sync::atomic::Ordering;

use super::gate;
use super::summary::{Chain, WorkerSummary};
use super::types::{Pass, Worker, WorkerError};
use crate::store::IdleWait;

/// How often a quiet pass (nothing due in the lane) still reads
/// the accounts' quota incidents, to release the jobs a reset frees.
const QUIET_QUOTAS: std::time::Duration = std::time::Duration::from_secs(15);

impl Worker {
    /// Passes until stopped, then the shutdown. A store outage (the database
    /// restarting, a connection cut) does not end the worker: it waits,
    /// backing off, and runs the pass again.
    pub(super) async fn run(mut self) -> Result<WorkerSummary, WorkerError> {
        let result = async {
            loop {
                match self.pass().await {
                    Ok(Pass::Again) => {}
                    Ok(Pass::Stop) => break,
                    Err(e) if e.is_transient() => {
                        self.outage.wait(&e, &mut self.stop).await;
                    }
                    Err(e) => return Err(e),
                }
            }
            self.shutdown().await
        }
        .await;
        self.summary.claimed += self.shared.chained.load(Ordering::Relaxed);
        self.summary.lost_leases = self.lost.load(Ordering::SeqCst);
        self.summary.store_outages = self.outage.count;
        result.map(|()| self.summary)
    }

    /// One pass of the loop.
    async fn pass(&mut self) -> Result<Pass, WorkerError> {
        // A worker cut off from the store has stopped its agents: it stops
        // too, instead of claiming jobs it could not hold.
        if *self.stop.borrow() || self.lost.load(Ordering::SeqCst) {
            self.shared.set_next_claim(None);
            return Ok(Pass::Stop);
        }
        // Collect finished jobs first: a job task whose settlement could
        // not be written (store unreachable) is left to the rescue.
        while let Some(done) = self.running.try_join_next() {
            self.collect(done)?;
        }
        self.maintain().await?;
        // The store said nothing in the lane is due (its idle wait ran out
        // on a quiet lane): lead maintenance, release what an
        // account's quota reset frees (at most every QUIET_QUOTAS), claim
        // nothing, and wait again. A draining worker checks its lane instead.
        if self.quiet && !self.options.drain && self.running.is_empty() {
            if !self.quota.checked_within(QUIET_QUOTAS) {
                self.quotas().await?;
            }
            self.idle().await?;
            return Ok(Pass::Again);
        }
        let blocked = self.quotas().await?;
        let mut healthy = self.gate().await?;
        // An account's quota blocks its routes in every lane: they claim
        // nothing, and a drain reports them as needing repair.
        for route in &self.routes {
            if let Some(incident) = blocked.get(&route.name) {
                self.summary
                    .blocked_routes
                    .insert(route.name.clone(), incident.clone());
            }
        }
        healthy.retain(|r| !blocked.contains_key(r));
        self.breakers().await?;
        self.claim(&healthy).await?;
        if self.drained(&healthy).await? {
            return Ok(Pass::Stop);
        }
        self.idle().await?;
        Ok(Pass::Again)
    }

    /// The store answered: an outage (if any) is over.
    pub(super) fn answered<T, E: Into<WorkerError>>(
        &mut self,
        r: Result<T, E>,
    ) -> Result<T, WorkerError> {
        let v = r.map_err(Into::into)?;
        self.outage.over();
        Ok(v)
    }

    /// Counts an ended job task.
    fn collect(&mut self, done: Result<Chain, tokio::task::JoinError>) -> Result<(), WorkerError> {
        self.summary.record(done)?;
        Ok(())
    }

    /// The gate (see `gate.rs`); every route passes for an ungated worker.
    /// A paused lane claims nothing (its claim says so too): running jobs
    /// finish, and a draining worker ends once they have.
    async fn gate(&mut self) -> Result<Vec<String>, WorkerError> {
        let paused = self.store.lane_paused(&self.options.lane).await;
        if let Some(pause) = self.answered(paused)? {
            if self.summary.paused.is_none() {
                tracing::warn!(
                    lane = %pause.lane,
                    by = %pause.by,
                    why = %pause.why,
                    "lane paused: claiming nothing until it is resumed"
                );
            }
            self.summary.paused = Some(format!(
                "lane '{}' paused by {} at {}{}",
                pause.lane,
                pause.by,
                pause.at,
                if pause.why.is_empty() {
                    String::new()
                } else {
                    format!(": {}", pause.why)
                }
            ));
            return Ok(Vec::new());
        }
        if self.summary.paused.take().is_some() {
            tracing::info!(lane = %self.options.lane, "lane resumed: claiming again");
        }
        if self.options.ungated {
            return Ok(self.routes.iter().map(|r| r.name.clone()).collect());
        }
        let healthy = gate::check_routes(
            &self.shared,
            &self.preflight,
            &self.routes,
            &mut self.gate,
            &mut self.summary,
        )
        .await;
        self.answered(healthy)
    }

    /// With `drain`: whether the lane has nothing left this worker could run.
    async fn drained(&mut self, healthy: &[String]) -> Result<bool, WorkerError> {
        if !self.options.drain || !self.running.is_empty() {
            return Ok(false);
        }
        // A lane its daily budget holds has nothing to run today (`budget.rs`).
        if self.budget_held {
            return Ok(true);
        }
        let pending = self.store.lane_pending(&self.options.lane, healthy).await;
        let pending = self.answered(pending)?;
        Ok(pending.waiting == 0 && pending.running == 0)
    }

    /// Waits for a job to end, new work, the poll interval, or a stop.
    /// With every slot busy only a job's end (or a stop) can give the next
    /// pass anything to do; with a free slot the store waits for work
    /// (`QueueStore::wait_for_jobs`): up to `[queue] idle_poll`, jittered,
    /// when nothing was claimed, so an idle fleet's passes do not line up.
    async fn idle(&mut self) -> Result<(), WorkerError> {
        let config = self.shared.config.clone();
        let healthy = self.shared.claimable_routes();
        let full = self.running.len() >= self.concurrency;
        // Never past the next maintenance (every lease/2): a follower must
        // try the leadership in time to take it over within a lease and a
        // half of the leader's end, however idle its lane.
        let maintenance_due = (config.queue.lease / 2)
            .saturating_sub(self.last_maintenance.elapsed())
            .max(config.queue.poll);
        let timeout = fallback(
            config.queue.poll,
            config.queue.idle_poll,
            super::settle::jitter_sample(),
        )
        .min(maintenance_due);
        let (store, lane) = (self.store.clone(), self.options.lane.clone());
        // What the store's wait leaves: its mark and whether the lane is quiet.
        // (A wait cut short by a job's end or a stop leaves quiet false.)
        let was_quiet = std::mem::take(&mut self.quiet);
        let mut outcome = (self.idle_mark.take(), false);
        let wait_for_work = async {
            if full {
                std::future::pending::<()>().await;
            }
            let mut wait = IdleWait {
                lane: &lane,
                routes: &healthy,
                poll: config.queue.poll,
                timeout,
                listen: config.queue.listen,
                mark: outcome.0,
                quiet: was_quiet,
            };
            store.wait_for_jobs(&mut wait).await;
            outcome = (wait.mark, wait.quiet);
        };
        tokio::select! {
            Some(done) = self.running.join_next(), if !self.running.is_empty() => {
                self.collect(done)?;
            }
            _ = wait_for_work => {}
            Ok(()) = self.stop.changed() => {}
        }
        (self.idle_mark, self.quiet) = outcome;
        Ok(())
    }
}

/// The longest idle wait: `[queue] idle_poll` scaled by a factor in
/// [0.75, 1.25) drawn from `sample` (uniform in [0, 1)), and never under
/// `poll`. Pure.
pub(super) fn fallback(
    poll: std::time::Duration,
    idle_poll: std::time::Duration,
    sample: f64,
) -> std::time::Duration {
    idle_poll
        .mul_f64(0.75 + sample.clamp(0.0, 1.0) / 2.0)
        .max(poll)
}

#[cfg(test)]
mod tests {
    use super::fallback;
    use std::time::Duration;

    #[test]
    fn the_idle_fallback_is_jittered_around_idle_poll_and_never_under_poll() {
        let ms = Duration::from_millis;
        // (poll, idle_poll, sample) → the wait.
        let cases = [
            ((ms(250), ms(5000), 0.0), ms(3750)),
            ((ms(250), ms(5000), 0.5), ms(5000)),
            ((ms(250), ms(5000), 0.999), Duration::from_micros(6_247_500)),
            ((ms(250), ms(100), 0.0), ms(250)), // idle_poll under poll: poll
            ((ms(20), ms(20), 0.5), ms(20)),
        ];
        for ((poll, idle_poll, sample), want) in cases {
            let got = fallback(poll, idle_poll, sample);
            assert!(
                got.abs_diff(want) < ms(1),
                "poll {poll:?}, idle_poll {idle_poll:?}, sample {sample}: {got:?}, want {want:?}"
            );
        }
    }
}
