//! Bad input never panics and never takes the machine: non-UTF-8 paths and
//! environments, endless files, oversized JSON lines. Each case is a
//! regression test for a crash or a runaway read measured on an earlier main.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const CONFIG: &str = "[routes.t]\nprofile = \"generic\"\nprogram = \"/bin/true\"\n[kinds.k]\nroutes = [\"t\"]\n[lanes.l]\nroutes = [\"t\"]\n";

/// A command that must finish quickly: a runaway read would take minutes and gigabytes.
fn run_bounded(cmd: &mut Command) -> std::process::Output {
    let started = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().expect("agentlane runs");
    // Not a timing assertion on speed: /dev/zero read whole never ends at all.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    out
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_non_utf8_cwd_is_refused_with_the_reason_not_a_panic() {
    let sb = Sandbox::new();
    let dir = sb.dir.path().join(OsStr::from_bytes(b"work\xff"));
    std::fs::create_dir_all(&dir).unwrap();
    let out = run_bounded(
        Command::new(agentlane())
            .arg("--home")
            .arg(sb.home())
            .arg("exec")
            .arg("--cwd")
            .arg(&dir)
            .args(["--", "/bin/true"]),
    );
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not UTF-8 text"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn a_non_utf8_variable_in_agentlanes_environment_is_skipped_with_a_warning() {
    let sb = Sandbox::new();
    let fake = fake_agent();
    let out = run_bounded(
        Command::new(agentlane())
            .arg("--home")
            .arg(sb.home())
            .env("AGENTLANE_TEST_BYTES", OsStr::from_bytes(b"caf\xe9"))
            .args(["exec", "--json", "--"])
            .arg(&fake)
            .args(["--print-env", "AGENTLANE_TEST_BYTES", "--exit", "0"]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("AGENTLANE_TEST_BYTES is not UTF-8"),
        "{}",
        stderr(&out)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["classifier"], "ok", "{report}");
    assert!(
        report["stdout_tail"]
            .as_str()
            .unwrap()
            .contains("AGENTLANE_TEST_BYTES is unset"),
        "{report}"
    );
}

#[test]
fn a_non_utf8_variable_does_not_crash_the_worker() {
    let sb = Sandbox::new();
    let cfg = sb.path("agentlane.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let base = |c: &mut Command| {
        c.arg("--home")
            .arg(sb.home())
            .arg("--config")
            .arg(&cfg)
            .env("AGENTLANE_TEST_BYTES", OsStr::from_bytes(b"\xff"));
    };
    let mut enqueue = Command::new(agentlane());
    base(&mut enqueue);
    let out =
        run_bounded(enqueue.args(["enqueue", "--kind", "k", "--lane", "l", "--prompt", "hello"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut worker = Command::new(agentlane());
    base(&mut worker);
    let out = run_bounded(worker.args(["worker", "--lane", "l", "--drain"]));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn an_endless_prompt_file_is_refused_at_its_cap() {
    let sb = Sandbox::new();
    let out = run_bounded(
        Command::new(agentlane())
            .arg("--home")
            .arg(sb.home())
            .args(["exec", "--prompt-file", "/dev/zero", "--", "/bin/true"]),
    );
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--prompt-file /dev/zero is larger than 16777216 bytes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_endless_env_file_is_refused_at_its_cap() {
    let sb = Sandbox::new();
    let out = run_bounded(
        Command::new(agentlane())
            .arg("--home")
            .arg(sb.home())
            .args(["exec", "--env-file", "/dev/zero", "--", "/bin/true"]),
    );
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--env-file /dev/zero is larger than 1048576 bytes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_oversized_jsonl_line_stores_nothing() {
    let sb = Sandbox::new();
    let cfg = sb.path("agentlane.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let jsonl = sb.path("jobs.jsonl");
    let huge = "x".repeat(17 * 1024 * 1024);
    std::fs::write(
        &jsonl,
        format!("{{\"kind\":\"k\",\"lane\":\"l\",\"prompt\":\"ok\"}}\n{{\"kind\":\"k\",\"lane\":\"l\",\"prompt\":\"{huge}\"}}\n"),
    )
    .unwrap();
    let out = run_bounded(
        Command::new(agentlane())
            .arg("--home")
            .arg(sb.home())
            .arg("--config")
            .arg(&cfg)
            .args(["enqueue", "--jsonl"])
            .arg(&jsonl),
    );
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 2 is longer than"),
        "{}",
        stderr(&out)
    );
    let list = |sb: &Sandbox| {
        let jobs = sb.run(&["--config", cfg.to_str().unwrap(), "jobs", "--json"]);
        String::from_utf8_lossy(&jobs.stdout).into_owned()
    };
    assert!(!list(&sb).contains("\"k\""), "{}", list(&sb));
    // The same good line alone is stored: the check above can see a job.
    std::fs::write(
        &jsonl,
        "{\"kind\":\"k\",\"lane\":\"l\",\"prompt\":\"ok\"}\n",
    )
    .unwrap();
    let ok = sb.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "enqueue",
        "--jsonl",
        jsonl.to_str().unwrap(),
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(list(&sb).contains("\"k\""), "{}", list(&sb));
}

#[test]
fn a_non_utf8_argument_for_the_child_is_a_usage_error_not_a_panic() {
    let sb = Sandbox::new();
    let out = run_bounded(
        Command::new(agentlane())
            .arg("--home")
            .arg(sb.home())
            .args(["exec", "--", "/bin/echo"])
            .arg(OsStr::from_bytes(b"caf\xe9")),
    );
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid UTF-8"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn an_environment_too_large_for_exec_is_named_as_the_environment_not_the_prompt() {
    let sb = Sandbox::new();
    // 2.5 MB of harmless variables in three env files (each under the 1 MiB
    // cap) exceeds Linux's 2 MiB ARG_MAX for the child's execve; no prompt.
    let mut files = Vec::new();
    for f in 0..3 {
        let path = sb.dir.path().join(format!("big{f}.env"));
        let body: String = (0..20_000)
            .map(|i| format!("V{f}_{i}=/usr/share/doc/package-{i}/README\n"))
            .collect();
        std::fs::write(&path, body).unwrap();
        files.push(path);
    }
    let mut cmd = Command::new(agentlane());
    cmd.arg("--home").arg(sb.home()).args(["exec", "--json"]);
    for f in &files {
        cmd.arg("--env-file").arg(f);
    }
    let out = run_bounded(cmd.args(["--", "/bin/true"]));
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(report["classifier"], "payload_invalid", "{report}");
    let hint = report["repair_hint"].as_str().unwrap_or_default();
    assert!(hint.contains("trim the child's environment"), "{hint}");
    assert!(!hint.contains("prompt_via"), "{hint}");
}

#[test]
fn a_reader_that_goes_away_does_not_make_show_panic() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let sb = Sandbox::new();
    let out = run_bounded(
        Command::new(agentlane())
            .arg("--home")
            .arg(sb.home())
            .args(["exec", "--json", "--tail-bytes", "65536", "--"])
            .args(["sh", "-c", "seq 1 20000; exit 3"]),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a report");
    let id = report["dispatch_id"].as_str().unwrap().to_string();
    for args in [
        vec!["show", id.as_str()],
        vec!["runs"],
        vec!["explain", "--markdown"],
    ] {
        let mut child = Command::new(agentlane())
            .arg("--home")
            .arg(sb.home())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read a little, then go away like `| head -1`.
        let mut first = [0u8; 16];
        let _ = child.stdout.take().unwrap().read(&mut first);
        let status = child.wait().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            status.success() || status.signal() == Some(libc::SIGPIPE),
            "{args:?}: {status:?} {err}"
        );
    }
}
