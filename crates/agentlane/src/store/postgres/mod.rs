//! The store for many machines: PostgreSQL, an existing, trusted engine.
//!
//! The same rows and the same contract as the SQLite store (the conformance
//! suite runs against both). Every time is the database clock's; a claim is
//! one statement with `FOR UPDATE SKIP LOCKED`; every write after a claim is
//! fenced by (job id, attempt, lease owner). Migrations run in a transaction
//! under an advisory lock, so several workers starting at once on an empty
//! database are safe.

mod listen;
mod maintain;
mod queue;
pub mod tls;

/// The queue's statements, for the plan tests.
#[cfg(test)]
pub(crate) mod queue_sql {
    pub(crate) use super::queue::{finish_settle_and_claim_sql, RENEW, SETTLE};
}

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use super::{
    DispatchLog, DispatchRecord, DispatchSummary, QueueStore, Reader, Store, StoreError,
    StoredEvent,
};
use crate::model::DispatchReport;
use crate::events::{Event, Prepare};
use crate::model::{
    Completion, Incident, IncidentFacts, Job, JobFilter, LanePending, NewJob, Status,
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

/// An error and its sources, as one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
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

pub(super) fn err(location: &str) -> impl Fn(tokio_postgres::Error) -> StoreError + '_ {
    move |e| {
        let location = location.to_string();
        match e.as_db_error() {
            Some(db) => {
                let code = db.code().code();
                let message = format!("{code}: {}", db.message());
                if transient_sqlstate(code) {
                    StoreError::Unavailable { location, message }
                } else {
                    StoreError::Backend { location, message }
                }
            }
            // Not an answer from the server: the connection failed, closed or
            // timed out; a certificate refused says how to repair the URL.
            None => {
                let message = error_chain(&e);
                match tls::hint(&message) {
                    Some(hint) => StoreError::Backend {
                        location,
                        message: format!("{message}: {hint}"),
                    },
                    None => StoreError::Unavailable { location, message },
                }
            }
        }
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
        let invalid = |message: String| StoreError::Backend {
            location: location.clone(),
            message: format!("invalid PostgreSQL URL: {message}"),
        };
        let (rest, tls_params) = tls::split(url).map_err(&invalid)?;
        let (rest, pool_mode) = take_param(&rest, "pool_mode");
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
        let connector = tls::connector(&plan).map_err(|message| StoreError::Backend {
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
        let manager = Manager::from_config(
            config.clone(),
            connector.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(8)
            .build()
            .map_err(|e| StoreError::Backend {
                location: location.clone(),
                message: e.to_string(),
            })?;
        let store = PostgresStore {
            pool,
            location,
            connect: (config, connector),
            listener: std::sync::OnceLock::new(),
            unnamed,
            types: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub(super) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => err(&self.location)(e),
            e => StoreError::Unavailable {
                location: self.location.clone(),
                message: format!("cannot connect: {e}"),
            },
        })
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

/// The parameters that finish a dispatch, owned: its id, classifier, exit
/// code, signal, timed_out, duration, fingerprint, report, and its events'
/// kinds and bodies.
pub(super) struct FinishParams {
    dispatch_id: String,
    classifier: String,
    exit_code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    duration_ms: i64,
    fingerprint: Option<String>,
    report: serde_json::Value,
    kinds: Vec<&'static str>,
    bodies: Vec<serde_json::Value>,
}

impl FinishParams {
    pub(super) fn of(r: &DispatchReport, events: &[Event]) -> FinishParams {
        FinishParams {
            dispatch_id: r.dispatch_id.clone(),
            classifier: r.classifier.label(),
            exit_code: r.termination.exit_code(),
            signal: r.termination.signal(),
            timed_out: r.termination.timed_out(),
            duration_ms: r.duration_ms as i64,
            fingerprint: r.failure_fingerprint.clone(),
            report: crate::store::stored_report(r),
            kinds: events.iter().map(Event::kind).collect(),
            bodies: events.iter().map(json).collect(),
        }
    }

    pub(super) fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 10] {
        [
            &self.dispatch_id,
            &self.classifier,
            &self.exit_code,
            &self.signal,
            &self.timed_out,
            &self.duration_ms,
            &self.fingerprint,
            &self.report,
            &self.kinds,
            &self.bodies,
        ]
    }
}

#[allow(
    clippy::expect_used,
    reason = "strings, numbers, string-keyed maps and lossily written paths always serialise"
)]
fn json(v: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).expect("events serialise")
}

pub(super) async fn insert_event(
    tx: &tokio_postgres::Transaction<'_>,
    location: &str,
    dispatch_id: Option<&str>,
    job_id: Option<&str>,
    event: &Event,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO events (dispatch_id, job_id, kind, body) VALUES ($1, $2, $3, $4)",
        &[&dispatch_id, &job_id, &event.kind(), &json(event)],
    )
    .await
    .map_err(err(location))?;
    Ok(())
}

const SUMMARY_COLUMNS: &str = "id, al_ts(created_at), al_ts(finished_at), program, cwd, route, job_id, classifier, exit_code, signal, timed_out, duration_ms";

fn summary(row: &Row) -> DispatchSummary {
    DispatchSummary {
        dispatch_id: row.get(0),
        created_at: row.get(1),
        finished_at: row.get(2),
        program: row.get(3),
        cwd: row.get(4),
        route: row.get(5),
        job_id: row.get(6),
        classifier: row.get(7),
        exit_code: row.get(8),
        signal: row.get(9),
        timed_out: row.get(10),
        duration_ms: row.get::<_, Option<i64>>(11).map(|d| d.max(0) as u64),
    }
}

fn stored_event(row: &Row) -> StoredEvent {
    StoredEvent {
        seq: row.get(0),
        at: row.get(1),
        kind: row.get(2),
        body: row.get(3),
    }
}

#[async_trait]
impl DispatchLog for PostgresStore {
    async fn record_prepare(&self, p: &Prepare) -> Result<(), StoreError> {
        // One statement, so one round trip and one commit: the dispatch row
        // and its runner_prepare event land together or not at all.
        let client = self.client().await?;
        let cli = p.cli_path.as_ref().map(|c| c.display().to_string());
        let attempt = p.attempt.map(|a| a as i32);
        self.exec(
                &client,
                "WITH d AS (
                     INSERT INTO dispatches (id, program, cli_path, cwd, route, model, job_id, attempt)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, job_id)
                 INSERT INTO events (dispatch_id, job_id, kind, body)
                 SELECT id, job_id, 'runner_prepare', $9 FROM d",
                &[
                    &p.dispatch_id,
                    &p.program,
                    &cli,
                    &p.cwd.display().to_string(),
                    &p.route,
                    &p.model,
                    &p.job_id,
                    &attempt,
                    &json(&Event::RunnerPrepare(p.clone())),
                ],
            )
            .await?;
        Ok(())
    }

    async fn record_finish(&self, r: &DispatchReport, events: &[Event]) -> Result<(), StoreError> {
        // One statement. Once only: the events are written only when this
        // finishes the dispatch, so a retry after a lost reply, or a late
        // write after the attempt was rescued as worker_lost, changes nothing.
        let client = self.client().await?;
        let f = FinishParams::of(r, events);
        self.exec(
            &client,
            "WITH d AS (
                 UPDATE dispatches SET finished_at = now(), classifier = $2, exit_code = $3, signal = $4,
                        timed_out = $5, duration_ms = $6, failure_fingerprint = $7, report = $8
                 WHERE id = $1 AND finished_at IS NULL RETURNING id, job_id)
             INSERT INTO events (dispatch_id, job_id, kind, body)
             SELECT d.id, d.job_id, ev.kind, ev.body
             FROM d, unnest($9::text[], $10::jsonb[]) WITH ORDINALITY AS ev(kind, body, n)
             ORDER BY ev.n",
            &f.params(),
        )
        .await?;
        Ok(())
    }

    async fn append_event(&self, event: &Event) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let e = err(&self.location);
        let tx = client.transaction().await.map_err(&e)?;
        insert_event(&tx, &self.location, None, event.job_id(), event).await?;
        tx.commit().await.map_err(&e)
    }
}

#[async_trait]
impl QueueStore for PostgresStore {
    async fn try_lead(&self, name: &str, owner: &str, lease: Duration) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let ms = lease.as_secs_f64() * 1000.0;
        let row = self
            .row(
                &client,
                "WITH taken AS (
                     INSERT INTO leaders (name, owner, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
                     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                     WHERE leaders.owner = excluded.owner OR leaders.expires_at < now()
                     RETURNING owner)
                 SELECT EXISTS (SELECT 1 FROM taken)",
                &[&name, &owner, &ms],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn maintain(
        &self,
        retention: Option<Duration>,
        batch: usize,
    ) -> Result<super::Maintenance, StoreError> {
        maintain::maintain(self, retention, batch).await
    }

    async fn enqueue(&self, jobs: &[NewJob]) -> Result<Vec<String>, StoreError> {
        queue::enqueue(self, jobs).await
    }

    async fn wait_for_jobs(&self, lane: &str, timeout: Duration) {
        if self.unnamed {
            // Transaction pooling does not carry LISTEN: poll.
            tokio::time::sleep(timeout).await;
            return;
        }
        let listener = self.listener.get_or_init(|| {
            let listener = std::sync::Arc::new(listen::Listener::default());
            tokio::spawn(listen::run(self.connect.clone(), listener.clone()));
            listener
        });
        let notify = listener.lane(lane);
        let _ = tokio::time::timeout(timeout, notify.notified()).await;
    }

    async fn claim(
        &self,
        lane: &str,
        routes: &[String],
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        queue::claim(self, lane, routes, owner, lease, limit).await
    }

    async fn heartbeat(
        &self,
        owner: &str,
        jobs: &[String],
        lease: Duration,
    ) -> Result<Vec<String>, StoreError> {
        queue::heartbeat(self, owner, jobs, lease).await
    }

    async fn settle(&self, completion: &Completion) -> Result<bool, StoreError> {
        queue::settle(self, completion).await
    }

    async fn finish_and_settle(
        &self,
        report: &DispatchReport,
        events: &[Event],
        completion: &Completion,
    ) -> Result<bool, StoreError> {
        queue::finish_and_settle(self, report, events, completion).await
    }

    async fn finish_settle_and_claim(
        &self,
        report: &DispatchReport,
        events: &[Event],
        completion: &Completion,
        next: &crate::store::NextClaim,
    ) -> Result<(bool, Option<Job>), StoreError> {
        queue::finish_settle_and_claim(self, report, events, completion, next).await
    }

    async fn open_incident(&self, facts: &IncidentFacts) -> Result<String, StoreError> {
        queue::open_incident(self, facts).await
    }

    async fn rescue_expired(&self, owner: &str, lease: Duration) -> Result<Vec<Job>, StoreError> {
        queue::rescue_expired(self, owner, lease).await
    }

    async fn release_parked(&self, lane: &str, route: &str, why: &str) -> Result<u64, StoreError> {
        queue::release_parked(self, lane, route, why).await
    }

    async fn resolve_incident(
        &self,
        id: &str,
        resolution: &str,
    ) -> Result<Option<u64>, StoreError> {
        queue::resolve_incident(self, id, resolution).await
    }

    async fn lane_pending(&self, lane: &str, routes: &[String]) -> Result<LanePending, StoreError> {
        queue::lane_pending(self, lane, routes).await
    }
}

#[async_trait]
impl Reader for PostgresStore {
    async fn recent_events(
        &self,
        kind: &str,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let client = self.client().await?;
        let limit = if limit == 0 { i64::MAX } else { limit as i64 };
        let rows = self
            .rows(&client, "SELECT seq, al_ts(at), kind, body FROM events WHERE kind = $1 ORDER BY seq DESC LIMIT $2", &[&kind, &limit])
            .await?;
        Ok(rows.iter().map(stored_event).collect())
    }

    async fn recent_dispatches(&self, limit: usize) -> Result<Vec<DispatchSummary>, StoreError> {
        let client = self.client().await?;
        let limit = if limit == 0 { i64::MAX } else { limit as i64 };
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM dispatches ORDER BY id DESC LIMIT $1");
        let rows = self.rows(&client, &sql, &[&limit]).await?;
        Ok(rows.iter().map(summary).collect())
    }

    async fn dispatch(&self, id_or_prefix: &str) -> Result<Option<DispatchRecord>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {SUMMARY_COLUMNS}, report FROM dispatches WHERE starts_with(id, $1) ORDER BY id LIMIT 2");
        let rows = self.rows(&client, &sql, &[&id_or_prefix]).await?;
        let row = match rows.len() {
            0 => return Ok(None),
            1 => &rows[0],
            _ if rows[0].get::<_, String>(0) == id_or_prefix => &rows[0],
            _ => return Err(StoreError::Ambiguous(id_or_prefix.to_string())),
        };
        let summary = summary(row);
        let report: Option<serde_json::Value> = row.get(12);
        let events = self
            .rows(
                &client,
                "SELECT seq, al_ts(at), kind, body FROM events WHERE dispatch_id = $1 ORDER BY seq",
                &[&summary.dispatch_id],
            )
            .await?;
        Ok(Some(
            DispatchRecord {
                summary,
                report,
                events: events.iter().map(stored_event).collect(),
            }
            .restored(),
        ))
    }

    async fn row_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let client = self.client().await?;
        let mut out = Vec::new();
        for t in super::TABLES {
            let n: i64 = self
                .row(&client, &format!("SELECT count(*) FROM {t}"), &[])
                .await?
                .get(0);
            out.push((t.to_string(), n as u64));
        }
        Ok(out)
    }

    async fn job_events(&self, job_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let client = self.client().await?;
        let rows = self
            .rows(
                &client,
                "SELECT seq, al_ts(at), kind, body FROM events WHERE job_id = $1 ORDER BY seq",
                &[&job_id],
            )
            .await?;
        Ok(rows.iter().map(stored_event).collect())
    }

    async fn job_dispatches(&self, job_id: &str) -> Result<Vec<DispatchSummary>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM dispatches WHERE job_id = $1 ORDER BY attempt, id"
        );
        let rows = self.rows(&client, &sql, &[&job_id]).await?;
        Ok(rows.iter().map(summary).collect())
    }

    async fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        queue::jobs(self, filter).await
    }

    async fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        queue::job(self, id).await
    }

    async fn incidents(&self, open_only: bool) -> Result<Vec<Incident>, StoreError> {
        queue::incidents(self, open_only).await
    }

    async fn incident(&self, id: &str) -> Result<Option<(Incident, Vec<String>)>, StoreError> {
        queue::incident(self, id).await
    }

    async fn status(&self) -> Result<Status, StoreError> {
        queue::status(self).await
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn import_rows(&self, snapshot: &super::Snapshot) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let e = err(&self.location);
        let tx = client.transaction().await.map_err(&e)?;
        for (table, _) in &snapshot.tables {
            let n: i64 = tx
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await
                .map_err(&e)?
                .get(0);
            if n > 0 {
                return Err(StoreError::NotEmpty(format!("{table} has {n} rows")));
            }
        }
        for (table, rows) in &snapshot.tables {
            if !super::TABLES.contains(&table.as_str()) {
                return Err(StoreError::Corrupt(format!(
                    "unknown table '{table}' in the snapshot"
                )));
            }
            // jsonb_populate_recordset converts every value to the column's type.
            for chunk in rows.chunks(1000) {
                let batch = serde_json::Value::Array(chunk.to_vec());
                tx.execute(&format!("INSERT INTO {table} SELECT * FROM jsonb_populate_recordset(NULL::{table}, $1)"), &[&batch])
                    .await
                    .map_err(&e)?;
            }
        }
        tx.execute("SELECT setval(pg_get_serial_sequence('events', 'seq'), GREATEST((SELECT max(seq) FROM events), 1))", &[])
            .await
            .map_err(&e)?;
        tx.commit().await.map_err(&e)
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
