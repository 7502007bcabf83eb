//! Artifacts on a bounded or full disk: a per-stream cap with a marker, and
//! an outcome that survives a full disk (issue 13, "a full disk loses no
//! outcome"). Real `agentlane`, real `fake-agent`, and for the full disk a
//! real 3 MiB tmpfs (the tests mount one; they need root, and say so and
//! stop when mounting is refused — the ENOSPC write path is then covered by
//! the simulated full disk of `capture.rs`'s unit tests).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{agentlane, fake_agent, Sandbox};
use serde_json::Value;

const MIB: u64 = 1 << 20;

/// A real Claude Code message (builtin_cases.toml): matched on stdout.
const CLAUDE_429: &str = "API Error: Request rejected (429) · This request would exceed your account's rate limit. Please try again later.";

/// A small tmpfs mounted for one test, unmounted when dropped (lazily, so a
/// failed test that left a process holding a file still cleans up).
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (mount(8) syntax: `3m`) at `path`, or `None` (with a notice) when refused.
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(path)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs {
                path: path.to_path_buf(),
            }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs at {} ({}): this test needs root; the full-disk write path is still covered by the simulated ENOSPC writer in capture.rs's unit tests",
                    path.display(),
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!(
                    "SKIPPED: cannot run mount(8): {e}; see capture.rs's simulated ENOSPC writer"
                );
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// `agentlane --home HOME [--store URL] ARGS…`.
fn agentlane_at(home: &Path, store: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(agentlane());
    cmd.arg("--home").arg(home);
    if let Some(url) = store {
        cmd.arg("--store").arg(url);
    }
    cmd.args(args)
        .stdin(Stdio::null())
        .output()
        .expect("agentlane runs")
}

/// `exec --json [EXEC_ARGS] -- fake-agent FAKE_ARGS`: stdout parsed as the report.
fn exec_fake(
    home: &Path,
    store: Option<&str>,
    exec_args: &[&str],
    fake_args: &[&str],
) -> (Value, i32, String) {
    let fake = fake_agent();
    let mut args = vec!["exec", "--json"];
    args.extend_from_slice(exec_args);
    args.push("--");
    args.push(fake.to_str().unwrap());
    args.extend_from_slice(fake_args);
    let out = agentlane_at(home, store, &args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("stdout is not one JSON report ({e}):\n{stdout}\nstderr:\n{stderr}")
    });
    (report, out.status.code().unwrap_or(-1), stderr)
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

#[test]
fn past_the_cap_the_artifact_ends_with_a_marker_and_the_class_still_sees_the_end() {
    let sb = Sandbox::new();
    let (report, status, stderr) = exec_fake(
        &sb.home(),
        None,
        &["--artifact-cap", "1MiB"],
        // The spew ends mid-line: a newline first, so the message starts one.
        &[
            "--spew", "5M", "--stdout", "", "--stdout", CLAUDE_429, "--exit", "1",
        ],
    );
    let why = || format!("{}\nstderr: {stderr}", pretty(&report));
    assert_eq!(status, 1, "{}", why());
    assert_eq!(report["classifier"], "rate_limited", "{}", why());
    assert_eq!(report["rule"], "claude.rate_limited", "{}", why());
    let total = 5 * MIB + 1 + CLAUDE_429.len() as u64 + 1;
    assert_eq!(report["stdout_bytes"], total, "{}", why());
    assert_eq!(report["stdout_artifact_truncated"], true, "{}", why());
    assert_eq!(report["stdout_dropped_bytes"], total - MIB, "{}", why());
    assert_eq!(report["stderr_artifact_truncated"], false, "{}", why());
    assert_eq!(report["stderr_dropped_bytes"], 0, "{}", why());
    assert_eq!(report["artifact_errors"], Value::Array(vec![]), "{}", why());
    assert!(report["artifact_error"].is_null(), "{}", why());
    // The tails hold the end of the output, past the cap.
    let tail = report["stdout_tail"].as_str().unwrap();
    assert!(tail.ends_with(&format!("{CLAUDE_429}\n")), "{}", why());

    let artifact = std::fs::read(report["artifacts"]["stdout"].as_str().unwrap()).unwrap();
    let marker = format!(
        "\n[agentlane: artifact cut at {MIB} bytes; {} more bytes not written]\n",
        total - MIB
    );
    assert_eq!(artifact.len() as u64, MIB + marker.len() as u64);
    assert!(
        artifact.ends_with(marker.as_bytes()),
        "the marker ends the file"
    );
    // What is kept is the start of the stream, byte for byte.
    assert!(artifact[..MIB as usize]
        .iter()
        .all(|b| b.is_ascii_graphic() || *b == b'\n'));
    assert!(!String::from_utf8_lossy(&artifact).contains("API Error"));
    assert!(
        report["artifacts"]["stderr"].is_null(),
        "stderr printed nothing"
    );
}

#[test]
fn a_cap_from_the_configuration_applies_and_zero_is_refused() {
    let sb = Sandbox::new();
    let config = sb.path("agentlane.toml");
    std::fs::write(&config, "[artifacts]\nmax_bytes_per_stream = \"64KiB\"\n").unwrap();
    let cfg = config.to_str().unwrap();
    let (report, status, _) = exec_fake(&sb.home(), None, &[], &["--spew", "100K"]);
    assert_eq!(
        (status, report["stdout_artifact_truncated"].clone()),
        (0, Value::Bool(false))
    );
    let out = sb.run(&[
        "--config",
        cfg,
        "exec",
        "--json",
        "--",
        fake_agent().to_str().unwrap(),
        "--spew",
        "100K",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["classifier"], "ok", "{}", pretty(&report));
    assert_eq!(report["stdout_artifact_truncated"], true);
    assert_eq!(report["stdout_dropped_bytes"], 36 * 1024);
    // The command line wins over the configuration.
    let out = sb.run(&[
        "--config",
        cfg,
        "exec",
        "--json",
        "--artifact-cap",
        "1MiB",
        "--",
        fake_agent().to_str().unwrap(),
        "--spew",
        "100K",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["stdout_artifact_truncated"],
        false,
        "{}",
        pretty(&report)
    );

    std::fs::write(&config, "[artifacts]\nmax_bytes_per_stream = \"0\"\n").unwrap();
    let out = sb.run(&["--config", cfg, "exec", "--", "/bin/true"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("agentlane.toml:2:24") && stderr.contains("max_bytes_per_stream"),
        "{stderr}"
    );
    let out = sb.run(&["exec", "--artifact-cap", "0", "--", "/bin/true"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("would keep no output"), "{stderr}");
}

#[test]
fn a_full_artifact_disk_still_records_the_class_and_prints_the_report() {
    let sb = Sandbox::new();
    let Some(_disk) = Tmpfs::mount(&sb.home(), "3m") else {
        return;
    };
    std::fs::create_dir_all(sb.path("db")).unwrap();
    let store = format!("sqlite://{}", sb.path("db/agentlane.db").display());
    let (report, status, stderr) = exec_fake(
        &sb.home(),
        Some(&store),
        &[],
        &[
            "--spew",
            "5M",
            "--stderr",
            "Error: 429 Too Many Requests",
            "--exit",
            "1",
        ],
    );
    let why = || format!("{}\nstderr: {stderr}", pretty(&report));
    assert_eq!(status, 1, "the child's own status: {}", why());
    assert_eq!(report["classifier"], "rate_limited", "{}", why());
    assert_eq!(report["exit_code"], 1, "{}", why());
    assert_eq!(report["stdout_bytes"], 5 * MIB, "{}", why());
    let errors = report["artifact_errors"].as_array().unwrap();
    assert!(
        errors.iter().any(|e| {
            let e = e.as_str().unwrap();
            e.starts_with("stdout: ") && e.contains("No space left on device")
        }),
        "{}",
        why()
    );
    assert_eq!(report["stdout_artifact_truncated"], true, "{}", why());
    assert!(
        report["stdout_dropped_bytes"].as_u64().unwrap() > 2 * MIB,
        "{}",
        why()
    );
    // The disk was full before stderr's first byte: its artifact is incomplete too.
    assert_eq!(report["stderr_artifact_truncated"], true, "{}", why());
    assert!(
        report["stderr_tail"]
            .as_str()
            .unwrap()
            .contains("Error: 429 Too Many Requests"),
        "{}",
        why()
    );
    assert!(stderr.contains("artifact incomplete: stdout: "), "{stderr}");

    // The store has the finished dispatch, its class, status and the error.
    let id = report["dispatch_id"].as_str().unwrap();
    let out = agentlane_at(&sb.home(), Some(&store), &["show", "--json", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        shown["summary"]["classifier"],
        "rate_limited",
        "{}",
        pretty(&shown)
    );
    assert_eq!(shown["summary"]["exit_code"], 1, "{}", pretty(&shown));
    assert!(
        shown["summary"]["finished_at"].is_string(),
        "{}",
        pretty(&shown)
    );
    assert_eq!(
        shown["report"]["artifact_errors"],
        report["artifact_errors"]
    );
    let out = agentlane_at(&sb.home(), Some(&store), &["show", id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("rate_limited") && text.contains("artifact   incomplete: stdout: "),
        "{text}"
    );
}

#[test]
fn a_store_on_the_full_disk_still_prints_the_report_and_exits_75() {
    let sb = Sandbox::new();
    let Some(_disk) = Tmpfs::mount(&sb.home(), "3m") else {
        return;
    };
    let (report, status, stderr) = exec_fake(
        &sb.home(),
        None,
        &[],
        &[
            "--spew",
            "5M",
            "--stderr",
            "Error: 429 Too Many Requests",
            "--exit",
            "1",
        ],
    );
    let why = || format!("{}\nstderr: {stderr}", pretty(&report));
    assert_eq!(status, 75, "UNRECORDED: {}", why());
    assert_eq!(report["classifier"], "rate_limited", "{}", why());
    assert_eq!(report["exit_code"], 1, "{}", why());
    assert_eq!(
        report["exit_status"],
        1,
        "the status it would have had: {}",
        why()
    );
    assert!(
        !report["artifact_errors"].as_array().unwrap().is_empty(),
        "{}",
        why()
    );
    let id = report["dispatch_id"].as_str().unwrap();
    assert!(
        stderr.contains(&format!("the outcome of dispatch {id} (rate_limited, exit status 1) was NOT recorded in the store"))
            && stderr.contains("full"),
        "the message says what was lost and why: {stderr}"
    );
}

#[test]
fn a_secret_across_the_cut_is_redacted_before_the_cap_applies() {
    let sb = Sandbox::new();
    // Random, credential-shaped, and in the child's environment.
    let secret = format!(
        "sk-proj-{}",
        uuid_like(std::process::id() as u64 ^ 0x9e37_79b9_7f4a_7c15)
    );
    let env = format!("ACME_API_KEY={secret}");
    // The redacted line spans bytes 1000..1037 of the stream: the caps cut through it.
    for cap in ["1000", "1010", "1020", "1030"] {
        let (report, status, stderr) = exec_fake(
            &sb.home(),
            None,
            &["--artifact-cap", cap, "--env", &env],
            &[
                "--spew",
                "1000",
                "--print-env",
                "ACME_API_KEY",
                "--stderr-raw",
                &secret,
            ],
        );
        assert_eq!(status, 0, "{stderr}");
        assert_eq!(
            report["stdout_artifact_truncated"],
            true,
            "{}",
            pretty(&report)
        );
        let mut written = std::fs::read(report["artifacts"]["stdout"].as_str().unwrap()).unwrap();
        written.extend(std::fs::read(report["artifacts"]["stderr"].as_str().unwrap()).unwrap());
        written.extend(serde_json::to_vec(&report).unwrap());
        let text = String::from_utf8_lossy(&written);
        for piece in secret.as_bytes().windows(12) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(
                !text.contains(piece),
                "cap {cap}: '{piece}' of the secret was written"
            );
        }
        assert!(text.contains("[agentlane: artifact cut at"), "{text}");
    }
}

/// 40 hex-ish characters from a seed (no randomness crate needed here).
fn uuid_like(mut seed: u64) -> String {
    let mut out = String::new();
    while out.len() < 40 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.push_str(&format!("{seed:016x}"));
    }
    out.truncate(40);
    out
}

/// `show` read on another host than the one that ran the dispatch names
/// that host with the artifact paths (they are files on its disk) and still
/// prints the tails, which come from the store (issue 16).
#[test]
fn show_from_another_host_names_the_host_that_holds_the_artifacts() {
    let sb = Sandbox::new();
    let on = |host: &str, args: &[&str]| {
        std::process::Command::new(agentlane())
            .arg("--home")
            .arg(sb.home())
            .args(args)
            .env("AGENTLANE_HOST", host)
            .output()
            .unwrap()
    };
    let out = on(
        "worker-a",
        &[
            "exec",
            "--json",
            "--",
            fake_agent().to_str().unwrap(),
            "--stderr",
            "Error: 429 Too Many Requests",
            "--exit",
            "1",
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = report["dispatch_id"].as_str().unwrap();
    let there = String::from_utf8_lossy(&on("laptop", &["show", id]).stdout).into_owned();
    assert!(
        there.contains("host       worker-a (holds the full artifacts"),
        "{there}"
    );
    assert!(there.contains("stderr     worker-a:/"), "{there}");
    assert!(
        there.contains("Error: 429 Too Many Requests"),
        "the tail: {there}"
    );
    let here = String::from_utf8_lossy(&on("worker-a", &["show", id]).stdout).into_owned();
    assert!(!here.contains("host       "), "{here}");
    assert!(!here.contains("worker-a:/"), "{here}");
    let shown: serde_json::Value =
        serde_json::from_slice(&on("laptop", &["show", id, "--json"]).stdout).unwrap();
    let prepare = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "runner_prepare")
        .unwrap();
    assert_eq!(prepare["body"]["host"], "worker-a");
}
