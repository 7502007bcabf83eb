//! What a rules command reads: the configuration, the rules in force, the
//! operator's rules file, and the stored dispatches (with their artifacts).

use std::path::{Path, PathBuf};

use agentlane::classify::RuleSet;
use agentlane::config::Config;
use agentlane::exit_status;
use agentlane::rules_loop::{self, Replayable, Skip};
use agentlane::store::{Store, StoreError};

use crate::Failure;

pub(super) struct Context {
    pub(super) config: Option<Config>,
    pub(super) home: PathBuf,
    pub(super) store: std::sync::Arc<dyn Store>,
}

/// Where the operator's rules file is, and who named it.
pub(super) struct Target {
    pub(super) path: PathBuf,
    pub(super) named_by: &'static str,
}

pub(super) fn env_rules() -> Option<PathBuf> {
    std::env::var_os("AGENTLANE_RULES")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl Context {
    /// `--file`, `$AGENTLANE_RULES`, the config's `rules_file`, else
    /// `rules.toml` beside the config (or in the home without one).
    pub(super) fn target(&self, explicit: Option<&Path>) -> Target {
        if let Some(p) = explicit {
            return Target {
                path: p.to_path_buf(),
                named_by: "--file",
            };
        }
        if let Some(p) = env_rules() {
            return Target {
                path: p,
                named_by: "$AGENTLANE_RULES",
            };
        }
        if let Some(p) = self.config.as_ref().and_then(|c| c.rules_file.clone()) {
            return Target {
                path: p,
                named_by: "the configuration's rules_file",
            };
        }
        let dir = match &self.config {
            Some(c) => c
                .path
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
            None => self.home.clone(),
        };
        Target {
            path: dir.join("rules.toml"),
            named_by: "default",
        }
    }

    /// The rules files `exec` reads on top of the built-ins: the config's
    /// `rules_file`, then `$AGENTLANE_RULES`.
    pub(super) fn in_force_files(&self) -> Vec<PathBuf> {
        self.config
            .as_ref()
            .and_then(|c| c.rules_file.clone())
            .into_iter()
            .chain(env_rules())
            .collect()
    }

    /// The built-ins plus the rules files in force, leaving out `except`.
    pub(super) fn rules_without(&self, except: Option<&Path>) -> Result<RuleSet, Failure> {
        let mut set = RuleSet::builtin().clone();
        for file in self.in_force_files() {
            // A file not written yet adds nothing (`rules add` creates it).
            if except.is_some_and(|e| same_file(e, &file)) || !file.exists() {
                continue;
            }
            set = set.with_file(&file).map_err(|e| {
                Failure::new(
                    exit_status::CONFIG,
                    format!("invalid rules file in force: {e}"),
                )
            })?;
        }
        Ok(set)
    }

    /// The stored dispatches a replay reads, and how many were skipped.
    pub(super) async fn dispatches(
        &self,
        limit: usize,
    ) -> Result<(Vec<Replayable>, Skipped), Failure> {
        let summaries = self
            .store
            .recent_dispatches(limit)
            .await
            .map_err(store_failure)?;
        let mut out = Vec::new();
        let mut skipped = Skipped::default();
        for s in summaries {
            let record = self
                .store
                .dispatch(&s.dispatch_id)
                .await
                .map_err(store_failure)?;
            let report = record.as_ref().and_then(|r| r.report.as_ref());
            match Replayable::from_report(report) {
                Ok(mut d) => {
                    widen_from_artifacts(&mut d, report);
                    out.push(d)
                }
                Err(Skip::NotLaunched) => skipped.not_launched += 1,
                Err(Skip::Interrupted) => skipped.interrupted += 1,
                Err(Skip::NoReport | Skip::Unreadable) => skipped.no_report += 1,
            }
        }
        Ok((out, skipped))
    }

    pub(super) async fn one_dispatch(&self, id: &str) -> Result<Replayable, Failure> {
        let record = self
            .store
            .dispatch(id)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| {
                Failure::new(
                    exit_status::USAGE,
                    format!("no dispatch '{id}': list them with `agentlane runs`"),
                )
            })?;
        let mut replayable = Replayable::from_report(record.report.as_ref()).map_err(|skip| {
            let why = match skip {
                Skip::NoReport | Skip::Unreadable => "it has no finished report (still running, or its worker was lost)",
                Skip::NotLaunched => "it was refused before launch: its class is a fact agentlane decided, not a line a rule could match",
                Skip::Interrupted => "it was interrupted by a signal agentlane received: no rule decides that",
            };
            Failure::new(
                exit_status::USAGE,
                format!("dispatch {id} cannot be turned into a rule: {why}"),
            )
        })?;
        widen_from_artifacts(&mut replayable, record.report.as_ref());
        Ok(replayable)
    }
}

/// Dispatches a replay did not read, by reason.
#[derive(Debug, Default)]
pub(super) struct Skipped {
    pub(super) not_launched: usize,
    pub(super) interrupted: usize,
    pub(super) no_report: usize,
}

impl Skipped {
    pub(super) fn total(&self) -> usize {
        self.not_launched + self.interrupted + self.no_report
    }
}

pub(super) fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

pub(super) fn store_failure(e: StoreError) -> Failure {
    match e {
        StoreError::Ambiguous(_) => Failure::new(exit_status::USAGE, e.to_string()),
        other => Failure::new(exit_status::IO_ERROR, other.to_string()),
    }
}

/// Reads back the last [`agentlane::dispatch::CLASSIFY_TAIL`] bytes of each
/// whole artifact file of a report, so a replay sees what the classifier saw;
/// a file that cannot be read leaves the report's shorter tail.
pub(super) fn widen_from_artifacts(d: &mut Replayable, report: Option<&serde_json::Value>) {
    use std::io::{Read, Seek, SeekFrom};
    let Some(report) = report else { return };
    for (stream, path) in rules_loop::whole_artifacts(report) {
        let Ok(mut file) = std::fs::File::open(&path) else {
            continue;
        };
        let Ok(len) = file.metadata().map(|m| m.len()) else {
            continue;
        };
        let cap = agentlane::dispatch::CLASSIFY_TAIL as u64;
        if file.seek(SeekFrom::Start(len.saturating_sub(cap))).is_err() {
            continue;
        }
        let mut tail = Vec::with_capacity(len.min(cap) as usize);
        if file.take(cap).read_to_end(&mut tail).is_ok() {
            d.widen(stream, &tail, len > cap);
        }
    }
}
