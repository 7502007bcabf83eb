//! `agentlane runs` and `agentlane show`: reading dispatches back.

use std::path::PathBuf;

use agentlane::exit_status;
use agentlane::store::{DispatchRecord, DispatchSummary, StoreError};
use clap::Args;
use comfy_table::Cell;

use crate::{open_store, Failure};

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// How many to list (0 for all)
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print a JSON array instead of a table
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The dispatch id, or a unique prefix or suffix of it (6+ characters)
    id: String,
    /// Print JSON ({summary, report, events})
    #[arg(long)]
    json: bool,
}

fn store_failure(e: StoreError) -> Failure {
    match e {
        StoreError::Ambiguous(_) => Failure::new(exit_status::USAGE, e.to_string()),
        other => Failure::new(exit_status::IO_ERROR, other.to_string()),
    }
}

fn outcome(s: &DispatchSummary) -> String {
    match (s.exit_code, s.signal) {
        (Some(code), _) => code.to_string(),
        (None, Some(sig)) => format!("sig {sig}"),
        (None, None) if s.finished_at.is_none() => "running".into(),
        _ => "-".into(),
    }
}

pub async fn list(args: RunsArgs, home: Option<&PathBuf>) -> Result<i32, Failure> {
    let (_, store) = open_store(home).await?;
    // One more than asked: whether the list was cut.
    let ask = if args.limit == 0 { 0 } else { args.limit + 1 };
    let mut runs = store.recent_dispatches(ask).await.map_err(store_failure)?;
    let shown = if args.limit == 0 {
        runs.len()
    } else {
        runs.len().min(args.limit)
    };
    if args.json {
        runs.truncate(shown);
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).expect("summaries serialise")
        );
        return Ok(0);
    }
    if runs.is_empty() {
        println!("no dispatches yet: try `agentlane exec -- <agent CLI> ...`");
        return Ok(0);
    }
    let mut table = crate::render::table(&[
        "dispatch",
        "started (UTC)",
        "class",
        "exit",
        "took",
        "program",
        "cwd",
    ]);
    for r in runs.iter().take(shown) {
        table.add_row(vec![
            Cell::new(&r.dispatch_id),
            Cell::new(
                r.created_at
                    .replace('T', " ")
                    .trim_end_matches('Z')
                    .chars()
                    .take(19)
                    .collect::<String>(),
            ),
            crate::render::label_cell(r.classifier.as_deref().unwrap_or("-")),
            Cell::new(outcome(r)),
            Cell::new(
                r.duration_ms
                    .map_or_else(|| "-".into(), crate::render::duration_ms),
            ),
            Cell::new(&r.program),
            Cell::new(&r.cwd),
        ]);
    }
    println!("{table}");
    if runs.len() > shown {
        let total = store.row_counts().await.ok().and_then(|c| {
            c.into_iter()
                .find(|(t, _)| t == "dispatches")
                .map(|(_, n)| n)
        });
        println!("{}", crate::render::cut_footer(shown, total));
    }
    Ok(0)
}

/// The host that ran a dispatch, from its `runner_prepare` (None in a
/// record of a release that did not say).
pub fn ran_on(record: &DispatchRecord) -> Option<String> {
    record
        .events
        .iter()
        .find(|e| e.kind == "runner_prepare")
        .and_then(|e| e.body["host"].as_str())
        .map(str::to_string)
}

fn print_record(record: &DispatchRecord) {
    let s = &record.summary;
    println!("dispatch   {}", s.dispatch_id);
    println!("started    {}", s.created_at);
    println!(
        "finished   {}",
        s.finished_at.as_deref().unwrap_or("(not finished)")
    );
    if let Some(ms) = s.duration_ms {
        println!("took       {}", crate::render::duration_ms(ms));
    }
    println!("program    {}", s.program);
    println!("cwd        {}", s.cwd);
    if let Some(route) = &s.route {
        println!("route      {route}");
    }
    println!("class      {}", s.classifier.as_deref().unwrap_or("-"));
    println!("exit       {}", outcome(s));
    if let Some(report) = &record.report {
        let field = |k: &str| report.get(k).filter(|v| !v.is_null());
        for (label, key) in [
            ("cli_path", "cli_path"),
            ("rule", "rule"),
            ("evidence", "evidence"),
            ("hint", "repair_hint"),
            ("resets at", "reset_at"),
            ("fingerprint", "failure_fingerprint"),
        ] {
            if let Some(v) = field(key) {
                println!(
                    "{label:<10} {}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                );
            }
        }
        // Artifacts are files on the host that ran the dispatch: from
        // another host, say which one holds them (the tails below come from
        // the store and read the same everywhere).
        let elsewhere = ran_on(record).filter(|h| *h != agentlane::os::host_name());
        if let Some(host) = &elsewhere {
            println!(
                "host       {host} (holds the full artifacts; the tails below are from the store)"
            );
        }
        if let Some(a) = field("artifacts") {
            for stream in ["stdout", "stderr"] {
                if let Some(p) = a.get(stream).and_then(|p| p.as_str()) {
                    let dropped = field(&format!("{stream}_dropped_bytes"))
                        .and_then(|d| d.as_u64())
                        .filter(|d| *d > 0);
                    let at = match &elsewhere {
                        Some(h) => format!("{h}:{p}"),
                        None => p.to_string(),
                    };
                    match dropped {
                        Some(d) => println!("{stream:<10} {at} ({d} bytes not written)"),
                        None => println!("{stream:<10} {at}"),
                    }
                }
            }
        }
        if let Some(errors) = field("artifact_errors").and_then(|e| e.as_array()) {
            for e in errors.iter().filter_map(|e| e.as_str()) {
                println!("artifact   incomplete: {e}");
            }
        }
        // The watchdog stopped the run before it ended on its own.
        if let Some(w) = field("watchdog") {
            let kind = w.get("kind").and_then(|k| k.as_str()).unwrap_or("?");
            let message = w.get("message").and_then(|m| m.as_str()).unwrap_or("");
            println!("watchdog   {kind}: {message}");
            if let Some(p) = w.get("snapshot").and_then(|p| p.as_str()) {
                let at = match &elsewhere {
                    Some(h) => format!("{h}:{p}"),
                    None => p.to_string(),
                };
                println!("snapshot   {at} (the process tree before it was stopped)");
            }
        }
        for (label, key) in [
            ("stderr tail", "stderr_tail"),
            ("stdout tail", "stdout_tail"),
        ] {
            if let Some(t) = field(key)
                .and_then(|t| t.as_str())
                .filter(|t| !t.is_empty())
            {
                println!("\n--- {label} ---\n{}", t.trim_end());
            }
        }
    }
    println!("\nevents:");
    for e in &record.events {
        println!("  {:>6}  {}  {}", e.seq, e.at, e.kind);
    }
}

pub async fn show(args: ShowArgs, home: Option<&PathBuf>) -> Result<i32, Failure> {
    let (_, store) = open_store(home).await?;
    let id = crate::controls::full_id(store.as_ref(), agentlane::store::IdKind::Dispatch, &args.id)
        .await?;
    let record = store
        .dispatch(&id)
        .await
        .map_err(store_failure)?
        .ok_or_else(|| {
            Failure::new(
                exit_status::USAGE,
                format!("no dispatch '{id}': list them with `agentlane runs`"),
            )
        })?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&record).expect("records serialise")
        );
    } else {
        print_record(&record);
    }
    Ok(0)
}
