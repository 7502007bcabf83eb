//! `agentlane store copy`: move a queue between stores without losing a job or an event.

use std::sync::Arc;

use agentlane::exit_status;
use agentlane::store::Store;
use clap::{Args, Subcommand};

use crate::{open_store_url, Failure};

#[derive(Debug, Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    action: StoreAction,
}

#[derive(Debug, Subcommand)]
enum StoreAction {
    /// Copy every dispatch, event, job and incident into an empty store, then check the counts
    Copy {
        /// The source, e.g. sqlite:///home/svc/.local/share/agentlane/agentlane.db
        #[arg(long, value_name = "URL")]
        from: String,
        /// The target, e.g. postgres://agentlane@db/agentlane (must be empty)
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

fn io(e: impl std::fmt::Display) -> Failure {
    Failure::new(exit_status::IO_ERROR, e.to_string())
}

pub async fn run(args: StoreArgs) -> Result<i32, Failure> {
    let StoreAction::Copy { from, to } = args.action;
    let source: Arc<dyn Store> = open_store_url(&from).await?;
    let target: Arc<dyn Store> = open_store_url(&to).await?;
    let snapshot = source.export_rows().await.map_err(io)?;
    target.import_rows(&snapshot).await.map_err(io)?;
    let before = source.row_counts().await.map_err(io)?;
    let after = target.row_counts().await.map_err(io)?;
    for ((table, n), (_, m)) in before.iter().zip(&after) {
        println!("{table:<14} {n:>9} -> {m:>9}");
    }
    if before != after {
        return Err(Failure::new(exit_status::IO_ERROR, "the copy's row counts differ from the source's: the target was left as written; inspect it before use"));
    }
    println!("copied: every row is in the target");
    Ok(0)
}
