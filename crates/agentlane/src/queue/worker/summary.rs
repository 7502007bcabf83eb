//! What a worker did, counted as its job tasks end: its summary on exit.

use std::collections::BTreeMap;

use super::settle::Ran;
use super::WorkerError;

/// What a worker did, by class: its summary on exit.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WorkerSummary {
    /// This worker's lease-owner id.
    pub owner: String,
    /// Jobs claimed.
    pub claimed: u64,
    /// Attempts by class.
    pub classes: BTreeMap<String, u64>,
    /// Settlements by outcome (done, retry, park, fail, release).
    pub outcomes: BTreeMap<String, u64>,
    /// Late settlements rejected by the fence (the lease was lost).
    pub rejected_settles: u64,
    /// Jobs rescued from expired leases.
    pub rescued: u64,
    /// The worker stopped because it could not renew its leases (cut off from the store).
    pub lost_leases: bool,
    /// Finished jobs this worker pruned as the maintenance leader.
    pub pruned_jobs: u64,
    /// Store outages the worker waited through.
    pub store_outages: u64,
    /// Attempts whose settlement could not be written (the store stayed
    /// unreachable): their leases expire and the maintenance leader rescues them.
    pub unsettled: u64,
    /// Routes whose preflight failed, with the class.
    pub unhealthy_routes: BTreeMap<String, String>,
    /// Routes a hard stop blocked at the last pass, with the incident.
    pub blocked_routes: BTreeMap<String, String>,
    /// The lane's pause at the last pass (who, when, why), if an operator paused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
}

/// What a job task hands back: the attempts it settled (more than one when
/// it claimed the next job as it settled the previous one), and how it ended.
pub(super) type Chain = (Vec<Ran>, Result<(), WorkerError>);

impl WorkerSummary {
    /// Counts a job task's attempts.
    pub(super) fn record(
        &mut self,
        done: Result<Chain, tokio::task::JoinError>,
    ) -> Result<(), WorkerError> {
        let (ran, ended) = match done {
            Ok(chain) => chain,
            Err(e) => return Err(WorkerError::Lane(format!("a job task failed: {e}"))),
        };
        for ran in ran {
            *self.classes.entry(ran.class.label()).or_default() += 1;
            *self
                .outcomes
                .entry(ran.outcome.label().to_string())
                .or_default() += 1;
            if !ran.accepted {
                self.rejected_settles += 1;
            }
        }
        match ended {
            Ok(()) => {}
            Err(e) if e.is_transient() => {
                // The attempt's settlement could not be written: its lease
                // expires and the maintenance leader rescues it as worker_lost.
                self.unsettled += 1;
                tracing::error!(owner = %self.owner, "an attempt could not be settled: {e}; its lease will expire and it will be rescued");
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::Class;
    use crate::model::Step;
    use crate::store::StoreError;

    fn ran(class: Class, outcome: Step, accepted: bool) -> Ran {
        Ran {
            class,
            outcome,
            accepted,
        }
    }

    #[test]
    fn a_chain_is_counted_by_class_and_outcome() {
        let mut s = WorkerSummary::default();
        s.record(Ok((
            vec![
                ran(Class::Ok, Step::Done, true),
                ran(Class::AuthUnavailable, Step::Park, true),
                ran(Class::RateLimited, Step::Retry, false),
            ],
            Ok(()),
        )))
        .unwrap();
        assert_eq!(s.classes["auth_unavailable"], 1);
        assert_eq!(s.outcomes["done"], 1);
        assert_eq!(s.outcomes["retry"], 1);
        assert_eq!(s.rejected_settles, 1, "the fence rejected one settlement");
    }

    #[test]
    fn an_unsettled_attempt_is_counted_and_a_lasting_failure_ends_the_worker() {
        let mut s = WorkerSummary::default();
        let transient = WorkerError::Store(StoreError::Unavailable {
            location: "db".into(),
            message: "connection refused".into(),
        });
        assert!(s.record(Ok((Vec::new(), Err(transient)))).is_ok());
        assert_eq!(s.unsettled, 1);
        let lasting = WorkerError::Lane("broken".into());
        assert!(s.record(Ok((Vec::new(), Err(lasting)))).is_err());
    }
}
