//! What every chaos test needs: a fresh PostgreSQL schema, a lab directory
//! with an agentlane.toml, worker processes that are killed on every path,
//! psql, and polling with a deadline.

use std::os::unix::fs::PermissionsExt;
#[cfg(target_os = "linux")]
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The chaos tests load the machine (up to eight workers and their agents,
/// a PostgreSQL server, a proxy) and several measure time against a lease:
/// run in parallel on a two-core machine they would only slow one another
/// past their deadlines. Each test holds this lock for its whole run.
static SERIAL: Mutex<()> = Mutex::new(());

/// Takes the chaos lock (a test that panicked still releases it).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

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

/// Milliseconds since the Unix epoch: the clock of fake-agent's run log
/// (and, on this one machine, of PostgreSQL's `now()`).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Polls `probe` every `every` until it returns `Some`, or panics after
/// `timeout` with `what` and the last thing `describe` says.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(every);
    }
}

/// Whether a pid is alive (a zombie counts as dead: it has exited).
pub fn alive(pid: i64) -> bool {
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

/// Runs psql against `url` with `sql`, unaligned and tuples only, fields
/// separated by `|`. Errors are returned (the server may be down).
pub fn try_psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args([
            url,
            "-X",
            "-q",
            "-A",
            "-t",
            "-F",
            "|",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .map_err(|e| format!("psql does not run: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// [`try_psql`] that panics on error.
pub fn psql(url: &str, sql: &str) -> String {
    try_psql(url, sql).unwrap_or_else(|e| panic!("{e}"))
}

/// The server the tests use: `AGENTLANE_TEST_POSTGRES`, else the local one
/// (`.ci/run` starts it when needed).
pub fn pg_base() -> String {
    crate::pg::base()
}

/// `base` with a search path (and an application name, when given) in the
/// URL's options.
pub fn url_with_schema(base: &str, schema: &str, application_name: Option<&str>) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    if let Some(app) = application_name {
        url.push_str(&format!("&application_name={app}"));
    }
    url
}

/// A fresh schema in the test database, dropped when the test ends. Each
/// test passes its own tag: tests of one binary share the process id.
pub struct PgSchema {
    pub base: String,
    pub name: String,
    pub url: String,
}

impl PgSchema {
    /// A schema on the shared server; `None` (the test skips) where it does
    /// not answer ([`crate::pg::server`]).
    pub fn new(tag: &str) -> Option<PgSchema> {
        let base = crate::pg::server("PostgreSQL chaos suite (tests/chaos)")?;
        Some(Self::on(&base, tag))
    }

    /// A schema on the server at `base`.
    pub fn on(base: &str, tag: &str) -> PgSchema {
        let name = format!("chaos_{tag}_{}", std::process::id());
        let url = url_with_schema(base, &name, None);
        let pg = PgSchema {
            base: base.to_string(),
            name,
            url,
        };
        psql(
            &pg.base,
            &format!(
                "SET client_min_messages = warning; DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}",
                pg.name
            ),
        );
        pg
    }

    /// psql in this schema.
    pub fn sql(&self, sql: &str) -> String {
        psql(&self.url, sql)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = try_psql(
            &self.base,
            &format!(
                "SET client_min_messages = warning; DROP SCHEMA IF EXISTS {} CASCADE",
                self.name
            ),
        );
    }
}

/// A lab: a home, an agentlane.toml and a run log in a temporary directory,
/// and the store URL every command gets.
pub struct Lab {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub store: String,
    pub run_log: PathBuf,
}

impl Lab {
    /// Writes `config` with `$FAKE` (fake-agent), `$DIR` (the lab) and
    /// `$LOG` (the run log) replaced.
    pub fn new(store: &str, config: &str) -> Lab {
        let dir = tempfile::tempdir().expect("tempdir");
        let run_log = dir.path().join("run.log");
        let body = config
            .replace("$FAKE", fake_agent().to_str().unwrap())
            .replace("$LOG", run_log.to_str().unwrap())
            .replace("$DIR", dir.path().to_str().unwrap());
        let config = dir.path().join("agentlane.toml");
        std::fs::write(&config, body).unwrap();
        Lab {
            dir,
            config,
            store: store.to_string(),
            run_log,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn base_args(&self, store: &str) -> Vec<String> {
        vec![
            "--home".into(),
            self.path("home").to_str().unwrap().into(),
            "--config".into(),
            self.config.to_str().unwrap().into(),
            "--store".into(),
            store.into(),
        ]
    }

    /// `agentlane --home H --config C --store S ARGS...`.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(agentlane())
            .args(self.base_args(&self.store))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("agentlane runs")
    }

    /// [`Self::cli`] that must succeed and print JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "agentlane {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "agentlane {args:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Enqueues `n` jobs of `kind` on `lane` in one `enqueue --jsonl`; returns their ids.
    pub fn enqueue(&self, kind: &str, lane: &str, n: usize) -> Vec<String> {
        let file = self.path(&format!("jobs-{}.jsonl", now_ms()));
        let lines: String = (0..n)
            .map(|i| {
                format!("{{\"kind\":\"{kind}\",\"lane\":\"{lane}\",\"prompt\":\"job {i}\"}}\n")
            })
            .collect();
        std::fs::write(&file, lines).unwrap();
        let v = self.json(&["enqueue", "--jsonl", file.to_str().unwrap(), "--json"]);
        let ids: Vec<String> = v["enqueued"]
            .as_array()
            .expect("enqueued")
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), n, "{v}");
        ids
    }

    /// Starts `agentlane worker --lane main` against the lab's store.
    pub fn worker(&self, name: &str, concurrency: usize, drain: bool) -> Worker {
        self.worker_via(name, &self.store, concurrency, drain)
    }

    /// Starts a worker that reaches the store through `store` (a proxy, say).
    pub fn worker_via(&self, name: &str, store: &str, concurrency: usize, drain: bool) -> Worker {
        let stderr_path = self.path(&format!("worker-{name}.stderr"));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut cmd = Command::new(agentlane());
        cmd.args(self.base_args(store)).args([
            "worker",
            "--lane",
            "main",
            "--concurrency",
            &concurrency.to_string(),
        ]);
        if drain {
            cmd.arg("--drain");
        }
        // A test process that dies (killed, not unwound) takes its workers
        // along (Linux: a parent-death signal; elsewhere they outlive it).
        // SAFETY: only prctl between fork and exec.
        #[cfg(target_os = "linux")]
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("agentlane worker starts");
        Worker {
            name: name.to_string(),
            child,
            stderr_path,
            status: None,
        }
    }

    /// Writes an executable script into the lab.
    pub fn script(&self, rel: &str, body: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let body = body
            .replace("$FAKE", fake_agent().to_str().unwrap())
            .replace("$LOG", self.run_log.to_str().unwrap());
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

/// A worker process, killed (SIGKILL) and reaped when dropped unless it exited.
pub struct Worker {
    pub name: String,
    child: Child,
    pub stderr_path: PathBuf,
    status: Option<ExitStatus>,
}

impl Worker {
    pub fn pid(&self) -> i64 {
        i64::from(self.child.id())
    }

    pub fn signal(&self, signal: i32) {
        if self.status.is_none() {
            // SAFETY: kill(2) on our own child, not reaped yet.
            unsafe { libc::kill(self.child.id() as i32, signal) };
        }
    }

    /// The exit status, waiting at most `timeout`.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.status.is_none() {
                self.status = self.child.try_wait().expect("try_wait");
            }
            if self.status.is_some() || Instant::now() >= deadline {
                return self.status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The exit status; panics with the worker's stderr after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        match self.wait_timeout(timeout) {
            Some(status) => status,
            None => panic!(
                "worker {} did not exit within {timeout:?}; its stderr:\n{}",
                self.name,
                self.stderr()
            ),
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.status.is_none() && self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for every worker to exit and asserts each exited as a drain that
/// did not break: 0, or 100/101 when the test's jobs failed or parked as it
/// intends (each test checks its jobs itself); shows the stderr of the
/// others.
pub fn expect_clean_exits(workers: &mut [Worker], timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut failures = Vec::new();
    for w in workers.iter_mut() {
        let left = deadline.saturating_duration_since(Instant::now());
        match w.wait_timeout(left) {
            Some(status) if matches!(status.code(), Some(0 | 100 | 101)) => {}
            Some(status) => failures.push(format!(
                "worker {} exited {status}:\n{}",
                w.name,
                w.stderr()
            )),
            None => failures.push(format!(
                "worker {} was still running after {timeout:?}:\n{}",
                w.name,
                w.stderr()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A free TCP port on the loopback interface (nothing listens on it once
/// this returns; a race with another process is possible but unlikely).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `path`'s contents, or nothing.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
