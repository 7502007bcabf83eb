//! Where a unit goes, what environment it gives, and installing it: the
//! file written atomically, and the proof (preflight in the unit's exact
//! environment) before success is claimed.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::config::{Config, Route};
use crate::dispatch::{build_env, parse_env_file, DispatchError, Dispatcher, EnvSpec};
use crate::events::PreflightChecked;
use crate::preflight::{Options, Preflight};

use super::types::*;

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
