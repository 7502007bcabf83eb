//! Secrets never reach rest: not in the database, events, tails, reports,
//! argv or the full artifacts.

mod common;

use common::*;

const ENV_SECRET: &str = "plain-service-secret-9f8e7d";
const SHAPED_SECRET: &str = "sk-proj-Zq8vW3xY5tU7rS9pQ1oN2mL4kJ6hG";
const GITHUB_TOKEN: &str = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5";
const BEARER: &str = "Bearer eyJ0eXAiOiJKV1Qi.secretpayload123";

#[test]
fn no_secret_is_written_anywhere_under_the_home() {
    let sb = Sandbox::new();
    let token_env = format!("MY_SERVICE_TOKEN={ENV_SECRET}");
    let key_env = format!("OPENAI_API_KEY={SHAPED_SECRET}");
    let github = format!("leaked {GITHUB_TOKEN} in a log line");
    let bearer = format!("Authorization: {BEARER}");
    let run = sb.fake(
        &[
            "--env",
            &token_env,
            "--env",
            &key_env,
            "--tail-bytes",
            "100000",
        ],
        &[
            "--print-env",
            "MY_SERVICE_TOKEN",
            "--print-env",
            "OPENAI_API_KEY",
            "--stdout",
            ENV_SECRET, // the secret in argv too
            "--stderr",
            &github,
            "--stderr",
            &bearer,
            "--exit",
            "1",
        ],
    );
    assert_eq!(run.status, 1);
    let tail = run.str("stdout_tail");
    assert!(
        tail.contains("MY_SERVICE_TOKEN=[REDACTED:MY_SERVICE_TOKEN]"),
        "{tail}"
    );
    assert!(tail.contains("OPENAI_API_KEY=[REDACTED"), "{tail}");
    let argv = run.report["argv"].to_string();
    assert!(argv.contains("[REDACTED:MY_SERVICE_TOKEN]"), "{argv}");

    // Read everything back through the CLI as well.
    let shown = sb.run(&["show", run.str("dispatch_id"), "--json"]);
    let listed = sb.run(&["runs", "--json"]);
    let mut places: Vec<(String, Vec<u8>)> = sb
        .all_stored_bytes()
        .into_iter()
        .map(|(p, b)| (p.display().to_string(), b))
        .collect();
    places.push((
        "exec --json stdout".into(),
        run.report.to_string().into_bytes(),
    ));
    places.push(("exec stderr".into(), run.stderr.clone().into_bytes()));
    places.push(("show --json".into(), shown.stdout));
    places.push(("runs --json".into(), listed.stdout));
    assert!(
        places.len() >= 6,
        "expected a database and artifacts under the home: {:?}",
        places.iter().map(|p| &p.0).collect::<Vec<_>>()
    );
    for (place, bytes) in &places {
        for secret in [ENV_SECRET, SHAPED_SECRET, GITHUB_TOKEN, "secretpayload123"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} found in {place}"
            );
        }
    }
}

#[test]
fn env_fingerprint_carries_presence_and_hashes_never_values() {
    let sb = Sandbox::new();
    let key_env = format!("ANTHROPIC_API_KEY={SHAPED_SECRET}");
    let run = sb.fake(&["--env", &key_env], &[]);
    let fp = &run.report["env_fingerprint"];
    assert_eq!(fp["vars"]["ANTHROPIC_API_KEY"]["present"], true);
    let hash = fp["vars"]["ANTHROPIC_API_KEY"]["hash"].as_str().unwrap();
    assert_eq!(hash.len(), 16);
    assert!(!fp.to_string().contains(SHAPED_SECRET));
    // The hash is keyed per install: another home gives another hash.
    let other = Sandbox::new().fake(&["--env", &key_env], &[]);
    assert_ne!(
        other.report["env_fingerprint"]["vars"]["ANTHROPIC_API_KEY"]["hash"]
            .as_str()
            .unwrap(),
        hash
    );
    // The same home and value give the same hash (stable across runs).
    let again = sb.fake(&["--env", &key_env], &[]);
    assert_eq!(
        again.report["env_fingerprint"]["vars"]["ANTHROPIC_API_KEY"]["hash"]
            .as_str()
            .unwrap(),
        hash
    );
}

#[test]
fn the_store_url_which_may_carry_a_password_never_reaches_the_agent() {
    let sb = Sandbox::new();
    let db = sb.path("elsewhere.db");
    let out = std::process::Command::new(agentlane())
        .args([
            "--home",
            sb.home().to_str().unwrap(),
            "exec",
            "--json",
            "--",
        ])
        .arg(fake_agent())
        .args(["--print-env", "AGENTLANE_STORE"])
        .env("AGENTLANE_STORE", format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["stdout_tail"].as_str().unwrap().trim(),
        "AGENTLANE_STORE is unset",
        "{report}"
    );
    assert!(
        db.exists(),
        "the worker itself used the store the URL names"
    );
}
