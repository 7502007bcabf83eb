//! Launch and supervision: exit codes, signals, timeouts without survivors,
//! leaked pipes, bounded memory, raw bytes, and dying with agentlane.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn success_is_ok_with_private_artifacts() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let run = sb.fake(&[], &["--stdout", "hello", "--stderr", "note"]);
    run.expect_class("ok");
    assert_eq!(run.status, 0);
    assert_eq!(run.str("stdout_tail"), "hello\n");
    assert_eq!(run.str("stderr_tail"), "note\n");
    assert_eq!(run.report["stdout_bytes"], 6);
    assert!(run.report["failure_fingerprint"].is_null());
    let out = std::path::PathBuf::from(run.report["artifacts"]["stdout"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\n");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), 0o600);
    assert_eq!(mode(out.parent().unwrap()), 0o700);
    // The dispatch id is a UUIDv7 (time-ordered).
    assert_eq!(run.str("dispatch_id").chars().nth(14), Some('7'));
}

#[test]
fn a_stream_that_prints_nothing_leaves_no_artifact_file() {
    let sb = Sandbox::new();
    let run = sb.fake(&[], &["--stdout", "only out"]);
    run.expect_class("ok");
    let out = std::path::PathBuf::from(run.report["artifacts"]["stdout"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "only out\n");
    assert!(
        run.report["artifacts"]["stderr"].is_null(),
        "{}",
        run.report
    );
    assert_eq!(run.report["stderr_bytes"], 0);
    let files: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, vec![std::ffi::OsString::from("stdout.log")]);

    // A silent dispatch creates no artifact directory at all.
    let run = sb.fake(&[], &[]);
    run.expect_class("ok");
    assert!(
        run.report["artifacts"]["stdout"].is_null(),
        "{}",
        run.report
    );
    assert!(
        run.report["artifacts"]["stderr"].is_null(),
        "{}",
        run.report
    );
    let dir = sb.home().join("artifacts").join(run.str("dispatch_id"));
    assert!(!dir.exists(), "{} should not exist", dir.display());
}

#[test]
fn without_json_output_passes_through_and_failure_is_one_line() {
    let sb = Sandbox::new();
    let fake = fake_agent();
    let out = sb.run(&[
        "exec",
        "--",
        fake.to_str().unwrap(),
        "--stdout",
        "live out",
        "--stderr",
        "odd failure",
        "--exit",
        "5",
    ]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "live out\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("odd failure\n"), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("agentlane: "))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("agentlane: unknown_exit_5: "),
        "{stderr}"
    );
}

#[test]
fn an_unknown_exit_keeps_its_code_and_evidence() {
    let sb = Sandbox::new();
    let run = sb.fake(&[], &["--stderr", "frobnication failed", "--exit", "7"]);
    run.expect_class("unknown_exit_7");
    assert_eq!(run.status, 7);
    assert_eq!(run.str("evidence"), "frobnication failed");
    assert!(run.report["failure_fingerprint"].as_str().unwrap().len() == 16);
}

#[test]
fn death_by_signal_is_128_plus_n() {
    let sb = Sandbox::new();
    let run = sb.fake(&[], &["--signal", "9"]);
    run.expect_class("killed_by_signal");
    assert_eq!(run.status, 137);
    assert_eq!(run.report["signal"], 9);
    assert!(run.report["exit_code"].is_null());
}

#[test]
fn a_timeout_leaves_no_survivor_even_outside_the_group() {
    let sb = Sandbox::new();
    let child_pid = sb.path("child.pid");
    let escaped_pid = sb.path("escaped.pid");
    let run = sb.fake(
        &["--timeout", "1s", "--kill-grace", "300ms"],
        &[
            "--grandchild-pid-file",
            escaped_pid.to_str().unwrap(),
            "--grandchild-escape",
            "120",
            "--ignore-term",
            "--pid-file",
            child_pid.to_str().unwrap(),
            "--hang",
        ],
    );
    run.expect_class("timeout");
    assert_eq!(run.status, 124);
    assert_eq!(run.report["timed_out"], true);
    assert_eq!(
        run.report["signal"], 9,
        "the child ignored SIGTERM, so SIGKILL ended it"
    );
    let child = read_pid(&child_pid);
    let escaped = read_pid(&escaped_pid);
    assert!(!alive(child), "the agent survived its timeout");
    assert!(!alive(escaped), "a setsid descendant survived the timeout");
}

#[test]
fn a_grandchild_holding_the_pipes_does_not_hang_the_dispatch() {
    let sb = Sandbox::new();
    let holder_pid = sb.path("holder.pid");
    let started = Instant::now();
    let run = sb.fake(
        &["--leak-timeout", "300ms"],
        &[
            "--grandchild-pid-file",
            holder_pid.to_str().unwrap(),
            "--grandchild-hold",
            "60",
            "--stdout",
            "done",
        ],
    );
    // Not a timing assertion: without leak handling this waits the holder's 60s.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the dispatch waited for the leaked pipe"
    );
    run.expect_class("ok");
    assert_eq!(run.report["leaked"], true);
    let holder = read_pid(&holder_pid);
    let leaked = run.report["leaked_processes"].as_array().unwrap();
    let entry = leaked
        .iter()
        .find(|p| p["pid"] == holder)
        .expect("the holder is named as evidence");
    assert_eq!(entry["held_pipes"], true);
    assert!(
        entry["cmdline"].as_str().unwrap().contains("fake-agent"),
        "{entry}"
    );
    assert!(!alive(holder), "the leaked holder survived");
    assert_eq!(run.str("stdout_tail"), "done\n");
}

#[test]
fn a_gigabyte_of_output_is_captured_with_bounded_memory() {
    let sb = Sandbox::new();
    let run = sb.fake(&[], &["--spew", "1G"]);
    run.expect_class("ok");
    assert_eq!(run.report["stdout_bytes"], 1u64 << 30);
    // The artifact stops at the default cap (64 MiB) and says so; the rest is counted.
    let artifact = std::path::PathBuf::from(run.report["artifacts"]["stdout"].as_str().unwrap());
    let dropped = (1u64 << 30) - (64 << 20);
    let marker = format!(
        "\n[agentlane: artifact cut at {} bytes; {dropped} more bytes not written]\n",
        64 << 20
    );
    assert_eq!(
        std::fs::metadata(&artifact).unwrap().len(),
        (64 << 20) + marker.len() as u64
    );
    assert_eq!(run.report["stdout_dropped_bytes"], dropped);
    assert_eq!(run.report["stdout_artifact_truncated"], true);
    assert!(run.str("stdout_tail").len() <= 4096);
    std::fs::remove_file(&artifact).unwrap();
    // Peak RSS of the largest child this test process waited for (agentlane;
    // its own child fake-agent is smaller). 1 GiB held in memory would blow this.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    let max_rss_kib = usage.ru_maxrss;
    assert!(
        max_rss_kib < 128 * 1024,
        "peak RSS {max_rss_kib} KiB while capturing 1 GiB"
    );
}

#[test]
fn invalid_utf8_and_nul_bytes_are_kept_byte_exact_in_artifacts() {
    let sb = Sandbox::new();
    let run = sb.fake(&[], &["--binary"]);
    run.expect_class("ok");
    let artifact = std::fs::read(run.report["artifacts"]["stdout"].as_str().unwrap()).unwrap();
    assert_eq!(artifact, b"bin:\xff\xfe\x00\x01 ok\n");
    assert!(
        run.str("stdout_tail").contains('\u{fffd}'),
        "the tail is lossy UTF-8 text"
    );
}

#[test]
fn the_prompt_reaches_the_child_by_stdin_arg_and_file() {
    let sb = Sandbox::new();
    let via_stdin = sb.fake(&["--prompt", "hello via stdin"], &["--echo-stdin"]);
    assert_eq!(via_stdin.str("stdout_tail"), "hello via stdin");
    assert_eq!(via_stdin.report["prompt_bytes"], 15);

    let via_arg = sb.fake(
        &["--prompt", "say `rm -rf /`; $(id)", "--prompt-via", "arg"],
        &["--echo-args", "--stdout", "{prompt}"],
    );
    // Never through a shell: the prompt arrives as one argument, byte for byte.
    assert!(
        via_arg
            .str("stdout_tail")
            .contains("say `rm -rf /`; $(id)\n"),
        "{}",
        via_arg.str("stdout_tail")
    );
    let argv: Vec<&str> = via_arg.report["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        argv.contains(&"<prompt: 21 bytes>"),
        "the recorded argv carries the size, not the prompt: {argv:?}"
    );

    let via_file = sb.fake(
        &["--prompt", "hello via file", "--prompt-via", "file"],
        &["--cat", "{prompt_file}"],
    );
    assert_eq!(via_file.str("stdout_tail"), "hello via file");
    let prompt_file = via_file.report["argv"][2].as_str().unwrap();
    assert!(
        !std::path::Path::new(prompt_file).exists(),
        "the prompt file is removed after the dispatch"
    );
}

#[test]
fn the_child_gets_only_the_environment_it_was_given() {
    let sb = Sandbox::new();
    let env_file = sb.path("agent.env");
    std::fs::write(
        &env_file,
        "# service env\nexport FROM_FILE=yes\nOVERRIDE=file\n",
    )
    .unwrap();
    let run = sb.fake(
        &[
            "--env-clear",
            "--env-file",
            env_file.to_str().unwrap(),
            "--env",
            "OVERRIDE=flag",
        ],
        &[
            "--print-env",
            "FROM_FILE",
            "--print-env",
            "OVERRIDE",
            "--print-env",
            "HOME",
        ],
    );
    assert_eq!(
        run.str("stdout_tail"),
        "FROM_FILE=yes\nOVERRIDE=flag\nHOME is unset\n"
    );
    assert_eq!(
        run.report["env_fingerprint"]["vars"]["HOME"]["present"],
        false
    );
}

#[test]
fn an_interrupt_stops_the_agent_and_is_recorded() {
    let sb = Sandbox::new();
    let pid_file = sb.path("child.pid");
    let child = Command::new(agentlane())
        .arg("--home")
        .arg(sb.home())
        .args(["exec", "--json", "--kill-grace", "300ms", "--"])
        .arg(fake_agent())
        .args(["--pid-file", pid_file.to_str().unwrap(), "--hang"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let agent = read_pid(&pid_file);
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128 + 15));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["classifier"], "killed_by_signal");
    assert_eq!(report["rule"], "fact.interrupted");
    assert_eq!(report["interrupted_by"], 15);
    assert!(!alive(agent));
}

#[test]
fn the_agent_dies_with_a_killed_agentlane() {
    let sb = Sandbox::new();
    let pid_file = sb.path("child.pid");
    let mut child = Command::new(agentlane())
        .arg("--home")
        .arg(sb.home())
        .args(["exec", "--json", "--"])
        .arg(fake_agent())
        .args([
            "--ignore-term",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "--hang",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let agent = read_pid(&pid_file);
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(agent) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(agent), "the agent outlived its dispatcher");
}

/// Not only the agent: what it started in its process group (a shell's
/// command, a test runner) dies with a killed agentlane too. A parent-death
/// signal reached the agent alone; the death guard kills the group.
#[test]
fn the_agents_whole_group_dies_with_a_killed_agentlane() {
    let sb = Sandbox::new();
    let pid_file = sb.path("sleep.pid");
    let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
    let mut child = Command::new(agentlane())
        .arg("--home")
        .arg(sb.home())
        .args(["exec", "--json", "--", "/bin/sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sleeper = read_pid(&pid_file);
    assert!(alive(sleeper), "the agent's child started");
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(sleeper) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let survived = alive(sleeper);
    if survived {
        let _ = Command::new("kill")
            .args(["-9", &sleeper.to_string()])
            .status();
    }
    assert!(!survived, "the agent's child outlived its dispatcher");
}
