//! Setting a matrix run up: what the command line named, turned into the
//! plan's inputs and a scratch store. The decisions live here, not in the
//! binary: which prompt limit applies to the route (the largest its kinds
//! allow), who the service user is (only root can run as another user, and a
//! user that does not exist is refused), what the service unit and the login
//! shell would give, and where the cells record (a private SQLite store under
//! the home, whatever the live store is: a matrix run leaves no trace there).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Dimension, PlanInputs};
use crate::config::{Config, Route};
use crate::dispatch::{repo_root, RunAs};
use crate::home::Home;
use crate::store::Store;

/// Why a matrix run cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The service user named does not exist.
    #[error("no user '{0}' on this host: create it, or name another with --service-user")]
    UnknownUser(String),
    /// The scratch area could not be made.
    #[error("cannot create the matrix's scratch area {path}: {message}")]
    Scratch {
        /// Where.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// What the command line and the environment give a matrix run.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// A queued job's real payload (`--job`).
    pub job_payload: Option<String>,
    /// The service user to add a cell for (`--service-user`, else
    /// `$AGENTLANE_SERVICE_USER`), used only when this process is root.
    pub service_user: Option<String>,
    /// The thin service environment's PATH.
    pub thin_path: Option<String>,
    /// Keep only this dimension.
    pub only: Option<Dimension>,
    /// Cap on the number of cells.
    pub max_cells: Option<usize>,
}

/// The largest prompt `route`'s kinds allow, if any sets one. Pure.
pub fn max_prompt_bytes(config: &Config, route: &Route) -> Option<u64> {
    config
        .kinds
        .values()
        .filter(|k| k.routes.is_empty() || k.routes.contains(&route.name))
        .filter_map(|k| k.max_prompt_bytes)
        .max()
}

/// The user a service-user cell runs as: only when this process is root
/// (another user's identity is not ours to take otherwise).
pub fn service_user(name: Option<&str>, is_root: bool) -> Result<Option<RunAs>, SetupError> {
    match name.filter(|n| !n.is_empty()) {
        Some(name) if is_root => RunAs::lookup(name)
            .map(Some)
            .ok_or_else(|| SetupError::UnknownUser(name.to_string())),
        _ => Ok(None),
    }
}

/// The plan's inputs for `route`, with the run's private `scratch` area
/// (its temp dir is created; its missing dir is not).
pub async fn inputs(
    config: &Config,
    route: &Route,
    request: Request,
    home: &Home,
    scratch: &Path,
) -> Result<PlanInputs, SetupError> {
    let temp_dir = scratch.join("tmp");
    crate::home::private_dir(&temp_dir).map_err(|e| SetupError::Scratch {
        path: temp_dir.clone(),
        message: e.to_string(),
    })?;
    let cwd = route
        .cwd
        .clone()
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
    let is_root = nix::unistd::getuid().is_root();
    let worker_env: BTreeMap<String, String> = crate::input::parent_env().into_iter().collect();
    let service_env =
        crate::service::unit_environment_for_route(config, &route.name, home.root(), &worker_env);
    let shell = crate::envdiff::login_shell(&worker_env);
    let login_env = crate::envdiff::capture_shell_env(&shell, crate::envdiff::CAPTURE_TIMEOUT)
        .await
        .ok();
    Ok(PlanInputs {
        login_env,
        service_env,
        worker_env,
        repo_root: repo_root(&cwd),
        temp_dir,
        missing_dir: scratch.join("missing"),
        job_payload: request.job_payload,
        max_prompt_bytes: max_prompt_bytes(config, route),
        service_user: service_user(request.service_user.as_deref(), is_root)?,
        thin_path: request.thin_path,
        only: request.only,
        max_cells: request.max_cells,
    })
}

/// The scratch store and home the cells record into: SQLite at
/// `scratch/matrix.db`, and a home there that keeps the live key (artifacts
/// stay out of the live home; environment fingerprints stay comparable).
pub fn scratch_store(home: &Home, scratch: &Path) -> Result<(Home, Arc<dyn Store>), SetupError> {
    let scratch_home = home.scratch(scratch).map_err(|e| SetupError::Scratch {
        path: scratch.to_path_buf(),
        message: e.to_string(),
    })?;
    let db = scratch.join("matrix.db");
    let store = crate::store::sqlite::SqliteStore::open(&db).map_err(|e| SetupError::Scratch {
        path: db.clone(),
        message: e.to_string(),
    })?;
    Ok((scratch_home, Arc::new(store)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_routes_prompt_limit_is_the_largest_its_kinds_allow() {
        let cfg = crate::config::parse(
            Path::new("a.toml"),
            "[routes.a]\nprofile = \"claude\"\n[routes.b]\nprofile = \"codex\"\n[kinds.small]\nroutes = [\"a\"]\nmax_prompt_bytes = 1000\n[kinds.big]\nmax_prompt_bytes = 5000\n[kinds.other]\nroutes = [\"b\"]\nmax_prompt_bytes = 9000\n",
        )
        .unwrap();
        assert_eq!(max_prompt_bytes(&cfg, &cfg.routes["a"]), Some(5000));
        assert_eq!(max_prompt_bytes(&cfg, &cfg.routes["b"]), Some(9000));
    }

    #[test]
    fn a_service_user_is_taken_only_by_root_and_must_exist() {
        assert!(service_user(Some("root"), false).unwrap().is_none());
        assert_eq!(
            service_user(Some("root"), true).unwrap().map(|u| u.uid),
            Some(0)
        );
        assert!(matches!(
            service_user(Some("nosuchuser-agentlane"), true),
            Err(SetupError::UnknownUser(_))
        ));
        assert!(service_user(None, true).unwrap().is_none());
    }
}

/// How many matrix runs' scratch areas (`HOME/matrix/*`: their store, report
/// and artifacts) are kept: a new run removes the oldest beyond this many.
pub const KEPT_RUNS: usize = 20;

/// Of the runs in `runs` (path, last modified), the ones to remove so that,
/// with the run about to start, at most `keep` remain: the oldest. Pure.
pub fn runs_to_prune(mut runs: Vec<(PathBuf, std::time::SystemTime)>, keep: usize) -> Vec<PathBuf> {
    runs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    runs.into_iter()
        .skip(keep.saturating_sub(1))
        .map(|(p, _)| p)
        .collect()
}

/// Removes the oldest matrix runs under `dir` beyond [`KEPT_RUNS`] (with the
/// one about to start). Best effort: a run that cannot be removed stays,
/// and is named in the answer's second list.
pub fn prune_runs(dir: &Path) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (Vec::new(), Vec::new());
    };
    let runs: Vec<(PathBuf, std::time::SystemTime)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_dir()
                .then(|| (e.path(), meta.modified().unwrap_or(std::time::UNIX_EPOCH)))
        })
        .collect();
    let (mut removed, mut failed) = (Vec::new(), Vec::new());
    for path in runs_to_prune(runs, KEPT_RUNS) {
        match std::fs::remove_dir_all(&path) {
            Ok(()) => removed.push(path),
            Err(e) => failed.push((path, e.to_string())),
        }
    }
    (removed, failed)
}

#[cfg(test)]
mod prune_tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_new_run_removes_the_oldest_beyond_the_kept_number() {
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        let runs = vec![
            (PathBuf::from("b"), at(2)),
            (PathBuf::from("d"), at(4)),
            (PathBuf::from("a"), at(1)),
            (PathBuf::from("c"), at(3)),
        ];
        assert_eq!(
            runs_to_prune(runs.clone(), 3),
            vec![PathBuf::from("b"), PathBuf::from("a")],
            "two kept, plus the new one"
        );
        assert!(runs_to_prune(runs.clone(), 5).is_empty());
        assert_eq!(runs_to_prune(runs, 0).len(), 4);
        assert!(runs_to_prune(Vec::new(), KEPT_RUNS).is_empty());
    }

    #[test]
    fn pruning_removes_only_directories_and_keeps_the_newest() {
        let t = tempfile::tempdir().unwrap();
        for i in 0..(KEPT_RUNS + 3) {
            let d = t.path().join(format!("run-{i:03}"));
            std::fs::create_dir(&d).unwrap();
            std::fs::write(d.join("report.json"), "{}").unwrap();
            let f = std::fs::File::options()
                .write(true)
                .open(d.join("report.json"))
                .unwrap();
            drop(f);
            let when = UNIX_EPOCH + Duration::from_secs(1_000 + i as u64);
            std::fs::File::open(&d).unwrap().set_modified(when).unwrap();
        }
        std::fs::write(t.path().join("stray-file"), "x").unwrap();
        let (removed, failed) = prune_runs(t.path());
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(removed.len(), 4, "{removed:?}");
        assert!(!t.path().join("run-000").exists());
        assert!(!t.path().join("run-003").exists());
        assert!(t.path().join("run-004").exists());
        assert!(t.path().join("stray-file").exists());
    }
}
