//! The durable queue through the real binary (issue 5): claim-time gating,
//! parking and release, retries keyed by class, one incident for one cause,
//! lease expiry after kill -9, and two workers never running one job.

#[path = "../common/mod.rs"]
mod common;
mod controls;
mod enqueue;
mod hard_stop;
mod logs;
mod postgres;
mod usage;
mod watch;
mod workers;

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
        // 0 all succeeded, 100 some failed, 101 a route needs repair: the
        // worker itself did not fail (each test asserts the jobs' states).
        assert!(
            matches!(out.status.code(), Some(0 | 100 | 101)),
            "{:?}: {}",
            out.status,
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
    // 0: everything it settled succeeded; 101: its route failed preflight.
    assert!(
        matches!(out.status.code(), Some(0 | 101)),
        "{:?}: {}",
        out.status,
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
    for host in ["alpha", "gamma", "alpha"] {
        let out = drain_on_host(&q, host, "/usr/bin:/bin");
        assert_eq!(
            out.status.code(),
            Some(101),
            "a route needs repair on {host}"
        );
    }
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
    let out = drain_on_host(&q, "beta", &with_cli);
    assert_eq!(out.status.code(), Some(0), "all succeeded on beta");
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
    // The first attempt parks; its hard stop blocks the route, so the other
    // four wait, queued and blocked, instead of failing the same way.
    q.wait_until("one parked job and four blocked", |jobs| {
        let mut s = states(jobs);
        s.sort();
        s == vec!["parked", "queued", "queued", "queued", "queued"]
            && jobs
                .iter()
                .filter(|j| j["state"] == "queued")
                .all(|j| j["next_action"] == "blocked")
    });
    let incidents = q.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0]["affected_jobs"], 1);
    assert_eq!(incidents[0]["classifier"], "auth_unavailable");
    assert_eq!(incidents[0]["state"], "open");
    let parked = q
        .jobs()
        .into_iter()
        .find(|j| j["state"] == "parked")
        .unwrap();
    let job = q.job(parked["id"].as_str().unwrap());
    assert_eq!(job["classifier"], "auth_unavailable");
    assert!(
        job["reason"]
            .as_str()
            .unwrap()
            .starts_with("parked until preflight"),
        "{job}"
    );
    assert_eq!(job["attempts"], 1, "a hard stop is not retried");
    assert!(ids.contains(&job["id"].as_str().unwrap().to_string()));

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
    let out = q.cli(&["worker", "--lane", "main", "--concurrency", "2", "--drain"]);
    assert_eq!(out.status.code(), Some(101), "a route needs repair");
    let jobs = q.jobs();
    let mut s = states(&jobs);
    s.sort();
    assert_eq!(
        s,
        vec!["parked", "queued", "queued", "queued"],
        "one attempt, three blocked"
    );
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
    let out = q.cli(&["worker", "--lane", "main", "--concurrency", "2", "--drain"]);
    assert_eq!(out.status.code(), Some(101), "a route needs repair");
    let jobs = q.jobs();
    let mut s = states(&jobs);
    s.sort();
    assert_eq!(
        s,
        vec!["parked", "queued"],
        "the second waits behind the first's block"
    );
    let incident = q.incidents()[0]["id"].as_str().unwrap().to_string();
    let out = q.cli(&["incident", "resolve", &incident]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("released 1 parked job(s)"));
    assert_eq!(states(&q.jobs()), vec!["queued"; 2]);
    assert!(
        q.jobs().iter().all(|j| j["next_action"] == "run"),
        "resolved: nothing blocks the route"
    );
}
