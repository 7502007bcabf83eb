//! `agentlane serve`: the HTTP API, the dashboard and /metrics.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use agentlane::dispatch::Dispatcher;
use agentlane::exit_status;
use agentlane::queue::worker::{run_worker, WorkerOptions};
use agentlane_server::auth::{check_bind, Access, Token};
use agentlane_server::{AppState, ServeOptions};
use clap::Args;

use crate::{load_config, open_store, Failure};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; anything but loopback needs a token
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// A file holding the API token (only its owner may read it: chmod 600);
    /// required for any address but loopback [default: $AGENTLANE_TOKEN]
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Serve /metrics without the token (for a scraper on a trusted network)
    #[arg(long)]
    open_metrics: bool,
    /// Host workers in this process: LANE=N runs N jobs at once from LANE
    /// (comma-separated or repeated: --workers main=4,nightly=1)
    #[arg(long, value_name = "LANE=N", value_delimiter = ',', value_parser = parse_lane_workers)]
    workers: Vec<(String, usize)>,
    /// The hosted workers' kind (their context and lease-owner label)
    #[arg(long = "worker-kind", default_value = "local", requires = "workers")]
    worker_kind: String,
}

/// `LANE=N`, N from 1 to 256.
fn parse_lane_workers(s: &str) -> Result<(String, usize), String> {
    let (lane, n) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': write LANE=N, e.g. main=4"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("'{s}': N must be a whole number of jobs at once"))?;
    if lane.trim().is_empty() || !(1..=256).contains(&n) {
        return Err(format!("'{s}': give a lane and 1 to 256 jobs at once"));
    }
    Ok((lane.trim().to_string(), n))
}

/// The token: `--token-file`, else `AGENTLANE_TOKEN`, else none.
fn read_token(args: &ServeArgs) -> Result<Option<Token>, Failure> {
    let bad =
        |e: agentlane_server::auth::TokenError| Failure::new(exit_status::CONFIG, e.to_string());
    if let Some(path) = &args.token_file {
        return Token::from_file(path).map(Some).map_err(bad);
    }
    match std::env::var("AGENTLANE_TOKEN") {
        Ok(t) if !t.trim().is_empty() => Token::new(&t, "AGENTLANE_TOKEN").map(Some).map_err(bad),
        _ => Ok(None),
    }
}

pub async fn run(
    args: ServeArgs,
    home: Option<&PathBuf>,
    config: Option<&Path>,
) -> Result<i32, Failure> {
    let token = read_token(&args)?;
    check_bind(args.listen, token.as_ref())
        .map_err(|e| Failure::new(exit_status::CONFIG, e.to_string()))?;
    let config = load_config(config)?.map(Arc::new);
    if !args.workers.is_empty() {
        let c = config.as_deref().ok_or_else(|| {
            Failure::new(
                exit_status::USAGE,
                "--workers runs jobs: give the configuration with --config FILE",
            )
        })?;
        for (lane, _) in &args.workers {
            c.check_lane(lane)
                .map_err(|e| Failure::new(exit_status::CONFIG, e))?;
        }
    }
    let (home, store) = open_store(home).await?;
    let opts = ServeOptions {
        listen: args.listen,
    };
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| {
            Failure::new(
                exit_status::UNAVAILABLE,
                format!(
                    "cannot listen on {}: {e}; pick another port with --listen",
                    opts.listen
                ),
            )
        })?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::new(exit_status::OS_ERROR, e.to_string()))?;
    let access = Access {
        token,
        open_metrics: args.open_metrics,
        loopback: bound.ip().is_loopback(),
    };
    let state = AppState::new(store.clone(), config.clone(), access).with_home(home.clone());
    // The hosted workers' counters, served by this server's /metrics.
    let metrics = Arc::new(agentlane::metrics::WorkerMetrics::new());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    // Hosted workers: the worker code `agentlane worker` runs, one per lane,
    // sharing the server's store and stopping with it.
    let mut hosted = Vec::new();
    let state = if args.workers.is_empty() {
        state
    } else {
        state.with_process_metrics(metrics.clone())
    };
    if let Some(config) = config.filter(|_| !args.workers.is_empty()) {
        let dispatcher = Arc::new(Dispatcher::new(
            home,
            store.clone(),
            Some(config.rules.clone()),
        ));
        for (lane, n) in &args.workers {
            let options = WorkerOptions {
                lane: lane.clone(),
                concurrency: *n,
                drain: false,
                kind: args.worker_kind.clone(),
                ungated: false,
                clock: agentlane::queue::worker::Clock::system(),
                metrics: Some(metrics.clone()),
            };
            let run = run_worker(
                dispatcher.clone(),
                store.clone(),
                config.clone(),
                options,
                stop_rx.clone(),
            );
            hosted.push((lane.clone(), tokio::spawn(run)));
        }
    }
    // The first line says where: a test or a script started on port 0 reads it.
    eprintln!("agentlane serve: listening on http://{bound}");
    for (lane, n) in &args.workers {
        eprintln!("agentlane serve: hosting a worker for lane {lane} ({n} at once)");
    }
    let mut stopped = stop_rx.clone();
    let shutdown = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    agentlane_server::serve(listener, state, shutdown)
        .await
        .map_err(|e| Failure::new(exit_status::OS_ERROR, format!("the server stopped: {e}")))?;
    let mut status = 0;
    for (lane, worker) in hosted {
        match worker.await {
            Ok(Ok(s)) => eprintln!(
                "agentlane serve: worker for lane {lane} stopped: claimed {}, rescued {}",
                s.claimed, s.rescued
            ),
            Ok(Err(e)) => {
                eprintln!("agentlane serve: the worker for lane {lane} failed: {e}");
                status = exit_status::IO_ERROR;
            }
            Err(e) => {
                eprintln!("agentlane serve: the worker for lane {lane} panicked: {e}");
                status = exit_status::SOFTWARE;
            }
        }
    }
    Ok(status)
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    tokio::select! {
        _ = async { match int.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
        _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
    }
}
