//! Claiming: up to the free slots, on the routes that pass the gate now —
//! one trial job for a route this worker does not trust yet, as many as fit
//! for the others. A finishing attempt claims its slot's next job in its own
//! settlement, on the trusted routes (`NextClaim`).

use super::run::run_chain;
use super::{Worker, WorkerError};
use crate::store::NextClaim;

impl Worker {
    pub(super) async fn claim(&mut self, healthy: &[String]) -> Result<(), WorkerError> {
        // A lane whose daily budget is spent claims nothing (`budget.rs`).
        if self.held_by_budget().await? {
            self.shared.set_next_claim(None);
            return Ok(());
        }
        let lease = self.shared.config.queue.lease;
        self.shared
            .set_next_claim((!healthy.is_empty()).then(|| NextClaim {
                lane: self.options.lane.clone(),
                routes: healthy.to_vec(),
                lease,
            }));
        let mut free = self.concurrency.saturating_sub(self.running.len());
        if free == 0 || healthy.is_empty() {
            return Ok(());
        }
        // An untried route first runs one job alone (see `trust.rs`).
        let plan = self.shared.trust.plan(healthy);
        let mut claimed = Vec::new();
        for route in plan.trials {
            if free == 0 {
                break;
            }
            let started = std::time::Instant::now();
            let trial = self
                .store
                .claim(
                    &self.options.lane,
                    std::slice::from_ref(&route),
                    &self.shared.owner,
                    lease,
                    1,
                )
                .await;
            self.shared
                .count(|m| m.claim_took(&self.options.lane, started.elapsed()));
            let trial = self.answered(trial)?;
            if let Some(job) = trial.first() {
                self.shared.trust.started(&route, &job.id);
                free -= trial.len();
            }
            claimed.extend(trial);
        }
        if free > 0 && !plan.proven.is_empty() {
            let started = std::time::Instant::now();
            let more = self
                .store
                .claim(
                    &self.options.lane,
                    &plan.proven,
                    &self.shared.owner,
                    lease,
                    free,
                )
                .await;
            self.shared
                .count(|m| m.claim_took(&self.options.lane, started.elapsed()));
            claimed.extend(self.answered(more)?);
        }
        self.summary.claimed += claimed.len() as u64;
        for job in claimed {
            tracing::info!(
                job_id = %job.id,
                lane = %job.lane,
                route = %job.route,
                attempt = job.attempts,
                "claimed"
            );
            let interrupt = self.shared.held.hold(&job.id);
            self.running
                .spawn(run_chain(self.shared.clone(), job, interrupt));
        }
        Ok(())
    }
}
