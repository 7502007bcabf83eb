//! Snapshots of the serialized forms: the report JSON (`exec --json`), the
//! event payloads the stores write, and the `Job` / `Incident` JSON of the
//! listings. Issue 15 refactors the model layer under these forms; the bytes
//! must not move.
//!
//! Each snapshot is a file under `tests/data/snapshots/`, holding the
//! value's `serde_json::to_string_pretty` and a newline. The test compares
//! those bytes exactly, and also the compact form (`to_string`, what `exec
//! --json` prints and the stores write) with the file minified, so both are
//! pinned. The values are built with fixed ids, times and texts in
//! `tests/support/fixed.rs`: a refactor changes that helper, not the files.
//!
//! `stored/` holds the exact text the SQLite store writes in its JSON
//! columns (`dispatches.report`, `events.body`), one line each.
//!
//! A snapshot changed on purpose is rewritten with
//! `UPDATE_SNAPSHOTS=1 cargo test -p agentlane --test snapshots`; review
//! the diff before committing it (a changed byte is a changed format).

#[path = "support/fixed.rs"]
mod fixed;

use std::path::PathBuf;
use std::time::Duration;

use agentlane::events::Event;
use agentlane::queue::JobState;
use agentlane::store::sqlite::SqliteStore;
use agentlane::store::{DispatchLog, DispatchSummary, QueueStore};
use agentlane::Class;
use fixed::*;

fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/snapshots")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1")
}

/// The first line where `actual` and `expected` differ, with both lines.
fn first_difference(actual: &str, expected: &str) -> String {
    let (a, e): (Vec<_>, Vec<_>) = (actual.lines().collect(), expected.lines().collect());
    for i in 0..a.len().max(e.len()) {
        let (x, y) = (a.get(i), e.get(i));
        if x != y {
            return format!(
                "line {}:\n  expected: {}\n  actual:   {}",
                i + 1,
                y.unwrap_or(&"<end>"),
                x.unwrap_or(&"<end>")
            );
        }
    }
    "the texts differ only in their final newline".to_string()
}

/// Pretty JSON with its whitespace outside strings removed: the compact form.
fn minify(pretty: &str) -> String {
    let mut out = String::with_capacity(pretty.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in pretty.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

fn compare_file(path: &std::path::Path, actual: &str) {
    if updating() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "snapshot {} is missing ({e}): write it with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    assert!(
        actual == expected,
        "the bytes of {} changed ({}). If on purpose, rewrite it with UPDATE_SNAPSHOTS=1 and review the diff",
        path.display(),
        first_difference(actual, &expected)
    );
}

/// Compares `value`'s pretty and compact JSON with the snapshot `name`.
fn check(name: &str, value: &impl serde::Serialize) {
    let path = snapshot_dir().join(format!("{name}.json"));
    let pretty = serde_json::to_string_pretty(value).unwrap() + "\n";
    compare_file(&path, &pretty);
    let compact = serde_json::to_string(value).unwrap();
    assert_eq!(
        compact,
        minify(&pretty),
        "{name}: the compact form is not the pretty form minified"
    );
    if !updating() {
        let expected = std::fs::read_to_string(&path).unwrap();
        assert_eq!(compact, minify(&expected), "{name}: compact bytes changed");
    }
}

#[test]
fn minify_keeps_strings_whole() {
    let v = serde_json::json!({"a b": "x  \" \\ y\n", "c": [1, {"d": null}]});
    assert_eq!(
        minify(&serde_json::to_string_pretty(&v).unwrap()),
        serde_json::to_string(&v).unwrap()
    );
}

/// The report of every outcome, as `exec --json` prints it.
#[test]
fn dispatch_report_json() {
    for (n, outcome) in Outcome::ALL.into_iter().enumerate() {
        let job = (outcome == Outcome::RateLimitedWithReset).then_some(("job-1", 2));
        let r = report(&dispatch_id(n as u32 + 1), outcome, job);
        check(&format!("report-{}", outcome.name()), &r);
    }
}

/// The events of a dispatch, tagged by kind as the stores keep them.
#[test]
fn runner_event_payloads() {
    check(
        "event-runner_prepare",
        &Event::RunnerPrepare(prepare(&dispatch_id(1), Some(("job-1", 1)))),
    );
    let mut diagnosed = prepare(&dispatch_id(7), None);
    diagnosed.env_names = Some(vec!["HOME".to_string(), "PATH".to_string()]);
    diagnosed.cli_path = None;
    diagnosed.interpreter = None;
    diagnosed.timeout_ms = None;
    check(
        "event-runner_prepare-diagnostics",
        &Event::RunnerPrepare(diagnosed),
    );
    for outcome in Outcome::ALL {
        let r = report(&dispatch_id(1), outcome, None);
        let launched = outcome != Outcome::RefusedBeforeLaunch;
        for event in finish_events(&r, launched) {
            check(
                &format!("event-{}-{}", event.kind(), outcome.name()),
                &event,
            );
        }
    }
}

/// The queue's events: decisions (each settlement), rejected decisions,
/// admissions, preflights.
#[test]
fn queue_event_payloads() {
    let rl = report(&dispatch_id(2), Outcome::RateLimitedWithReset, None);
    let settlements = [
        ("done", agentlane::queue::Next::Done, Class::Ok),
        (
            "retry",
            retry(
                Duration::from_millis(90_500),
                Some(Duration::from_secs(2_400)),
                true,
            ),
            Class::Timeout,
        ),
        ("park", agentlane::queue::Next::Park, Class::QuotaExhausted),
        ("fail", agentlane::queue::Next::Fail, Class::CliMissing),
        ("release", agentlane::queue::Next::Release, Class::Ok),
    ];
    for (name, settle, class) in settlements {
        let c = completion(
            "job-1",
            3,
            "build-01:4242",
            Some(&dispatch_id(2)),
            class,
            settle,
            &format!("{name}: as the retry table says"),
            Some(incident_facts(&rl, "build")),
        );
        check(
            &format!("event-job_decided-{name}"),
            &Event::JobDecided(c.decided()),
        );
    }
    let lost = completion(
        "job-1",
        3,
        "build-02:99",
        None,
        Class::WorkerLost,
        agentlane::queue::Next::Fail,
        "the lease was lost",
        None,
    );
    check(
        "event-job_decision_rejected",
        &Event::JobDecisionRejected(lost.decided()),
    );
    check(
        "event-job_admitted",
        &Event::JobAdmitted(job_admitted("job-1")),
    );
    check(
        "event-preflight_checked",
        &Event::PreflightChecked(preflight_failed()),
    );
}

/// `Job` as the library serialises it (the prompt is never printed), and
/// `Incident` as `agentlane incidents --json` prints it (an array).
#[test]
fn job_and_incident_json() {
    for state in [JobState::Scheduled, JobState::Running, JobState::Parked] {
        check(&format!("job-{}", state.label()), &job(state));
    }
    check("incidents", &vec![incident(true), incident(false)]);
    check(
        "dispatch-summary",
        &DispatchSummary {
            dispatch_id: dispatch_id(3),
            created_at: "2026-03-01T14:00:00.001Z".to_string(),
            finished_at: Some("2026-03-01T14:20:05.003Z".to_string()),
            program: "claude".to_string(),
            cwd: "/srv/repo/sub".to_string(),
            route: Some("claude-sonnet".to_string()),
            job_id: Some("job-1".to_string()),
            classifier: Some("timeout".to_string()),
            exit_code: None,
            signal: Some(9),
            timed_out: true,
            duration_ms: Some(1_205_002),
        },
    );
}

/// What the SQLite store writes in its JSON columns, byte for byte: the
/// report (without its environment fingerprint, which `runner_prepare`
/// holds) and each event's body (the compact form of the snapshots above).
#[tokio::test]
async fn sqlite_stored_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agentlane.sqlite");
    let store = SqliteStore::open(&db).unwrap();
    let mut expected_events = Vec::new();
    for (n, outcome) in Outcome::ALL.into_iter().enumerate() {
        let id = dispatch_id(n as u32 + 1);
        let p = prepare(&id, None);
        store.record_prepare(&p).await.unwrap();
        expected_events.push(Event::RunnerPrepare(p));
        let r = report(&id, outcome, None);
        let events = finish_events(&r, outcome != Outcome::RefusedBeforeLaunch);
        store.record_finish(&r, &events).await.unwrap();
        expected_events.extend(events);
    }
    // A job's decisions, and the worker_lost verdict the store writes itself.
    let ids = store
        .enqueue(&[new_job("stored", "build", 0)])
        .await
        .unwrap();
    let routes = vec!["claude-sonnet".to_string()];
    let claimed = store
        .claim(
            "build",
            &routes,
            "build-01:4242",
            Duration::from_millis(1),
            1,
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let lost_id = dispatch_id(100);
    store
        .record_prepare(&prepare(&lost_id, Some((&ids[0], 1))))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let rescued = store
        .rescue_expired("build-02:77", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(rescued.len(), 1);
    let c = completion(
        &ids[0],
        1,
        "build-02:77",
        Some(&lost_id),
        Class::WorkerLost,
        retry(Duration::from_secs(30), None, false),
        "worker_lost: retry",
        None,
    );
    assert!(store.settle(&c).await.unwrap());
    assert!(!store.settle(&c).await.unwrap(), "settled once");
    drop(store);

    let conn = rusqlite::Connection::open(&db).unwrap();
    let reports: Vec<(String, String)> = conn
        .prepare("SELECT id, report FROM dispatches WHERE report IS NOT NULL ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(reports.len(), Outcome::ALL.len());
    for (n, ((id, text), outcome)) in reports.iter().zip(Outcome::ALL).enumerate() {
        assert_eq!(id, &dispatch_id(n as u32 + 1));
        compare_file(
            &snapshot_dir().join(format!("stored/report-{}.json", outcome.name())),
            &format!("{text}\n"),
        );
    }
    let events: Vec<(Option<String>, String, String)> = conn
        .prepare("SELECT job_id, kind, body FROM events ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // The dispatches' events: exactly the compact form of the typed events.
    for ((_, kind, body), event) in events.iter().zip(&expected_events) {
        assert_eq!(kind, event.kind());
        assert_eq!(body, &serde_json::to_string(event).unwrap(), "{kind}");
    }
    let rest = &events[expected_events.len()..];
    let kinds: Vec<&str> = rest.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "runner_prepare",
            "runner_classified_failure",
            "job_decided",
            "job_decision_rejected"
        ]
    );
    assert!(rest
        .iter()
        .all(|(job, _, _)| job.as_deref() == Some(&ids[0])));
    compare_file(
        &snapshot_dir().join("stored/event-runner_classified_failure-worker_lost.json"),
        &format!("{}\n", rest[1].2),
    );
    let decided = Event::JobDecided(c.decided());
    assert_eq!(rest[2].2, serde_json::to_string(&decided).unwrap());
    let rejected = Event::JobDecisionRejected(c.decided());
    assert_eq!(rest[3].2, serde_json::to_string(&rejected).unwrap());
}
