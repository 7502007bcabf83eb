//! PostgreSQL restarted while workers drain a lane (`pg_ctl restart -m
//! fast`, and `-m immediate`: a crash and recovery), on a private cluster so
//! the shared server is not disturbed. The workers wait for the store and go
//! on; every job succeeds exactly once and no two runs of a job overlap.

use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::harness::{expect_clean_exits, read, serial, wait_for, Lab};
use crate::verdict;

const JOBS: usize = 2000;
const WORKERS: usize = 4;

fn ends(lab: &Lab) -> usize {
    read(&lab.run_log).matches(r#""event":"end""#).count()
}

fn drain_through_restarts(mode: &str) {
    let _serial = serial();
    let cluster = Cluster::start();
    let lab = Lab::new(
        &cluster.url(),
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
    // Restart mid-run, twice: once early, once half-way.
    for at in [JOBS / 5, JOBS / 2] {
        wait_for(
            &format!("{at} finished runs before restarting"),
            Duration::from_secs(120),
            Duration::from_millis(20),
            || (ends(&lab) >= at).then_some(()),
        );
        let before = Instant::now();
        cluster.restart(mode);
        let after = ends(&lab);
        eprintln!(
            "pg_ctl restart -m {mode} at {at} runs took {:.1} s; {after} runs had finished when it answered again",
            before.elapsed().as_secs_f64()
        );
        assert!(
            after < JOBS,
            "the lane was drained before the restart was over: it proves nothing"
        );
    }
    expect_clean_exits(&mut workers, Duration::from_secs(180));
    eprintln!(
        "{JOBS} jobs through two restarts ({mode}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Informational: the workers say so when their loop had to wait for the
    // store (failures inside a settlement are retried silently).
    let waited: Vec<&str> = workers
        .iter()
        .filter(|w| w.stderr().contains("retrying until it answers"))
        .map(|w| w.name.as_str())
        .collect();
    let reruns = verdict::each_job_succeeded_once(&lab, &cluster.url(), &ids);
    eprintln!(
        "workers that waited for the store: {waited:?}; jobs run more than once (released or rescued, never overlapping): {reruns}"
    );
}

#[test]
fn postgres_restarted_mid_claim_loses_and_double_runs_no_job_fast() {
    drain_through_restarts("fast");
}

#[test]
fn postgres_restarted_mid_claim_loses_and_double_runs_no_job_immediate() {
    drain_through_restarts("immediate");
}
