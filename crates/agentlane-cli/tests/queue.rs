//! The durable queue through the real binary (issue 5): claim-time gating,
//! parking and release, retries keyed by class, one incident for one cause,
//! lease expiry after kill -9, and two workers never running one job.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

struct Queue {
    sb: Sandbox,
    config: PathBuf,
}

impl Queue {
    fn new(config_body: &str) -> Queue {
        let sb = Sandbox::new();
        let config = sb.path("agentlane.toml");
        let body = config_body
            .replace("$FAKE", fake_agent().to_str().unwrap())
            .replace("$DIR", sb.dir.path().to_str().unwrap());
        std::fs::write(
            &config,
            format!("[queue]\npoll = \"50ms\"\nlease = \"2s\"\nshutdown_grace = \"2s\"\n{body}"),
        )
        .unwrap();
        Queue { sb, config }
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        self.sb.run(&all)
    }

    fn enqueue(&self, kind: &str, prompt: &str) -> String {
        let out = self.cli(&[
            "enqueue", "--kind", kind, "--lane", "main", "--prompt", prompt,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn drain(&self, concurrency: &str) -> std::process::Output {
        let out = self.cli(&[
            "worker",
            "--lane",
            "main",
            "--concurrency",
            concurrency,
            "--drain",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn spawn_worker(&self) -> Child {
        Command::new(agentlane())
            .args([
                "--home",
                self.sb.home().to_str().unwrap(),
                "--config",
                self.config.to_str().unwrap(),
            ])
            .args(["worker", "--lane", "main", "--concurrency", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
    }

    fn jobs(&self) -> Vec<Value> {
        self.json(&["jobs", "--json", "--limit", "0"])
            .as_array()
            .unwrap()
            .clone()
    }

    fn job(&self, id: &str) -> Value {
        self.json(&["job", id, "--json"])
    }

    fn incidents(&self) -> Vec<Value> {
        self.json(&["incidents", "--json"])
            .as_array()
            .unwrap()
            .clone()
    }

    fn wait_until(&self, what: &str, mut ok: impl FnMut(&[Value]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let jobs = self.jobs();
            if ok(&jobs) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {jobs:#?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn states(jobs: &[Value]) -> Vec<&str> {
    jobs.iter().map(|j| j["state"].as_str().unwrap()).collect()
}

fn stop(mut child: Child) {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
}

#[test]
fn claim_time_gating_claims_nothing_while_the_cli_is_missing_and_resumes_when_it_appears() {
    let q = Queue::new(
        r#"
[routes.late]
profile = "generic"
program = "$DIR/bin/late-cli"
args = ["--stdout", "{prompt}"]
[kinds.k]
routes = ["late"]
[lanes.main]
routes = ["late"]
"#,
    );
    for i in 0..3 {
        q.enqueue("k", &format!("job {i}"));
    }
    q.drain("2");
    let jobs = q.jobs();
    assert_eq!(
        states(&jobs),
        vec!["queued"; 3],
        "nothing may be claimed while cli_resolves is false"
    );
    assert!(jobs.iter().all(|j| j["attempts"] == 0));
    let incidents = q.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0]["classifier"], "cli_missing");
    assert_eq!(incidents[0]["repair_address"], "runtime");

    // The CLI gets installed: the preflight stamp changes, claims resume.
    std::fs::create_dir_all(q.sb.path("bin")).unwrap();
    std::fs::copy(fake_agent(), q.sb.path("bin/late-cli")).unwrap();
    q.drain("2");
    assert_eq!(states(&q.jobs()), vec!["succeeded"; 3]);
}

/// `agentlane worker --drain` as host `host` with PATH `path`.
fn drain_on_host(q: &Queue, host: &str, path: &str) -> std::process::Output {
    let out = Command::new(agentlane())
        .args(["--home", q.sb.home().to_str().unwrap()])
        .args(["--config", q.config.to_str().unwrap()])
        .args(["worker", "--lane", "main", "--drain"])
        .env("AGENTLANE_HOST", host)
        .env("PATH", path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn a_host_missing_the_cli_claims_nothing_and_its_incident_names_it_while_a_healthy_host_runs_the_jobs(
) {
    let q = Queue::new(
        r#"
[routes.per-host]
profile = "generic"
program = "host-cli"
args = ["--stdout", "{prompt}"]
[kinds.k]
routes = ["per-host"]
[lanes.main]
routes = ["per-host"]
"#,
    );
    std::fs::create_dir_all(q.sb.path("bin")).unwrap();
    std::fs::copy(fake_agent(), q.sb.path("bin/host-cli")).unwrap();
    let with_cli = format!("{}:/usr/bin:/bin", q.sb.path("bin").display());
    for i in 0..4 {
        q.enqueue("k", &format!("job {i}"));
    }
    // Two hosts whose PATH lacks the CLI: each claims nothing and opens its
    // own incident, naming itself.
    drain_on_host(&q, "alpha", "/usr/bin:/bin");
    drain_on_host(&q, "gamma", "/usr/bin:/bin");
    drain_on_host(&q, "alpha", "/usr/bin:/bin");
    assert_eq!(
        states(&q.jobs()),
        vec!["queued"; 4],
        "nothing claimed on the broken hosts"
    );
    let incidents = q.incidents();
    let mut hosts: Vec<&str> = incidents
        .iter()
        .map(|i| i["host"].as_str().unwrap())
        .collect();
    hosts.sort_unstable();
    assert_eq!(
        hosts,
        ["alpha", "gamma"],
        "one incident per broken host: {incidents:#?}"
    );
    assert!(incidents
        .iter()
        .all(|i| i["classifier"] == "cli_missing" && i["state"] == "open"));

    // A healthy host runs everything; the broken hosts' incidents stay open.
    drain_on_host(&q, "beta", &with_cli);
    let jobs = q.jobs();
    assert_eq!(states(&jobs), vec!["succeeded"; 4]);
    assert!(jobs.iter().all(|j| j["attempts"] == 1), "{jobs:#?}");
    assert_eq!(q.incidents().len(), 2);
}

const LOGIN_CLI: &str = "#!/bin/sh\ncase \"$1\" in --version) echo 1.0; exit 0;; esac\nif [ -f \"$HOME/.claude/.credentials.json\" ]; then echo ok; else echo 'Not logged in · Please run /login'; exit 1; fi\n";

fn login_queue() -> Queue {
    let q = Queue::new(
        r#"
[routes.review]
profile = "claude"
program = "$DIR/bin/claude"
args = ["{prompt}"]
env_clear = true
env = { PATH = "/usr/bin:/bin", HOME = "$DIR/user", ANTHROPIC_API_KEY = "sk-ant-test-000000000000000000" }
[kinds.k]
routes = ["review"]
[lanes.main]
routes = ["review"]
"#,
    );
    write_exe(&q.sb.path("bin/claude"), LOGIN_CLI, 0o755);
    std::fs::create_dir_all(q.sb.path("user/.claude")).unwrap();
    q
}

#[test]
fn five_jobs_with_one_cause_make_one_incident_and_are_released_when_login_happens() {
    let q = login_queue();
    let ids: Vec<String> = (0..5)
        .map(|i| q.enqueue("k", &format!("review {i}")))
        .collect();
    let worker = q.spawn_worker();
    q.wait_until("five parked jobs", |jobs| states(jobs) == vec!["parked"; 5]);
    let incidents = q.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0]["affected_jobs"], 5);
    assert_eq!(incidents[0]["classifier"], "auth_unavailable");
    assert_eq!(incidents[0]["state"], "open");
    let job = q.job(&ids[0]);
    assert_eq!(job["classifier"], "auth_unavailable");
    assert!(
        job["reason"]
            .as_str()
            .unwrap()
            .starts_with("parked until preflight"),
        "{job}"
    );
    assert_eq!(job["attempts"], 1, "a hard stop is not retried");

    // Log in as the worker's user: the credential file changes the preflight stamp.
    std::fs::write(q.sb.path("user/.claude/.credentials.json"), "{}").unwrap();
    q.wait_until("released jobs to succeed", |jobs| {
        states(jobs) == vec!["succeeded"; 5]
    });
    stop(worker);
    let incidents = q.incidents();
    assert_eq!(
        incidents[0]["state"], "resolved",
        "the incident resolves itself once its released jobs succeed: {incidents:#?}"
    );
}

/// A wrapper no rule of agentlane knows, relaying an API's 401 body the way
/// SDK-based tools print it.
const GENERIC_401: &str = "#!/bin/sh\necho 'Error: 401 Unauthorized: {\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key\"}}' >&2\nexit 1\n";

#[test]
fn a_generic_route_printing_a_401_body_parks_its_jobs_behind_one_auth_incident_without_retry() {
    let q = Queue::new(
        r#"
[routes.tool]
profile = "generic"
program = "$DIR/bin/acme-agent"
args = ["{prompt}"]
[kinds.k]
routes = ["tool"]
[lanes.main]
routes = ["tool"]
"#,
    );
    write_exe(&q.sb.path("bin/acme-agent"), GENERIC_401, 0o755);
    let ids: Vec<String> = (0..4)
        .map(|i| q.enqueue("k", &format!("task {i}")))
        .collect();
    q.drain("2");
    assert_eq!(states(&q.jobs()), vec!["parked"; 4]);
    let incidents = q.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0]["classifier"], "auth_unavailable");
    let job = q.job(&ids[0]);
    assert_eq!(job["classifier"], "auth_unavailable", "{job}");
    assert_eq!(job["attempts"], 1, "an auth failure is not retried: {job}");
}

#[test]
fn resolving_an_incident_releases_its_parked_jobs() {
    let q = login_queue();
    q.enqueue("k", "one");
    q.enqueue("k", "two");
    q.drain("2");
    assert_eq!(states(&q.jobs()), vec!["parked"; 2]);
    let incident = q.incidents()[0]["id"].as_str().unwrap().to_string();
    let out = q.cli(&["incident", "resolve", &incident]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("released 2 parked job(s)"));
    assert_eq!(states(&q.jobs()), vec!["queued"; 2]);
}

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
fn jsonl_enqueue_is_one_transaction_and_reports_each_refused_line() {
    let q = Queue::new(
        r#"
[routes.r]
profile = "generic"
program = "$FAKE"
[kinds.k]
routes = ["r"]
max_prompt_bytes = 20
[lanes.main]
"#,
    );
    let body = "{\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"fine\"}\n\
                {\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"this prompt is longer than twenty bytes\"}\n\
                not json\n\
                {\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"also fine\",\"priority\":5}\n";
    let file = q.sb.path("jobs.jsonl");
    std::fs::write(&file, body).unwrap();
    let out = q.cli(&["enqueue", "--jsonl", file.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(65));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["enqueued"].as_array().unwrap().len(), 2);
    let refused: Vec<u64> = v["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(refused, vec![2, 3]);
    assert!(v["refused"][0]["message"]
        .as_str()
        .unwrap()
        .contains("at most 20"));
    assert_eq!(q.jobs().len(), 2);
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

/// The same queue on PostgreSQL (`--store`), in a fresh schema of the local
/// server's `test` database (`.ci/run` starts the server when needed).
#[test]
fn the_queue_runs_the_same_on_postgres() {
    let Some(pg) = PgSchema::new("al_cli_") else {
        return;
    };
    let url = pg.url.clone();
    let q = Queue::new(
        r#"
[routes.r]
profile = "generic"
program = "$FAKE"
args = ["--stdout", "{prompt}"]
[kinds.k]
routes = ["r"]
[lanes.main]
"#,
    );
    let with_store = |args: &[&str]| {
        let mut all = vec!["--store", url.as_str()];
        all.extend_from_slice(args);
        q.cli(&all)
    };
    assert!(with_store(&["migrate"]).status.success());
    for i in 0..5 {
        assert!(with_store(&[
            "enqueue",
            "--kind",
            "k",
            "--lane",
            "main",
            "--prompt",
            &format!("job {i}")
        ])
        .status
        .success());
    }
    assert!(
        with_store(&["worker", "--lane", "main", "--concurrency", "2", "--drain"])
            .status
            .success()
    );
    let jobs: Value = serde_json::from_slice(&with_store(&["jobs", "--json"]).stdout).unwrap();
    assert_eq!(states(jobs.as_array().unwrap()), vec!["succeeded"; 5]);
    assert!(q.jobs().is_empty(), "nothing went to the SQLite default");
}

/// `store copy` moves a queue from SQLite to PostgreSQL without losing a job,
/// an event or an incident.
#[test]
fn store_copy_moves_a_queue_to_postgres_without_losing_anything() {
    let Some(pg) = PgSchema::new("al_copy_") else {
        return;
    };
    let url = pg.url.clone();
    let q = login_queue();
    q.enqueue("k", "one");
    q.enqueue("k", "two");
    q.drain("2");
    let from = format!("sqlite://{}", q.sb.home().join("agentlane.db").display());
    let out = q.cli(&["store", "copy", "--from", &from, "--to", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("copied: every row is in the target"));
    let on_pg = |args: &[&str]| -> Value {
        let mut all = vec!["--store", url.as_str()];
        all.extend_from_slice(args);
        serde_json::from_slice(&q.cli(&all).stdout).unwrap()
    };
    let jobs = on_pg(&["jobs", "--json"]);
    assert_eq!(states(jobs.as_array().unwrap()), vec!["parked"; 2]);
    let incidents = on_pg(&["incidents", "--json"]);
    assert_eq!(incidents[0]["affected_jobs"], 2);
    let dispatch = jobs[0]["id"]
        .as_str()
        .map(|id| {
            q.job(id)["attempts_detail"][0]["dispatch_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .unwrap();
    let shown = on_pg(&["show", &dispatch, "--json"]);
    assert_eq!(shown["report"]["classifier"], "auth_unavailable");
    // A second copy into the same (now full) store is refused.
    let again = q.cli(&["store", "copy", "--from", &from, "--to", &url]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

/// A fresh schema in the local PostgreSQL `test` database (`AGENTLANE_TEST_POSTGRES`
/// overrides the server; `common::pg`), dropped when the test ends.
struct PgSchema {
    base: String,
    name: String,
    url: String,
}

impl PgSchema {
    /// `None` (the test skips) where the server does not answer.
    fn new(tag: &str) -> Option<PgSchema> {
        let base = common::pg::server("PostgreSQL tests of tests/queue.rs")?;
        let name = format!("{tag}{}", std::process::id());
        let url = format!("{base}?options=-c%20search_path%3D{name}");
        let pg = PgSchema { base, name, url };
        pg.psql(&format!(
            "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}",
            pg.name
        ));
        Some(pg)
    }

    fn psql(&self, sql: &str) {
        let out = Command::new("psql")
            .args([self.base.as_str(), "-qc", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                self.base.as_str(),
                "-qc",
                &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
            ])
            .output();
    }
}

/// A usage limit that names its reset is scheduled at it, and its incident
/// records it; a rate limit that names one waits at least until it.
#[test]
fn a_quota_job_is_scheduled_at_its_reset_and_a_rate_limit_waits_for_its_own() {
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
    q.wait_until("both jobs scheduled after their first attempt", |jobs| {
        jobs.iter()
            .all(|j| j["state"] == "scheduled" && j["attempts"] == 1)
    });
    stop(worker);
    let run_at = |id: &str| -> (jiff::Timestamp, Value) {
        let job = q.job(id);
        let at = job["run_at"].as_str().unwrap().parse().unwrap();
        (at, job)
    };

    let (at, job) = run_at(&quota);
    assert_eq!(job["classifier"], "quota_exhausted", "{job}");
    assert!(
        (at.as_second() - reset).abs() <= 2,
        "scheduled at the reset {reset}, not {at}: {job}"
    );
    let reset_text = jiff::Timestamp::from_second(reset).unwrap().to_string();
    assert!(
        job["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("quota reset at {reset_text}")),
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
