//! The store for many machines: PostgreSQL, an existing, trusted engine.
//!
//! The same rows and the same contract as the SQLite store (the conformance
//! suite runs against both). Every time is the database clock's; a claim is
//! one statement with `FOR UPDATE SKIP LOCKED`; every write after a claim is
//! fenced by (job id, attempt, lease owner). Migrations run in a transaction
//! under an advisory lock, so several workers starting at once on an empty
//! database are safe.

mod connect;
mod controls;
mod dashboard;
mod impls;
mod kept;
mod maintain;
mod metrics;
mod queue;
mod records;
pub mod tls;
mod usage;
mod wait;

use super::{
    DispatchLog, DispatchRecord, DispatchSummary, QueueStore, Reader, Store, StoreError,
    StoredEvent,
};

pub(super) use connect::err;
pub use connect::{
    parse_budget, redacted_url, take_param, transient_sqlstate, with_budget, PostgresStore,
    DEFAULT_MAX_CONNECTIONS,
};
pub use kept::jittered;
use records::FinishParams;

/// The queue's statements, for the plan tests.
#[cfg(test)]
pub(crate) mod queue_sql {
    pub(crate) use super::queue::{finish_settle_and_claim_sql, settle_sql, RENEW};
}
