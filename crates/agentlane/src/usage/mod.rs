//! Cost and usage per attempt (issue 17): what the agent CLI itself reported
//! in its structured output ([`extract`]), and the budgets that stop a job
//! from retrying or a lane from claiming once spent ([`budget`]).
//!
//! **Architecture invariant:** pure. This module reads captured tails and
//! numbers handed to it; it knows nothing of processes, files or the store,
//! and names only the model. The model's own text is never read for numbers:
//! only the CLI's JSON events are.

pub mod budget;
pub mod extract;

pub use budget::{job_budget_spent, lane_hold, within_job_budget, LaneHold};
pub use extract::extract;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
