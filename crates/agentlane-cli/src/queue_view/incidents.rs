//! `agentlane incidents` and `agentlane incident ID`: one incident per cause, with its affected jobs.

use std::path::PathBuf;

use agentlane::exit_status;
use agentlane::store::IdKind;
use clap::{Args, Subcommand};
use comfy_table::Cell;
use serde_json::json;

use super::jobs::io;
use super::status::quota_lines;
use crate::render::table;
use crate::{open_store, Failure};

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
