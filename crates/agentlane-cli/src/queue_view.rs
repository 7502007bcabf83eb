//! `agentlane jobs`, `job`, `incidents`, `incident`, `status`: the queue explains itself.

use std::path::PathBuf;

use agentlane::exit_status;
use agentlane::model::RouteBlock;
use agentlane::queue::{Job, JobFilter, JobState};
use agentlane::store::{IdKind, Store};
use clap::{Args, Subcommand};
use comfy_table::Cell;
use serde_json::{json, Value};

use crate::{open_store, Failure};

fn io(e: impl std::fmt::Display) -> Failure {
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
fn excerpt(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((cut, _)) => format!("{}… ({} more bytes)", &text[..cut], text.len() - cut),
        None => text.to_string(),
    }
}

/// An attempt's duration in words: `850ms`, `12.3s`, `4m05s`, `2h03m`.
fn took(ms: Option<u64>) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_takes_words_not_raw_milliseconds() {
        for (ms, want) in [
            (None, "-"),
            (Some(0), "0ms"),
            (Some(850), "850ms"),
            (Some(12_345), "12.3s"),
            (Some(245_000), "4m05s"),
            (Some(7_380_000), "2h03m"),
        ] {
            assert_eq!(took(ms), want, "{ms:?}");
        }
    }

    #[test]
    fn status_names_open_and_half_open_breakers_with_the_next_probe() {
        use agentlane::model::{BreakerState, RouteBreaker};
        let at: jiff::Timestamp = "2031-01-01T12:00:00Z".parse().unwrap();
        let row = |route: &str, state, trial: Option<&str>| RouteBreaker {
            route: route.into(),
            state,
            opened_at: Some(at),
            next_probe_at: (state == BreakerState::Open)
                .then(|| "2031-01-01T12:01:00Z".parse().unwrap()),
            probes_failed: 1,
            reason: "5 of the last 10 attempts within 5m failed at runtime".into(),
            trial_job: trial.map(str::to_string),
            changed_at: at,
            incident_id: None,
            version: 3,
        };
        let lines = breaker_lines(&[
            row("a", BreakerState::Open, None),
            row("b", BreakerState::HalfOpen, Some("job-1")),
            row("c", BreakerState::HalfOpen, None),
            row("d", BreakerState::Closed, None),
        ]);
        assert_eq!(
            lines,
            [
                "route a: circuit breaker open since 2031-01-01T12:00:00Z; next probe at 2031-01-01T12:01:00Z (1 probe failed): 5 of the last 10 attempts within 5m failed at runtime",
                "route b: circuit breaker half-open: trial job job-1 running",
                "route c: circuit breaker half-open: the next job runs alone as the trial",
            ]
        );
    }

    #[test]
    fn an_excerpt_cuts_on_a_character_and_says_how_much_is_left() {
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt("héllo wörld", 5), "héllo… (7 more bytes)");
    }
}

#[derive(Debug, Args)]
pub struct IncidentsArgs {
    /// Only open incidents
    #[arg(long)]
    open: bool,
    /// How many (0 for all)
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print a JSON array
    #[arg(long)]
    json: bool,
}

pub async fn incidents(args: IncidentsArgs, home: Option<&PathBuf>) -> Result<i32, Failure> {
    let (_, store) = open_store(home).await?;
    let mut rows = store.incidents(args.open).await.map_err(io)?;
    // The store returns them all (incidents are few): the total is exact.
    let total = rows.len();
    if args.limit != 0 {
        rows.truncate(args.limit);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows).expect("json"));
        return Ok(0);
    }
    if rows.is_empty() {
        println!("no incidents");
        return Ok(0);
    }
    let mut t = table(&[
        "incident",
        "state",
        "priority",
        "address",
        "class",
        "jobs",
        "seen",
        "route",
        "repair hint",
    ]);
    for i in &rows {
        t.add_row(vec![
            Cell::new(&i.id),
            crate::render::label_cell(&i.state.to_string()),
            Cell::new(i.priority),
            Cell::new(i.repair_address),
            crate::render::label_cell(&i.classifier.to_string()),
            Cell::new(i.affected_jobs),
            Cell::new(i.occurrences),
            Cell::new(i.route.as_deref().unwrap_or_default()),
            Cell::new(&i.repair_hint),
        ]);
    }
    println!("{t}");
    let quotas = store.quota_incidents().await.map_err(io)?;
    for line in quota_lines(&quotas) {
        println!("{line}");
    }
    if rows.len() < total {
        println!(
            "{}",
            crate::render::cut_footer(rows.len(), Some(total as u64))
        );
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct IncidentArgs {
    #[command(subcommand)]
    action: Option<IncidentAction>,
    /// The incident id (to show it)
    id: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum IncidentAction {
    /// Close an incident and release its parked jobs back to their lane
    Resolve {
        /// The incident id, or a unique prefix or suffix of it (6+ characters)
        id: String,
        /// Also run again the failed jobs it covers (their attempts are kept)
        #[arg(long)]
        retry_failed: bool,
        /// Why (recorded as the resolution, with who resolved it)
        #[arg(long)]
        why: Option<String>,
    },
}

pub async fn incident(args: IncidentArgs, home: Option<&PathBuf>) -> Result<i32, Failure> {
    let (_, store) = open_store(home).await?;
    if let Some(IncidentAction::Resolve {
        id,
        retry_failed,
        why,
    }) = args.action
    {
        let id = crate::controls::full_id(store.as_ref(), IdKind::Incident, &id).await?;
        let who = crate::controls::actor(why);
        let done = store
            .resolve_incident(&id, &who, retry_failed)
            .await
            .map_err(io)?
            .ok_or_else(|| {
                Failure::new(
                    exit_status::USAGE,
                    format!("incident '{id}' is not open: list the open ones with `agentlane incidents --open`"),
                )
            })?;
        if args.json {
            println!(
                "{}",
                json!({"incident_id": id, "by": who.by, "released": done.released, "retried": done.retried})
            );
        } else if retry_failed {
            println!(
                "resolved {id}; released {} parked job(s) and queued {} failed job(s) again",
                done.released, done.retried
            );
        } else {
            println!(
                "resolved {id}; released {} parked job(s) back to their lane",
                done.released
            );
        }
        return Ok(0);
    }
    let id = args.id.ok_or_else(|| {
        Failure::new(
            exit_status::USAGE,
            "give an incident id, or `incident resolve ID`",
        )
    })?;
    let id = crate::controls::full_id(store.as_ref(), IdKind::Incident, &id).await?;
    let (i, jobs) = store.incident(&id).await.map_err(io)?.ok_or_else(|| {
        Failure::new(
            exit_status::USAGE,
            format!("no incident '{id}': list them with `agentlane incidents`"),
        )
    })?;
    if args.json {
        let mut v = serde_json::to_value(&i).expect("json");
        v["jobs"] = json!(jobs);
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return Ok(0);
    }
    println!(
        "incident     {}\nstate        {}\nclass        {}\npriority     {}\naddress      {}",
        i.id, i.state, i.classifier, i.priority, i.repair_address
    );
    println!(
        "fingerprint  {}\nroute        {}\nlane         {}\nhost         {}",
        i.failure_fingerprint,
        i.route.as_deref().unwrap_or("-"),
        i.lane.as_deref().unwrap_or("-"),
        i.host
    );
    println!(
        "seen         {} time(s), {} job(s), {} .. {}",
        i.occurrences, i.affected_jobs, i.first_seen, i.last_seen
    );
    if let Some(at) = i.reset_at {
        println!("resets at    {at} (the latest reset its failures named)");
    }
    println!(
        "evidence     {}\nrepair       {}",
        i.evidence.as_deref().unwrap_or("-"),
        i.repair_hint
    );
    println!("\naffected jobs:");
    for j in &jobs {
        println!("  {j}");
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON
    #[arg(long)]
    json: bool,
    /// Redraw every INTERVAL (2s if none given; at least 500ms) until Ctrl-C: on a terminal the screen is redrawn, piped a new block is printed when something changed
    #[arg(long, value_name = "INTERVAL", num_args = 0..=1, default_missing_value = "2s", value_parser = crate::watch::parse_interval)]
    watch: Option<std::time::Duration>,
}

pub async fn status(
    args: StatusArgs,
    home: Option<&PathBuf>,
    config: Option<&std::path::Path>,
) -> Result<i32, Failure> {
    let (_, store) = open_store(home).await?;
    // The configuration names the lanes' budgets; without one, none holds.
    let config = crate::load_config(config).ok().flatten();
    let config = config.as_ref();
    match args.watch {
        Some(interval) => {
            crate::watch::watch_status(interval, || {
                render_status(store.as_ref(), args.json, config)
            })
            .await
        }
        None => {
            print!(
                "{}",
                render_status(store.as_ref(), args.json, config).await?
            );
            Ok(0)
        }
    }
}

/// One line per account out of quota: `claude account (key …a1f3) is out of
/// quota until 15:00 UTC; 42 jobs parked (incident ID)`.
pub(crate) fn quota_lines(quotas: &[agentlane::model::QuotaIncident]) -> Vec<String> {
    quotas
        .iter()
        .map(|q| {
            let who = q.account_label.clone().unwrap_or_else(|| {
                format!("the account of route {}", q.route.as_deref().unwrap_or("?"))
            });
            let until = match q.reset_at {
                Some(at) => {
                    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
                    let day = at.strftime("%Y-%m-%d").to_string();
                    if day == today {
                        format!("until {} UTC", at.strftime("%H:%M"))
                    } else {
                        format!("until {} UTC", at.strftime("%Y-%m-%d %H:%M"))
                    }
                }
                None => "with no reset time (a spend cap?) until an operator resolves it".into(),
            };
            format!(
                "{who} is out of quota {until}; {} job{} parked (incident {}; `agentlane incident resolve {}` releases them now)",
                q.parked,
                if q.parked == 1 { "" } else { "s" },
                q.id,
                q.id
            )
        })
        .collect()
}

/// One line per route whose circuit breaker is not closed: open (since
/// when, why, the next probe) or half-open (its trial).
fn breaker_lines(breakers: &[agentlane::model::RouteBreaker]) -> Vec<String> {
    use agentlane::model::BreakerState;
    breakers
        .iter()
        .filter_map(|b| match b.state {
            BreakerState::Closed => None,
            BreakerState::Open => Some(format!(
                "route {}: circuit breaker open since {}; next probe at {} ({} probe{} failed): {}",
                b.route,
                b.opened_at.map_or_else(|| "?".into(), |t| t.to_string()),
                b.next_probe_at
                    .map_or_else(|| "now".into(), |t| t.to_string()),
                b.probes_failed,
                if b.probes_failed == 1 { "" } else { "s" },
                b.reason
            )),
            BreakerState::HalfOpen => Some(format!(
                "route {}: circuit breaker half-open: {}",
                b.route,
                match &b.trial_job {
                    Some(job) => format!("trial job {job} running"),
                    None => "the next job runs alone as the trial".into(),
                }
            )),
        })
        .collect()
}

/// The status as printed: JSON (one line) or the human summary.
async fn render_status(
    store: &dyn Store,
    json_out: bool,
    config: Option<&agentlane::config::Config>,
) -> Result<String, Failure> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let s = store.status().await.map_err(io)?;
    let holds = crate::usage_cmd::holds(store, config).await?;
    let open = store.incidents(true).await.map_err(io)?;
    let paused = store.lane_pauses().await.map_err(io)?;
    let quotas = store.quota_incidents().await.map_err(io)?;
    let breakers: Vec<agentlane::model::RouteBreaker> = store
        .route_breakers()
        .await
        .map_err(io)?
        .into_iter()
        .filter(|b| b.state != agentlane::model::BreakerState::Closed)
        .collect();
    if json_out {
        let lanes: Vec<Value> = s
            .lanes
            .iter()
            .map(|(l, st, n)| json!({"lane": l, "state": st, "count": n}))
            .collect();
        let classes: Vec<Value> = s
            .classes
            .iter()
            .map(|(c, n)| json!({"classifier": c, "count": n}))
            .collect();
        let mut v = json!({"lanes": lanes, "classes": classes, "open_incidents": open});
        if !paused.is_empty() {
            v["paused_lanes"] = json!(paused);
        }
        if !holds.is_empty() {
            v["held_lanes"] = json!(holds);
        }
        if !quotas.is_empty() {
            v["accounts_out_of_quota"] = json!(quotas);
        }
        if !breakers.is_empty() {
            v["route_breakers"] = json!(breakers);
        }
        return Ok(format!("{v}\n"));
    }
    let mut t = table(&["lane", "state", "jobs"]);
    for (l, st, n) in &s.lanes {
        t.add_row(vec![
            Cell::new(l),
            crate::render::label_cell(st),
            Cell::new(n),
        ]);
    }
    let _ = writeln!(out, "{t}");
    let classes: Vec<String> = s.classes.iter().map(|(c, n)| format!("{c} {n}")).collect();
    let _ = writeln!(
        out,
        "latest class per job: {}",
        if classes.is_empty() {
            "-".into()
        } else {
            classes.join(", ")
        }
    );
    let _ = writeln!(out, "open incidents: {}", open.len());
    for i in &open {
        let _ = writeln!(
            out,
            "  {} [{} p{}] {} x{}: {}",
            i.id, i.repair_address, i.priority, i.classifier, i.affected_jobs, i.repair_hint
        );
    }
    for line in quota_lines(&quotas) {
        let _ = writeln!(out, "{line}");
    }
    for line in breaker_lines(&breakers) {
        let _ = writeln!(out, "{line}");
    }
    for p in &paused {
        let _ = writeln!(
            out,
            "lane {} paused by {} at {}{} (`agentlane lane resume {}`)",
            p.lane,
            p.by,
            p.at,
            if p.why.is_empty() {
                String::new()
            } else {
                format!(": {}", p.why)
            },
            p.lane
        );
    }
    for h in &holds {
        let _ = writeln!(out, "{h}: its jobs stay queued until the UTC day turns");
    }
    Ok(out)
}
