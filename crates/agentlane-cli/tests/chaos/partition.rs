//! A partition between one worker and PostgreSQL, made with a loopback TCP
//! proxy: the cut-off worker stops its agent before its lease can expire,
//! another worker rescues and re-runs the job, and once the link heals the
//! first worker's late settlement is rejected by the fence. 0 overlaps.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::harness::{now_ms, pg_base, serial, url_with_schema, wait_for, Lab, PgSchema};
use crate::killed::FIRST_ATTEMPT_HANGS;
use crate::proxy::{host_port, Proxy};
use crate::runlog::{self, some};

const LEASE_MS: u64 = 4000;

#[test]
fn a_partitioned_worker_kills_its_agent_before_its_lease_expires_and_its_late_completion_is_rejected(
) {
    let _serial = serial();
    let Some(pg) = PgSchema::new("partition") else {
        return;
    };
    let (scheme, upstream, rest) = host_port(&pg_base());
    let proxy = Proxy::start(&upstream);
    let via_proxy = url_with_schema(
        &format!("{scheme}127.0.0.1:{}{rest}", proxy.port),
        &pg.name,
        None,
    );
    let lab = Lab::new(
        &pg.url,
        r#"
[queue]
poll = "20ms"
lease = "4s"
shutdown_grace = "1s"
[routes.r]
profile = "generic"
program = "$DIR/bin/agent"
[kinds.k]
routes = ["r"]
[lanes.main]
"#,
    );
    lab.script("bin/agent", FIRST_ATTEMPT_HANGS);
    // Migrate directly, so A's first connection through the proxy is a worker's.
    assert!(lab.cli(&["migrate"]).status.success());
    let mut a = lab.worker_via("a", &via_proxy, 1, false);
    let id = lab.enqueue("k", "main", 1).remove(0);
    let first = wait_for(
        "A to start the job",
        Duration::from_secs(30),
        Duration::from_millis(20),
        || runlog::runs(&lab.run_log).into_iter().next(),
    );
    assert_eq!((first.ppid, first.attempt), (a.pid(), Some(1)), "{first:?}");
    let mut b = lab.worker("b", 1, false);
    std::thread::sleep(Duration::from_millis(1500));
    let job_row = || {
        let row = pg.sql(&format!(
            "SELECT state, attempts, lease_owner, (extract(epoch FROM lease_expires_at) * 1000)::bigint FROM jobs WHERE id = '{id}'"
        ));
        let f: Vec<String> = row.split('|').map(str::to_string).collect();
        (
            f[0].clone(),
            f[1].clone(),
            f[2].clone(),
            f[3].parse::<u64>().ok(),
        )
    };
    let (state, _, a_owner, _) = job_row();
    assert_eq!(state, "running");
    assert!(
        a_owner.contains(&format!(":{}:", a.pid())),
        "A holds the job: {a_owner}"
    );

    // Cut A off. Watch its lease until another worker takes the job over:
    // the last expiry seen with A as owner is when A's lease ran out.
    proxy.partition();
    let cut_at = now_ms();
    let mut a_expiry = 0;
    let rescued_at = wait_for(
        "the job to be rescued from A",
        Duration::from_secs(30),
        Duration::from_millis(25),
        || {
            let (_, _, owner, expiry) = job_row();
            if owner == a_owner {
                a_expiry = expiry.unwrap_or(a_expiry);
                None
            } else {
                Some(now_ms())
            }
        },
    );
    assert!(
        a_expiry > cut_at,
        "A's lease was live when the partition began"
    );
    wait_for(
        "B's second attempt to succeed",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || (job_row().0 == "succeeded").then_some(()),
    );
    let (_, attempts, _, _) = job_row();
    assert_eq!(attempts, "2");

    // Heal: A's late settlement of attempt 1 reaches the store and is refused.
    proxy.heal();
    let healed = Instant::now();
    let status = a.wait(Duration::from_secs(60));
    eprintln!(
        "A exited {status} {:.1} s after the link healed",
        healed.elapsed().as_secs_f64()
    );
    let a_err = a.stderr();
    assert_eq!(
        status.code(),
        Some(74),
        "a worker that lost its leases exits 74 (EX_IOERR); stderr:\n{a_err}"
    );
    assert!(a_err.contains("could not renew its leases"), "{a_err}");
    let rejected = pg.sql(&format!(
        "SELECT body->>'owner', body->>'attempt', (extract(epoch FROM at) * 1000)::bigint FROM events
         WHERE job_id = '{id}' AND kind = 'job_decision_rejected'"
    ));
    let rejected: Vec<Vec<&str>> = rejected.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rejected.len(), 1, "one rejected settlement: {rejected:?}");
    assert_eq!((rejected[0][0], rejected[0][1]), (a_owner.as_str(), "1"));
    let job = lab.json(&["job", &id, "--json"]);
    assert_eq!(
        (
            job["state"].as_str(),
            job["attempts"].as_u64(),
            job["classifier"].as_str()
        ),
        (Some("succeeded"), Some(2), Some("ok")),
        "B's outcome stands: {job:#}"
    );
    assert!(
        job["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "job_decision_rejected" && d["attempt"] == 1),
        "{job:#}"
    );

    // The run log: A's agent recorded its SIGTERM before A's lease expired
    // (and so before the rescue); B's run started after it.
    let runs = runlog::runs(&lab.run_log);
    assert_eq!(runs.len(), 2, "{runs:?}");
    let (first, second) = (&runs[0], &runs[1]);
    assert_eq!(
        (first.ppid, first.signal),
        (a.pid(), Some(15)),
        "A's agent got SIGTERM: {first:?}"
    );
    let stopped = first.end.unwrap();
    // A's last successful renewal set the expiry to its now() + lease.
    let renewed = a_expiry - LEASE_MS;
    // SIGTERM must come a kill grace (capped at lease/6) before the expiry:
    // then even an agent that ignores SIGTERM is dead (SIGKILL) in time.
    assert!(
        stopped + LEASE_MS / 6 < a_expiry,
        "A's agent got SIGTERM at {stopped}, {} ms before A's lease expired at {a_expiry} (negative: after it; \
         the kill grace, lease/6 = {} ms, must fit in between): \
         {} ms after A's last successful renewal (the design: 2/3 of the {LEASE_MS} ms lease = {} ms); \
         partition at {cut_at}, rescue seen at {rescued_at}",
        a_expiry as i64 - stopped as i64,
        LEASE_MS / 6,
        stopped - renewed,
        LEASE_MS * 2 / 3
    );
    eprintln!(
        "partition at {cut_at}: A's agent stopped {} ms later, {} ms before A's lease expired (lease {LEASE_MS} ms); rescued {} ms after the expiry",
        stopped - cut_at,
        a_expiry - stopped,
        rescued_at.saturating_sub(a_expiry)
    );
    assert_eq!(
        (second.ppid, second.attempt, second.exit_code),
        (b.pid(), Some(2), Some(0)),
        "{second:?}"
    );
    let overlaps = runlog::overlaps(&runs, &HashMap::new());
    assert!(overlaps.is_empty(), "double runs:\n{}", some(&overlaps));
    let incomplete = runlog::incomplete(&runs, &[]);
    assert!(incomplete.is_empty(), "{}", some(&incomplete));

    b.signal(libc::SIGTERM);
    assert_eq!(
        b.wait(Duration::from_secs(10)).code(),
        Some(0),
        "{}",
        b.stderr()
    );
    drop(proxy);
}
