//! The conformance suite on SQLite: each case on a fresh SQLite file.

use std::sync::Arc;

use crate::store::sqlite::SqliteStore;
use crate::store::Store;

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("agentlane.db")).expect("open the store")
}

macro_rules! cases {
    ($($test:ident => $case:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $test() {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = open(&dir);
            super::$case(&store).await;
        }
    )*};
}

every_case!(cases);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a: Arc<dyn Store> = Arc::new(open(&dir));
    let b: Arc<dyn Store> = Arc::new(open(&dir));
    super::case_concurrent_claims(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_counts_are_exact_under_concurrency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stores: Vec<Arc<dyn Store>> = (0..4).map(|_| Arc::new(open(&dir)) as _).collect();
    super::case_incident_counts_are_exact_under_concurrency(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_enqueued_concurrently_make_one_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a: Arc<dyn Store> = Arc::new(open(&dir));
    let b: Arc<dyn Store> = Arc::new(open(&dir));
    super::case_keys_enqueued_concurrently_make_one_job(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_gives_one_trial() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stores: Vec<Arc<dyn Store>> = (0..4).map(|_| Arc::new(open(&dir)) as _).collect();
    super::case_half_open_gives_one_trial(stores).await;
}
