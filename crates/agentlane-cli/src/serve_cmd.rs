//! `agentlane serve`: the HTTP API, the dashboard and /metrics.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use agentlane::exit_status;
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
    let state = AppState::new(store, config, access).with_home(home);
    // The first line says where: a test or a script started on port 0 reads it.
    eprintln!("agentlane serve: listening on http://{bound}");
    agentlane_server::serve(listener, state, shutdown_signal())
        .await
        .map_err(|e| Failure::new(exit_status::OS_ERROR, format!("the server stopped: {e}")))?;
    Ok(0)
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
