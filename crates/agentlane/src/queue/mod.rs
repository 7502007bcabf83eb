//! The durable queue: the worker and the pure parts of the queue's
//! decisions (admission, JSONL intake). The queue's data — jobs, their
//! states, settlements and incidents — is [`crate::model`]'s. The worker
//! (`worker.rs`) claims jobs through the store, runs them through the one
//! dispatcher, and settles each attempt with the retry table's decision —
//! fenced by (job, attempt, owner), so a worker that lost its lease changes
//! nothing.

pub mod admit;
pub mod jsonl;
pub mod submit;
pub mod worker;

// The model's types under the names the queue's callers have always used.
pub use crate::model::incident::{
    incident_priority, repair_address, Incident, IncidentFacts, RepairAddress,
};
pub use crate::model::job::{
    stored_time, Enqueued, Job, JobFilter, JobState, JobStatus, LanePending, Lease, NewJob, Status,
};
pub use crate::model::next::{Decision, Next, SettleRow, Step};
pub use crate::model::settle::Completion;
