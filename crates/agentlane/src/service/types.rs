//! The service's types: the flavour of unit, what a unit is built from, and
//! the errors.

use std::collections::BTreeMap;

use std::path::{Path, PathBuf};

use std::time::Duration;

use crate::config::ConfigError;

/// Which service manager a unit is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// A systemd service unit.
    Systemd,
    /// A launchd property list.
    Launchd,
}

impl Flavour {
    /// The service manager of this operating system: launchd on macOS, else systemd.
    pub fn native() -> Flavour {
        if cfg!(target_os = "macos") {
            Flavour::Launchd
        } else {
            Flavour::Systemd
        }
    }
}

/// Why a unit cannot be built or installed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The lane cannot be planned (unknown, or without routes).
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// The lane's name cannot be part of a unit file name.
    #[error("lane name '{0}' cannot name a unit file: use letters, digits, '.', '_' and '-' (starting with a letter or digit)")]
    LaneName(String),
    /// No HOME for the worker.
    #[error(
        "cannot tell the worker's HOME: set HOME, or name the service user with --service-user"
    )]
    NoHome,
    /// The service user does not exist.
    #[error("no user '{0}' on this machine: create it, or name another with --service-user")]
    UnknownUser(String),
    /// A system unit installed by root with no user named would run its
    /// agents as root.
    #[error("a system unit written by root with no user named would run its agents as root: name the user with --service-user USER (--service-user root if that is really what you want), or run through sudo as that user")]
    RootWithoutUser,
    /// A user unit always runs as its owner.
    #[error("a user unit runs as the user who owns it: drop --service-user, or install a system unit (without --user)")]
    UserUnitWithUser,
    /// The unit file exists.
    #[error("{0} already exists: pass --force to replace it")]
    Exists(PathBuf),
    /// The unit file (or its directory) could not be written.
    #[error("cannot write {path}: {source}{hint}")]
    Write {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// The unit's environment file exists but cannot be read or parsed.
    #[error("cannot use the environment file {path}: {message}")]
    EnvFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The configuration could not be reloaded from its absolute path.
    #[error("{0}")]
    Config(#[from] ConfigError),
}

/// Everything a unit for one lane's worker says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    /// The lane the worker serves.
    pub lane: String,
    /// `worker --concurrency`.
    pub concurrency: u32,
    /// The agentlane executable (absolute).
    pub agentlane_path: PathBuf,
    /// The agentlane home (`--home`).
    pub home_dir: PathBuf,
    /// The configuration (`--config`, absolute).
    pub config_path: PathBuf,
    /// The explicit PATH.
    pub path: String,
    /// Other variables baked into the unit (never secrets); always has HOME.
    pub env: BTreeMap<String, String>,
    /// Secret variables the routes use: named in the unit, valued elsewhere.
    pub secret_names: Vec<String>,
    /// The user a system unit runs as.
    pub user: Option<String>,
    /// The worker's working directory.
    pub working_directory: PathBuf,
    /// How long the manager waits after SIGTERM: queue shutdown grace + 10 s.
    pub stop_timeout: Duration,
}

impl UnitSpec {
    /// The worker's HOME.
    pub fn home(&self) -> PathBuf {
        PathBuf::from(self.env.get("HOME").map_or("/", String::as_str))
    }

    /// The worker's command line, program first.
    pub fn argv(&self) -> Vec<String> {
        let shown = |p: &Path| p.to_string_lossy().into_owned();
        vec![
            shown(&self.agentlane_path),
            "--home".into(),
            shown(&self.home_dir),
            "--config".into(),
            shown(&self.config_path),
            "worker".into(),
            "--lane".into(),
            self.lane.clone(),
            "--concurrency".into(),
            self.concurrency.to_string(),
        ]
    }

    /// Where launchd writes the worker's output.
    pub fn log_file(&self) -> PathBuf {
        self.home_dir
            .join("logs")
            .join(format!("worker-{}.log", self.lane))
    }
}

/// A user a system unit runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUser {
    /// The login name.
    pub name: String,
    /// Its home directory.
    pub home: PathBuf,
}

/// What [`build_spec`] needs besides the configuration.
#[derive(Debug, Clone)]
pub struct SpecInputs<'a> {
    /// The lane.
    pub lane: &'a str,
    /// `--concurrency` (default: the lane's, else 1).
    pub concurrency: Option<u32>,
    /// The agentlane executable.
    pub agentlane_path: PathBuf,
    /// The agentlane home.
    pub home_dir: PathBuf,
    /// The worker's working directory.
    pub working_directory: PathBuf,
    /// The user a system unit runs as, if any.
    pub user: Option<ServiceUser>,
    /// This process's environment (where PATH and the routes' variables come from).
    pub parent_env: &'a BTreeMap<String, String>,
}
