//! `agentlane usage`, and the usage lines of `jobs`, `job` and `status`
//! (issue 17): tokens, turns and dollars as the agent CLIs reported them,
//! summed per job, per route, lane, kind or UTC day, and the lanes their
//! daily budgets hold. Reading and rendering only: the store sums, the
//! library decides what a hold is.

use std::path::PathBuf;
use std::time::Duration;

use agentlane::config::Config;
use agentlane::model::{AttemptUsage, Usage, UsageGroup, UsageTotal};
use agentlane::store::Store;
use clap::{Args, ValueEnum};
use comfy_table::{Cell, CellAlignment};
use serde_json::{json, Value};

use crate::{open_store, Failure};

fn io(e: impl std::fmt::Display) -> Failure {
    Failure::new(agentlane::exit_status::IO_ERROR, e.to_string())
}

/// What `--by` groups by.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum By {
    /// The route each attempt ran on
    Route,
    /// The job's lane
    Lane,
    /// The job's kind
    Kind,
    /// The UTC day each attempt finished
    Day,
}

impl From<By> for UsageGroup {
    fn from(b: By) -> UsageGroup {
        match b {
            By::Route => UsageGroup::Route,
            By::Lane => UsageGroup::Lane,
            By::Kind => UsageGroup::Kind,
            By::Day => UsageGroup::Day,
        }
    }
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Only attempts that finished within this long (e.g. 24h, 7d); all when absent
    #[arg(long, value_parser = humantime::parse_duration)]
    since: Option<Duration>,
    /// Group by route, lane, kind or day (UTC)
    #[arg(long, value_enum, default_value = "route")]
    by: By,
    /// Print JSON: {"by", "since_secs", "groups": [...], "total": {...}}
    #[arg(long)]
    json: bool,
}

/// Dollars as printed: four decimals (a cheap turn costs fractions of a cent).
fn dollars(d: Option<f64>) -> String {
    d.map_or_else(|| "-".to_string(), |d| format!("${d:.4}"))
}

/// The groups' sum.
fn total_of(groups: &[UsageTotal]) -> UsageTotal {
    let mut t = UsageTotal {
        key: "total".into(),
        attempts: 0,
        input_tokens: 0,
        output_tokens: 0,
        cached_tokens: 0,
        cost_usd: None,
        turns: 0,
    };
    for g in groups {
        t.attempts += g.attempts;
        t.input_tokens = t.input_tokens.saturating_add(g.input_tokens);
        t.output_tokens = t.output_tokens.saturating_add(g.output_tokens);
        t.cached_tokens = t.cached_tokens.saturating_add(g.cached_tokens);
        t.turns = t.turns.saturating_add(g.turns);
        t.cost_usd = match (t.cost_usd, g.cost_usd) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }
    t
}

/// `agentlane usage`.
pub async fn usage(args: UsageArgs, home: Option<&PathBuf>) -> Result<i32, Failure> {
    let (_, store) = open_store(home).await?;
    let by = UsageGroup::from(args.by);
    let groups = store.usage_totals(by, args.since).await.map_err(io)?;
    let window = args.since.map_or_else(String::new, |s| {
        format!(" in the last {}", humantime::format_duration(s))
    });
    if args.json {
        let v = json!({
            "by": by.label(),
            "since_secs": args.since.map(|s| s.as_secs()),
            "groups": groups,
            "total": total_of(&groups),
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return Ok(0);
    }
    if groups.is_empty() {
        println!("no usage recorded{window}: usage is read from agents that print it (codex exec --json, claude -p --output-format json or stream-json, gemini/qwen --output-format json)");
        return Ok(0);
    }
    let mut t = crate::render::table(&[
        by.label(),
        "attempts",
        "input",
        "cached",
        "output",
        "turns",
        "cost",
    ]);
    let mut row = |g: &UsageTotal| {
        t.add_row(vec![
            Cell::new(&g.key),
            Cell::new(g.attempts).set_alignment(CellAlignment::Right),
            Cell::new(g.input_tokens).set_alignment(CellAlignment::Right),
            Cell::new(g.cached_tokens).set_alignment(CellAlignment::Right),
            Cell::new(g.output_tokens).set_alignment(CellAlignment::Right),
            Cell::new(g.turns).set_alignment(CellAlignment::Right),
            Cell::new(dollars(g.cost_usd)).set_alignment(CellAlignment::Right),
        ]);
    };
    for g in &groups {
        row(g);
    }
    if groups.len() > 1 {
        row(&total_of(&groups));
    }
    println!("{t}");
    println!("usage{window}, as the agent CLIs reported it (cost only where the CLI printed one)");
    Ok(0)
}

/// A job's usage for JSON: its sum and each attempt's; None when no attempt reported any.
pub(crate) async fn job_usage_json(
    store: &dyn Store,
    job_id: &str,
) -> Result<Option<Value>, Failure> {
    let attempts = store.job_usage(job_id).await.map_err(io)?;
    Ok(Usage::sum(attempts.iter().map(|a| &a.usage))
        .map(|total| json!({"total": total, "attempts": attempts})))
}

/// A job's usage as the text lines `agentlane job` prints (none when unreported).
pub(crate) async fn job_usage_lines(
    store: &dyn Store,
    job_id: &str,
) -> Result<Vec<String>, Failure> {
    let attempts: Vec<AttemptUsage> = store.job_usage(job_id).await.map_err(io)?;
    let Some(total) = Usage::sum(attempts.iter().map(|a| &a.usage)) else {
        return Ok(Vec::new());
    };
    let line = |u: &Usage| {
        format!(
            "{} in ({} cached), {} out, {} turns, {}{}",
            u.input_tokens,
            u.cached_tokens,
            u.output_tokens,
            u.turns.map_or_else(|| "-".to_string(), |t| t.to_string()),
            dollars(u.cost_usd),
            u.model
                .as_deref()
                .map(|m| format!(", {m}"))
                .unwrap_or_default()
        )
    };
    let mut out = vec![format!("usage      {}", line(&total))];
    if attempts.len() > 1 {
        for a in &attempts {
            out.push(format!(
                "  attempt {}  {}",
                a.attempt.map_or_else(|| "-".to_string(), |n| n.to_string()),
                line(&a.usage)
            ));
        }
    }
    Ok(out)
}

/// The lanes whose daily budget is spent, with what they spent.
pub(crate) async fn holds(
    store: &dyn Store,
    config: Option<&Config>,
) -> Result<Vec<agentlane::usage::LaneHold>, Failure> {
    let mut out = Vec::new();
    for lane in config.iter().flat_map(|c| c.lanes.values()) {
        if lane.budget_usd_per_day.is_none() {
            continue;
        }
        let spent = store.lane_spent_today(&lane.name).await.map_err(io)?;
        out.extend(agentlane::usage::lane_hold(
            &lane.name,
            spent,
            lane.budget_usd_per_day,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_total_sums_groups_and_keeps_an_unknown_cost_unknown() {
        let g = |k: &str, cost: Option<f64>| UsageTotal {
            key: k.into(),
            attempts: 2,
            input_tokens: 10,
            output_tokens: 1,
            cached_tokens: 5,
            cost_usd: cost,
            turns: 3,
        };
        let t = total_of(&[g("a", Some(0.5)), g("b", None), g("c", Some(0.25))]);
        assert_eq!((t.attempts, t.input_tokens, t.turns), (6, 30, 9));
        assert_eq!(t.cost_usd, Some(0.75));
        assert_eq!(total_of(&[g("b", None)]).cost_usd, None);
        assert_eq!(dollars(None), "-");
        assert_eq!(dollars(Some(0.0421875)), "$0.0422");
    }
}
