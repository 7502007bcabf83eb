//! The verdict shared by the tests that drain a lane through trouble
//! (restarts, terminated backends): every job succeeded exactly once, and no
//! two runs of one job overlapped.

use std::collections::{HashMap, HashSet};

use crate::harness::{psql, Lab};
use crate::runlog::{self, some};

/// Asserts, for the jobs `ids` drained by `lab`'s workers from the store at
/// `url` (psql's view of the same schema):
/// - every job is `succeeded`, as the store and `agentlane status` say;
/// - every job has exactly one accepted `job_decided` with action `done`;
/// - every job ran at least once, every run wrote its start and end
///   (nothing was SIGKILLed), and no two runs of one job overlapped;
/// - a job ran more than once only if each earlier run was decided by an
///   accepted settlement that is not `done` (a release after a store failure,
///   or a rescue as `worker_lost`): at least as many accepted decisions as runs.
///
/// Returns how many jobs ran more than once.
pub fn each_job_succeeded_once(lab: &Lab, url: &str, ids: &[String]) -> usize {
    let n = ids.len();
    let states = psql(
        url,
        "SELECT state, count(*) FROM jobs GROUP BY state ORDER BY 1",
    );
    assert_eq!(states, format!("succeeded|{n}"), "job states");
    let status = lab.json(&["status", "--json"]);
    let lanes = status["lanes"].as_array().expect("lanes");
    assert_eq!(lanes.len(), 1, "{status}");
    assert_eq!(
        (lanes[0]["state"].as_str(), lanes[0]["count"].as_u64()),
        (Some("succeeded"), Some(n as u64)),
        "agentlane status: {status}"
    );

    let done_twice = psql(
        url,
        "SELECT job_id || ' ' || count(*) FROM events WHERE kind = 'job_decided' AND body->>'action' = 'done'
         GROUP BY job_id HAVING count(*) <> 1 LIMIT 10",
    );
    assert_eq!(
        done_twice, "",
        "jobs with other than one successful settlement"
    );
    let done_jobs = psql(
        url,
        "SELECT count(DISTINCT job_id) FROM events WHERE kind = 'job_decided' AND body->>'action' = 'done'",
    );
    assert_eq!(
        done_jobs,
        n.to_string(),
        "jobs with a successful settlement"
    );
    let decided: HashMap<String, usize> = psql(
        url,
        "SELECT job_id, count(*) FROM events WHERE kind = 'job_decided' GROUP BY job_id",
    )
    .lines()
    .map(|l| {
        let (job, count) = l.split_once('|').unwrap();
        (job.to_string(), count.parse().unwrap())
    })
    .collect();

    let runs = runlog::runs(&lab.run_log);
    let incomplete = runlog::incomplete(&runs, &[]);
    assert!(
        incomplete.is_empty(),
        "runs without one start and one end:\n{}",
        some(&incomplete)
    );
    let overlaps = runlog::overlaps(&runs, &HashMap::new());
    assert!(overlaps.is_empty(), "double runs:\n{}", some(&overlaps));
    let by_job = runlog::by_job(&runs);
    let expected: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let ran: HashSet<&str> = by_job.keys().copied().collect();
    assert_eq!(ran.len(), n, "jobs in the run log");
    assert_eq!(ran, expected, "the run log's jobs are the enqueued ones");
    let mut unexplained = Vec::new();
    let mut reruns = 0;
    for (job, list) in &by_job {
        if list.len() > 1 {
            reruns += 1;
            let decisions = decided.get(*job).copied().unwrap_or(0);
            if decisions < list.len() {
                unexplained.push(format!(
                    "job {job}: {} runs but {decisions} accepted decision(s): {list:?}",
                    list.len()
                ));
            }
        }
        let last = list.last().unwrap();
        if last.exit_code != Some(0) {
            unexplained.push(format!("job {job}: its last run did not exit 0: {last:?}"));
        }
    }
    assert!(
        unexplained.is_empty(),
        "runs no settlement explains:\n{}",
        some(&unexplained)
    );
    reruns
}
