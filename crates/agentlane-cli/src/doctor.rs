//! `agentlane doctor`: preflight every route (or one), in the environment
//! each route really runs with.

use std::path::{Path, PathBuf};

use agentlane::dispatch::Dispatcher;
use agentlane::events::PreflightChecked;
use agentlane::exit_status;
use agentlane::preflight::{Options, Preflight};
use clap::Args;
use serde_json::json;

use crate::{open_store, require_config, Failure};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Check only this route
    #[arg(long, value_name = "NAME")]
    route: Option<String>,
    /// Judge route_allowed for this job kind
    #[arg(long, value_name = "KIND")]
    kind: Option<String>,
    /// Also run a real canary prompt through each route (spends tokens)
    #[arg(long)]
    canary: bool,
    /// Print a JSON array instead of a table
    #[arg(long)]
    json: bool,
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "NO"
    }
}

fn render_table(results: &[PreflightChecked]) {
    let mut table = crate::render::table(&[
        "route",
        "cli_resolves",
        "cli_ready",
        "route_allowed",
        "class",
        "repair hint",
    ]);
    for r in results {
        let label = crate::render::label_cell;
        table.add_row([
            comfy_table::Cell::new(&r.route),
            label(yes_no(r.cli_resolves)),
            label(yes_no(r.cli_ready)),
            label(yes_no(r.route_allowed)),
            label(
                &r.classifier
                    .map_or_else(|| "-".to_string(), |c| c.to_string()),
            ),
            comfy_table::Cell::new(r.repair_hint.as_deref().unwrap_or("-")),
        ]);
    }
    println!("{table}");
}

pub async fn run(
    args: DoctorArgs,
    home: Option<&PathBuf>,
    config: Option<&Path>,
) -> Result<i32, Failure> {
    let config = require_config(config)?;
    let kind = match &args.kind {
        Some(k) => Some(
            config
                .kind(k)
                .map_err(|e| Failure::new(exit_status::USAGE, e.to_string()))?,
        ),
        None => None,
    };
    let routes: Vec<&agentlane::config::Route> = match &args.route {
        Some(name) => vec![config
            .route(name)
            .map_err(|e| Failure::new(exit_status::USAGE, e.to_string()))?],
        None => config.routes.values().collect(),
    };
    if routes.is_empty() {
        return Err(Failure::new(
            exit_status::USAGE,
            format!(
                "{} defines no routes: add a [routes.NAME] table (agentlane init writes examples)",
                config.path.display()
            ),
        ));
    }
    let (home, store) = open_store(home).await?;
    let dispatcher = Dispatcher::new(home, store, Some(config.rules.clone()));
    let preflight = Preflight::new(config.preflight.clone());
    let mut results = Vec::new();
    for route in routes {
        let result = preflight
            .check(
                &dispatcher,
                &config,
                route,
                kind,
                Options {
                    canary: args.canary,
                },
            )
            .await
            .map_err(|e| Failure::new(exit_status::IO_ERROR, e.to_string()))?;
        results.push(result);
    }
    if args.json {
        let rows: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                json!({
                    "route": r.route,
                    "cli_resolves": r.cli_resolves,
                    "cli_ready": r.cli_ready,
                    "route_allowed": r.route_allowed,
                    "classifier": r.classifier,
                    "repair_hint": r.repair_hint,
                    "evidence": r.evidence,
                    "cli_path": r.cli_path,
                    "kind": r.kind,
                    "host": r.host,
                    "env_fingerprint": r.env_fingerprint,
                    "checks": r.checks,
                    "probe_dispatches": r.probe_dispatches,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("rows serialise")
        );
    } else {
        render_table(&results);
    }
    Ok(if results.iter().all(PreflightChecked::passed) {
        0
    } else {
        exit_status::UNAVAILABLE
    })
}
