//! The job page (`/jobs/{id}`): the timeline of its attempts (class,
//! decision, reason), the last attempt's output tails, its environment
//! fingerprint and exact argv, and an `agentlane` command that runs the same
//! dispatch again.

use agentlane::model::{Job, JobState};
use agentlane::store::{DispatchRecord, StoreError, StoredEvent};
use maud::{html, Markup};
use serde_json::Value;

use super::layout::{incident_link, label, when};
use crate::state::AppState;

/// Attempts whose dispatch records are read (the newest); older ones are
/// listed from their summary alone.
const DETAILED_ATTEMPTS: usize = 20;
/// A prompt longer than this is not put in the command line.
const PROMPT_IN_COMMAND: usize = 16 * 1024;

/// A word as the shell reads it back unchanged: bare when it is made of
/// safe characters, else single-quoted (a `'` inside as `'\''`).
pub fn shell_word(w: &str) -> String {
    let safe = !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b));
    if safe {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// The command that runs this job's dispatch again, outside the queue:
/// `agentlane exec --route R --kind K --cwd C --field k=v --prompt '…'`.
/// None when the prompt is too long for a command line (the page says how).
pub fn reproduce(job: &Job, cwd: Option<&str>) -> Option<String> {
    if job.prompt.len() > PROMPT_IN_COMMAND {
        return None;
    }
    let mut words = vec![
        "agentlane".to_string(),
        "exec".into(),
        "--route".into(),
        shell_word(&job.route),
        "--kind".into(),
        shell_word(&job.kind),
    ];
    if let Some(c) = cwd {
        words.push("--cwd".into());
        words.push(shell_word(c));
    }
    for (k, v) in &job.fields {
        let v = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        words.push("--field".into());
        words.push(shell_word(&format!("{k}={v}")));
    }
    words.push("--prompt".into());
    words.push(shell_word(&job.prompt));
    Some(words.join(" "))
}

/// What the page shows, read from the store.
pub struct JobView {
    job: Job,
    attempts: Vec<(agentlane::store::DispatchSummary, Option<DispatchRecord>)>,
    events: Vec<StoredEvent>,
    /// The hard stop it waits behind, when it does.
    block: Option<agentlane::model::RouteBlock>,
}

/// Reads a job and its attempts (None: no such job).
pub async fn load(state: &AppState, id: &str) -> Result<Option<JobView>, StoreError> {
    let Some(job) = state.store.job(id).await? else {
        return Ok(None);
    };
    let summaries = state.store.job_dispatches(&job.id).await?;
    let events = state.store.job_events(&job.id).await?;
    let first_detailed = summaries.len().saturating_sub(DETAILED_ATTEMPTS);
    let mut attempts = Vec::with_capacity(summaries.len());
    for (n, s) in summaries.into_iter().enumerate() {
        let record = if n >= first_detailed {
            state.store.dispatch(&s.dispatch_id).await?
        } else {
            None
        };
        attempts.push((s, record));
    }
    let block = super::blocks::Blocks::of_jobs(state, std::slice::from_ref(&job))
        .await?
        .of_job(&job)
        .cloned();
    Ok(Some(JobView {
        job,
        attempts,
        events,
        block,
    }))
}

fn prepare_of(r: &DispatchRecord) -> Option<&Value> {
    r.events
        .iter()
        .find(|e| e.kind == "runner_prepare")
        .map(|e| &e.body)
}

fn text<'v>(v: &'v Value, k: &str) -> Option<&'v str> {
    v.get(k).and_then(Value::as_str)
}

/// The page's body.
pub fn body(v: &JobView) -> Markup {
    let j = &v.job;
    let decisions: Vec<&StoredEvent> = v
        .events
        .iter()
        .filter(|e| e.kind == "job_decided" || e.kind == "job_decision_rejected")
        .collect();
    let controls: Vec<&StoredEvent> = v
        .events
        .iter()
        .filter(|e| e.kind == "operator_action")
        .collect();
    let last = v.attempts.last().and_then(|(_, r)| r.as_ref());
    let report = last.and_then(|r| r.report.as_ref());
    let prepare = last.and_then(prepare_of);
    let cwd = prepare.and_then(|p| text(p, "cwd"));
    html! {
        h1 { "Job " code.id-full { (j.id) } }
        dl.facts {
            @if let Some(l) = &j.label { dt { "label" } dd.label-text { (l) } }
            dt { "state" } dd #job-state { (label(j.state().label())) @if v.block.is_some() { " " (label("blocked")) } }
            dt { "lane" } dd { (j.lane) }
            dt { "route" } dd { code { (j.route) } }
            dt { "kind" } dd { (j.kind) }
            dt { "attempts" } dd { (j.attempts) }
            dt { "class" } dd { (label(j.classifier.as_deref().unwrap_or("-"))) }
            dt { "reason" } dd { (v.block.as_ref().map(|b| b.reason()).or_else(|| j.reason.clone()).unwrap_or_else(|| "-".into())) }
            @if let Some(i) = &j.incident_id { dt { "incident" } dd { (incident_link(i)) } }
            @if let Some(k) = &j.key { dt { "key" } dd { code { (k) } } }
            dt { "created" } dd { (when(&j.created_at)) }
            dt { "updated" } dd { (when(&j.updated_at)) }
            @if let Some(f) = j.finished_at() { dt { "finished" } dd { (when(f)) } }
            dt { "prompt" } dd { (j.prompt.len()) " bytes (stored without secrets)" }
        }
        section aria-labelledby="h-timeline" {
            h2 #h-timeline { "Attempts" }
            @if v.attempts.is_empty() {
                p.empty { "No attempt yet." }
            } @else {
                ol.timeline {
                    @for (n, (s, record)) in v.attempts.iter().enumerate() {
                        @let attempt = record.as_ref().and_then(prepare_of).and_then(|p| p.get("attempt")).and_then(Value::as_u64).unwrap_or(n as u64 + 1);
                        @let decision = decisions.iter().find(|d| d.body.get("attempt").and_then(Value::as_u64) == Some(attempt));
                        li data-attempt=(attempt) {
                            div.head {
                                strong { "attempt " (attempt) }
                                " " (label(s.classifier.as_deref().unwrap_or("(no exit)")))
                                " started " (when(&s.created_at))
                                @if let Some(ms) = s.duration_ms { " took " (format!("{:.1}s", ms as f64 / 1000.0)) }
                                @if let Some(c) = s.exit_code { " exit " (c) }
                                @if let Some(sig) = s.signal { " signal " (sig) }
                                @if s.timed_out { " " (label("timeout")) }
                            }
                            @if let Some(d) = decision {
                                p.decision {
                                    "decision " (label(text(&d.body, "action").unwrap_or("?")))
                                    @if d.kind == "job_decision_rejected" { " (refused: the worker had lost its lease)" }
                                    " — " (text(&d.body, "reason").unwrap_or(""))
                                }
                            }
                            @if let Some(h) = record.as_ref().and_then(|r| r.report.as_ref()).and_then(|r| text(r, "repair_hint")).filter(|h| !h.is_empty()) {
                                p.hint { "repair: " (h) }
                            }
                            p.small { "dispatch " code { (s.dispatch_id) } }
                        }
                    }
                }
            }
        }
        @if !controls.is_empty() {
            section aria-labelledby="h-controls" {
                h2 #h-controls { "Operator actions" }
                ul { @for c in &controls {
                    li { (when(&c.at)) " " strong { (text(&c.body, "action").unwrap_or("?")) } " by " (text(&c.body, "by").unwrap_or("?"))
                         @if let Some(w) = text(&c.body, "why").filter(|w| !w.is_empty()) { ": " (w) } }
                } }
            }
        }
        @if let Some(r) = report {
            section aria-labelledby="h-tails" {
                h2 #h-tails { "Last attempt's output (tails)" }
                @for (name, key) in [("stderr", "stderr_tail"), ("stdout", "stdout_tail")] {
                    h3 { (name) }
                    @match text(r, key).filter(|t| !t.trim().is_empty()) {
                        Some(t) => pre.tail data-stream=(name) { (t) },
                        None => p.empty { "(nothing)" },
                    }
                }
            }
        }
        @if let Some(p) = prepare {
            section aria-labelledby="h-argv" {
                h2 #h-argv { "Exact argv of the last attempt" }
                @let argv: Vec<&str> = p.get("argv").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                ol.argv { @for a in &argv { li { code { (a) } } } }
                p.small {
                    "program " code { (text(p, "program").unwrap_or("?")) }
                    " resolved to " code { (text(p, "cli_path").unwrap_or("(did not resolve)")) }
                    " in " code { (cwd.unwrap_or("?")) }
                    @if let Some(h) = text(p, "host") { " on " (h) }
                }
            }
            @if let Some(fp) = p.get("env_fingerprint") { (fingerprint(fp)) }
        }
        section aria-labelledby="h-repro" {
            h2 #h-repro { "Run this dispatch again" }
            @match reproduce(j, cwd) {
                Some(cmd) => {
                    p { "The same route, kind, fields, working directory and (stored) prompt, outside the queue:" }
                    div.copy {
                        pre #repro-cmd { (cmd) }
                        button type="button" data-copy="repro-cmd" { "Copy" }
                    }
                },
                None => p { "The prompt is too long for a command line: "
                    code { "agentlane job " (j.id) " --json --show-prompt" } " shows its start; save it to a file and run "
                    code { "agentlane exec --route " (j.route) " --kind " (j.kind) " --prompt-file FILE" } "." },
            }
            @if matches!(j.state(), JobState::Failed | JobState::Cancelled | JobState::Parked) {
                p.small { "Or put the job itself back in its lane: " code { "agentlane job retry " (j.id) } }
            }
        }
    }
}

/// The environment fingerprint: its id, PATH, deciding variables (present
/// or not, a keyed hash of the value) and credential files.
fn fingerprint(fp: &Value) -> Markup {
    html! {
        section aria-labelledby="h-env" {
            h2 #h-env { "Environment fingerprint " code { (text(fp, "id").unwrap_or("?")) } }
            @if let Some(path) = fp.get("path_entries").and_then(Value::as_array) {
                h3 { "PATH" }
                ol.path { @for p in path { li { code { (p.as_str().unwrap_or("?")) } } } }
            }
            @if let Some(vars) = fp.get("vars").and_then(Value::as_object) {
                h3 { "Deciding variables" }
                table.vars { tbody {
                    @for (name, v) in vars {
                        tr { th scope="row" { code { (name) } }
                             td { @if v.get("present").and_then(Value::as_bool) == Some(true) { "set" } @else { "unset" } }
                             td { code { (text(v, "hash").unwrap_or("")) } } }
                    }
                } }
            }
            @if let Some(files) = fp.get("files").and_then(Value::as_object) {
                h3 { "Credential and config files" }
                ul { @for (f, present) in files { li { code { (f) } " " (if present.as_bool() == Some(true) { "present" } else { "absent" }) } } }
            }
            @if let Some(n) = fp.get("var_count").and_then(Value::as_u64) { p.small { (n) " variables in the environment." } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_read_back_unchanged() {
        assert_eq!(shell_word("review"), "review");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    #[test]
    fn the_command_names_route_kind_cwd_fields_and_prompt() {
        let j: Job = serde_json::from_value(serde_json::json!({
            "id": "j1", "kind": "k", "lane": "main", "route": "review", "state": "failed",
            "attempts": 1, "run_at": "2026-12-05T00:00:00Z", "created_at": "2026-12-05T00:00:00Z",
            "updated_at": "2026-12-05T00:00:00Z", "finished_at": "2026-12-05T00:00:01Z",
            "priority": 0, "fields": {"ticket": "T-1", "n": 3}, "diagnostics": false
        }))
        .map(|mut j: Job| {
            j.prompt = "fix it's bug".into();
            j
        })
        .expect("a job");
        let cmd = reproduce(&j, Some("/work/repo")).unwrap();
        assert_eq!(
            cmd,
            "agentlane exec --route review --kind k --cwd /work/repo --field n=3 --field ticket=T-1 --prompt 'fix it'\\''s bug'"
        );
        let mut long = j.clone();
        long.prompt = "x".repeat(PROMPT_IN_COMMAND + 1);
        assert!(reproduce(&long, None).is_none());
    }
}
