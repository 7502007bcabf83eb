//! `agentlane jobs`, `job`, `incidents`, `incident`, `status`: the queue explains itself.
//! One file per view; the shared decoding of a job's blocks lives with the jobs.

mod incidents;
mod jobs;
mod status;
#[cfg(test)]
mod tests;

pub use incidents::{incident, incidents, IncidentArgs, IncidentsArgs};
pub use jobs::{job, jobs, JobArgs, JobsArgs};
pub use status::{status, StatusArgs};
