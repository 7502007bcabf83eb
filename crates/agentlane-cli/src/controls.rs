//! The operator's hands: `job cancel|retry`, `jobs retry`, `lane
//! pause|resume|list`, and ids people can type (a unique prefix or suffix
//! of at least 6 characters). Each control is the store's conditional
//! write, recorded with who asked and why.

use std::path::PathBuf;

use agentlane::exit_status;
use agentlane::model::{Actor, Cancelled, Retried, RetryFilter};
use agentlane::queue::JobState;
use agentlane::store::{IdKind, IdMatch, Reader, Store, StoreError};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::{open_store, Failure};

fn io(e: impl std::fmt::Display) -> Failure {
    Failure::new(exit_status::IO_ERROR, e.to_string())
}

/// Who acts: `$USER` (or `$LOGNAME`, else the uid) at this host, as the
/// worker names hosts (`AGENTLANE_HOST`, else the kernel's name).
pub fn actor(why: Option<String>) -> Actor {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| format!("uid{}", nix::unistd::getuid()));
    Actor {
        by: format!("{}@{}", user.trim(), agentlane::os::host_name()),
        why: why.unwrap_or_default(),
    }
}

/// The full id `fragment` names (a whole id, or a unique prefix or suffix
/// of at least 6 characters), or a message that says what to type.
pub async fn full_id(store: &dyn Reader, kind: IdKind, fragment: &str) -> Result<String, Failure> {
    let noun = kind.noun();
    let list = match kind {
        IdKind::Job => "agentlane jobs",
        IdKind::Dispatch => "agentlane runs",
        IdKind::Incident => "agentlane incidents",
    };
    match store.resolve_id(kind, fragment).await {
        Ok(IdMatch::One(id)) => Ok(id),
        Ok(IdMatch::None) => Err(Failure::new(
            exit_status::USAGE,
            format!("no {noun} '{fragment}': list them with `{list}`"),
        )),
        Ok(IdMatch::Many(ids)) => Err(Failure::new(
            exit_status::USAGE,
            format!(
                "'{fragment}' matches more than one {noun} ({}{}): give more characters of its start or its end",
                ids.join(", "),
                if ids.len() >= agentlane::store::ID_CANDIDATES { ", …" } else { "" }
            ),
        )),
        Err(StoreError::InvalidId(m)) => Err(Failure::new(exit_status::USAGE, m)),
        Err(e) => Err(io(e)),
    }
}

#[derive(Debug, Subcommand)]
pub enum JobAction {
    /// Cancel a job: a waiting one at once; a running one is stopped by its worker within a heartbeat
    Cancel(ControlArgs),
    /// Run a failed, cancelled or parked job again (queued now; its attempts are kept)
    Retry(ControlArgs),
}

#[derive(Debug, Args)]
pub struct ControlArgs {
    /// The job id, or a unique prefix or suffix of it (6+ characters)
    id: String,
    /// Why (recorded with the action, with who did it)
    #[arg(long)]
    why: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

fn print(json_out: bool, v: serde_json::Value, text: String) {
    if json_out {
        println!("{v}");
    } else {
        println!("{text}");
    }
}

pub async fn job_action(action: JobAction, home: Option<&PathBuf>) -> Result<i32, Failure> {
    let (_, store) = open_store(home).await?;
    match action {
        JobAction::Cancel(a) => cancel(store.as_ref(), a).await,
        JobAction::Retry(a) => retry(store.as_ref(), a).await,
    }
}

async fn cancel(store: &dyn Store, a: ControlArgs) -> Result<i32, Failure> {
    let id = full_id(store, IdKind::Job, &a.id).await?;
    let who = actor(a.why);
    let outcome = store
        .cancel_job(&id, &who)
        .await
        .map_err(io)?
        .ok_or_else(|| Failure::new(exit_status::USAGE, format!("no job '{id}'")))?;
    let v = json!({"job_id": id, "by": who.by, "result": outcome});
    match outcome {
        Cancelled::Cancelled { from } => {
            print(
                a.json,
                v,
                format!("cancelled {id} (it was {})", from.label()),
            );
            Ok(0)
        }
        Cancelled::Requested { owner } => {
            print(a.json, v, format!("cancelling {id}: it runs on {owner}, which stops its process tree within a heartbeat and settles it cancelled (`agentlane job {id}` shows when)"));
            Ok(0)
        }
        Cancelled::Finished { state } => {
            print(
                a.json,
                v,
                format!(
                    "nothing to cancel: {id} already {}{}",
                    state.label(),
                    if state == JobState::Cancelled {
                        ""
                    } else {
                        " (`agentlane job retry` runs a failed job again)"
                    }
                ),
            );
            Ok(exit_status::CONTROL_REFUSED)
        }
    }
}

async fn retry(store: &dyn Store, a: ControlArgs) -> Result<i32, Failure> {
    let id = full_id(store, IdKind::Job, &a.id).await?;
    let who = actor(a.why);
    let outcome = store
        .retry_job(&id, &who)
        .await
        .map_err(io)?
        .ok_or_else(|| Failure::new(exit_status::USAGE, format!("no job '{id}'")))?;
    let v = json!({"job_id": id, "by": who.by, "result": outcome});
    match outcome {
        Retried::Requeued { from } => {
            print(
                a.json,
                v,
                format!(
                    "queued {id} again (it was {}; its attempts are kept)",
                    from.label()
                ),
            );
            Ok(0)
        }
        Retried::NotRetryable { state } => {
            let hint = match state {
                JobState::Running => "it is running: cancel it first with `agentlane job cancel`",
                JobState::Succeeded => "it succeeded: enqueue a new job to run it again",
                _ => "it is already waiting to run",
            };
            print(
                a.json,
                v,
                format!("nothing to retry: {id} is {} ({hint})", state.label()),
            );
            Ok(exit_status::CONTROL_REFUSED)
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Run again every failed (or --state) job the filters select, in one transaction
    Retry(BulkRetryArgs),
}

#[derive(Debug, Args)]
pub struct BulkRetryArgs {
    /// Only this lane
    #[arg(long)]
    lane: Option<String>,
    /// Only jobs whose latest class is this (e.g. rate_limited)
    #[arg(long)]
    class: Option<String>,
    /// Only jobs that ended at or after this time: RFC 3339 (2026-12-05T10:00:00Z) or an age (30m, 2h, 1d)
    #[arg(long, value_parser = parse_since)]
    since: Option<String>,
    /// Only jobs in this state: failed (the default), cancelled or parked; repeatable
    #[arg(long, value_parser = |s: &str| s.parse::<JobState>())]
    state: Vec<JobState>,
    /// Why (recorded with each job's retry, with who did it)
    #[arg(long)]
    why: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

/// `--since`: an RFC 3339 time, or an age before now (the library's reading).
fn parse_since(s: &str) -> Result<String, String> {
    RetryFilter::parse_since(s).map_err(|e| format!("--since {e}"))
}

pub async fn jobs_action(action: JobsAction, home: Option<&PathBuf>) -> Result<i32, Failure> {
    let JobsAction::Retry(a) = action;
    let filter = RetryFilter {
        lane: a.lane,
        class: a.class,
        since: a.since,
        states: a.state,
    };
    // The library's check: its words name the flags without their dashes.
    filter.check().map_err(|e| {
        let e = e
            .replace("a lane, a class and/or a since (e.g. class rate_limited in lane main since 2h)", "--lane, --class and/or --since (e.g. `agentlane jobs retry --class rate_limited --lane main --since 2h`)")
            .replace("state ", "--state ");
        Failure::new(exit_status::USAGE, e)
    })?;
    let (_, store) = open_store(home).await?;
    let who = actor(a.why);
    let ids = store.retry_jobs(&filter, &who).await.map_err(io)?;
    print(
        a.json,
        json!({"retried": ids, "by": who.by}),
        format!(
            "queued {} job(s) again{}",
            ids.len(),
            if ids.is_empty() {
                " (none matched: `agentlane jobs --state failed` lists the failed ones)"
            } else {
                ""
            }
        ),
    );
    Ok(0)
}

/// `agentlane lane pause|resume|list`.
#[derive(Debug, Args)]
pub struct LaneArgs {
    #[command(subcommand)]
    action: LaneAction,
}

#[derive(Debug, Subcommand)]
enum LaneAction {
    /// Stop every worker of a lane from claiming (running jobs finish)
    Pause {
        /// The lane
        lane: String,
        /// Why (shown to everyone who looks)
        #[arg(long)]
        why: Option<String>,
    },
    /// Let a paused lane's workers claim again
    Resume {
        /// The lane
        lane: String,
        /// Why
        #[arg(long)]
        why: Option<String>,
    },
    /// List the paused lanes
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

pub async fn lane(args: LaneArgs, home: Option<&PathBuf>) -> Result<i32, Failure> {
    let (_, store) = open_store(home).await?;
    match args.action {
        LaneAction::Pause { lane, why } => {
            let who = actor(why);
            if store.pause_lane(&lane, &who).await.map_err(io)? {
                println!("paused lane '{lane}': its workers claim nothing until `agentlane lane resume {lane}`; running jobs finish");
            } else {
                println!("lane '{lane}' was already paused (`agentlane lane list` says by whom)");
            }
        }
        LaneAction::Resume { lane, why } => {
            let who = actor(why);
            if store.resume_lane(&lane, &who).await.map_err(io)? {
                println!("resumed lane '{lane}': its workers claim again");
            } else {
                println!("lane '{lane}' was not paused");
            }
        }
        LaneAction::List { json } => {
            let pauses = store.lane_pauses().await.map_err(io)?;
            if json {
                println!("{}", json!(pauses));
            } else if pauses.is_empty() {
                println!("no lane is paused");
            } else {
                for p in pauses {
                    println!(
                        "{}  paused by {} at {}{}",
                        p.lane,
                        p.by,
                        p.at,
                        if p.why.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", p.why)
                        }
                    );
                }
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `--since` never panics: a time, an age, or a message naming both forms.
        #[test]
        fn any_since_is_a_time_or_a_clear_refusal(input in "\\PC{0,30}") {
            match parse_since(&input) {
                Ok(t) => proptest::prop_assert!(t.parse::<jiff::Timestamp>().is_ok()),
                Err(m) => proptest::prop_assert!(m.contains("RFC 3339") || m.contains("--since")),
            }
        }
    }

    #[test]
    fn since_takes_a_time_or_an_age_and_refuses_anything_else() {
        assert_eq!(
            parse_since("2026-12-05T10:00:00Z").unwrap(),
            "2026-12-05T10:00:00Z"
        );
        let two_hours_ago: jiff::Timestamp = parse_since("2h").unwrap().parse().unwrap();
        let age = jiff::Timestamp::now().duration_since(two_hours_ago);
        assert!(age.as_secs() >= 7199 && age.as_secs() < 7300, "{age:?}");
        let err = parse_since("yesterday").unwrap_err();
        assert!(err.contains("RFC 3339") && err.contains("30m"), "{err}");
    }
}
