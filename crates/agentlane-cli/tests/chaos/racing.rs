//! Eight worker processes race over one lane of 10,000 jobs: `FOR UPDATE
//! SKIP LOCKED` hands each job to exactly one of them.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::harness::{expect_clean_exits, serial, Lab, PgSchema};
use crate::runlog::{self, some};

const JOBS: usize = 10_000;
const WORKERS: usize = 8;

#[test]
fn eight_workers_racing_over_ten_thousand_jobs_run_each_exactly_once() {
    let _serial = serial();
    let Some(pg) = PgSchema::new("racing") else {
        return;
    };
    let lab = Lab::new(
        &pg.url,
        r#"
[queue]
poll = "10ms"
lease = "30s"
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
        .map(|i| lab.worker(&format!("w{i}"), 1, true))
        .collect();
    let pids: HashSet<i64> = workers.iter().map(|w| w.pid()).collect();
    expect_clean_exits(&mut workers, Duration::from_secs(240));
    eprintln!(
        "{JOBS} jobs drained by {WORKERS} workers in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The store: every job succeeded on its first attempt, one decision each.
    assert_eq!(
        pg.sql("SELECT state, count(*), min(attempts), max(attempts) FROM jobs GROUP BY state"),
        format!("succeeded|{JOBS}|1|1")
    );
    assert_eq!(
        pg.sql("SELECT kind, count(*), count(DISTINCT job_id) FROM events WHERE kind LIKE 'job_deci%' GROUP BY kind"),
        format!("job_decided|{JOBS}|{JOBS}"),
        "one accepted decision per job and no rejected one"
    );
    let status = lab.json(&["status", "--json"]);
    assert_eq!(
        status["lanes"],
        serde_json::json!([{"lane": "main", "state": "succeeded", "count": JOBS}]),
        "agentlane status"
    );

    // The run log: one start and one end per job, attempt 1, no overlap.
    let runs = runlog::runs(&lab.run_log);
    let incomplete = runlog::incomplete(&runs, &[]);
    assert!(
        incomplete.is_empty(),
        "runs without one start and one end:\n{}",
        some(&incomplete)
    );
    let by_job = runlog::by_job(&runs);
    let twice: Vec<String> = by_job
        .iter()
        .filter(|(_, list)| list.len() > 1)
        .map(|(job, list)| format!("job {job} ran {} times: {list:?}", list.len()))
        .collect();
    assert!(twice.is_empty(), "double runs:\n{}", some(&twice));
    let overlaps = runlog::overlaps(&runs, &HashMap::new());
    assert!(overlaps.is_empty(), "{}", some(&overlaps));
    assert_eq!(runs.len(), JOBS, "runs");
    let ran: HashSet<&str> = by_job.keys().copied().collect();
    let expected: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(ran, expected, "the jobs that ran are the jobs enqueued");
    let not_first: Vec<String> = runs
        .iter()
        .filter(|r| r.attempt != Some(1) || r.exit_code != Some(0))
        .map(|r| format!("{r:?}"))
        .collect();
    assert!(
        not_first.is_empty(),
        "runs other than a first, successful attempt:\n{}",
        some(&not_first)
    );
    let by_worker: HashSet<i64> = runs.iter().map(|r| r.ppid).collect();
    assert!(
        by_worker.is_subset(&pids),
        "agents launched by someone else: {by_worker:?} vs workers {pids:?}"
    );
    assert!(
        by_worker.len() > 1,
        "one worker ran everything: nothing raced"
    );
}
