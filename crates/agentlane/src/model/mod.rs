//! The model: the data every layer speaks — what a dispatch reports, what a
//! job is and how an attempt settles it, incidents. It sits on the ground
//! floor: it names classes and events and nothing above them, so the store
//! (an I/O edge) can be written in its words without knowing the queue or the
//! dispatcher, and data flows one way.

pub mod alert;
pub mod breaker;
pub mod control;
pub mod event;
pub mod incident;
pub mod job;
pub mod metrics;
pub mod next;
pub mod owner;
pub mod report;
pub mod settle;
pub mod termination;
pub mod usage;

pub use alert::{AlertDelivery, AlertKind};
pub use breaker::{BreakerState, RouteAttempt, RouteBreaker};
pub use control::{
    Actor, Cancelled, ControlAction, LanePause, OperatorAction, Renewed, Resolved, Retried,
    RetryFilter,
};
pub use incident::{
    Account, Incident, IncidentFacts, IncidentState, QuotaIncident, RepairAddress, RouteBlock,
};
pub use job::{
    Enqueued, Job, JobFilter, JobState, JobStatus, LanePending, Lease, NewJob, Status,
    StatusMismatch,
};
pub use metrics::{
    IncidentCount, LaneStateCount, MetricsSnapshot, ParkedCount, PreflightLatest, WorkerBeat,
    WorkerSeen,
};
pub use next::{Decision, Next, SettleRow, Step};
pub use report::DispatchReport;
pub use settle::Completion;
pub use termination::Termination;
pub use usage::{AttemptUsage, Usage, UsageGroup, UsageTotal};
