//! An account's quota, for the whole account, once (issue 17): 20 jobs in
//! two lanes whose routes spend one Claude account. The first
//! `quota_exhausted` with a reset time parks all 20 at once; none is
//! retried before the reset (the workers' clock is fixed here, the real
//! one is never read for that decision); after the reset (plus the jitter)
//! a worker's preflight passes and all 20 are released and run.
//!
//! Real parts: a real SQLite file, the real dispatcher and workers, and a
//! real child process per attempt (a shell script that answers as Claude
//! Code does: `Claude AI usage limit reached|<epoch>` while the account is
//! out of quota, a stream-json `result` once it is not).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use agentlane::dispatch::Dispatcher;
use agentlane::home::Home;
use agentlane::model::{JobFilter, JobState, NewJob};
use agentlane::queue::worker::{run_worker, Clock, WorkerOptions};
use agentlane::store::sqlite::SqliteStore;
use agentlane::store::{QueueStore, Store};

#[path = "support/webhook.rs"]
mod webhook;

const JITTER_SECS: i64 = 30;

fn write_agent(dir: &Path, flag: &Path) -> std::path::PathBuf {
    let path = dir.join("claude");
    let script = format!(
        r#"#!/bin/sh
case "$1" in --version) echo "2.1.197 (Claude Code)"; exit 0;; esac
if [ -e "{flag}" ]; then
  echo "Claude AI usage limit reached|$(cat "{flag}")"
  exit 1
fi
echo '{{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done","total_cost_usd":0.01,"usage":{{"input_tokens":5,"output_tokens":3}}}}'
"#,
        flag = flag.display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn config(dir: &Path, agent: &Path, webhook: &str) -> agentlane::config::Config {
    let home = dir.join("user");
    std::fs::create_dir_all(&home).unwrap();
    let env = format!(
        r#"env_clear = true
env = {{ PATH = "/usr/bin:/bin", HOME = "{home}", ANTHROPIC_API_KEY = "sk-ant-api03-quota-test-0000000000000000a1f3" }}"#,
        home = home.display()
    );
    let text = format!(
        r#"
[[alerts.webhook]]
name = "ops"
url = "{webhook}"
on = ["quota_parked", "quota_released"]

[queue]
quota_release_jitter = "{JITTER_SECS}s"
poll = "50ms"
listen = false

[routes.r1]
profile = "claude"
program = "{agent}"
{env}

[routes.r2]
profile = "claude"
program = "{agent}"
{env}

[kinds.review]
routes = ["r1", "r2"]

[lanes.one]
routes = ["r1"]

[lanes.two]
routes = ["r2"]
"#,
        agent = agent.display()
    );
    agentlane::config::parse(&dir.join("agentlane.toml"), &text).unwrap()
}

fn job(lane: &str, route: &str, i: usize) -> NewJob {
    NewJob {
        kind: "review".into(),
        lane: lane.into(),
        route: route.into(),
        prompt: format!("review change {i}"),
        fields: Default::default(),
        priority: 0,
        key: None,
        label: None,
    }
}

struct World {
    store: Arc<dyn Store>,
    dispatcher: Arc<Dispatcher>,
    config: Arc<agentlane::config::Config>,
    now: Arc<Mutex<jiff::Timestamp>>,
}

impl World {
    async fn drain(&self, lane: &str) {
        let now = self.now.clone();
        let options = WorkerOptions {
            lane: lane.into(),
            concurrency: 4,
            drain: true,
            kind: "default".into(),
            ungated: false,
            clock: Clock::from_fn(move || *now.lock().unwrap()),
            metrics: None,
        };
        let (_stop, stop) = tokio::sync::watch::channel(false);
        let queue: Arc<dyn QueueStore> = self.store.clone();
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            run_worker(
                self.dispatcher.clone(),
                queue,
                self.config.clone(),
                options,
                stop,
            ),
        )
        .await
        .expect("the worker drains")
        .expect("the worker runs");
    }

    async fn states(&self) -> Vec<(JobState, u32)> {
        self.store
            .jobs(&JobFilter::default())
            .await
            .unwrap()
            .iter()
            .map(|j| (j.state(), j.attempts))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_accounts_quota_parks_every_lane_until_its_reset_then_releases_all() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("out-of-quota");
    let reset = jiff::Timestamp::now().as_second() + 3 * 3600;
    std::fs::write(&flag, reset.to_string()).unwrap();
    let agent = write_agent(dir.path(), &flag);
    let receiver = webhook::Receiver::start(vec![webhook::Answer::Status(200)]).await;
    let config = Arc::new(config(dir.path(), &agent, &receiver.url));
    let home = Home::open(&dir.path().join("home")).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&home.database()).unwrap());
    let dispatcher = Arc::new(Dispatcher::new(home, store.clone(), None));
    let now = Arc::new(Mutex::new(jiff::Timestamp::now()));
    let world = World {
        store: store.clone(),
        dispatcher,
        config,
        now: now.clone(),
    };
    let mut jobs: Vec<NewJob> = (0..10).map(|i| job("one", "r1", i)).collect();
    jobs.extend((10..20).map(|i| job("two", "r2", i)));
    store.enqueue(&jobs).await.unwrap();

    // The first attempt hits the quota: all 20 jobs, both lanes, are parked.
    world.drain("one").await;
    let states = world.states().await;
    assert!(
        states.iter().all(|(s, _)| *s == JobState::Parked),
        "{states:?}"
    );
    assert_eq!(
        states.iter().map(|(_, a)| a).sum::<u32>(),
        1,
        "one attempt ran"
    );
    let quotas = store.quota_incidents().await.unwrap();
    assert_eq!(quotas.len(), 1, "one incident for the account: {quotas:?}");
    let q = &quotas[0];
    assert_eq!(q.parked, 20);
    assert_eq!(q.reset_at.map(|t| t.as_second()), Some(reset));
    assert_eq!(
        q.account_label.as_deref(),
        Some("claude account (key …a1f3)")
    );

    // Before the reset (the workers' clock says one minute before it plus
    // the jitter has not passed), nothing runs, in either lane.
    *now.lock().unwrap() = jiff::Timestamp::from_second(reset - 60).unwrap();
    world.drain("two").await;
    world.drain("one").await;
    let states = world.states().await;
    assert!(
        states.iter().all(|(s, _)| *s == JobState::Parked),
        "{states:?}"
    );
    assert_eq!(
        states.iter().map(|(_, a)| a).sum::<u32>(),
        1,
        "nothing retried before the reset"
    );

    // After the reset and the jitter, the account has quota again: the
    // first worker's preflight passes, the incident is resolved, all 20
    // are released at once and run.
    std::fs::remove_file(&flag).unwrap();
    *now.lock().unwrap() = jiff::Timestamp::from_second(reset + JITTER_SECS + 1).unwrap();
    world.drain("one").await;
    let released = world.states().await;
    assert!(
        released.iter().all(|(s, _)| *s != JobState::Parked),
        "every job released, lane two's too: {released:?}"
    );
    world.drain("two").await;
    let states = world.states().await;
    assert!(
        states.iter().all(|(s, _)| *s == JobState::Succeeded),
        "{states:?}"
    );
    assert_eq!(
        states.iter().map(|(_, a)| a).sum::<u32>(),
        21,
        "each job ran once more, the first twice"
    );
    assert!(store.quota_incidents().await.unwrap().is_empty());

    // The webhook heard both: once parked (with the account and how many),
    // once released.
    let bodies = receiver.bodies();
    let kinds: Vec<&str> = bodies.iter().map(|b| b["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["quota_parked", "quota_released"], "{bodies:#?}");
    assert_eq!(bodies[0]["class"], "quota_exhausted");
    assert!(
        bodies[0].to_string().contains("claude account (key …a1f3)"),
        "{}",
        bodies[0]
    );
    assert!(!bodies
        .iter()
        .any(|b| b.to_string().contains("sk-ant-api03")));
}
