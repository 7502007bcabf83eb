//! One matrix run from start to report, the one implementation
//! `agentlane matrix` and `POST /api/v1/matrix` call: old runs pruned, a
//! scratch area and store of its own, the cells planned and run through the
//! production dispatcher and worker, the shape named, and `report.json`
//! written beside the cells' scratch store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::setup::{self, Request, SetupError};
use super::{plan, run_matrix, shape, Row, Verdict};
use crate::config::{Config, Route};
use crate::dispatch::Dispatcher;
use crate::home::Home;

/// The report file a run leaves in its directory.
pub const REPORT_FILE: &str = "report.json";

/// How to run the matrix.
#[derive(Debug, Clone)]
pub struct Session {
    /// Which cells: a job's payload, the service user, the thin PATH, one
    /// dimension, a cap.
    pub request: Request,
    /// Cells run at once.
    pub parallel: usize,
    /// Each cell's time limit.
    pub cell_timeout: Option<Duration>,
}

/// A finished run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The run's id (its directory's name under `HOME/matrix`).
    pub id: String,
    /// The route examined.
    pub route: String,
    /// What the rows mean.
    pub verdict: Verdict,
    /// One row per cell.
    pub rows: Vec<Row>,
    /// The cells' scratch store (`sqlite://…`), not the live one.
    pub scratch_store: String,
    /// The run's directory.
    pub dir: PathBuf,
    /// Old runs that could not be removed, and report files that could not
    /// be written: nothing the verdict depends on.
    pub warnings: Vec<String>,
}

impl Report {
    /// The JSON `report.json` holds and `matrix --json` prints.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "shape": self.verdict.shape,
            "dimension": self.verdict.dimension,
            "repair_address": self.verdict.repair_address,
            "route": self.route,
            "comparison": self.verdict.comparison,
            "notes": self.verdict.notes,
            "scratch_store": self.scratch_store,
            "rows": self.rows,
        })
    }
}

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The scratch area, or a user the request names.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The plan refers to something that does not exist.
    #[error("{0}")]
    Plan(String),
    /// The cells' worker failed.
    #[error("{0}")]
    Run(String),
}

/// A new run's id: time-ordered, unique on this host.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Runs the matrix for `route` under `home` with the id `id`; `progress`
/// hears (cells done, cells in all).
pub async fn run(
    config: &Config,
    route: &Route,
    home: &Home,
    id: &str,
    session: Session,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Report, SessionError> {
    let mut warnings = Vec::new();
    // Old runs' scratch areas are removed, the newest kept.
    let (_, not_removed) = setup::prune_runs(&home.root().join("matrix"));
    for (path, why) in not_removed {
        warnings.push(format!(
            "cannot remove the old matrix run {}: {why}",
            path.display()
        ));
    }
    let scratch = home.root().join("matrix").join(id);
    let inputs = setup::inputs(config, route, session.request, home, &scratch).await?;
    let cells = plan(config, route, &inputs).map_err(|e| SessionError::Plan(e.to_string()))?;
    // The cells run through the production dispatcher and worker, but record
    // into a scratch store of their own (SQLite, whatever the live store is):
    // the live store gets no job, dispatch, incident or `matrix-…` lane.
    let (scratch_home, scratch_store) = setup::scratch_store(home, &scratch)?;
    let dispatcher = Arc::new(Dispatcher::new(
        scratch_home,
        scratch_store.clone(),
        Some(config.rules.clone()),
    ));
    let rows = run_matrix(
        dispatcher,
        scratch_store,
        config,
        &cells,
        session.parallel,
        session.cell_timeout,
        progress,
    )
    .await
    .map_err(|e| SessionError::Run(e.to_string()))?;
    let verdict = shape(&rows);
    let report = Report {
        id: id.to_string(),
        route: route.name.clone(),
        verdict,
        rows,
        scratch_store: format!("sqlite://{}", scratch.join("matrix.db").display()),
        dir: scratch.clone(),
        warnings,
    };
    let mut report = report;
    if let Err(e) = std::fs::write(scratch.join(REPORT_FILE), format!("{}\n", report.json())) {
        report.warnings.push(format!(
            "cannot write {}: {e}",
            scratch.join(REPORT_FILE).display()
        ));
    }
    Ok(report)
}

/// Whether `id` can name a run's directory (no path separators, no dots).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The report of run `id` under the home `root`, when it finished.
pub fn stored_report(root: &std::path::Path, id: &str) -> Option<serde_json::Value> {
    if !valid_id(id) {
        return None;
    }
    let text = std::fs::read_to_string(root.join("matrix").join(id).join(REPORT_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Every finished run's report under the home `root`, newest first (by the
/// report file's time), with its id.
pub fn stored_reports(root: &std::path::Path) -> Vec<(String, serde_json::Value)> {
    let Ok(entries) = std::fs::read_dir(root.join("matrix")) else {
        return Vec::new();
    };
    let mut runs: Vec<(std::time::SystemTime, String)> = entries
        .flatten()
        .filter_map(|e| {
            let id = e.file_name().to_str()?.to_string();
            let modified = e
                .path()
                .join(REPORT_FILE)
                .metadata()
                .ok()?
                .modified()
                .ok()?;
            valid_id(&id).then_some((modified, id))
        })
        .collect();
    runs.sort_by(|a, b| b.cmp(a));
    runs.into_iter()
        .filter_map(|(_, id)| stored_report(root, &id).map(|r| (id, r)))
        .collect()
}
