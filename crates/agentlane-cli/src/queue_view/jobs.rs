//! `agentlane jobs` and `agentlane job ID`: the jobs, their next action and why.

use std::path::PathBuf;

use agentlane::exit_status;
use agentlane::model::RouteBlock;
use agentlane::queue::{Job, JobFilter, JobState};
use agentlane::store::{IdKind, Store};
use clap::Args;
use comfy_table::Cell;
use serde_json::{json, Value};

use crate::{open_store, Failure};

pub(super) fn io(e: impl std::fmt::Display) -> Failure {
    Failure::new(exit_status::IO_ERROR, e.to_string())
}

use crate::render::table;

/// The hard stops that block waiting jobs, by (lane, route), on any host.
type Blocks = std::collections::BTreeMap<(String, String), RouteBlock>;

/// The blocks of the lanes of these jobs' waiting rows.
async fn blocks_of(store: &dyn Store, rows: &[Job]) -> Result<Blocks, Failure> {
    let lanes: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|j| waiting(j))
        .map(|j| j.lane.as_str())
        .collect();
    let mut blocks = Blocks::new();
    for lane in lanes {
        for b in store.route_blocks(lane, None).await.map_err(io)? {
            blocks.insert((lane.to_string(), b.route.clone()), b);
        }
    }
    Ok(blocks)
}

fn waiting(j: &Job) -> bool {
    matches!(j.state(), JobState::Queued | JobState::Scheduled)
}

/// The block a waiting job sits behind, if any. The job whose failure is
/// the block (a quota job scheduled at its reset) keeps its own reason.
fn block_of<'b>(j: &Job, blocks: &'b Blocks) -> Option<&'b RouteBlock> {
    if !waiting(j) {
        return None;
    }
    blocks
        .get(&(j.lane.clone(), j.route.clone()))
        .filter(|b| j.incident_id.as_deref() != Some(b.incident_id.as_str()))
}

/// What happens next, in words: "retry at 12:04:10", "parked", "done",
/// "blocked" for a waiting job behind a hard stop.
fn next_action(j: &Job, blocks: &Blocks) -> String {
    if block_of(j, blocks).is_some() {
        return "blocked".into();
    }
    match j.state() {
        JobState::Scheduled => format!(
            "retry at {}",
            j.run_at
                .replace('T', " ")
                .trim_end_matches('Z')
                .chars()
                .take(19)
                .collect::<String>()
        ),
        JobState::Queued => "run".into(),
        JobState::Running => "running".into(),
        JobState::Parked => "parked".into(),
        JobState::Succeeded => "done".into(),
        JobState::Failed => "failed".into(),
        JobState::Cancelled => "cancelled".into(),
    }
}

/// Its reason: the block's when it waits behind one, else the stored one.
fn reason(j: &Job, blocks: &Blocks) -> Option<String> {
    block_of(j, blocks)
        .map(RouteBlock::reason)
        .or_else(|| j.reason.clone())
}

fn job_json(j: &Job, blocks: &Blocks) -> Value {
    let mut v = job_json_base(j, blocks);
    // The idempotency key, only when the producer gave one.
    if let Some(key) = &j.key {
        v["key"] = json!(key);
    }
    // The label, likewise.
    if let Some(label) = &j.label {
        v["label"] = json!(label);
    }
    v
}

fn job_json_base(j: &Job, blocks: &Blocks) -> Value {
    json!({
        "id": j.id, "kind": j.kind, "lane": j.lane, "route": j.route, "state": j.state(),
        "attempts": j.attempts, "classifier": j.classifier, "next_action": next_action(j, blocks),
        "reason": reason(j, blocks), "blocked_by": block_of(j, blocks).map(|b| &b.incident_id),
        "priority": j.priority, "run_at": j.run_at, "created_at": j.created_at,
        "updated_at": j.updated_at, "finished_at": j.finished_at(), "incident_id": j.incident_id,
        "lease_owner": j.lease_owner(), "fields": j.fields,
    })
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct JobsArgs {
    #[command(subcommand)]
    action: Option<crate::controls::JobsAction>,
    /// Only this lane
    #[arg(long)]
    lane: Option<String>,
    /// Only this state (queued, scheduled, running, succeeded, failed, parked, cancelled)
    #[arg(long, value_parser = |s: &str| s.parse::<JobState>())]
    state: Option<JobState>,
    /// How many (0 for all)
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print a JSON array (with --follow: one JSON object per transition)
    #[arg(long)]
    json: bool,
    /// Keep watching: print one line per job transition as the store shows it, until Ctrl-C
    #[arg(long, short = 'f')]
    follow: bool,
    /// How often --follow asks the store (at least 500ms)
    #[arg(long, default_value = "2s", value_parser = crate::watch::parse_interval, requires = "follow")]
    interval: std::time::Duration,
}

pub async fn jobs(args: JobsArgs, home: Option<&PathBuf>) -> Result<i32, Failure> {
    if let Some(action) = args.action {
        return crate::controls::jobs_action(action, home).await;
    }
    let (_, store) = open_store(home).await?;
    if args.follow {
        return crate::watch::follow_jobs(
            store.as_ref(),
            args.lane,
            args.state,
            args.limit,
            args.interval,
            args.json,
        )
        .await;
    }
    // One more than asked: whether the list was cut.
    let filter = JobFilter {
        lane: args.lane,
        state: args.state,
        limit: if args.limit == 0 { 0 } else { args.limit + 1 },
        updated_since: None,
        ..Default::default()
    };
    let mut rows = store.jobs(&filter).await.map_err(io)?;
    let cut = args.limit != 0 && rows.len() > args.limit;
    rows.truncate(if args.limit == 0 {
        rows.len()
    } else {
        args.limit
    });
    let blocks = blocks_of(store.as_ref(), &rows).await?;
    if args.json {
        let mut out = Vec::with_capacity(rows.len());
        for j in &rows {
            let mut v = job_json(j, &blocks);
            // Summed usage and each attempt's, when the CLI reported any.
            if let Some(u) = crate::usage_cmd::job_usage_json(store.as_ref(), &j.id).await? {
                v["usage"] = u;
            }
            out.push(v);
        }
        println!("{}", serde_json::to_string_pretty(&out).expect("json"));
        return Ok(0);
    }
    if rows.is_empty() {
        println!("no jobs: add one with `agentlane enqueue --kind K --lane L --prompt ...`");
        return Ok(0);
    }
    let mut t = table(&[
        "job", "label", "kind", "lane", "route", "state", "attempts", "class", "next", "reason",
    ]);
    for j in &rows {
        let next = next_action(j, &blocks);
        // "retry at …" is words, not a label.
        let next_cell = if next.contains(' ') {
            Cell::new(&next)
        } else {
            crate::render::label_cell(&next)
        };
        t.add_row(vec![
            Cell::new(&j.id),
            Cell::new(j.label.as_deref().unwrap_or("-")),
            Cell::new(&j.kind),
            Cell::new(&j.lane),
            Cell::new(&j.route),
            crate::render::label_cell(j.state().label()),
            Cell::new(j.attempts),
            crate::render::label_cell(j.classifier.as_deref().unwrap_or("-")),
            next_cell,
            Cell::new(reason(j, &blocks).unwrap_or_default()),
        ]);
    }
    println!("{t}");
    if cut {
        // The total the filter selects, from the per-lane counts.
        let total = store.status().await.ok().map(|s| {
            s.lanes
                .iter()
                .filter(|(l, st, _)| {
                    filter.lane.as_ref().is_none_or(|f| f == l)
                        && filter.state.is_none_or(|f| f.label() == st)
                })
                .map(|(_, _, n)| n)
                .sum::<u64>()
        });
        println!("{}", crate::render::cut_footer(rows.len(), total));
    }
    Ok(0)
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct JobArgs {
    #[command(subcommand)]
    action: Option<crate::controls::JobAction>,
    /// The job id, or a unique prefix or suffix of it (6+ characters)
    #[arg(required = true)]
    id: Option<String>,
    /// Print JSON (the job, plus its attempts and their dispatch ids)
    #[arg(long)]
    json: bool,
    /// Also print the start of the prompt (stored without secrets: admission refuses or redacts them)
    #[arg(long)]
    show_prompt: bool,
}

/// How much of the prompt `job --show-prompt` prints.
const PROMPT_EXCERPT_CHARS: usize = 400;

/// The first `n` characters of `text`, marked when cut.
pub(super) fn excerpt(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((cut, _)) => format!("{}… ({} more bytes)", &text[..cut], text.len() - cut),
        None => text.to_string(),
    }
}

/// An attempt's duration in words: `850ms`, `12.3s`, `4m05s`, `2h03m`.
pub(super) fn took(ms: Option<u64>) -> String {
    ms.map_or_else(|| "-".into(), crate::render::duration_ms)
}

pub async fn job(args: JobArgs, home: Option<&PathBuf>) -> Result<i32, Failure> {
    if let Some(action) = args.action {
        return crate::controls::job_action(action, home).await;
    }
    let (_, store) = open_store(home).await?;
    let fragment = args.id.unwrap_or_default();
    let id = crate::controls::full_id(store.as_ref(), IdKind::Job, &fragment).await?;
    let j = store.job(&id).await.map_err(io)?.ok_or_else(|| {
        Failure::new(
            exit_status::USAGE,
            format!("no job '{id}': list them with `agentlane jobs`"),
        )
    })?;
    let blocks = blocks_of(store.as_ref(), std::slice::from_ref(&j)).await?;
    let attempts = store.job_dispatches(&j.id).await.map_err(io)?;
    let events = store.job_events(&j.id).await.map_err(io)?;
    let admission: Vec<Value> = events
        .iter()
        .filter(|e| e.kind == "job_admitted")
        .map(|e| json!({"at": e.at, "prompt_redacted": e.body["prompt_redacted"], "reason": e.body["reason"]}))
        .collect();
    let controls: Vec<Value> = events
        .iter()
        .filter(|e| e.kind == "operator_action")
        .map(|e| json!({"at": e.at, "action": e.body["action"], "by": e.body["by"], "why": e.body["why"], "from": e.body["from"]}))
        .collect();
    let decisions: Vec<Value> = events
        .into_iter()
        .filter(|e| e.kind == "job_decided" || e.kind == "job_decision_rejected")
        .map(|e| json!({"at": e.at, "kind": e.kind, "attempt": e.body["attempt"], "classifier": e.body["classifier"], "action": e.body["action"], "reason": e.body["reason"]}))
        .collect();
    // The last attempt's output, from the store: it reads the same on any host.
    let last_record = match attempts.last() {
        Some(d) => store.dispatch(&d.dispatch_id).await.map_err(io)?,
        None => None,
    };
    let last_host = last_record.as_ref().and_then(crate::runs::ran_on);
    let last = last_record.and_then(|r| r.report);
    let tail = |k: &str| {
        last.as_ref()
            .and_then(|r| r[k].as_str())
            .unwrap_or("")
            .to_string()
    };
    let (stdout_tail, stderr_tail) = (tail("stdout_tail"), tail("stderr_tail"));
    if args.json {
        let mut v = job_json(&j, &blocks);
        v["prompt_bytes"] = json!(j.prompt.len());
        if args.show_prompt {
            v["prompt_excerpt"] = json!(excerpt(&j.prompt, PROMPT_EXCERPT_CHARS));
        }
        v["attempts_detail"] = json!(attempts
            .iter()
            .map(|d| json!({"dispatch_id": d.dispatch_id, "classifier": d.classifier, "exit_code": d.exit_code, "started_at": d.created_at, "finished_at": d.finished_at, "duration_ms": d.duration_ms}))
            .collect::<Vec<_>>());
        if last.is_some() {
            v["last_attempt_tails"] = json!({"stdout": stdout_tail, "stderr": stderr_tail});
        }
        if let Some(h) = &last_host {
            v["last_attempt_host"] = json!(h);
        }
        if let Some(u) = crate::usage_cmd::job_usage_json(store.as_ref(), &j.id).await? {
            v["usage"] = u;
        }
        if let Some(w) = last.as_ref().and_then(|r| r.get("watchdog")) {
            v["last_attempt_watchdog"] = w.clone();
        }
        v["decisions"] = json!(decisions);
        v["admission"] = json!(admission);
        if !controls.is_empty() {
            v["operator_actions"] = json!(controls);
        }
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return Ok(0);
    }
    println!(
        "job        {}\nkind       {}\nlane       {}\nroute      {}\nstate      {}\nattempts   {}",
        j.id,
        j.kind,
        j.lane,
        j.route,
        j.state().label(),
        j.attempts
    );
    println!(
        "class      {}\nnext       {}\nreason     {}",
        j.classifier.as_deref().unwrap_or("-"),
        next_action(&j, &blocks),
        reason(&j, &blocks).as_deref().unwrap_or("-")
    );
    if let Some(i) = &j.incident_id {
        println!("incident   {i}");
    }
    for line in crate::usage_cmd::job_usage_lines(store.as_ref(), &j.id).await? {
        println!("{line}");
    }
    println!(
        "prompt     {} bytes{}",
        j.prompt.len(),
        if args.show_prompt {
            String::new()
        } else {
            " (--show-prompt prints its start)".to_string()
        }
    );
    if !j.fields.is_empty() {
        let fields: Vec<String> = j.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("fields     {}", fields.join(" "));
    }
    println!(
        "created    {}{}",
        j.created_at,
        j.finished_at()
            .map(|f| format!("   finished {f}"))
            .unwrap_or_default()
    );
    if args.show_prompt {
        println!(
            "\nprompt:\n  {}",
            excerpt(&j.prompt, PROMPT_EXCERPT_CHARS).replace('\n', "\n  ")
        );
    }
    if let Some(key) = &j.key {
        println!("key        {key}");
    }
    if let Some(label) = &j.label {
        println!("label      {label}");
    }
    for a in &admission {
        println!("admission  {}", a["reason"].as_str().unwrap_or("-"));
    }
    if !controls.is_empty() {
        println!("\noperator actions:");
        for c in &controls {
            let why = c["why"].as_str().unwrap_or("");
            println!(
                "  {}  {} by {}{}",
                c["at"].as_str().unwrap_or(""),
                c["action"].as_str().unwrap_or(""),
                c["by"].as_str().unwrap_or(""),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {why}")
                }
            );
        }
    }
    println!("\ndecisions:");
    for d in &decisions {
        println!(
            "  {}  attempt {}  {}",
            d["at"].as_str().unwrap_or(""),
            d["attempt"],
            d["reason"].as_str().unwrap_or("")
        );
    }
    println!("\nattempts:");
    for (n, d) in attempts.iter().enumerate() {
        println!(
            "  {}  {}  {}  started {}  took {}{}",
            n + 1,
            d.dispatch_id,
            d.classifier.as_deref().unwrap_or("(no exit)"),
            d.created_at,
            took(d.duration_ms),
            d.exit_code
                .map(|c| format!("  exit {c}"))
                .unwrap_or_default()
        );
    }
    // The watchdog stopped the last attempt: a warning even on a success
    // (a CLI that printed its result and did not exit).
    if let Some(w) = last.as_ref().and_then(|r| r.get("watchdog")) {
        println!(
            "\nwarning: the last attempt was stopped by the watchdog ({}): {}",
            w["kind"].as_str().unwrap_or("?"),
            w["message"].as_str().unwrap_or("")
        );
    }
    if let Some(h) = last_host.filter(|h| *h != agentlane::os::host_name()) {
        println!("\nthe last attempt ran on {h}, which holds its full artifacts (`agentlane show` names them); its tails:");
    }
    if last.is_some() {
        for (name, text) in [("stdout", &stdout_tail), ("stderr", &stderr_tail)] {
            if text.trim().is_empty() {
                continue;
            }
            println!("\nlast attempt's {name} (tail):");
            for line in text.lines() {
                println!("  {line}");
            }
        }
    }
    Ok(0)
}
