//! The store: where dispatches and their events live durably.
//!
//! Narrow traits by consumer ([`DispatchLog`], [`QueueStore`], [`Reader`]),
//! so the embedded SQLite default ([`sqlite::SqliteStore`]) and the
//! PostgreSQL backend for many machines implement one contract, tested by one
//! conformance suite; the queue's domain rules are written once (`rules`).
//! Times are taken from the database clock, never from a caller's wall
//! clock.

#[cfg(test)]
pub(crate) mod conformance;
pub mod postgres;
pub(crate) mod rules;
pub mod sqlite;

mod error;
mod records;
mod traits;

pub use error::{with_patience, StoreError};
pub(crate) use records::stored_report;
pub use records::{
    id_fragment, id_match, DispatchRecord, DispatchSummary, FeedEvent, IdKind, IdMatch, IdleWait,
    LaneMinute, Maintenance, NextClaim, Snapshot, StoredEvent, ID_CANDIDATES, MIN_ID_FRAGMENT,
    TABLES,
};
pub use traits::{Control, DispatchLog, QueueStore, Reader, Store};
