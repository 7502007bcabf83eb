//! Maintenance, at most twice a lease and by one leader among the workers:
//! rescue expired leases (their jobs are settled as `worker_lost`), fold the
//! batched incident counts, prune past the retention. It is a write
//! transaction the claim path should not pay for on every pass; rescue is
//! fenced and idempotent, so two leaders by mistake would do no harm.

use super::settle::settle_lost;
use super::{Worker, WorkerError};

/// The most rows of each kind one maintenance pass folds or prunes, so a
/// pass stays a short transaction; the next pass (lease/2 later) goes on.
const MAINTENANCE_BATCH: usize = 5000;

impl Worker {
    pub(super) async fn maintain(&mut self) -> Result<(), WorkerError> {
        let config = self.shared.config.clone();
        let lease = config.queue.lease;
        if self.last_maintenance.elapsed() < lease / 2 {
            return Ok(());
        }
        self.last_maintenance = std::time::Instant::now();
        let owner = self.shared.owner.clone();
        let leader = self.store.try_lead("maintenance", &owner, lease).await;
        if !self.answered(leader)? {
            return Ok(());
        }
        let rescued = self.store.rescue_expired(&owner, lease).await;
        for job in self.answered(rescued)? {
            self.summary.rescued += 1;
            let shared = self.shared.clone();
            let interrupt = shared.held.hold(&job.id);
            self.running.spawn(async move {
                let id = job.id.clone();
                let ran = settle_lost(&shared, job).await;
                drop(interrupt);
                shared.held.release(&id);
                match ran {
                    Ok((ran, _)) => (vec![ran], Ok(())),
                    Err(e) => (Vec::new(), Err(e)),
                }
            });
        }
        let done = self
            .store
            .maintain(config.queue.retention, MAINTENANCE_BATCH)
            .await;
        self.summary.pruned_jobs += self.answered(done)?.jobs;
        Ok(())
    }
}
