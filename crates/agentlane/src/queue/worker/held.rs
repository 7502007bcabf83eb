//! The jobs this worker holds a lease on, each with the trigger that stops
//! its agent: the heartbeat renews exactly these, and stops the ones whose
//! lease it could not renew.

use std::collections::HashMap;
use std::sync::Arc;

use crate::dispatch::Interrupt;

type Triggers = HashMap<String, tokio::sync::watch::Sender<Option<i32>>>;

/// Held jobs and their stop triggers (shared by the loop, the job tasks and
/// the heartbeat).
#[derive(Clone, Default)]
pub(super) struct Held(Arc<std::sync::Mutex<Triggers>>);

impl Held {
    fn lock(&self) -> std::sync::MutexGuard<'_, Triggers> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds `job`; the returned interrupt stops its agent.
    pub(super) fn hold(&self, job: &str) -> Interrupt {
        let (tx, interrupt) = Interrupt::channel();
        self.lock().insert(job.to_string(), tx);
        interrupt
    }

    /// Lets `job` go (its attempt settled).
    pub(super) fn release(&self, job: &str) {
        self.lock().remove(job);
    }

    /// The ids held now.
    pub(super) fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Stops every held job's agent with `signal`.
    pub(super) fn stop_all(&self, signal: i32) {
        for tx in self.lock().values() {
            let _ = tx.send(Some(signal));
        }
    }

    /// Stops the jobs asked for but not renewed: their lease is gone.
    pub(super) fn stop_unrenewed(&self, asked: &[String], renewed: &[String]) {
        let held = self.lock();
        for id in asked.iter().filter(|id| !renewed.contains(id)) {
            if let Some(tx) = held.get(id) {
                let _ = tx.send(Some(libc::SIGTERM));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fired(i: &mut Interrupt) -> Option<i32> {
        tokio::time::timeout(std::time::Duration::from_millis(20), i.fired())
            .await
            .ok()
    }

    #[tokio::test]
    async fn only_the_jobs_whose_lease_was_not_renewed_are_stopped() {
        let held = Held::default();
        let mut a = held.hold("a");
        let mut b = held.hold("b");
        let asked = held.ids();
        held.stop_unrenewed(&asked, &["a".to_string()]);
        assert_eq!(
            fired(&mut b).await,
            Some(libc::SIGTERM),
            "b was not renewed"
        );
        assert_eq!(fired(&mut a).await, None, "a was renewed");
        held.release("b");
        assert_eq!(held.ids(), vec!["a".to_string()]);
        held.stop_all(libc::SIGINT);
        assert_eq!(fired(&mut a).await, Some(libc::SIGINT));
    }
}
