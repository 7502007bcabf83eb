//! `agentlane serve`: the queue's face for a team's screen and the numbers
//! their monitoring already reads.
//!
//! One axum application over the same store the workers use (SQLite or
//! PostgreSQL): the JSON API under `/api/v1` (described by
//! `/api/v1/openapi.json`), the live dashboard, Server-Sent Events, and
//! Prometheus `/metrics`. Every write goes through the library call the
//! command line uses: this crate renders and authorises, it decides nothing.
//!
//! Security: loopback by default; any other address needs a token
//! ([`auth::Token`]), compared in constant time on every request but
//! `/healthz` (and `/metrics` when opened). Everything served comes from the
//! already-redacted store.
#![deny(missing_docs)]

pub mod api;
pub mod auth;
pub mod dashboard;
pub mod metrics;
pub mod problem;
pub mod server;
mod state;

#[cfg(test)]
mod adversarial;

pub use server::{router, serve, ServeOptions};
pub use state::{AppState, Inner};
