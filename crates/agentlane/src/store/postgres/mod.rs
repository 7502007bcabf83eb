//! The store for many machines: PostgreSQL, an existing, trusted engine.
//!
//! The same rows and the same contract as the SQLite store (the conformance
//! suite runs against both). Every time is the database clock's; a claim is
//! one statement with `FOR UPDATE SKIP LOCKED`; every write after a claim is
//! fenced by (job id, attempt, lease owner). Migrations run in a transaction
//! under an advisory lock, so several workers starting at once on an empty
//! database are safe.

mod connect;
mod impls;
mod listen;
mod maintain;
mod queue;
mod records;
pub mod tls;

/// The queue's statements, for the plan tests.
#[cfg(test)]
pub(crate) mod queue_sql {
    pub(crate) use super::queue::{finish_settle_and_claim_sql, RENEW, SETTLE};
}

use deadpool_postgres::Pool;
use tokio_postgres::types::Type;

use super::{
    DispatchLog, DispatchRecord, DispatchSummary, QueueStore, Reader, Store, StoreError,
    StoredEvent,
};

/// The migrations, in order; the index + 1 is the version.
const MIGRATIONS: &[&str] = &[
    include_str!("0001_schema.sql"),
    include_str!("0002_leaders.sql"),
    include_str!("0003_incident_counts.sql"),
    include_str!("0004_al_ts_stable.sql"),
    include_str!("0005_incident_reset.sql"),
];

/// Serialises concurrent migrations (an arbitrary, fixed advisory-lock key).
const MIGRATION_LOCK: i64 = 0x6167_656e_746c_616e; // "agentlan"

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: Pool,
    location: String,
    /// How the LISTEN connection connects: the pool's settings and TLS.
    connect: (
        tokio_postgres::Config,
        tokio_postgres_rustls::MakeRustlsConnect,
    ),
    listener: std::sync::OnceLock<std::sync::Arc<listen::Listener>>,
    /// Behind a pooler in transaction pooling (`pool_mode=transaction` in
    /// the URL): see [`PostgresStore::rows`].
    unnamed: bool,
    /// The parameter types of each statement, learned once (`unnamed` only).
    types: std::sync::Mutex<std::collections::HashMap<String, Vec<Type>>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.location)
            .finish()
    }
}

pub use connect::{redacted_url, take_param, transient_sqlstate};
pub(super) use connect::err;
use records::FinishParams;

#[cfg(test)]
mod tests {
    use super::{redacted_url, transient_sqlstate};
    use test_case::test_case;

    #[test]
    fn take_param_removes_one_parameter() {
        use super::take_param;
        assert_eq!(
            take_param("postgres://h/db", "pool_mode"),
            ("postgres://h/db".into(), None)
        );
        assert_eq!(
            take_param("postgres://h/db?pool_mode=transaction", "pool_mode"),
            ("postgres://h/db".into(), Some("transaction".into()))
        );
        assert_eq!(
            take_param("postgres://h/db?a=1&pool_mode=session&b=2", "pool_mode"),
            ("postgres://h/db?a=1&b=2".into(), Some("session".into()))
        );
    }

    #[test_case("postgres://u:secret@h:5432/db", "postgres://u@h:5432/db"; "password in the user information")]
    #[test_case("postgres://u:p@ss@h/db", "postgres://u@h/db"; "an @ in the password")]
    #[test_case("postgres://u@h/db?sslmode=require&password=secret", "postgres://u@h/db?sslmode=require&password=…"; "password parameter")]
    #[test_case("postgres://h/db?application_name=a", "postgres://h/db?application_name=a"; "nothing to hide")]
    fn a_url_in_a_message_has_no_password(url: &str, shown: &str) {
        assert_eq!(redacted_url(url), shown);
        assert!(!redacted_url(url).contains("secret"));
    }

    #[test_case("08006", true; "connection failure")]
    #[test_case("08001", true; "cannot establish a connection")]
    #[test_case("57P01", true; "admin shutdown, pg_terminate_backend")]
    #[test_case("57P03", true; "the server is starting")]
    #[test_case("53300", true; "too many connections")]
    #[test_case("40001", true; "serialization failure")]
    #[test_case("40P01", true; "deadlock")]
    #[test_case("23505", false; "unique violation")]
    #[test_case("42P01", false; "undefined table")]
    #[test_case("28P01", false; "wrong password")]
    #[test_case("3D000", false; "no such database")]
    fn a_sqlstate_is_transient_only_when_a_retry_can_succeed(code: &str, transient: bool) {
        assert_eq!(transient_sqlstate(code), transient);
    }
}
