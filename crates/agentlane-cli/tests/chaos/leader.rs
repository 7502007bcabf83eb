//! One leader runs maintenance. When it is killed (`kill -9`) or stopped
//! (SIGTERM), another worker takes the `maintenance` lease over within a
//! lease plus lease/2 (never while the old lease is live) and rescues
//! expired job leases.

use std::collections::HashMap;
use std::time::Duration;

use crate::harness::{now_ms, serial, try_psql, wait_for, Lab, PgSchema, Worker};
use crate::killed::FIRST_ATTEMPT_HANGS;
use crate::runlog::{self, some};

const LEASE_MS: u64 = 3000;
/// Scheduling and polling slack on a busy two-core machine.
const SLACK_MS: u64 = 1500;

/// The `maintenance` row: owner and expiry (ms).
fn leader(pg: &PgSchema) -> Option<(String, u64)> {
    // Before the first worker has migrated, there is no table yet.
    let row = try_psql(
        &pg.url,
        "SELECT owner, (extract(epoch FROM expires_at) * 1000)::bigint FROM leaders WHERE name = 'maintenance'",
    )
    .ok()?;
    let (owner, expiry) = row.split_once('|')?;
    Some((owner.to_string(), expiry.parse().ok()?))
}

fn owned_by(owner: &str, w: &Worker) -> bool {
    owner.contains(&format!(":{}:", w.pid()))
}

/// Waits for the lead to move from `old` (killed or stopped at `since`)
/// to one of `candidates`; returns the new owner and the index of its worker.
/// Asserts the takeover came after `old`'s lease ran out and within
/// lease + lease/2 + slack of `since`.
fn takeover(pg: &PgSchema, old: &str, since: u64, candidates: &[&Worker]) -> (String, usize) {
    let mut old_expiry = 0;
    let (owner, expiry, seen_at) = wait_for(
        "another worker to take the maintenance lead",
        Duration::from_secs(20),
        Duration::from_millis(25),
        || {
            let (owner, expiry) = leader(pg)?;
            if owner == old {
                old_expiry = expiry;
                return None;
            }
            Some((owner, expiry, now_ms()))
        },
    );
    let index = candidates
        .iter()
        .position(|w| owned_by(&owner, w))
        .unwrap_or_else(|| panic!("the new leader {owner} is none of the live workers"));
    // The row is read every 25 ms and renewed every lease/2: the first
    // expiry seen is the takeover's own, so it was taken at expiry - lease.
    let taken_at = expiry - LEASE_MS;
    assert!(
        taken_at >= old_expiry,
        "{owner} took the lead at {taken_at}, while {old}'s lease ran until {old_expiry}"
    );
    let after = seen_at - since;
    assert!(
        after <= LEASE_MS + LEASE_MS / 2 + SLACK_MS,
        "the lead moved {after} ms after the leader went (lease {LEASE_MS} ms)"
    );
    eprintln!("{owner} took the lead {after} ms after {old} went");
    (owner, index)
}

#[test]
fn when_the_leader_is_killed_or_stopped_another_worker_takes_over_maintenance_within_its_lease() {
    let _serial = serial();
    let Some(pg) = PgSchema::new("leader") else {
        return;
    };
    let lab = Lab::new(
        &pg.url,
        r#"
[queue]
poll = "20ms"
lease = "3s"
shutdown_grace = "1s"
[routes.r]
profile = "generic"
program = "$DIR/bin/agent"
[kinds.k]
routes = ["r"]
[lanes.main]
[lanes.ghost]
"#,
    );
    lab.script("bin/agent", FIRST_ATTEMPT_HANGS);

    // The first worker leads, alone, and runs a job whose first attempt hangs.
    let mut w1 = lab.worker("w1", 1, false);
    let (first_owner, _) = wait_for(
        "w1 to lead",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || leader(&pg).filter(|(o, _)| owned_by(o, &w1)),
    );
    let id = lab.enqueue("k", "main", 1).remove(0);
    let run = wait_for(
        "w1 to start the job",
        Duration::from_secs(30),
        Duration::from_millis(20),
        || runlog::runs(&lab.run_log).into_iter().next(),
    );
    assert_eq!(run.ppid, w1.pid());
    let mut others = [lab.worker("w2", 1, false), lab.worker("w3", 1, false)];
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        leader(&pg).unwrap().0,
        first_owner,
        "w1 keeps the lead while it lives"
    );

    // kill -9 the leader: its agent dies with it, its job's lease expires.
    w1.signal(libc::SIGKILL);
    let killed_at = now_ms();
    w1.wait(Duration::from_secs(5));
    let mut deaths = HashMap::new();
    wait_for(
        "w1's agent to die",
        Duration::from_secs(5),
        Duration::from_millis(2),
        || (!crate::harness::alive(run.pid)).then_some(()),
    );
    deaths.insert(run.pid, now_ms());
    let (second_owner, index) = takeover(&pg, &first_owner, killed_at, &[&others[0], &others[1]]);

    // The new leader rescues the job (worker_lost), and it runs again.
    wait_for(
        "the job to be rescued and re-run",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            (pg.sql(&format!("SELECT state FROM jobs WHERE id = '{id}'")) == "succeeded")
                .then_some(())
        },
    );
    let rescuer = pg.sql(&format!(
        "SELECT body->>'owner' FROM events WHERE job_id = '{id}' AND kind = 'job_decided' AND body->>'classifier' = 'worker_lost'"
    ));
    assert_eq!(rescuer, second_owner, "the new leader rescued the job");
    let runs = runlog::runs(&lab.run_log);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(
        (runs[1].attempt, runs[1].exit_code),
        (Some(2), Some(0)),
        "{runs:?}"
    );
    let overlaps = runlog::overlaps(&runs, &deaths);
    assert!(overlaps.is_empty(), "double runs:\n{}", some(&overlaps));

    // SIGTERM the new leader: it stops cleanly, and the last worker leads.
    let stopped = &mut others[index];
    stopped.signal(libc::SIGTERM);
    let stopped_at = now_ms();
    let status = stopped.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{}", stopped.stderr());
    let last = &others[1 - index];
    let (third_owner, _) = takeover(&pg, &second_owner, stopped_at, &[last]);

    // And it does maintenance: a job whose (made-up) worker's lease expired
    // in a lane nobody serves is rescued by it alone.
    let ghost = lab.enqueue("k", "ghost", 1).remove(0);
    pg.sql(&format!(
        "UPDATE jobs SET state = 'running', attempts = 1, lease_owner = 'ghost@nowhere:1:0',
                lease_expires_at = now() - interval '1 second' WHERE id = '{ghost}'"
    ));
    let rescuer = wait_for(
        "the last leader to rescue an expired lease",
        Duration::from_millis(LEASE_MS / 2 + 5000),
        Duration::from_millis(50),
        || {
            let owner = pg.sql(&format!(
                "SELECT body->>'owner' FROM events WHERE job_id = '{ghost}' AND kind = 'job_decided' AND body->>'classifier' = 'worker_lost'"
            ));
            (!owner.is_empty()).then_some(owner)
        },
    );
    assert_eq!(rescuer, third_owner);
    let state = pg.sql(&format!(
        "SELECT state, lease_owner IS NULL FROM jobs WHERE id = '{ghost}'"
    ));
    assert_eq!(
        state, "scheduled|t",
        "decided as worker_lost: retried later"
    );

    let last = &mut others[1 - index];
    last.signal(libc::SIGTERM);
    assert_eq!(
        last.wait(Duration::from_secs(10)).code(),
        Some(0),
        "{}",
        last.stderr()
    );
}
