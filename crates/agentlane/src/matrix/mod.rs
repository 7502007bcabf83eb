//! The canary matrix: make a failure deterministic by varying one dimension
//! at a time around a baseline, through the exact production path.
//!
//! Every cell is a job in a private lane, claimed and run by the worker code
//! (`queue::worker`) through the one dispatcher — no helper that bypasses
//! them — and the matrix reads the rows back from the store. The store is the
//! caller's choice: the CLI gives the dispatcher a scratch store of its own
//! per run, so the cells leave no job, incident or lane in the live store.
//! `plan` (which cells) and `shape` (what the rows mean, per route) are pure.

mod run;
pub mod session;
pub mod setup;
mod shape;

pub use run::run_matrix;
pub use shape::{shape, Comparison, Shape, Verdict};

mod plan;
mod row;

pub use plan::{plan, thin_service_env, Cell, Dimension, PlanInputs, THIN_PATH};
pub use row::Row;

#[cfg(test)]
mod tests;
