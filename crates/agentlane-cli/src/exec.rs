//! `agentlane exec`: one dispatch from the command line, or from a route.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agentlane::classify::RuleSet;
use agentlane::config::Config;
use agentlane::dispatch::{
    parse_assignment, parse_env_file, DispatchError, DispatchReport, DispatchRequest, Dispatcher,
    EnvSpec, Interrupt, PromptVia,
};
use agentlane::exit_status;
use agentlane::policy::{check_contract, route_allowed, Load, Payload};
use agentlane::queue::admit::field_value;
use clap::Args;
use serde_json::Value;

use crate::{load_config, open_store, require_config, Failure};

/// `exec --stdin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StdinMode {
    /// Piped or redirected input is passed on; a terminal or /dev/null is not.
    Auto,
    /// Always passed on (a terminal too).
    Pass,
    /// The child reads /dev/null.
    Null,
}

/// What agentlane's stdin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinKind {
    /// A terminal.
    Terminal,
    /// /dev/null, or closed: nothing to pass.
    Nothing,
    /// Input: a pipe, a file, a socket.
    Input,
}

fn stdin_kind() -> StdinKind {
    use std::io::IsTerminal;
    use std::os::unix::fs::MetadataExt;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return StdinKind::Terminal;
    }
    let null = std::fs::metadata("/dev/null").ok().map(|m| m.rdev());
    // SAFETY: fstat(2) of fd 0 into a zeroed struct we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(0, &mut st) } != 0 {
        return StdinKind::Nothing;
    }
    let is_char = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
    if is_char && Some(st.st_rdev) == null {
        StdinKind::Nothing
    } else {
        StdinKind::Input
    }
}

/// Whether the child reads agentlane's stdin: never when the prompt takes
/// it; with `auto`, only when it is input (not a terminal, not /dev/null).
/// Pure.
pub fn pass_stdin(mode: StdinMode, prompt_takes_stdin: bool, kind: StdinKind) -> bool {
    if prompt_takes_stdin {
        return false;
    }
    match mode {
        StdinMode::Null => false,
        StdinMode::Pass => kind != StdinKind::Nothing,
        StdinMode::Auto => kind == StdinKind::Input,
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  agentlane exec --timeout 20m -- codex exec --json 'fix the failing test'\n  agentlane exec --prompt-file task.md --prompt-via arg -- claude -p\n  agentlane exec --json --env-clear --env PATH=/usr/bin:/bin -- gemini -p 'Return the string ok and exit zero'"
)]
pub struct ExecArgs {
    /// Working directory of the child [default: the current directory]
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// Kill the child (SIGTERM, grace, SIGKILL) after this long, e.g. 90s, 20m
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Stop the child after this long without a byte of output (a `timeout`
    /// whose evidence names the silence; the process tree is kept first)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    idle_timeout: Option<Duration>,
    /// Never stop the child early on a `terminal` rule's line (by default
    /// a CLI that printed why it failed and only retries is stopped after 5s)
    #[arg(long)]
    no_stop_early: bool,
    /// Time between SIGTERM and SIGKILL on timeout
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    kill_grace: Duration,
    /// How long to wait for the output pipes after the child exits before treating them as leaked
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "500ms")]
    leak_timeout: Duration,
    /// The prompt text
    #[arg(long, value_name = "TEXT", conflicts_with = "prompt_file")]
    prompt: Option<String>,
    /// Read the prompt from this file ('-' for stdin)
    #[arg(long, value_name = "FILE")]
    prompt_file: Option<PathBuf>,
    /// How the prompt reaches the child: stdin, arg ({prompt} or appended) or file ({prompt_file} or appended)
    #[arg(long, value_name = "HOW", default_value = "stdin", value_parser = |s: &str| s.parse::<PromptVia>())]
    prompt_via: PromptVia,
    /// What the child gets as stdin when the prompt does not take it: auto (piped input is passed on; a terminal is not), pass (always), null (/dev/null)
    #[arg(long, value_name = "MODE", value_enum, default_value_t = StdinMode::Auto)]
    stdin: StdinMode,
    /// Set a variable in the child's environment (repeatable; wins over --env-file)
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_assignment)]
    env: Vec<(String, String)>,
    /// Start the child from an empty environment (then --env-file and --env apply)
    #[arg(long)]
    env_clear: bool,
    /// Read KEY=VALUE lines into the child's environment (repeatable)
    #[arg(long, value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Extra classifier rules (TOML [[rule]] entries) on top of the built-in ones [env: AGENTLANE_RULES]
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Bytes of stdout/stderr kept in the report's tails
    #[arg(long, value_name = "BYTES", default_value_t = 4096)]
    tail_bytes: usize,
    /// Bytes of each stream kept in its artifact file, e.g. 64MiB; past it the file ends with a
    /// marker line (the tails and the class still see everything) [default: [artifacts]
    /// max_bytes_per_stream, else 64MiB]
    #[arg(long, value_name = "SIZE", value_parser = parse_artifact_cap)]
    artifact_cap: Option<u64>,
    /// Print exactly one JSON report on stdout; the child's output goes only to the artifacts
    #[arg(long)]
    json: bool,
    /// Run this route from agentlane.toml instead of a command line
    #[arg(long, value_name = "NAME", conflicts_with = "command")]
    route: Option<String>,
    /// Judge the payload contract and route policy of this job kind before launch
    #[arg(long, value_name = "KIND", requires = "route")]
    kind: Option<String>,
    /// A payload field for --kind's contract and gates (repeatable; true/false/numbers are typed)
    #[arg(long = "field", value_name = "KEY=VALUE", value_parser = parse_assignment, requires = "kind")]
    fields: Vec<(String, String)>,
    /// The program and its arguments
    #[arg(
        last = true,
        required_unless_present = "route",
        value_name = "PROGRAM [ARGS]..."
    )]
    command: Vec<String>,
}

/// Parses `90s`, `20m`, `1h30m`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("{e}: write a duration like 90s, 20m, 1h30m or 500ms"))
}

/// Parses `--artifact-cap`: a size, not zero.
fn parse_artifact_cap(s: &str) -> Result<u64, String> {
    match agentlane::size::parse_size(s)? {
        0 => {
            Err("a cap of 0 bytes would keep no output at all: use e.g. 64MiB (the default)".into())
        }
        n => Ok(n),
    }
}

fn read_prompt(path: &Path, cap: u64) -> Result<Vec<u8>, Failure> {
    use agentlane::input::{read_file_capped, InputError};
    read_file_capped(path, cap, "--prompt-file").map_err(|e| match e {
        InputError::TooLarge { .. } => Failure::new(
            exit_status::PAYLOAD_INVALID,
            format!("{e}: check that it is the right file; the job kind's max_prompt_bytes sets the limit (16 MiB without a kind)"),
        ),
        InputError::Io { .. } => Failure::new(exit_status::USAGE, e.to_string()),
    })
}

fn env_spec(args: &ExecArgs) -> Result<EnvSpec, Failure> {
    let mut set = Vec::new();
    for file in &args.env_file {
        let src = agentlane::input::read_text_capped(
            file,
            agentlane::input::MAX_ENV_FILE_BYTES,
            "--env-file",
        )
        .map_err(|e| Failure::new(exit_status::USAGE, e.to_string()))?;
        let parsed = parse_env_file(&file.display().to_string(), &src)
            .map_err(|e| Failure::new(exit_status::USAGE, format!("invalid --env-file: {e}")))?;
        set.extend(parsed);
    }
    set.extend(args.env.iter().cloned());
    Ok(EnvSpec {
        clear: args.env_clear,
        inherit: Vec::new(),
        set,
    })
}

/// The rule set: the config's (built-ins plus its rules file), plus `--rules`.
fn rules(args: &ExecArgs, config: Option<&Config>) -> Result<Option<RuleSet>, Failure> {
    let path = args.rules.clone().or_else(|| {
        std::env::var_os("AGENTLANE_RULES")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let base = config.map(|c| &c.rules);
    match path {
        None => Ok(base.cloned()),
        Some(path) => base
            .unwrap_or_else(|| RuleSet::builtin())
            .with_file(&path)
            .map(Some)
            .map_err(|e| Failure::new(exit_status::CONFIG, format!("invalid rules file: {e}"))),
    }
}

/// The request for `--route`, with the contract and policy of `--kind` as its gate.
fn route_request(
    args: &ExecArgs,
    config: &Config,
    route: &str,
    prompt: Option<Vec<u8>>,
) -> Result<DispatchRequest, Failure> {
    let route = config
        .route(route)
        .map_err(|e| Failure::new(exit_status::USAGE, e.to_string()))?;
    let mut req = route.request(prompt);
    if let Some(kind) = &args.kind {
        let kind = config
            .kind(kind)
            .map_err(|e| Failure::new(exit_status::USAGE, e.to_string()))?;
        let fields: BTreeMap<String, Value> = args
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), field_value(v)))
            .collect();
        let prompt = req.prompt.as_deref().unwrap_or_default();
        req.gate = check_contract(
            kind,
            &Payload {
                prompt,
                fields: &fields,
            },
        )
        .and_then(|()| route_allowed(Some(kind), route, None, Some(&fields), Load::default()))
        .err();
    }
    if let Some(rules) = &route.rules {
        req.rules = Some(Arc::new(rules.clone()));
    }
    Ok(req)
}

/// Forwards SIGINT/SIGTERM/SIGHUP received by agentlane to the dispatch.
fn forward_signals() -> Interrupt {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, interrupt) = Interrupt::channel();
    for kind in [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ] {
        let Ok(mut stream) = signal(kind) else {
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            if stream.recv().await.is_some() {
                let _ = tx.send(Some(kind.as_raw_value()));
            }
        });
    }
    interrupt
}

pub async fn run(
    args: ExecArgs,
    home: Option<&PathBuf>,
    config: Option<&Path>,
) -> Result<i32, Failure> {
    if let Some(cwd) = args.cwd.as_deref().filter(|c| c.to_str().is_none()) {
        return Err(Failure::new(
            exit_status::USAGE,
            format!(
                "--cwd {} is not UTF-8 text: agentlane records the working directory in reports and events as text; rename the directory, or reach it through a symlink whose path is UTF-8",
                cwd.display()
            ),
        ));
    }
    let config = match &args.route {
        Some(_) => Some(require_config(config)?),
        None => load_config(config)?,
    };
    // A kind's contract caps its prompts; a documented cap stands elsewhere.
    let prompt_cap = args
        .kind
        .as_ref()
        .and_then(|k| config.as_ref()?.kinds.get(k)?.max_prompt_bytes)
        .unwrap_or(agentlane::input::MAX_PROMPT_BYTES);
    let prompt = match (&args.prompt, &args.prompt_file) {
        (Some(p), _) => Some(p.clone().into_bytes()),
        (None, Some(f)) => Some(read_prompt(f, prompt_cap)?),
        (None, None) => None,
    };
    let env = env_spec(&args)?;
    let rules = rules(&args, config.as_ref())?;
    let (home, store) = open_store(home).await?;
    let dispatcher = Dispatcher::new(home, store, rules);
    let mut req = match (&args.route, &config) {
        (Some(route), Some(config)) => {
            let mut req = route_request(&args, config, route, prompt)?;
            // Command-line options refine the route.
            req.env.clear |= env.clear;
            req.env.set.extend(env.set);
            if args.cwd.is_some() {
                req.cwd = args.cwd.clone();
            }
            if args.timeout.is_some() {
                req.timeout = args.timeout;
            }
            req
        }
        _ => {
            let mut command = args.command.clone();
            let program = command.remove(0);
            let mut req = DispatchRequest::new(program, command);
            if let Some(config) = &config {
                req.artifact_cap = config.artifacts.max_bytes_per_stream;
            }
            req.cwd = args.cwd.clone();
            req.env = env;
            req.prompt = prompt;
            req.prompt_via = args.prompt_via;
            req.timeout = args.timeout;
            req
        }
    };
    req.inherit_stdin = pass_stdin(
        args.stdin,
        req.prompt.is_some() && req.prompt_via == PromptVia::Stdin,
        stdin_kind(),
    );
    if stdin_kind() == StdinKind::Input
        && req.prompt.is_some()
        && req.prompt_via == PromptVia::Stdin
        && args.prompt_file.as_deref() != Some(std::path::Path::new("-"))
    {
        eprintln!("agentlane: warning: the input piped to agentlane is not passed to the child: the prompt takes its stdin (use --prompt-via arg or file to pass both)");
    }
    if args.idle_timeout.is_some() {
        req.watch.idle_timeout = args.idle_timeout;
    }
    if args.no_stop_early {
        req.watch.terminal_settle = None;
    }
    req.kill_grace = args.kill_grace;
    req.leak_timeout = args.leak_timeout;
    req.tail_bytes = args.tail_bytes;
    if let Some(cap) = args.artifact_cap {
        req.artifact_cap = cap;
    }
    req.echo = !args.json;
    let report = match dispatcher.dispatch(req, forward_signals()).await {
        Ok(report) => report,
        // The agent ran and its outcome is known: report it as usual, then
        // say it is not in the store, with a status of its own.
        Err(DispatchError::Unrecorded { report, source }) => {
            print_outcome(&report, args.json);
            return Err(Failure::new(
                exit_status::UNRECORDED,
                format!(
                    "the outcome of dispatch {} ({}, exit status {}) was NOT recorded in the store: {source}\nhint: the report{} is its only record (`agentlane show {}` has its start only, unfinished); free space where the store lives (or fix the store), and run the job again if its outcome must be on record",
                    report.dispatch_id,
                    report.classifier,
                    report.exit_status,
                    if args.json { " printed on stdout" } else { " above" },
                    report.dispatch_id,
                ),
            ));
        }
        Err(e) => {
            let status = match e {
                DispatchError::Store(_) | DispatchError::Unrecorded { .. } => exit_status::IO_ERROR,
                DispatchError::Artifacts { .. } => exit_status::CANT_CREATE,
                DispatchError::Spawn { .. } => exit_status::OS_ERROR,
            };
            return Err(Failure::new(status, e.to_string()));
        }
    };
    print_outcome(&report, args.json);
    Ok(report.exit_status)
}

/// The failure line on stderr, any artifact errors, and with `--json` the report on stdout.
fn print_outcome(report: &DispatchReport, json: bool) {
    if report.classifier.is_failure() {
        eprintln!("agentlane: {}: {}", report.classifier, report.repair_hint);
    }
    for e in &report.artifact_errors {
        eprintln!(
            "agentlane: artifact incomplete: {e}; the class and the tails cover the whole output"
        );
    }
    if json {
        let mut out = std::io::stdout().lock();
        let _ = serde_json::to_writer(&mut out, report);
        let _ = writeln!(out);
    }
}

#[cfg(test)]
mod stdin_tests {
    use super::*;

    #[test]
    fn piped_input_reaches_the_child_unless_the_prompt_takes_stdin_or_it_is_refused() {
        use StdinKind::*;
        use StdinMode::*;
        // (mode, the prompt takes stdin, what stdin is) → passed on
        let cases = [
            (Auto, false, Input, true),
            (Auto, false, Terminal, false),
            (Auto, false, Nothing, false),
            (Auto, true, Input, false),
            (Pass, false, Terminal, true),
            (Pass, false, Nothing, false),
            (Pass, true, Input, false),
            (Null, false, Input, false),
        ];
        for (mode, prompt, kind, want) in cases {
            assert_eq!(
                pass_stdin(mode, prompt, kind),
                want,
                "{mode:?} {prompt} {kind:?}"
            );
        }
    }
}
