//! The embedded default store: one SQLite file in WAL mode.
//!
//! Calls are short and run inline on the caller's thread behind a mutex;
//! WAL with `synchronous = NORMAL` keeps a commit off the fsync path while
//! surviving a process crash (a power loss may drop the last commits, never
//! corrupt the file). Migrations are numbered SQL files applied under
//! `BEGIN IMMEDIATE` and tracked with `PRAGMA user_version`, so concurrent
//! first starts are safe.

mod breaker;
mod controls;
mod maintain;
mod metrics;
mod queue;
mod quota;

mod connection;
mod dashboard;
mod impls;
mod records;
mod usage;

#[cfg(test)]
use connection::backend;
pub use connection::SqliteStore;
use records::insert_event;
