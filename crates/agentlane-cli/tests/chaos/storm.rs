//! A failure storm: 10,000 jobs failing the same way in 4 worker processes
//! make one incident that counts them all, exactly.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::harness::{expect_clean_exits, serial, Lab, PgSchema};
use crate::runlog::{self, some};

const JOBS: usize = 10_000;
const WORKERS: usize = 4;

#[test]
fn ten_thousand_identical_failures_from_four_worker_processes_make_one_incident_counting_ten_thousand(
) {
    let _serial = serial();
    let Some(pg) = PgSchema::new("storm") else {
        return;
    };
    let lab = Lab::new(
        &pg.url,
        r#"
[queue]
poll = "10ms"
lease = "30s"
[routes.throttled]
profile = "generic"
program = "$FAKE"
args = ["--run-log", "$LOG", "--stderr", "Error: 429 Too Many Requests", "--exit", "1"]
[retry.rate_limited]
action = "fail"
# Every job must fail once here; the circuit breaker would stop the storm.
[breaker]
enabled = false
[kinds.storm]
routes = ["throttled"]
[lanes.main]
"#,
    );
    let ids = lab.enqueue("storm", "main", JOBS);
    let started = Instant::now();
    let mut workers: Vec<_> = (0..WORKERS)
        .map(|i| lab.worker(&format!("w{i}"), 1, true))
        .collect();
    expect_clean_exits(&mut workers, Duration::from_secs(240));
    eprintln!(
        "{JOBS} failures from {WORKERS} workers in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Read as soon as the workers are gone: the count must be exact now.
    let incidents = lab.json(&["incidents", "--json"]);
    let list = incidents.as_array().unwrap();
    assert_eq!(list.len(), 1, "one incident for one cause: {incidents:#}");
    let i = &list[0];
    assert_eq!(
        (
            i["state"].as_str(),
            i["classifier"].as_str(),
            i["affected_jobs"].as_u64(),
            i["occurrences"].as_u64()
        ),
        (
            Some("open"),
            Some("rate_limited"),
            Some(JOBS as u64),
            Some(JOBS as u64)
        ),
        "{i:#}"
    );
    let open = lab.json(&["incidents", "--open", "--json"]);
    assert_eq!(open.as_array().unwrap().len(), 1, "{open:#}");
    let shown = lab.json(&["incident", i["id"].as_str().unwrap(), "--json"]);
    let affected: HashSet<&str> = shown["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j.as_str().unwrap())
        .collect();
    let expected: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert!(
        affected == expected,
        "the incident lists {} jobs, not the {JOBS} enqueued",
        affected.len()
    );

    let status = lab.json(&["status", "--json"]);
    assert_eq!(
        status["lanes"],
        serde_json::json!([{"lane": "main", "state": "failed", "count": JOBS}]),
        "agentlane status"
    );
    assert_eq!(
        pg.sql("SELECT classifier, count(*), max(attempts) FROM jobs GROUP BY classifier"),
        format!("rate_limited|{JOBS}|1")
    );

    // Each job failed once: one run, attempt 1, exit 1.
    let runs = runlog::runs(&lab.run_log);
    let incomplete = runlog::incomplete(&runs, &[]);
    assert!(incomplete.is_empty(), "{}", some(&incomplete));
    let odd: Vec<String> = runs
        .iter()
        .filter(|r| r.attempt != Some(1) || r.exit_code != Some(1))
        .map(|r| format!("{r:?}"))
        .collect();
    assert!(odd.is_empty(), "{}", some(&odd));
    let ran: HashSet<&str> = runs.iter().map(|r| r.job.as_str()).collect();
    assert_eq!((runs.len(), ran.len()), (JOBS, JOBS), "one run per job");
}
