//! Alerts: a person hears about a failure that needs one — an incident
//! opened, a route's breaker, an account's quota, a mass failure — on a
//! webhook (agentlane's JSON body, or Slack's), with the class, the repair
//! hint, how many are affected and the command that shows more.
//!
//! ```text
//! worker ─try_send─▶ bounded channel ─▶ sender task ─▶ per webhook: kind wanted? ─▶ debounce
//!  (never waits;       (full: dropped      (deliver.rs)     ─▶ render (redacted) ─▶ POST, retried on
//!   counted)            and counted)                           5xx/429/connection errors with backoff
//!                                                           ─▶ alert_delivered / alert_failed event
//! ```
//! The deciding parts are pure: [`Alert`] and its renderers (`render.rs`),
//! the [`Debouncer`] and the [`MassFailure`] detector (each over instants
//! given to it), and the retry policy (`policy.rs`). Only `deliver.rs` does
//! I/O. A failing webhook never blocks the queue: the worker's side is a
//! `try_send`, and the task's own waits are bounded by the request timeout
//! and the attempt cap.

mod alert;
mod debounce;
mod deliver;
mod mass;
mod policy;
mod render;

pub use alert::Alert;
pub use debounce::{Admit, Debouncer};
pub use deliver::{spawn, tls_config, Alerts, AlertsTask, Now};
pub use mass::{MassFailure, MassFailureSeen};
pub use policy::{backoff, verdict, Verdict};
pub use render::{json_body, slack_body, BODY_VERSION};

#[cfg(test)]
mod tests;
