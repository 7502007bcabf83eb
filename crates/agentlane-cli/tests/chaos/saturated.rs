//! The server's connection limit hit mid-run (issue 19): a private cluster
//! with `max_connections = 12`, workers connecting as an ordinary role, and
//! a hog that takes every free slot and, again and again for three leases,
//! terminates the workers' pooled connections so that their pools must ask
//! the full server for new ones. The kept connections (`agentlane kept`)
//! are left alone: lease renewals go on there, settlements wait, and
//! nothing is lost or run twice. The workers say what the refusal means
//! and what to change.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::harness::{expect_clean_exits, psql, read, serial, wait_for, Lab};
use crate::runlog;
use crate::verdict;

const JOBS: usize = 40;
const LEASE_SECS: u64 = 3;

/// A psql session of role `hog` that holds one connection slot for `secs`
/// (or fails at once when there is none).
fn hog(port: u16, secs: u64) -> Child {
    Command::new("psql")
        .args([
            "-qAtX",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "hog",
            "-d",
            "chaos",
            "-c",
            &format!("SELECT pg_sleep({secs})"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql runs")
}

#[test]
fn a_server_out_of_connection_slots_mid_run_loses_no_job_and_runs_none_twice() {
    let _serial = serial();
    let cluster = Cluster::start_with(
        "-c max_connections=12 -c superuser_reserved_connections=3",
        |_| {},
    );
    let admin = cluster.url();
    psql(&admin, "CREATE ROLE worker LOGIN");
    psql(&admin, "CREATE ROLE hog LOGIN");
    psql(&admin, "CREATE DATABASE chaos OWNER worker");
    let store = format!("postgres://worker@127.0.0.1:{}/chaos", cluster.port);
    let chaos_admin = format!("postgres://postgres@127.0.0.1:{}/chaos", cluster.port);
    let lab = Lab::new(
        &store,
        &format!(
            r#"
[queue]
poll = "50ms"
lease = "{LEASE_SECS}s"
shutdown_grace = "5s"
trial = false
[routes.r]
profile = "generic"
program = "$FAKE"
args = ["--run-log", "$LOG", "--sleep", "0.7"]
[kinds.k]
routes = ["r"]
[lanes.main]
"#
        ),
    );
    let ids = lab.enqueue("k", "main", JOBS);
    let mut workers: Vec<_> = (0..2)
        .map(|i| lab.worker(&format!("w{i}"), 3, true))
        .collect();
    wait_for(
        "the workers to run some jobs",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || (runlog::runs(&lab.run_log).len() >= 6).then_some(()),
    );
    // Three leases with no free slot: every free one is taken, and the
    // workers' pooled connections are cut again and again.
    let window = Duration::from_secs(3 * LEASE_SECS);
    let started = Instant::now();
    let mut hogs: Vec<Child> = Vec::new();
    let mut cut = 0u64;
    while started.elapsed() < window {
        let left = window.saturating_sub(started.elapsed()).as_secs() + 1;
        hogs.extend((0..10).map(|_| hog(cluster.port, left)));
        std::thread::sleep(Duration::from_millis(300));
        cut += psql(
            &chaos_admin,
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
              WHERE usename = 'worker' AND application_name <> 'agentlane kept'",
        )
        .parse::<u64>()
        .unwrap_or(0);
        hogs.retain_mut(|h| h.try_wait().ok().flatten().is_none());
    }
    for mut h in hogs {
        let _ = h.kill();
        let _ = h.wait();
    }
    expect_clean_exits(&mut workers, Duration::from_secs(120));
    let log = read(&cluster.log());
    let refused = log
        .matches("remaining connection slots are reserved")
        .count()
        + log.matches("too many clients").count();
    eprintln!("{cut} pooled connections cut; the server refused {refused} connections");
    assert!(
        refused >= 1,
        "the server never ran out of slots: the test proved nothing\n{log}"
    );
    assert!(
        cut >= 1,
        "no pooled connection was cut: the test proved nothing"
    );
    // Nothing lost, nothing run twice: every job succeeded once, on its
    // first attempt, and no worker lost a lease.
    let reruns = verdict::each_job_succeeded_once(&lab, &store, &ids);
    assert_eq!(reruns, 0, "jobs ran more than once");
    assert_eq!(
        psql(
            &chaos_admin,
            "SELECT count(*) FROM jobs WHERE attempts <> 1"
        ),
        "0",
        "jobs took more than one attempt"
    );
    let stderr: String = workers.iter().map(|w| w.stderr()).collect();
    assert!(
        !stderr.contains("worker_lost") && !stderr.contains("cut off"),
        "a worker lost its leases:\n{stderr}"
    );
    // The refusal, when a worker met it, is named with the arithmetic and
    // the fix.
    if stderr.contains("53300") {
        assert!(
            stderr.contains("has no connection slot for this client")
                && stderr.contains("pool_mode=transaction"),
            "a refused connection without the arithmetic and the fix:\n{stderr}"
        );
    }
}
