//! The overview (`/`): lanes with their counts and throughput, open
//! incidents by priority, and every route's three preflight lights. Each
//! section is a fragment (`/fragments/NAME`) the script re-fetches when an
//! event says it changed.

use std::collections::BTreeMap;
use std::time::Duration;

use agentlane::model::{Incident, JobFilter};
use agentlane::store::{LaneMinute, StoreError, StoredEvent};
use maud::{html, Markup};

use super::blocks::Blocks;
use super::layout::{incident_link, job_link, label, light, when};
use crate::state::AppState;

/// How many minutes the sparkline covers.
const SPARK_MINUTES: i64 = 60;
/// The preflight events read to find each route's latest.
const PREFLIGHT_EVENTS: usize = 500;
/// Affected jobs listed under an incident on the overview.
const JOBS_PER_INCIDENT: usize = 5;
/// Recent jobs listed.
const RECENT_JOBS: usize = 15;

/// The overview's sections, by fragment name.
pub const FRAGMENTS: &[&str] = &["lanes", "incidents", "routes", "jobs"];

/// One section of the overview, by name (None: no such section).
pub async fn fragment(state: &AppState, name: &str) -> Option<Result<Markup, StoreError>> {
    Some(match name {
        "lanes" => lanes(state).await,
        "incidents" => incidents(state).await,
        "routes" => routes(state).await,
        "jobs" => recent_jobs(state).await,
        _ => return None,
    })
}

/// The whole overview's body.
pub async fn body(state: &AppState) -> Result<Markup, StoreError> {
    let mut sections = Vec::new();
    for name in FRAGMENTS {
        if let Some(s) = fragment(state, name).await {
            sections.push((*name, s?));
        }
    }
    let title = |n: &str| match n {
        "lanes" => "Lanes",
        "incidents" => "Open incidents",
        "routes" => "Routes",
        _ => "Recent jobs",
    };
    Ok(html! {
        h1 { "Overview" }
        @for (name, markup) in sections {
            section aria-labelledby=(format!("h-{name}")) {
                h2 id=(format!("h-{name}")) { (title(name)) }
                div data-fragment=(format!("/fragments/{name}")) id=(format!("f-{name}")) { (markup) }
            }
        }
    })
}

/// Lanes: jobs per state, whether paused, and the jobs finished per minute.
async fn lanes(state: &AppState) -> Result<Markup, StoreError> {
    let status = state.store.status().await?;
    let pauses = state.store.lane_pauses().await?;
    let per_minute = state
        .store
        .finished_per_minute(Duration::from_secs(SPARK_MINUTES as u64 * 60))
        .await?;
    let mut counts: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (lane, st, n) in status.lanes {
        *counts.entry(lane).or_default().entry(st).or_default() += n;
    }
    if let Some(config) = &state.config {
        for lane in config.lanes.keys() {
            counts.entry(lane.clone()).or_default();
        }
    }
    for p in &pauses {
        counts.entry(p.lane.clone()).or_default();
    }
    if counts.is_empty() {
        return Ok(
            html! { p.empty { "No jobs yet: add one with " code { "agentlane enqueue --kind K --lane L --prompt …" } "." } },
        );
    }
    let now = jiff::Timestamp::now();
    let columns = [
        "queued",
        "scheduled",
        "running",
        "parked",
        "failed",
        "succeeded",
    ];
    Ok(html! {
        table.lanes {
            thead { tr {
                th scope="col" { "lane" }
                @for c in columns { th.num scope="col" { (c) } }
                th scope="col" { "finished / min, last hour" }
            } }
            tbody {
                @for (lane, by_state) in &counts {
                    @let pause = pauses.iter().find(|p| &p.lane == lane);
                    tr data-lane=(lane) {
                        th scope="row" {
                            (lane)
                            @if let Some(p) = pause {
                                " " span.label data-tone="warn" title=(format!("paused by {}: {}", p.by, p.why)) { "paused" }
                            }
                        }
                        @for c in columns {
                            @let n = by_state.get(c).copied().unwrap_or(0);
                            td.num.zero[n == 0] data-state=(c) data-count=(n) { (n) }
                        }
                        td { (sparkline(lane, &per_minute, now)) }
                    }
                }
            }
        }
    })
}

/// Jobs finished per minute over the last hour as an inline SVG polyline.
pub fn sparkline(lane: &str, points: &[LaneMinute], now: jiff::Timestamp) -> Markup {
    let mut buckets = [0u64; SPARK_MINUTES as usize];
    let this_minute = now.as_second() / 60;
    for p in points.iter().filter(|p| p.lane == lane) {
        let Ok(t) = format!("{}:00Z", p.minute).parse::<jiff::Timestamp>() else {
            continue;
        };
        let back = this_minute - t.as_second() / 60;
        if (0..SPARK_MINUTES).contains(&back) {
            buckets[(SPARK_MINUTES - 1 - back) as usize] += p.finished;
        }
    }
    let total: u64 = buckets.iter().sum();
    let peak = buckets.iter().copied().max().unwrap_or(0);
    let (w, h) = (120.0_f64, 24.0_f64);
    let step = w / (SPARK_MINUTES - 1) as f64;
    let line: Vec<String> = buckets
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let y = if peak == 0 {
                h - 1.0
            } else {
                h - 1.0 - (*n as f64 / peak as f64) * (h - 2.0)
            };
            format!("{:.1},{:.1}", i as f64 * step, y)
        })
        .collect();
    let summary = format!("{total} finished in the last hour, at most {peak} in a minute");
    html! {
        svg.spark width="120" height="24" viewBox="0 0 120 24" role="img" aria-label=(summary) data-total=(total) {
            title { (summary) }
            polyline points=(line.join(" ")) fill="none" stroke="currentColor" stroke-width="1.5" {}
        }
        " " span.spark-total { (total) "/h" }
    }
}

/// Open incidents, most urgent first, each with its class, affected jobs,
/// repair address and hint.
async fn incidents(state: &AppState) -> Result<Markup, StoreError> {
    let open = state.store.incidents(true).await?;
    if open.is_empty() {
        return Ok(html! { p.empty #no-incidents { "No open incidents." } });
    }
    let mut rows: Vec<(Incident, Vec<String>)> = Vec::with_capacity(open.len());
    for i in open {
        let jobs = match state.store.incident(&i.id).await? {
            Some((_, jobs)) => jobs,
            None => Vec::new(),
        };
        rows.push((i, jobs));
    }
    let blocks =
        Blocks::of_lanes(state, rows.iter().filter_map(|(i, _)| i.lane.as_deref())).await?;
    rows.sort_by(|a, b| {
        b.0.priority
            .cmp(&a.0.priority)
            .then_with(|| b.0.last_seen.cmp(&a.0.last_seen))
    });
    Ok(html! {
        ol.incidents {
            @for (i, jobs) in &rows {
                li.incident data-incident=(i.id) data-class=(i.classifier.label()) {
                    div.head {
                        (label(&i.classifier.label()))
                        " " span.priority title="priority (higher first)" { "P" (i.priority) }
                        " " span.address { "repair: " strong { (i.repair_address.label()) } }
                        " " (incident_link(&i.id))
                        @if let Some(r) = &i.route { " route " code { (r) } }
                        @if let Some(l) = &i.lane { " lane " code { (l) } }
                        " seen " (i.occurrences) "× · last " (when(&i.last_seen))
                    }
                    p.hint { (i.repair_hint) }
                    @let blocked = blocks.routes_of(&i.id);
                    @if !blocked.is_empty() {
                        p.blocks { "blocks route " @for (n, r) in blocked.iter().enumerate() { @if n > 0 { ", " } code { (r) } } ": its waiting jobs are not claimed until this is resolved" }
                    }
                    p.jobs {
                        (i.affected_jobs) " affected job(s)"
                        @if !jobs.is_empty() {
                            ": "
                            @for (n, j) in jobs.iter().take(JOBS_PER_INCIDENT).enumerate() {
                                @if n > 0 { ", " }
                                (job_link(j))
                            }
                            @if jobs.len() > JOBS_PER_INCIDENT { " and " (jobs.len() - JOBS_PER_INCIDENT) " more" }
                        }
                    }
                }
            }
        }
    })
}

/// A route's latest preflight, from its newest `preflight_checked` event.
struct Preflight<'e> {
    event: &'e StoredEvent,
}

impl Preflight<'_> {
    fn flag(&self, k: &str) -> Option<bool> {
        self.event.body.get(k).and_then(|v| v.as_bool())
    }
    fn text(&self, k: &str) -> Option<&str> {
        self.event.body.get(k).and_then(|v| v.as_str())
    }
}

/// Every route (configured or seen) with its three preflight lights and its
/// circuit breaker when one is not closed.
async fn routes(state: &AppState) -> Result<Markup, StoreError> {
    let events = state
        .store
        .recent_events("preflight_checked", PREFLIGHT_EVENTS)
        .await?;
    let breakers = state.store.route_breakers().await?;
    let mut latest: BTreeMap<String, Option<Preflight>> = BTreeMap::new();
    if let Some(config) = &state.config {
        for name in config.routes.keys() {
            latest.insert(name.clone(), None);
        }
    }
    // Newest first: the first event of a route is its latest.
    for e in &events {
        if let Some(route) = e.body.get("route").and_then(|r| r.as_str()) {
            let slot = latest.entry(route.to_string()).or_insert(None);
            if slot.is_none() {
                *slot = Some(Preflight { event: e });
            }
        }
    }
    if latest.is_empty() {
        return Ok(
            html! { p.empty { "No routes checked yet: run " code { "agentlane doctor" } " or a worker." } },
        );
    }
    Ok(html! {
        table.routes {
            thead { tr {
                th scope="col" { "route" } th scope="col" { "preflight" } th scope="col" { "class" }
                th scope="col" { "checked" } th scope="col" { "repair hint" }
            } }
            tbody {
                @for (route, p) in &latest {
                    @let failing = p.as_ref().is_some_and(|p| !(p.flag("cli_resolves") == Some(true) && p.flag("cli_ready") == Some(true) && p.flag("route_allowed") == Some(true)));
                    @let breaker = breakers.iter().find(|b| &b.route == route && b.state.label() != "closed");
                    tr data-route=(route) data-ok=(if p.is_none() { "unknown" } else if failing { "false" } else { "true" }) {
                        th scope="row" { code { (route) } }
                        td.lights {
                            (light("cli_resolves", p.as_ref().and_then(|p| p.flag("cli_resolves"))))
                            (light("cli_ready", p.as_ref().and_then(|p| p.flag("cli_ready"))))
                            (light("route_allowed", p.as_ref().and_then(|p| p.flag("route_allowed"))))
                            @if let Some(b) = breaker {
                                " " span.label data-tone="bad" title=(b.reason) { "breaker " (b.state.label()) }
                            }
                        }
                        td { (label(p.as_ref().and_then(|p| p.text("classifier")).unwrap_or("-"))) }
                        td {
                            @if let Some(p) = p {
                                (when(&p.event.at))
                                @if let Some(h) = p.text("host") { " on " (h) }
                            } @else { "never" }
                        }
                        td.hint { (p.as_ref().and_then(|p| p.text("repair_hint")).unwrap_or("")) }
                    }
                }
            }
        }
    })
}

/// The newest jobs, each linked to its page.
async fn recent_jobs(state: &AppState) -> Result<Markup, StoreError> {
    let filter = JobFilter {
        limit: RECENT_JOBS,
        ..JobFilter::default()
    };
    let jobs = state.store.jobs(&filter).await?;
    if jobs.is_empty() {
        return Ok(html! { p.empty { "No jobs yet." } });
    }
    let blocks = Blocks::of_jobs(state, &jobs).await?;
    Ok(html! {
        table.jobs {
            thead { tr {
                th scope="col" { "job" } th scope="col" { "label" } th scope="col" { "lane" }
                th scope="col" { "route" } th scope="col" { "state" } th.num scope="col" { "attempts" }
                th scope="col" { "class" } th scope="col" { "reason" } th scope="col" { "updated" }
            } }
            tbody {
                @for j in &jobs {
                    @let block = blocks.of_job(j);
                    tr data-job=(j.id) data-state=(j.state().label()) data-blocked=[block.map(|b| &b.incident_id)] {
                        td { (job_link(&j.id)) }
                        td.label-text { (j.label.as_deref().unwrap_or("-")) }
                        td { (j.lane) } td { code { (j.route) } }
                        td { (label(j.state().label())) @if block.is_some() { " " (label("blocked")) } }
                        td.num { (j.attempts) }
                        td { (label(j.classifier.as_deref().unwrap_or("-"))) }
                        td.reason { (block.map(|b| b.reason()).or_else(|| j.reason.clone()).unwrap_or_default()) }
                        td { (when(&j.updated_at)) }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sparkline_puts_each_minute_in_its_place() {
        let now: jiff::Timestamp = "2026-12-05T19:40:30Z".parse().unwrap();
        let p = |minute: &str, n| LaneMinute {
            lane: "main".into(),
            minute: minute.into(),
            finished: n,
        };
        let points = [
            p("2026-12-05T19:40", 4),
            p("2026-12-05T19:39", 2),
            p("2026-12-05T18:00", 9), // over an hour ago: left out
        ];
        let svg = sparkline("main", &points, now).into_string();
        assert!(svg.contains("data-total=\"6\""), "{svg}");
        assert!(
            svg.contains("6 finished in the last hour, at most 4 in a minute"),
            "{svg}"
        );
        // The newest minute is the right end, at the top (the peak).
        assert!(svg.contains("120.0,1.0\""), "{svg}");
        let other = sparkline("other", &points, now).into_string();
        assert!(other.contains("data-total=\"0\""), "{other}");
    }
}
