//! `agentlane store copy`: move a queue between stores without losing a job
//! or an event. `agentlane store prune`: the leader's pruning, on demand.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agentlane::exit_status;
use agentlane::store::Store;
use clap::{Args, Subcommand};

use crate::{load_config, open_store, open_store_url, Failure};

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
    /// Delete finished jobs (with their attempts and events), old runs and
    /// resolved incidents older than the retention; workers' maintenance
    /// leader does this on its own, this is for stores no worker serves
    Prune {
        /// Keep what finished more recently than this (default: `[queue]
        /// retention`, else 14 days), e.g. "7d", "36h"
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        older_than: Option<Duration>,
        /// Print what was deleted as JSON
        #[arg(long)]
        json: bool,
    },
}

fn io(e: impl std::fmt::Display) -> Failure {
    Failure::new(exit_status::IO_ERROR, e.to_string())
}

pub async fn run(
    args: StoreArgs,
    home: Option<&PathBuf>,
    config: Option<&Path>,
) -> Result<i32, Failure> {
    let (from, to) = match args.action {
        StoreAction::Copy { from, to } => (from, to),
        StoreAction::Prune { older_than, json } => {
            return prune(older_than, json, home, config).await
        }
    };
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

async fn prune(
    older_than: Option<Duration>,
    json: bool,
    home: Option<&PathBuf>,
    config: Option<&Path>,
) -> Result<i32, Failure> {
    let retention = match older_than {
        Some(d) => d,
        None => match load_config(config)? {
            Some(c) => c.queue.retention.ok_or_else(|| {
                Failure::new(
                    exit_status::USAGE,
                    "[queue] retention is \"off\": pass --older-than to prune anyway",
                )
            })?,
            None => agentlane::config::QueueSettings::default()
                .retention
                .unwrap_or(Duration::MAX),
        },
    };
    let (_, store) = open_store(home).await?;
    let mut total = agentlane::store::Maintenance::default();
    loop {
        let done = store.maintain(Some(retention), 5000).await.map_err(io)?;
        total.folded_counts += done.folded_counts;
        total.jobs += done.jobs;
        total.dispatches += done.dispatches;
        total.events += done.events;
        total.incidents += done.incidents;
        if !done.more {
            break;
        }
    }
    if json {
        println!("{}", serde_json::to_string(&total).expect("serialises"));
    } else {
        println!(
            "pruned what finished more than {} ago: {} jobs, {} dispatches, {} events, {} resolved incidents",
            humantime::format_duration(retention),
            total.jobs,
            total.dispatches,
            total.events,
            total.incidents
        );
    }
    Ok(0)
}
