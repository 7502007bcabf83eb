//! Prometheus metrics (issue 18): what a worker process counts itself
//! ([`WorkerMetrics`]: dispatches, their durations, claim latency,
//! decisions), and the store's facts as gauges ([`store_gauges`]), rendered
//! together in the OpenMetrics text format by [`render`].
//!
//! Two sources, never double-counted: a process counts only the work it did
//! (sum them over scrape targets), and the store's gauges are facts of the
//! shared store, the same from every target (aggregate them with `max`).
//! Every label is drawn from a bounded set: lanes, routes, classes, states,
//! decisions, hosts, worker kinds — never a job id or a fingerprint.
//! docs/metrics.md lists every family.

mod exposition;
mod process;
mod store;

pub use exposition::{render, CONTENT_TYPE};
pub use process::{claim_wait, WorkerMetrics};
pub use store::store_gauges;
