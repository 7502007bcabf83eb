//! Backends terminated with `pg_terminate_backend` while workers drain a
//! lane: the workers reconnect and go on; every job succeeds exactly once
//! and no two runs of a job overlap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::{expect_clean_exits, serial, try_psql, url_with_schema, Lab, PgSchema};
use crate::verdict;

const JOBS: usize = 2000;
const WORKERS: usize = 4;

#[test]
fn backends_terminated_with_pg_terminate_backend_do_not_lose_or_double_run_jobs() {
    let _serial = serial();
    let Some(pg) = PgSchema::new("terminate") else {
        return;
    };
    // The workers' connections carry this name; only they are terminated.
    let app = format!("chaos_terminate_{}", std::process::id());
    let lab = Lab::new(
        &url_with_schema(&pg.base, &pg.name, Some(&app)),
        r#"
[queue]
poll = "10ms"
lease = "6s"
shutdown_grace = "2s"
[routes.r]
profile = "generic"
program = "$FAKE"
args = ["--run-log", "$LOG", "--exit", "0"]
[kinds.k]
routes = ["r"]
[lanes.main]
"#,
    );
    let ids = lab.enqueue("k", "main", JOBS);
    let started = Instant::now();
    let mut workers: Vec<_> = (0..WORKERS)
        .map(|i| lab.worker(&format!("w{i}"), 2, true))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let stop = stop.clone();
        let base = pg.base.clone();
        let sql = format!(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = '{app}'"
        );
        std::thread::spawn(move || {
            let (mut rounds, mut terminated) = (0u64, 0u64);
            while !stop.load(Ordering::SeqCst) {
                if let Ok(n) = try_psql(&base, &sql) {
                    rounds += 1;
                    terminated += n.parse::<u64>().unwrap_or(0);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            (rounds, terminated)
        })
    };
    let drained = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        expect_clean_exits(&mut workers, Duration::from_secs(180))
    }));
    stop.store(true, Ordering::SeqCst);
    let (rounds, terminated) = killer.join().unwrap();
    eprintln!(
        "{JOBS} jobs in {:.1} s; {terminated} backends terminated in {rounds} rounds",
        started.elapsed().as_secs_f64()
    );
    if let Err(panic) = drained {
        std::panic::resume_unwind(panic);
    }
    assert!(
        terminated >= 10,
        "too few backends were terminated to prove anything: {terminated}"
    );
    let reruns = verdict::each_job_succeeded_once(&lab, &pg.url, &ids);
    eprintln!("jobs run more than once (released or rescued, never overlapping): {reruns}");
}
