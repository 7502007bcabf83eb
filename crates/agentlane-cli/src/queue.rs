//! `agentlane enqueue` and `agentlane worker`.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agentlane::dispatch::{parse_assignment, Dispatcher};
use agentlane::exit_status;
use agentlane::queue::admit::{field_value, JobRequest};
use agentlane::queue::submit::{admit_all, store_batch, Refused, Submitted};
use agentlane::queue::worker::{run_worker, WorkerOptions, WorkerSummary};
use clap::Args;
use serde_json::json;

use crate::{open_store, require_config, Failure};

#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// The job kind (policy and payload contract)
    #[arg(long, required_unless_present = "jsonl")]
    kind: Option<String>,
    /// The lane
    #[arg(long, required_unless_present = "jsonl")]
    lane: Option<String>,
    /// The route [default: the first route policy allows]
    #[arg(long)]
    route: Option<String>,
    /// The prompt
    #[arg(long, conflicts_with_all = ["prompt_file", "jsonl"])]
    prompt: Option<String>,
    /// Read the prompt from a file
    #[arg(long, value_name = "FILE", conflicts_with = "jsonl")]
    prompt_file: Option<PathBuf>,
    /// Higher runs first
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    priority: i64,
    /// A payload field (repeatable)
    #[arg(long = "field", value_name = "KEY=VALUE", value_parser = parse_assignment)]
    fields: Vec<(String, String)>,
    /// An idempotency key (1-200 printable characters): if a job with this
    /// key is already stored, nothing is added and its id is printed
    #[arg(long, value_name = "KEY", conflicts_with = "jsonl")]
    key: Option<String>,
    /// A short label for people, listed by `jobs` (1-120 printable characters)
    #[arg(long, value_name = "TEXT", conflicts_with = "jsonl")]
    label: Option<String>,
    /// Enqueue one job per JSON line of FILE ('-' for stdin): every line is
    /// checked first, and either all are stored (one transaction) or none
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kind", "lane", "route"])]
    jsonl: Option<PathBuf>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

use agentlane::queue::jsonl::{JsonlError, Line};

/// Reads job requests.
fn read_jsonl(path: &Path) -> Result<Vec<Line>, Failure> {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(path).map_err(|e| {
            Failure::new(
                exit_status::USAGE,
                format!("cannot read --jsonl {}: {e}", path.display()),
            )
        })?;
        Box::new(std::io::BufReader::new(f))
    };
    read_jsonl_lines(reader, &path.display().to_string())
}

/// Splits JSON lines (the library's reader), its refusals as exit statuses.
fn read_jsonl_lines(reader: impl BufRead, shown: &str) -> Result<Vec<Line>, Failure> {
    agentlane::queue::jsonl::read_lines(reader).map_err(|e| {
        let status = match e {
            JsonlError::Io { .. } => exit_status::USAGE,
            JsonlError::LineTooLong { .. } | JsonlError::TooLarge => exit_status::PAYLOAD_INVALID,
        };
        Failure::new(status, e.message(shown))
    })
}

pub async fn enqueue(
    args: EnqueueArgs,
    home: Option<&PathBuf>,
    config: Option<&Path>,
) -> Result<i32, Failure> {
    let config = require_config(config)?;
    let requests: Vec<Line> = match &args.jsonl {
        Some(path) => read_jsonl(path)?,
        None => {
            let prompt = match (&args.prompt, &args.prompt_file) {
                (Some(p), _) => p.clone(),
                (None, Some(f)) => agentlane::input::read_text_capped(f, agentlane::input::MAX_PROMPT_BYTES, "--prompt-file").map_err(|e| match e {
                    agentlane::input::InputError::TooLarge { .. } => Failure::new(exit_status::PAYLOAD_INVALID, format!("{e}: check that it is the right file")),
                    agentlane::input::InputError::Io { .. } => Failure::new(exit_status::USAGE, e.to_string()),
                })?,
                (None, None) => return Err(Failure::new(exit_status::USAGE, "give the job's prompt with --prompt or --prompt-file (or many jobs with --jsonl)")),
            };
            vec![(
                1,
                Ok(JobRequest {
                    kind: args.kind.clone().unwrap_or_default(),
                    lane: args.lane.clone().unwrap_or_default(),
                    route: args.route.clone(),
                    prompt,
                    priority: args.priority,
                    key: args.key.clone(),
                    label: args.label.clone(),
                    fields: args
                        .fields
                        .iter()
                        .map(|(k, v)| (k.clone(), field_value(v)))
                        .collect(),
                }),
            )]
        }
    };
    // Every line is checked before anything is stored: one bad line stores
    // nothing, and every bad line is reported (the library's one submit).
    let single = args.jsonl.is_none();
    // Refused before the store is opened: a bad file is reported as such
    // even when the store is down.
    let batch = match admit_all(&config, requests) {
        Ok(batch) => batch,
        Err((refused, admitted)) => {
            return Ok(report_refused(&refused, admitted, single, args.json));
        }
    };
    let (_, store) = open_store(home).await?;
    let (stored, warnings) = store_batch(store.as_ref(), batch)
        .await
        .map_err(|e| Failure::new(exit_status::IO_ERROR, e.to_string()))?;
    for w in warnings {
        eprintln!("agentlane: {w}");
    }
    for e in stored.iter().filter(|e| e.prompt_redacted) {
        eprintln!("agentlane: line {}: job {}: the prompt or a payload field held a secret; stored with the secret replaced", e.line, e.id);
    }
    let entry = |e: &Submitted| {
        json!({
            "line": e.line,
            "id": e.id,
            "route": e.route,
            "prompt_redacted": e.prompt_redacted,
            "key": e.key,
            "existed": e.existed,
        })
    };
    if args.json {
        let out = if single {
            stored.first().map(entry).unwrap_or_else(|| json!({}))
        } else {
            json!({
                "enqueued": stored.iter().map(entry).collect::<Vec<_>>(),
                "refused": [],
            })
        };
        println!("{out}");
    } else if single {
        if let Some(e) = stored.first() {
            println!("{}", e.id);
            if e.existed {
                eprintln!(
                    "agentlane: key {:?} is already taken: job {} was enqueued before; nothing was added",
                    e.key.as_deref().unwrap_or_default(),
                    e.id
                );
            }
        }
    } else {
        for e in &stored {
            let (line, key) = (e.line, e.key.as_deref().unwrap_or_default());
            match (e.existed, e.repeats_line) {
                (false, _) => println!("line {line}: enqueued {} (route {})", e.id, e.route),
                (true, Some(first)) => println!(
                    "line {line}: key {key:?} repeats line {first}: job {} (first line wins; nothing added)",
                    e.id
                ),
                (true, None) => println!(
                    "line {line}: key {key:?} already enqueued as {} (nothing added)",
                    e.id
                ),
            }
        }
    }
    Ok(0)
}

/// Reports every refused line (nothing was stored); the exit status.
fn report_refused(refused: &[Refused], good: usize, single: bool, json: bool) -> i32 {
    if json {
        let out = if single {
            let r = &refused[0];
            json!({"refused": {"field": r.field, "class": r.class, "message": r.message}})
        } else {
            json!({
                "enqueued": [],
                "refused": refused.iter().map(|r| json!({"line": r.line, "field": r.field, "class": r.class, "message": r.message})).collect::<Vec<_>>(),
            })
        };
        println!("{out}");
    }
    for r in refused {
        let field = r
            .field
            .as_deref()
            .map(|f| format!("{f}: "))
            .unwrap_or_default();
        if single {
            eprintln!("agentlane: refused: {}: {field}{}", r.class, r.message);
        } else {
            eprintln!(
                "agentlane: line {} refused: {}: {field}{}",
                r.line, r.class, r.message
            );
        }
    }
    if !single {
        eprintln!(
            "agentlane: nothing was enqueued: {} of {} lines refused; fix them and submit the whole file again",
            refused.len(),
            refused.len() + good
        );
    }
    exit_status::PAYLOAD_INVALID
}

#[derive(Debug, Args)]
#[command(after_help = drain_table())]
pub struct WorkerArgs {
    /// The lane to serve
    #[arg(long)]
    lane: String,
    /// Jobs to run at once
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Exit once the lane has no queued, scheduled or running job on a runnable route
    #[arg(long)]
    drain: bool,
    /// This worker's kind: a label in its lease-owner id and summaries
    #[arg(long = "worker-kind", default_value = "local")]
    worker_kind: String,
    /// Print the exit summary as JSON
    #[arg(long)]
    json: bool,
    /// Serve /metrics and /healthz on this address (e.g. 127.0.0.1:9464;
    /// port 0 picks one, printed on stderr). Counts only, no job content:
    /// any address is allowed, a non-loopback one is named in a warning
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<std::net::SocketAddr>,
}

/// The exit statuses of `worker --drain`, for its `--help`.
fn drain_table() -> String {
    let mut out = String::from(
        "Exit status with --drain (without it: 0 when stopped, 74 when cut off from the store):\n",
    );
    for (code, meaning) in exit_status::WORKER_TABLE {
        out.push_str(&format!("  {code:>5}  {meaning}\n"));
    }
    out
}

fn print_summary(s: &WorkerSummary) {
    eprintln!(
        "agentlane worker {}: claimed {}, rescued {}",
        s.owner, s.claimed, s.rescued
    );
    let classes: Vec<String> = s.classes.iter().map(|(c, n)| format!("{c} {n}")).collect();
    let outcomes: Vec<String> = s.outcomes.iter().map(|(c, n)| format!("{c} {n}")).collect();
    eprintln!(
        "  by class:   {}",
        if classes.is_empty() {
            "-".into()
        } else {
            classes.join(", ")
        }
    );
    eprintln!(
        "  decisions:  {}",
        if outcomes.is_empty() {
            "-".into()
        } else {
            outcomes.join(", ")
        }
    );
    if let Some(paused) = &s.paused {
        eprintln!("  {paused}: nothing was claimed (`agentlane lane resume` lets its workers claim again)");
    }
    for (route, incident) in &s.blocked_routes {
        eprintln!("  route {route} blocked by incident {incident} (its jobs wait; `agentlane incidents --open` says why and how to repair)");
    }
    for (route, class) in &s.unhealthy_routes {
        eprintln!("  route {route} failed preflight: {class} (nothing claimed for it; see `agentlane incidents --open`)");
    }
    if s.lost_leases {
        eprintln!("  stopped: this worker could not renew its leases (cut off from the store) and stopped its agents");
    }
    if s.rejected_settles > 0 {
        eprintln!(
            "  {} late settlements rejected (lease lost)",
            s.rejected_settles
        );
    }
    if s.store_outages > 0 {
        eprintln!("  waited through {} store outage(s)", s.store_outages);
    }
    if s.unsettled > 0 {
        eprintln!(
            "  {} attempts could not be settled (store unreachable); the maintenance leader rescues them when their leases expire",
            s.unsettled
        );
    }
}

pub async fn worker(
    args: WorkerArgs,
    home: Option<&PathBuf>,
    config: Option<&Path>,
) -> Result<i32, Failure> {
    let config = Arc::new(require_config(config)?);
    // A lane the configuration does not define would wait forever (or drain
    // at once): refused before the store is opened.
    config
        .check_lane(&args.lane)
        .map_err(|e| Failure::new(exit_status::CONFIG, e))?;
    // A worker kind whose user does not exist runs nothing (never the agents
    // as the worker's own user): refused before the store is opened.
    if let Some(kind) = config.workers.get(&args.worker_kind) {
        kind.run_as().map_err(|e| {
            Failure::new(
                exit_status::CONFIG,
                format!("{e} ({})", config.path.display()),
            )
        })?;
    }
    let (home, store) = open_store(home).await?;
    let dispatcher = Arc::new(Dispatcher::new(
        home,
        store.clone(),
        Some(config.rules.clone()),
    ));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    for kind in [
        tokio::signal::unix::SignalKind::interrupt(),
        tokio::signal::unix::SignalKind::terminate(),
    ] {
        if let Ok(mut s) = tokio::signal::unix::signal(kind) {
            let tx = stop_tx.clone();
            tokio::spawn(async move {
                if s.recv().await.is_some() {
                    let _ = tx.send(true);
                }
            });
        }
    }
    let metrics = match args.metrics {
        Some(addr) => Some(serve_metrics(addr, store.clone()).await?),
        None => None,
    };
    let options = WorkerOptions {
        lane: args.lane.clone(),
        concurrency: args.concurrency,
        drain: args.drain,
        kind: args.worker_kind.clone(),
        ungated: false,
        clock: agentlane::queue::worker::Clock::system(),
        metrics,
    };
    let summary = run_worker(dispatcher, store.clone(), config, options, stop_rx)
        .await
        .map_err(|e| match e {
            agentlane::queue::worker::WorkerError::Plan(_) => {
                Failure::new(exit_status::CONFIG, e.to_string())
            }
            _ => Failure::new(exit_status::IO_ERROR, e.to_string()),
        })?;
    // Best effort: a worker that stopped because the store was unreachable
    // still reports its summary.
    let open = match tokio::time::timeout(Duration::from_secs(5), store.incidents(true)).await {
        Ok(Ok(open)) => open,
        _ => Vec::new(),
    };
    if args.json {
        println!("{}", json!({"summary": summary, "open_incidents": open}));
    } else {
        print_summary(&summary);
        for i in open.iter().take(5) {
            eprintln!(
                "  incident {} [{}] {} x{}: {}",
                i.id, i.repair_address, i.classifier, i.affected_jobs, i.repair_hint
            );
        }
    }
    Ok(if summary.lost_leases {
        exit_status::IO_ERROR
    } else if args.drain {
        let count = |step: &str| summary.outcomes.get(step).copied().unwrap_or(0);
        // A job an operator cancelled did not succeed: the drain says so.
        exit_status::for_drain(
            count("fail") + count("cancel"),
            count("park"),
            summary.blocked_routes.len(),
            summary.unhealthy_routes.len(),
        )
    } else {
        0
    })
}

/// `worker --metrics ADDR`: binds, says where on stderr (a test or script
/// that asked for port 0 reads it), and serves `/metrics` and `/healthz`
/// for as long as the process lives (through a graceful stop too, so the
/// last jobs' counts can still be scraped).
async fn serve_metrics(
    addr: std::net::SocketAddr,
    store: Arc<dyn agentlane::store::Store>,
) -> Result<Arc<agentlane::metrics::WorkerMetrics>, Failure> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Failure::new(
            exit_status::UNAVAILABLE,
            format!("cannot serve metrics on {addr}: {e}; pick another address with --metrics"),
        )
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::new(exit_status::OS_ERROR, e.to_string()))?;
    eprintln!("agentlane worker: metrics on http://{bound}/metrics");
    if !bound.ip().is_loopback() {
        eprintln!(
            "agentlane worker: warning: /metrics on {bound} answers anyone who can reach it (counts and the names of lanes, routes and hosts; no job content)"
        );
    }
    let metrics = Arc::new(agentlane::metrics::WorkerMetrics::new());
    let served = metrics.clone();
    tokio::spawn(async move {
        let shutdown = std::future::pending::<()>();
        if let Err(e) =
            agentlane_server::metrics::serve_worker_metrics(listener, store, served, shutdown).await
        {
            tracing::warn!("the metrics endpoint stopped: {e}");
        }
    });
    Ok(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(input: &[u8]) -> Result<Vec<Line>, Failure> {
        read_jsonl_lines(input, "t.jsonl")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any bytes: every line is numbered, parsed or refused with a reason; no panic.
        #[test]
        fn any_bytes_give_numbered_lines_or_a_refusal(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let newlines = input.iter().filter(|&&b| b == b'\n').count();
            if let Ok(parsed) = lines(&input) {
                for (n, line) in &parsed {
                    prop_assert!(*n >= 1 && *n <= newlines + 1);
                    if let Err(reason) = line {
                        prop_assert!(!reason.reason.is_empty());
                    }
                }
            }
        }

        /// Job objects written one per line read back as the same jobs, at their line numbers.
        #[test]
        fn written_jobs_read_back_whole(
            jobs in proptest::collection::vec(("[a-z]{1,8}", "[a-z]{1,8}", "\\PC{1,40}", any::<i64>()), 1..20),
            blank_every in 2usize..5,
        ) {
            let mut text = String::new();
            let mut expect = Vec::new();
            let mut n = 0;
            for (i, (kind, lane, prompt, priority)) in jobs.iter().enumerate() {
                if i % blank_every == 0 {
                    text.push_str("  \n");
                    n += 1;
                }
                text.push_str(&serde_json::json!({"kind": kind, "lane": lane, "prompt": prompt, "priority": priority}).to_string());
                text.push('\n');
                n += 1;
                expect.push((n, kind, prompt, *priority));
            }
            let parsed = lines(text.as_bytes()).map_err(|f| TestCaseError::fail(f.message))?;
            prop_assert_eq!(parsed.len(), expect.len());
            for ((n, line), (want_n, kind, prompt, priority)) in parsed.iter().zip(expect) {
                let job = line.as_ref().map_err(|e| TestCaseError::fail(e.reason.clone()))?;
                prop_assert_eq!(*n, want_n);
                prop_assert_eq!(&job.kind, kind);
                prop_assert_eq!(&job.prompt, prompt);
                prop_assert_eq!(job.priority, priority);
            }
        }
    }

    #[test]
    fn a_line_that_is_not_utf8_is_refused_alone() {
        let parsed =
            lines(b"{\"kind\":\"k\",\"lane\":\"l\",\"prompt\":\"a\"}\n\xff\xfe\n").unwrap();
        assert!(parsed[0].1.is_ok());
        assert_eq!(parsed[1].0, 2);
        assert!(parsed[1]
            .1
            .as_ref()
            .unwrap_err()
            .reason
            .contains("not UTF-8"));
    }
}
