//! `agentlane`: argument parsing and rendering over the agentlane library.
//!
//! Each verb lives in its own file; none of them decides anything the
//! library could decide. Errors are rendered for the person at the terminal
//! (what failed, why, how to fix it) and mapped to documented exit statuses.

mod controls;
mod doctor;
mod envdiff_cmd;
mod exec;
mod explain;
mod init;
mod logs;
mod matrix_cmd;
mod otel;
mod queue;
mod queue_view;
mod render;
mod rules_cmd;
mod runs;
mod serve_cmd;
mod service_cmd;
mod store_cmd;
mod usage_cmd;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use agentlane::exit_status;
use agentlane::home::{default_home, Home};
use agentlane::store::sqlite::SqliteStore;
use agentlane::store::Store;
use clap::{Parser, Subcommand};

/// Runs coding-agent CLIs (Codex, Claude Code, Gemini, Qwen Code, aider, opencode) unattended, one at a time or from a durable queue, and names every failure: a class, the evidence and a repair hint, instead of `exit 1`.
#[derive(Debug, Parser)]
#[command(name = "agentlane", version, long_about = None, after_help = exit_table())]
struct Cli {
    /// State directory (database, artifacts, key) [default: $AGENTLANE_HOME, else the XDG data dir]
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    /// Configuration file [default: $AGENTLANE_CONFIG, ./agentlane.toml, then ~/.config/agentlane/agentlane.toml]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The store: postgres://user@host/db for many machines, sqlite:///path [default: $AGENTLANE_STORE, [store] url, else SQLite in the home]
    #[arg(long, global = true, value_name = "URL")]
    store: Option<String>,
    /// How log events are written to stderr: human lines, or one JSON object per line (journald, log shippers). Which events: $AGENTLANE_LOG, else $RUST_LOG (e.g. `warn`, `info`), default `info` for `worker`, none for other commands
    #[arg(long, global = true, value_enum, default_value_t = logs::LogFormat::Human)]
    log_format: logs::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one agent CLI invocation through the dispatcher and tell the truth about it.
    Exec(exec::ExecArgs),
    /// List recent dispatches (one per agent run), newest first.
    Runs(runs::RunsArgs),
    /// Show one dispatch: outcome, class, repair hint, output tails and events.
    Show(runs::ShowArgs),
    /// Explain a failure class: meaning, usual causes, repair steps.
    Explain(explain::ExplainArgs),
    /// Turn an unknown exit into a classifier rule: `rules suggest ID`, `rules test FILE`, `rules add`.
    Rules(rules_cmd::RulesArgs),
    /// Check every route (or one) before work runs on it: the CLI resolves, starts, and is allowed.
    Doctor(doctor::DoctorArgs),
    /// Write a commented starter agentlane.toml for the agent CLIs on this machine.
    Init(init::InitArgs),
    /// Add jobs to a lane (refused at once when the payload breaks its contract).
    Enqueue(queue::EnqueueArgs),
    /// Claim and run a lane's jobs through the dispatcher.
    Worker(queue::WorkerArgs),
    /// List jobs with what happens next and why.
    Jobs(queue_view::JobsArgs),
    /// Show one job: its prompt size, each attempt with its timing, the last output; or act on it.
    Job(queue_view::JobArgs),
    /// List incidents (failures grouped by their repair), most urgent first.
    Incidents(queue_view::IncidentsArgs),
    /// Show an incident and the jobs it holds, or close it: `incident resolve ID`.
    Incident(queue_view::IncidentArgs),
    /// Summarise the queue: jobs per lane and state, the latest classes, open incidents, paused lanes.
    Status(queue_view::StatusArgs),
    /// Sum the tokens, turns and dollars the agent CLIs reported, by route, lane, kind or day.
    Usage(usage_cmd::UsageArgs),
    /// Pause or resume a lane's workers (`lane pause L --why …`), or list the paused lanes.
    Lane(controls::LaneArgs),
    /// Serve the HTTP API, the live dashboard and Prometheus /metrics over the store the workers use.
    Serve(serve_cmd::ServeArgs),
    /// Run the canary through the production path, varying one dimension at a time, and name the shape.
    Matrix(matrix_cmd::MatrixArgs),
    /// Print or install a systemd unit / launchd plist for a lane's worker.
    Service(service_cmd::ServiceArgs),
    /// Compare the login shell's environment with the worker's (and a service unit's).
    Env(envdiff_cmd::EnvArgs),
    /// Apply the store's migrations (workers also apply them on start).
    Migrate,
    /// Move a queue between stores: `store copy --from sqlite://… --to postgres://…`.
    Store(store_cmd::StoreArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// For example `agentlane completions bash > ~/.local/share/bash-completion/completions/agentlane`,
    /// `agentlane completions zsh > ~/.zfunc/_agentlane`, or
    /// `agentlane completions fish > ~/.config/fish/completions/agentlane.fish`.
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into --dir: `agentlane man | man -l -`.
    Man {
        /// Write agentlane.1 and agentlane-COMMAND.1 here instead of printing agentlane.1
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `agentlane completions SHELL`.
fn completions(shell: clap_complete::Shell) -> Result<i32, Failure> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(shell, &mut cmd, "agentlane", &mut std::io::stdout());
    Ok(0)
}

/// `agentlane man [--dir DIR]`.
fn man(dir: Option<PathBuf>) -> Result<i32, Failure> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let io = |e: std::io::Error| {
        Failure::new(
            exit_status::CANT_CREATE,
            format!("cannot write the man page: {e}"),
        )
    };
    match dir {
        None => {
            clap_mangen::Man::new(cmd)
                .render(&mut std::io::stdout())
                .map_err(io)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(io)?;
            clap_mangen::generate_to(cmd, &dir).map_err(io)?;
            println!("wrote the man pages into {}", dir.display());
        }
    }
    Ok(0)
}

fn exit_table() -> String {
    let mut s = String::from("Exit status of `exec`:\n");
    for (code, meaning) in exit_status::TABLE {
        s.push_str(&format!("  {code:>6}  {meaning}\n"));
    }
    s
}

/// An error for the person at the terminal, with its exit status.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong and how to fix it.
    pub message: String,
    /// The exit status.
    pub status: i32,
}

impl Failure {
    /// A failure with a status from [`exit_status`].
    pub fn new(status: i32, message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            status,
        }
    }
}

/// Opens the home and the store named by the global options.
/// The store URL chosen for this run (`--store`, `AGENTLANE_STORE`, or `[store] url`).
static STORE_URL: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// Opens the home and the store: SQLite under the home by default, or the
/// store the URL names (`sqlite:///path/to.db`, `postgres://…`).
pub async fn open_store(home: Option<&PathBuf>) -> Result<(Home, Arc<dyn Store>), Failure> {
    let root = match home {
        Some(h) => h.clone(),
        None => default_home(|k| std::env::var(k).ok())
            .map_err(|e| Failure::new(exit_status::CANT_CREATE, e.to_string()))?,
    };
    let home =
        Home::open(&root).map_err(|e| Failure::new(exit_status::CANT_CREATE, e.to_string()))?;
    let url = STORE_URL.get().cloned().flatten();
    let store = match url.as_deref() {
        Some(u) => open_store_url(u).await?,
        None => Arc::new(open_sqlite(&home.database())?),
    };
    Ok((home, store))
}

/// Opens the store a URL names (`postgres://…`, `sqlite:///path`).
pub async fn open_store_url(url: &str) -> Result<Arc<dyn Store>, Failure> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = agentlane::store::postgres::PostgresStore::open(url).await.map_err(|e| {
            use agentlane::store::StoreError;
            let (status, hint) = match e {
                StoreError::SchemaTooNew { .. } => (exit_status::IO_ERROR, ""),
                // The URL itself is wrong: a configuration error, whose
                // message says what to change.
                StoreError::InvalidAddress { .. } => (
                    exit_status::CONFIG,
                    "\nhint: fix the URL given by --store or AGENTLANE_STORE",
                ),
                _ => (exit_status::IO_ERROR, "\nhint: check the URL, that the server runs and that the user may create tables (agentlane migrate)"),
            };
            Failure::new(status, format!("{e}{hint}"))
        })?;
        return Ok(Arc::new(store));
    }
    if let Some(path) = url.strip_prefix("sqlite://") {
        return Ok(Arc::new(open_sqlite(std::path::Path::new(path))?));
    }
    Err(Failure::new(
        exit_status::USAGE,
        format!(
            "unknown store '{url}': use postgres://user@host/db or sqlite:///path/to/agentlane.db"
        ),
    ))
}

fn open_sqlite(path: &std::path::Path) -> Result<SqliteStore, Failure> {
    SqliteStore::open(path).map_err(|e| {
        let hint = match e {
            // Their messages carry their own fix.
            agentlane::store::StoreError::SchemaTooNew { .. }
            | agentlane::store::StoreError::Damaged { .. } => String::new(),
            _ => format!(
                "\nhint: check that {} is writable and not on a network filesystem",
                path.display()
            ),
        };
        Failure::new(exit_status::IO_ERROR, format!("{e}{hint}"))
    })
}

/// Loads the configuration: `Ok(None)` when there is none and none was asked for.
pub fn load_config(
    explicit: Option<&std::path::Path>,
) -> Result<Option<agentlane::config::Config>, Failure> {
    agentlane::config::discover(explicit)
        .map_err(|e| Failure::new(exit_status::CONFIG, format!("invalid configuration: {e}")))
}

/// Loads the configuration, which must exist.
pub fn require_config(
    explicit: Option<&std::path::Path>,
) -> Result<agentlane::config::Config, Failure> {
    load_config(explicit)?.ok_or_else(|| {
        let looked: Vec<String> = agentlane::config::candidates(None, |k| std::env::var(k).ok())
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        Failure::new(
            exit_status::USAGE,
            format!("no configuration found (looked for {}): create one with `agentlane init`, or pass --config FILE", looked.join(", ")),
        )
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                exit_status::OS_ERROR,
                format!("cannot start the async runtime: {e}"),
            )
        })
}

/// Two worker threads, for commands that run jobs concurrently (worker, matrix).
fn multi_thread_runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                exit_status::OS_ERROR,
                format!("cannot start the async runtime: {e}"),
            )
        })
}

/// `--store`, else `AGENTLANE_STORE`, else `[store] url` of the configuration (when it loads).
fn choose_store(cli: &Cli) -> Option<String> {
    let config = || {
        agentlane::config::discover(cli.config.as_deref())
            .ok()
            .flatten()
    };
    let url = cli
        .store
        .clone()
        .or_else(|| {
            std::env::var("AGENTLANE_STORE")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .or_else(|| config().and_then(|c| c.store_url))?;
    // `[store] max_connections` applies to whichever PostgreSQL URL is
    // chosen, unless the URL sets its own.
    let budget = match config().and_then(|c| c.store_max_connections) {
        Some(n) if url.starts_with("postgres") => n,
        _ => return Some(url),
    };
    Some(agentlane::store::postgres::with_budget(&url, budget))
}

fn run(cli: Cli) -> Result<i32, Failure> {
    let _ = STORE_URL.set(choose_store(&cli));
    let rt = runtime()?;
    match cli.command {
        Command::Exec(args) => {
            rt.block_on(exec::run(args, cli.home.as_ref(), cli.config.as_deref()))
        }
        Command::Doctor(args) => {
            rt.block_on(doctor::run(args, cli.home.as_ref(), cli.config.as_deref()))
        }
        Command::Init(args) => init::run(args),
        Command::Serve(args) => multi_thread_runtime()?.block_on(serve_cmd::run(
            args,
            cli.home.as_ref(),
            cli.config.as_deref(),
        )),
        Command::Enqueue(args) => rt.block_on(queue::enqueue(
            args,
            cli.home.as_ref(),
            cli.config.as_deref(),
        )),
        Command::Worker(args) => multi_thread_runtime()?.block_on(queue::worker(
            args,
            cli.home.as_ref(),
            cli.config.as_deref(),
        )),
        Command::Jobs(args) => rt.block_on(queue_view::jobs(args, cli.home.as_ref())),
        Command::Job(args) => rt.block_on(queue_view::job(args, cli.home.as_ref())),
        Command::Incidents(args) => rt.block_on(queue_view::incidents(args, cli.home.as_ref())),
        Command::Incident(args) => rt.block_on(queue_view::incident(args, cli.home.as_ref())),
        Command::Status(args) => rt.block_on(queue_view::status(
            args,
            cli.home.as_ref(),
            cli.config.as_deref(),
        )),
        Command::Usage(args) => rt.block_on(usage_cmd::usage(args, cli.home.as_ref())),
        Command::Lane(args) => rt.block_on(controls::lane(args, cli.home.as_ref())),
        Command::Store(args) => rt.block_on(store_cmd::run(
            args,
            cli.home.as_ref(),
            cli.config.as_deref(),
        )),
        Command::Migrate => rt.block_on(async {
            let (_, store) = open_store(cli.home.as_ref()).await?;
            drop(store);
            println!("the store is migrated to the current schema");
            Ok(0)
        }),
        Command::Service(args) => rt.block_on(service_cmd::run(
            args,
            cli.home.as_ref(),
            cli.config.as_deref(),
        )),
        Command::Env(args) => rt.block_on(envdiff_cmd::run(
            args,
            cli.home.as_ref(),
            cli.config.as_deref(),
        )),
        Command::Matrix(args) => multi_thread_runtime()?.block_on(matrix_cmd::run(
            args,
            cli.home.as_ref(),
            cli.config.as_deref(),
        )),
        Command::Runs(args) => rt.block_on(runs::list(args, cli.home.as_ref())),
        Command::Show(args) => rt.block_on(runs::show(args, cli.home.as_ref())),
        Command::Explain(args) => explain::run(args),
        Command::Completions { shell } => completions(shell),
        Command::Man { dir } => man(dir),
        Command::Rules(args) => rt.block_on(rules_cmd::run(
            args,
            cli.home.as_ref(),
            cli.config.as_deref(),
        )),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let status = if e.use_stderr() {
                exit_status::USAGE
            } else {
                0
            };
            let _ = e.print();
            return ExitCode::from(status as u8);
        }
    };
    // A command that only reads and prints ends quietly when its reader goes
    // away (`agentlane show ID | head`), as `cat` does, instead of panicking
    // in `println!`. Commands that run agents keep SIGPIPE ignored: a child
    // closing its stdin must never kill agentlane.
    if matches!(
        cli.command,
        Command::Runs(_)
            | Command::Show(_)
            | Command::Explain(_)
            | Command::Jobs(_)
            | Command::Job(_)
            | Command::Incidents(_)
            | Command::Status(_)
            | Command::Usage(_)
            | Command::Completions { .. }
            | Command::Man { .. }
    ) {
        // SAFETY: restoring the default disposition of one signal before any
        // thread is started; no handler is installed.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let default_filter = if matches!(cli.command, Command::Worker(_)) {
        "info"
    } else {
        "off"
    };
    // Job traces: for the commands that run jobs, when OTEL_* asks for them.
    let traces = match cli.command {
        Command::Worker(_) | Command::Serve(_) => otel::Traces::from_env(),
        _ => Ok(None),
    };
    let traces = match traces
        .and_then(|t| logs::init(cli.log_format, default_filter, t.as_ref()).map(|()| t))
    {
        Ok(traces) => traces,
        Err(failure) => {
            eprintln!("agentlane: {}", failure.message);
            return ExitCode::from(failure.status as u8);
        }
    };
    for name in agentlane::input::non_utf8_vars() {
        eprintln!(
            "agentlane: warning: the variable {name} is not UTF-8 text and is not passed to agents (set it in UTF-8, or unset it in the service's environment)"
        );
    }
    let result = run(cli);
    if let Some(traces) = traces {
        traces.shutdown();
    }
    match result {
        Ok(status) => ExitCode::from(status.clamp(0, 255) as u8),
        Err(failure) => {
            eprintln!("agentlane: {}", failure.message);
            ExitCode::from(failure.status.clamp(0, 255) as u8)
        }
    }
}
