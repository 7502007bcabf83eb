//! PgBouncer in session pooling between the workers and PostgreSQL (a real
//! PgBouncer, in front of a private cluster). Not chaos either, but the
//! README tells users to put it there, and this is what holds it to that.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cluster::Cluster;
use crate::harness::{expect_clean_exits, free_port, read, serial, try_psql, wait_for, Lab};

/// A PgBouncer process; killed when dropped.
struct Bouncer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Bouncer {
    /// PgBouncer in `mode` in front of the cluster on `server_port`, with
    /// `pool_size` server connections.
    fn start(server_port: u16, mode: &str, pool_size: usize) -> Bouncer {
        let exe = [
            "/usr/sbin/pgbouncer",
            "/usr/bin/pgbouncer",
            "/usr/local/bin/pgbouncer",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("pgbouncer is not installed: apt-get install pgbouncer (.ci/run does)");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let d = dir.path().display();
        std::fs::write(dir.path().join("users.txt"), "\"postgres\" \"\"\n").unwrap();
        std::fs::write(
            dir.path().join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host=127.0.0.1 port={server_port}\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                 auth_type = trust\nauth_file = {d}/users.txt\npool_mode = {mode}\n\
                 max_client_conn = 200\ndefault_pool_size = {pool_size}\nunix_socket_dir =\n\
                 logfile = {d}/pgbouncer.log\n\
                 ignore_startup_parameters = extra_float_digits,options\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new(exe);
        cmd.arg(dir.path().join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: geteuid has no preconditions. PgBouncer refuses to run as root.
        if unsafe { libc::geteuid() } == 0 {
            let pw = nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .expect("running as root: PgBouncer needs a 'postgres' user to run as");
            for f in ["", "users.txt", "pgbouncer.ini"] {
                std::os::unix::fs::chown(
                    dir.path().join(f),
                    Some(pw.uid.as_raw()),
                    Some(pw.gid.as_raw()),
                )
                .unwrap();
            }
            cmd.uid(pw.uid.as_raw()).gid(pw.gid.as_raw());
        }
        let child = cmd.spawn().expect("pgbouncer starts");
        let bouncer = Bouncer { child, port, dir };
        wait_for(
            "PgBouncer to answer",
            Duration::from_secs(20),
            Duration::from_millis(100),
            || try_psql(&bouncer.url(), "SELECT 1").ok(),
        );
        bouncer
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn log(&self) -> String {
        read(&self.dir.path().join("pgbouncer.log"))
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two workers drain a lane through PgBouncer in `mode`, with the store URL's
/// `query`: 200 jobs that succeed and 50 that fail alike (one incident).
fn drain_through(mode: &str, pool_size: usize, query: &str) {
    let _serial = serial();
    let cluster = Cluster::start();
    let bouncer = Bouncer::start(cluster.port, mode, pool_size);
    let lab = Lab::new(
        &format!("{}{query}", bouncer.url()),
        r#"
[queue]
poll = "20ms"
# 50 failures in a row would open the route's breaker (and wait for its
# probe): this test is about pooling, not breakers.
[breaker]
enabled = false
[routes.ok]
profile = "generic"
program = "/bin/true"
[routes.throttled]
profile = "generic"
program = "$FAKE"
args = ["--stderr", "Error: 429 Too Many Requests", "--exit", "1"]
[retry.rate_limited]
action = "fail"
[kinds.k]
routes = ["ok"]
[kinds.storm]
routes = ["throttled"]
[lanes.main]
"#,
    );
    lab.enqueue("k", "main", 200);
    lab.enqueue("storm", "main", 50);
    let mut workers: Vec<_> = (0..2)
        .map(|i| lab.worker(&format!("w{i}"), 2, true))
        .collect();
    expect_clean_exits(&mut workers, Duration::from_secs(120));
    let status = lab.json(&["status", "--json"]);
    let mut states: Vec<(String, u64)> = status["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["state"].as_str().unwrap().to_string(),
                l["count"].as_u64().unwrap(),
            )
        })
        .collect();
    states.sort();
    assert_eq!(
        states,
        vec![("failed".to_string(), 50), ("succeeded".to_string(), 200)],
        "{status}"
    );
    let incidents = lab.json(&["incidents", "--json"]);
    let incidents = incidents.as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0]["affected_jobs"], 50, "{incidents:?}");
    // The workers' connections went through PgBouncer, not around it.
    let log = bouncer.log();
    assert!(
        log.matches("login attempt: db=postgres user=postgres")
            .count()
            >= 3,
        "PgBouncer saw no logins:\n{log}"
    );
}

#[test]
fn workers_drain_a_lane_through_pgbouncer_in_session_pooling() {
    // A server connection per client connection (each worker pools up to 8).
    drain_through("session", 40, "");
}

/// Transaction pooling hands each transaction, or each statement outside
/// one, to whichever server connection is free (two here, for many more
/// clients): `pool_mode=transaction` sends statements unnamed.
#[test]
fn workers_drain_a_lane_through_pgbouncer_in_transaction_pooling() {
    drain_through("transaction", 2, "?pool_mode=transaction");
}
