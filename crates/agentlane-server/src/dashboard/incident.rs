//! The incident page (`/incidents/{id}`): its evidence, the jobs it holds,
//! the parts its fingerprint is made of, and a button that resolves it
//! (through the API's resolve, the library call `incident resolve` uses).

use agentlane::class::Class;
use agentlane::model::{Incident, IncidentState, Job};
use agentlane::store::StoreError;
use maud::{html, Markup};
use serde_json::Value;

use super::layout::{job_link, label, when};
use crate::state::AppState;

/// Affected jobs read one by one for their state; the rest are listed by id.
const JOBS_READ: usize = 100;

/// What the page shows.
pub struct IncidentView {
    incident: Incident,
    job_ids: Vec<String>,
    jobs: Vec<Job>,
    /// The newest affected job's last report: where the executable resolved
    /// and the working directory, two of the fingerprint's parts.
    report: Option<Value>,
}

/// Reads an incident and its jobs (None: no such incident).
pub async fn load(state: &AppState, id: &str) -> Result<Option<IncidentView>, StoreError> {
    let Some((incident, job_ids)) = state.store.incident(id).await? else {
        return Ok(None);
    };
    let mut jobs = Vec::new();
    for j in job_ids.iter().take(JOBS_READ) {
        if let Some(job) = state.store.job(j).await? {
            jobs.push(job);
        }
    }
    let mut report = None;
    if let Some(d) = jobs.iter().find_map(|j| j.last_dispatch_id.clone()) {
        report = state.store.dispatch(&d).await?.and_then(|r| r.report);
    }
    Ok(Some(IncidentView {
        incident,
        job_ids,
        jobs,
        report,
    }))
}

/// The page's body.
pub fn body(v: &IncidentView) -> Markup {
    let i = &v.incident;
    let info = i.classifier.info();
    let open = i.state == IncidentState::Open;
    let report_text = |k: &str| {
        v.report
            .as_ref()
            .and_then(|r| r.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    html! {
        h1 { "Incident " code.id-full { (i.id) } }
        dl.facts #incident-facts data-state=(i.state.label()) {
            dt { "state" } dd #incident-state { (label(i.state.label())) }
            dt { "class" } dd { (label(&i.classifier.label())) " — " (info.meaning) }
            dt { "priority" } dd { (i.priority) }
            dt { "repair address" } dd { strong { (i.repair_address.label()) } }
            dt { "repair hint" } dd.hint { (i.repair_hint) }
            dt { "seen" } dd { (i.occurrences) " time(s), " (i.affected_jobs) " job(s); first " (when(&i.first_seen)) ", last " (when(&i.last_seen)) }
            @if let Some(at) = &i.reset_at { dt { "resets at" } dd { (when(&at.to_string())) } }
            @if let Some(at) = &i.resolved_at { dt { "resolved" } dd { (when(at)) @if let Some(r) = &i.resolution { ": " (r) } } }
        }
        section aria-labelledby="h-evidence" {
            h2 #h-evidence { "Evidence" }
            @match &i.evidence {
                Some(e) => pre.evidence { (e) },
                None => p.empty { "(none recorded)" },
            }
            h3 { "Usual repair" }
            ol { @for step in info.repair { li { (step) } } }
        }
        section aria-labelledby="h-fingerprint" {
            h2 #h-fingerprint { "Fingerprint " code { (i.failure_fingerprint) } }
            p.small { "One hash over these parts: failures that share them are this one incident." }
            dl.facts {
                dt { "class" } dd { code { (i.classifier.label()) } }
                dt { "route" } dd { code { (i.route.as_deref().unwrap_or("-")) } }
                dt { "executable" } dd { code { (report_text("cli_path").unwrap_or_else(|| "(not resolved, or no attempt ran)".into())) } }
                dt { "working directory root" } dd { code { (report_text("repo_root").or_else(|| report_text("cwd")).unwrap_or_else(|| "-".into())) } }
                dt { "error signature" } dd { code { (i.evidence.as_deref().map(agentlane::fingerprint::normalize_signature).unwrap_or_default()) } }
                dt { "host" } dd { (i.host) (host_note(i.classifier)) }
            }
        }
        section aria-labelledby="h-jobs" {
            h2 #h-jobs { "Affected jobs" }
            @if v.job_ids.is_empty() {
                p.empty { "No job is attached: it was opened by a preflight check, and the route's waiting jobs are blocked behind it." }
            } @else {
                table.jobs #incident-jobs { thead { tr { th scope="col" { "job" } th scope="col" { "label" } th scope="col" { "state" } th scope="col" { "reason" } } }
                    tbody {
                        @for j in &v.jobs {
                            tr data-job=(j.id) data-state=(j.state().label()) {
                                td { (job_link(&j.id)) } td.label-text { (j.label.as_deref().unwrap_or("-")) }
                                td { (label(j.state().label())) } td.reason { (j.reason.as_deref().unwrap_or("")) }
                            }
                        }
                        @for id in v.job_ids.iter().skip(v.jobs.len()) {
                            tr data-job=(id) { td { (job_link(id)) } td colspan="3" { "" } }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-resolve" {
            h2 #h-resolve { "Resolve" }
            @if open {
                p { "Once the cause is repaired: close the incident, release the jobs parked behind it and run its failed jobs again." }
                button #resolve type="button" data-incident=(i.id) { "Resolve and release jobs" }
                noscript { p { "Without JavaScript: " code { "agentlane incident resolve " (i.id) " --retry-failed --why '…'" } } }
            } @else {
                p { "Resolved: nothing to do." }
            }
        }
    }
}

fn host_note(class: Class) -> &'static str {
    if class.is_host_local() {
        " (part of the fingerprint: this failure is this host's)"
    } else {
        " (not part of the fingerprint: the same failure on any host is this incident)"
    }
}
