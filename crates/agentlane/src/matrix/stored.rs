//! The matrix runs kept on disk: each `agentlane matrix` leaves
//! `<home>/matrix/<run>/report.json` (the live store never sees a cell), and
//! the dashboard lists them from there.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{Comparison, Dimension, Row, Shape};

/// A run's `report.json`, as `agentlane matrix --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredReport {
    /// The shape of the verdict.
    pub shape: Shape,
    /// The dimension whose change flips the result, when one does.
    pub dimension: Option<Dimension>,
    /// Where the repair belongs.
    pub repair_address: String,
    /// The route the verdict is about.
    pub route: String,
    /// The other routes' canaries.
    #[serde(default)]
    pub comparison: Vec<Comparison>,
    /// Control cells that did not end as expected.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The cells' scratch store (`sqlite://…`).
    #[serde(default)]
    pub scratch_store: Option<String>,
    /// The rows.
    pub rows: Vec<Row>,
}

/// One stored run: its directory's name, when its report was written, and
/// the report — or why it could not be read.
#[derive(Debug, Clone)]
pub struct StoredRun {
    /// The run's directory name under `<home>/matrix/`.
    pub id: String,
    /// The report's directory.
    pub dir: PathBuf,
    /// When the report was written (its modification time).
    pub written: SystemTime,
    /// The report, or why it could not be read (a run still going has none yet).
    pub report: Result<StoredReport, String>,
}

/// The matrix runs under `home_root/matrix/`, newest first. A run without
/// a `report.json` (still running, or stopped) is left out; one whose report
/// does not parse is listed with the reason. No directory: no runs.
pub fn stored_runs(home_root: &Path) -> Vec<StoredRun> {
    let Ok(entries) = std::fs::read_dir(home_root.join("matrix")) else {
        return Vec::new();
    };
    let mut runs: Vec<StoredRun> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let dir = e.path();
            let file = dir.join("report.json");
            let written = std::fs::metadata(&file).ok()?.modified().ok()?;
            let report = std::fs::read_to_string(&file)
                .map_err(|err| format!("cannot read {}: {err}", file.display()))
                .and_then(|text| {
                    serde_json::from_str(&text)
                        .map_err(|err| format!("{} is not a matrix report: {err}", file.display()))
                });
            Some(StoredRun {
                id: e.file_name().to_string_lossy().into_owned(),
                dir,
                written,
                report,
            })
        })
        .collect();
    runs.sort_by(|a, b| b.written.cmp(&a.written).then_with(|| b.id.cmp(&a.id)));
    runs
}

/// The run named `id` under `home_root/matrix/` (a name only: a path that
/// would leave that directory is no run).
pub fn stored_run(home_root: &Path, id: &str) -> Option<StoredRun> {
    if id.is_empty() || id.contains(['/', '\\']) || id == "." || id == ".." {
        return None;
    }
    stored_runs(home_root).into_iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"{"shape":"lane_specific","dimension":"env_source","repair_address":"runtime","route":"r","comparison":[],"notes":[],"scratch_store":"sqlite:///x","rows":[{"dispatch_id":"d1","worker_kind":"local","queue_id":"q","route":"r","program":"claude","cwd":"/w","argv":["claude"],"cli_path":"/bin/claude","env_fingerprint":"e","prompt_bytes":3,"exit_code":0,"signal":null,"duration_ms":5,"stderr_tail":"","classifier":"ok","repair_hint":"","dimension":"baseline","value":"","expected":null}]}"#;

    #[test]
    fn runs_are_read_newest_first_and_a_bad_report_says_why() {
        let t = tempfile::tempdir().unwrap();
        assert!(stored_runs(t.path()).is_empty(), "no matrix directory");
        let m = t.path().join("matrix");
        for (name, body) in [("1-old", REPORT), ("2-bad", "{not json")] {
            std::fs::create_dir_all(m.join(name)).unwrap();
            std::fs::write(m.join(name).join("report.json"), body).unwrap();
        }
        std::fs::create_dir_all(m.join("3-running")).unwrap();
        let old = std::fs::File::options()
            .write(true)
            .open(m.join("1-old/report.json"))
            .unwrap();
        old.set_modified(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000))
            .unwrap();
        let runs = stored_runs(t.path());
        let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            ["2-bad", "1-old"],
            "a run without a report is left out"
        );
        assert!(runs[0]
            .report
            .as_ref()
            .unwrap_err()
            .contains("not a matrix report"));
        let good = runs[1].report.as_ref().unwrap();
        assert_eq!(
            (good.shape, good.dimension),
            (Shape::LaneSpecific, Some(Dimension::EnvSource))
        );
        assert_eq!(good.rows.len(), 1);
        assert!(stored_run(t.path(), "1-old").is_some());
        assert!(stored_run(t.path(), "../matrix/1-old").is_none());
        assert!(stored_run(t.path(), "..").is_none());
    }
}
