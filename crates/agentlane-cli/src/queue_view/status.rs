//! `agentlane status`: lanes, classes, open incidents, accounts out of quota, breakers, paused lanes.

use std::path::PathBuf;

use agentlane::store::Store;
use clap::Args;
use comfy_table::Cell;
use serde_json::{json, Value};

use super::jobs::io;
use crate::render::table;
use crate::{open_store, Failure};

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
pub(super) fn breaker_lines(breakers: &[agentlane::model::RouteBreaker]) -> Vec<String> {
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
