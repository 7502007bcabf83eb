//! The settlement of one attempt: what happens next, fenced by (job,
//! attempt, owner), with the incident it opens or joins.

use crate::class::Class;

use super::incident::IncidentFacts;
use super::next::Next;

/// The settlement of one attempt, fenced by (job, attempt, owner).
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The job.
    pub job_id: String,
    /// The attempt that ran (the fencing token).
    pub attempt: u32,
    /// The worker that holds the lease.
    pub owner: String,
    /// The attempt's dispatch.
    pub dispatch_id: Option<String>,
    /// The class.
    pub class: Class,
    /// What happens to the job.
    pub next: Next,
    /// Why, in words.
    pub reason: String,
    /// The incident to open or attach to (failures).
    pub incident: Option<IncidentFacts>,
}

impl Completion {
    /// The `job_decided` (or `job_decision_rejected`) event this settlement records.
    pub fn decided(&self) -> crate::events::JobDecided {
        let row = self.next.row();
        crate::events::JobDecided {
            job_id: self.job_id.clone(),
            attempt: self.attempt,
            owner: self.owner.clone(),
            dispatch_id: self.dispatch_id.clone(),
            classifier: self.class,
            action: self.next.row().action,
            delay_secs: row.delay.map(|d| d.as_secs_f64()),
            reason: self.reason.clone(),
        }
    }
}
