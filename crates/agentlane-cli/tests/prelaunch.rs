//! Pre-launch refusals: facts win over text, nothing is spawned, and the hint
//! names the facts (issue 3: missing executable under a thin PATH, no exec
//! bit, a directory as program, a missing cwd, a missing shebang interpreter).

mod common;

use common::*;

#[test]
fn missing_executable_under_a_thin_path_names_where_it_is() {
    let sb = Sandbox::new();
    let user_home = sb.path("user");
    let local_bin = user_home.join(".local/bin");
    std::fs::create_dir_all(&local_bin).unwrap();
    std::fs::copy(fake_agent(), local_bin.join("my-agent")).unwrap();
    let home_env = format!("HOME={}", user_home.display());
    let run = sb.exec_json(
        &[
            "--env-clear",
            "--env",
            "PATH=/usr/bin:/bin",
            "--env",
            &home_env,
        ],
        &["my-agent", "--exit", "0"],
    );
    run.expect_class("cli_missing");
    assert_eq!(run.status, 127);
    assert!(run.report["exit_code"].is_null());
    assert!(run.report["cli_path"].is_null());
    let hint = run.str("repair_hint");
    assert!(hint.contains("(/usr/bin:/bin)"), "{hint}");
    assert!(
        hint.contains(&format!(
            "found at {}",
            local_bin.join("my-agent").display()
        )),
        "{hint}"
    );
    assert!(
        run.stderr.contains(
            "agentlane: cli_missing: 'my-agent' is not on this process's PATH (/usr/bin:/bin)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn a_program_nowhere_to_be_found_says_so() {
    let sb = Sandbox::new();
    let run = sb.exec_json(
        &["--env-clear", "--env", "PATH=/usr/bin:/bin"],
        &["no-such-agent-cli-xyz"],
    );
    run.expect_class("cli_missing");
    assert!(
        run.str("repair_hint")
            .contains("nor in the usual install places"),
        "{}",
        run.str("repair_hint")
    );
}

#[test]
fn a_file_without_the_exec_bit_is_not_executable() {
    let sb = Sandbox::new();
    let prog = sb.path("bin/agent");
    write_exe(&prog, "#!/bin/sh\necho hi\n", 0o644);
    let run = sb.exec_json(&[], &[prog.to_str().unwrap()]);
    run.expect_class("cli_not_executable");
    assert_eq!(run.status, 126);
    assert!(
        run.str("repair_hint").contains("chmod +x"),
        "{}",
        run.str("repair_hint")
    );
}

#[test]
fn a_directory_as_program_is_not_executable() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("adir")).unwrap();
    let run = sb.exec_json(&[], &[sb.path("adir").to_str().unwrap()]);
    run.expect_class("cli_not_executable");
    assert_eq!(run.status, 126);
    assert!(run.str("evidence").contains("is a directory"));
}

#[test]
fn a_file_that_is_neither_binary_nor_script_fails_at_exec() {
    let sb = Sandbox::new();
    let prog = sb.path("garbage");
    write_exe(&prog, "\x01\x02 not a program", 0o755);
    let run = sb.exec_json(&[], &[prog.to_str().unwrap()]);
    run.expect_class("cli_not_executable");
    assert_eq!(run.str("rule"), "fact.cli_unknown_format");
    assert_eq!(run.status, 126);
}

#[test]
fn a_missing_cwd_is_refused_before_launch() {
    let sb = Sandbox::new();
    let pid_file = sb.path("pid");
    let missing = sb.path("not/here");
    let run = sb.fake(
        &["--cwd", missing.to_str().unwrap()],
        &["--pid-file", pid_file.to_str().unwrap()],
    );
    run.expect_class("cwd_missing");
    assert_eq!(run.status, 66);
    assert_eq!(run.report["cwd_exists"], false);
    assert!(
        !pid_file.exists(),
        "nothing may be spawned for a missing cwd"
    );
}

#[test]
fn a_shebang_interpreter_missing_from_the_child_path_is_named_with_where_it_is() {
    let sb = Sandbox::new();
    // An npm-style shim whose `node` lives only in the user's ~/.local/bin.
    let user_home = sb.path("user");
    let node_dir = user_home.join(".local/bin");
    std::fs::create_dir_all(&node_dir).unwrap();
    std::fs::copy(fake_agent(), node_dir.join("fake-node")).unwrap();
    let shim = sb.path("npm/bin/agent-cli");
    write_exe(
        &shim,
        "#!/usr/bin/env fake-node\nconsole.log('hi')\n",
        0o755,
    );
    let home_env = format!("HOME={}", user_home.display());
    let path_env = format!("PATH={}:/usr/bin:/bin", shim.parent().unwrap().display());
    let run = sb.exec_json(
        &["--env-clear", "--env", &path_env, "--env", &home_env],
        &["agent-cli"],
    );
    run.expect_class("interpreter_missing");
    assert_eq!(run.status, 126);
    let hint = run.str("repair_hint");
    assert!(hint.contains("'fake-node'"), "{hint}");
    assert!(
        hint.contains(&format!(
            "found fake-node at {}",
            node_dir.join("fake-node").display()
        )),
        "{hint}"
    );
    // With node's directory on PATH the same shim resolves.
    let path_env = format!(
        "PATH={}:{}:/usr/bin:/bin",
        shim.parent().unwrap().display(),
        node_dir.display()
    );
    let run = sb.exec_json(
        &["--env-clear", "--env", &path_env, "--env", &home_env],
        &["agent-cli"],
    );
    assert_eq!(
        run.report["interpreter"],
        node_dir.join("fake-node").to_str().unwrap()
    );
}

#[test]
fn payload_checks_happen_before_spawn() {
    let sb = Sandbox::new();
    let pid_file = sb.path("pid");
    let fake = fake_agent();
    let fake = fake.to_str().unwrap();
    let pid = pid_file.to_str().unwrap();
    let empty = sb.exec_json(&["--prompt", "  "], &[fake, "--pid-file", pid]);
    empty.expect_class("payload_invalid");
    assert_eq!(empty.status, 65);
    let huge = sb.path("huge.txt");
    std::fs::write(&huge, "x".repeat(200 * 1024)).unwrap();
    let too_big = sb.exec_json(
        &[
            "--prompt-file",
            huge.to_str().unwrap(),
            "--prompt-via",
            "arg",
        ],
        &[fake, "--pid-file", pid],
    );
    too_big.expect_class("payload_invalid");
    assert!(too_big.str("repair_hint").contains("--prompt-via stdin"));
    let no_prompt = sb.exec_json(&[], &[fake, "--cat", "{prompt_file}", "--pid-file", pid]);
    no_prompt.expect_class("payload_invalid");
    let binary = sb.path("bin.txt");
    std::fs::write(&binary, b"\xff\xfe not text").unwrap();
    let not_text = sb.exec_json(
        &["--prompt-file", binary.to_str().unwrap()],
        &[fake, "--pid-file", pid],
    );
    not_text.expect_class("payload_invalid");
    assert!(
        !pid_file.exists(),
        "nothing may be spawned for an invalid payload"
    );
}

#[test]
fn a_refusal_records_prepare_and_classification_but_no_exit() {
    let sb = Sandbox::new();
    let run = sb.exec_json(
        &["--env-clear", "--env", "PATH=/nonexistent"],
        &["nothing-here"],
    );
    let id = run.str("dispatch_id");
    let out = sb.run(&["show", id, "--json"]);
    assert!(out.status.success());
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = record["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["runner_prepare", "runner_classified_failure"]);
    assert_eq!(record["events"][1]["body"]["classifier"], "cli_missing");
}
