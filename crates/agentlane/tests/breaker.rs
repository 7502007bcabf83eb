//! A route's circuit breaker, end to end (issue 17): a route whose agent
//! answers "529 Overloaded" opens its breaker after the threshold; while it
//! is open no job is claimed, and probes (preflight and the route's canary)
//! run on their schedule and fail; once the provider recovers, a probe
//! passes, the breaker half-opens and runs exactly one trial job, whose
//! success closes it; the rest of the jobs then run.
//!
//! Real parts: a real SQLite file, the real dispatcher and worker, and a
//! real child process per attempt and per canary (a shell script that
//! answers as Claude Code does: `API Error: 529 Overloaded …`, the message
//! of `claude_overloaded_529` in src/classify/builtin_cases.toml, while a
//! flag file exists; a stream-json `result` — or `ok` to the canary — once
//! it does not). The durations are short (`[breaker] probe_first = "1s"`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agentlane::dispatch::Dispatcher;
use agentlane::home::Home;
use agentlane::model::{BreakerState, JobFilter, JobState, NewJob};
use agentlane::queue::worker::{run_worker, Clock, WorkerOptions};
use agentlane::store::sqlite::SqliteStore;
use agentlane::store::{QueueStore, Store};

fn write_agent(dir: &Path, broken: &Path) -> std::path::PathBuf {
    let path = dir.join("claude");
    let script = format!(
        r#"#!/bin/sh
case "$1" in --version) echo "2.1.197 (Claude Code)"; exit 0;; esac
if [ -e "{broken}" ]; then
  echo "API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment."
  exit 1
fi
if [ "$1" = "--canary" ]; then echo ok; exit 0; fi
echo '{{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done","total_cost_usd":0.01,"usage":{{"input_tokens":5,"output_tokens":3}}}}'
"#,
        broken = broken.display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[path = "support/webhook.rs"]
mod webhook;

fn config(dir: &Path, agent: &Path, webhook: &str) -> agentlane::config::Config {
    let home = dir.join("user");
    std::fs::create_dir_all(&home).unwrap();
    let text = format!(
        r#"
[queue]
poll = "50ms"
listen = false

[[alerts.webhook]]
name = "ops"
url = "{webhook}"
on = ["breaker_opened", "breaker_closed"]

[breaker]
failures = 3
window_attempts = 5
within = "5m"
probe_first = "1s"
probe_max = "2s"

[retry.transient_io]
initial_backoff = "50ms"
max_backoff = "100ms"
max_attempts = 20

[routes.r]
profile = "claude"
program = "{agent}"
canary_args = ["--canary"]
env_clear = true
env = {{ PATH = "/usr/bin:/bin", HOME = "{home}", ANTHROPIC_API_KEY = "sk-ant-api03-breaker-test-000000000000000b7e2" }}

[kinds.review]
routes = ["r"]

[lanes.main]
routes = ["r"]
"#,
        agent = agent.display(),
        home = home.display()
    );
    agentlane::config::parse(&dir.join("agentlane.toml"), &text).unwrap()
}

fn job(i: usize) -> NewJob {
    NewJob {
        kind: "review".into(),
        lane: "main".into(),
        route: "r".into(),
        prompt: format!("review change {i}"),
        fields: Default::default(),
        priority: 0,
        key: None,
        label: None,
    }
}

async fn attempts(store: &dyn Store) -> u32 {
    store
        .jobs(&JobFilter::default())
        .await
        .unwrap()
        .iter()
        .map(|j| j.attempts)
        .sum()
}

async fn breaker(store: &dyn Store) -> Option<agentlane::model::RouteBreaker> {
    store.route_breakers().await.unwrap().into_iter().next()
}

/// Waits (polling) until `f` holds, at most `secs`.
async fn until<F, Fut>(secs: u64, what: &str, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_opens_probes_half_opens_and_closes() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("overloaded");
    std::fs::write(&broken, "").unwrap();
    let agent = write_agent(dir.path(), &broken);
    let receiver = webhook::Receiver::start(vec![webhook::Answer::Status(200)]).await;
    let config = Arc::new(config(dir.path(), &agent, &receiver.url));
    let home = Home::open(&dir.path().join("home")).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&home.database()).unwrap());
    let dispatcher = Arc::new(Dispatcher::new(home, store.clone(), None));
    store
        .enqueue(&(0..6).map(job).collect::<Vec<_>>())
        .await
        .unwrap();

    let options = WorkerOptions {
        lane: "main".into(),
        concurrency: 2,
        drain: true,
        kind: "default".into(),
        ungated: false,
        clock: Clock::system(),
        metrics: None,
    };
    let (_stop, stop) = tokio::sync::watch::channel(false);
    let queue: Arc<dyn QueueStore> = store.clone();
    // The worker is not `Send` (its outage wait holds a `dyn Display`), so
    // it runs beside the observer in this task.
    let worker = tokio::time::timeout(
        Duration::from_secs(90),
        run_worker(dispatcher, queue, config.clone(), options, stop),
    );
    let observer = async {
        // Three runtime failures open the breaker.
        until(30, "the breaker opens", || async {
            breaker(&*store)
                .await
                .is_some_and(|b| b.state == BreakerState::Open)
        })
        .await;
        let opened = breaker(&*store).await.unwrap();
        assert!(
            opened
                .reason
                .contains("failed at runtime (mostly transient_io)"),
            "{opened:?}"
        );
        let ran = attempts(&*store).await;
        assert!(
            (3..=4).contains(&ran),
            "the threshold, and at most the other slot's attempt: {ran}"
        );

        // While it is open: no claims, and the probes run on their schedule
        // (1s, then 2s) and fail (the canary gets the 529 too).
        until(10, "two probes fail", || async {
            breaker(&*store).await.is_some_and(|b| b.probes_failed >= 2)
        })
        .await;
        let open = breaker(&*store).await.unwrap();
        assert_eq!(open.state, BreakerState::Open);
        assert_eq!(
            attempts(&*store).await,
            ran,
            "no job ran while the breaker was open"
        );
        let probe_gap = open.next_probe_at.unwrap().as_second() - open.changed_at.as_second();
        assert!(
            (1..=2).contains(&probe_gap),
            "capped at probe_max: {open:?}"
        );

        // The provider recovers: the next probe passes, one trial job runs
        // and closes the breaker, then the rest drain.
        std::fs::remove_file(&broken).unwrap();
    };
    let (summary, ()) = tokio::join!(worker, observer);
    summary
        .expect("the worker drains")
        .expect("the worker runs");
    let jobs = store.jobs(&JobFilter::default()).await.unwrap();
    assert!(
        jobs.iter().all(|j| j.state() == JobState::Succeeded),
        "{jobs:?}"
    );
    let closed = breaker(&*store).await.unwrap();
    assert_eq!(closed.state, BreakerState::Closed, "{closed:?}");
    // The webhook heard it open (with the class that opened it) and close.
    let bodies = receiver.bodies();
    let kinds: Vec<&str> = bodies.iter().map(|b| b["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        vec!["breaker_opened", "breaker_closed"],
        "{bodies:#?}"
    );
    assert_eq!(bodies[0]["class"], "transient_io", "{}", bodies[0]);

    // Every transition is an event with its reason, in order.
    let mut events = store.recent_events("route_breaker", 100).await.unwrap();
    events.reverse();
    let moves: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e.body["from"].as_str().unwrap().to_string(),
                e.body["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            ("closed".to_string(), "open".to_string()),
            ("open".into(), "half_open".into()),
            ("half_open".into(), "closed".into())
        ],
        "{events:?}"
    );
    assert!(events
        .iter()
        .all(|e| !e.body["reason"].as_str().unwrap().is_empty()));
    // Half-open ran exactly one job: between the half-open and the close,
    // one attempt was prepared.
    let (half, close) = (events[1].seq, events[2].seq);
    let prepared = store.recent_events("runner_prepare", 1000).await.unwrap();
    let trial_attempts = prepared
        .iter()
        .filter(|e| e.seq > half && e.seq < close && !e.body["job_id"].is_null())
        .count();
    assert_eq!(trial_attempts, 1, "one trial job while half-open");

    // One incident, opened with the breaker and resolved with it.
    let incidents = store.incidents(false).await.unwrap();
    let breaker_incidents: Vec<_> = incidents
        .iter()
        .filter(|i| i.repair_hint.contains("circuit breaker"))
        .collect();
    assert_eq!(breaker_incidents.len(), 1, "{incidents:?}");
    assert!(
        breaker_incidents[0].resolved_at.is_some(),
        "{:?}",
        breaker_incidents[0]
    );
}
