//! Stopping: claim nothing more; let running jobs finish up to the grace,
//! then stop their agents and let their settlements release them.

use super::{Worker, WorkerError};

impl Worker {
    pub(super) async fn shutdown(&mut self) -> Result<(), WorkerError> {
        self.shared.set_next_claim(None);
        let grace = tokio::time::sleep(self.shared.config.queue.shutdown_grace);
        tokio::pin!(grace);
        while !self.running.is_empty() {
            tokio::select! {
                Some(done) = self.running.join_next() => {
                    self.summary.record(done)?;
                }
                _ = &mut grace => {
                    self.shared.held.stop_all(libc::SIGTERM);
                    while let Some(done) = self.running.join_next().await {
                        self.summary.record(done)?;
                    }
                }
            }
        }
        Ok(())
    }
}
