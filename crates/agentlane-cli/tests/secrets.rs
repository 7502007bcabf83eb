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

const SLACK_WEBHOOK: &str =
    "https://hooks.slack.com/services/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";
const AZURE_CONN: &str = "DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey=q9Zk3mW8vT2xLp7RbN4sYc6HjD1fGu5aE0oKiQ/tVw8XrS2nMz4L+Pq7Ub3Yc9Hd1Fg6Aj0Ek5Oi==;EndpointSuffix=core.windows.net";
const GCP_KEY_LINE: &str = "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDq7ZvX2mWp9TkL";
const DEPLOY_KEY_LINES: [&str; 4] = [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "QyNTUxOQAAACDq7ZvX2mWp9TkL4sYb8NcR3eHq7ZvX2mWp9TkL4sYb8NcR3eAAAAJgZ2Vk",
    "-----END OPENSSH PRIVATE KEY-----",
];
const DB_PASSWORD: &str = "Pw4xQ9zLk8";

/// Every 12-byte window of each secret, to look for in everything stored.
fn windows_of<'a>(secrets: &[&'a str]) -> std::collections::HashSet<&'a [u8]> {
    secrets
        .iter()
        .flat_map(|s| s.as_bytes().windows(12))
        .collect()
}

#[test]
fn credential_like_environment_values_never_reach_rest_whatever_their_names() {
    let sb = Sandbox::new();
    let gcp_json = format!(
        "{{\"type\":\"service_account\",\"project_id\":\"acme\",\"private_key_id\":\"5f1c9e2a7b3d8f04c6e1a9b2d7f3c8e0a4b6d2f1\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\n{GCP_KEY_LINE}\\n-----END PRIVATE KEY-----\\n\",\"client_email\":\"ci@acme.iam.gserviceaccount.com\"}}"
    );
    // Names that do not look secret: only the values say so. The first three
    // come from an env file, the rest from --env.
    let env_file = sb.path("svc.env");
    std::fs::write(
        &env_file,
        format!(
            "NOTIFY_URL={SLACK_WEBHOOK}\nSTORAGE_CONN=\"{AZURE_CONN}\"\nGCP_SA_JSON='{gcp_json}'\n"
        ),
    )
    .unwrap();
    let deploy_key = format!("DEPLOY_KEY={}\n", DEPLOY_KEY_LINES.join("\n"));
    let database_url = format!("DATABASE_URL=postgresql://app:{DB_PASSWORD}@db/app");
    let escaped_webhook = format!("{{\"url\":\"{}\"}}", SLACK_WEBHOOK.replace('/', "\\/"));
    let gh_token = format!("--token={GITHUB_TOKEN}");
    let mut child: Vec<&str> = vec![
        "--print-env",
        "NOTIFY_URL",
        "--print-env",
        "STORAGE_CONN",
        "--print-env",
        "GCP_SA_JSON",
        "--stdout",
        DB_PASSWORD, // a part of a value, printed alone (and in argv)
        "--stdout",
        &escaped_webhook,
        "--stdout",
        GCP_KEY_LINE,
        "--stderr",
        &gh_token, // a token shape in argv, not in the environment
    ];
    for line in DEPLOY_KEY_LINES {
        child.extend(["--stdout", line]); // a PEM key line by line (and in argv)
    }
    let env_file_arg = env_file.to_str().unwrap();
    let run = sb.fake(
        &[
            "--env-file",
            env_file_arg,
            "--env",
            &deploy_key,
            "--env",
            &database_url,
            "--tail-bytes",
            "100000",
        ],
        &child,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let tail = run.str("stdout_tail");
    for name in [
        "NOTIFY_URL",
        "STORAGE_CONN",
        "GCP_SA_JSON",
        "DEPLOY_KEY",
        "DATABASE_URL",
    ] {
        assert!(
            tail.contains(&format!("[REDACTED:{name}]")),
            "{name}: {tail}"
        );
    }
    let shown = sb.run(&["show", run.str("dispatch_id"), "--json"]);
    let mut places: Vec<(String, Vec<u8>)> = sb
        .all_stored_bytes()
        .into_iter()
        .filter(|(p, _)| p != &env_file)
        .map(|(p, b)| (p.display().to_string(), b))
        .collect();
    places.push((
        "exec --json stdout".into(),
        run.report.to_string().into_bytes(),
    ));
    places.push(("exec stderr".into(), run.stderr.clone().into_bytes()));
    places.push(("show --json".into(), shown.stdout));
    let mut secrets = vec![
        SLACK_WEBHOOK,
        AZURE_CONN,
        GCP_KEY_LINE,
        &gcp_json,
        GITHUB_TOKEN,
    ];
    secrets.extend(DEPLOY_KEY_LINES);
    let windows = windows_of(&secrets);
    for (place, bytes) in &places {
        if let Some(w) = bytes.windows(12).find(|w| windows.contains(w)) {
            panic!("{:?} found in {place}", String::from_utf8_lossy(w));
        }
        assert!(
            !bytes
                .windows(DB_PASSWORD.len())
                .any(|w| w == DB_PASSWORD.as_bytes()),
            "the URL password found in {place}"
        );
    }
}

/// The six secrets the issue found stored in clear by enqueue, each where
/// this branch's engine knows it: agentlane's own environment, the route's
/// env_file, the route's env.
const STRIPE: &str = "sk_live_51HqZq8vW3xY5tU7rS9pQ1oN2mL4kJ6hG";
const PG_URL: &str = "postgresql://app:Vr7nQ2xLm9@db.internal:5432/app";
const PEM_BODY: &str = "MIIEpAIBAAKCAQEA3q7ZvX2mWp9TkL4sYb8NcR3eHq7ZvX2mWp9TkL4sYb8NcR3e";
const HF: &str = "hf_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zQ";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8vW3xY5t";
const PASSWORD: &str = "correct-horse-battery-42";

fn prompt_queue(policy: &str) -> (Sandbox, std::path::PathBuf) {
    let sb = Sandbox::new();
    let env_file = sb.path("route.env");
    std::fs::write(
        &env_file,
        format!("DATABASE_URL={PG_URL}\nHF_HUB={HF}\nDB_PASSWORD={PASSWORD}\n"),
    )
    .unwrap();
    let config = sb.path("agentlane.toml");
    std::fs::write(
        &config,
        format!(
            "[queue]\n{policy}\n[routes.r]\nprofile = \"generic\"\nprogram = \"{}\"\nenv_file = \"{}\"\n[routes.r.env]\nDEPLOY_KEY = \"-----BEGIN RSA PRIVATE KEY-----\\n{PEM_BODY}\\n-----END RSA PRIVATE KEY-----\\n\"\nAWS_SECRET_ACCESS_KEY = \"{AWS_SECRET}\"\n[kinds.k]\nroutes = [\"r\"]\n[lanes.main]\n",
            fake_agent().display(),
            env_file.display()
        ),
    )
    .unwrap();
    (sb, config)
}

fn enqueue(sb: &Sandbox, config: &std::path::Path, prompt: &str) -> std::process::Output {
    std::process::Command::new(agentlane())
        .args(["--home", sb.home().to_str().unwrap(), "--config"])
        .arg(config)
        .args([
            "enqueue", "--kind", "k", "--lane", "main", "--json", "--prompt", prompt,
        ])
        .env("PAYMENTS", STRIPE) // agentlane's own environment
        .output()
        .unwrap()
}

fn prompts() -> Vec<(&'static str, String)> {
    vec![
        (STRIPE, format!("charge with {STRIPE} please")),
        (PG_URL, format!("connect to {PG_URL} and migrate")),
        (PEM_BODY, format!("the key starts {PEM_BODY}")),
        (HF, format!("download with {HF}")),
        (AWS_SECRET, format!("aws secret {AWS_SECRET}")),
        (PASSWORD, format!("password={PASSWORD}")),
        (GITHUB_TOKEN, format!("push with {GITHUB_TOKEN}")),
    ]
}

fn assert_never_stored(sb: &Sandbox) {
    let mut all: Vec<&str> = prompts().iter().map(|(s, _)| *s).collect();
    all.push("Vr7nQ2xLm9");
    let windows: std::collections::HashSet<&[u8]> = all
        .iter()
        .flat_map(|s| s.as_bytes().windows(10.min(s.len())))
        .collect();
    let stored = sb.all_stored_bytes();
    assert!(!stored.is_empty());
    for (path, bytes) in stored {
        if let Some(w) = bytes.windows(10).find(|w| windows.contains(w)) {
            panic!(
                "{:?} found in {}",
                String::from_utf8_lossy(w),
                path.display()
            );
        }
    }
}

#[test]
fn a_prompt_holding_a_secret_is_refused_by_default_and_never_stored() {
    let (sb, config) = prompt_queue("");
    for (secret, prompt) in prompts() {
        let out = enqueue(&sb, &config, &prompt);
        assert_eq!(
            out.status.code(),
            Some(65),
            "{secret}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["refused"]["class"], "payload_invalid", "{v}");
        assert!(!v.to_string().contains(secret), "{v}");
    }
    let fine = enqueue(&sb, &config, "fix the flaky test");
    assert!(
        fine.status.success(),
        "{}",
        String::from_utf8_lossy(&fine.stderr)
    );
    assert_never_stored(&sb);
}

#[test]
fn under_prompt_secrets_redact_the_prompt_is_stored_redacted_and_the_job_says_so() {
    let (sb, config) = prompt_queue("prompt_secrets = \"redact\"");
    for (secret, prompt) in prompts() {
        let out = enqueue(&sb, &config, &prompt);
        assert!(
            out.status.success(),
            "{secret}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["prompt_redacted"], true, "{v}");
        let job = std::process::Command::new(agentlane())
            .args([
                "--home",
                sb.home().to_str().unwrap(),
                "job",
                v["id"].as_str().unwrap(),
                "--json",
            ])
            .output()
            .unwrap();
        let job: serde_json::Value = serde_json::from_slice(&job.stdout).unwrap();
        assert_eq!(job["admission"][0]["prompt_redacted"], true, "{job}");
        assert!(
            job["prompt"]
                .as_str()
                .is_none_or(|p| p.contains("[REDACTED")),
            "{job}"
        );
    }
    assert_never_stored(&sb);
}
