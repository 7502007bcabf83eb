//! The rows the stores hand out: dispatch summaries and records, stored events,
//! maintenance passes and whole-store snapshots.

use crate::model::DispatchReport;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One line of `agentlane runs`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DispatchSummary {
    /// The dispatch id.
    pub dispatch_id: String,
    /// When runner_prepare was recorded (database clock, RFC 3339 UTC).
    pub created_at: String,
    /// When the dispatch finished, if it did.
    pub finished_at: Option<String>,
    /// The program as asked for.
    pub program: String,
    /// The working directory.
    pub cwd: String,
    /// The route, if any.
    pub route: Option<String>,
    /// The job, if any.
    pub job_id: Option<String>,
    /// The class (null while running or when the worker was lost).
    pub classifier: Option<String>,
    /// The exit code.
    pub exit_code: Option<i32>,
    /// The signal.
    pub signal: Option<i32>,
    /// Whether the timeout ended it.
    pub timed_out: bool,
    /// Duration in ms.
    pub duration_ms: Option<u64>,
}

/// One stored event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredEvent {
    /// Global sequence number.
    pub seq: i64,
    /// When it was recorded (database clock).
    pub at: String,
    /// Its kind.
    pub kind: String,
    /// Its body.
    pub body: serde_json::Value,
}

/// One event of the live feed (`serve`'s Server-Sent Events): a stored
/// event with the job and lane it concerns, when it concerns one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FeedEvent {
    /// Global sequence number (the SSE `id`).
    pub seq: i64,
    /// When it was recorded (database clock).
    pub at: String,
    /// Its kind.
    pub kind: String,
    /// The job it concerns.
    pub job_id: Option<String>,
    /// The lane: the job's, else the body's `lane` (an incident's).
    pub lane: Option<String>,
    /// Its body.
    pub body: serde_json::Value,
}

/// What a worker claims for the slot a finished attempt frees
/// ([`QueueStore::finish_settle_and_claim`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NextClaim {
    /// The lane.
    pub lane: String,
    /// The routes this worker can run now (preflight passed); none claims nothing.
    pub routes: Vec<String>,
    /// The lease of the claimed job.
    pub lease: Duration,
}

/// An idle worker's wait ([`QueueStore::wait_for_jobs`]).
#[derive(Debug, Clone, PartialEq)]
pub struct IdleWait<'a> {
    /// The worker's lane.
    pub lane: &'a str,
    /// The routes it can run now.
    pub routes: &'a [String],
    /// How often to look when nothing tells the worker (`[queue] poll`).
    pub poll: Duration,
    /// The longest wait: the pass after it runs whatever happened.
    pub timeout: Duration,
    /// Whether a notification may end the wait (`[queue] listen`).
    pub listen: bool,
    /// The store's mark of the last look (its clock), kept by the worker
    /// between waits: a job that became due after it ends the wait.
    pub mark: Option<f64>,
    /// Given: the worker's previous wait was quiet. Set by the store: the
    /// wait ran to its timeout and no job in the lane is due, so the next
    /// pass has nothing to claim (a store that cannot tell leaves it false).
    pub quiet: bool,
}

/// A dispatch with its report and events (`agentlane show`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DispatchRecord {
    /// The summary row.
    pub summary: DispatchSummary,
    /// The final report, once finished.
    pub report: Option<serde_json::Value>,
    /// The events, in order.
    pub events: Vec<StoredEvent>,
}

/// The report as a store keeps it: without its environment fingerprint
/// (1–2 KB), which the dispatch's `runner_prepare` event already holds.
/// Reading the dispatch back ([`DispatchRecord::restored`]) puts it back.
#[allow(
    clippy::expect_used,
    reason = "strings, numbers, string-keyed maps and lossily written paths always serialise"
)]
pub(crate) fn stored_report(r: &DispatchReport) -> serde_json::Value {
    let mut v = serde_json::to_value(r).expect("reports serialise");
    if let Some(m) = v.as_object_mut() {
        m.remove("env_fingerprint");
    }
    v
}

impl DispatchRecord {
    /// The record with the report whole again: its environment fingerprint
    /// taken from the `runner_prepare` event (see [`stored_report`]). A
    /// report stored whole (before this) is left as it is.
    pub(crate) fn restored(mut self) -> DispatchRecord {
        if let Some(serde_json::Value::Object(report)) = &mut self.report {
            if !report.contains_key("env_fingerprint") {
                let prepared = self
                    .events
                    .iter()
                    .find(|e| e.kind == "runner_prepare")
                    .and_then(|e| e.body.get("env_fingerprint"));
                if let Some(fp) = prepared {
                    report.insert("env_fingerprint".to_string(), fp.clone());
                }
            }
        }
        self
    }
}

/// What one maintenance pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Maintenance {
    /// Batched incident counts folded into their incidents.
    pub folded_counts: u64,
    /// Finished jobs deleted.
    pub jobs: u64,
    /// Dispatches deleted (the pruned jobs' attempts and old job-less runs).
    pub dispatches: u64,
    /// Events deleted.
    pub events: u64,
    /// Resolved incidents deleted.
    pub incidents: u64,
    /// A batch was full: there may be more to prune.
    pub more: bool,
}

/// The tables of a store, in an order that respects their references.
pub const TABLES: &[&str] = &[
    "dispatches",
    "events",
    "jobs",
    "incidents",
    "incident_jobs",
    "lane_pauses",
];

/// Every row of a store: per table, one JSON object per row (times as the
/// store's RFC 3339 text, JSON columns as JSON).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// (table, rows) in [`TABLES`] order.
    pub tables: Vec<(String, Vec<serde_json::Value>)>,
}

/// What an id names: the tables whose ids `resolve_id` looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A job.
    Job,
    /// A dispatch (an attempt, or an `exec`).
    Dispatch,
    /// An incident.
    Incident,
}

impl IdKind {
    /// Its table.
    pub fn table(self) -> &'static str {
        match self {
            IdKind::Job => "jobs",
            IdKind::Dispatch => "dispatches",
            IdKind::Incident => "incidents",
        }
    }

    /// Its name in messages.
    pub fn noun(self) -> &'static str {
        match self {
            IdKind::Job => "job",
            IdKind::Dispatch => "dispatch",
            IdKind::Incident => "incident",
        }
    }
}

/// What an id fragment matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdMatch {
    /// Nothing.
    None,
    /// Exactly one id (or the fragment was a whole id).
    One(String),
    /// Several: the first few, to show.
    Many(Vec<String>),
}

/// The fewest characters of an id a prefix or a suffix may have: ids are
/// time-ordered (UUIDv7), so their first characters are shared for
/// minutes; their last twelve are random.
pub const MIN_ID_FRAGMENT: usize = 6;

/// How many candidates an ambiguous fragment reports.
pub const ID_CANDIDATES: usize = 5;

/// The fragment as it is looked up: trimmed and lower-case; refused when it
/// is shorter than [`MIN_ID_FRAGMENT`] or holds anything but hex digits and
/// dashes (the characters of our ids), so it can never act as a pattern.
pub fn id_fragment(kind: IdKind, fragment: &str) -> Result<String, String> {
    let f = fragment.trim().to_ascii_lowercase();
    if f.chars().count() < MIN_ID_FRAGMENT {
        return Err(format!(
            "'{fragment}' is too short to name a {noun}: give at least {MIN_ID_FRAGMENT} characters of its id (its start or its end)",
            noun = kind.noun()
        ));
    }
    if let Some(bad) = f.chars().find(|c| !(c.is_ascii_hexdigit() || *c == '-')) {
        return Err(format!(
            "'{fragment}' is not a {noun} id: ids hold only hex digits and dashes (found {bad:?})",
            noun = kind.noun()
        ));
    }
    Ok(f)
}

/// The match of candidate ids for a fragment (`found`: the ids that start
/// or end with it, deduplicated by the caller or not): an exact id wins.
pub fn id_match(fragment: &str, mut found: Vec<String>) -> IdMatch {
    found.sort();
    found.dedup();
    if found.iter().any(|id| id == fragment) {
        return IdMatch::One(fragment.to_string());
    }
    match found.len() {
        0 => IdMatch::None,
        1 => IdMatch::One(found.remove(0)),
        _ => {
            found.truncate(ID_CANDIDATES);
            IdMatch::Many(found)
        }
    }
}

#[cfg(test)]
mod id_tests {
    use super::*;

    #[test]
    fn an_id_fragment_is_six_or_more_hex_characters_or_dashes() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("019a2b", Ok("019a2b")),
            ("  019A2B3C ", Ok("019a2b3c")),
            ("9f1c-4e2a", Ok("9f1c-4e2a")),
            ("01a24", Err("too short")),
            ("", Err("too short")),
            ("0199%%", Err("hex digits")),
            ("01_9a2b", Err("hex digits")),
            ("zzzzzzzz", Err("hex digits")),
            ("0199' OR 1=1", Err("hex digits")),
        ];
        for (input, want) in cases {
            let got = id_fragment(IdKind::Job, input);
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(g, w, "{input:?}"),
                (Err(w), Err(g)) => assert!(g.contains(w), "{input:?}: {g}"),
                _ => panic!("{input:?}: {got:?}, want {want:?}"),
            }
        }
    }

    proptest::proptest! {
        /// Whatever a user types, the fragment is refused with a message or
        /// comes back as lower-case hex and dashes only, so it can never act
        /// as a pattern in the lookup.
        #[test]
        fn any_typed_id_is_refused_or_safe(input in "\\PC{0,40}") {
            match id_fragment(IdKind::Dispatch, &input) {
                Ok(f) => {
                    proptest::prop_assert!(f.len() >= MIN_ID_FRAGMENT);
                    proptest::prop_assert!(f.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == '-'));
                }
                Err(m) => proptest::prop_assert!(m.contains("dispatch")),
            }
        }
    }

    #[test]
    fn an_exact_id_wins_over_longer_ids_it_prefixes_and_several_are_listed() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(id_match("abcdef", ids(&[])), IdMatch::None);
        assert_eq!(
            id_match("abcdef", ids(&["abcdef01", "abcdef01"])),
            IdMatch::One("abcdef01".into())
        );
        assert_eq!(
            id_match("abcdef", ids(&["abcdef01", "abcdef"])),
            IdMatch::One("abcdef".into())
        );
        let many = id_match("abcdef", ids(&["7", "6", "5", "4", "3", "2", "1"]));
        assert_eq!(many, IdMatch::Many(ids(&["1", "2", "3", "4", "5"])));
    }
}

/// Jobs of one lane that finished (succeeded, failed or were cancelled)
/// within one UTC minute: a point of the dashboard's throughput sparkline
/// ([`crate::store::Reader::finished_per_minute`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LaneMinute {
    /// The lane.
    pub lane: String,
    /// The minute, UTC, as `YYYY-MM-DDTHH:MM`.
    pub minute: String,
    /// Jobs that finished in it.
    pub finished: u64,
}
