//! Service units for a lane's worker: a systemd unit or a launchd plist that
//! carries the environment the worker really needs.
//!
//! A worker that runs from a shell and fails under systemd or launchd almost
//! always fails on its environment: the service manager's thin PATH (no
//! `~/.local/bin`, no nvm's `node`), a different HOME, no API key. So a unit
//! is rendered from facts, not from a template: an explicit PATH made of this
//! process's existing PATH entries plus the directories where each route's
//! program and shebang interpreter resolve, and the variables the routes need
//! (HOME, USER, LANG, their auth variables). Secret values are never written
//! into a unit: systemd reads them from an `EnvironmentFile` the operator
//! fills in; launchd has none, and the plist says where to put them instead.
//!
//! [`render_systemd`] and [`render_launchd`] are pure. [`build_spec`] reads
//! the filesystem (to resolve programs); [`unit_environment`],
//! [`write_unit`] and [`preflight_in_unit`] are the edges `service install`
//! uses — the last runs every route's preflight in exactly the environment
//! the unit gives, before anyone is told the unit works.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;

use crate::config::{Config, ConfigError, Route};
use crate::dispatch::{build_env, parse_env_file, DispatchError, Dispatcher, EnvSpec};
use crate::events::PreflightChecked;
use crate::preflight::{Options, Preflight};
use crate::redact::{is_secret_name, is_secret_var};
use crate::resolve::{find_elsewhere, resolve_program, ResolveFailure};

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
    /// The lane is not defined while others are.
    #[error("unknown lane '{lane}' in {config}: use one of [{known}]")]
    UnknownLane {
        /// The lane asked for.
        lane: String,
        /// The defined lanes.
        known: String,
        /// The configuration file.
        config: PathBuf,
    },
    /// The lane has nothing to run.
    #[error("lane '{lane}' has no routes to run: define routes in {config}")]
    NoRoutes {
        /// The lane.
        lane: String,
        /// The configuration file.
        config: PathBuf,
    },
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

/// Used when no PATH entry exists at all.
const FALLBACK_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Variables that move a CLI's files away from HOME: carried when the unit
/// runs as the user who installs it (another user has its own).
const RELOCATION_VARS: &[&str] = &[
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "CODEX_HOME",
    "CLAUDE_CONFIG_DIR",
];

/// The first lane whose workers run `route`.
pub fn lane_of(config: &Config, route: &str) -> Option<String> {
    config
        .lanes
        .values()
        .find(|l| l.routes.is_empty() || l.routes.iter().any(|r| r == route))
        .map(|l| l.name.clone())
}

/// The environment a worker of the unit `service print` would render for
/// `route`'s lane gets (nothing inherited), when the route has a lane.
pub fn unit_environment_for_route(
    config: &Config,
    route: &str,
    home_dir: &Path,
    parent_env: &BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    let lane = lane_of(config, route)?;
    let spec = build_spec(
        config,
        SpecInputs {
            lane: &lane,
            concurrency: None,
            agentlane_path: std::env::current_exe().unwrap_or_else(|_| "agentlane".into()),
            home_dir: home_dir.to_path_buf(),
            working_directory: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            user: None,
            parent_env,
        },
    )
    .ok()?;
    unit_environment(&spec, Flavour::native(), false).ok()
}

/// The routes a worker of `lane` runs (as the worker chooses them).
pub fn lane_routes<'c>(config: &'c Config, lane: &str) -> Result<Vec<&'c Route>, ServiceError> {
    let lane_cfg = config.lanes.get(lane);
    if lane_cfg.is_none() && !config.lanes.is_empty() {
        return Err(ServiceError::UnknownLane {
            lane: lane.to_string(),
            known: config.lanes.keys().cloned().collect::<Vec<_>>().join(", "),
            config: config.path.clone(),
        });
    }
    let routes: Vec<&Route> = match lane_cfg {
        Some(l) if !l.routes.is_empty() => l
            .routes
            .iter()
            .filter_map(|r| config.routes.get(r))
            .collect(),
        _ => config.routes.values().collect(),
    };
    if routes.is_empty() {
        return Err(ServiceError::NoRoutes {
            lane: lane.to_string(),
            config: config.path.clone(),
        });
    }
    Ok(routes)
}

fn check_lane_name(lane: &str) -> Result<(), ServiceError> {
    let ok = lane
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && lane
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::LaneName(lane.to_string()))
    }
}

/// The configuration as the unit's worker will load it: from its absolute
/// path, so relative paths inside resolve the same way.
pub fn absolute_config(config: Config) -> Result<Config, ServiceError> {
    if config.path.is_absolute() {
        return Ok(config);
    }
    let absolute = std::path::absolute(&config.path).map_err(|e| ConfigError {
        file: config.path.display().to_string(),
        line: 0,
        column: 0,
        message: format!("cannot make the path absolute: {e}"),
    })?;
    Ok(crate::config::load(&absolute)?)
}

/// The user a unit runs as: the one asked for; for a system unit, else the
/// user who ran sudo, else the current user — never root by default (root is
/// refused unless named). User units always run as their owner (`None`).
pub fn service_user(
    requested: Option<&str>,
    user_unit: bool,
    env: &BTreeMap<String, String>,
) -> Result<Option<ServiceUser>, ServiceError> {
    if user_unit {
        return match requested {
            Some(_) => Err(ServiceError::UserUnitWithUser),
            None => Ok(None),
        };
    }
    let lookup = |name: &str| match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => Ok(Some(ServiceUser {
            name: u.name,
            home: u.dir,
        })),
        _ => Err(ServiceError::UnknownUser(name.to_string())),
    };
    if let Some(name) = requested {
        return lookup(name);
    }
    if let Some(sudo_user) = env
        .get("SUDO_USER")
        .filter(|u| !u.is_empty() && *u != "root")
    {
        return lookup(sudo_user);
    }
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        return Err(ServiceError::RootWithoutUser);
    }
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(u)) => Ok(Some(ServiceUser {
            name: u.name,
            home: u.dir,
        })),
        _ => Ok(None),
    }
}

/// Builds the unit's facts for a lane: resolves every route's program (and
/// interpreter) to make the explicit PATH, and picks the variables to carry.
pub fn build_spec(config: &Config, inputs: SpecInputs<'_>) -> Result<UnitSpec, ServiceError> {
    check_lane_name(inputs.lane)?;
    let routes = lane_routes(config, inputs.lane)?;
    let parent = inputs.parent_env;
    let non_empty = |k: &str| parent.get(k).filter(|v| !v.is_empty()).cloned();
    let home = match &inputs.user {
        Some(u) => u.home.clone(),
        None => non_empty("HOME")
            .map(PathBuf::from)
            .ok_or(ServiceError::NoHome)?,
    };
    let same_user = inputs
        .user
        .as_ref()
        .is_none_or(|u| non_empty("USER").as_deref() == Some(u.name.as_str()));
    let mut env = BTreeMap::new();
    env.insert("HOME".to_string(), home.to_string_lossy().into_owned());
    let user_name = inputs.user.as_ref().map(|u| u.name.clone());
    if let Some(user) = user_name.clone().or_else(|| non_empty("USER")) {
        env.insert("USER".to_string(), user);
    }
    if let Some(lang) = non_empty("LANG") {
        env.insert("LANG".to_string(), lang);
    }
    let mut secret_names = Vec::new();
    for name in carried_names(&routes, same_user) {
        let Some(value) = non_empty(name) else {
            continue;
        };
        if is_secret_name(name) || is_secret_var(name, &value) {
            secret_names.push(name.to_string());
        } else {
            env.insert(name.to_string(), expand_home(&value, &home));
        }
    }
    let lane = config.lanes.get(inputs.lane);
    Ok(UnitSpec {
        lane: inputs.lane.to_string(),
        concurrency: inputs
            .concurrency
            .or_else(|| lane.and_then(|l| l.concurrency))
            .unwrap_or(1)
            .max(1),
        path: service_path(&routes, parent, &home, &inputs.working_directory),
        agentlane_path: inputs.agentlane_path,
        home_dir: inputs.home_dir,
        config_path: config.path.clone(),
        env,
        secret_names,
        user: user_name,
        working_directory: inputs.working_directory,
        stop_timeout: config.queue.shutdown_grace + Duration::from_secs(10),
    })
}

/// Names of the variables the routes need besides HOME, USER, LANG and PATH.
fn carried_names<'r>(routes: &[&'r Route], same_user: bool) -> BTreeSet<&'r str> {
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for route in routes {
        names.extend(route.profile.auth_vars.iter().copied());
        names.extend(route.env.inherit.iter().map(String::as_str));
    }
    if same_user {
        names.extend(RELOCATION_VARS.iter().copied());
    }
    names.retain(|n| is_env_name(n) && !matches!(*n, "PATH" | "HOME" | "USER" | "LANG"));
    names
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The explicit PATH: the parent's existing absolute entries, then the
/// directories where each route's program and interpreter resolve.
fn service_path(
    routes: &[&Route],
    parent: &BTreeMap<String, String>,
    home: &Path,
    working_directory: &Path,
) -> String {
    let parent_home = parent.get("HOME").map(PathBuf::from);
    let mut dirs: Vec<String> = Vec::new();
    let parent_path = parent.get("PATH").map(String::as_str);
    for entry in parent_path.unwrap_or("").split(':') {
        let entry = expand_home(entry, parent_home.as_deref().unwrap_or(home));
        if entry.starts_with('/') && Path::new(&entry).is_dir() && !dirs.contains(&entry) {
            dirs.push(entry);
        }
    }
    let mut homes: Vec<&Path> = vec![home];
    homes.extend(parent_home.as_deref().filter(|h| *h != home));
    for route in routes {
        add_route_dirs(route, &mut dirs, &homes, parent_path, working_directory);
    }
    if dirs.is_empty() {
        return FALLBACK_PATH.to_string();
    }
    dirs.join(":")
}

/// Resolves `route` as the worker will (its env built over the candidate
/// PATH); a program or interpreter found only elsewhere adds its directory.
fn add_route_dirs(
    route: &Route,
    dirs: &mut Vec<String>,
    homes: &[&Path],
    parent_path: Option<&str>,
    working_directory: &Path,
) {
    let cwd = route.cwd.as_ref().map_or_else(
        || working_directory.to_path_buf(),
        |c| working_directory.join(c),
    );
    // Each round adds at most one directory: the program's, then the interpreter's.
    for _ in 0..4 {
        let base: Vec<(String, String)> = if dirs.is_empty() {
            Vec::new()
        } else {
            vec![("PATH".to_string(), dirs.join(":"))]
        };
        let env = build_env(&route.env, base);
        let path_var = env.get("PATH").map(String::as_str);
        let missing = match resolve_program(&route.program, path_var, &cwd) {
            Ok(resolved) => {
                push_parent(dirs, &resolved.path);
                if let Some(interpreter) = &resolved.interpreter {
                    push_parent(dirs, &interpreter.path);
                }
                return;
            }
            Err(ResolveFailure::NotFound { program, .. }) if !program.contains('/') => program,
            Err(ResolveFailure::InterpreterMissing { command, .. }) if !command.contains('/') => {
                command
            }
            Err(_) => return,
        };
        let Some(found) = find_elsewhere(&missing, homes, parent_path)
            .into_iter()
            .next()
        else {
            return;
        };
        if !push_parent(dirs, &found) {
            // Already on the candidate PATH: the route sets a PATH of its own.
            return;
        }
    }
}

/// Adds `file`'s directory; false when it was already there.
fn push_parent(dirs: &mut Vec<String>, file: &Path) -> bool {
    let Some(dir) = file.parent().map(|d| d.to_string_lossy().into_owned()) else {
        return false;
    };
    if dirs.contains(&dir) {
        return false;
    }
    dirs.push(dir);
    true
}

#[allow(
    clippy::expect_used,
    reason = "a constant pattern: a unit test compiles every one"
)]
fn home_var() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\$\{HOME\}|\$HOME\b").expect("the HOME pattern compiles"))
}

/// Expands `$HOME`, `${HOME}` and a leading `~` (of the value or of any
/// `:`-separated part) to `home`: service managers expand neither. Pure.
pub fn expand_home(value: &str, home: &Path) -> String {
    let home = home.to_string_lossy();
    let replaced = home_var().replace_all(value, regex::NoExpand(&home));
    replaced
        .split(':')
        .map(|part| match part.strip_prefix('~') {
            Some("") => home.to_string(),
            Some(rest) if rest.starts_with('/') => format!("{home}{rest}"),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(":")
}

/// The unit's file name.
pub fn unit_file_name(flavour: Flavour, lane: &str) -> String {
    match flavour {
        Flavour::Systemd => format!("agentlane-worker-{lane}.service"),
        Flavour::Launchd => format!("{}.plist", launchd_label(lane)),
    }
}

/// The launchd job label.
pub fn launchd_label(lane: &str) -> String {
    format!("dev.agentlane.worker.{lane}")
}

/// Where the unit is installed. `user_home` is the home of the user whose
/// service manager runs a user unit.
pub fn unit_path(flavour: Flavour, user_unit: bool, lane: &str, user_home: &Path) -> PathBuf {
    let dir = match (flavour, user_unit) {
        (Flavour::Systemd, false) => PathBuf::from("/etc/systemd/system"),
        (Flavour::Systemd, true) => user_home.join(".config/systemd/user"),
        (Flavour::Launchd, false) => PathBuf::from("/Library/LaunchDaemons"),
        (Flavour::Launchd, true) => user_home.join("Library/LaunchAgents"),
    };
    dir.join(unit_file_name(flavour, lane))
}

/// The systemd unit's environment file (secrets live there).
pub fn env_file_path(user_unit: bool, lane: &str, user_home: &Path) -> PathBuf {
    if user_unit {
        user_home.join(format!(".config/agentlane/{lane}.env"))
    } else {
        PathBuf::from(format!("/etc/agentlane/{lane}.env"))
    }
}

/// Exactly the environment the unit gives the worker: its PATH and
/// variables and, for systemd, its environment file's when that exists.
/// Nothing is inherited.
pub fn unit_environment(
    spec: &UnitSpec,
    flavour: Flavour,
    user_unit: bool,
) -> Result<BTreeMap<String, String>, ServiceError> {
    let mut env = spec.env.clone();
    env.insert("PATH".to_string(), spec.path.clone());
    if flavour == Flavour::Launchd {
        return Ok(env);
    }
    let file = env_file_path(user_unit, &spec.lane, &spec.home());
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(env),
        Err(e) => {
            return Err(ServiceError::EnvFile {
                path: file,
                message: format!("{e} (systemd reads it as root: run this as root too)"),
            })
        }
    };
    let parsed =
        parse_env_file(&file.display().to_string(), &text).map_err(|e| ServiceError::EnvFile {
            path: file.clone(),
            message: e.to_string(),
        })?;
    env.extend(parsed);
    Ok(env)
}

/// `route` as the unit's worker would run it: its environment built from
/// exactly `unit_env` (as the worker builds it from its own), its working
/// directory taken from the unit's. Pure.
pub fn route_under_unit(
    route: &Route,
    unit_env: &BTreeMap<String, String>,
    working_directory: &Path,
) -> Route {
    let env = build_env(&route.env, unit_env.clone());
    let mut derived = route.clone();
    derived.env = EnvSpec {
        clear: true,
        inherit: Vec::new(),
        set: env.into_iter().collect(),
    };
    derived.cwd = Some(route.cwd.as_ref().map_or_else(
        || working_directory.to_path_buf(),
        |c| working_directory.join(c),
    ));
    derived
}

/// Runs each route's preflight (and, with `canary`, the canary prompt)
/// through the dispatcher, in exactly the unit's environment.
pub async fn preflight_in_unit(
    dispatcher: &Dispatcher,
    config: &Config,
    routes: &[&Route],
    unit_env: &BTreeMap<String, String>,
    working_directory: &Path,
    canary: bool,
) -> Result<Vec<PreflightChecked>, DispatchError> {
    let preflight = Preflight::new(config.preflight.clone());
    let mut results = Vec::with_capacity(routes.len());
    for route in routes {
        let derived = route_under_unit(route, unit_env, working_directory);
        let result = preflight
            .check(dispatcher, config, &derived, None, Options { canary })
            .await?;
        results.push(result);
    }
    Ok(results)
}

/// Writes the unit file (0644: it holds no secrets), creating its directory.
/// Refuses to replace an existing file unless `force`.
pub fn write_unit(path: &Path, text: &str, force: bool) -> Result<(), ServiceError> {
    let write_err = |path: &Path, source: std::io::Error| {
        let hint = if source.kind() == std::io::ErrorKind::PermissionDenied {
            " (system units need root: run with sudo, or install a user unit with --user)"
        } else {
            ""
        };
        ServiceError::Write {
            path: path.to_path_buf(),
            source,
            hint,
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    }
    let mut options = OpenOptions::new();
    options.write(true).mode(0o644);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            ServiceError::Exists(path.to_path_buf())
        } else {
            write_err(path, e)
        }
    })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| write_err(path, e))
}

/// The commands that start an installed unit.
pub fn start_commands(flavour: Flavour, user_unit: bool, lane: &str, path: &Path) -> Vec<String> {
    let unit = format!("agentlane-worker-{lane}");
    match (flavour, user_unit) {
        (Flavour::Systemd, false) => vec![format!(
            "systemctl daemon-reload && systemctl enable --now {unit}"
        )],
        (Flavour::Systemd, true) => vec![
            format!("systemctl --user daemon-reload && systemctl --user enable --now {unit}"),
            "loginctl enable-linger \"$USER\"   # keep it running after you log out".to_string(),
        ],
        (Flavour::Launchd, true) => {
            vec![format!(
                "launchctl bootstrap gui/$(id -u) {}",
                path.display()
            )]
        }
        (Flavour::Launchd, false) => {
            vec![format!(
                "sudo launchctl bootstrap system {}",
                path.display()
            )]
        }
    }
}

mod render;

pub use render::{
    render, render_launchd, render_systemd, systemd_assignment, systemd_exec_word, xml_escape,
};

#[cfg(test)]
mod tests;
