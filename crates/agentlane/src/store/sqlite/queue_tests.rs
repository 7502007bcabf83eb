//! The SQLite queue's own checks (the shared ones are in `store::conformance`).

use crate::class::Class;
use crate::model::{IncidentFacts, IncidentState, RepairAddress};
use crate::store::sqlite::SqliteStore;
use crate::store::{QueueStore, Reader, StoreError};

/// A failed statement keeps SQLite's own result code beside the
/// message, so callers can tell a constraint from a missing table
/// without reading words.
#[test]
fn a_backend_failure_carries_sqlites_result_code() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        .unwrap();
    let cases = [
        ("SELECT * FROM no_such_table", "1"),           // SQLITE_ERROR
        ("INSERT INTO t (id) VALUES (1), (1)", "1555"), // SQLITE_CONSTRAINT_PRIMARYKEY
    ];
    for (sql, code) in cases {
        let e = conn.execute_batch(sql).unwrap_err();
        match crate::store::sqlite::backend(&db)(e) {
            StoreError::Backend { code: got, .. } => {
                assert_eq!(got.as_deref(), Some(code), "{sql}")
            }
            other => panic!("{sql}: {other:?}"),
        }
    }
}

/// A stored label no enum knows is a corrupt row with its column named,
/// never a default that reads as something else.
#[tokio::test]
async fn an_incident_row_decodes_by_name_and_a_foreign_label_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let store = SqliteStore::open(&db).unwrap();
    let id = store
        .open_incident(&IncidentFacts {
            fingerprint: "fp".into(),
            class: Class::AuthUnavailable,
            route: Some("r".into()),
            lane: Some("l".into()),
            host: "h".into(),
            repair_hint: "log in".into(),
            evidence: None,
            reset_at: None,
            stamp: None,
        })
        .await
        .unwrap();
    let read = store.incidents(false).await.unwrap();
    assert_eq!(read[0].id, id);
    assert_eq!(read[0].classifier, Class::AuthUnavailable);
    assert_eq!(read[0].state, IncidentState::Open);
    assert_eq!(read[0].repair_address, RepairAddress::Runtime);
    drop(store);
    let conn = rusqlite::Connection::open(&db).unwrap();
    // (state has a CHECK constraint; the class and the address do not)
    conn.execute("UPDATE incidents SET classifier = 'made_up_class'", [])
        .unwrap();
    drop(conn);
    let store = SqliteStore::open(&db).unwrap();
    match store.incidents(false).await {
        Err(e) => assert!(e.to_string().contains("incidents.classifier"), "{e}"),
        Ok(rows) => panic!("a foreign class read as {:?}", rows[0].classifier),
    }
}

/// A job whose payload fields no longer decode is a corrupt row naming
/// `jobs.fields`: never read as a job with no fields.
#[tokio::test]
async fn a_job_row_with_corrupt_fields_is_corrupt_not_empty() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let store = SqliteStore::open(&db).unwrap();
    let ids = store
        .enqueue(&[crate::model::NewJob {
            kind: "k".into(),
            lane: "l".into(),
            route: "r".into(),
            prompt: "p".into(),
            fields: [("n".to_string(), serde_json::json!(1))].into(),
            priority: 0,
            key: None,
            label: None,
        }])
        .await
        .unwrap();
    let job = store.job(&ids[0]).await.unwrap().unwrap();
    assert_eq!(job.fields["n"], 1);
    drop(store);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE jobs SET fields = '{not json'", [])
        .unwrap();
    drop(conn);
    let store = SqliteStore::open(&db).unwrap();
    match store.job(&ids[0]).await {
        Err(e) => assert!(e.to_string().contains("jobs.fields"), "{e}"),
        Ok(j) => panic!("a corrupt payload read as {j:?}"),
    }
}
