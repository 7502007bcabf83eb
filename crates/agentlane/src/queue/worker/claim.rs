//! Claiming: up to the free slots, on the routes that pass the gate now. A
//! finishing attempt claims its slot's next job in its own settlement, on
//! those routes too (`NextClaim`).

use super::run::run_chain;
use super::{Worker, WorkerError};
use crate::store::NextClaim;

impl Worker {
    pub(super) async fn claim(&mut self, healthy: &[String]) -> Result<(), WorkerError> {
        let lease = self.shared.config.queue.lease;
        self.shared
            .set_next_claim((!healthy.is_empty()).then(|| NextClaim {
                lane: self.options.lane.clone(),
                routes: healthy.to_vec(),
                lease,
            }));
        let free = self.concurrency.saturating_sub(self.running.len());
        if free == 0 || healthy.is_empty() {
            return Ok(());
        }
        let claimed = self
            .store
            .claim(&self.options.lane, healthy, &self.shared.owner, lease, free)
            .await;
        let claimed = self.answered(claimed)?;
        self.summary.claimed += claimed.len() as u64;
        for job in claimed {
            let interrupt = self.shared.held.hold(&job.id);
            self.running
                .spawn(run_chain(self.shared.clone(), job, interrupt));
        }
        Ok(())
    }
}
