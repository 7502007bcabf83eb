//! The embedded default store: one SQLite file in WAL mode.
//!
//! Calls are short and run inline on the caller's thread behind a mutex;
//! WAL with `synchronous = NORMAL` keeps a commit off the fsync path while
//! surviving a process crash (a power loss may drop the last commits, never
//! corrupt the file). Migrations are numbered SQL files applied under
//! `BEGIN IMMEDIATE` and tracked with `PRAGMA user_version`, so concurrent
//! first starts are safe.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

mod maintain;
mod queue;

use super::{
    DispatchLog, DispatchRecord, DispatchSummary, NextClaim, QueueStore, Reader, Store, StoreError,
    StoredEvent,
};
use crate::model::DispatchReport;
use crate::events::{Event, Prepare};
use crate::model::{
    Completion, Incident, IncidentFacts, Job, JobFilter, LanePending, NewJob, Status,
};

/// The migrations, in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    include_str!("0001_dispatches.sql"),
    include_str!("0002_queue.sql"),
    include_str!("0003_leaders.sql"),
    include_str!("0004_pruning.sql"),
    include_str!("0005_incident_reset.sql"),
];

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

fn backend(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| {
        let code = e.sqlite_error_code();
        let busy = matches!(
            code,
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        let damaged = matches!(
            code,
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
        );
        let (location, message) = (path.display().to_string(), e.to_string());
        if damaged {
            StoreError::Damaged { location, message }
        } else if busy {
            StoreError::Unavailable { location, message }
        } else {
            StoreError::Backend { location, message }
        }
    }
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let err = backend(path);
        let mut conn = Connection::open(path).map_err(&err)?;
        // Private to the user; SQLite gives the -wal and -shm files the same mode.
        if let Ok(meta) = std::fs::metadata(path) {
            use std::os::unix::fs::PermissionsExt;
            if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
            }
        }
        conn.busy_timeout(Duration::from_secs(10)).map_err(&err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(&err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(&err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(&err)?;
        // A short-lived `exec` must not pay a checkpoint (with fsyncs) and a
        // WAL delete at every close; SQLite's auto-checkpoint at 1000 pages
        // keeps the WAL bounded instead.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(&err)?;
        conn.pragma_update(None, "wal_autocheckpoint", 64)
            .map_err(&err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(&err)?;
        if version > MIGRATIONS.len() as i64 {
            return Err(StoreError::SchemaTooNew {
                location: path.display().to_string(),
                found: version,
                supported: MIGRATIONS.len() as i64,
            });
        }
        migrate(&mut conn).map_err(&err)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut conn).map_err(backend(&self.path))
    }
}

/// Finishes a dispatch inside the caller's transaction. Once only: a retry,
/// or a late write after the attempt was rescued as worker_lost, changes nothing.
fn finish_in(
    tx: &rusqlite::Transaction<'_>,
    r: &DispatchReport,
    events: &[Event],
) -> rusqlite::Result<()> {
    let finished = tx
        .prepare_cached(
            "UPDATE dispatches SET finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                classifier = ?2, exit_code = ?3, signal = ?4, timed_out = ?5, duration_ms = ?6,
                failure_fingerprint = ?7, report = ?8
             WHERE id = ?1 AND finished_at IS NULL",
        )?
        .execute(params![
            r.dispatch_id,
            r.classifier.label(),
            r.termination.exit_code(),
            r.termination.signal(),
            r.termination.timed_out(),
            r.duration_ms as i64,
            r.failure_fingerprint,
            json(&crate::store::stored_report(r)),
        ])?;
    if finished > 0 {
        for event in events {
            insert_event(tx, Some(&r.dispatch_id), r.job_id.as_deref(), event)?;
        }
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current >= MIGRATIONS.len() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-read under the write lock: another process may have migrated meanwhile.
    let current: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
    }
    tx.commit()
}

#[allow(
    clippy::expect_used,
    reason = "strings, numbers, string-keyed maps and lossily written paths always serialise"
)]
fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("events serialise")
}

pub(super) fn insert_event(
    tx: &rusqlite::Transaction<'_>,
    dispatch_id: Option<&str>,
    job_id: Option<&str>,
    event: &Event,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO events (dispatch_id, job_id, kind, body) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![dispatch_id, job_id, event.kind(), json(event)])?;
    Ok(())
}

type RawEvent = (i64, String, String, String);

fn decode_events(rows: Vec<RawEvent>) -> Result<Vec<StoredEvent>, StoreError> {
    rows.into_iter()
        .map(|(seq, at, kind, body)| {
            let body = serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))?;
            Ok(StoredEvent {
                seq,
                at,
                kind,
                body,
            })
        })
        .collect()
}

const SUMMARY_COLUMNS: &str = "id, created_at, finished_at, program, cwd, route, job_id, classifier, exit_code, signal, timed_out, duration_ms";

fn summary(row: &rusqlite::Row<'_>) -> rusqlite::Result<DispatchSummary> {
    Ok(DispatchSummary {
        dispatch_id: row.get(0)?,
        created_at: row.get(1)?,
        finished_at: row.get(2)?,
        program: row.get(3)?,
        cwd: row.get(4)?,
        route: row.get(5)?,
        job_id: row.get(6)?,
        classifier: row.get(7)?,
        exit_code: row.get(8)?,
        signal: row.get(9)?,
        timed_out: row.get::<_, i64>(10)? != 0,
        duration_ms: row.get::<_, Option<i64>>(11)?.map(|d| d.max(0) as u64),
    })
}

#[async_trait]
impl DispatchLog for SqliteStore {
    async fn record_prepare(&self, p: &Prepare) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "INSERT INTO dispatches (id, program, cli_path, cwd, route, model, job_id, attempt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                p.dispatch_id,
                p.program,
                p.cli_path.as_ref().map(|c| c.display().to_string()),
                p.cwd.display().to_string(),
                p.route,
                p.model,
                p.job_id,
                p.attempt,
            ])?;
            insert_event(
                &tx,
                Some(&p.dispatch_id),
                p.job_id.as_deref(),
                &Event::RunnerPrepare(p.clone()),
            )?;
            tx.commit()
        })
    }

    async fn record_finish(&self, r: &DispatchReport, events: &[Event]) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            finish_in(&tx, r, events)?;
            tx.commit()
        })
    }

    async fn append_event(&self, event: &Event) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            insert_event(&tx, None, event.job_id(), event)?;
            tx.commit()
        })
    }
}

#[async_trait]
impl QueueStore for SqliteStore {
    async fn maintain(
        &self,
        retention: Option<Duration>,
        batch: usize,
    ) -> Result<super::Maintenance, StoreError> {
        self.with(|c| maintain::maintain(c, retention, batch))
    }

    async fn try_lead(&self, name: &str, owner: &str, lease: Duration) -> Result<bool, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "INSERT INTO leaders (name, owner, expires_at) VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?3))
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                 WHERE leaders.owner = excluded.owner OR leaders.expires_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            )?
            .execute(params![name, owner, format!("+{:.3} seconds", lease.as_secs_f64())])?;
            let leader: String = tx.query_row("SELECT owner FROM leaders WHERE name = ?1", [name], |r| r.get(0))?;
            tx.commit()?;
            Ok(leader == owner)
        })
    }

    async fn enqueue(&self, jobs: &[NewJob]) -> Result<Vec<String>, StoreError> {
        self.with(|c| queue::enqueue(c, jobs))
    }

    async fn claim(
        &self,
        lane: &str,
        routes: &[String],
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        self.with(|c| queue::claim(c, lane, routes, owner, lease, limit))
    }

    async fn heartbeat(
        &self,
        owner: &str,
        jobs: &[String],
        lease: Duration,
    ) -> Result<Vec<String>, StoreError> {
        self.with(|c| queue::heartbeat(c, owner, jobs, lease))
    }

    async fn settle(&self, completion: &Completion) -> Result<bool, StoreError> {
        self.with(|c| queue::settle(c, completion))
    }

    async fn open_incident(&self, facts: &IncidentFacts) -> Result<String, StoreError> {
        self.with(|c| queue::open_incident(c, facts))
    }

    async fn rescue_expired(&self, owner: &str, lease: Duration) -> Result<Vec<Job>, StoreError> {
        self.with(|c| queue::rescue_expired(c, owner, lease))
    }

    async fn release_parked(&self, lane: &str, route: &str, why: &str) -> Result<u64, StoreError> {
        self.with(|c| queue::release_parked(c, lane, route, why))
    }

    async fn resolve_incident(
        &self,
        id: &str,
        resolution: &str,
    ) -> Result<Option<u64>, StoreError> {
        self.with(|c| queue::resolve_incident(c, id, resolution))
    }

    async fn lane_pending(&self, lane: &str, routes: &[String]) -> Result<LanePending, StoreError> {
        self.with(|c| queue::lane_pending(c, lane, routes))
    }

    async fn finish_and_settle(
        &self,
        r: &DispatchReport,
        events: &[Event],
        completion: &Completion,
    ) -> Result<bool, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            finish_in(&tx, r, events)?;
            let accepted = queue::settle_in(&tx, completion)?;
            tx.commit()?;
            Ok(accepted)
        })
    }

    async fn finish_settle_and_claim(
        &self,
        r: &DispatchReport,
        events: &[Event],
        completion: &Completion,
        next: &NextClaim,
    ) -> Result<(bool, Option<Job>), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            finish_in(&tx, r, events)?;
            let accepted = queue::settle_in(&tx, completion)?;
            let job = if accepted {
                queue::claim_in(
                    &tx,
                    &next.lane,
                    &next.routes,
                    &completion.owner,
                    next.lease,
                    1,
                )?
                .pop()
            } else {
                None
            };
            tx.commit()?;
            Ok((accepted, job))
        })
    }
}

#[async_trait]
impl Reader for SqliteStore {
    async fn job_dispatches(&self, job_id: &str) -> Result<Vec<DispatchSummary>, StoreError> {
        self.with(|conn| {
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} FROM dispatches WHERE job_id = ?1 ORDER BY attempt, id"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([job_id], summary)?;
            rows.collect()
        })
    }

    async fn export_rows(&self) -> Result<super::Snapshot, StoreError> {
        self.with(|conn| {
            let mut tables = Vec::new();
            for table in super::TABLES {
                let mut stmt = conn.prepare(&format!("SELECT * FROM {table}"))?;
                let names: Vec<String> =
                    stmt.column_names().iter().map(|n| n.to_string()).collect();
                let rows = stmt.query_map([], |row| {
                    let mut obj = serde_json::Map::new();
                    for (i, name) in names.iter().enumerate() {
                        use rusqlite::types::ValueRef;
                        let v = match row.get_ref(i)? {
                            ValueRef::Null => serde_json::Value::Null,
                            ValueRef::Integer(n) => serde_json::Value::from(n),
                            ValueRef::Real(f) => serde_json::Value::from(f),
                            ValueRef::Text(t) => {
                                let text = String::from_utf8_lossy(t).into_owned();
                                if matches!(name.as_str(), "report" | "fields" | "body") {
                                    serde_json::from_str(&text)
                                        .unwrap_or(serde_json::Value::String(text))
                                } else {
                                    serde_json::Value::String(text)
                                }
                            }
                            ValueRef::Blob(b) => {
                                serde_json::Value::String(String::from_utf8_lossy(b).into_owned())
                            }
                        };
                        obj.insert(name.clone(), v);
                    }
                    Ok(serde_json::Value::Object(obj))
                })?;
                tables.push((
                    table.to_string(),
                    rows.collect::<rusqlite::Result<Vec<_>>>()?,
                ));
            }
            Ok(super::Snapshot { tables })
        })
    }

    async fn row_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.with(|conn| {
            super::TABLES
                .iter()
                .map(|t| {
                    let n: i64 =
                        conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?;
                    Ok((t.to_string(), n as u64))
                })
                .collect()
        })
    }

    async fn job_events(&self, job_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at, kind, body FROM events WHERE job_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([job_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?;
            rows.collect::<rusqlite::Result<Vec<RawEvent>>>()
        })?;
        decode_events(rows)
    }

    async fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        self.with(|c| queue::jobs(c, filter))
    }

    async fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        self.with(|c| queue::job_by_id(c, id))
    }

    async fn incidents(&self, open_only: bool) -> Result<Vec<Incident>, StoreError> {
        self.with(|c| queue::incidents(c, open_only))
    }

    async fn incident(&self, id: &str) -> Result<Option<(Incident, Vec<String>)>, StoreError> {
        self.with(|c| queue::incident_by_id(c, id))
    }

    async fn status(&self) -> Result<Status, StoreError> {
        self.with(queue::status)
    }

    async fn recent_events(
        &self,
        kind: &str,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at, kind, body FROM events WHERE kind = ?1 ORDER BY seq DESC LIMIT ?2",
            )?;
            let limit = if limit == 0 { i64::MAX } else { limit as i64 };
            let rows = stmt.query_map(params![kind, limit], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        decode_events(rows)
    }

    async fn recent_dispatches(&self, limit: usize) -> Result<Vec<DispatchSummary>, StoreError> {
        self.with(|conn| {
            let sql = format!("SELECT {SUMMARY_COLUMNS} FROM dispatches ORDER BY id DESC LIMIT ?1");
            let mut stmt = conn.prepare(&sql)?;
            let limit = if limit == 0 { i64::MAX } else { limit as i64 };
            let rows = stmt.query_map([limit], summary)?;
            rows.collect()
        })
    }

    async fn dispatch(&self, id_or_prefix: &str) -> Result<Option<DispatchRecord>, StoreError> {
        let found = self.with(|conn| {
            let sql = format!("SELECT {SUMMARY_COLUMNS}, report FROM dispatches WHERE id >= ?1 AND id < ?1 || x'ff' ORDER BY id LIMIT 2");
            let mut stmt = conn.prepare(&sql)?;
            let rows: Vec<(DispatchSummary, Option<String>)> = stmt
                .query_map([id_or_prefix], |row| Ok((summary(row)?, row.get(12)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })?;
        let exact = found
            .first()
            .is_some_and(|(s, _)| s.dispatch_id == id_or_prefix);
        if found.len() > 1 && !exact {
            return Err(StoreError::Ambiguous(id_or_prefix.to_string()));
        }
        let Some((summary, report)) = found.into_iter().next() else {
            return Ok(None);
        };
        let report = report
            .map(|r| {
                serde_json::from_str(&r).map_err(|e| {
                    StoreError::Corrupt(format!("report of {}: {e}", summary.dispatch_id))
                })
            })
            .transpose()?;
        let raw_events = self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at, kind, body FROM events WHERE dispatch_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([&summary.dispatch_id], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let events = decode_events(raw_events)?;
        Ok(Some(
            DispatchRecord {
                summary,
                report,
                events,
            }
            .restored(),
        ))
    }
}

#[async_trait]
impl Store for SqliteStore {

}

impl SqliteStore {
    /// Whether a dispatch row exists (used by tests and `show`).
    pub fn exists(&self, id: &str) -> Result<bool, StoreError> {
        self.with(|conn| {
            conn.query_row("SELECT 1 FROM dispatches WHERE id = ?1", [id], |_| Ok(()))
                .optional()
                .map(|r| r.is_some())
        })
    }
}
