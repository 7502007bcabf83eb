//! `kill -9` of a worker mid-job: its agents die with it (its death guard
//! kills their process groups), its leases expire, and another worker rescues the jobs as
//! `worker_lost` and runs them again — never while the first run lives.

use std::collections::HashMap;
use std::time::Duration;

use crate::harness::{alive, now_ms, serial, wait_for, Lab, PgSchema};
use crate::runlog::{self, some};

const LEASE_MS: u64 = 3000;
const JOBS: usize = 3;

/// The route's program: the first attempt of a job hangs (30 s), a later one
/// succeeds at once. `exec` keeps the pid, so the run log's pid is the
/// process the worker launched.
pub const FIRST_ATTEMPT_HANGS: &str = "#!/bin/sh
if [ \"$AGENTLANE_ATTEMPT\" = 1 ]; then exec $FAKE --run-log $LOG --sleep 30; fi
exec $FAKE --run-log $LOG --exit 0
";

#[test]
fn a_worker_killed_with_sigkill_mid_job_is_rescued_as_worker_lost_and_rerun() {
    let _serial = serial();
    let Some(pg) = PgSchema::new("killed") else {
        return;
    };
    let lab = Lab::new(
        &pg.url,
        r#"
[queue]
poll = "20ms"
lease = "3s"
shutdown_grace = "1s"
# Worker A must start every job at once to be killed mid-run.
trial = false
[routes.r]
profile = "generic"
program = "$DIR/bin/agent"
[kinds.k]
routes = ["r"]
[lanes.main]
"#,
    );
    lab.script("bin/agent", FIRST_ATTEMPT_HANGS);
    let ids = lab.enqueue("k", "main", JOBS);
    let mut a = lab.worker("a", JOBS, false);
    let first = wait_for(
        "worker A to start every job",
        Duration::from_secs(30),
        Duration::from_millis(20),
        || {
            let runs = runlog::runs(&lab.run_log);
            (runs.len() == JOBS).then_some(runs)
        },
    );
    for r in &first {
        assert_eq!((r.ppid, r.attempt), (a.pid(), Some(1)), "{r:?}");
    }
    // Worker B is up before the kill: it finds nothing to claim, and A
    // holds the maintenance lead.
    let mut b = lab.worker("b", JOBS, false);
    std::thread::sleep(Duration::from_millis(1000));
    let a_owner = pg.sql("SELECT DISTINCT lease_owner FROM jobs");
    assert!(
        a_owner.contains(&format!(":{}:", a.pid())),
        "A holds every job: {a_owner}"
    );

    a.signal(libc::SIGKILL);
    let killed_at = now_ms();
    assert!(
        a.wait(Duration::from_secs(5)).code().is_none(),
        "A died by SIGKILL"
    );
    // Its agents die by its death guard; when is observed here.
    let mut deaths: HashMap<i64, u64> = HashMap::new();
    wait_for(
        "the killed worker's agents to die",
        Duration::from_secs(5),
        Duration::from_millis(2),
        || {
            for r in &first {
                if !deaths.contains_key(&r.pid) && !alive(r.pid) {
                    deaths.insert(r.pid, now_ms());
                }
            }
            (deaths.len() == JOBS).then_some(())
        },
    );
    assert_eq!(
        pg.sql("SELECT state, count(*) FROM jobs GROUP BY state"),
        format!("running|{JOBS}"),
        "the leases still hold the jobs right after the kill"
    );

    wait_for(
        "B to rescue and re-run every job",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            (pg.sql("SELECT count(*) FROM jobs WHERE state = 'succeeded'") == JOBS.to_string())
                .then_some(())
        },
    );

    // Rescued as worker_lost by B, within lease + lease/2 (the leadership
    // moving from A to B) + slack, and the evidence names A.
    let rescues = pg.sql(
        "SELECT job_id, body->>'owner', (extract(epoch FROM at) * 1000)::bigint FROM events
         WHERE kind = 'job_decided' AND body->>'classifier' = 'worker_lost' ORDER BY job_id",
    );
    let rescues: Vec<Vec<&str>> = rescues.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(
        rescues.len(),
        JOBS,
        "one worker_lost decision per job: {rescues:?}"
    );
    for r in &rescues {
        assert!(
            r[1].contains(&format!(":{}:", b.pid())),
            "rescued by B: {r:?}"
        );
        let after = r[2].parse::<u64>().unwrap().saturating_sub(killed_at);
        assert!(
            after <= LEASE_MS + LEASE_MS / 2 + 2000,
            "rescued {after} ms after the kill (lease {LEASE_MS} ms): {r:?}"
        );
    }
    for id in &ids {
        let job = lab.json(&["job", id, "--json"]);
        assert_eq!(
            (job["state"].as_str(), job["attempts"].as_u64()),
            (Some("succeeded"), Some(2)),
            "{job:#}"
        );
        assert_eq!(
            job["attempts_detail"][0]["classifier"], "worker_lost",
            "{job:#}"
        );
        assert_eq!(job["attempts_detail"][1]["classifier"], "ok", "{job:#}");
        let classes: Vec<&str> = job["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["classifier"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(classes, ["worker_lost", "ok"], "{job:#}");
        let lost = job["attempts_detail"][0]["dispatch_id"].as_str().unwrap();
        let shown = lab.json(&["show", lost, "--json"]);
        let evidence = shown["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e.to_string().contains("fact.lease_expired"))
            .map(|e| e.to_string())
            .collect::<Vec<_>>();
        assert!(
            evidence.len() == 1 && evidence[0].contains(&a_owner),
            "the worker_lost evidence names the lost owner {a_owner}: {shown:#}"
        );
    }

    // The run log: each job's first run (A's, killed: no end) died before
    // its second run (B's, attempt 2) started.
    let runs = runlog::runs(&lab.run_log);
    assert_eq!(runs.len(), 2 * JOBS, "{runs:?}");
    let killed: Vec<i64> = first.iter().map(|r| r.pid).collect();
    let incomplete = runlog::incomplete(&runs, &killed);
    assert!(incomplete.is_empty(), "{}", some(&incomplete));
    for (job, list) in runlog::by_job(&runs) {
        assert_eq!(list.len(), 2, "job {job}: {list:?}");
        assert_eq!(
            (list[0].ppid, list[0].attempt, list[0].end),
            (a.pid(), Some(1), None),
            "{list:?}"
        );
        assert_eq!(
            (list[1].ppid, list[1].attempt, list[1].exit_code),
            (b.pid(), Some(2), Some(0)),
            "{list:?}"
        );
    }
    let overlaps = runlog::overlaps(&runs, &deaths);
    assert!(overlaps.is_empty(), "double runs:\n{}", some(&overlaps));

    b.signal(libc::SIGTERM);
    assert_eq!(
        b.wait(Duration::from_secs(10)).code(),
        Some(0),
        "{}",
        b.stderr()
    );
}
