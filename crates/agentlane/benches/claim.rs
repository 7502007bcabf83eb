//! Claim latency on PostgreSQL with 0, 100,000 and 1,000,000 finished jobs in
//! the table (issue 7's goal: it does not grow with the number of finished
//! jobs). Each iteration enqueues one job (not timed), claims it the way a
//! worker does (timed) and settles it as done (not timed). Besides criterion's
//! estimate, the bench prints p50/p90/p99 of its own per-claim samples.
//!
//! Run: `cargo bench -p agentlane --bench claim`. It works in a private
//! database, `agentlane_bench_claim_<pid>`, on the server named by
//! `AGENTLANE_BENCH_POSTGRES` (a server URL without a database; default
//! `postgres://postgres@127.0.0.1:5432`; a query string such as
//! `?options=-c%20synchronous_commit%3Doff` applies to every connection), whose
//! user must be allowed to create databases; the database is dropped at the end. Without a reachable
//! server the bench prints why and measures nothing. `AGENTLANE_BENCH_CLAIM_SIZES`
//! (default `0,100000,1000000`) changes the table sizes.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use agentlane::class::Class;
use agentlane::queue::{Completion, NewJob, Next};
use agentlane::store::postgres::PostgresStore;
use agentlane::store::QueueStore;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls};

const LANE: &str = "main";
const ROUTE: &str = "true";
const OWNER: &str = "bench@claim";
const LEASE: Duration = Duration::from_secs(30);

async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    config.connect_timeout(Duration::from_secs(3));
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Drops the private database when the bench ends, however it ends.
struct PrivateDatabase {
    server: String,
    name: String,
}

impl Drop for PrivateDatabase {
    fn drop(&mut self) {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = rt.block_on(async {
            let admin = connect(&format!("{}/postgres", self.server)).await?;
            admin.batch_execute(&sql).await
        });
        if let Err(e) = dropped {
            eprintln!("claim bench: could not drop database {}: {e}", self.name);
        }
    }
}

/// Adds finished jobs `from..to` (ids that sort before any UUIDv7 of today),
/// in one statement, then vacuums and analyzes the table as autovacuum would.
/// An empty table is left as migrations made it (never analyzed): statistics
/// saying "0 rows" would give the claim a sequential-scan plan that each
/// connection keeps until the next analyze (see docs/performance.md).
async fn fill(client: &Client, from: i64, to: i64) {
    if to == 0 {
        return;
    }
    if to > from {
        client
            .execute(
                "INSERT INTO jobs (id, kind, lane, route, prompt, fields, priority, state, attempts,
                                   run_at, created_at, updated_at, finished_at, classifier, next_action, reason, last_dispatch_id)
                 SELECT '00000000-0000-7000-8000-' || lpad(g::text, 12, '0'), 'k', $3, $4, 'finished job ' || g, '{}', 0,
                        'succeeded', 1, t, t, t, t, 'ok', 'done', 'succeeded', NULL
                 FROM generate_series($1::bigint, $2::bigint - 1) g, (SELECT now() - interval '1 day' AS t) c",
                &[&from, &to, &LANE, &ROUTE],
            )
            .await
            .expect("fill the jobs table");
    }
    client
        .batch_execute("VACUUM ANALYZE jobs")
        .await
        .expect("vacuum");
}

fn new_job() -> NewJob {
    NewJob {
        kind: "k".into(),
        lane: LANE.into(),
        route: ROUTE.into(),
        prompt: "claim bench".into(),
        fields: BTreeMap::new(),
        priority: 0,
        key: None,
        label: None,
    }
}

/// One iteration: enqueue, claim (timed), settle as done.
async fn claim_once(store: &PostgresStore, routes: &[String]) -> Duration {
    store.enqueue(&[new_job()]).await.expect("enqueue");
    let started = Instant::now();
    let claimed = store
        .claim(LANE, routes, OWNER, LEASE, 1)
        .await
        .expect("claim");
    let took = started.elapsed();
    let job = claimed.into_iter().next().expect("one job claimed");
    let settled = store
        .settle(&Completion {
            job_id: job.id,
            attempt: job.attempts,
            owner: OWNER.into(),
            dispatch_id: None,
            class: Class::Ok,
            next: Next::Done,
            reason: "succeeded".into(),
            incident: None,
        })
        .await
        .expect("settle");
    assert!(settled, "the claimed job settles");
    took
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// The table sizes to measure; small ones when criterion only checks that the
/// bench runs (`cargo test --benches`, `cargo bench -- --test`).
fn sizes() -> Vec<i64> {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench");
    std::env::var("AGENTLANE_BENCH_CLAIM_SIZES")
        .ok()
        .map(|s| {
            s.split(',')
                .map(|n| n.trim().replace('_', "").parse().expect("sizes: numbers"))
                .collect()
        })
        .unwrap_or_else(|| {
            if smoke {
                vec![0, 1_000]
            } else {
                vec![0, 100_000, 1_000_000]
            }
        })
}

fn bench(c: &mut Criterion) {
    let rt: Runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = std::env::var("AGENTLANE_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    // A query string (`?options=-c%20synchronous_commit%3Doff`) applies to every connection.
    let (server, query) = match server.split_once('?') {
        Some((s, q)) => (s.trim_end_matches('/').to_string(), format!("?{q}")),
        None => (server.trim_end_matches('/').to_string(), String::new()),
    };
    let admin = match rt.block_on(connect(&format!("{server}/postgres{query}"))) {
        Ok(admin) => admin,
        Err(e) => {
            eprintln!("claim bench: PostgreSQL is not reachable at {server} ({e}); skipped (set AGENTLANE_BENCH_POSTGRES)");
            return;
        }
    };
    let name = format!("agentlane_bench_claim_{}", std::process::id());
    let created =
        rt.block_on(admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")));
    let created =
        created.and_then(|()| rt.block_on(admin.batch_execute(&format!("CREATE DATABASE {name}"))));
    if let Err(e) = created {
        eprintln!("claim bench: cannot create database {name} on {server} ({e}); skipped");
        return;
    }
    let db = PrivateDatabase {
        server: server.clone(),
        name: name.clone(),
    };
    let url = format!("{server}/{name}{query}");
    let store = rt
        .block_on(PostgresStore::open(&url))
        .expect("open the store");
    let sql = rt.block_on(connect(&url)).expect("connect");
    let routes = vec![ROUTE.to_string()];

    let mut group = c.benchmark_group("claim_postgres");
    group
        .sample_size(100)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    let mut report = Vec::new();
    let mut filled = 0i64;
    for n in sizes() {
        let started = Instant::now();
        rt.block_on(fill(&sql, filled, n));
        filled = filled.max(n);
        eprintln!(
            "claim bench: {n} finished jobs in the table ({:.1} s to fill and vacuum)",
            started.elapsed().as_secs_f64()
        );
        let samples = RefCell::new(Vec::new());
        group.bench_with_input(BenchmarkId::new("finished_jobs", n), &n, |b, _| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let took = claim_once(&store, &routes).await;
                        samples.borrow_mut().push(took);
                        total += took;
                    }
                    total
                })
            })
        });
        let mut all = samples.into_inner();
        if all.is_empty() {
            continue; // filtered out on the command line
        }
        all.sort_unstable();
        let mean = all.iter().sum::<Duration>() / all.len().max(1) as u32;
        eprintln!(
            "claim bench: {n} finished jobs: {} claims, mean {:.0} µs, p50 {:.0} µs, p90 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
            all.len(),
            micros(mean),
            micros(percentile(&all, 0.50)),
            micros(percentile(&all, 0.90)),
            micros(percentile(&all, 0.99)),
            micros(*all.last().unwrap()),
        );
        report.push((n, all.len(), mean, all));
    }
    group.finish();

    println!("\nclaim latency on PostgreSQL (own samples, warm-up included; every claim took one job):\n");
    println!("| finished jobs | claims | mean | p50 | p90 | p99 | max |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (n, count, mean, all) in &report {
        println!(
            "| {n} | {count} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs |",
            micros(*mean),
            micros(percentile(all, 0.50)),
            micros(percentile(all, 0.90)),
            micros(percentile(all, 0.99)),
            micros(*all.last().unwrap()),
        );
    }
    drop(store);
    drop(sql);
    drop(admin);
    drop(db);
}

criterion_group!(benches, bench);
criterion_main!(benches);
