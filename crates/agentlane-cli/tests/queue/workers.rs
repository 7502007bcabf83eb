//! Workers: retries by the table, a killed worker's job rescued, two workers
//! never running one job, atomic JSONL enqueue, a graceful stop, quota and
//! rate-limit schedules.

use super::*;

#[test]
fn retries_follow_the_table_and_say_why() {
    let q = Queue::new(
        r#"
[retry.rate_limited]
initial_backoff = "1s"
max_attempts = 2
[retry.timeout]
initial_backoff = "1s"
max_attempts = 2
[retry.unknown_exit]
initial_backoff = "1s"
[routes.throttled]
profile = "generic"
program = "$FAKE"
args = ["--stderr", "Error: 429 Too Many Requests", "--exit", "1"]
[routes.slow]
profile = "generic"
program = "$FAKE"
args = ["--hang"]
timeout = "1s"
[routes.odd]
profile = "generic"
program = "$FAKE"
args = ["--stderr", "frobnication failed", "--exit", "3"]
[kinds.throttled]
routes = ["throttled"]
[kinds.slow]
routes = ["slow"]
[kinds.odd]
routes = ["odd"]
[lanes.main]
"#,
    );
    let throttled = q.enqueue("throttled", "a");
    let slow = q.enqueue("slow", "b");
    let odd = q.enqueue("odd", "c");
    q.drain("3");
    let t = q.job(&throttled);
    assert_eq!(
        (t["state"].as_str(), t["attempts"].as_u64()),
        (Some("failed"), Some(2)),
        "{t}"
    );
    assert!(
        t["reason"]
            .as_str()
            .unwrap()
            .contains("failed after 2 attempts"),
        "{t}"
    );
    // Every decision is recorded with its reason, in order.
    let reasons: Vec<&str> = t["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 2, "{t}");
    assert!(
        reasons[0].starts_with("retrying in")
            && reasons[0].contains("(attempt 2 of 2): rate_limited — Error: 429 Too Many Requests"),
        "{reasons:?}"
    );
    assert_eq!(t["classifier"], "rate_limited");

    let s = q.job(&slow);
    assert_eq!(
        (s["state"].as_str(), s["attempts"].as_u64()),
        (Some("failed"), Some(2)),
        "{s}"
    );
    let second = s["attempts_detail"][1]["dispatch_id"].as_str().unwrap();
    let shown = q.json(&["show", second, "--json"]);
    assert_eq!(
        shown["report"]["timeout_ms"], 2000,
        "the retry ran with a larger timeout"
    );

    let o = q.job(&odd);
    assert_eq!(
        (o["state"].as_str(), o["attempts"].as_u64()),
        (Some("failed"), Some(2)),
        "{o}"
    );
    assert_eq!(o["classifier"], "unknown_exit_3");
}

#[test]
fn a_killed_worker_loses_its_agent_and_its_job_is_rescued_as_worker_lost() {
    let q = Queue::new(
        r#"
[routes.once]
profile = "generic"
program = "$DIR/bin/once"
[kinds.k]
routes = ["once"]
[lanes.main]
"#,
    );
    // First run: record the pid and hang. Later runs: succeed.
    let script = format!(
        "#!/bin/sh\nif [ -f {m} ]; then echo done; exit 0; fi\ntouch {m}\necho $$ > {p}.tmp && mv {p}.tmp {p}\nexec sleep 300\n",
        m = q.sb.path("marker").display(),
        p = q.sb.path("agent.pid").display()
    );
    write_exe(&q.sb.path("bin/once"), &script, 0o755);
    let id = q.enqueue("k", "survive me");
    let mut worker = q.spawn_worker();
    let agent = read_pid(&q.sb.path("agent.pid"));
    worker.kill().unwrap(); // SIGKILL, mid-job
    worker.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(agent) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !alive(agent),
        "the agent must die with its worker, or a rescued job could run twice"
    );
    assert_eq!(
        q.job(&id)["state"],
        "running",
        "the lease still holds the job"
    );

    // A new worker waits for the lease to expire, rescues and re-runs it.
    q.drain("1");
    let job = q.job(&id);
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2);
    assert_eq!(
        job["attempts_detail"][0]["classifier"], "worker_lost",
        "{job}"
    );
    assert_eq!(job["attempts_detail"][1]["classifier"], "ok");
}

#[test]
fn two_workers_on_one_lane_never_run_the_same_job() {
    let q = Queue::new(
        r#"
[routes.logged]
profile = "generic"
program = "$FAKE"
args = ["--run-log", "$DIR/run.log", "--sleep", "0.05", "--stdout", "{prompt}"]
[kinds.k]
routes = ["logged"]
[lanes.main]
"#,
    );
    let lines: String = (0..40)
        .map(|i| format!("{{\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"job {i}\"}}\n"))
        .collect();
    std::fs::write(q.sb.path("jobs.jsonl"), lines).unwrap();
    let out = q.cli(&[
        "enqueue",
        "--jsonl",
        q.sb.path("jobs.jsonl").to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = q.spawn_drain();
    let b = q.spawn_drain();
    assert!(a.wait_with_output().unwrap().status.success());
    assert!(b.wait_with_output().unwrap().status.success());
    assert_eq!(states(&q.jobs()), vec!["succeeded"; 40]);
    let log = std::fs::read_to_string(q.sb.path("run.log")).unwrap();
    let mut starts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["event"] == "start" {
            *starts
                .entry(v["job"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(starts.len(), 40);
    assert!(
        starts.values().all(|n| *n == 1),
        "a job ran twice: {starts:?}"
    );
}

impl Queue {
    fn spawn_drain(&self) -> Child {
        Command::new(agentlane())
            .args([
                "--home",
                self.sb.home().to_str().unwrap(),
                "--config",
                self.config.to_str().unwrap(),
            ])
            .args(["worker", "--lane", "main", "--concurrency", "2", "--drain"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

#[test]
fn a_stopped_worker_lets_jobs_finish_up_to_the_grace_then_releases_them() {
    let q = Queue::new(
        r#"
[routes.slow]
profile = "generic"
program = "$FAKE"
args = ["--pid-file", "$DIR/agent.pid", "--sleep", "60"]
[kinds.k]
routes = ["slow"]
[lanes.main]
"#,
    );
    let id = q.enqueue("k", "long work");
    let worker = q.spawn_worker();
    let agent = read_pid(&q.sb.path("agent.pid"));
    let started = Instant::now();
    stop(worker); // SIGTERM: stop claiming, wait up to the 2s grace, then stop and release
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the worker waited for the job instead of its grace"
    );
    assert!(!alive(agent), "the agent outlived the stopped worker");
    let job = q.job(&id);
    assert_eq!(job["state"], "queued", "{job}");
    assert!(
        job["reason"].as_str().unwrap().contains("released"),
        "{job}"
    );
    assert!(job["lease_owner"].is_null());
}

/// A usage limit that names its reset is never retried on a timer: the job
/// is parked until the reset (its reason says when) and its incident records
/// it; a rate limit that names one waits at least until it.
#[test]
fn a_quota_job_is_parked_until_its_reset_and_a_rate_limit_waits_for_its_own() {
    let reset = jiff::Timestamp::now().as_second() + 7200;
    let q = Queue::new(&format!(
        r#"
[routes.claude-sub]
profile = "generic"
program = "$FAKE"
args = ["--stdout", "Claude AI usage limit reached|{reset}", "--exit", "1"]
[routes.throttled]
profile = "generic"
program = "$FAKE"
args = ["--stderr", "Error: 429 Too Many Requests", "--stderr", "x-ratelimit-reset-requests: 10m0s", "--exit", "1"]
[kinds.quota]
routes = ["claude-sub"]
[kinds.throttled]
routes = ["throttled"]
[lanes.main]
"#
    ));
    let quota = q.enqueue("quota", "a");
    let throttled = q.enqueue("throttled", "b");
    let started = jiff::Timestamp::now();
    let worker = q.spawn_worker();
    q.wait_until(
        "the quota job parked, the throttled one scheduled",
        |jobs| {
            jobs.iter().all(|j| {
                j["attempts"] == 1 && (j["state"] == "scheduled" || j["state"] == "parked")
            }) && jobs.iter().any(|j| j["state"] == "parked")
        },
    );
    stop(worker);
    let run_at = |id: &str| -> (jiff::Timestamp, Value) {
        let job = q.job(id);
        let at = job["run_at"].as_str().unwrap().parse().unwrap();
        (at, job)
    };

    let job = q.job(&quota);
    assert_eq!(job["classifier"], "quota_exhausted", "{job}");
    assert_eq!(job["state"], "parked", "never on a timer: {job}");
    let reset_text = jiff::Timestamp::from_second(reset).unwrap().to_string();
    assert!(
        job["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("until the quota resets at {reset_text}")),
        "{job}"
    );
    let incident = q
        .incidents()
        .into_iter()
        .find(|i| i["classifier"] == "quota_exhausted")
        .expect("a quota incident");
    assert_eq!(incident["reset_at"], reset_text.as_str(), "{incident}");

    let (at, job) = run_at(&throttled);
    assert_eq!(job["classifier"], "rate_limited", "{job}");
    let waited = at.as_second() - started.as_second();
    assert!(
        (598..=700).contains(&waited),
        "waits until its reset (10 minutes), not the 30s backoff: {waited}s {job}"
    );
}

/// A CLI that printed its final result and never exits: the job keeps its
/// success (the work was done) and `job` warns that the watchdog stopped it;
/// an exit 0 with a zero-turn result is `empty_success`, retried once.
#[test]
fn a_job_whose_cli_hangs_after_its_result_succeeds_with_a_warning() {
    let q = Queue::new(
        r#"
[retry.empty_success]
initial_backoff = "1s"
[routes.hangs]
profile = "generic"
program = "$FAKE"
args = ["--stdout", '{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"done"}', "--hang"]
timeout = "120s"
result_grace = "1s"
[routes.empty]
profile = "generic"
program = "$FAKE"
args = ["--stdout", '{"type":"result","subtype":"success","is_error":false,"num_turns":0,"result":""}']
[kinds.hangs]
routes = ["hangs"]
[kinds.empty]
routes = ["empty"]
[lanes.main]
"#,
    );
    let hangs = q.enqueue("hangs", "do it");
    let empty = q.enqueue("empty", "do nothing");
    let started = std::time::Instant::now();
    q.drain("2");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "not the 120s timeout"
    );
    let job = q.job(&hangs);
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["last_attempt_watchdog"]["kind"], "done", "{job}");
    let out = q.cli(&["job", &hangs]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("warning: the last attempt was stopped by the watchdog (done)"),
        "{text}"
    );
    let job = q.job(&empty);
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["classifier"], "empty_success", "{job}");
    assert_eq!(job["attempts"], 2, "retried once: {job}");
}
