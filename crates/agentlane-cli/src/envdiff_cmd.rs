//! `agentlane env diff`: the login shell's environment against the worker's
//! (and a service unit's) — what is missing where, where the route's program
//! resolves in each — without printing a secret value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agentlane::config::{Config, Route};
use agentlane::dispatch::build_env;
use agentlane::envdiff::{self, Env, EnvDiff, Resolution, Side};
use agentlane::exit_status;
use agentlane::home::{default_home, Home};
use agentlane::service::{self, Flavour, SpecInputs};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::{load_config, require_config, Failure};

#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(subcommand)]
    command: EnvCommand,
}

#[derive(Debug, Subcommand)]
enum EnvCommand {
    /// Compare the login shell's environment with the worker's (and a service unit's)
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// Apply this route's environment to the worker's and compare where its program resolves
    #[arg(long, value_name = "NAME")]
    route: Option<String>,
    /// Also compare with the unit `agentlane service print --lane LANE` writes [default: the route's first lane]
    #[arg(long, value_name = "LANE")]
    lane: Option<String>,
    /// That unit is a user unit (its environment file is ~/.config/agentlane/LANE.env)
    #[arg(long)]
    user: bool,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

pub async fn run(
    args: EnvArgs,
    home: Option<&PathBuf>,
    config: Option<&Path>,
) -> Result<i32, Failure> {
    match args.command {
        EnvCommand::Diff(diff_args) => diff(diff_args, home, config).await,
    }
}

fn open_home(home: Option<&PathBuf>, parent: &Env) -> Result<Home, Failure> {
    let root = match home {
        Some(h) => h.clone(),
        None => default_home(|k| parent.get(k).cloned())
            .map_err(|e| Failure::new(exit_status::CANT_CREATE, e.to_string()))?,
    };
    Home::open(&root).map_err(|e| Failure::new(exit_status::CANT_CREATE, e.to_string()))
}

/// The service unit's side, when a lane is named or implied.
fn service_side(
    args: &DiffArgs,
    config: Option<&Config>,
    route: Option<&Route>,
    parent: &Env,
    home_dir: &Path,
) -> Result<Option<Side>, Failure> {
    let Some(config) = config else {
        return Ok(None);
    };
    let implied = route.and_then(|r| service::lane_of(config, &r.name));
    let Some(lane) = args.lane.clone().or(implied) else {
        return Ok(None);
    };
    let bad = |e: service::ServiceError| Failure::new(exit_status::USAGE, e.to_string());
    let working_directory = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    // Root with no user named: `service install` would refuse; the unit's
    // side is then described as root's, which is what it would have been.
    let user = match service::service_user(None, args.user, parent) {
        Err(service::ServiceError::RootWithoutUser) => None,
        other => other.map_err(bad)?,
    };
    let spec = service::build_spec(
        config,
        SpecInputs {
            lane: &lane,
            concurrency: None,
            agentlane_path: std::env::current_exe().unwrap_or_else(|_| "agentlane".into()),
            home_dir: home_dir.to_path_buf(),
            working_directory: working_directory.clone(),
            user,
            parent_env: parent,
        },
    )
    .map_err(bad)?;
    let unit_env = service::unit_environment(&spec, Flavour::native(), args.user)
        .map_err(|e| Failure::new(exit_status::CONFIG, e.to_string()))?;
    let env = match route {
        Some(r) => build_env(&r.env, unit_env),
        None => unit_env,
    };
    let label = format!("service unit (lane {lane})");
    Ok(Some(envdiff::observe(
        &label,
        env,
        route,
        &working_directory,
    )))
}

async fn diff(
    args: DiffArgs,
    home: Option<&PathBuf>,
    config: Option<&Path>,
) -> Result<i32, Failure> {
    let config = if args.route.is_some() || args.lane.is_some() {
        Some(require_config(config)?)
    } else {
        load_config(config)?
    };
    let route = match (&args.route, &config) {
        (Some(name), Some(c)) => Some(
            c.route(name)
                .map_err(|e| Failure::new(exit_status::USAGE, e.to_string()))?,
        ),
        _ => None,
    };
    let parent: Env = agentlane::input::parent_env().into_iter().collect();
    let home = open_home(home, &parent)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let shell = envdiff::login_shell(&parent);
    let shell_env = envdiff::capture_shell_env(&shell, envdiff::CAPTURE_TIMEOUT)
        .await
        .map_err(|e| Failure::new(exit_status::UNAVAILABLE, e.to_string()))?;
    let worker_env = match route {
        Some(r) => build_env(&r.env, parent.clone()),
        None => parent.clone(),
    };
    let worker_label = match route {
        Some(r) => format!("worker (route {})", r.name),
        None => "worker".to_string(),
    };
    let shell_side = envdiff::observe(&format!("shell ({shell} -l)"), shell_env, route, &cwd);
    let worker_side = envdiff::observe(&worker_label, worker_env, route, &cwd);
    let service = service_side(&args, config.as_ref(), route, &parent, home.root())?;
    let mut diffs = vec![envdiff::diff(&shell_side, &worker_side, home.key())];
    if let Some(service) = &service {
        diffs.push(envdiff::diff(&shell_side, service, home.key()));
    }
    if args.json {
        let out = json!({
            "route": route.map(|r| r.name.clone()),
            "shell": shell,
            "comparisons": diffs,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("the diff serialises")
        );
    } else {
        for (i, d) in diffs.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print!("{}", render_text(d));
        }
    }
    Ok(0)
}

fn shown(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("<unset>")
}

fn resolution_text(r: &Resolution) -> String {
    let found = r.path.as_ref().map(|p| p.display().to_string());
    let interpreter = match (&r.interpreter, &r.interpreter_path) {
        (Some(cmd), Some(p)) => format!(" ({cmd}: {})", p.display()),
        _ => String::new(),
    };
    match (&r.error, found) {
        (Some(error), _) => format!("NO — {error}"),
        (None, Some(path)) => format!("{path}{interpreter}"),
        (None, None) => "NO".to_string(),
    }
}

/// The diff for a terminal: only what differs, one variable per line, by
/// group; never a secret value.
fn render_text(d: &EnvDiff) -> String {
    let mut out = format!("{}  vs  {}\n", d.a, d.b);
    let state = |p: envdiff::Presence| match p {
        envdiff::Presence::OnlyA => format!("set in {} only", d.a),
        envdiff::Presence::OnlyB => format!("set in {} only", d.b),
        envdiff::Presence::Differs => "different values".to_string(),
    };
    let width = d
        .groups
        .credentials
        .iter()
        .chain(&d.groups.network)
        .chain(&d.groups.other)
        .map(|v| v.name.len())
        .max()
        .unwrap_or(0);
    let mut section = |title: &str,
                       items: &[envdiff::Differing],
                       presence: &dyn Fn(envdiff::Presence) -> String| {
        if items.is_empty() {
            return;
        }
        out.push_str(&format!("  {title}\n"));
        for v in items {
            out.push_str(&format!(
                "    {:<width$}  {}\n",
                v.name,
                presence(v.presence)
            ));
        }
    };
    let credential = |p: envdiff::Presence| match p {
        envdiff::Presence::OnlyA => format!("present in {}, absent in {}", d.a, d.b),
        envdiff::Presence::OnlyB => format!("absent in {}, present in {}", d.a, d.b),
        envdiff::Presence::Differs => "present in both, different values".to_string(),
    };
    section(
        "credentials (values never shown):",
        &d.groups.credentials,
        &credential,
    );
    section(
        "network and certificates (change how Node and Python CLIs reach the network or trust certificates):",
        &d.groups.network,
        &state,
    );
    section("other variables:", &d.groups.other, &state);
    if !d.path.same {
        out.push_str(&format!("  PATH ({} | {}):\n", d.a, d.b));
        let rows = envdiff::path_side_by_side(&d.path.a, &d.path.b);
        let left = rows
            .iter()
            .map(|(e, _, _)| e.len())
            .max()
            .unwrap_or(0)
            .max(d.a.len());
        for (entry, in_a, in_b) in rows {
            let (l, r) = (
                if in_a { entry.as_str() } else { "" },
                if in_b { entry.as_str() } else { "" },
            );
            let mark = if in_a && in_b { "" } else { "   ← differs" };
            out.push_str(&format!("    {l:<left$} | {r}{mark}\n"));
        }
        if d.path.missing_from_a.is_empty() && d.path.missing_from_b.is_empty() {
            out.push_str("    (the same entries in another order)\n");
        }
    }
    for i in d.identity.iter().filter(|i| !i.same) {
        out.push_str(&format!(
            "  {:<7} {} | {}   ← differs\n",
            i.name,
            shown(&i.a),
            shown(&i.b)
        ));
    }
    if let Some(r) = &d.resolution {
        let mark = if r.same { "" } else { "   ← differs" };
        out.push_str(&format!(
            "  {} resolves: {} | {}{mark}\n",
            r.a.program,
            resolution_text(&r.a),
            resolution_text(&r.b)
        ));
    }
    let files: BTreeMap<&str, (bool, bool)> = d
        .credential_files
        .iter()
        .map(|f| (f.file.as_str(), (f.a, f.b)))
        .collect();
    let yes = |b: bool| if b { "yes" } else { "no" };
    for (file, (a, b)) in files.into_iter().filter(|(_, (a, b))| a != b) {
        out.push_str(&format!(
            "  credential file {file}: {} | {}   ← differs\n",
            yes(a),
            yes(b)
        ));
    }
    if !d.groups.harmless.is_empty() {
        let n = d.groups.harmless.len();
        let some: Vec<&str> = d
            .groups
            .harmless
            .iter()
            .take(4)
            .map(String::as_str)
            .collect();
        out.push_str(&format!(
            "  ({n} harmless variable{} differ{}, folded: {}{})\n",
            if n == 1 { "" } else { "s" },
            if n == 1 { "s" } else { "" },
            some.join(", "),
            if n > 4 { ", …" } else { "" }
        ));
    }
    if !d.has_differences() {
        out.push_str("  no difference that decides how an agent runs\n");
    }
    out
}
