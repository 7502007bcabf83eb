//! A failure of the store, and the patience that rides out an outage.

use std::time::Duration;

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a statement that a retry will not
    /// change (a constraint, a permission, a missing table, a full disk).
    #[error("the store at {location} failed: {message}")]
    Backend {
        /// Where the store is (file or URL without password).
        location: String,
        /// The database's own code for it, when it gave one: PostgreSQL's
        /// SQLSTATE (`42501`), SQLite's extended result code (`13`, SQLITE_FULL).
        code: Option<String>,
        /// The backend's message.
        message: String,
    },
    /// The store's address cannot be used as written: a malformed URL, an
    /// unknown option, TLS settings that cannot be met or a certificate the
    /// URL's settings refuse. Fix the URL (`--store` or `AGENTLANE_STORE`).
    #[error("the store address {location} cannot be used: {message}")]
    InvalidAddress {
        /// The URL, without password.
        location: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The database cannot be reached right now (connection refused, closed
    /// or timed out; a server shutting down or starting; busy): the same
    /// request may succeed later.
    #[error("the store at {location} is unavailable: {message}")]
    Unavailable {
        /// Where the store is (file or URL without password).
        location: String,
        /// What failed.
        message: String,
    },
    /// The server refused a connection because its slots are all taken
    /// (SQLSTATE 53300: `too many clients already`, `remaining connection
    /// slots are reserved`). Transient: a slot frees when another client
    /// disconnects; the message gives the arithmetic and the fix.
    #[error("the store at {location} refused a connection: {message}. {}", saturation_help(*.budget))]
    Saturated {
        /// Where the store is (URL without password).
        location: String,
        /// The server's message.
        message: String,
        /// The most connections this process opens, when known.
        budget: Option<usize>,
    },
    /// A stored row could not be decoded.
    #[error("corrupt row in the store: {0}")]
    Corrupt(String),
    /// An id prefix matched more than one dispatch.
    #[error("'{0}' matches more than one dispatch: give more characters of the id")]
    Ambiguous(String),
    /// An id the user typed cannot name anything (too short, not hex).
    #[error("{0}")]
    InvalidId(String),
    /// The store cannot do this.
    #[error("this store does not support {0}")]
    Unsupported(String),
    /// A copy's target already holds data.
    #[error("the target store is not empty ({0}): copy into a fresh database")]
    NotEmpty(String),
    /// The database was written by a newer agentlane: its schema version is
    /// above the newest this binary knows, so it is not used.
    #[error("the store at {location} has schema version {found}, newer than this agentlane knows ({supported}): upgrade agentlane, or point --store (or AGENTLANE_STORE) at another database")]
    SchemaTooNew {
        /// Where the store is (file or URL without password).
        location: String,
        /// The schema version found in the database.
        found: i64,
        /// The newest schema version this binary knows.
        supported: i64,
    },
    /// The database file is not a database or is damaged. The message says
    /// how to check it and what to do, wherever the damage shows.
    #[error("the store at {location} is damaged: {message}\nhint: {location} is not a sound SQLite database: check it with `sqlite3 {location} 'PRAGMA integrity_check'`, then restore it from a backup, or move it aside (agentlane creates a new, empty one)")]
    Damaged {
        /// The database file.
        location: String,
        /// The backend's message.
        message: String,
    },
}

impl StoreError {
    /// Whether the same request may succeed later (the store was unreachable).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable { .. } | StoreError::Saturated { .. }
        )
    }
}

/// What a saturated server means and what to change. Pure.
pub fn saturation_help(budget: Option<usize>) -> String {
    let each = match budget {
        Some(n) => format!("this process opens at most {n} connections"),
        None => "each agentlane process opens at most its budget of connections".to_string(),
    };
    format!(
        "The server has no connection slot for this client (its max_connections, or a CONNECTION LIMIT on the role or database): {each} (max_connections= in the store URL or [store] max_connections, default 3), so hosts × that budget, plus every other client, must stay under the server's max_connections minus superuser_reserved_connections. Fix: lower the budget (2 is the least), raise the server's max_connections, or put PgBouncer in transaction pooling in front and add pool_mode=transaction to the URL (the fleet then needs no more server connections than the pooler's pool). Waiting with backoff meanwhile; no lease is given up while this worker can still renew it"
    )
}

/// Runs `op` until it succeeds, fails for good, or `patience` has passed
/// since the first failure; waits between tries double from 50 ms up to 2 s.
/// Only transient failures ([`StoreError::is_transient`]) are retried, so
/// the operation must be idempotent or fenced.
pub async fn with_patience<T, F, Fut>(patience: Duration, mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let started = std::time::Instant::now();
    let mut wait = Duration::from_millis(50);
    loop {
        match op().await {
            Err(e) if e.is_transient() && started.elapsed() + wait <= patience => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn unavailable() -> StoreError {
        StoreError::Unavailable {
            location: "db".into(),
            message: "connection refused".into(),
        }
    }

    #[tokio::test]
    async fn with_patience_retries_an_outage_until_the_store_answers() {
        let tries = AtomicU32::new(0);
        let got = with_patience(Duration::from_secs(5), || async {
            match tries.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(unavailable()),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(got.expect("answered on the third try"), 2);
    }

    #[tokio::test]
    async fn with_patience_never_retries_a_permanent_failure() {
        let tries = AtomicU32::new(0);
        let got: Result<(), _> = with_patience(Duration::from_secs(5), || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::Corrupt("bad row".into()))
        })
        .await;
        assert!(matches!(got, Err(StoreError::Corrupt(_))));
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn with_patience_gives_up_once_its_patience_is_spent() {
        let tries = AtomicU32::new(0);
        let got: Result<(), _> = with_patience(Duration::from_millis(200), || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(unavailable())
        })
        .await;
        assert!(got.expect_err("still down").is_transient());
        let n = tries.load(Ordering::SeqCst);
        assert!(
            (2..=4).contains(&n),
            "50 + 100 ms of waits fit in 200 ms: {n} tries"
        );
    }
}
