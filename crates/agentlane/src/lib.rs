//! agentlane: the dispatch layer for coding-agent CLIs.
//!
//! Every way of running an agent (`exec`, later the queue worker, `doctor` and
//! the canary matrix) goes through one [`dispatch::Dispatcher`]. A dispatch is a
//! pipeline of typed stages — prepare → launch → supervise → classify → record —
//! and the deciding parts ([`classify`], [`redact`], [`envprint`],
//! [`fingerprint`]) are pure functions tested without processes or databases.
//! I/O stays at the edges: [`dispatch`] (processes and pipes), [`store`]
//! (SQLite behind a trait) and [`home`] (the state directory).
#![deny(missing_docs)]
// No unwrap or expect on a path a user or a job can reach: errors are values.
// (Tests may unwrap: clippy.toml allows it there.)
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod account;
pub mod alerts;
pub mod breaker;
pub mod class;
pub mod classify;
pub mod config;
pub mod dispatch;
pub mod envdiff;
pub mod envprint;
pub mod exit_status;
pub mod fingerprint;
#[doc(hidden)]
pub mod fuzzing;
pub mod home;
pub mod input;
mod lossy_path;
pub mod matrix;
pub mod model;
pub mod os;
pub mod plan;
/// The events every dispatch and job records (the model's; kept at this path
/// for the callers that name it).
pub use model::event as events;
pub mod policy;
pub mod preflight;
pub mod queue;
pub mod redact;
pub mod resolve;
pub mod retry;
pub mod rules_loop;
pub mod runbook;
pub mod service;
pub mod size;
pub mod store;
pub mod trace;
pub mod usage;

pub use class::Class;
