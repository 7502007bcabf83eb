//! `agentlane matrix`: the canary through the production path, one dimension at a time.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agentlane::exit_status;
use agentlane::matrix::{self, Dimension, Row, Shape};
use clap::Args;

use crate::exec::parse_duration;
use crate::{open_store, require_config, Failure};

#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// The route to vary around [default: the first route]
    #[arg(long)]
    route: Option<String>,
    /// Add a cell with this queued job's real payload
    #[arg(long, value_name = "JOB_ID")]
    job: Option<String>,
    /// Vary only this dimension (worker_kind, cwd, env_source, payload, route, user)
    #[arg(long, value_parser = |s: &str| s.parse::<Dimension>())]
    only: Option<Dimension>,
    /// Run at most this many cells
    #[arg(long)]
    max_cells: Option<usize>,
    /// Timeout of each cell
    #[arg(long, value_parser = parse_duration, default_value = "2m")]
    cell_timeout: Duration,
    /// Cells run at once
    #[arg(long, default_value_t = 2)]
    parallel: usize,
    /// PATH of the thin service environment cell (cron's is /usr/bin:/bin; set your service manager's)
    #[arg(long, value_name = "PATH", default_value = agentlane::matrix::THIN_PATH)]
    thin_path: String,
    /// When running as root, also run the canary as this user [env: AGENTLANE_SERVICE_USER]
    #[arg(long)]
    service_user: Option<String>,
    /// Print one JSON object: shape, dimension, repair_address, rows
    #[arg(long, conflicts_with_all = ["csv", "markdown"])]
    json: bool,
    /// Print the rows as CSV
    #[arg(long, conflicts_with = "markdown")]
    csv: bool,
    /// Print a Markdown table for an incident
    #[arg(long)]
    markdown: bool,
}

fn cell(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

fn csv_escape(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

const COLUMNS: [&str; 13] = [
    "dimension",
    "value",
    "route",
    "classifier",
    "exit",
    "ms",
    "cwd",
    "cli_path",
    "env",
    "prompt_bytes",
    "worker_kind",
    "dispatch_id",
    "queue_id",
];

fn fields(r: &Row) -> Vec<String> {
    vec![
        r.dimension.label().to_string(),
        r.value.clone(),
        r.route.clone(),
        r.classifier.clone(),
        r.exit_code.map_or_else(
            || r.signal.map_or("-".into(), |s| format!("sig {s}")),
            |c| c.to_string(),
        ),
        r.duration_ms.map_or("-".into(), |d| d.to_string()),
        cell(&r.cwd),
        cell(&r.cli_path),
        cell(&r.env_fingerprint),
        r.prompt_bytes.to_string(),
        r.worker_kind.clone(),
        cell(&r.dispatch_id),
        r.queue_id.clone(),
    ]
}

pub async fn run(
    args: MatrixArgs,
    home: Option<&PathBuf>,
    config: Option<&Path>,
) -> Result<i32, Failure> {
    let config = require_config(config)?;
    let route = match &args.route {
        Some(r) => config
            .route(r)
            .map_err(|e| Failure::new(exit_status::USAGE, e.to_string()))?
            .clone(),
        None => config.routes.values().next().cloned().ok_or_else(|| {
            Failure::new(exit_status::USAGE, "the configuration defines no routes")
        })?,
    };
    let (home, store) = open_store(home).await?;
    let job_payload = match &args.job {
        Some(id) => Some(
            store
                .job(
                    &crate::controls::full_id(store.as_ref(), agentlane::store::IdKind::Job, id)
                        .await?,
                )
                .await
                .map_err(|e| Failure::new(exit_status::IO_ERROR, e.to_string()))?
                .ok_or_else(|| {
                    Failure::new(
                        exit_status::USAGE,
                        format!("no job '{id}': list them with `agentlane jobs`"),
                    )
                })?
                .prompt,
        ),
        None => None,
    };
    drop(store);
    let request = matrix::setup::Request {
        job_payload,
        service_user: args.service_user.clone().or_else(|| {
            std::env::var("AGENTLANE_SERVICE_USER")
                .ok()
                .filter(|s| !s.is_empty())
        }),
        thin_path: Some(args.thin_path.clone()),
        only: args.only,
        max_cells: args.max_cells,
    };
    let bar = (std::io::stderr().is_terminal() && !args.json).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} matrix {bar:30} {pos}/{len} cells  {elapsed}",
            )
            .expect("template"),
        );
        bar
    });
    let progress = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let session = matrix::session::Session {
        request,
        parallel: args.parallel,
        cell_timeout: Some(args.cell_timeout),
    };
    let id = matrix::session::new_id();
    let done = matrix::session::run(&config, &route, &home, &id, session, &progress)
        .await
        .map_err(|e| match e {
            matrix::session::SessionError::Setup(matrix::setup::SetupError::UnknownUser(_)) => {
                Failure::new(exit_status::USAGE, e.to_string())
            }
            matrix::session::SessionError::Setup(_) => {
                Failure::new(exit_status::CANT_CREATE, e.to_string())
            }
            matrix::session::SessionError::Plan(_) => {
                Failure::new(exit_status::CONFIG, e.to_string())
            }
            matrix::session::SessionError::Run(_) => {
                Failure::new(exit_status::IO_ERROR, e.to_string())
            }
        })?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    for w in &done.warnings {
        eprintln!("agentlane: warning: {w}");
    }
    let report = done.json();
    let (rows, verdict) = (&done.rows, &done.verdict);
    let scratch_url = &done.scratch_store;
    let scratch_db = done.dir.join("matrix.db");
    if args.json {
        println!("{report}");
    } else if args.csv {
        println!("{}", COLUMNS.join(","));
        for r in rows {
            println!(
                "{}",
                fields(r)
                    .iter()
                    .map(|f| csv_escape(f))
                    .collect::<Vec<_>>()
                    .join(",")
            );
        }
    } else if args.markdown {
        println!("| {} |", COLUMNS.join(" | "));
        println!("|{}", " --- |".repeat(COLUMNS.len()));
        for r in rows {
            println!(
                "| {} |",
                fields(r)
                    .iter()
                    .map(|f| f.replace('|', "\\|"))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        println!(
            "\n**route:** {} — **shape:** {} — **dimension:** {} — **repair:** {}",
            route.name,
            verdict.shape.label(),
            verdict.dimension.map_or("-", |d| d.label()),
            verdict.repair_address
        );
        if !verdict.comparison.is_empty() {
            println!(
                "\n**other routes (comparison, not evidence):** {}",
                comparison_line(verdict)
            );
        }
        for note in &verdict.notes {
            println!("\n**note:** {note}");
        }
        println!("\n**cells recorded in:** `{scratch_url}` (the matrix's scratch store, not the live one)");
    } else {
        let mut t = crate::render::table(&[
            "dimension",
            "value",
            "classifier",
            "exit",
            "took",
            "cwd",
            "cli_path",
            "env",
            "dispatch",
        ]);
        for r in rows {
            let f = fields(r);
            // Words for a person; the CSV keeps raw milliseconds.
            let took = r
                .duration_ms
                .map_or_else(|| "-".into(), crate::render::duration_ms);
            t.add_row([
                &f[0], &f[1], &f[3], &f[4], &took, &f[6], &f[7], &f[8], &f[11],
            ]);
        }
        println!("{t}");
        println!(
            "shape: {} for route {}{}",
            verdict.shape.label(),
            route.name,
            verdict
                .dimension
                .map_or(String::new(), |d| format!(" (flips on {})", d.label()))
        );
        if !verdict.comparison.is_empty() {
            println!(
                "other routes (comparison, not evidence): {}",
                comparison_line(verdict)
            );
        }
        for note in &verdict.notes {
            println!("note: {note}");
        }
        println!("repair: {}", verdict.repair_address);
        println!(
            "cells recorded in the scratch store {} (not the live store): agentlane --store {scratch_url} show DISPATCH_ID",
            scratch_db.display()
        );
    }
    Ok(if verdict.shape == Shape::Healthy {
        0
    } else {
        exit_status::UNAVAILABLE
    })
}

fn comparison_line(verdict: &agentlane::matrix::Verdict) -> String {
    verdict
        .comparison
        .iter()
        .map(|c| format!("{} {}", c.route, c.classifier))
        .collect::<Vec<_>>()
        .join(", ")
}
