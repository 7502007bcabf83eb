//! A job's prompt never becomes a flag of the agent CLI (issue 13).
//!
//! On main, the prompt `--version` on the claude, codex and gemini routes ran
//! `CLI --version` and the job "succeeded". Here every REAL CLI from npm runs
//! through `agentlane exec --route <profile>` with prompts that were flags
//! (`--version`, `--yolo`, `--dangerously-skip-permissions`, `-c key=value`,
//! `-`, `--`) or shell syntax (`$(id)`), and must send each one to the model
//! as text. No credentials and no network: each CLI is pointed, with its own
//! documented settings, at a local HTTP server that records the requests and
//! answers 401 — the prompt is found verbatim as a JSON string in the request
//! body (proof it was text), the class is never `ok`, the output is not the
//! version, and nothing ran a shell.
//!
//! The CLIs come from `scripts/install-real-clis.sh` (run by `scripts/test`
//! before `cargo test`); `AGENTLANE_REAL_CLIS` names the directory of their
//! executables (default: `.real-clis/node_modules/.bin` in the workspace). When
//! that directory is absent the real-CLI tests say so and pass without running.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::Value;

/// The prompts that a CLI took as flags or special arguments on main.
const DANGEROUS: &[&str] = &[
    "--version",
    "--yolo",
    "--dangerously-skip-permissions",
    "-c key=value",
    "$(id)",
    "-",
    "--",
];

/// The directory of the real CLIs' executables, or `None` (with a message) when absent.
fn real_clis() -> Option<PathBuf> {
    let dir = std::env::var_os("AGENTLANE_REAL_CLIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.real-clis/node_modules/.bin")
        });
    if !dir.is_dir() {
        eprintln!(
            "SKIPPED: no real agent CLIs at {} — run scripts/install-real-clis.sh (scripts/test does) or set AGENTLANE_REAL_CLIS",
            dir.display()
        );
        return None;
    }
    Some(dir)
}

/// A local model API that records every request body and answers 401.
struct Capture {
    port: u16,
    bodies: Arc<Mutex<Vec<u8>>>,
}

impl Capture {
    fn start() -> Capture {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let sink = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &sink);
                });
            }
        });
        Capture { port, bodies }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn take(&self) -> String {
        let mut b = self.bodies.lock().unwrap();
        let text = String::from_utf8_lossy(&b).into_owned();
        b.clear();
        text
    }
}

/// One HTTP/1.1 request (Content-Length or chunked body), answered 401.
fn serve(stream: TcpStream, sink: &Mutex<Vec<u8>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    sink.lock().unwrap().extend_from_slice(&body);
    sink.lock().unwrap().push(b'\n');
    let answer =
        br#"{"error":{"type":"authentication_error","message":"invalid x-api-key","code":401}}"#;
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        answer.len()
    )?;
    stream.write_all(answer)
}

/// A world with one route per npm CLI, each pointed at the capture server.
struct World {
    sb: Sandbox,
    config: PathBuf,
    capture: Capture,
}

fn world(clis: &Path, cli: &str) -> World {
    let sb = Sandbox::new();
    let capture = Capture::start();
    let url = capture.url();
    let home = sb.path("user");
    let write = |rel: &str, text: String| {
        let p = home.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    // Each CLI's own documented way to use another endpoint, and a fake key.
    let env = match cli {
        "codex" => {
            write(".codex/config.toml", format!("model_provider = \"cap\"\n[model_providers.cap]\nname = \"cap\"\nbase_url = \"{url}/v1\"\nenv_key = \"OPENAI_API_KEY\"\nwire_api = \"responses\"\nrequest_max_retries = 0\nstream_max_retries = 0\n"));
            "OPENAI_API_KEY = \"sk-test-0000\"".to_string()
        }
        "claude" => format!("ANTHROPIC_BASE_URL = \"{url}\", ANTHROPIC_API_KEY = \"sk-ant-test-0000\", CLAUDE_CODE_MAX_RETRIES = \"0\", DISABLE_AUTOUPDATER = \"1\""),
        "gemini" => {
            write(".gemini/settings.json", r#"{"security":{"auth":{"selectedType":"gemini-api-key"}}}"#.into());
            format!("GOOGLE_GEMINI_BASE_URL = \"{url}\", GEMINI_API_KEY = \"AIzaSyTEST00000000000000000000000000\", GEMINI_CLI_TRUST_WORKSPACE = \"true\"")
        }
        "qwen" => {
            write(".qwen/settings.json", r#"{"security":{"auth":{"selectedType":"openai"}}}"#.into());
            format!("OPENAI_BASE_URL = \"{url}/v1\", OPENAI_API_KEY = \"sk-test-0000\", OPENAI_MODEL = \"qwen3-coder-plus\"")
        }
        "opencode" => {
            write(".config/opencode/opencode.json", format!(r#"{{"provider":{{"anthropic":{{"options":{{"baseURL":"{url}/v1"}}}}}},"model":"anthropic/claude-sonnet-4-5"}}"#));
            "ANTHROPIC_API_KEY = \"sk-ant-test-0000\"".to_string()
        }
        other => panic!("no world for {other}"),
    };
    let program = clis.join(cli);
    assert!(
        program.exists(),
        "{} is missing: run scripts/install-real-clis.sh (it installs codex, claude, gemini, qwen and opencode)",
        program.display()
    );
    let node_dir = which("node").map_or_else(String::new, |n| {
        format!("{}:", n.parent().unwrap().display())
    });
    std::fs::create_dir_all(sb.path("cwd")).unwrap();
    let cfg = format!(
        "[routes.{cli}]\nprofile = \"{cli}\"\nprogram = \"{program}\"\ntimeout = \"90s\"\nenv_clear = true\n\
         env = {{ PATH = \"{clis}:{node_dir}/usr/bin:/bin\", HOME = \"{home}\", {env} }}\n\
         [kinds.k]\nroutes = [\"{cli}\"]\n[lanes.main]\nroutes = [\"{cli}\"]\n",
        program = program.display(),
        clis = clis.display(),
        home = home.display(),
    );
    let config = sb.path("agentlane.toml");
    std::fs::write(&config, cfg).unwrap();
    World {
        sb,
        config,
        capture,
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .ok()?
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

impl World {
    fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        std::process::Command::new(agentlane())
            .arg("--home")
            .arg(self.sb.home())
            .args(&all)
            .current_dir(self.sb.path("cwd"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    fn exec(&self, route: &str, prompt: &str) -> Value {
        let prompt_arg = format!("--prompt={prompt}");
        let out = self.cli(&["exec", "--json", "--route", route, &prompt_arg]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON report ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }
}

/// `"text":"<prompt>"` (or `"content":…`) in a request body: the prompt reached the model as text.
fn sent_as_text(bodies: &str, prompt: &str) -> bool {
    let quoted = serde_json::to_string(prompt).unwrap();
    [
        format!("\"text\":{quoted}"),
        format!("\"content\":{quoted}"),
    ]
    .iter()
    .any(|needle| bodies.contains(needle.as_str()))
}

/// The recorded argv with the prompt's size left out (`<prompt: 9 bytes>` → `<prompt>`).
fn shape(report: &Value) -> Vec<String> {
    report["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            match (a.find("<prompt: "), a.find(" bytes>")) {
                (Some(i), Some(j)) if i < j => format!("{}<prompt>{}", &a[..i], &a[j + 7..]),
                _ => a.to_string(),
            }
        })
        .collect()
}

/// Every dangerous prompt through the route of `cli`: text to the model, never a flag.
fn every_prompt_is_text(cli: &str, version: &str) {
    let Some(clis) = real_clis() else { return };
    let w = world(&clis, cli);
    let plain = shape(&w.exec(cli, "hello"));
    for prompt in DANGEROUS {
        w.capture.take();
        let r = w.exec(cli, prompt);
        let bodies = w.capture.take();
        let report = serde_json::to_string_pretty(&r).unwrap();
        let what = format!("{cli} with the prompt {prompt:?}");
        assert_ne!(r["classifier"], "ok", "{what} succeeded: {report}");
        assert_ne!(r["exit_code"], 0, "{what} exited 0: {report}");
        assert!(
            sent_as_text(&bodies, prompt),
            "{what}: the prompt did not reach the model as text (taken as a flag?): {report}\nrequests: {}",
            &bodies[..bodies.len().min(2000)]
        );
        let out = format!(
            "{}{}",
            r["stdout_tail"].as_str().unwrap_or(""),
            r["stderr_tail"].as_str().unwrap_or("")
        );
        assert!(
            out.trim() != version && !out.lines().any(|l| l.trim() == version),
            "{what} printed its version: {report}"
        );
        assert!(!out.contains("uid="), "{what} ran a shell: {report}");
        // The argv is the one a plain prompt gets: the prompt moved nothing
        // (and is recorded by its size only).
        assert_eq!(shape(&r), plain, "{what}: {report}");
    }
}

#[test]
fn codex_takes_every_flag_shaped_prompt_as_text() {
    every_prompt_is_text("codex", "codex-cli 0.169.0");
}

#[test]
fn claude_takes_every_flag_shaped_prompt_as_text() {
    every_prompt_is_text("claude", "2.1.197 (Claude Code)");
}

#[test]
fn gemini_takes_every_flag_shaped_prompt_as_text() {
    every_prompt_is_text("gemini", "0.61.0");
}

#[test]
fn qwen_takes_every_flag_shaped_prompt_as_text() {
    every_prompt_is_text("qwen", "0.15.10");
}

#[test]
fn opencode_takes_every_flag_shaped_prompt_as_text() {
    every_prompt_is_text("opencode", "1.18.33");
}

/// The queue path of the measurement: a job `--version` on a claude route.
#[test]
fn a_queued_version_prompt_on_claude_does_not_succeed_and_reaches_the_model_as_text() {
    let Some(clis) = real_clis() else { return };
    let w = world(&clis, "claude");
    let out = w.cli(&[
        "enqueue",
        "--kind",
        "k",
        "--lane",
        "main",
        "--route",
        "claude",
        "--prompt=--version",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = w.cli(&["worker", "--lane", "main", "--drain"]);
    // The job must not succeed: the drain says so (100 failed, 101 parked).
    assert!(
        matches!(out.status.code(), Some(100 | 101)),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let jobs: Value =
        serde_json::from_slice(&w.cli(&["jobs", "--json", "--limit", "0"]).stdout).unwrap();
    let job = &jobs.as_array().unwrap()[0];
    assert_ne!(job["state"], "succeeded", "{job:#}");
    assert!(sent_as_text(&w.capture.take(), "--version"), "{job:#}");
}

/// A user-written route that passes the prompt as a bare argument: a prompt
/// starting with `-` is refused before anything runs (GNU /bin/echo would
/// print its version for `--version`), with the fix in the hint; the same
/// prompt after `--` or in a harmless one runs.
#[test]
fn a_route_exposing_the_prompt_refuses_a_flag_shaped_prompt_before_launch() {
    let sb = Sandbox::new();
    let config = sb.path("agentlane.toml");
    std::fs::write(
        &config,
        "[routes.bare]\nprogram = \"/bin/echo\"\nargs = [\"{prompt}\"]\n\
         [routes.valued]\nprogram = \"/bin/echo\"\nargs = [\"-p\", \"{prompt}\"]\n\
         [routes.appended]\nprogram = \"/bin/echo\"\nargs = [\"x\"]\nprompt_via = \"arg\"\n\
         [routes.separated]\nprogram = \"/bin/echo\"\nargs = [\"--\", \"{prompt}\"]\n",
    )
    .unwrap();
    let exec = |route: &str, prompt: &str| -> Value {
        let out = sb.run(&[
            "--config",
            config.to_str().unwrap(),
            "exec",
            "--json",
            "--route",
            route,
            &format!("--prompt={prompt}"),
        ]);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
    };
    for route in ["bare", "valued", "appended"] {
        for prompt in ["--version", "-n", "-", "--"] {
            let r = exec(route, prompt);
            let what = format!("route {route}, prompt {prompt:?}: {r:#}");
            assert_eq!(r["classifier"], "payload_invalid", "{what}");
            assert_eq!(r["exit_code"], Value::Null, "nothing ran: {what}");
            let hint = r["repair_hint"].as_str().unwrap();
            assert!(
                hint.contains(r#""--", "{prompt}""#) && hint.contains("prompt_via"),
                "{what}"
            );
            assert!(
                r["evidence"].as_str().unwrap().contains("starts with '-'"),
                "{what}"
            );
        }
        let r = exec(route, "review the diff --stat");
        assert_eq!(r["classifier"], "ok", "{r:#}");
    }
    let r = exec("separated", "--version");
    assert_eq!(r["classifier"], "ok", "{r:#}");
    assert_eq!(r["stdout_tail"], "-- --version\n", "{r:#}");
}
