//! The real parts a browser test drives: the `agentlane serve` binary over
//! a private home, Debian's chromedriver, and headless Chromium through
//! WebDriver (fantoccini). Waits poll the page against a deadline; nothing
//! sleeps and then asserts.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

use super::common::*;

/// How long a page may take to show what a test waits for.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A queue's home and configuration, and the commands run on it.
pub struct Queue {
    pub sb: Sandbox,
    pub config: PathBuf,
}

impl Queue {
    /// A sandbox with this configuration (`$DIR`: the sandbox).
    pub fn new(body: &str) -> Queue {
        let sb = Sandbox::new();
        let config = sb.path("agentlane.toml");
        let body = body.replace("$DIR", sb.dir.path().to_str().unwrap());
        std::fs::write(
            &config,
            format!("[queue]\npoll = \"50ms\"\nlease = \"2s\"\nshutdown_grace = \"2s\"\n{body}"),
        )
        .unwrap();
        Queue { sb, config }
    }

    /// `agentlane --home H --config C ARGS`.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        self.sb.run(&all)
    }

    /// Enqueues a job in lane `main`; returns its id.
    pub fn enqueue(&self, prompt: &str, label: Option<&str>) -> String {
        let mut args = vec![
            "enqueue", "--kind", "k", "--lane", "main", "--prompt", prompt,
        ];
        if let Some(l) = label {
            args.extend_from_slice(&["--label", l]);
        }
        let out = self.cli(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `worker --lane main --drain`; returns its exit status.
    pub fn drain(&self) -> Option<i32> {
        let out = self.cli(&["worker", "--lane", "main", "--drain"]);
        out.status.code()
    }

    /// `ARGS --json`, parsed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.cli(&all);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    }
}

/// A running `agentlane serve --listen 127.0.0.1:0`, stopped on drop.
pub struct Serve {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Serve {
    /// Starts the server over the queue's home and configuration, with these
    /// extra environment variables; returns once it says where it listens.
    pub fn start(q: &Queue, env: &[(&str, &str)]) -> Serve {
        let mut cmd = Command::new(agentlane());
        cmd.arg("--home")
            .arg(q.sb.home())
            .arg("--config")
            .arg(&q.config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("AGENTLANE_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("agentlane serve starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("agentlane serve: listening on ") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let base = rx
            .recv_timeout(DEADLINE)
            .expect("`agentlane serve` says where it listens on stderr");
        Serve { child, base }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where chromedriver is: `AGENTLANE_CHROMEDRIVER`, else on PATH.
fn chromedriver_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("AGENTLANE_CHROMEDRIVER") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("chromedriver"))
            .find(|p| p.is_file())
    })
}

/// A running chromedriver and a headless Chromium session on it.
pub struct Browser {
    driver: Child,
    /// The WebDriver session.
    pub client: Client,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Starts chromedriver and Chromium. None (after saying so) only when
/// chromedriver is absent and `AGENTLANE_SKIP_BROWSER=1`; absent otherwise
/// is a failure that says how to install it (CI installs it).
pub async fn browser() -> Option<Browser> {
    let Some(driver_path) = chromedriver_path() else {
        if std::env::var("AGENTLANE_SKIP_BROWSER").is_ok_and(|v| v == "1") {
            eprintln!(
                "dashboard browser tests skipped: no chromedriver (AGENTLANE_SKIP_BROWSER=1)"
            );
            return None;
        }
        panic!(
            "chromedriver is not installed: `apt-get install -y chromium chromium-driver` \
             (Debian; .ci/run does it), or set AGENTLANE_SKIP_BROWSER=1 to skip the browser tests"
        );
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let driver = Command::new(&driver_path)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_path.display()));
    let profile = tempfile::tempdir().expect("a browser profile directory");
    let mut args = vec![
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-gpu".into(),
        "--window-size=1400,1000".into(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    args.push("--no-first-run".into());
    let mut options = json!({ "args": args });
    for binary in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(binary).exists() {
            options["binary"] = json!(binary);
            break;
        }
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => break c,
            Err(e) if started.elapsed() < DEADLINE => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("chromedriver at {url} gave no Chromium session: {e}"),
        }
    };
    Some(Browser {
        driver,
        client,
        _profile: profile,
    })
}

/// Where screenshots are kept: `target/test-artifacts/dashboard/`.
pub fn artifacts() -> PathBuf {
    let target = agentlane()
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let dir = target.join("test-artifacts").join("dashboard");
    std::fs::create_dir_all(&dir).expect("the artifacts directory");
    dir
}

/// Saves a screenshot of the page as `NAME.png` and prints its path.
pub async fn screenshot(c: &Client, name: &str) -> PathBuf {
    let path = artifacts().join(format!("{name}.png"));
    match c.screenshot().await {
        Ok(png) => {
            std::fs::write(&path, png).expect("write the screenshot");
            eprintln!("screenshot: {}", path.display());
        }
        Err(e) => eprintln!("no screenshot {name}: {e}"),
    }
    path
}

/// Polls `condition` (a JavaScript expression) until it is true, or fails
/// naming `what` after [`DEADLINE`] with a screenshot and the page's text.
pub async fn wait_until(c: &Client, what: &str, condition: &str) {
    let started = Instant::now();
    let script = format!("return !!({condition});");
    loop {
        if let Ok(Value::Bool(true)) = c.execute(&script, vec![]).await {
            return;
        }
        if started.elapsed() > DEADLINE {
            let shot = screenshot(c, &format!("timeout-{}", what.replace(' ', "-"))).await;
            let text = c
                .execute(
                    "return document.body ? document.body.innerText : '';",
                    vec![],
                )
                .await
                .unwrap_or_default();
            panic!(
                "the page never showed {what} within {DEADLINE:?} ({condition}); screenshot {}; page text:\n{}",
                shot.display(),
                text.as_str().unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of a JavaScript expression on the page.
pub async fn eval(c: &Client, expr: &str) -> Value {
    c.execute(&format!("return ({expr});"), vec![])
        .await
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}
