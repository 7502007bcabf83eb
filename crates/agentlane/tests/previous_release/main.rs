//! Databases written by the previous release open with the current code and
//! read back whole: every job, dispatch, report, event and incident.
//!
//! The fixtures under `tests/data/db/` were written by agentlane at schema
//! version 5 (SQLite `PRAGMA user_version` 5; PostgreSQL migrations 1–5), the
//! release before issue 15's model refactor, through the library's own Store
//! API (`scenario` below): jobs in every state the API can reach (queued,
//! scheduled, running under a lease, succeeded, failed, parked, released by
//! an incident's resolution), retried attempts, a rescued worker_lost attempt
//! and a rejected late decision, reports of every outcome with a reset_at,
//! open and resolved incidents with their jobs, and events that belong to no
//! job (an exec, a preflight).
//!
//! - `release-5.sqlite`: the SQLite file (checkpointed, journal_mode DELETE).
//! - `release-5.postgres.sql`: `pg_dump --schema=agentlane_release_fixture
//!   --no-owner --no-privileges --column-inserts` of the same scenario on
//!   PostgreSQL; the test restores it into a fresh schema (the schema name
//!   replaced) and opens it through `options=-c search_path=...`, as the
//!   conformance suite does.
//! - `release-5.<store>.readback.json`: everything the release read back from
//!   its fixture through the Store API, rendered field by field by
//!   `readback` below. The test opens a copy of the fixture with the current
//!   store (which migrates it if it must), reads it back the same way and
//!   compares the bytes; `check_scenario` also asserts the values that
//!   matter one by one (states, attempts, classes, counts, reset_at, report
//!   fields), independent of the generated ids and times.
//!
//! After issue 15, keep the fixtures as they are: they ARE the previous
//! release. Only `readback`'s rendering may change with the model (the
//! expected bytes not). To write them anew (same scenario, new ids and
//! times), at a commit that is a release:
//!
//! ```text
//! REGENERATE_DB_FIXTURE=1 cargo test -p agentlane --test previous_release
//! ```
//!
//! then `UPDATE_SNAPSHOTS=1 cargo test -p agentlane-cli --test
//! previous_release_cli`: the command's JSON about the SQLite fixture
//! (`tests/data/snapshots/cli/`) is read from it.
//!
//! The PostgreSQL half needs a server (AGENTLANE_TEST_PG_URL, else
//! AGENTLANE_TEST_POSTGRES, else postgres://postgres@127.0.0.1:5432/test) and
//! `pg_dump`; without a server it prints why it skipped, unless
//! AGENTLANE_REQUIRE_PG=1 makes that a failure.

mod check;
#[path = "../support/fixed.rs"]
mod fixed;
mod readback;
mod scenario;

use std::path::{Path, PathBuf};
use std::time::Duration;

use agentlane::events::Event;
use agentlane::queue::{Incident, Job, JobFilter, Next};
use agentlane::store::postgres::PostgresStore;
use agentlane::store::sqlite::SqliteStore;
use agentlane::store::{DispatchSummary, Store, StoredEvent};
use agentlane::Class;
use fixed::*;
use serde_json::{json, Value};

/// The schema version the fixtures were written at.
const SCHEMA_VERSION: i64 = 5;
/// The schema the PostgreSQL fixture is dumped from (replaced on restore).
const PG_FIXTURE_SCHEMA: &str = "agentlane_release_fixture";
const OWNER: &str = "build-01:4242";
const RESCUER: &str = "build-02:77";

fn db_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/db")
}

fn regenerating() -> bool {
    std::env::var_os("REGENERATE_DB_FIXTURE").is_some_and(|v| v == "1")
}

const EVENT_KINDS: [&str; 7] = [
    "runner_prepare",
    "runner_exit",
    "runner_classified_failure",
    "preflight_checked",
    "job_decided",
    "job_decision_rejected",
    "job_admitted",
];

// ---------------------------------------------------------------- scenario

use check::*;
use readback::*;
use scenario::*;

fn first_difference(actual: &str, expected: &str) -> String {
    let (a, e): (Vec<_>, Vec<_>) = (actual.lines().collect(), expected.lines().collect());
    for i in 0..a.len().max(e.len()) {
        if a.get(i) != e.get(i) {
            return format!(
                "line {}:\n  expected: {}\n  actual:   {}",
                i + 1,
                e.get(i).unwrap_or(&"<end>"),
                a.get(i).unwrap_or(&"<end>")
            );
        }
    }
    "only the final newline differs".to_string()
}

/// Compares the readback with the release's (or writes it, regenerating).
fn compare_readback(v: &Value, file: &str) {
    let path = db_dir().join(file);
    let actual = serde_json::to_string_pretty(v).unwrap() + "\n";
    if regenerating() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is missing ({e})", path.display()));
    assert!(
        actual == expected,
        "the store reads back {} differently from the previous release ({})",
        path.display(),
        first_difference(&actual, &expected)
    );
}

// ---------------------------------------------------------------- SQLite

fn sqlite_fixture() -> PathBuf {
    db_dir().join(format!("release-{SCHEMA_VERSION}.sqlite"))
}

async fn regenerate_sqlite(fixture: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("release.sqlite");
    let store = SqliteStore::open(&db).unwrap();
    scenario(&store).await;
    drop(store);
    // One self-contained file: the WAL folded in, no journal left behind.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))
        .unwrap();
    conn.execute_batch("VACUUM").unwrap();
    drop(conn);
    std::fs::create_dir_all(fixture.parent().unwrap()).unwrap();
    std::fs::copy(&db, fixture).unwrap();
}

#[tokio::test]
async fn sqlite_database_of_the_previous_release_reads_back_whole() {
    let fixture = sqlite_fixture();
    if regenerating() {
        regenerate_sqlite(&fixture).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agentlane.sqlite");
    std::fs::copy(&fixture, &db).unwrap();
    let version: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION, "the fixture's schema version");
    let store = SqliteStore::open(&db).expect("the current store opens (and migrates) it");
    let v = readback(&store).await;
    check_scenario(&v);
    compare_readback(
        &v,
        &format!("release-{SCHEMA_VERSION}.sqlite.readback.json"),
    );
    keeps_working(&store, &v).await;
}

// ---------------------------------------------------------------- PostgreSQL

fn pg_url() -> String {
    std::env::var("AGENTLANE_TEST_PG_URL")
        .or_else(|_| std::env::var("AGENTLANE_TEST_POSTGRES"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

async fn pg_connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let connect = tokio_postgres::connect(url, tokio_postgres::NoTls);
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok((client, conn))) => {
            tokio::spawn(conn);
            Ok(client)
        }
        Ok(Err(e)) => Err(match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        }),
        Err(_) => Err("no answer in 10 s".to_string()),
    }
}

/// The dump without what only psql understands or what names the machine.
fn clean_dump(dump: &str) -> String {
    dump.lines()
        .filter(|l| !l.starts_with('\\'))
        .filter(|l| !l.starts_with("-- Dumped from") && !l.starts_with("-- Dumped by"))
        .map(|l| format!("{l}\n"))
        .collect()
}

async fn regenerate_postgres(client: &tokio_postgres::Client, url: &str, fixture: &Path) {
    let s = PG_FIXTURE_SCHEMA;
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}"
        ))
        .await
        .unwrap();
    let store = PostgresStore::open(&with_search_path(url, s))
        .await
        .unwrap();
    scenario(&store).await;
    drop(store);
    let out = std::process::Command::new("pg_dump")
        .args([
            "--schema",
            s,
            "--no-owner",
            "--no-privileges",
            "--column-inserts",
        ])
        .arg(format!("--dbname={url}"))
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    client
        .batch_execute(&format!("DROP SCHEMA {s} CASCADE"))
        .await
        .unwrap();
    std::fs::write(fixture, clean_dump(&String::from_utf8(out.stdout).unwrap())).unwrap();
}

#[tokio::test]
async fn postgres_database_of_the_previous_release_reads_back_whole() {
    let url = pg_url();
    let client = match pg_connect(&url).await {
        Ok(client) => client,
        Err(reason) => {
            let url = agentlane::store::postgres::redacted_url(&url);
            if std::env::var_os("AGENTLANE_REQUIRE_PG").is_some_and(|v| v == "1") {
                panic!("PostgreSQL is required (AGENTLANE_REQUIRE_PG=1) but not reachable at {url}: {reason}");
            }
            println!("skipped: previous-release PostgreSQL fixture — no server at {url} ({reason}); set AGENTLANE_TEST_PG_URL or start one");
            return;
        }
    };
    let fixture = db_dir().join(format!("release-{SCHEMA_VERSION}.postgres.sql"));
    if regenerating() {
        regenerate_postgres(&client, &url, &fixture).await;
    }
    let schema = format!("al_release_{}", uuid::Uuid::now_v7().simple());
    let dump = std::fs::read_to_string(&fixture).unwrap();
    assert!(dump.contains(&format!("CREATE SCHEMA {PG_FIXTURE_SCHEMA};")));
    client
        .batch_execute(&clean_dump(&dump).replace(PG_FIXTURE_SCHEMA, &schema))
        .await
        .expect("restore the fixture into a fresh schema");
    let version: i32 = client
        .query_one(
            &format!("SELECT max(version) FROM {schema}.agentlane_migrations"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        i64::from(version),
        SCHEMA_VERSION,
        "the fixture's schema version"
    );
    let restored = with_search_path(&url, &schema);
    let outcome = async move {
        let store = PostgresStore::open(&restored)
            .await
            .expect("the current store opens (and migrates) it");
        let v = readback(&store).await;
        check_scenario(&v);
        keeps_working(&store, &v).await;
        v
    };
    // The schema goes whatever the outcome.
    let v = tokio::spawn(outcome).await;
    let _ = client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await;
    let v = v.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    compare_readback(
        &v,
        &format!("release-{SCHEMA_VERSION}.postgres.readback.json"),
    );
}
