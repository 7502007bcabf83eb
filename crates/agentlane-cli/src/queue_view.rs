//! `agentlane jobs`, `job`, `incidents`, `incident`, `status`: the queue explains itself.

use std::path::PathBuf;

use agentlane::exit_status;
use agentlane::model::RouteBlock;
use agentlane::queue::{Job, JobFilter, JobState};
use agentlane::store::Store;
use clap::{Args, Subcommand};
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde_json::{json, Value};

use crate::{open_store, Failure};

fn io(e: impl std::fmt::Display) -> Failure {
    Failure::new(exit_status::IO_ERROR, e.to_string())
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(header.to_vec());
    t
}

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
pub struct JobsArgs {
    /// Only this lane
    #[arg(long)]
    lane: Option<String>,
    /// Only this state (queued, scheduled, running, succeeded, failed, parked, cancelled)
    #[arg(long, value_parser = |s: &str| s.parse::<JobState>())]
    state: Option<JobState>,
    /// How many (0 for all)
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print a JSON array
    #[arg(long)]
    json: bool,
}

pub async fn jobs(args: JobsArgs, home: Option<&PathBuf>) -> Result<i32, Failure> {
    let (_, store) = open_store(home).await?;
    let rows = store
        .jobs(&JobFilter {
            lane: args.lane,
            state: args.state,
            limit: args.limit,
        })
        .await
        .map_err(io)?;
    let blocks = blocks_of(store.as_ref(), &rows).await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &rows
                    .iter()
                    .map(|j| job_json(j, &blocks))
                    .collect::<Vec<_>>()
            )
            .expect("json")
        );
        return Ok(0);
    }
    if rows.is_empty() {
        println!("no jobs: add one with `agentlane enqueue --kind K --lane L --prompt ...`");
        return Ok(0);
    }
    let mut t = table(&[
        "job", "kind", "lane", "route", "state", "attempts", "class", "next", "reason",
    ]);
    for j in &rows {
        t.add_row(vec![
            j.id.clone(),
            j.kind.clone(),
            j.lane.clone(),
            j.route.clone(),
            j.state().label().to_string(),
            j.attempts.to_string(),
            j.classifier.clone().unwrap_or_else(|| "-".into()),
            next_action(j, &blocks),
            reason(j, &blocks).unwrap_or_default(),
        ]);
    }
    println!("{t}");
    Ok(0)
}

#[derive(Debug, Args)]
pub struct JobArgs {
    /// The job id
    id: String,
    /// Print JSON (the job, plus its attempts and their dispatch ids)
    #[arg(long)]
    json: bool,
}

pub async fn job(args: JobArgs, home: Option<&PathBuf>) -> Result<i32, Failure> {
    let (_, store) = open_store(home).await?;
    let j = store.job(&args.id).await.map_err(io)?.ok_or_else(|| {
        Failure::new(
            exit_status::USAGE,
            format!("no job '{}': list them with `agentlane jobs`", args.id),
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
    let decisions: Vec<Value> = events
        .into_iter()
        .filter(|e| e.kind == "job_decided" || e.kind == "job_decision_rejected")
        .map(|e| json!({"at": e.at, "kind": e.kind, "attempt": e.body["attempt"], "classifier": e.body["classifier"], "action": e.body["action"], "reason": e.body["reason"]}))
        .collect();
    if args.json {
        let mut v = job_json(&j, &blocks);
        v["attempts_detail"] = json!(attempts
            .iter()
            .map(|d| json!({"dispatch_id": d.dispatch_id, "classifier": d.classifier, "exit_code": d.exit_code, "started_at": d.created_at, "finished_at": d.finished_at}))
            .collect::<Vec<_>>());
        v["decisions"] = json!(decisions);
        v["admission"] = json!(admission);
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
    if let Some(key) = &j.key {
        println!("key        {key}");
    }
    for a in &admission {
        println!("admission  {}", a["reason"].as_str().unwrap_or("-"));
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
    for d in &attempts {
        println!(
            "  {}  {}  {}",
            d.dispatch_id,
            d.classifier.as_deref().unwrap_or("(no exit)"),
            d.created_at
        );
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct IncidentsArgs {
    /// Only open incidents
    #[arg(long)]
    open: bool,
    /// Print a JSON array
    #[arg(long)]
    json: bool,
}

pub async fn incidents(args: IncidentsArgs, home: Option<&PathBuf>) -> Result<i32, Failure> {
    let (_, store) = open_store(home).await?;
    let rows = store.incidents(args.open).await.map_err(io)?;
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
            i.id.clone(),
            i.state.to_string(),
            i.priority.to_string(),
            i.repair_address.to_string(),
            i.classifier.to_string(),
            i.affected_jobs.to_string(),
            i.occurrences.to_string(),
            i.route.clone().unwrap_or_default(),
            i.repair_hint.clone(),
        ]);
    }
    println!("{t}");
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
        /// The incident id
        id: String,
    },
}

pub async fn incident(args: IncidentArgs, home: Option<&PathBuf>) -> Result<i32, Failure> {
    let (_, store) = open_store(home).await?;
    if let Some(IncidentAction::Resolve { id }) = args.action {
        let released = store
            .resolve_incident(&id, "resolved by an operator")
            .await
            .map_err(io)?
            .ok_or_else(|| {
                Failure::new(
                    exit_status::USAGE,
                    format!("no open incident '{id}': list them with `agentlane incidents --open`"),
                )
            })?;
        println!("resolved {id}; released {released} parked job(s) back to their lane");
        return Ok(0);
    }
    let id = args.id.ok_or_else(|| {
        Failure::new(
            exit_status::USAGE,
            "give an incident id, or `incident resolve ID`",
        )
    })?;
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
}

pub async fn status(args: StatusArgs, home: Option<&PathBuf>) -> Result<i32, Failure> {
    let (_, store) = open_store(home).await?;
    let s = store.status().await.map_err(io)?;
    let open = store.incidents(true).await.map_err(io)?;
    if args.json {
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
        println!(
            "{}",
            json!({"lanes": lanes, "classes": classes, "open_incidents": open})
        );
        return Ok(0);
    }
    let mut t = table(&["lane", "state", "jobs"]);
    for (l, st, n) in &s.lanes {
        t.add_row(vec![l.clone(), st.clone(), n.to_string()]);
    }
    println!("{t}");
    let classes: Vec<String> = s.classes.iter().map(|(c, n)| format!("{c} {n}")).collect();
    println!(
        "latest class per job: {}",
        if classes.is_empty() {
            "-".into()
        } else {
            classes.join(", ")
        }
    );
    println!("open incidents: {}", open.len());
    for i in &open {
        println!(
            "  {} [{} p{}] {} x{}: {}",
            i.id, i.repair_address, i.priority, i.classifier, i.affected_jobs, i.repair_hint
        );
    }
    Ok(0)
}
