//! The SQLite store's file: opening, permissions, migrations, the one
//! connection behind a mutex, and how SQLite's errors become store errors.

use crate::store::StoreError;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The migrations, in order; the index + 1 is the schema version.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("0001_dispatches.sql"),
    include_str!("0002_queue.sql"),
    include_str!("0003_leaders.sql"),
    include_str!("0004_pruning.sql"),
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

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    pub(super) path: PathBuf,
    pub(super) conn: Mutex<Connection>,
}

pub(super) fn backend(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
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
            let code = match &e {
                rusqlite::Error::SqliteFailure(f, _) => Some(f.extended_code.to_string()),
                _ => None,
            };
            StoreError::Backend {
                location,
                code,
                message,
            }
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

    pub(super) fn with<T>(
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

pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
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
