//! The jobs this worker holds a lease on, each with the trigger that stops
//! its agent: the heartbeat renews exactly these, stops the ones whose
//! lease it could not renew, and stops (remembering why) the ones an
//! operator cancelled.

use std::collections::HashMap;
use std::sync::Arc;

use crate::dispatch::Interrupt;
use crate::model::Renewed;

/// A held job: its stop trigger, and the reason of its cancel once an
/// operator asked for one.
struct Entry {
    trigger: tokio::sync::watch::Sender<Option<i32>>,
    cancel: Option<String>,
}

type Triggers = HashMap<String, Entry>;

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
        let (trigger, interrupt) = Interrupt::channel();
        self.lock().insert(
            job.to_string(),
            Entry {
                trigger,
                cancel: None,
            },
        );
        interrupt
    }

    /// Lets `job` go (its attempt settled).
    pub(super) fn release(&self, job: &str) {
        self.lock().remove(job);
    }

    /// Why an operator cancelled `job`, if they did: its attempt settles
    /// it cancelled.
    pub(super) fn cancelled(&self, job: &str) -> Option<String> {
        self.lock().get(job).and_then(|e| e.cancel.clone())
    }

    /// The ids held now.
    pub(super) fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Stops every held job's agent with `signal`.
    pub(super) fn stop_all(&self, signal: i32) {
        for e in self.lock().values() {
            let _ = e.trigger.send(Some(signal));
        }
    }

    /// After a renewal: stops the jobs asked for but not renewed (their
    /// lease is gone), and the renewed ones an operator cancelled (the
    /// first time it is seen), remembering why.
    pub(super) fn renewed(&self, asked: &[String], renewed: &[Renewed]) {
        let mut held = self.lock();
        for id in asked
            .iter()
            .filter(|id| !renewed.iter().any(|r| &r.id == *id))
        {
            if let Some(e) = held.get(id) {
                tracing::warn!(job_id = %id, "lease lost: stopping its agent (another worker may rescue the job)");
                let _ = e.trigger.send(Some(libc::SIGTERM));
            }
        }
        for r in renewed {
            let (Some(reason), Some(e)) = (&r.cancel, held.get_mut(&r.id)) else {
                continue;
            };
            if e.cancel.is_none() {
                tracing::info!(job_id = %r.id, reason = %reason, "cancel asked: stopping its agent");
                e.cancel = Some(reason.clone());
                let _ = e.trigger.send(Some(libc::SIGTERM));
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

    fn renewed(id: &str, cancel: Option<&str>) -> Renewed {
        Renewed {
            id: id.into(),
            cancel: cancel.map(str::to_string),
        }
    }

    #[tokio::test]
    async fn a_cancelled_job_is_stopped_once_with_its_reason_and_the_others_run_on() {
        let held = Held::default();
        let mut a = held.hold("a");
        let mut b = held.hold("b");
        let asked = held.ids();
        held.renewed(
            &asked,
            &[renewed("a", None), renewed("b", Some("cancelled by ana"))],
        );
        assert_eq!(fired(&mut b).await, Some(libc::SIGTERM), "b was cancelled");
        assert_eq!(fired(&mut a).await, None, "a runs on");
        assert_eq!(held.cancelled("b").as_deref(), Some("cancelled by ana"));
        assert_eq!(held.cancelled("a"), None);
        held.release("b");
        assert_eq!(held.cancelled("b"), None, "a released job is forgotten");
    }

    #[tokio::test]
    async fn only_the_jobs_whose_lease_was_not_renewed_are_stopped() {
        let held = Held::default();
        let mut a = held.hold("a");
        let mut b = held.hold("b");
        let asked = held.ids();
        held.renewed(&asked, &[renewed("a", None)]);
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
