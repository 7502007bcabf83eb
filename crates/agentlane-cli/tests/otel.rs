//! OpenTelemetry traces of jobs (issue 18), through the real `agentlane
//! worker --drain` over real jobs run by the real fake agent: one trace per
//! job, one span per attempt under the job span, the four stage spans under
//! each attempt, their attributes, no prompt or secret in any exported byte,
//! the last spans sent before the worker exits — and, without the variable,
//! nothing built and nothing sent.
//!
//! The collector is a small OTLP/HTTP receiver inside the test (axum,
//! decoding `ExportTraceServiceRequest` with `opentelemetry-proto`): a real
//! OpenTelemetry Collector, Jaeger or Tempo cannot be installed on this
//! machine (no registry ships one). The wire format is the real one.

#[path = "common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

const PROMPT_SECRET: &str = "prompt-words-never-exported-7f3a";
const ENV_SECRET: &str = "sk-otel-env-secret-0b9c1d2e3f4a5b6c";
const WORKER_SECRET: &str = "worker-env-secret-5e6f7a8b9c";

/// An OTLP/HTTP receiver on a random loopback port: every request body, raw.
struct Receiver {
    addr: SocketAddr,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    kept.lock().unwrap().push(body.to_vec());
                    // An empty ExportTraceServiceResponse.
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        );
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            addr,
            bodies,
            _runtime: runtime,
        }
    }

    fn bodies(&self) -> Vec<Vec<u8>> {
        self.bodies.lock().unwrap().clone()
    }

    /// Every exported span, with its resource's service name.
    fn spans(&self) -> Vec<(String, Span)> {
        let mut out = Vec::new();
        for body in self.bodies() {
            let req = ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
            for rs in req.resource_spans {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|r| text(&r.attributes, "service.name"))
                    .unwrap_or_default();
                for ss in rs.scope_spans {
                    for span in ss.spans {
                        out.push((service.clone(), span));
                    }
                }
            }
        }
        out
    }
}

fn text(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            any_value::Value::IntValue(i) => Some(i.to_string()),
            any_value::Value::BoolValue(b) => Some(b.to_string()),
            other => Some(format!("{other:?}")),
        }
    })
}

fn attr(span: &Span, key: &str) -> Option<String> {
    text(&span.attributes, key)
}

/// A queue with two kinds: `ok` (prints its prompt and a secret variable,
/// then succeeds after a short sleep) and `flaky` (fails with exit 3 once,
/// then succeeds: one retry).
fn queue() -> Sandbox {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("bin")).unwrap();
    let flaky = format!(
        "#!/bin/sh\nif [ -f {m} ]; then echo done; exit 0; fi\ntouch {m}\necho 'frobnication failed' >&2\nexit 3\n",
        m = sb.path("flaky-ran").display()
    );
    write_exe(&sb.path("bin/flaky"), &flaky, 0o755);
    let config = format!(
        r#"[queue]
poll = "50ms"
lease = "5s"
shutdown_grace = "2s"
[retry.unknown_exit]
initial_backoff = "1s"
[routes.ok]
profile = "generic"
program = "{fake}"
args = ["--stdout", "{{prompt}}", "--print-env", "OPENAI_API_KEY", "--sleep", "1"]
env = {{ OPENAI_API_KEY = "{ENV_SECRET}" }}
[routes.flaky]
profile = "generic"
program = "{dir}/bin/flaky"
[kinds.ok]
routes = ["ok"]
[kinds.flaky]
routes = ["flaky"]
[lanes.main]
"#,
        fake = fake_agent().display(),
        dir = sb.dir.path().display(),
    );
    std::fs::write(sb.path("agentlane.toml"), config).unwrap();
    sb
}

fn enqueue(sb: &Sandbox, kind: &str, prompt: &str) -> String {
    let config = sb.path("agentlane.toml");
    let out = sb.run(&[
        "--config",
        config.to_str().unwrap(),
        "enqueue",
        "--kind",
        kind,
        "--lane",
        "main",
        "--prompt",
        prompt,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `worker --drain` with `env` (and no OTEL_* variable of the test's own
/// environment), and the names of the threads it had while it ran.
fn drain(sb: &Sandbox, env: &[(&str, String)]) -> (Output, BTreeSet<String>) {
    let mut cmd = Command::new(agentlane());
    cmd.arg("--home")
        .arg(sb.home())
        .arg("--config")
        .arg(sb.path("agentlane.toml"))
        .args(["worker", "--lane", "main", "--concurrency", "2", "--drain"])
        .env("WORKER_SECRET", WORKER_SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("OTEL_")) {
        cmd.env_remove(name);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    let tasks = format!("/proc/{}/task", child.id());
    let threads = Arc::new(Mutex::new(BTreeSet::new()));
    let seen = threads.clone();
    let sampler = std::thread::spawn(move || {
        while let Ok(entries) = std::fs::read_dir(&tasks) {
            for e in entries.flatten() {
                if let Ok(name) = std::fs::read_to_string(e.path().join("comm")) {
                    seen.lock().unwrap().insert(name.trim().to_string());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let out = child.wait_with_output().unwrap();
    sampler.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "every job succeeds in the end: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = threads.lock().unwrap().clone();
    (out, names)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn each_job_is_one_trace_with_a_span_per_attempt_and_its_stages_and_no_secret_is_exported() {
    let receiver = Receiver::start();
    let sb = queue();
    let ok = enqueue(&sb, "ok", &format!("say {PROMPT_SECRET}"));
    let flaky = enqueue(&sb, "flaky", &format!("try {PROMPT_SECRET}"));
    let (out, threads) = drain(
        &sb,
        &[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{}", receiver.addr),
        )],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("exporting job traces over OTLP/HTTP"),
        "{stderr}"
    );
    assert!(
        threads.iter().any(|t| t.starts_with("OpenTelemetry")),
        "the export thread runs while traces are on: {threads:?}"
    );

    // The spans were sent before the worker exited (its batch delay is 5 s:
    // the shutdown flushed them).
    let spans = receiver.spans();
    assert!(
        !spans.is_empty(),
        "spans exported before exit; stderr: {stderr}"
    );
    assert!(spans.iter().all(|(service, _)| service == "agentlane"));
    let spans: Vec<Span> = spans.into_iter().map(|(_, s)| s).collect();

    // Every trace id is a job's id; one trace per job.
    let mut by_trace: BTreeMap<String, Vec<&Span>> = BTreeMap::new();
    for s in &spans {
        by_trace.entry(hex(&s.trace_id)).or_default().push(s);
    }
    let ids = |job: &str| {
        (
            hex(&agentlane::trace::job_trace_id(job)),
            agentlane::trace::job_span_id(job).to_vec(),
        )
    };
    let expected: BTreeSet<String> = [&ok, &flaky].iter().map(|j| ids(j).0).collect();
    assert_eq!(
        by_trace.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "one trace per job, its id the job's"
    );
    assert_eq!(
        ids(&ok).0,
        ok.replace('-', ""),
        "the trace id is the job's UUID"
    );

    for (job, kind, attempts) in [(&ok, "ok", 1), (&flaky, "flaky", 2)] {
        let (trace, job_span_id) = ids(job);
        let trace_spans = &by_trace[&trace];
        let named = |name: &str| -> Vec<&Span> {
            trace_spans
                .iter()
                .copied()
                .filter(|s| s.name == name)
                .collect()
        };
        let job_spans = named("job");
        assert_eq!(
            job_spans.len(),
            1,
            "one job span for {job}: {trace_spans:#?}"
        );
        let root = job_spans[0];
        assert_eq!(
            root.span_id, job_span_id,
            "the job span's id is derived from the job"
        );
        assert!(root.parent_span_id.is_empty(), "the job span is the root");
        assert_eq!(
            attr(root, "agentlane.job_id").as_deref(),
            Some(job.as_str())
        );
        assert_eq!(attr(root, "agentlane.kind").as_deref(), Some(kind));
        assert_eq!(attr(root, "agentlane.lane").as_deref(), Some("main"));
        assert_eq!(attr(root, "agentlane.decision").as_deref(), Some("done"));
        assert_eq!(attr(root, "agentlane.attempts"), Some(attempts.to_string()));

        let mut tries = named("attempt");
        tries.sort_by_key(|s| attr(s, "agentlane.attempt"));
        assert_eq!(tries.len(), attempts, "one span per attempt of {job}");
        for (i, a) in tries.iter().enumerate() {
            assert_eq!(
                a.parent_span_id, job_span_id,
                "an attempt is a child of its job"
            );
            assert!(root.start_time_unix_nano <= a.start_time_unix_nano);
            assert!(a.end_time_unix_nano <= root.end_time_unix_nano);
            assert_eq!(attr(a, "agentlane.attempt"), Some((i + 1).to_string()));
            assert_eq!(attr(a, "agentlane.job_id").as_deref(), Some(job.as_str()));
            assert_eq!(attr(a, "agentlane.route").as_deref(), Some(kind));
            assert_eq!(attr(a, "agentlane.lane").as_deref(), Some("main"));
            assert_eq!(attr(a, "agentlane.kind").as_deref(), Some(kind));
            assert!(attr(a, "agentlane.dispatch_id").is_some(), "{a:#?}");
            assert!(attr(a, "agentlane.exit_status").is_some(), "{a:#?}");
            let mut stages: Vec<&str> = trace_spans
                .iter()
                .filter(|s| s.parent_span_id == a.span_id)
                .map(|s| s.name.as_str())
                .collect();
            stages.sort();
            assert_eq!(
                stages,
                ["classify", "launch", "prepare", "supervise"],
                "the four stages under attempt {} of {job}",
                i + 1
            );
        }
        let last = tries.last().unwrap();
        assert_eq!(attr(last, "agentlane.class").as_deref(), Some("ok"));
        assert_eq!(attr(last, "agentlane.decision").as_deref(), Some("done"));
        if attempts == 2 {
            let first = tries[0];
            assert_eq!(
                attr(first, "agentlane.class").as_deref(),
                Some("unknown_exit_3")
            );
            assert_eq!(attr(first, "agentlane.decision").as_deref(), Some("retry"));
            assert_eq!(attr(first, "agentlane.exit_code").as_deref(), Some("3"));
            let status = first
                .status
                .as_ref()
                .expect("a failed attempt has a status");
            assert_eq!(status.message, "unknown_exit_3");
        }
    }

    // No prompt, environment value or output tail in any byte sent.
    for body in receiver.bodies() {
        let raw = String::from_utf8_lossy(&body);
        for secret in [PROMPT_SECRET, ENV_SECRET, WORKER_SECRET, "frobnication"] {
            assert!(!raw.contains(secret), "{secret} was exported");
        }
    }
}

#[test]
fn without_the_endpoint_variable_nothing_is_built_and_nothing_is_sent() {
    let receiver = Receiver::start();
    let sb = queue();
    enqueue(&sb, "ok", "hello");
    enqueue(&sb, "flaky", "hello");
    // Everything but the endpoint: a service name, headers, a protocol.
    let (out, threads) = drain(
        &sb,
        &[
            ("OTEL_SERVICE_NAME", "should-not-matter".to_string()),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-token=abc".to_string()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_string()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("OTLP"), "{stderr}");
    assert!(
        !threads.iter().any(|t| t.starts_with("OpenTelemetry")),
        "no export thread without an endpoint: {threads:?}"
    );
    assert!(receiver.bodies().is_empty(), "nothing may be sent");
}

#[test]
fn an_unreachable_collector_fails_no_job_and_is_reported_once() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sb = queue();
    for i in 0..3 {
        enqueue(&sb, "ok", &format!("job {i}"));
    }
    enqueue(&sb, "flaky", "retry me");
    let (out, _) = drain(
        &sb,
        &[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{port}"),
            ),
            // Export every 100 ms: several failed exports during the run.
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_string()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("traces could not be exported").count(),
        1,
        "one warning, however many exports fail: {stderr}"
    );
    let jobs = sb.run(&["jobs", "--json", "--limit", "0"]);
    let jobs: serde_json::Value = serde_json::from_slice(&jobs.stdout).unwrap();
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), 4);
    assert!(jobs.iter().all(|j| j["state"] == "succeeded"), "{jobs:#?}");
}

#[test]
fn a_protocol_other_than_http_protobuf_is_refused_with_the_fix() {
    let sb = queue();
    let out = Command::new(agentlane())
        .arg("--home")
        .arg(sb.home())
        .arg("--config")
        .arg(sb.path("agentlane.toml"))
        .args(["worker", "--lane", "main", "--drain"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "a usage error (EX_USAGE)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=\"grpc\""),
        "{stderr}"
    );
    assert!(stderr.contains("set it to http/protobuf"), "{stderr}");
}
