//! Webhook alerts against a real local HTTP receiver (issue 17): a tiny
//! HTTP/1.1 server on a random loopback port, scripted to answer 500 then
//! 200, or to hang. Proves: a 500 is retried and the alert delivered once;
//! a debounced duplicate is never sent; the body carries the class and the
//! hint; a hung receiver blocks nothing (the request times out); each
//! outcome is an event naming the webhook, never its URL. Then end to end:
//! a worker whose agent fails with Codex's real 401 line makes exactly one
//! webhook call, with the class and the hint.
//!
//! Real parts: the real sender and HTTP client over TCP, a real SQLite
//! store, the real dispatcher and worker running a real child process.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentlane::alerts::{spawn, Alert};
use agentlane::class::Class;
use agentlane::config::{AlertFormat, AlertSettings, Webhook, WebhookUrl};
use agentlane::dispatch::Dispatcher;
use agentlane::home::Home;
use agentlane::model::{AlertKind, NewJob};
use agentlane::queue::worker::{run_worker, Clock, WorkerOptions};
use agentlane::store::sqlite::SqliteStore;
use agentlane::store::{DispatchLog, QueueStore, Reader, Store};

#[path = "support/webhook.rs"]
mod webhook;
use webhook::{Answer, Receiver};

fn settings(url: &str, format: AlertFormat) -> AlertSettings {
    AlertSettings {
        webhooks: vec![Webhook {
            name: "ops".into(),
            url: WebhookUrl::Literal(url.into()),
            format,
            on: AlertKind::ALL.to_vec(),
            debounce: Duration::from_secs(600),
        }],
        timeout: Duration::from_millis(500),
        max_attempts: 3,
        ..AlertSettings::default()
    }
}

fn incident(fingerprint: &str) -> Alert {
    Alert::IncidentOpened {
        incident_id: None,
        job_id: None,
        fingerprint: fingerprint.into(),
        class: Class::AuthUnavailable,
        hint: "the API key was refused: run `codex login`".into(),
        evidence: Some("ERROR: unexpected status 401 Unauthorized".into()),
        route: Some("codex".into()),
        lane: Some("main".into()),
        host: "box".into(),
    }
}

fn fixed_now() -> agentlane::alerts::Now {
    Arc::new(|| jiff::Timestamp::from_second(1_800_000_000).unwrap())
}

async fn events(store: &SqliteStore, kind: &str) -> Vec<serde_json::Value> {
    store
        .recent_events(kind, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.body)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_is_retried_then_delivered_once_and_a_duplicate_is_debounced() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("a.db")).unwrap());
    let rx = Receiver::start(vec![Answer::Status(500), Answer::Status(200)]).await;
    let log: Arc<dyn DispatchLog> = store.clone();
    let (alerts, task) = spawn(
        &settings(&rx.url, AlertFormat::Json),
        log,
        "box",
        None,
        fixed_now(),
        |_| None,
    );
    alerts.send(incident("fp1"));
    alerts.send(incident("fp1"));
    alerts.send(incident("fp1"));
    assert!(task.flush(Duration::from_secs(10)).await, "flushed in time");

    let bodies = rx.bodies();
    assert_eq!(
        bodies.len(),
        2,
        "one alert, sent twice (500, then 200): {bodies:?}"
    );
    assert_eq!(bodies[0], bodies[1], "the retry sends the same body");
    let body = &bodies[1];
    assert_eq!(body["version"], 1);
    assert_eq!(body["kind"], "incident_opened");
    assert_eq!(body["class"], "auth_unavailable");
    assert_eq!(body["hint"], "the API key was refused: run `codex login`");
    assert_eq!(body["affected"], 1);
    assert_eq!(body["see"], "agentlane incidents");

    let delivered = events(&store, "alert_delivered").await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let e = &delivered[0];
    assert_eq!(e["webhook"], "ops");
    assert_eq!(e["attempts"], 2);
    assert_eq!(e["status"], 200);
    assert_eq!(e["class"], "auth_unavailable");
    assert!(events(&store, "alert_failed").await.is_empty());
    let all = format!(
        "{:?}",
        store.recent_events("alert_delivered", 10).await.unwrap()
    );
    assert!(
        !all.contains("secret-token-path") && !all.contains("127.0.0.1"),
        "no URL at rest: {all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_is_sent_and_a_suppressed_count_rides_on_the_next_alert_after_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("a.db")).unwrap());
    let rx = Receiver::start(vec![Answer::Status(200)]).await;
    let clock = Arc::new(Mutex::new(
        jiff::Timestamp::from_second(1_800_000_000).unwrap(),
    ));
    let c = clock.clone();
    let now: agentlane::alerts::Now = Arc::new(move || *c.lock().unwrap());
    let log: Arc<dyn DispatchLog> = store.clone();
    let (alerts, task) = spawn(
        &settings(&rx.url, AlertFormat::Slack),
        log,
        "box",
        None,
        now,
        |_| None,
    );
    alerts.send(incident("fp1"));
    alerts.send(incident("fp1"));
    alerts.send(incident("fp2"));
    *clock.lock().unwrap() = jiff::Timestamp::from_second(1_800_000_000 + 601).unwrap();
    alerts.send(incident("fp1"));
    assert!(task.flush(Duration::from_secs(10)).await);
    let bodies = rx.bodies();
    assert_eq!(
        bodies.len(),
        3,
        "fp1, fp2, fp1 after the window: {bodies:?}"
    );
    for b in &bodies {
        let text = b["text"].as_str().unwrap();
        assert!(
            text.contains("auth_unavailable") && text.contains("codex login"),
            "{text}"
        );
    }
    let suppressed: Vec<bool> = bodies
        .iter()
        .map(|b| {
            b["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("Suppressed since the last alert:* 1")
        })
        .collect();
    assert_eq!(suppressed.iter().filter(|s| **s).count(), 1, "{bodies:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_receiver_blocks_nothing_and_the_failure_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("a.db")).unwrap());
    let rx = Receiver::start(vec![Answer::Hang]).await;
    let log: Arc<dyn DispatchLog> = store.clone();
    let mut s = settings(&rx.url, AlertFormat::Json);
    s.max_attempts = 2;
    s.queue = 2;
    let (alerts, task) = spawn(&s, log, "box", None, fixed_now(), |_| None);
    let started = Instant::now();
    for i in 0..50 {
        alerts.send(incident(&format!("fp{i}")));
    }
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "sending never waits: {:?}",
        started.elapsed()
    );
    assert!(alerts.dropped() > 0, "a full queue drops, never blocks");
    // Two tries of 500 ms each, a backoff between them of at most 500 ms.
    assert!(
        task.flush(Duration::from_secs(10)).await,
        "the timeouts bound every delivery"
    );
    let failed = events(&store, "alert_failed").await;
    assert!(!failed.is_empty(), "the failure is recorded");
    for e in &failed {
        assert_eq!(e["attempts"], 2, "{e}");
        assert!(
            e["error"].as_str().unwrap().contains("no answer within"),
            "{e}"
        );
        assert!(e.get("status").is_none(), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_is_not_retried_and_an_unreachable_hook_is_retried_to_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("a.db")).unwrap());
    let rx = Receiver::start(vec![Answer::Status(404)]).await;
    // A port nobody listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut s = settings(&rx.url, AlertFormat::Json);
    s.webhooks.push(Webhook {
        name: "gone".into(),
        url: WebhookUrl::Env("GONE_URL".into()),
        ..s.webhooks[0].clone()
    });
    let log: Arc<dyn DispatchLog> = store.clone();
    let gone = format!("http://{closed}/x");
    let (alerts, task) = spawn(&s, log, "box", None, fixed_now(), move |v| {
        (v == "GONE_URL").then(|| gone.clone())
    });
    alerts.send(incident("fp1"));
    assert!(task.flush(Duration::from_secs(10)).await);
    assert_eq!(rx.bodies().len(), 1, "a 404 is not retried");
    let mut failed = events(&store, "alert_failed").await;
    failed.sort_by_key(|e| e["webhook"].as_str().unwrap().to_string());
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(
        (
            &failed[0]["webhook"],
            &failed[0]["attempts"],
            &failed[0]["error"]
        ),
        (&"gone".into(), &3.into(), &"could not connect".into())
    );
    assert_eq!(
        (
            &failed[1]["webhook"],
            &failed[1]["attempts"],
            &failed[1]["status"]
        ),
        (&"ops".into(), &1.into(), &404.into())
    );
}

// --- end to end: a worker ---

/// An agent that answers as Codex CLI does when its API key is refused
/// (the line is from classify/builtin_cases.toml, `codex_unauthorized_401`).
fn write_agent(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("codex");
    let script = r#"#!/bin/sh
case "$1" in --version) echo "codex-cli 0.169.0"; exit 0;; esac
echo "ERROR: unexpected status 401 Unauthorized: Incorrect API key provided: sk-test-0***0000. You can find your API key at https://platform.openai.com/account/api-keys., url: http://127.0.0.1:18081/v1/responses" >&2
exit 1
"#;
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The configuration of one Codex route whose alerts go to `AGENTLANE_TEST_ALERT_URL`.
fn worker_config(dir: &Path, agent: &Path) -> agentlane::config::Config {
    let text = format!(
        r#"
[queue]
poll = "50ms"
listen = false

[routes.codex]
profile = "codex"
program = "{agent}"
env_clear = true
env = {{ PATH = "/usr/bin:/bin", HOME = "{home}" }}

[kinds.review]
routes = ["codex"]

[lanes.main]
routes = ["codex"]

[[alerts.webhook]]
name = "ops"
url_env = "AGENTLANE_TEST_ALERT_URL"
"#,
        agent = agent.display(),
        home = dir.display()
    );
    agentlane::config::parse(&dir.join("agentlane.toml"), &text).unwrap()
}

/// Runs a draining worker of lane `main` over one queued job; returns the store.
async fn run_one_job(dir: &Path, url: &str, ungated: bool) -> (Arc<dyn Store>, Arc<SqliteStore>) {
    let agent = write_agent(dir);
    let config = Arc::new(worker_config(dir, &agent));
    // The URL by reference, as an operator keeps a secret out of the file
    // (both tests set it to their own receiver before the worker reads it).
    let _guard = ENV.lock().await;
    std::env::set_var("AGENTLANE_TEST_ALERT_URL", url);
    let home = Home::open(&dir.join("home")).unwrap();
    let sqlite = Arc::new(SqliteStore::open(&home.database()).unwrap());
    let store: Arc<dyn Store> = sqlite.clone();
    let dispatcher = Arc::new(Dispatcher::new(home, store.clone(), None));
    store
        .enqueue(&[NewJob {
            kind: "review".into(),
            lane: "main".into(),
            route: "codex".into(),
            prompt: "review the change".into(),
            fields: Default::default(),
            priority: 0,
            key: None,
            label: None,
        }])
        .await
        .unwrap();
    let options = WorkerOptions {
        lane: "main".into(),
        concurrency: 1,
        drain: true,
        kind: "default".into(),
        ungated,
        clock: Clock::system(),
        metrics: None,
    };
    let (_stop, stop) = tokio::sync::watch::channel(false);
    let queue: Arc<dyn QueueStore> = store.clone();
    let worker = run_worker(dispatcher, queue, config, options, stop);
    tokio::time::timeout(Duration::from_secs(60), worker)
        .await
        .expect("the worker drains")
        .expect("the worker runs");
    (store, sqlite)
}

/// The process environment is shared by the tests of this file.
static ENV: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_makes_exactly_one_webhook_call_with_its_class_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(vec![Answer::Status(200)]).await;
    let (store, sqlite) = run_one_job(dir.path(), &rx.url, true).await;

    let bodies = rx.bodies();
    assert_eq!(bodies.len(), 1, "exactly one call: {bodies:?}");
    let b = &bodies[0];
    assert_eq!(b["kind"], "incident_opened");
    assert_eq!(b["class"], "auth_unavailable");
    let incidents = store.incidents(false).await.unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(b["hint"], incidents[0].repair_hint.as_str());
    assert!(!incidents[0].repair_hint.is_empty());
    assert_eq!(
        b["key"],
        format!("incident:{}", incidents[0].failure_fingerprint)
    );
    let jobs = store.jobs(&Default::default()).await.unwrap();
    let job = &jobs[0];
    assert_eq!(b["see"], format!("agentlane job {}", job.id));
    assert_eq!(b["details"]["route"], "codex");
    let delivered = events(&sqlite, "alert_delivered").await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0]["job_id"], job.id.as_str());
    assert!(
        store
            .job_events(&job.id)
            .await
            .unwrap()
            .iter()
            .any(|e| e.kind == "alert_delivered"),
        "the job shows its alert"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_preflight_alerts_once_with_its_incident() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(vec![Answer::Status(200)]).await;
    let (store, _) = run_one_job(dir.path(), &rx.url, false).await;
    let incidents = store.incidents(false).await.unwrap();
    let bodies = rx.bodies();
    assert_eq!(
        bodies.len(),
        1,
        "exactly one call: {bodies:?} {incidents:?}"
    );
    let b = &bodies[0];
    assert_eq!(b["kind"], "incident_opened");
    assert_eq!(b["class"], "auth_unavailable");
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(b["see"], format!("agentlane incident {}", incidents[0].id));
    assert_eq!(b["hint"], incidents[0].repair_hint.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_failed_jobs_make_one_mass_failure_and_one_debounced_incident() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(vec![Answer::Status(200)]).await;
    let agent = dir.path().join("tool");
    std::fs::write(
        &agent,
        "#!/bin/sh\necho 'tool: internal failure 17' >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = format!(
        r#"
[queue]
poll = "50ms"
listen = false

[retry.unknown_exit]
action = "fail"

[routes.tool]
program = "{agent}"
env_clear = true
env = {{ PATH = "/usr/bin:/bin" }}

[kinds.review]
routes = ["tool"]

[lanes.main]
routes = ["tool"]

[[alerts.webhook]]
name = "ops"
url = "{url}"
on = ["incident_opened", "mass_failure"]
"#,
        agent = agent.display(),
        url = rx.url
    );
    let config =
        Arc::new(agentlane::config::parse(&dir.path().join("agentlane.toml"), &text).unwrap());
    let home = Home::open(&dir.path().join("home")).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&home.database()).unwrap());
    let dispatcher = Arc::new(Dispatcher::new(home, store.clone(), None));
    let jobs: Vec<NewJob> = (0..3)
        .map(|i| NewJob {
            kind: "review".into(),
            lane: "main".into(),
            route: "tool".into(),
            prompt: format!("job {i}"),
            fields: Default::default(),
            priority: 0,
            key: None,
            label: None,
        })
        .collect();
    store.enqueue(&jobs).await.unwrap();
    let options = WorkerOptions {
        lane: "main".into(),
        concurrency: 3,
        drain: true,
        kind: "default".into(),
        ungated: true,
        clock: Clock::system(),
        metrics: None,
    };
    let (_stop, stop) = tokio::sync::watch::channel(false);
    let queue: Arc<dyn QueueStore> = store.clone();
    tokio::time::timeout(
        Duration::from_secs(60),
        run_worker(dispatcher, queue, config, options, stop),
    )
    .await
    .expect("the worker drains")
    .expect("the worker runs");
    let mut bodies = rx.bodies();
    bodies.sort_by_key(|b| b["kind"].as_str().unwrap().to_string());
    let kinds: Vec<&str> = bodies.iter().map(|b| b["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["incident_opened", "mass_failure"], "{bodies:?}");
    let mass = &bodies[1];
    assert_eq!(mass["class"], "unknown_exit_3");
    assert_eq!(mass["affected"], 3);
    assert_eq!(mass["see"], "agentlane jobs --lane main");
    assert_eq!(mass["details"]["routes"], serde_json::json!(["tool"]));
    assert!(!mass["hint"].as_str().unwrap().is_empty(), "{mass}");
}
