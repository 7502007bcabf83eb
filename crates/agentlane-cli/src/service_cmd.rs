//! `agentlane service print|install`: a systemd unit or launchd plist for a
//! lane's worker, with an explicit PATH and the variables its routes need —
//! and, on install, proof that every route runs in exactly that environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agentlane::config::{Config, Route};
use agentlane::dispatch::Dispatcher;
use agentlane::events::PreflightChecked;
use agentlane::exit_status;
use agentlane::home::{default_home, private_dir};
use agentlane::service::{self, Flavour, ServiceError, SpecInputs, UnitSpec};
use clap::{Args, Subcommand};

use crate::{open_store, require_config, Failure};

#[derive(Debug, Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    command: ServiceCommand,
}

#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// Print the unit for a lane's worker without installing it
    Print(UnitArgs),
    /// Write the unit, then preflight every route of the lane in the unit's exact environment
    Install(InstallArgs),
}

#[derive(Debug, Args)]
struct UnitArgs {
    /// The lane the worker serves
    #[arg(long)]
    lane: String,
    /// A systemd unit [default on Linux]
    #[arg(long, conflicts_with = "launchd")]
    systemd: bool,
    /// A launchd plist [default on macOS]
    #[arg(long)]
    launchd: bool,
    /// A per-user unit (systemctl --user, ~/Library/LaunchAgents) instead of a system one
    #[arg(long)]
    user: bool,
    /// Jobs at once [default: the lane's concurrency, else 1]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: Option<u32>,
    /// The user a system unit runs as [default: the user who ran sudo, else the current user unless root]
    #[arg(long, value_name = "NAME")]
    service_user: Option<String>,
    /// The worker's working directory [default: the current directory]
    #[arg(long, value_name = "DIR")]
    working_directory: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct InstallArgs {
    #[command(flatten)]
    unit: UnitArgs,
    /// Replace an existing unit file
    #[arg(long)]
    force: bool,
    /// Also run the canary prompt through each route in the unit's environment (spends tokens)
    #[arg(long)]
    canary: bool,
    /// Write into DIR instead of the service manager's directory (packaging, tests)
    #[arg(long, value_name = "DIR")]
    unit_dir: Option<PathBuf>,
}

/// A rendered unit with what it was rendered from.
struct Rendered {
    config: Config,
    spec: UnitSpec,
    flavour: Flavour,
    user_unit: bool,
    text: String,
}

fn failure(e: ServiceError) -> Failure {
    let status = match &e {
        ServiceError::Write { .. } => exit_status::CANT_CREATE,
        // A lane the configuration does not define is a configuration error, as
        // `worker --lane` says it.
        ServiceError::EnvFile { .. } | ServiceError::Config(_) | ServiceError::Plan(_) => {
            exit_status::CONFIG
        }
        _ => exit_status::USAGE,
    };
    Failure::new(status, e.to_string())
}

fn absolute(path: &Path) -> Result<PathBuf, Failure> {
    std::path::absolute(path).map_err(|e| {
        Failure::new(
            exit_status::USAGE,
            format!("cannot make {} absolute: {e}", path.display()),
        )
    })
}

fn render(
    args: &UnitArgs,
    home: Option<&PathBuf>,
    config: Option<&Path>,
) -> Result<Rendered, Failure> {
    let config = service::absolute_config(require_config(config)?).map_err(failure)?;
    let parent: BTreeMap<String, String> = agentlane::input::parent_env().into_iter().collect();
    let home_dir = match home {
        Some(h) => absolute(h)?,
        None => default_home(|k| parent.get(k).cloned())
            .map_err(|e| Failure::new(exit_status::CANT_CREATE, e.to_string()))?,
    };
    let agentlane_path = std::env::current_exe().map_err(|e| {
        Failure::new(
            exit_status::OS_ERROR,
            format!("cannot tell where the agentlane executable is: {e}"),
        )
    })?;
    let working_directory = match &args.working_directory {
        Some(dir) => absolute(dir)?,
        None => std::env::current_dir().map_err(|e| {
            Failure::new(
                exit_status::USAGE,
                format!("the current directory is unusable ({e}): pass --working-directory DIR"),
            )
        })?,
    };
    // The lane first: a typo is the most basic mistake, whoever runs it.
    service::lane_routes(&config, &args.lane).map_err(failure)?;
    let user =
        service::service_user(args.service_user.as_deref(), args.user, &parent).map_err(failure)?;
    let spec = service::build_spec(
        &config,
        SpecInputs {
            lane: &args.lane,
            concurrency: args.concurrency,
            agentlane_path,
            home_dir,
            working_directory,
            user,
            parent_env: &parent,
        },
    )
    .map_err(failure)?;
    let flavour = match (args.systemd, args.launchd) {
        (true, _) => Flavour::Systemd,
        (_, true) => Flavour::Launchd,
        _ => Flavour::native(),
    };
    let text = service::render(&spec, flavour, args.user);
    Ok(Rendered {
        config,
        spec,
        flavour,
        user_unit: args.user,
        text,
    })
}

pub async fn run(
    args: ServiceArgs,
    home: Option<&PathBuf>,
    config: Option<&Path>,
) -> Result<i32, Failure> {
    match args.command {
        ServiceCommand::Print(unit) => {
            print!("{}", render(&unit, home, config)?.text);
            Ok(0)
        }
        ServiceCommand::Install(install_args) => install(install_args, home, config).await,
    }
}

async fn install(
    args: InstallArgs,
    home: Option<&PathBuf>,
    config: Option<&Path>,
) -> Result<i32, Failure> {
    let r = render(&args.unit, home, config)?;
    let lane = &r.spec.lane;
    let path = match &args.unit_dir {
        Some(dir) => absolute(dir)?.join(service::unit_file_name(r.flavour, lane)),
        None => service::unit_path(r.flavour, r.user_unit, lane, &r.spec.home()),
    };
    service::write_unit(&path, &r.text, args.force).map_err(failure)?;
    println!("wrote {}", path.display());
    if r.flavour == Flavour::Launchd {
        let logs = r.spec.log_file();
        if let Some(dir) = logs.parent() {
            private_dir(dir).map_err(|e| Failure::new(exit_status::CANT_CREATE, e.to_string()))?;
        }
    }
    let unit_env = service::unit_environment(&r.spec, r.flavour, r.user_unit).map_err(failure)?;
    let routes = service::lane_routes(&r.config, lane).map_err(failure)?;
    print_secrets_note(&r, &unit_env, &routes);
    let (home, store) = open_store(Some(&r.spec.home_dir)).await?;
    let dispatcher = Dispatcher::new(home, store, Some(r.config.rules.clone()));
    println!(
        "preflight of lane '{lane}' in the unit's environment (its {} variables, nothing inherited):",
        unit_env.len()
    );
    let results = service::preflight_in_unit(
        &dispatcher,
        &r.config,
        &routes,
        &unit_env,
        &r.spec.working_directory,
        args.canary,
    )
    .await
    .map_err(|e| Failure::new(exit_status::IO_ERROR, e.to_string()))?;
    report(&results);
    if !results.iter().all(PreflightChecked::passed) {
        eprintln!(
            "agentlane: the unit at {} is written, but its worker cannot run every route of lane '{lane}': fix the above, then run `agentlane service install` again with --force",
            path.display()
        );
        return Ok(exit_status::UNAVAILABLE);
    }
    println!("start it:");
    for command in service::start_commands(r.flavour, r.user_unit, lane, &path) {
        println!("  {command}");
    }
    Ok(0)
}

/// Says where the routes' secrets come from, or must be put.
fn print_secrets_note(r: &Rendered, unit_env: &BTreeMap<String, String>, routes: &[&Route]) {
    let set_by_routes = |name: &str| {
        routes
            .iter()
            .all(|route| route.env.set.iter().any(|(k, _)| k == name))
    };
    let missing: Vec<&str> = r
        .spec
        .secret_names
        .iter()
        .map(String::as_str)
        .filter(|n| !unit_env.contains_key(*n) && !set_by_routes(n))
        .collect();
    if missing.is_empty() {
        return;
    }
    let env_file = service::env_file_path(r.user_unit, &r.spec.lane, &r.spec.home());
    let names = missing.join(", ");
    match r.flavour {
        Flavour::Systemd => println!(
            "secrets ({names}) are not written into the unit: put KEY=VALUE lines for them in {} (mode 0600)",
            env_file.display()
        ),
        Flavour::Launchd => println!(
            "secrets ({names}) are not written into the plist: launchd has no environment file, so set them in the routes' env_file (agentlane.toml, mode 0600)"
        ),
    }
}

fn report(results: &[PreflightChecked]) {
    for r in results {
        if r.passed() {
            let path = r
                .cli_path
                .as_ref()
                .map_or_else(String::new, |p| format!(" ({})", p.display()));
            println!("  route {}: ok{path}", r.route);
        } else {
            let class = r
                .classifier
                .map_or_else(|| "failed".to_string(), |c| c.to_string());
            eprintln!(
                "  route {}: {class}: {}",
                r.route,
                r.repair_hint.as_deref().unwrap_or("see `agentlane doctor`")
            );
        }
    }
}
