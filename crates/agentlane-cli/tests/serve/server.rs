//! A running `agentlane serve` and a client that keeps every answer, so a
//! test can check them all against the OpenAPI document and scan them for
//! secrets.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

/// A secret the routes' environment holds: it must never be served.
pub const SECRET: &str = "sk-ant-api03-Zq8vN3kLmP2rT6wXyB9cD4fG7hJ1aS5eU0iO-Qw3Er5Ty7Ui9OpAAA";

/// A configuration: a route that works (the fake agent), one whose key the
/// API rejects, one whose CLI is not installed, a lane for each.
pub fn config_body() -> String {
    format!(
        r#"[queue]
poll = "50ms"
lease = "2s"
shutdown_grace = "2s"
[routes.good]
profile = "generic"
program = "$FAKE"
args = ["--stdout", "done: {{prompt}}"]
env = {{ ANTHROPIC_API_KEY = "{SECRET}" }}
[routes.gone]
profile = "generic"
program = "$DIR/bin/not-installed-agent"
args = ["{{prompt}}"]
[routes.badkey]
profile = "generic"
program = "$FAKE"
args = ["--stderr", "API Error: 401 {{\"type\":\"error\",\"error\":{{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key\"}}}}", "--exit", "1"]
[kinds.k]
routes = ["good", "gone", "badkey"]
[lanes.main]
routes = ["good"]
[lanes.broken]
routes = ["badkey"]
[lanes.missing]
routes = ["gone"]
[retry.unknown_exit]
action = "fail"
"#
    )
}

/// One answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {} answered non-JSON ({e}): {}",
                self.method, self.path, self.body
            )
        })
    }
}

/// A server and its sandbox.
pub struct Server {
    pub sb: Sandbox,
    pub config: PathBuf,
    pub base: String,
    pub token: Option<String>,
    child: Child,
    /// Every answer, for the document and secret checks.
    pub answers: Arc<Mutex<Vec<Answer>>>,
    pub stderr: Arc<Mutex<String>>,
}

impl Server {
    /// `agentlane serve --listen 127.0.0.1:0 EXTRA`, with `env`.
    pub fn start(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let sb = Sandbox::new();
        let config = sb.path("agentlane.toml");
        let body = config_body()
            .replace("$FAKE", fake_agent().to_str().unwrap())
            .replace("$DIR", sb.dir.path().to_str().unwrap());
        std::fs::write(&config, body).unwrap();
        let mut cmd = Command::new(agentlane());
        cmd.arg("--home")
            .arg(sb.home())
            .arg("--config")
            .arg(&config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra);
        cmd.env_remove("AGENTLANE_TOKEN")
            .env_remove("AGENTLANE_STORE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut base = None;
        while Instant::now() < deadline {
            match lines.next() {
                Some(Ok(line)) => {
                    stderr.lock().unwrap().push_str(&line);
                    if let Some(addr) = line.strip_prefix("agentlane serve: listening on ") {
                        base = Some(addr.trim().to_string());
                        break;
                    }
                }
                _ => break,
            }
        }
        let base = base.unwrap_or_else(|| {
            let _ = child.kill();
            panic!(
                "serve did not say where it listens: {}",
                stderr.lock().unwrap()
            )
        });
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let token = env
            .iter()
            .find(|(k, _)| *k == "AGENTLANE_TOKEN")
            .map(|(_, v)| v.to_string());
        Server {
            sb,
            config,
            base,
            token,
            child,
            answers: Default::default(),
            stderr,
        }
    }

    /// `agentlane --config C ARGS` in the server's home.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        self.sb.run(&all)
    }

    /// `worker --lane LANE --drain`.
    pub fn drain(&self, lane: &str) {
        let out = self.cli(&["worker", "--lane", lane, "--drain"]);
        assert!(
            matches!(out.status.code(), Some(0 | 100 | 101)),
            "worker: {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A request with the server's token (when it has one) and `headers`.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(120))
            .redirects(0)
            .build();
        let mut req = agent.request(method, &format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let result = match body {
            Some(b) => req.set("Content-Type", "application/json").send_string(b),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        let content_type = resp.header("content-type").unwrap_or("").to_string();
        let body = resp.into_string().unwrap_or_default();
        let a = Answer {
            method: method.into(),
            path: path.into(),
            status,
            content_type,
            body,
        };
        self.answers.lock().unwrap().push(a.clone());
        a
    }

    pub fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None, &[])
    }

    pub fn post(&self, path: &str, body: &str) -> Answer {
        self.call("POST", path, Some(body), &[])
    }

    /// GET that must answer 200 JSON.
    pub fn ok(&self, path: &str) -> Value {
        let a = self.get(path);
        assert_eq!(a.status, 200, "GET {path}: {}", a.body);
        a.json()
    }

    /// Polls `probe` until it returns Some, or panics after `secs`.
    pub fn until<T>(&self, secs: u64, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = probe() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; server stderr: {}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Opens an event stream: its answer (recorded, without a body) and its
    /// lines, read on a thread until the server closes it.
    pub fn stream(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (Answer, std::sync::mpsc::Receiver<String>) {
        let agent = ureq::AgentBuilder::new().redirects(0).build();
        let mut req = agent.get(&format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("GET {path}: {e}"),
        };
        let a = Answer {
            method: "GET".into(),
            path: path.into(),
            status: resp.status(),
            content_type: resp.header("content-type").unwrap_or("").to_string(),
            body: String::new(),
        };
        self.answers.lock().unwrap().push(a.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = BufReader::new(resp.into_reader());
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        (a, rx)
    }
}

/// One Server-Sent Event.
#[derive(Debug, Clone, Default)]
pub struct Sse {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// The next event from a stream's lines, or None after `secs`.
pub fn next_event(rx: &std::sync::mpsc::Receiver<String>, secs: u64) -> Option<Sse> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut e = Sse::default();
    let mut any = false;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let line = rx.recv_timeout(left).ok()?;
        if line.is_empty() {
            if any {
                return Some(e);
            }
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        any = true;
        let (k, v) = line.split_once(':').map_or((line.as_str(), ""), |(k, v)| {
            (k, v.strip_prefix(' ').unwrap_or(v))
        });
        match k {
            "id" => e.id = Some(v.to_string()),
            "event" => e.event = Some(v.to_string()),
            "data" => e.data.push_str(v),
            _ => {}
        }
    }
}
