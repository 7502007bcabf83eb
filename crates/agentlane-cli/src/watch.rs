//! Watching the queue live, from the store (so it works against PostgreSQL
//! from any host): `jobs --follow` prints one line per job transition as it
//! is seen; `status --watch` redraws the counts. Each poll is one bounded
//! read — the jobs changed since the last one (`updated_at`), or the status
//! counts — at a gentle interval (`--interval`, 2 s by default, never under
//! 0.5 s). Ctrl-C ends it with status 0.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use agentlane::exit_status;
use agentlane::queue::{Job, JobFilter, JobState};
use agentlane::store::Store;
use serde_json::json;

use crate::Failure;

/// The shortest refresh allowed: a watcher must not hammer the database.
pub const MIN_INTERVAL: Duration = Duration::from_millis(500);

/// `--interval`: a duration of at least [`MIN_INTERVAL`].
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s)
        .or_else(|_| {
            s.parse::<f64>()
                .map_err(|e| e.to_string())
                .and_then(|secs| Duration::try_from_secs_f64(secs).map_err(|e| e.to_string()))
        })
        .map_err(|e| format!("'{s}' is not a duration (2s, 500ms, 1.5): {e}"))?;
    if d < MIN_INTERVAL {
        return Err(format!(
            "--interval {s} is under 500ms: a watcher polling faster would load the store for nothing"
        ));
    }
    Ok(d)
}

fn io(e: impl std::fmt::Display) -> Failure {
    Failure::new(exit_status::IO_ERROR, e.to_string())
}

/// What a transition line compares: the state, the next action and the attempt.
type Seen = (JobState, Option<String>, u32);

fn seen(j: &Job) -> Seen {
    (
        j.state(),
        j.next_action.map(|a| a.label().to_string()),
        j.attempts,
    )
}

/// One job's transition, as a line or a JSON object. Pure.
pub fn transition(j: &Job, before: Option<JobState>, json_out: bool) -> String {
    let from = before.map_or("new", JobState::label);
    if json_out {
        return json!({
            "at": j.updated_at, "job_id": j.id, "lane": j.lane, "route": j.route,
            "from": before.map(JobState::label), "to": j.state().label(),
            "attempt": j.attempts, "classifier": j.classifier,
            "next_action": j.next_action, "reason": j.reason,
        })
        .to_string();
    }
    format!(
        "{}  {}  {}/{}  {} -> {}  attempt {}  {}  {}",
        j.updated_at,
        j.id,
        j.lane,
        j.route,
        from,
        j.state().label(),
        j.attempts,
        j.classifier.as_deref().unwrap_or("-"),
        j.reason.as_deref().unwrap_or("")
    )
}

/// `jobs --follow`: the newest `limit` jobs are the baseline; from then on
/// every job changed since the last poll that changed state, next action
/// or attempt gets a line.
pub async fn follow_jobs(
    store: &dyn Store,
    lane: Option<String>,
    state: Option<JobState>,
    limit: usize,
    interval: Duration,
    json_out: bool,
) -> Result<i32, Failure> {
    let mut filter = JobFilter {
        lane,
        state,
        limit: if limit == 0 { 50 } else { limit },
        updated_since: None,
        ..Default::default()
    };
    let mut known: HashMap<String, Seen> = HashMap::new();
    let mut since: Option<String> = None;
    let mut first = true;
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    if !json_out {
        eprintln!(
            "following jobs every {} (Ctrl-C to stop)",
            humantime::format_duration(interval)
        );
    }
    loop {
        let rows = store.jobs(&filter).await.map_err(io)?;
        let mut out = std::io::stdout().lock();
        for j in rows.iter().rev() {
            let now = seen(j);
            let before = known.insert(j.id.clone(), now.clone());
            if first || before.as_ref() == Some(&now) {
                continue;
            }
            let _ = writeln!(out, "{}", transition(j, before.map(|b| b.0), json_out));
        }
        let _ = out.flush();
        if let Some(newest) = rows.iter().map(|j| &j.updated_at).max() {
            if since.as_ref().is_none_or(|s| newest > s) {
                since = Some(newest.clone());
            }
        }
        if first {
            // From now on: every change, however old the job.
            filter.limit = 0;
            first = false;
        }
        filter.updated_since = since.clone();
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = &mut stop => return Ok(0),
        }
    }
}

/// `status --watch`: `render` draws the status; on a terminal the screen is
/// redrawn each time, otherwise a block is printed only when it changed.
pub async fn watch_status<F, Fut>(interval: Duration, mut render: F) -> Result<i32, Failure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<String, Failure>>,
{
    let tty = std::io::stdout().is_terminal();
    let mut last = String::new();
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        let now = render().await?;
        if tty {
            print!("\x1b[2J\x1b[H{now}");
        } else if now != last {
            println!(
                "--- {}",
                jiff::Timestamp::now()
                    .round(jiff::Unit::Second)
                    .unwrap_or_else(|_| jiff::Timestamp::now())
            );
            print!("{now}");
        }
        let _ = std::io::stdout().flush();
        last = now;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = &mut stop => return Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `--interval` never panics and never accepts less than the floor.
        #[test]
        fn any_interval_is_refused_or_at_least_half_a_second(input in "\\PC{0,20}") {
            if let Ok(d) = parse_interval(&input) {
                proptest::prop_assert!(d >= MIN_INTERVAL);
            }
        }
    }

    #[test]
    fn an_interval_is_a_duration_of_half_a_second_or_more() {
        assert_eq!(parse_interval("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_interval("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_interval("500ms"), Ok(MIN_INTERVAL));
        assert!(parse_interval("100ms").unwrap_err().contains("under 500ms"));
        assert!(parse_interval("soon")
            .unwrap_err()
            .contains("not a duration"));
        assert!(parse_interval("-1").is_err());
    }
}
