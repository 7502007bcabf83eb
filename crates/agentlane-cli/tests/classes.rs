//! Every text-decided class through the real binary: fake-agent prints the
//! exact messages the real CLIs print (docs/agent-clis.md) and agentlane must
//! name them, with the child's status passed through.

mod common;

use common::*;

struct Row {
    name: &'static str,
    fake: &'static [&'static str],
    class: &'static str,
    status: i32,
}

const ROWS: &[Row] = &[
    Row { name: "claude not logged in (stdout)", fake: &["--stdout", "Not logged in · Please run /login", "--exit", "1"], class: "auth_unavailable", status: 1 },
    Row {
        name: "gemini without an auth method (exit 41)",
        fake: &["--stderr", "Please set an Auth method in your /home/svc/.gemini/settings.json or specify one of the following environment variables before running: GEMINI_API_KEY, GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_GENAI_USE_GCA", "--exit", "41"],
        class: "auth_unavailable",
        status: 41,
    },
    Row {
        name: "claude stream-json error result that says success",
        fake: &["--json-event", r#"{"type":"result","subtype":"success","is_error":true,"result":"Not logged in · Please run /login"}"#, "--exit", "1"],
        class: "auth_unavailable",
        status: 1,
    },
    Row {
        name: "qwen JSON 401 reported with exit 0",
        fake: &["--json-event", r#"{"type":"result","subtype":"success","is_error":false,"result":"[API Error: 401 Incorrect API key provided: sk-test-0***0000.]"}"#],
        class: "auth_unavailable",
        // A failure the CLI reported with exit 0 exits 104: never success.
        status: 104,
    },
    Row { name: "permission denied on a path", fake: &["--stderr", "Error: EACCES: permission denied, open '/home/worker/.config/agent/config.json'", "--exit", "1"], class: "sandbox_or_policy_block", status: 1 },
    Row {
        name: "claude 429",
        fake: &["--stdout", "API Error: Request rejected (429) · This request would exceed your account's rate limit. Please try again later.", "--exit", "1"],
        class: "rate_limited",
        status: 1,
    },
    Row { name: "claude session limit with a reset time", fake: &["--stdout", "You've hit your session limit · resets 10pm (Europe/Berlin)", "--exit", "1"], class: "quota_exhausted", status: 1 },
    Row { name: "DNS failure", fake: &["--stderr", "Error: getaddrinfo ENOTFOUND api.openai.com", "--exit", "1"], class: "network_unavailable", status: 1 },
    Row {
        name: "claude 529 overloaded",
        fake: &["--stdout", "API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment.", "--exit", "1"],
        class: "transient_io",
        status: 1,
    },
    Row { name: "gemini invalid auth method (exit 41)", fake: &["--stderr", "Invalid auth method selected.", "--exit", "41"], class: "config_invalid", status: 41 },
    Row {
        name: "an answer that talks about rate limits is not a failure",
        fake: &["--stdout", "ok. (Note: I did not hit any rate limit; you are not logged in to nothing.)"],
        class: "ok",
        status: 0,
    },
];

#[test]
fn real_cli_messages_are_named_through_the_binary() {
    let sb = Sandbox::new();
    let mut failures = Vec::new();
    for row in ROWS {
        let run = sb.fake(&[], row.fake);
        if run.class() != row.class || run.status != row.status {
            failures.push(format!(
                "{}: got {} (status {}), expected {} (status {}); evidence {}",
                row.name,
                run.class(),
                run.status,
                row.class,
                row.status,
                run.report["evidence"]
            ));
        }
        if row.class != "ok" {
            assert!(!run.str("repair_hint").is_empty(), "{}: no hint", row.name);
            assert!(
                run.report["rule"].as_str().unwrap().contains('.'),
                "{}: a rule, not a fact, decided it",
                row.name
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_timeout_whose_tails_name_the_cause_keeps_both() {
    let sb = Sandbox::new();
    let run = sb.fake(
        &["--timeout", "1s", "--kill-grace", "200ms"],
        &["--stderr", "request to https://api.anthropic.com/v1/messages failed, reason: getaddrinfo EAI_AGAIN api.anthropic.com", "--stderr", "Reconnecting...", "--hang"],
    );
    run.expect_class("network_unavailable");
    assert_eq!(run.report["timed_out"], true);
    assert_eq!(run.status, 124);
    assert!(run.str("evidence").contains("EAI_AGAIN"));
}

#[test]
fn a_retry_after_hint_is_kept_in_the_report() {
    let sb = Sandbox::new();
    let run = sb.fake(
        &[],
        &[
            "--stderr",
            "Error: 429 Too Many Requests",
            "--stderr",
            "Retry-After: 30",
            "--exit",
            "1",
        ],
    );
    run.expect_class("rate_limited");
    assert_eq!(run.report["retry_after_secs"], 30);
}
