//! The same suite on PostgreSQL: each test in a fresh schema of the database
//! named by `AGENTLANE_TEST_POSTGRES` (default: the local server's `test`
//! database). `.ci/run` starts the server when it is not running.
//!
//! Without a server the tests skip, saying so once on stderr; with
//! `AGENTLANE_REQUIRE_PG=1` (`.ci/run` sets it) they fail instead.

use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::store::postgres::{redacted_url, PostgresStore};
use crate::store::{QueueStore, Store};

fn base_url() -> String {
    std::env::var("AGENTLANE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

async fn drop_schema(schema: &str) {
    if let Ok((client, conn)) = tokio_postgres::connect(&base_url(), tokio_postgres::NoTls).await {
        tokio::spawn(conn);
        let _ = client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await;
    }
}

/// Why the server could not be used, once a test found out: the tests after
/// it skip without trying again (a server that does not answer would make
/// each of them wait for the timeout).
static UNREACHABLE: OnceLock<String> = OnceLock::new();

/// A fresh schema, and a URL whose connections use it; `None` when there is
/// no server to test against (see [`skip`]).
async fn fresh_schema() -> Option<(String, String)> {
    if UNREACHABLE.get().is_some() {
        return skip(String::new());
    }
    let connected = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_postgres::connect(&base_url(), tokio_postgres::NoTls),
    )
    .await;
    let (client, conn) = match connected {
        Ok(Ok(connected)) => connected,
        Ok(Err(e)) => {
            // "error connecting to server: Connection refused (os error 111)"
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                why = format!("{why}: {cause}");
                source = cause.source();
            }
            return skip(why);
        }
        Err(_) => return skip("no answer within 10 s".to_string()),
    };
    let schema = format!("al_test_{}", uuid::Uuid::now_v7().simple());
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create schema");
    let sep = if base_url().contains('?') { '&' } else { '?' };
    Some((
        format!("{}{sep}options=-c%20search_path%3D{schema}", base_url()),
        schema,
    ))
}

/// No server (`why`, or what an earlier test found when empty): a failure
/// under `AGENTLANE_REQUIRE_PG=1`, else a skip, said once per test binary
/// on the real stderr (a passing test's captured output is never shown).
fn skip<T>(why: String) -> Option<T> {
    let why = UNREACHABLE.get().cloned().unwrap_or(why);
    let server = redacted_url(&base_url());
    if std::env::var("AGENTLANE_REQUIRE_PG").is_ok_and(|v| !v.is_empty() && v != "0") {
        panic!(
            "PostgreSQL conformance suite: no usable server at {server} ({why}), and \
             AGENTLANE_REQUIRE_PG=1 makes that a failure, not a skip; start one \
             (README: Run the tests) or set AGENTLANE_TEST_POSTGRES"
        );
    }
    if UNREACHABLE.set(why.clone()).is_ok() {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: PostgreSQL conformance suite — no usable server at {server} ({why}); \
             start one (README: Run the tests) or set AGENTLANE_TEST_POSTGRES; .ci/run starts \
             one and sets AGENTLANE_REQUIRE_PG=1"
        );
    }
    None
}

async fn open(url: &str) -> PostgresStore {
    PostgresStore::open(url)
        .await
        .expect("open the PostgreSQL store")
}

use super as conformance;

/// Tests of the conformance cases, each with a store from the `open`
/// in scope where the macro is used.
macro_rules! cases {
    ($($test:ident => $case:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $test() {
            let Some((url, schema)) = fresh_schema().await else {
            return;
        };
            let store = open(&url).await;
            conformance::$case(&store).await;
            drop_schema(&schema).await;
        }
    )*};
}

/// The same cases with every statement sent unnamed with its parameter
/// types, as under a pooler's transaction pooling (`pool_mode=transaction`),
/// straight to the server: each statement's types are learned and used.
mod unnamed {
    use super::{drop_schema, fresh_schema, PostgresStore};
    use crate::store::conformance;

    async fn open(url: &str) -> PostgresStore {
        PostgresStore::open(&format!("{url}&pool_mode=transaction"))
            .await
            .expect("open the PostgreSQL store (pool_mode=transaction)")
    }

    every_case!(cases);
}

every_case!(cases);

/// A large enqueue into a table analyzed while empty refreshes the
/// statistics, so claims planned afterwards use the claim index instead
/// of scanning the table (a plan that grows with every finished job).
#[tokio::test]
async fn a_large_enqueue_refreshes_statistics_analyzed_empty() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let store = open(&url).await;
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client.batch_execute("ANALYZE jobs").await.expect("analyze");
    let reltuples = || async {
        client
            .query_one(
                "SELECT reltuples FROM pg_class WHERE oid = 'jobs'::regclass",
                &[],
            )
            .await
            .expect("reltuples")
            .get::<_, f32>(0)
    };
    assert_eq!(reltuples().await, 0.0, "analyzed empty");
    let jobs: Vec<_> = (0..1500).map(|_| super::new_job("stats", "r", 0)).collect();
    super::enqueue(&store, &jobs).await;
    let after = reltuples().await;
    assert!(after >= 1500.0, "statistics refreshed: reltuples {after}");
    drop_schema(&schema).await;
}

/// The times every read renders (`al_ts`) are inlined into the statement,
/// not run as a SQL function of their own for each value.
#[tokio::test]
async fn rendered_times_are_inlined() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let _store = open(&url).await; // migrated
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let plan: String = client
        .query("EXPLAIN VERBOSE SELECT al_ts(now())", &[])
        .await
        .expect("explain")
        .iter()
        .map(|r| r.get::<_, String>(0) + "\n")
        .collect();
    assert!(
        plan.contains("to_char") && !plan.contains("al_ts("),
        "al_ts is not inlined:\n{plan}"
    );
    drop_schema(&schema).await;
}

/// The settlement's fence and the lease renewal find their jobs by primary
/// key in the generic plans a worker's cached statements end up with, on
/// statistics where few jobs run (the usual case). Through the partial
/// `jobs_leases` index the lookup would visit every lease taken since the
/// last vacuum: a per-job cost that grows with the churn.
#[tokio::test]
async fn settlement_and_renewal_find_the_job_by_primary_key() {
    use crate::store::postgres::queue_sql;
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let store = open(&url).await;
    let jobs: Vec<_> = (0..1500).map(|_| super::new_job("plans", "r", 0)).collect();
    super::enqueue(&store, &jobs).await; // analyzes: every job queued, none running
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute("SET plan_cache_mode = force_generic_plan")
        .await
        .expect("generic plans");
    // (name, statement, its parameters, the part of the plan that must use the key)
    let cases = [
        ("settle", queue_sql::settle_sql(), 16, "CTE j"),
        (
            "finish_settle_and_claim",
            queue_sql::finish_settle_and_claim_sql(),
            30,
            "CTE j",
        ),
        ("renew", queue_sql::RENEW, 3, "Update on jobs"),
    ];
    for (name, sql, params, part) in cases {
        client
            .batch_execute(&format!("PREPARE {name} AS {sql}"))
            .await
            .unwrap_or_else(|e| panic!("prepare {name}: {e}"));
        let nulls = vec!["NULL"; params].join(", ");
        let plan: String = client
            .query(&format!("EXPLAIN EXECUTE {name}({nulls})"), &[])
            .await
            .unwrap_or_else(|e| panic!("explain {name}: {e}"))
            .iter()
            .map(|r| r.get::<_, String>(0) + "\n")
            .collect();
        // The plan of `part`: from its line to the next CTE.
        let from = plan
            .find(part)
            .unwrap_or_else(|| panic!("{name}: no {part} in\n{plan}"));
        let rest = &plan[from + part.len()..];
        let scope = &rest[..rest.find("CTE ").unwrap_or(rest.len())];
        assert!(
            scope.contains("jobs_pkey") && !scope.contains("jobs_leases"),
            "{name}: the job is not found by its primary key:\n{plan}"
        );
    }
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let a: Arc<dyn Store> = Arc::new(open(&url).await);
    let b: Arc<dyn Store> = Arc::new(open(&url).await);
    super::case_concurrent_claims(a, b).await;
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_enqueued_concurrently_make_one_job() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let a: Arc<dyn Store> = Arc::new(open(&url).await);
    let b: Arc<dyn Store> = Arc::new(open(&url).await);
    super::case_keys_enqueued_concurrently_make_one_job(a, b).await;
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_counts_are_exact_under_concurrency() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..4 {
        stores.push(Arc::new(open(&url).await));
    }
    super::case_incident_counts_are_exact_under_concurrency(stores).await;
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_wait_ends_for_new_work_on_its_routes_and_nothing_else() {
    use std::time::{Duration, Instant};
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let waiter = Arc::new(open(&url).await);
    let producer = open(&url).await;
    let lane = format!("lane-{}", uuid::Uuid::now_v7().simple());
    let routes = vec!["r".to_string()];
    let wait = |timeout: Duration, listen: bool, mark: Option<f64>| {
        let (w, lane, routes) = (waiter.clone(), lane.clone(), routes.clone());
        async move {
            let started = Instant::now();
            let mut wait = crate::store::IdleWait {
                lane: &lane,
                routes: &routes,
                poll: Duration::from_millis(100),
                timeout,
                listen,
                mark,
                quiet: false,
            };
            w.wait_for_jobs(&mut wait).await;
            (started.elapsed(), wait.mark, wait.quiet)
        }
    };
    let wait = |timeout: Duration, listen: bool, mark: Option<f64>| {
        let run = wait(timeout, listen, mark);
        async move {
            let (waited, mark, _) = run.await;
            (waited, mark)
        }
    };
    let quiet = |listen: bool| {
        let (w, lane, routes) = (waiter.clone(), lane.clone(), routes.clone());
        async move {
            let mut wait = crate::store::IdleWait {
                lane: &lane,
                routes: &routes,
                poll: Duration::from_millis(100),
                timeout: Duration::from_millis(300),
                listen,
                mark: None,
                quiet: false,
            };
            w.wait_for_jobs(&mut wait).await;
            wait.quiet
        }
    };
    // An empty lane: the wait runs out quiet (the next pass claims nothing).
    assert!(quiet(false).await, "an empty lane's wait was not quiet");
    // Start the kept connection and drain the wake-up every (re)connect gives.
    let (_, mark) = wait(Duration::from_millis(500), true, None).await;
    let (_, mark) = wait(Duration::from_millis(200), true, mark).await;
    let idle = tokio::spawn(wait(Duration::from_secs(20), true, mark));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let job = crate::queue::NewJob {
        kind: "k".into(),
        lane: lane.clone(),
        route: "r".into(),
        prompt: "p".into(),
        fields: Default::default(),
        priority: 0,
        key: None,
        label: None,
    };
    producer
        .enqueue(std::slice::from_ref(&job))
        .await
        .expect("enqueue");
    let (waited, mark) = idle.await.expect("join");
    assert!(
        waited >= Duration::from_millis(250),
        "woken before the enqueue ({waited:?}): a stale wake-up"
    );
    assert!(
        waited < Duration::from_secs(10),
        "not woken by NOTIFY: waited {waited:?} of the 20 s poll"
    );
    // The job still waits (nobody claims it here): it ends the waits of
    // the next 2 s (a mark may have been taken before its enqueue
    // committed), then no more (the passes after the mark saw it), with or
    // without LISTEN.
    let (waited, _) = wait(Duration::from_secs(5), true, mark).await;
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (_, mark) = wait(Duration::from_millis(100), false, None).await;
    let (waited, mark) = wait(Duration::from_millis(600), true, mark).await;
    assert!(
        waited >= Duration::from_millis(550),
        "a job due before the mark woke a wait after it ({waited:?})"
    );
    let (waited, mark) = wait(Duration::from_millis(600), false, mark).await;
    assert!(
        waited >= Duration::from_millis(550),
        "a job due before the mark woke a polling wait ({waited:?})"
    );
    // Without LISTEN, a job enqueued during the wait ends it within a poll
    // or two (the cheap question every 100 ms), not at the timeout.
    let polling = tokio::spawn(wait(Duration::from_secs(20), false, mark));
    tokio::time::sleep(Duration::from_millis(300)).await;
    producer
        .enqueue(std::slice::from_ref(&job))
        .await
        .expect("enqueue");
    let (waited, _) = polling.await.expect("join");
    assert!(
        waited < Duration::from_secs(2),
        "a polling wait missed a new job: waited {waited:?} of 20 s"
    );
    // A job on a route the worker cannot run does not end its wait.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (_, mark) = wait(Duration::from_millis(100), false, None).await;
    let other = tokio::spawn(wait(Duration::from_millis(800), false, mark));
    tokio::time::sleep(Duration::from_millis(200)).await;
    producer
        .enqueue(&[crate::queue::NewJob {
            route: "elsewhere".into(),
            ..job
        }])
        .await
        .expect("enqueue");
    let (waited, _) = other.await.expect("join");
    assert!(
        waited >= Duration::from_millis(750),
        "a job on another route woke the wait ({waited:?})"
    );
    // Jobs still due (nobody claimed them), on its routes or on a route
    // that did not pass its gate: not quiet.
    assert!(!quiet(true).await, "a wait with a job due was quiet");
    assert!(
        !quiet(false).await,
        "a polling wait with a job due was quiet"
    );
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_workers_migrating_an_empty_database_at_once() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let opens = (0..5).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { PostgresStore::open(&url).await.map(|_| ()) })
    });
    for handle in opens.collect::<Vec<_>>() {
        handle
            .await
            .expect("join")
            .expect("every concurrent start migrates or finds the schema migrated");
    }
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_gives_one_trial() {
    let Some((url, schema)) = fresh_schema().await else {
        return;
    };
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..4 {
        stores.push(Arc::new(open(&url).await));
    }
    super::case_half_open_gives_one_trial(stores).await;
    drop_schema(&schema).await;
}
