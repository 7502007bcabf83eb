//! fake-agent's run log as evidence: one `start` and (unless killed with
//! SIGKILL) one `end` line per run, each with the job, the attempt, the
//! agent's pid, the worker's pid (`ppid`) and the wall-clock time. Two runs
//! of one job that overlap in time are a double run.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;

/// One run of an agent: a `start` line and its `end` line, by (job, pid).
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub job: String,
    pub pid: i64,
    /// The worker process that launched it.
    pub ppid: i64,
    pub attempt: Option<u64>,
    pub start: u64,
    pub end: Option<u64>,
    pub exit_code: Option<i64>,
    /// 15 when the agent recorded a SIGTERM.
    pub signal: Option<i64>,
    pub starts: usize,
    pub ends: usize,
}

/// Every run in the log, ordered by start time. Lines that are not JSON
/// (or have no job) are a failure: the log is the evidence.
pub fn runs(path: &Path) -> Vec<Run> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut by_key: HashMap<(String, i64), Run> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("run log line {} is not JSON ({e}): {line}", n + 1));
        let job = v["job"]
            .as_str()
            .unwrap_or_else(|| panic!("run log line {} has no job: {line}", n + 1))
            .to_string();
        let pid = v["pid"].as_i64().expect("pid");
        let time = v["time_ms"].as_u64().expect("time_ms");
        let run = by_key.entry((job.clone(), pid)).or_insert_with(|| Run {
            job,
            pid,
            ..Default::default()
        });
        match v["event"].as_str() {
            Some("start") => {
                run.starts += 1;
                run.start = time;
                run.ppid = v["ppid"].as_i64().expect("ppid");
                run.attempt = v["attempt"].as_u64();
            }
            Some("end") => {
                run.ends += 1;
                run.end = Some(time);
                run.exit_code = v["exit_code"].as_i64();
                run.signal = v["signal"].as_i64();
            }
            other => panic!("run log line {} has event {other:?}", n + 1),
        }
    }
    let mut runs: Vec<Run> = by_key.into_values().collect();
    runs.sort_by_key(|r| (r.start, r.pid));
    runs
}

/// The runs of each job, in start order.
pub fn by_job(runs: &[Run]) -> BTreeMap<&str, Vec<&Run>> {
    let mut out: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
    for r in runs {
        out.entry(r.job.as_str()).or_default().push(r);
    }
    out
}

/// Every double run: two runs of one job where the earlier one had not
/// ended when the later one started. A run without an `end` line ends at
/// its death time in `deaths` (by pid, observed by the test); without one
/// either, nobody knows when it ended, and that is reported too.
pub fn overlaps(runs: &[Run], deaths: &HashMap<i64, u64>) -> Vec<String> {
    let mut problems = Vec::new();
    for (job, list) in by_job(runs) {
        for pair in list.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            match a.end.or_else(|| deaths.get(&a.pid).copied()) {
                Some(end) if end <= b.start => {}
                Some(end) => problems.push(format!(
                    "job {job}: run pid {} (attempt {:?}, worker {}) ended at {end}, after run pid {} (attempt {:?}, worker {}) started at {}",
                    a.pid, a.attempt, a.ppid, b.pid, b.attempt, b.ppid, b.start
                )),
                None => problems.push(format!(
                    "job {job}: run pid {} (attempt {:?}, worker {}) has no end and no observed death, and run pid {} started at {}",
                    a.pid, a.attempt, a.ppid, b.pid, b.start
                )),
            }
        }
    }
    problems
}

/// Runs whose log lines are not one `start` and one `end`, other than the
/// pids listed in `killed` (SIGKILL writes no `end`).
pub fn incomplete(runs: &[Run], killed: &[i64]) -> Vec<String> {
    runs.iter()
        .filter(|r| r.starts != 1 || (r.ends != 1 && !killed.contains(&r.pid)))
        .map(|r| format!("{r:?}"))
        .collect()
}

/// The first few items of a list of problems, for a failure message.
pub fn some(problems: &[String]) -> String {
    let mut out: Vec<&str> = problems.iter().take(10).map(String::as_str).collect();
    let more = format!("... and {} more", problems.len().saturating_sub(10));
    if problems.len() > 10 {
        out.push(&more);
    }
    out.join("\n")
}
