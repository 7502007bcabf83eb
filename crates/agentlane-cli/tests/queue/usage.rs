//! Cost and usage per job through the real binary (issue 17): a fake agent
//! prints Claude Code's real `result` object (the shape of
//! `crates/agentlane/tests/data/agent-formats/claude-json.json`), the
//! worker stores each attempt's usage, `jobs`, `job` and `usage` sum it, and
//! the budgets hold a spent lane and fail a spent job instead of retrying.

use super::*;

/// Claude Code's `--output-format json` result, costing `cost` dollars.
fn claude_result(cost: &str) -> String {
    format!(
        r#"{{"type":"result","subtype":"success","is_error":false,"duration_ms":2100,"duration_api_ms":1900,"num_turns":2,"result":"ok","stop_reason":"end_turn","session_id":"1f0c5b7e-9a2d-4c3e-8b6f-7d1e2a3b4c55","total_cost_usd":{cost},"usage":{{"input_tokens":10,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000,"output_tokens":50,"server_tool_use":{{"web_search_requests":0,"web_fetch_requests":0}},"service_tier":"standard"}},"modelUsage":{{"claude-sonnet-4-5-20250929":{{"inputTokens":10,"outputTokens":50,"cacheReadInputTokens":1000,"cacheCreationInputTokens":100,"webSearchRequests":0,"costUSD":{cost},"contextWindow":200000,"maxOutputTokens":64000}}}},"permission_denials":[],"uuid":"e2d9c4b1-0a7f-4e3d-9c8b-6a5f4e3d2c11"}}"#
    )
}

#[test]
fn costs_are_summed_per_job_and_lane_and_a_spent_lane_holds_its_jobs() {
    let q = Queue::new(&format!(
        r#"
[routes.claude]
profile = "generic"
program = "$FAKE"
args = ["--json-event", '{}', "--stdout", "{{prompt}}"]
[kinds.k]
routes = ["claude"]
[lanes.main]
routes = ["claude"]
budget_usd_per_day = 0.6
"#,
        claude_result("0.25")
    ));
    let ids: Vec<String> = (0..4)
        .map(|i| q.enqueue("k", &format!("job {i}")))
        .collect();
    q.drain("1");
    // 0.25 + 0.25 = 0.50 leaves money, so a third job is claimed; it
    // spends 0.75 of 0.60 and the fourth stays queued (held).
    let jobs = q.jobs();
    let mut got = states(&jobs);
    got.sort();
    assert_eq!(
        got,
        vec!["queued", "succeeded", "succeeded", "succeeded"],
        "{jobs:#?}"
    );
    let ran: Vec<&Value> = jobs.iter().filter(|j| j["state"] == "succeeded").collect();
    for j in &ran {
        let u = &j["usage"]["total"];
        assert_eq!(u["cost_usd"], 0.25, "{j:#}");
        assert_eq!(
            u["input_tokens"], 1110,
            "uncached + cache creation + cache read"
        );
        assert_eq!(u["cached_tokens"], 1000);
        assert_eq!(u["output_tokens"], 50);
        assert_eq!(u["turns"], 2);
        assert_eq!(u["model"], "claude-sonnet-4-5-20250929");
        assert_eq!(j["usage"]["attempts"].as_array().unwrap().len(), 1);
    }
    let held = jobs.iter().find(|j| j["state"] == "queued").unwrap();
    assert!(
        held.get("usage").is_none(),
        "no attempt, no usage: {held:#}"
    );

    // One job, in text and JSON.
    let one = q.job(ran[0]["id"].as_str().unwrap());
    assert_eq!(one["usage"]["total"]["cost_usd"], 0.25);
    let text = q.cli(&["job", ran[0]["id"].as_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("usage      1110 in (1000 cached), 50 out, 2 turns, $0.2500, claude-sonnet-4-5-20250929"),
        "{text}"
    );

    // Totals by lane and by route.
    let by_lane = q.json(&["usage", "--by", "lane", "--json"]);
    assert_eq!(
        by_lane["groups"].as_array().unwrap().len(),
        1,
        "{by_lane:#}"
    );
    assert_eq!(by_lane["groups"][0]["key"], "main");
    assert_eq!(by_lane["groups"][0]["attempts"], 3);
    assert_eq!(by_lane["groups"][0]["cost_usd"], 0.75);
    assert_eq!(by_lane["groups"][0]["input_tokens"], 3330);
    assert_eq!(by_lane["total"]["cost_usd"], 0.75);
    let table = q.cli(&["usage", "--by", "route", "--since", "1h"]);
    assert!(table.status.success());
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("claude") && table.contains("$0.7500"),
        "{table}"
    );

    // The status says why the lane's last job waits.
    let status = q.cli(&["status"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("lane main held: spent $0.75 of $0.60 today"),
        "{status}"
    );
    let status = q.json(&["status", "--json"]);
    assert_eq!(status["held_lanes"][0]["lane"], "main", "{status:#}");

    // Another pass claims nothing: still held.
    q.drain("1");
    assert_eq!(
        states(&q.jobs()).iter().filter(|s| **s == "queued").count(),
        1
    );
    assert!(ids.len() == 4);
}

#[test]
fn a_job_that_spent_its_budget_fails_instead_of_retrying() {
    let q = Queue::new(&format!(
        r#"
[budgets]
per_job_usd = 0.5
[retry.rate_limited]
initial_backoff = "10ms"
max_backoff = "10ms"
[routes.claude]
profile = "generic"
program = "$FAKE"
args = ["--json-event", '{}', "--stderr", "Error: 429 Too Many Requests", "--exit", "1", "--stdout", "{{prompt}}"]
[kinds.k]
routes = ["claude"]
[lanes.main]
routes = ["claude"]
"#,
        claude_result("0.3")
    ));
    let id = q.enqueue("k", "retry me");
    q.drain("1");
    let j = q.job(&id);
    assert_eq!(j["state"], "failed", "{j:#}");
    assert_eq!(j["attempts"], 2, "0.3 retries, 0.6 reaches 0.5: {j:#}");
    assert!(
        j["reason"].as_str().unwrap().contains("per_job_usd"),
        "{j:#}"
    );
    assert_eq!(j["usage"]["attempts"].as_array().unwrap().len(), 2);
    let cost = j["usage"]["total"]["cost_usd"].as_f64().unwrap();
    assert!((cost - 0.6).abs() < 1e-9, "{cost}");
}

#[test]
fn an_empty_store_has_no_usage_recorded() {
    let q = Queue::new("");
    let out = q.cli(&["usage"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("no usage recorded"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `store copy` keeps what each attempt used: PostgreSQL reads the same
/// totals from the copied rows as SQLite did.
#[test]
fn a_copied_store_keeps_its_usage() {
    let Some(base) = common::pg::server("PostgreSQL tests of tests/queue/usage.rs") else {
        return;
    };
    let schema = format!("al_usage_copy_{}", std::process::id());
    let url = format!("{base}?options=-c%20search_path%3D{schema}");
    let psql = |sql: &str| {
        let out = Command::new("psql")
            .args([base.as_str(), "-qc", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    psql(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ));
    let q = Queue::new(&format!(
        r#"
[routes.claude]
profile = "generic"
program = "$FAKE"
args = ["--json-event", '{}', "--stdout", "{{prompt}}"]
[kinds.k]
routes = ["claude"]
[lanes.main]
routes = ["claude"]
"#,
        claude_result("0.125")
    ));
    for i in 0..2 {
        q.enqueue("k", &format!("job {i}"));
    }
    q.drain("1");
    let here = q.json(&["usage", "--by", "kind", "--json"]);
    let from = format!("sqlite://{}", q.sb.home().join("agentlane.db").display());
    let out = q.cli(&["store", "copy", "--from", &from, "--to", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let there = q.json(&["--store", &url, "usage", "--by", "kind", "--json"]);
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    assert_eq!(here["groups"][0]["cost_usd"], 0.25, "{here:#}");
    assert_eq!(there, here);
}
