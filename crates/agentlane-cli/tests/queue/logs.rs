//! The worker's log lines (issue 16): one event per start, preflight
//! change, claim, launch, attempt end, incident, decision and stop, with the
//! job, route, attempt and class as fields — as human lines and as JSON
//! objects — filtered by AGENTLANE_LOG; `exec` logs nothing unless asked.

use super::*;

/// Two routes: `ok` succeeds, `limited` is rate limited and fails for good.
fn two_route_queue() -> Queue {
    let q = Queue::new(
        r#"
[routes.ok]
profile = "generic"
program = "$FAKE"
args = ["--stdout", "done"]
[routes.limited]
profile = "generic"
program = "$FAKE"
args = ["--stderr", "Error: 429 Too Many Requests", "--exit", "1"]
[kinds.k]
routes = ["ok", "limited"]
[lanes.main]
routes = ["ok", "limited"]
[retry.rate_limited]
action = "fail"
"#,
    );
    for route in ["ok", "limited"] {
        let out = q.cli(&[
            "enqueue", "--kind", "k", "--lane", "main", "--route", route, "--prompt", "p",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    q
}

/// A one-at-a-time drain with `extra` global options and `log` as AGENTLANE_LOG.
fn drain_logged(q: &Queue, extra: &[&str], log: Option<&str>) -> (Option<i32>, String) {
    let mut cmd = Command::new(agentlane());
    cmd.args(["--home", q.sb.home().to_str().unwrap()])
        .args(["--config", q.config.to_str().unwrap()])
        .args(extra)
        .args(["worker", "--lane", "main", "--concurrency", "1", "--drain"])
        .env_remove("RUST_LOG")
        .env_remove("AGENTLANE_LOG");
    if let Some(log) = log {
        cmd.env("AGENTLANE_LOG", log);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Ids as `J1`, `J2`… in order of appearance.
fn job_alias(aliases: &mut Vec<String>, id: &str) -> String {
    let n = match aliases.iter().position(|a| a == id) {
        Some(n) => n,
        None => {
            aliases.push(id.to_string());
            aliases.len() - 1
        }
    };
    format!("J{}", n + 1)
}

#[test]
fn worker_json_logs_name_each_step_with_its_job_route_attempt_and_class() {
    let q = two_route_queue();
    let (code, stderr) = drain_logged(&q, &["--log-format", "json"], None);
    assert_eq!(code, Some(100), "{stderr}");
    let mut aliases = Vec::new();
    let mut got = Vec::new();
    for line in stderr.lines().filter(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["timestamp"].is_string(), "{line}");
        let mut s = format!(
            "{} {}",
            v["level"].as_str().unwrap(),
            v["message"].as_str().unwrap()
        );
        if let Some(id) = v["job_id"].as_str() {
            s.push_str(&format!(" {}", job_alias(&mut aliases, id)));
        }
        for key in [
            "route",
            "routes",
            "attempt",
            "class",
            "action",
            "concurrency",
        ] {
            if !v[key].is_null() {
                let value = v[key].to_string();
                s.push_str(&format!(" {key}={}", value.trim_matches('"')));
            }
        }
        if v["message"] == "attempt ended" {
            assert!(
                v["dispatch_id"].is_string() && v["duration_ms"].is_u64(),
                "{line}"
            );
        }
        got.push(s);
    }
    let want = [
        "INFO worker started routes=ok,limited concurrency=1",
        "INFO preflight passes route=ok",
        "INFO preflight passes route=limited",
        "INFO claimed J1 route=ok attempt=1",
        "INFO launching J1 route=ok attempt=1",
        "INFO attempt ended J1 route=ok attempt=1 class=ok",
        "INFO decided J1 route=ok attempt=1 class=ok action=done",
        "INFO claimed J2 route=limited attempt=1",
        "INFO launching J2 route=limited attempt=1",
        "INFO attempt ended J2 route=limited attempt=1 class=rate_limited",
        "WARN incident opened or counted J2 route=limited class=rate_limited",
        "WARN decided J2 route=limited attempt=1 class=rate_limited action=fail",
        "INFO worker stopped",
    ];
    assert_eq!(got, want, "{stderr}");
    // The summary for a person still follows the events.
    assert!(stderr.contains("decisions:  done 1, fail 1"), "{stderr}");
}

#[test]
fn worker_human_logs_are_one_line_per_event_and_agentlane_log_filters_them() {
    let q = two_route_queue();
    let (code, stderr) = drain_logged(&q, &[], None);
    assert_eq!(code, Some(100), "{stderr}");
    let stamp = regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z +").unwrap();
    let uuid =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let lines: Vec<String> = stderr
        .lines()
        .filter(|l| stamp.is_match(l))
        .map(|l| uuid.replace_all(&stamp.replace(l, ""), "ID").into_owned())
        .collect();
    let heads: Vec<String> = lines
        .iter()
        .map(|l| {
            l.split(" job_id=")
                .next()
                .unwrap()
                .split(" owner=")
                .next()
                .unwrap()
                .split(" route=")
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        heads,
        [
            "INFO worker started",
            "INFO preflight passes",
            "INFO preflight passes",
            "INFO claimed",
            "INFO launching",
            "INFO attempt ended",
            "INFO decided",
            "INFO claimed",
            "INFO launching",
            "INFO attempt ended",
            "WARN incident opened or counted",
            "WARN decided",
            "INFO worker stopped",
        ],
        "{stderr}"
    );
    assert!(
        lines.contains(&"WARN decided job_id=ID route=limited attempt=1 class=rate_limited action=fail reason=failed (attempt 1): rate_limited — Error: 429 Too Many Requests".to_string()),
        "{lines:#?}"
    );

    // AGENTLANE_LOG=warn keeps the warnings only.
    let q = two_route_queue();
    let (_, stderr) = drain_logged(&q, &[], Some("warn"));
    let levels: Vec<&str> = stderr
        .lines()
        .filter(|l| stamp.is_match(l))
        .map(|l| stamp.replace(l, "").split(' ').next().unwrap().to_string())
        .map(|s| if s == "WARN" { "WARN" } else { "OTHER" })
        .collect();
    assert_eq!(levels, ["WARN", "WARN"], "{stderr}");
    // A filter that is not one is refused, naming the variable.
    let (code, stderr) = drain_logged(&q, &[], Some("info,=["));
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("AGENTLANE_LOG"), "{stderr}");
}

#[test]
fn exec_logs_nothing_unless_asked() {
    let sb = Sandbox::new();
    let out = Command::new(agentlane())
        .args([
            "--home",
            sb.home().to_str().unwrap(),
            "--log-format",
            "json",
        ])
        .args(["exec", "--"])
        .arg(fake_agent())
        .args(["--stderr", "Error: 429 Too Many Requests", "--exit", "1"])
        .env_remove("RUST_LOG")
        .env_remove("AGENTLANE_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("rate_limited"),
        "exec still says what failed: {stderr}"
    );
    assert!(
        !stderr.lines().any(|l| l.starts_with('{')),
        "no log events: {stderr}"
    );
}
