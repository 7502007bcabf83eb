//! Which cells a matrix runs: the baseline and one dimension varied at a
//! time (pure).

use crate::config::{Config, Route, CANARY_PROMPT};
use crate::dispatch::RunAs;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The dimension a cell varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// The baseline cell (nothing varied).
    Baseline,
    /// The worker kind.
    WorkerKind,
    /// The working directory.
    Cwd,
    /// Where the environment comes from.
    EnvSource,
    /// The prompt payload.
    Payload,
    /// The model route.
    Route,
    /// The execution user.
    User,
}

impl Dimension {
    /// The label used in output and `--only`.
    pub fn label(self) -> &'static str {
        match self {
            Dimension::Baseline => "baseline",
            Dimension::WorkerKind => "worker_kind",
            Dimension::Cwd => "cwd",
            Dimension::EnvSource => "env_source",
            Dimension::Payload => "payload",
            Dimension::Route => "route",
            Dimension::User => "user",
        }
    }
}

impl std::str::FromStr for Dimension {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            Dimension::WorkerKind,
            Dimension::Cwd,
            Dimension::EnvSource,
            Dimension::Payload,
            Dimension::Route,
            Dimension::User,
        ]
        .into_iter()
        .find(|d| d.label() == s)
        .ok_or_else(|| {
            format!(
                "unknown dimension '{s}': use worker_kind, cwd, env_source, payload, route or user"
            )
        })
    }
}

/// One cell: a derived route and a prompt.
#[derive(Debug, Clone)]
pub struct Cell {
    /// What it varies.
    pub dimension: Dimension,
    /// To what.
    pub value: String,
    /// The route it runs (the base route with the variation applied).
    pub route: Route,
    /// The prompt.
    pub prompt: String,
    /// The worker kind that runs it.
    pub worker_kind: String,
    /// For a control cell, the class it must end with (the missing working
    /// directory must be `cwd_missing`); controls do not decide the shape.
    pub expected: Option<String>,
}

/// Inputs of a plan, gathered at the edge.
#[derive(Debug, Clone, Default)]
pub struct PlanInputs {
    /// The environment a login shell gives (`$SHELL -lc env`), when it could be captured.
    pub login_env: Option<BTreeMap<String, String>>,
    /// The environment an installed service unit would give, when known.
    pub service_env: Option<BTreeMap<String, String>>,
    /// The worker's own environment.
    pub worker_env: BTreeMap<String, String>,
    /// The repository root of the route's working directory.
    pub repo_root: Option<PathBuf>,
    /// A fresh temporary directory.
    pub temp_dir: PathBuf,
    /// A directory that does not exist.
    pub missing_dir: PathBuf,
    /// A queued job's real payload (`--job`).
    pub job_payload: Option<String>,
    /// The largest prompt the route's kinds allow, if any sets one.
    pub max_prompt_bytes: Option<u64>,
    /// A service user to run as (only when this process is root).
    pub service_user: Option<RunAs>,
    /// The thin service environment's PATH (default [`THIN_PATH`]).
    pub thin_path: Option<String>,
    /// Keep only this dimension (the baseline always runs).
    pub only: Option<Dimension>,
    /// Cap on the number of cells.
    pub max_cells: Option<usize>,
}

/// The PATH a cron job gets (launchd's and systemd's defaults are close).
pub const THIN_PATH: &str = "/usr/bin:/bin";

/// The thin environment a cron job or a launchd agent gets, with `path` as its PATH.
pub fn thin_service_env(worker: &BTreeMap<String, String>, path: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("PATH".to_string(), path.to_string());
    env.insert("SHELL".to_string(), "/bin/sh".to_string());
    for keep in ["HOME", "USER", "LOGNAME"] {
        if let Some(v) = worker.get(keep) {
            env.insert(keep.to_string(), v.clone());
        }
    }
    env
}

pub(super) fn derived(base: &Route, n: usize) -> Route {
    let mut r = base.clone();
    r.name = format!("{}#{n}", base.name);
    r
}

/// The cells for one route: the baseline, then one dimension varied at a
/// time. Pure. Refused when a worker kind names a user that does not exist
/// (its cell would run as the caller instead).
pub fn plan(
    config: &Config,
    base: &Route,
    inputs: &PlanInputs,
) -> Result<Vec<Cell>, crate::config::UnknownUser> {
    let mut cells = Vec::new();
    let mut push =
        |dimension: Dimension, value: String, route: Route, prompt: String, kind: &str| {
            let n = cells.len();
            let mut route = route;
            // Each cell runs on its own derived route, named after the route it varies.
            let origin = route.name.split('#').next().unwrap_or_default().to_string();
            route.name = format!("{origin}#{n}");
            let expected = (dimension == Dimension::Cwd && value.starts_with("missing:"))
                .then(|| "cwd_missing".to_string());
            cells.push(Cell {
                dimension,
                value,
                route,
                prompt,
                worker_kind: kind.to_string(),
                expected,
            });
        };
    let canary = CANARY_PROMPT.to_string();
    let wanted = |d: Dimension| inputs.only.is_none_or(|o| o == d);
    push(
        Dimension::Baseline,
        "baseline".into(),
        base.clone(),
        canary.clone(),
        "local",
    );
    if wanted(Dimension::WorkerKind) {
        for kind in config.workers.values() {
            push(
                Dimension::WorkerKind,
                kind.name.clone(),
                kind.apply(base)?,
                canary.clone(),
                &kind.name,
            );
        }
    }
    if wanted(Dimension::Cwd) {
        let mut dirs: Vec<(String, PathBuf)> = Vec::new();
        if let Some(root) = &inputs.repo_root {
            dirs.push(("repo_root".into(), root.clone()));
        }
        dirs.push(("temp_dir".into(), inputs.temp_dir.clone()));
        dirs.push(("missing".into(), inputs.missing_dir.clone()));
        for (label, dir) in dirs {
            let mut r = derived(base, 0);
            r.cwd = Some(dir.clone());
            push(
                Dimension::Cwd,
                format!("{label}: {}", dir.display()),
                r,
                canary.clone(),
                "local",
            );
        }
    }
    if wanted(Dimension::EnvSource) {
        let mut sources: Vec<(&str, BTreeMap<String, String>)> = Vec::new();
        if let Some(login) = &inputs.login_env {
            sources.push(("login_shell", login.clone()));
        }
        let thin_path = inputs.thin_path.as_deref().unwrap_or(THIN_PATH);
        sources.push((
            "thin_service",
            thin_service_env(&inputs.worker_env, thin_path),
        ));
        if let Some(service) = &inputs.service_env {
            sources.push(("service_unit", service.clone()));
        }
        for (label, env) in sources {
            let mut r = derived(base, 0);
            r.base_env = Some(env);
            push(
                Dimension::EnvSource,
                label.into(),
                r,
                canary.clone(),
                "local",
            );
        }
    }
    if wanted(Dimension::Payload) {
        if let Some(payload) = &inputs.job_payload {
            push(
                Dimension::Payload,
                format!("job payload ({} bytes)", payload.len()),
                base.clone(),
                payload.clone(),
                "local",
            );
        }
        if let Some(max) = inputs.max_prompt_bytes {
            let mut big = canary.clone();
            let pad = (max as usize).saturating_sub(big.len() + 1);
            big.push('\n');
            big.push_str(&"x".repeat(pad));
            push(
                Dimension::Payload,
                format!("at the contract limit ({max} bytes)"),
                base.clone(),
                big,
                "local",
            );
        }
    }
    if wanted(Dimension::Route) {
        for other in config.routes.values().filter(|r| r.name != base.name) {
            push(
                Dimension::Route,
                other.name.clone(),
                other.clone(),
                canary.clone(),
                "local",
            );
        }
    }
    if wanted(Dimension::User) {
        if let Some(user) = &inputs.service_user {
            let mut r = derived(base, 0);
            r.run_as = Some(user.clone());
            push(
                Dimension::User,
                user.name.clone(),
                r,
                canary.clone(),
                "local",
            );
        }
    }
    if let Some(max) = inputs.max_cells {
        cells.truncate(max.max(1));
    }
    Ok(cells)
}
