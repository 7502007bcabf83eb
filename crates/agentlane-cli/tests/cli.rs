//! The command line around the dispatcher: runs, show, explain, and bad input
//! that gets a clear error, a distinct status, and loses nothing.

mod common;

use common::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn runs_and_show_read_dispatches_back_with_their_events() {
    let sb = Sandbox::new();
    let ok = sb.fake(&[], &["--stdout", "fine"]);
    let bad = sb.fake(&[], &["--stderr", "boom", "--exit", "4"]);
    let listed = sb.run(&["runs", "--json"]);
    assert!(listed.status.success());
    let runs: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let ids: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dispatch_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![bad.str("dispatch_id"), ok.str("dispatch_id")],
        "newest first"
    );
    assert_eq!(runs[0]["classifier"], "unknown_exit_4");

    let shown = sb.run(&["show", bad.str("dispatch_id"), "--json"]);
    let record: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let kinds: Vec<&str> = record["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["runner_prepare", "runner_exit", "runner_classified_failure"]
    );
    assert_eq!(record["report"]["evidence"], "boom");
    let ok_record = sb.run(&["show", ok.str("dispatch_id"), "--json"]);
    let ok_record: serde_json::Value = serde_json::from_slice(&ok_record.stdout).unwrap();
    assert_eq!(
        ok_record["events"].as_array().unwrap().len(),
        2,
        "success records prepare and exit (class ok), no failure event"
    );
    assert_eq!(ok_record["events"][1]["body"]["classifier"], "ok");

    // The text forms work and a unique prefix is enough.
    let id = bad.str("dispatch_id");
    let text = sb.run(&["show", &id[..id.len() - 4]]);
    assert!(text.status.success(), "{}", stderr(&text));
    assert!(String::from_utf8_lossy(&text.stdout).contains("unknown_exit_4"));
    let table = sb.run(&["runs"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains(id));
}

#[test]
fn explain_prints_every_class_and_refuses_unknown_ones() {
    let sb = Sandbox::new();
    for label in [
        "cli_missing",
        "interpreter_missing",
        "auth_unavailable",
        "unknown_exit_1",
        "timeout",
        "worker_lost",
    ] {
        let out = sb.run(&["explain", label]);
        assert!(out.status.success(), "{label}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with(label), "{text}");
        assert!(text.contains("Repair:"), "{text}");
    }
    let markdown = sb.run(&["explain", "--markdown"]);
    assert!(String::from_utf8_lossy(&markdown.stdout).contains("#### `cli_missing`"));
    let list = sb.run(&["explain", "--list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("sandbox_or_policy_block"));
    let bad = sb.run(&["explain", "cli_mising"]);
    assert_eq!(bad.status.code(), Some(64));
    assert!(stderr(&bad).contains("unknown class 'cli_mising'"));
}

#[test]
fn bad_input_gets_a_clear_error_a_distinct_status_and_loses_nothing() {
    let sb = Sandbox::new();
    let first = sb.fake(&[], &["--stdout", "kept"]);
    let fake = fake_agent();
    let fake = fake.to_str().unwrap();

    let out = sb.run(&["exec", "--timeout", "ten minutes", "--", fake]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("write a duration like 90s"),
        "{}",
        stderr(&out)
    );

    let out = sb.run(&[
        "exec",
        "--prompt-file",
        "/nonexistent/prompt.md",
        "--",
        fake,
    ]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("cannot read --prompt-file /nonexistent/prompt.md"),
        "{}",
        stderr(&out)
    );

    let rules = sb.path("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"x\"\nclass = \"rate_limited\"\npattern = 'unclosed(('\n",
    )
    .unwrap();
    let out = sb.run(&["exec", "--rules", rules.to_str().unwrap(), "--", fake]);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        stderr(&out).contains(&format!("{}:4:11: invalid pattern", rules.display())),
        "{}",
        stderr(&out)
    );

    let env_file = sb.path("bad.env");
    std::fs::write(&env_file, "GOOD=1\nthis is not an assignment\n").unwrap();
    let out = sb.run(&["exec", "--env-file", env_file.to_str().unwrap(), "--", fake]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains(&format!("{}:2:1: expected KEY=VALUE", env_file.display())),
        "{}",
        stderr(&out)
    );

    let out = sb.run(&["exec", "--env", "NOEQUALS", "--", fake]);
    assert_eq!(out.status.code(), Some(64));

    let out = sb.run(&["exec"]);
    assert_eq!(out.status.code(), Some(64));

    let not_a_dir = sb.path("a-file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let out = std::process::Command::new(agentlane())
        .args([
            "--home",
            not_a_dir.join("home").to_str().unwrap(),
            "exec",
            "--",
            fake,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(73));
    assert!(
        stderr(&out).contains("cannot use the home directory"),
        "{}",
        stderr(&out)
    );

    let out = sb.run(&["show", "no-such-dispatch"]);
    assert_eq!(out.status.code(), Some(64));

    // Nothing already recorded was lost.
    let shown = sb.run(&["show", first.str("dispatch_id"), "--json"]);
    assert!(shown.status.success());
}

#[test]
fn store_prune_deletes_only_runs_older_than_the_retention() {
    let sb = Sandbox::new();
    sb.fake(&[], &["--stdout", "one"]);
    sb.fake(&[], &["--stderr", "boom", "--exit", "4"]);
    let count = |sb: &Sandbox| {
        let out = sb.run(&["runs", "--json", "--limit", "0"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    };
    let young = sb.run(&["store", "prune", "--older-than", "1h", "--json"]);
    assert!(young.status.success(), "{}", stderr(&young));
    let young: serde_json::Value = serde_json::from_slice(&young.stdout).unwrap();
    assert_eq!(young["dispatches"], 0, "{young}");
    assert_eq!(count(&sb), 2, "runs younger than the retention are kept");

    std::thread::sleep(std::time::Duration::from_millis(50));
    let old = sb.run(&["store", "prune", "--older-than", "10ms", "--json"]);
    assert!(old.status.success(), "{}", stderr(&old));
    let old: serde_json::Value = serde_json::from_slice(&old.stdout).unwrap();
    assert_eq!(old["dispatches"], 2, "{old}");
    assert!(
        old["events"].as_u64().unwrap() >= 3,
        "their events go too: {old}"
    );
    assert_eq!(count(&sb), 0);

    let bad = sb.run(&["store", "prune", "--older-than", "soon"]);
    assert_eq!(
        bad.status.code(),
        Some(64),
        "the usage status (EX_USAGE): {}",
        stderr(&bad)
    );
}

/// Piped input reaches the child (issue 16: it was silently replaced by
/// /dev/null); `--stdin null` refuses it; a child that never reads a large
/// input does not hold agentlane up.
#[test]
fn piped_stdin_reaches_the_child_unless_refused() {
    use std::io::Write;
    let sb = Sandbox::new();
    let run = |stdin_arg: &[&str], input: &[u8], cmd: &[&str]| {
        let mut child = std::process::Command::new(agentlane())
            .arg("--home")
            .arg(sb.home())
            .args(["exec", "--json"])
            .args(stdin_arg)
            .arg("--")
            .args(cmd)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut w = child.stdin.take().unwrap();
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = w.write_all(&input);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        report
    };
    let r = run(&[], b"hello from a pipe\n", &["cat"]);
    assert_eq!(r["stdout_tail"], "hello from a pipe\n", "{r}");
    let r = run(&["--stdin", "null"], b"hello from a pipe\n", &["cat"]);
    assert_eq!(r["stdout_tail"], "", "{r}");
    // 16 MiB the child never reads: agentlane finishes with the child.
    let big = vec![b'x'; 16 << 20];
    let started = std::time::Instant::now();
    let r = run(&[], &big, &["sleep", "0.2"]);
    assert_eq!(r["classifier"], "ok", "{r}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}
