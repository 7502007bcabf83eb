//! The worker: claims jobs of one lane and runs them through the dispatcher.
//!
//! ```text
//! pass: maintenance (leader: rescue expired leases as worker_lost, fold, prune)
//!     ─▶ gate (preflight each route, cached: a failing route claims nothing and opens one
//!        incident; passing again — or changed since a park — releases its parked jobs)
//!     ─▶ breakers (a due probe of an open route; a half-open route's one trial job)
//!     ─▶ claim up to the free slots on the healthy routes ─▶ run each: dispatch ─▶ decide ─▶ settle (fenced)
//!     ─▶ drain? stop when the lane has nothing queued, scheduled or running on runnable routes
//!     ─▶ idle until a job ends, new work is announced, or the poll interval passes
//! shutdown (SIGTERM/SIGINT): claim nothing more, let running jobs finish up to the grace,
//! then stop them and release them back to the lane.
//! ```
//! A heartbeat task renews all of this worker's leases in one statement every
//! lease/3 (`heartbeat.rs`). The dispatcher's death guard kills the agents'
//! process groups when the worker dies, so a killed worker takes its agents
//! with it and a rescued job never runs twice at once.
//!
//! Each step is a method of [`Worker`] in its own file; a step returns a
//! `Result`, and the pass loop is the one place that decides what a store
//! outage means (wait and run the pass again) — no hidden control flow.

mod alerting;
mod breaker;
mod budget;
mod claim;
mod gate;
mod heartbeat;
mod held;
mod maintenance;
mod outage;
mod pass;
mod quota;
mod run;
mod settle;
mod shutdown;
mod start;
mod summary;
mod trust;
mod types;

pub use start::run_worker;
pub use summary::WorkerSummary;
pub use types::{Clock, WorkerError, WorkerOptions};
use types::{Shared, Worker};
