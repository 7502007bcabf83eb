//! Hard stops stop claims, and `worker --drain` exits by what it left
//! (issue 16): N jobs behind a bad key cost one attempt, not one per job or
//! per slot.

use super::*;

/// Claude Code as it answers with a key the API refuses; every run (not
/// preflight's `--version`) is counted in `$DIR/calls`.
const BAD_KEY_CLI: &str = "#!/bin/sh\ncase \"$1\" in --version) echo 1.0; exit 0;; esac\necho run >> \"$CALLS\"\necho 'Invalid API key · Please run /login'\nexit 1\n";

/// A drain's exit status and stderr (`Queue::drain` checks the status is one a drain documents).
fn drain_status(q: &Queue, concurrency: &str) -> (Option<i32>, String) {
    let out = q.drain(concurrency);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn enqueue_many(q: &Queue, n: usize) {
    let lines: String = (0..n)
        .map(|i| format!("{{\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"review {i}\"}}\n"))
        .collect();
    let file = q.sb.path("jobs.jsonl");
    std::fs::write(&file, lines).unwrap();
    let out = q.cli(&["enqueue", "--jsonl", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn fifty_jobs_behind_a_bad_key_cost_one_attempt_and_wait_blocked_with_the_reason() {
    let q = Queue::new(
        r#"
[routes.review]
profile = "claude"
program = "$DIR/bin/claude"
args = ["-p", "{prompt}"]
env = { CALLS = "$DIR/calls", ANTHROPIC_API_KEY = "sk-ant-api03-not-a-real-key-000000000000" }
[kinds.k]
routes = ["review"]
[lanes.main]
routes = ["review"]
"#,
    );
    write_exe(&q.sb.path("bin/claude"), BAD_KEY_CLI, 0o755);
    enqueue_many(&q, 50);

    let (status, stderr) = drain_status(&q, "4");
    assert_eq!(status, Some(101), "a route needs repair: {stderr}");
    assert!(stderr.contains("blocked by incident"), "{stderr}");
    let calls = std::fs::read_to_string(q.sb.path("calls")).unwrap_or_default();
    assert_eq!(calls.lines().count(), 1, "exactly one attempt ran");

    let jobs = q.jobs();
    let count = |state: &str| jobs.iter().filter(|j| j["state"] == state).count();
    assert_eq!((count("parked"), count("queued")), (1, 49), "{jobs:#?}");
    let incidents = q.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0]["classifier"], "auth_unavailable");
    let incident = incidents[0]["id"].as_str().unwrap();
    for j in jobs.iter().filter(|j| j["state"] == "queued") {
        assert_eq!(j["next_action"], "blocked", "{j}");
        assert_eq!(j["blocked_by"], incident, "{j}");
        let reason = j["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("blocked on ") && reason.contains(incident),
            "the reason names the block: {reason}"
        );
    }
    // The human listing says it too.
    let out = q.cli(&["jobs", "--limit", "0"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("blocked"));

    // Another drain attempts nothing while the incident is open.
    let (status, _) = drain_status(&q, "4");
    assert_eq!(status, Some(101));
    let calls = std::fs::read_to_string(q.sb.path("calls")).unwrap_or_default();
    assert_eq!(calls.lines().count(), 1, "a blocked route stays blocked");
}

#[test]
fn a_drain_exits_0_when_all_succeeded_and_100_when_some_failed() {
    let q = Queue::new(
        r#"
[routes.tool]
profile = "generic"
program = "$DIR/bin/tool"
args = ["{prompt}"]
[kinds.k]
routes = ["tool"]
[lanes.main]
routes = ["tool"]
[retry.unknown_exit]
action = "fail"
"#,
    );
    write_exe(
        &q.sb.path("bin/tool"),
        "#!/bin/sh\ncase \"$1\" in *fail*) echo 'something broke' >&2; exit 3;; esac\necho done\n",
        0o755,
    );
    q.enqueue("k", "fine one");
    q.enqueue("k", "fine two");
    let (status, stderr) = drain_status(&q, "2");
    assert_eq!(status, Some(0), "{stderr}");

    q.enqueue("k", "fine three");
    q.enqueue("k", "this will fail");
    let (status, stderr) = drain_status(&q, "2");
    assert_eq!(status, Some(100), "some failed, none parked: {stderr}");
    let jobs = q.jobs();
    let states = states(&jobs);
    assert_eq!(
        states.iter().filter(|s| **s == "failed").count(),
        1,
        "{states:?}"
    );
}

/// Claude Code out of quota (the legacy `…|<epoch>` form gives the reset);
/// every run is counted in `$CALLS`.
const QUOTA_CLI: &str = "#!/bin/sh\ncase \"$1\" in --version) echo 1.0; exit 0;; esac\necho run >> \"$CALLS\"\necho \"Claude AI usage limit reached|$RESET\"\nexit 1\n";

#[test]
fn one_accounts_quota_parks_both_lanes_and_status_says_until_when() {
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 7200;
    let q = Queue::new(&format!(
        r#"
[routes.fast]
profile = "claude"
program = "$DIR/bin/claude"
env = {{ CALLS = "$DIR/calls", RESET = "{reset}", ANTHROPIC_API_KEY = "sk-ant-api03-shared-account-00000000a1f3" }}
[routes.slow]
profile = "claude"
program = "$DIR/bin/claude"
env = {{ CALLS = "$DIR/calls", RESET = "{reset}", ANTHROPIC_API_KEY = "sk-ant-api03-shared-account-00000000a1f3" }}
[kinds.k]
routes = ["fast", "slow"]
[lanes.main]
routes = ["fast"]
[lanes.other]
routes = ["slow"]
"#
    ));
    write_exe(&q.sb.path("bin/claude"), QUOTA_CLI, 0o755);
    enqueue_many(&q, 3);
    let lines: String = (0..3)
        .map(|i| format!("{{\"kind\":\"k\",\"lane\":\"other\",\"prompt\":\"other {i}\"}}\n"))
        .collect();
    let file = q.sb.path("other.jsonl");
    std::fs::write(&file, lines).unwrap();
    assert!(q
        .cli(&["enqueue", "--jsonl", file.to_str().unwrap()])
        .status
        .success());

    let (status, stderr) = drain_status(&q, "2");
    assert_eq!(status, Some(101), "{stderr}");
    let jobs = q.jobs();
    assert!(
        jobs.iter().all(|j| j["state"] == "parked"),
        "both lanes' jobs are parked: {jobs:#?}"
    );
    // The other lane's worker runs nothing: its route spends the same account.
    let (status, _) = {
        let out = q.cli(&["worker", "--lane", "other", "--drain"]);
        (out.status.code(), ())
    };
    assert_eq!(status, Some(101));
    let calls = std::fs::read_to_string(q.sb.path("calls")).unwrap_or_default();
    assert_eq!(
        calls.lines().count(),
        1,
        "one attempt for the whole account"
    );

    let out = q.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("claude account (key …a1f3) is out of quota until ")
            && text.contains("UTC; 6 jobs parked"),
        "{text}"
    );
    assert!(!text.contains("sk-ant-api03-shared"), "{text}");
    let v = q.json(&["status", "--json"]);
    assert_eq!(v["accounts_out_of_quota"][0]["parked"], 6, "{v}");
}
