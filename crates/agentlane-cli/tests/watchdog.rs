//! The watchdog and the success contract (issue 17), with real processes:
//! fake-agent printing the real CLIs' structured events.
//!
//! - a CLI that printed its final result and does not exit keeps its success;
//! - a silent child is stopped at its idle timeout with a process-tree snapshot;
//! - a CLI that printed a terminal error and only retries is stopped early,
//!   classified by that rule, unless it recovers within the settle time;
//! - a run that exits 0 without doing the work is `empty_success`.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

/// Claude Code's `stream-json` final event (shape from Claude Code 2.1.197's
/// `-p --output-format stream-json --verbose`; see docs/agent-clis.md).
const CLAUDE_RESULT: &str = r#"{"type":"result","subtype":"success","is_error":false,"duration_ms":2412,"duration_api_ms":2100,"num_turns":2,"result":"Created hello.txt","session_id":"0b5e7a3c","total_cost_usd":0.0123,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":1800,"output_tokens":40}}"#;

fn duration_ms(run: &Run) -> u64 {
    run.report["duration_ms"].as_u64().unwrap()
}

#[test]
fn a_cli_that_printed_its_result_and_does_not_exit_keeps_its_success() {
    let sb = Sandbox::new();
    let run = sb.fake(
        &["--timeout", "120s"],
        &["--stdout", CLAUDE_RESULT, "--hang"],
    );
    run.expect_class("ok");
    assert_eq!(run.str("rule"), "fact.result_then_stopped");
    assert_eq!(run.status, 0, "the work was done: exec succeeds");
    assert_eq!(run.report["timed_out"], false);
    assert_eq!(run.report["stopped_early"], true);
    assert_eq!(run.report["watchdog"]["kind"], "done");
    assert!(
        run.str("evidence").contains("final `result.success` event"),
        "{}",
        run.report
    );
    // Stopped after the 5 s grace, not at the two-minute timeout.
    assert!(duration_ms(&run) < 30_000, "{}", run.report);
}

#[test]
fn a_result_too_long_to_keep_whole_is_still_read_as_the_end() {
    // A long answer: the line is past the 64 KiB the watchdog keeps of one.
    let long = format!(
        r#"{{"type":"result","subtype":"success","is_error":false,"num_turns":4,"result":"{}","total_cost_usd":0.2,"usage":{{"output_tokens":20000}}}}"#,
        "a".repeat(90 * 1024)
    );
    let sb = Sandbox::new();
    let run = sb.fake(&["--timeout", "120s"], &["--stdout", &long, "--hang"]);
    run.expect_class("ok");
    assert_eq!(
        run.report["watchdog"]["kind"], "done",
        "{}",
        run.report["watchdog"]
    );
    assert!(duration_ms(&run) < 30_000);
}

#[test]
fn a_failed_final_result_that_does_not_exit_stays_a_failure() {
    let sb = Sandbox::new();
    let failed = r#"{"type":"result","subtype":"success","is_error":true,"num_turns":0,"result":"Invalid API key · Please run /login"}"#;
    let run = sb.fake(&["--timeout", "120s"], &["--stdout", failed, "--hang"]);
    run.expect_class("auth_unavailable");
    assert_eq!(run.report["watchdog"]["kind"], "done");
    assert_eq!(run.status, 103, "stopped early on a known failure");
    assert!(duration_ms(&run) < 30_000);
}

#[test]
fn a_silent_child_is_stopped_at_its_idle_timeout_with_a_snapshot() {
    let sb = Sandbox::new();
    let run = sb.fake(
        &["--timeout", "120s", "--idle-timeout", "1s"],
        &["--stdout", "working on it", "--sleep", "600"],
    );
    run.expect_class("timeout");
    assert_eq!(run.str("rule"), "fact.idle_timeout");
    assert_eq!(run.status, 124);
    assert_eq!(run.report["timed_out"], true);
    assert_eq!(
        run.str("evidence"),
        "no output for 1s; last line: working on it"
    );
    assert!(duration_ms(&run) < 30_000);
    let snapshot = run.report["watchdog"]["snapshot"]
        .as_str()
        .unwrap_or_else(|| panic!("no snapshot: {}", run.report));
    assert!(run.str("repair_hint").contains(snapshot));
    let tree: Value = serde_json::from_str(&std::fs::read_to_string(snapshot).unwrap()).unwrap();
    let procs = tree["processes"].as_array().unwrap();
    assert!(!procs.is_empty(), "{tree}");
    let agent = &procs[0];
    assert!(
        agent["cmdline"].as_str().unwrap().contains("fake-agent"),
        "{tree}"
    );
    assert_eq!(agent["state"], "S", "a sleeping agent: {tree}");
    assert!(agent.get("wchan").is_some(), "{tree}");
    assert_eq!(agent["holds_agent_pipes"], true, "{tree}");
    // Nothing survives the stop.
    assert!(run.report["leaked_processes"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn a_child_that_keeps_printing_is_not_idle() {
    let sb = Sandbox::new();
    let mut args = Vec::new();
    for _ in 0..4 {
        args.extend(["--stdout", "tick", "--sleep", "0.6"]);
    }
    let run = sb.fake(&["--idle-timeout", "1s"], &args);
    run.expect_class("ok");
    assert!(run.report.get("watchdog").is_none(), "{}", run.report);
}

/// Codex CLI 0.169.0 without network, text mode: what it prints before it
/// reconnects forever (docs/agent-clis.md, observed).
const CODEX_OFFLINE: [&str; 4] = [
    "ERROR: Reconnecting... 1/5",
    "ERROR: Reconnecting... 2/5",
    "warning: Falling back from WebSockets to HTTPS transport. stream disconnected before completion: failed to lookup address information: Name does not resolve",
    "ERROR: Reconnecting... waiting for network",
];

#[test]
fn a_terminal_line_stops_the_run_early_and_names_the_cause() {
    let sb = Sandbox::new();
    let mut args = Vec::new();
    for line in CODEX_OFFLINE {
        args.extend(["--stderr", line]);
    }
    args.push("--hang");
    let run = sb.fake(&["--timeout", "90s"], &args);
    run.expect_class("network_unavailable");
    assert_eq!(run.str("rule"), "codex.waiting_for_network");
    assert!(
        run.str("evidence")
            .starts_with("stopped early: ERROR: Reconnecting... waiting for network"),
        "{}",
        run.report
    );
    assert_eq!(run.status, 103);
    assert_eq!(run.report["timed_out"], false);
    assert_eq!(run.report["stopped_early"], true);
    assert_eq!(run.report["watchdog"]["kind"], "terminal");
    // Seconds (the 5 s settle), not the 90 s timeout.
    assert!(duration_ms(&run) < 30_000, "{}", run.report);
}

#[test]
fn claude_retrying_a_refused_key_is_stopped_early_as_auth_unavailable() {
    // Claude Code 2.1.197 stream-json with a key the API refuses: it retries
    // ten times, printing this event each time (docs/agent-clis.md).
    let retry = r#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"retry_delay_ms":534.67,"error_status":401,"error":"authentication_failed","session_id":"0b5e7a3c"}"#;
    let sb = Sandbox::new();
    let run = sb.fake(
        &["--timeout", "120s"],
        &[
            "--stdout", retry, "--sleep", "1", "--stdout", retry, "--hang",
        ],
    );
    run.expect_class("auth_unavailable");
    assert_eq!(run.str("rule"), "claude.json_retrying_auth");
    assert_eq!(run.report["watchdog"]["kind"], "terminal");
    assert!(duration_ms(&run) < 30_000, "{}", run.report);
}

#[test]
fn a_cli_that_recovers_within_the_settle_time_is_not_stopped() {
    let sb = Sandbox::new();
    let run = sb.fake(
        &["--timeout", "60s"],
        &[
            "--stderr",
            "ERROR: Reconnecting... waiting for network",
            "--sleep",
            "1",
            "--json-event",
            r#"{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"done"}}"#,
            "--sleep",
            "6",
            "--exit",
            "0",
        ],
    );
    run.expect_class("ok");
    assert!(run.report.get("watchdog").is_none(), "{}", run.report);
    assert!(duration_ms(&run) >= 6_000);
}

#[test]
fn no_stop_early_lets_the_cli_run_to_its_own_end() {
    let sb = Sandbox::new();
    let run = sb.fake(
        &["--timeout", "60s", "--no-stop-early"],
        &[
            "--stderr",
            "ERROR: Reconnecting... waiting for network",
            "--sleep",
            "6",
            "--exit",
            "1",
        ],
    );
    run.expect_class("network_unavailable");
    assert!(run.report.get("watchdog").is_none(), "{}", run.report);
    assert_eq!(run.status, 1);
    assert!(duration_ms(&run) >= 6_000);
}

#[test]
fn a_result_of_zero_turns_is_an_empty_success() {
    let sb = Sandbox::new();
    let empty = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":0,"result":"","total_cost_usd":0,"usage":{"input_tokens":0,"output_tokens":0}}"#;
    let run = sb.fake(&[], &["--stdout", empty]);
    run.expect_class("empty_success");
    assert_eq!(run.str("rule"), "fact.empty_result.zero_turns");
    assert_eq!(run.status, 104, "exit 0 that did nothing is not success");
    assert!(run.str("repair_hint").contains("did no work"));
}

#[test]
fn an_error_result_with_exit_zero_fails_with_its_own_status() {
    let sb = Sandbox::new();
    let failed = r#"{"type":"result","subtype":"success","is_error":true,"result":"Not logged in · Please run /login"}"#;
    let run = sb.fake(&[], &["--stdout", failed]);
    run.expect_class("auth_unavailable");
    assert_eq!(run.status, 104);
}

/// A git work tree with one committed file.
fn repo(sb: &Sandbox) -> std::path::PathBuf {
    let dir = sb.path("repo");
    std::fs::create_dir_all(&dir).unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(args)
            .current_dir(&dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(ok.status.success(), "{ok:?}");
    };
    git(&["init", "-q"]);
    std::fs::write(dir.join("README"), "x\n").unwrap();
    git(&["add", "README"]);
    git(&["commit", "-q", "-m", "init"]);
    dir
}

fn contract_config(sb: &Sandbox, repo: &std::path::Path) -> std::path::PathBuf {
    let cfg = format!(
        r#"
[routes.patch]
profile = "generic"
program = "{fake}"
args = ["--stdout", "{{prompt}}"]
prompt_via = "arg"
cwd = "{repo}"

[routes.patch.success]
output_matches = "(?i)patch applied"
changed_worktree = true

[routes.report]
profile = "generic"
program = "{fake}"
args = ["--write-file", "{{prompt}}", "report", "--stdout", "wrote it"]
prompt_via = "arg"
cwd = "{repo}"

[routes.report.success]
file_exists = "out.md"
"#,
        fake = fake_agent().display(),
        repo = repo.display(),
    );
    let path = sb.path("agentlane.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

fn route(sb: &Sandbox, config: &std::path::Path, route: &str, prompt: &str) -> Run {
    let out = sb.run(&[
        "--config",
        config.to_str().unwrap(),
        "exec",
        "--json",
        "--route",
        route,
        "--prompt",
        prompt,
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Run {
        report,
        status: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_route_success_contract_turns_an_idle_exit_zero_into_empty_success() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let config = contract_config(&sb, &repo);

    // The answer does not say what the contract expects.
    let run = route(&sb, &config, "patch", "I could not find the file");
    run.expect_class("empty_success");
    assert_eq!(run.str("rule"), "contract.output_matches");
    assert_eq!(run.status, 104);

    // The answer says it, but nothing in the work tree changed.
    let run = route(&sb, &config, "patch", "Patch applied");
    run.expect_class("empty_success");
    assert_eq!(run.str("rule"), "contract.changed_worktree");

    // It changed: the contract holds.
    std::fs::write(repo.join("README"), "changed\n").unwrap();
    route(&sb, &config, "patch", "Patch applied").expect_class("ok");
}

#[test]
fn a_file_the_contract_names_must_exist_afterwards() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let config = contract_config(&sb, &repo);
    let run = route(&sb, &config, "report", "elsewhere.md");
    run.expect_class("empty_success");
    assert_eq!(run.str("rule"), "contract.file_exists");
    assert!(run.str("evidence").contains("out.md"));
    route(&sb, &config, "report", "out.md").expect_class("ok");
}

#[test]
fn a_bad_contract_regex_is_refused_with_its_position() {
    let sb = Sandbox::new();
    let path = sb.path("agentlane.toml");
    std::fs::write(
        &path,
        "[routes.r]\nprofile = \"generic\"\nprogram = \"true\"\n\n[routes.r.success]\noutput_matches = \"(unclosed\"\n",
    )
    .unwrap();
    let out = sb.run(&["--config", path.to_str().unwrap(), "doctor"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("agentlane.toml:6:18"), "{err}");
    assert!(err.contains("success.output_matches"), "{err}");
}
