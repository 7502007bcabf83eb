//! A lane's unit, as facts: the routes it runs, the user it runs as, the
//! explicit PATH where their programs and interpreters resolve, and the
//! variables it carries.

use std::collections::{BTreeMap, BTreeSet};

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use regex::Regex;

use crate::config::{Config, ConfigError, Route};
use crate::dispatch::build_env;

use crate::redact::{is_secret_name, is_secret_var};
use crate::resolve::{find_elsewhere, resolve_program, ResolveFailure};

use super::install::unit_environment;
use super::types::*;

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
    crate::plan::lane_of(config, route).map(str::to_string)
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
    Ok(crate::plan::lane_routes(config, lane)?)
}

pub(super) fn check_lane_name(lane: &str) -> Result<(), ServiceError> {
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
    // A webhook URL given by reference is a secret the worker itself needs
    // (alerts): named with the others, its value never written into the unit.
    for w in &config.alerts.webhooks {
        if let crate::config::WebhookUrl::Env(name) = &w.url {
            if is_env_name(name) && !secret_names.contains(name) {
                secret_names.push(name.clone());
            }
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
