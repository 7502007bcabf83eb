//! Connecting: URLs (with passwords kept out of messages), the pool, TLS,
//! migrations under an advisory lock, and the statement helpers every query
//! goes through (prepared once per connection, or unnamed under a pooler).

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use super::StoreError;

use super::*;

/// The URL without its password, for messages: neither the one in the
/// user information nor a `password=` parameter.
pub fn redacted_url(url: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((u, q)) => (u, Some(q)),
        None => (url, None),
    };
    let mut out = match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or("");
                format!("{scheme}://{user}@{host}")
            }
            None => url.to_string(),
        },
        None => url.to_string(),
    };
    if let Some(query) = query {
        let kept: Vec<&str> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("password", _)) => "password=…",
                _ => pair,
            })
            .collect();
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out
}

/// Removes parameter `key` from a URL's query string: the URL without it,
/// and its value (not percent-decoded). Pure.
pub fn take_param(url: &str, key: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut value = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some((k, v)) if k == key => {
                value = Some(v.to_string());
                false
            }
            _ => true,
        })
        .collect();
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, value)
}

/// `url` with `max_connections=n` added, unless it sets its own. Pure.
pub fn with_budget(url: &str, n: usize) -> String {
    if take_param(url, "max_connections").1.is_some() {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}max_connections={n}")
}

/// An error and its sources, as one line.
pub(super) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

pub(in crate::store) fn err(location: &str) -> impl Fn(tokio_postgres::Error) -> StoreError + '_ {
    move |e| {
        let location = location.to_string();
        match e.as_db_error() {
            Some(db) => {
                let code = db.code().code();
                let message = format!("{code}: {}", db.message());
                if code == SATURATED {
                    StoreError::Saturated {
                        location,
                        message,
                        budget: None,
                    }
                } else if transient_sqlstate(code) {
                    StoreError::Unavailable { location, message }
                } else {
                    StoreError::Backend {
                        location,
                        code: Some(code.to_string()),
                        message,
                    }
                }
            }
            // Not an answer from the server: the connection failed, closed or
            // timed out; a certificate refused says how to repair the URL.
            None => {
                let message = error_chain(&e);
                match tls::hint(&message) {
                    Some(hint) => StoreError::InvalidAddress {
                        location,
                        message: format!("{message}: {hint}"),
                    },
                    None => StoreError::Unavailable { location, message },
                }
            }
        }
    }
}

/// The SQLSTATE of a connection the server refused because its slots are
/// all taken: `too many clients already`, `remaining connection slots are
/// reserved for …`.
pub(super) const SATURATED: &str = "53300";

/// The most connections one process opens by default: one kept (lease
/// renewals, LISTEN) and two in the pool (claims, settlements, reads).
pub const DEFAULT_MAX_CONNECTIONS: usize = 3;

/// A pooled connection unused this long is closed, so a burst's connections
/// do not outlive it; the kept connection stays.
const POOL_IDLE_CLOSE: Duration = Duration::from_secs(60);

/// How long opening the store waits for a connection slot on a saturated
/// server before it gives up (with the arithmetic and the fix).
const OPEN_PATIENCE: Duration = Duration::from_secs(60);

/// `max_connections=N` of a store URL: at least 2. Pure.
pub fn parse_budget(value: Option<&str>) -> Result<usize, String> {
    match value {
        None => Ok(DEFAULT_MAX_CONNECTIONS),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (2..=1000).contains(&n) => Ok(n),
            _ => Err(format!(
                "max_connections={v}: use a number from 2 to 1000 — the most connections this process opens: one kept for lease renewals and LISTEN, the rest pooled for claims and settlements (default {DEFAULT_MAX_CONNECTIONS})"
            )),
        },
    }
}

/// SQLSTATEs after which the same request may succeed: connection
/// exceptions (08), the server shutting down or starting (57P01-57P03),
/// too many connections (53300), serialization failure and deadlock (40001,
/// 40P01). Pure.
pub fn transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
        )
}

impl PostgresStore {
    /// Connects (a small pool) and applies migrations.
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let location = redacted_url(url);
        let invalid = |message: String| StoreError::InvalidAddress {
            location: location.clone(),
            message: format!("invalid PostgreSQL URL: {message}"),
        };
        let (rest, tls_params) = tls::split(url).map_err(&invalid)?;
        let (rest, pool_mode) = take_param(&rest, "pool_mode");
        let (rest, budget) = take_param(&rest, "max_connections");
        let budget = parse_budget(budget.as_deref()).map_err(&invalid)?;
        let unnamed = match pool_mode.as_deref() {
            None | Some("session") => false,
            Some("transaction") => true,
            Some(other) => {
                return Err(invalid(format!(
                    "pool_mode={other}: use session (the default) or transaction (a pooler such as PgBouncer in transaction pooling)"
                )))
            }
        };
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let plan = tls::decide(&tls_params, home.as_deref(), |p| p.exists()).map_err(&invalid)?;
        let connector = tls::connector(&plan).map_err(|message| StoreError::InvalidAddress {
            location: location.clone(),
            message: format!("cannot set up TLS: {message}"),
        })?;
        let mut config =
            tokio_postgres::Config::from_str(&rest).map_err(|e| invalid(e.to_string()))?;
        config.ssl_mode(plan.negotiate);
        // A worker must notice an unreachable database within a fraction of
        // a lease, not after the kernel's TCP timeouts (minutes): bound the
        // connect, probe idle connections, and give up on unacknowledged
        // data. A URL that sets these keeps its own values.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
            config.keepalives_idle(Duration::from_secs(10));
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(Duration::from_secs(10));
        }
        // Named in pg_stat_activity (unless the URL names them): the pool's
        // connections and the kept one apart.
        let mut kept_config = config.clone();
        if config.get_application_name().is_none() {
            config.application_name("agentlane");
            kept_config.application_name("agentlane kept");
        }
        let manager = Manager::from_config(
            config.clone(),
            connector.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(budget - 1)
            .build()
            .map_err(|e| StoreError::Backend {
                location: location.clone(),
                code: None,
                message: e.to_string(),
            })?;
        let store = PostgresStore {
            pool,
            location,
            connect: (kept_config, connector),
            kept: std::sync::OnceLock::new(),
            reaper: std::sync::OnceLock::new(),
            tasks: Default::default(),
            unnamed,
            budget,
            types: Default::default(),
        };
        // A server whose slots are all taken may free one soon (a fleet
        // starting, a burst ending): wait for it, with jittered backoff,
        // rather than fail the process at once.
        let started = std::time::Instant::now();
        let mut wait = Duration::from_millis(250);
        loop {
            match store.migrate().await {
                Err(StoreError::Saturated { .. }) if started.elapsed() + wait < OPEN_PATIENCE => {
                    if wait == Duration::from_millis(250) {
                        tracing::warn!(store = %store.location, "the server has no free connection slot; waiting for one");
                    }
                    tokio::time::sleep(kept::jittered(wait)).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                other => {
                    other?;
                    break;
                }
            }
        }
        Ok(store)
    }

    /// A pooled connection. A refused one (the server's slots all taken)
    /// says how many this process may open and what to change.
    pub(super) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.reaper.get_or_init(|| {
            let pool = self.pool.clone();
            self.task(async move {
                loop {
                    tokio::time::sleep(POOL_IDLE_CLOSE / 4).await;
                    pool.retain(|_, m| m.last_used() < POOL_IDLE_CLOSE);
                }
            })
        });
        self.pool.get().await.map_err(|e| {
            let e = match e {
                deadpool_postgres::PoolError::Backend(e) => err(&self.location)(e),
                e => StoreError::Unavailable {
                    location: self.location.clone(),
                    message: format!("cannot connect: {e}"),
                },
            };
            self.budgeted(e)
        })
    }

    /// A saturation error with this process's budget filled in.
    pub(super) fn budgeted(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Saturated {
                location, message, ..
            } => StoreError::Saturated {
                location,
                message,
                budget: Some(self.budget),
            },
            e => e,
        }
    }

    /// The kept connection (`kept.rs`), started by the first call; it
    /// LISTENs unless a transaction pooler is in between.
    pub(super) fn kept(&self) -> &std::sync::Arc<kept::Kept> {
        self.kept.get_or_init(|| {
            let kept = std::sync::Arc::new(kept::Kept::default());
            self.task(kept::run(
                self.connect.clone(),
                kept.clone(),
                !self.unnamed,
                self.location.clone(),
            ));
            kept
        })
    }

    /// Spawns a task that ends with the store.
    fn task(&self, f: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(f);
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(handle);
    }

    /// One statement outside a transaction, with its rows. Directly or
    /// through session pooling, it is prepared once per connection and
    /// reused. Under transaction pooling a pooler may hand each message to
    /// another server connection, where a prepared statement does not exist:
    /// it is sent unnamed, with its parameter types, in one message.
    pub(super) async fn rows(
        &self,
        client: &deadpool_postgres::ClientWrapper,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let e = err(&self.location);
        if self.unnamed {
            let typed = self.typed(client, sql, params).await?;
            client.query_typed(sql, &typed).await.map_err(&e)
        } else {
            let stmt = client.prepare_cached(sql).await.map_err(&e)?;
            client.query(&stmt, params).await.map_err(&e)
        }
    }

    /// [`Self::rows`] of a statement that returns exactly one row.
    pub(super) async fn row(
        &self,
        client: &deadpool_postgres::ClientWrapper,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, StoreError> {
        let mut rows = self.rows(client, sql, params).await?;
        match rows.len() {
            1 => Ok(rows.remove(0)),
            n => Err(StoreError::Backend {
                location: self.location.clone(),
                code: None,
                message: format!("a statement returned {n} rows instead of one"),
            }),
        }
    }

    /// [`Self::rows`] of a statement that returns no rows: how many it changed.
    pub(super) async fn exec(
        &self,
        client: &deadpool_postgres::ClientWrapper,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let e = err(&self.location);
        if self.unnamed {
            let typed = self.typed(client, sql, params).await?;
            client.execute_typed(sql, &typed).await.map_err(&e)
        } else {
            let stmt = client.prepare_cached(sql).await.map_err(&e)?;
            client.execute(&stmt, params).await.map_err(&e)
        }
    }

    /// A statement to run inside `tx`: cached per connection, or, under
    /// transaction pooling, prepared for this transaction only (it is
    /// closed when dropped, before the commit).
    pub(super) async fn prepare_in(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        sql: &str,
    ) -> Result<tokio_postgres::Statement, StoreError> {
        let e = err(&self.location);
        if self.unnamed {
            tx.prepare(sql).await.map_err(&e)
        } else {
            tx.prepare_cached(sql).await.map_err(&e)
        }
    }

    /// The parameters paired with their types, which are learned once per
    /// statement by preparing it inside a transaction (so the pooler keeps
    /// the preparation and its closing on one server connection).
    async fn typed<'a>(
        &self,
        client: &tokio_postgres::Client,
        sql: &str,
        params: &[&'a (dyn ToSql + Sync)],
    ) -> Result<Vec<(&'a (dyn ToSql + Sync), Type)>, StoreError> {
        let known = self
            .types
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sql)
            .cloned();
        let types = match known {
            Some(types) => types,
            None => {
                let e = err(&self.location);
                client.batch_execute("BEGIN").await.map_err(&e)?;
                // The statement is dropped (closed) before the transaction ends.
                let learned = client.prepare(sql).await.map(|s| s.params().to_vec());
                let end = if learned.is_ok() {
                    "COMMIT"
                } else {
                    "ROLLBACK"
                };
                client.batch_execute(end).await.map_err(&e)?;
                let types = learned.map_err(&e)?;
                self.types
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(sql.to_string(), types.clone());
                types
            }
        };
        Ok(params.iter().copied().zip(types).collect())
    }

    /// Applies pending migrations; safe when several processes start at once.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let e = err(&self.location);
        let tx = client.transaction().await.map_err(&e)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(&e)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS agentlane_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            .await
            .map_err(&e)?;
        let current: i32 = tx
            .query_one(
                "SELECT COALESCE(max(version), 0) FROM agentlane_migrations",
                &[],
            )
            .await
            .map_err(&e)?
            .get(0);
        if current as usize > MIGRATIONS.len() {
            return Err(StoreError::SchemaTooNew {
                location: self.location.clone(),
                found: current.into(),
                supported: MIGRATIONS.len() as i64,
            });
        }
        let mut applied = 0;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.batch_execute(sql).await.map_err(&e)?;
            tx.execute(
                "INSERT INTO agentlane_migrations (version) VALUES ($1)",
                &[&(i as i32 + 1)],
            )
            .await
            .map_err(&e)?;
            applied += 1;
        }
        tx.commit().await.map_err(&e)?;
        Ok(applied)
    }
}

/// The migrations, in order; the index + 1 is the version.
const MIGRATIONS: &[&str] = &[
    include_str!("0001_schema.sql"),
    include_str!("0002_leaders.sql"),
    include_str!("0003_incident_counts.sql"),
    include_str!("0004_al_ts_stable.sql"),
    include_str!("0005_incident_reset.sql"),
    include_str!("0006_incident_stamp.sql"),
    include_str!("0007_controls.sql"),
    include_str!("0008_job_key.sql"),
    include_str!("0009_job_label.sql"),
    include_str!("0010_account_quotas.sql"),
    include_str!("0011_usage.sql"),
    include_str!("0012_route_breakers.sql"),
    include_str!("0013_worker_heartbeats.sql"),
    include_str!("0014_job_list.sql"),
];

/// Serialises concurrent migrations (an arbitrary, fixed advisory-lock key).
const MIGRATION_LOCK: i64 = 0x6167_656e_746c_616e; // "agentlan"

/// The PostgreSQL store.
pub struct PostgresStore {
    pub(super) pool: Pool,
    pub(super) location: String,
    /// How the kept connection connects: the pool's settings and TLS.
    pub(super) connect: (
        tokio_postgres::Config,
        tokio_postgres_rustls::MakeRustlsConnect,
    ),
    /// The kept connection (lease renewals, heartbeat rows, LISTEN).
    pub(super) kept: std::sync::OnceLock<std::sync::Arc<kept::Kept>>,
    /// The task that closes pooled connections left idle.
    reaper: std::sync::OnceLock<()>,
    /// The store's tasks (the kept connection, the reaper): stopped when it is dropped.
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The most connections this process opens (`max_connections=`).
    pub(super) budget: usize,
    /// Behind a pooler in transaction pooling (`pool_mode=transaction` in
    /// the URL): see [`PostgresStore::rows`].
    pub(super) unnamed: bool,
    /// The parameter types of each statement, learned once (`unnamed` only).
    pub(super) types: std::sync::Mutex<std::collections::HashMap<String, Vec<Type>>>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        for task in self
            .tasks
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.location)
            .finish()
    }
}

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

    #[test]
    fn a_budget_is_two_to_a_thousand_connections_and_says_what_it_counts() {
        use super::{parse_budget, with_budget, DEFAULT_MAX_CONNECTIONS};
        assert_eq!(parse_budget(None), Ok(DEFAULT_MAX_CONNECTIONS));
        assert_eq!(parse_budget(Some("2")), Ok(2));
        assert_eq!(parse_budget(Some("1000")), Ok(1000));
        for bad in ["0", "1", "1001", "-3", "two", ""] {
            let e = parse_budget(Some(bad)).expect_err(bad);
            assert!(e.contains("one kept for lease renewals"), "{bad}: {e}");
        }
        // `[store] max_connections` adds the parameter; a URL's own wins.
        assert_eq!(
            with_budget("postgres://h/db", 2),
            "postgres://h/db?max_connections=2"
        );
        assert_eq!(
            with_budget("postgres://h/db?pool_mode=transaction", 2),
            "postgres://h/db?pool_mode=transaction&max_connections=2"
        );
        assert_eq!(
            with_budget("postgres://h/db?max_connections=5", 2),
            "postgres://h/db?max_connections=5"
        );
    }

    #[test]
    fn a_refused_connection_names_the_budget_the_arithmetic_and_the_fix() {
        use crate::store::StoreError;
        let e = StoreError::Saturated {
            location: "postgres://u@db/x".into(),
            message: "53300: sorry, too many clients already".into(),
            budget: Some(3),
        };
        assert!(e.is_transient(), "a slot frees when another client leaves");
        let text = e.to_string();
        for needed in [
            "too many clients already",
            "at most 3 connections",
            "hosts × that budget",
            "superuser_reserved_connections",
            "pool_mode=transaction",
        ] {
            assert!(text.contains(needed), "{needed:?} missing from: {text}");
        }
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
