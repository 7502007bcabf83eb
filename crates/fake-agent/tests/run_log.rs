//! `--run-log` through the real binary: the records carry the attempt and
//! the parent's pid, and a SIGTERM is recorded (exit 143) unless
//! `--ignore-term` says otherwise; SIGKILL and `--signal` record nothing.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn fake(log: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fake-agent"))
        .env("AGENTLANE_JOB_ID", "job-1")
        .env("AGENTLANE_ATTEMPT", "3")
        .args(args.iter().map(|a| {
            if *a == "LOG" {
                log.as_os_str()
            } else {
                a.as_ref()
            }
        }))
        .spawn()
        .expect("fake-agent runs")
}

fn lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits until the run log holds `n` lines.
fn wait_for_lines(log: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = lines(log);
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on our own, not yet reaped child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

fn time_ms(line: &str) -> u64 {
    let rest = line.split(r#""time_ms":"#).nth(1).expect("time_ms");
    rest[..rest.find(',').unwrap()].parse().unwrap()
}

#[test]
fn records_carry_the_attempt_and_the_parent_pid() {
    let dir = tempfile_dir();
    let log = dir.join("run.log");
    let status = fake(&log, &["--run-log", "LOG", "--exit", "4"])
        .wait()
        .unwrap();
    assert_eq!(status.code(), Some(4));
    let got = lines(&log);
    assert_eq!(got.len(), 2, "{got:?}");
    let ppid = std::process::id();
    for line in &got {
        assert!(line.contains(r#","job":"job-1","#), "{line}");
        assert!(
            line.contains(&format!(r#","attempt":3,"ppid":{ppid}"#)),
            "{line}"
        );
    }
    assert!(got[0].starts_with(r#"{"event":"start","#));
    assert!(got[1].starts_with(r#"{"event":"end","#) && got[1].ends_with(r#","exit_code":4}"#));
}

#[test]
fn sigterm_writes_an_end_record_with_the_signal_and_exits_143() {
    let dir = tempfile_dir();
    let log = dir.join("run.log");
    let mut child = fake(&log, &["--run-log", "LOG", "--sleep", "30"]);
    let started = wait_for_lines(&log, 1);
    assert_eq!(started.len(), 1, "{started:?}");
    let sent = Instant::now();
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "SIGTERM was not acted on"
    );
    assert_eq!(status.code(), Some(143), "{status:?}");
    let got = lines(&log);
    assert_eq!(got.len(), 2, "{got:?}");
    let end = &got[1];
    assert!(
        end.starts_with(&format!(r#"{{"event":"end","pid":{},"#, child.id())),
        "{end}"
    );
    assert!(end.ends_with(r#","signal":15}"#), "{end}");
    assert!(end.contains(r#","attempt":3,"ppid":"#), "{end}");
    assert!(!end.contains("exit_code"), "{end}");
    assert!(time_ms(end) >= time_ms(&got[0]));
}

#[test]
fn sigterm_is_recorded_in_every_run_log() {
    let dir = tempfile_dir();
    let (a, b) = (dir.join("a.log"), dir.join("b.log"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-agent"))
        .arg("--run-log")
        .arg(&a)
        .arg("--run-log")
        .arg(&b)
        .args(["--sleep", "30"])
        .spawn()
        .unwrap();
    wait_for_lines(&b, 1);
    signal(&child, libc::SIGTERM);
    assert_eq!(child.wait().unwrap().code(), Some(143));
    for log in [&a, &b] {
        let got = lines(log);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[1].ends_with(r#","signal":15}"#), "{got:?}");
    }
}

#[test]
fn ignore_term_wins_before_or_after_the_run_log() {
    for script in [
        &["--ignore-term", "--run-log", "LOG", "--sleep", "0.5"][..],
        &["--run-log", "LOG", "--ignore-term", "--sleep", "0.5"][..],
    ] {
        let dir = tempfile_dir();
        let log = dir.join("run.log");
        let mut child = fake(&log, script);
        wait_for_lines(&log, 1);
        std::thread::sleep(Duration::from_millis(50));
        signal(&child, libc::SIGTERM);
        assert_eq!(child.wait().unwrap().code(), Some(0), "{script:?}");
        let got = lines(&log);
        assert_eq!(got.len(), 2, "{script:?}: {got:?}");
        assert!(
            got[1].ends_with(r#","exit_code":0}"#),
            "{script:?}: {got:?}"
        );
    }
}

#[test]
fn sigkill_and_a_deliberate_signal_record_nothing() {
    let dir = tempfile_dir();
    let log = dir.join("run.log");
    let mut child = fake(&log, &["--run-log", "LOG", "--sleep", "30"]);
    wait_for_lines(&log, 1);
    signal(&child, libc::SIGKILL);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None);
    assert_eq!(lines(&log).len(), 1);

    let log = dir.join("self.log");
    let status = fake(&log, &["--run-log", "LOG", "--signal", "TERM"])
        .wait()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert_eq!(lines(&log).len(), 1, "--signal TERM is a death by signal");
}

#[test]
fn a_grandchild_does_not_inherit_the_sigterm_record() {
    let dir = tempfile_dir();
    let log = dir.join("run.log");
    let pid_file = dir.join("gc.pid");
    let mut child = fake(
        &log,
        &[
            "--run-log",
            "LOG",
            "--grandchild-pid-file",
            pid_file.to_str().unwrap(),
            "--grandchild-escape",
            "30",
            "--sleep",
            "30",
        ],
    );
    wait_for_lines(&log, 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    let grandchild: i32 = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "no grandchild pid");
        std::thread::sleep(Duration::from_millis(10));
    };
    // The grandchild ignores SIGTERM: nothing is written on its behalf.
    // SAFETY: kill(2) with a pid we were just given; SIGTERM is ignored there.
    unsafe { libc::kill(grandchild, libc::SIGTERM) };
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(lines(&log).len(), 1, "{:?}", lines(&log));
    signal(&child, libc::SIGTERM);
    assert_eq!(child.wait().unwrap().code(), Some(143));
    assert_eq!(lines(&log).len(), 2);
    // SAFETY: as above; ends the helper.
    unsafe { libc::kill(grandchild, libc::SIGKILL) };
}

/// A fresh directory under the temp dir, removed when dropped (no
/// tempfile dependency in this crate).
struct Scratch(std::path::PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> Scratch {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "fake-agent-run-log-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}
