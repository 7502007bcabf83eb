//! Shared helpers for the integration tests: they run the real `agentlane`
//! binary against the real `fake-agent` binary, in a private home directory.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub mod pg;

/// The `agentlane` binary under test.
pub fn agentlane() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_agentlane"))
}

/// The `fake-agent` test binary, built by `cargo build --workspace`.
pub fn fake_agent() -> PathBuf {
    let path = agentlane().with_file_name("fake-agent");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` before `cargo test` (README: the test command does both)",
        path.display()
    );
    path
}

/// A private agentlane home and scratch space for one test.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `agentlane --home <home> ARGS...` with the given stdin, collecting output.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(agentlane())
            .arg("--home")
            .arg(self.home())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("agentlane runs")
    }

    /// `agentlane exec --json EXEC_ARGS -- COMMAND`, returning the report and the exit status.
    pub fn exec_json(&self, exec_args: &[&str], command: &[&str]) -> Run {
        let mut args = vec!["exec", "--json"];
        args.extend_from_slice(exec_args);
        args.push("--");
        args.extend_from_slice(command);
        let out = self.run(&args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}):\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        Run {
            report,
            status: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Like [`Self::exec_json`] with fake-agent as the program.
    pub fn fake(&self, exec_args: &[&str], fake_args: &[&str]) -> Run {
        let fake = fake_agent();
        let mut command = vec![fake.to_str().unwrap()];
        command.extend_from_slice(fake_args);
        self.exec_json(exec_args, &command)
    }

    /// Every byte stored under the home directory (database, WAL, artifacts, ...).
    pub fn all_stored_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![self.home()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(bytes) = std::fs::read(&p) {
                    out.push((p, bytes));
                }
            }
        }
        out
    }
}

/// One `exec --json` run.
pub struct Run {
    pub report: Value,
    pub status: i32,
    pub stderr: String,
}

impl Run {
    pub fn class(&self) -> &str {
        self.report["classifier"].as_str().unwrap_or("<none>")
    }

    pub fn str(&self, key: &str) -> &str {
        self.report[key].as_str().unwrap_or("")
    }

    /// Panics with the whole report when the class is not `expected`.
    pub fn expect_class(&self, expected: &str) -> &Self {
        assert_eq!(
            self.class(),
            expected,
            "report: {}\nstderr: {}",
            serde_json::to_string_pretty(&self.report).unwrap(),
            self.stderr
        );
        self
    }
}

/// Writes an executable file.
pub fn write_exe(path: &Path, body: &str, mode: u32) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Whether a pid is alive (a zombie counts as dead: it has exited).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next());
            state != Some("Z")
        }
        Err(_) => false,
    }
}

/// Reads a pid file written by fake-agent, waiting briefly for it to appear.
pub fn read_pid(path: &Path) -> i32 {
    for _ in 0..200 {
        if let Ok(s) = std::fs::read_to_string(path) {
            if let Ok(pid) = s.trim().parse() {
                return pid;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no pid in {}", path.display());
}
