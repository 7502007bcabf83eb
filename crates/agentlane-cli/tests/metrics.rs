//! `/metrics` through the real binaries (issue 18): a real `agentlane
//! worker --metrics 127.0.0.1:0` running real jobs through the fake agent
//! on a real SQLite store (and PostgreSQL), and a real `agentlane serve`,
//! scraped over HTTP and parsed by the Prometheus project's reference
//! OpenMetrics parser (Python's `prometheus_client`, which `.ci/run`
//! installs): names, types, HELP, units, bounded label sets, and counters
//! that move.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The reference parser: the OpenMetrics text on stdin, the families as
/// JSON on stdout. It refuses what Prometheus would refuse (a missing
/// `# EOF`, a sample before its TYPE, a counter without `_total`, buckets
/// that are not cumulative...).
const PARSER: &str = r#"
import json, sys
try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError:
    sys.stderr.write("Python's prometheus_client is missing: pip install prometheus-client (.ci/run installs it)\n")
    sys.exit(3)
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation, "unit": f.unit,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
print(json.dumps(out))
"#;

/// One metric family as the reference parser read it.
#[derive(Debug, Clone)]
struct Family {
    kind: String,
    help: String,
    unit: String,
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

fn parse(text: &str) -> BTreeMap<String, Family> {
    let mut child = Command::new("python3")
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (.ci/run installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the reference parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let families: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    families
        .into_iter()
        .map(|f| {
            let samples = f["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let labels = s["labels"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                        .collect();
                    (
                        s["name"].as_str().unwrap().to_string(),
                        labels,
                        s["value"].as_f64().unwrap(),
                    )
                })
                .collect();
            (
                f["name"].as_str().unwrap().to_string(),
                Family {
                    kind: f["type"].as_str().unwrap().to_string(),
                    help: f["help"].as_str().unwrap_or("").to_string(),
                    unit: f["unit"].as_str().unwrap_or("").to_string(),
                    samples,
                },
            )
        })
        .collect()
}

/// Every family agentlane may expose: its type and the only labels it may
/// carry (all from bounded sets).
fn expected() -> BTreeMap<&'static str, (&'static str, &'static [&'static str])> {
    BTreeMap::from([
        ("agentlane_store_up", ("gauge", &[][..])),
        ("agentlane_jobs", ("gauge", &["lane", "state"][..])),
        (
            "agentlane_open_incidents",
            ("gauge", &["class", "repair_address"][..]),
        ),
        ("agentlane_parked_jobs", ("gauge", &["lane", "reason"][..])),
        (
            "agentlane_preflight_passed",
            ("gauge", &["route", "check"][..]),
        ),
        (
            "agentlane_worker_last_seen_timestamp_seconds",
            ("gauge", &["host", "kind", "lane"][..]),
        ),
        ("agentlane_dispatches", ("counter", &["route", "class"][..])),
        (
            "agentlane_dispatch_duration_seconds",
            ("histogram", &["route", "le"][..]),
        ),
        (
            "agentlane_claim_latency_seconds",
            ("histogram", &["lane", "le"][..]),
        ),
        (
            "agentlane_claim_duration_seconds",
            ("histogram", &["lane", "le"][..]),
        ),
        ("agentlane_retries", ("counter", &["class", "action"][..])),
    ])
}

/// Names, types, HELP, units and label names are the documented ones, and
/// no label value is a job id.
fn check_shape(families: &BTreeMap<String, Family>, job_ids: &[String]) {
    let expected = expected();
    for (name, f) in families {
        let (kind, labels) = expected
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{name} is not a documented family (docs/metrics.md)"));
        assert_eq!(&f.kind, kind, "{name}'s type");
        assert!(!f.help.trim().is_empty(), "{name} has no HELP");
        assert_eq!(
            f.unit.is_empty(),
            !name.ends_with("_seconds"),
            "{name}'s UNIT line: {:?}",
            f.unit
        );
        for (sample, got, _) in &f.samples {
            let names: BTreeSet<&str> = got.keys().map(String::as_str).collect();
            let allowed: BTreeSet<&str> = labels.iter().copied().collect();
            assert!(
                names.is_subset(&allowed),
                "{sample} has labels {names:?}, allowed {allowed:?}"
            );
            for v in got.values() {
                assert!(
                    !job_ids.contains(v),
                    "{sample} has a job id as a label: {v}"
                );
            }
        }
    }
}

/// The value of `sample` with exactly `labels` (0 when absent).
fn value(families: &BTreeMap<String, Family>, sample: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    families
        .values()
        .flat_map(|f| &f.samples)
        .find(|(n, l, _)| n == sample && *l == want)
        .map_or(0.0, |(_, _, v)| *v)
}

/// Every counter (and histogram count) of `before` is no greater in `after`.
fn check_monotonic(before: &BTreeMap<String, Family>, after: &BTreeMap<String, Family>) {
    for (name, f) in before {
        if f.kind == "gauge" {
            continue;
        }
        for (sample, labels, v) in &f.samples {
            let now = after[name]
                .samples
                .iter()
                .find(|(n, l, _)| n == sample && l == labels)
                .map(|(_, _, v)| *v)
                .unwrap_or_else(|| panic!("{sample}{labels:?} vanished"));
            assert!(now >= *v, "{sample}{labels:?} went down: {v} -> {now}");
        }
    }
}

/// One HTTP/1.1 GET: (status, content type, body).
fn get(addr: SocketAddr, path: &str, auth: Option<&str>) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = auth
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    (status, content_type, body.to_string())
}

fn scrape(addr: SocketAddr) -> (String, BTreeMap<String, Family>) {
    let (status, content_type, body) = get(addr, "/metrics", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let families = parse(&body);
    (body, families)
}

/// A queue with two routes: `ok` succeeds, `limited` is rate limited and
/// fails for good.
struct Fleet {
    sb: Sandbox,
    config: PathBuf,
    store: Vec<String>,
}

impl Fleet {
    fn new(store: Option<&str>) -> Fleet {
        let sb = Sandbox::new();
        let config = sb.path("agentlane.toml");
        let body = r#"
[queue]
poll = "50ms"
lease = "3s"
shutdown_grace = "2s"
[routes.ok]
profile = "generic"
program = "$FAKE"
args = ["--stdout", "done"]
[routes.limited]
profile = "generic"
program = "$FAKE"
args = ["--stderr", "Error: 429 Too Many Requests", "--exit", "1"]
[kinds.k]
routes = ["ok", "limited"]
[lanes.main]
routes = ["ok", "limited"]
[retry.rate_limited]
action = "fail"
"#
        .replace("$FAKE", fake_agent().to_str().unwrap());
        std::fs::write(&config, body).unwrap();
        let store = store.map_or(Vec::new(), |u| vec!["--store".to_string(), u.to_string()]);
        Fleet { sb, config, store }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(agentlane());
        c.args(["--home", self.sb.home().to_str().unwrap()])
            .args(["--config", self.config.to_str().unwrap()])
            .args(&self.store)
            .env("AGENTLANE_HOST", "metrics-host")
            .env_remove("AGENTLANE_TOKEN")
            .stdin(Stdio::null());
        c
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn enqueue(&self, route: &str) -> String {
        let out = self.cli(&[
            "enqueue", "--kind", "k", "--lane", "main", "--route", route, "--prompt", "p",
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn states(&self) -> Vec<String> {
        let out = self.cli(&["jobs", "--json", "--limit", "0"]);
        let jobs: Value = serde_json::from_slice(&out.stdout).unwrap();
        jobs.as_array()
            .unwrap()
            .iter()
            .map(|j| j["state"].as_str().unwrap().to_string())
            .collect()
    }

    /// Waits (at most a minute, a guard against a hang: no timing is
    /// asserted) until every job is finished.
    fn wait_settled(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let states = self.states();
            if states.iter().all(|s| s == "succeeded" || s == "failed") {
                return;
            }
            assert!(Instant::now() < deadline, "jobs did not settle: {states:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `agentlane ARGS` whose stderr says where it listens (`marker` then
    /// `http://ADDR`); the rest of its stderr is drained in the background.
    fn spawn_listening(&self, args: &[&str], marker: &str) -> (Child, SocketAddr) {
        let mut child = self
            .command()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                panic!("{args:?} ended before saying where it listens: {seen:#?}");
            };
            if let Some(rest) = line.split_once(marker).map(|(_, r)| r) {
                let rest = rest.trim().trim_start_matches("http://");
                let addr = rest.split('/').next().unwrap();
                break addr.parse().unwrap();
            }
            seen.push(line);
        };
        std::thread::spawn(move || for _ in lines {});
        (child, addr)
    }
}

fn stop(mut child: Child) {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
}

/// A worker with `--metrics` serves its own counters and the store's
/// gauges; after more jobs run, its counters have moved by exactly those
/// jobs, and no counter went down.
#[test]
fn a_worker_serves_metrics_a_prometheus_parser_reads_and_its_counters_move() {
    let fleet = Fleet::new(None);
    let mut ids = vec![fleet.enqueue("ok"), fleet.enqueue("ok")];
    let (worker, addr) = fleet.spawn_listening(
        &["worker", "--lane", "main", "--metrics", "127.0.0.1:0"],
        "metrics on ",
    );
    fleet.wait_settled();
    let (text, first) = scrape(addr);
    check_shape(&first, &ids);
    assert!(text.ends_with("# EOF\n"));
    let ok = [("route", "ok"), ("class", "ok")];
    assert_eq!(
        value(&first, "agentlane_dispatches_total", &ok),
        2.0,
        "{text}"
    );
    assert_eq!(
        value(
            &first,
            "agentlane_dispatch_duration_seconds_count",
            &[("route", "ok")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &first,
            "agentlane_claim_latency_seconds_count",
            &[("lane", "main")]
        ),
        2.0,
        "one wait per claimed job"
    );
    assert!(
        value(
            &first,
            "agentlane_claim_duration_seconds_count",
            &[("lane", "main")]
        ) >= 1.0
    );
    assert_eq!(value(&first, "agentlane_store_up", &[]), 1.0);
    assert_eq!(
        value(
            &first,
            "agentlane_jobs",
            &[("lane", "main"), ("state", "succeeded")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &first,
            "agentlane_jobs",
            &[("lane", "main"), ("state", "queued")]
        ),
        0.0
    );
    for check in ["cli_resolves", "cli_ready", "route_allowed"] {
        assert_eq!(
            value(
                &first,
                "agentlane_preflight_passed",
                &[("route", "ok"), ("check", check)]
            ),
            1.0,
            "{check}: {text}"
        );
    }
    let seen = value(
        &first,
        "agentlane_worker_last_seen_timestamp_seconds",
        &[
            ("host", "metrics-host"),
            ("kind", "local"),
            ("lane", "main"),
        ],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - seen).abs() < 600.0, "last seen {seen}, now {now}");
    assert_eq!(
        value(
            &first,
            "agentlane_retries_total",
            &[("class", "rate_limited"), ("action", "fail")]
        ),
        0.0
    );

    ids.push(fleet.enqueue("ok"));
    ids.push(fleet.enqueue("limited"));
    fleet.wait_settled();
    let (text, second) = scrape(addr);
    check_shape(&second, &ids);
    check_monotonic(&first, &second);
    assert_eq!(
        value(&second, "agentlane_dispatches_total", &ok),
        3.0,
        "{text}"
    );
    assert_eq!(
        value(
            &second,
            "agentlane_dispatches_total",
            &[("route", "limited"), ("class", "rate_limited")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &second,
            "agentlane_retries_total",
            &[("class", "rate_limited"), ("action", "fail")]
        ),
        1.0,
        "the failed attempt's decision"
    );
    assert_eq!(
        value(
            &second,
            "agentlane_jobs",
            &[("lane", "main"), ("state", "failed")]
        ),
        1.0
    );
    let (status, _, body) = get(addr, "/healthz", None);
    assert_eq!((status, body.contains("ok")), (200, true));
    stop(worker);
}

/// `agentlane serve` shows the store's gauges (and no process counters: it
/// hosts no worker) behind its guard: with a token, `/metrics` needs it
/// unless `--open-metrics`.
#[test]
fn the_server_shows_the_store_gauges_behind_its_guard() {
    let fleet = Fleet::new(None);
    let id = fleet.enqueue("ok");
    let (server, addr) =
        fleet.spawn_listening(&["serve", "--listen", "127.0.0.1:0"], "listening on ");
    let (text, families) = scrape(addr);
    check_shape(&families, std::slice::from_ref(&id));
    assert_eq!(
        value(
            &families,
            "agentlane_jobs",
            &[("lane", "main"), ("state", "queued")]
        ),
        1.0,
        "{text}"
    );
    assert!(!families.contains_key("agentlane_dispatches"), "{text}");
    stop(server);

    let token = "0123456789abcdef0123456789abcdef";
    for (open, without) in [(false, 401), (true, 200)] {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        if open {
            args.push("--open-metrics");
        }
        let mut cmd = fleet.command();
        cmd.env("AGENTLANE_TOKEN", token);
        let (server, addr) = {
            let mut child = cmd
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let line = BufReader::new(child.stderr.take().unwrap())
                .lines()
                .map_while(Result::ok)
                .find(|l| l.contains("listening on "))
                .expect("serve says where it listens");
            let addr = line.rsplit("http://").next().unwrap().parse().unwrap();
            (child, addr)
        };
        assert_eq!(get(addr, "/metrics", None).0, without, "open: {open}");
        assert_eq!(get(addr, "/metrics", Some(token)).0, 200);
        stop(server);
    }
}

/// The same gauges from a PostgreSQL store: a worker on it serves them,
/// and its heartbeat row is there.
#[test]
fn a_worker_on_postgres_serves_the_store_gauges() {
    let Some(base) = common::pg::server("PostgreSQL tests of tests/metrics.rs") else {
        return;
    };
    let schema = format!("al_metrics_{}", std::process::id());
    let psql = |sql: &str| {
        let out = Command::new("psql")
            .args([base.as_str(), "-qc", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    psql(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ));
    let url = format!("{base}?options=-c%20search_path%3D{schema}");
    let fleet = Fleet::new(Some(&url));
    fleet.cli(&["migrate"]);
    let ids = vec![fleet.enqueue("ok"), fleet.enqueue("limited")];
    let (worker, addr) = fleet.spawn_listening(
        &["worker", "--lane", "main", "--metrics", "127.0.0.1:0"],
        "metrics on ",
    );
    fleet.wait_settled();
    let (text, families) = scrape(addr);
    check_shape(&families, &ids);
    for (state, n) in [("succeeded", 1.0), ("failed", 1.0), ("queued", 0.0)] {
        assert_eq!(
            value(
                &families,
                "agentlane_jobs",
                &[("lane", "main"), ("state", state)]
            ),
            n,
            "{state}: {text}"
        );
    }
    assert_eq!(
        value(
            &families,
            "agentlane_preflight_passed",
            &[("route", "limited"), ("check", "cli_resolves")]
        ),
        1.0
    );
    assert!(
        value(
            &families,
            "agentlane_worker_last_seen_timestamp_seconds",
            &[
                ("host", "metrics-host"),
                ("kind", "local"),
                ("lane", "main")
            ]
        ) > 0.0,
        "{text}"
    );
    assert_eq!(
        value(
            &families,
            "agentlane_dispatches_total",
            &[("route", "ok"), ("class", "ok")]
        ),
        1.0
    );
    stop(worker);
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
}
