//! `agentlane.toml`: routes, job kinds (policy and payload contract), lanes.
//!
//! Found via `--config`, `$AGENTLANE_CONFIG`, `./agentlane.toml`, then
//! `$XDG_CONFIG_HOME/agentlane/agentlane.toml` (else `~/.config/...`).
//! Every error names the file, line and column, and says how to fix it.
//! Unknown keys are errors: a typo in a policy must not silently allow work.

pub mod profile;
pub mod starter;
mod validate;

pub use validate::MIN_LEASE;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::classify::RuleSet;
use crate::dispatch::prompt_arg::{insert_options, options_end};
use crate::dispatch::{parse_env_file, DispatchRequest, EnvSpec, PromptVia};
use crate::retry::{default_policy, Action, Policy, RetryTable};
pub use profile::{Profile, CANARY_PROMPT};

/// An error in a configuration file, with its position.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// 1-based line (0 when the file itself is the problem).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A named way to run an agent.
#[derive(Debug, Clone)]
pub struct Route {
    /// The route's name.
    pub name: String,
    /// Its profile.
    pub profile: &'static Profile,
    /// The program: bare name (looked up on the route's PATH) or absolute path.
    pub program: String,
    /// The argument template (`{prompt}`, `{prompt_file}`, `{model}`).
    pub args: Vec<String>,
    /// How the prompt reaches the child.
    pub prompt_via: PromptVia,
    /// The model, if the route selects one.
    pub model: Option<String>,
    /// The timeout.
    pub timeout: Option<Duration>,
    /// The working directory.
    pub cwd: Option<PathBuf>,
    /// The environment.
    pub env: EnvSpec,
    /// Whether the route may run subagents (policy).
    pub subagents: bool,
    /// Concurrency ceiling for the route (policy).
    pub concurrency: Option<u32>,
    /// The canary invocation (default: the profile's args with the seed's canary prompt).
    pub canary_args: Option<Vec<String>>,
    /// Extra classifier rules on top of the config's.
    pub rules: Option<RuleSet>,
    /// The environment the route's is built from, instead of the worker's own
    /// (set by the matrix for its environment-source cells).
    pub base_env: Option<BTreeMap<String, String>>,
    /// The user the route runs as (set by the matrix for its user cells).
    pub run_as: Option<crate::dispatch::RunAs>,
    /// Bytes of each stream kept in its artifact file (`[artifacts] max_bytes_per_stream`).
    pub artifact_cap: u64,
}

/// A job kind: its policy and its payload contract.
#[derive(Debug, Clone, Default)]
pub struct Kind {
    /// The kind's name.
    pub name: String,
    /// Routes it may use (empty: any).
    pub routes: Vec<String>,
    /// Models it may use (empty: any).
    pub models: Vec<String>,
    /// Largest prompt, in bytes.
    pub max_prompt_bytes: Option<u64>,
    /// Payload fields that must be present and non-empty.
    pub required_fields: Vec<String>,
    /// The kind needs a route with subagents enabled.
    pub requires_subagents: bool,
    /// A safety gate: this payload field must be `true` (e.g. a human approval).
    pub requires_flag: Option<String>,
}

/// A lane: a queue of work with its own routes and concurrency.
#[derive(Debug, Clone, Default)]
pub struct Lane {
    /// The lane's name.
    pub name: String,
    /// Routes its workers may run (empty: any).
    pub routes: Vec<String>,
    /// Jobs running at once in the lane.
    pub concurrency: Option<u32>,
}

/// Preflight settings.
#[derive(Debug, Clone)]
pub struct PreflightSettings {
    /// How long a preflight result stays valid when nothing it depends on changed.
    pub ttl: Duration,
    /// Timeout of each probe process.
    pub probe_timeout: Duration,
}

impl Default for PreflightSettings {
    fn default() -> Self {
        PreflightSettings {
            ttl: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(15),
        }
    }
}

/// A loaded configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from.
    pub path: PathBuf,
    /// Hash of the file's bytes (and its rules files), for cache invalidation.
    pub fingerprint: String,
    /// Routes by name.
    pub routes: BTreeMap<String, Route>,
    /// Job kinds by name.
    pub kinds: BTreeMap<String, Kind>,
    /// Lanes by name.
    pub lanes: BTreeMap<String, Lane>,
    /// Preflight settings.
    pub preflight: PreflightSettings,
    /// The classifier rules: built-ins plus the config's rules file.
    pub rules: RuleSet,
    /// The top-level `rules_file`, resolved against the config's directory.
    pub rules_file: Option<PathBuf>,
    /// The retry table.
    pub retry: RetryTable,
    /// Queue settings.
    pub queue: QueueSettings,
    /// Worker kinds (`[workers.NAME]`): the contexts workers run in.
    pub workers: BTreeMap<String, WorkerKind>,
    /// `[store] url`: the shared store (PostgreSQL) when set.
    pub store_url: Option<String>,
    /// Artifact settings (`[artifacts]`).
    pub artifacts: ArtifactSettings,
}

/// Artifact settings (`[artifacts]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactSettings {
    /// Bytes of each stream written to its artifact file; past it the file
    /// ends with a marker line. The tails and the class see everything.
    pub max_bytes_per_stream: u64,
}

impl Default for ArtifactSettings {
    fn default() -> Self {
        ArtifactSettings {
            max_bytes_per_stream: crate::dispatch::DEFAULT_ARTIFACT_CAP,
        }
    }
}

/// A worker kind: the context a worker of this kind gives its agents — the
/// environment it starts from and the user it runs them as.
#[derive(Debug, Clone, Default)]
pub struct WorkerKind {
    /// The kind's name.
    pub name: String,
    /// How the worker's own environment is built before a route's applies.
    pub env: EnvSpec,
    /// The user agents run as (the worker must be root), if not the worker's own.
    pub user: Option<String>,
}

/// A route or kind the configuration does not define.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("no {what} '{name}' in {file}: define [{table}.{name}] or use one of [{known}]")]
pub struct UnknownName {
    /// What was asked for: `route` or `kind`.
    pub what: &'static str,
    /// Its table in the file: `routes` or `kinds`.
    pub table: &'static str,
    /// The name asked for.
    pub name: String,
    /// The names defined, comma-separated.
    pub known: String,
    /// The configuration file.
    pub file: String,
}

impl UnknownName {
    fn new<'a>(
        what: &'static str,
        table: &'static str,
        name: &str,
        config: &Config,
        known: impl Iterator<Item = &'a String>,
    ) -> UnknownName {
        UnknownName {
            what,
            table,
            name: name.to_string(),
            known: known.map(String::as_str).collect::<Vec<_>>().join(", "),
            file: config.path.display().to_string(),
        }
    }
}

/// A worker kind names a user that does not exist on this host. Running its
/// agents as the worker's own user instead (root, under a system unit) would
/// be the opposite of what the operator asked for, so nothing runs.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("worker kind '{kind}' runs its agents as user '{user}', and no such user exists on this host: create the user, or fix `user` under [workers.{kind}] in the configuration")]
pub struct UnknownUser {
    /// The worker kind.
    pub kind: String,
    /// The user it names.
    pub user: String,
}

impl WorkerKind {
    /// The user this kind runs its agents as: `None` for the worker's own.
    pub fn run_as(&self) -> Result<Option<crate::dispatch::RunAs>, UnknownUser> {
        match &self.user {
            None => Ok(None),
            Some(user) => crate::dispatch::RunAs::lookup(user)
                .map(Some)
                .ok_or_else(|| UnknownUser {
                    kind: self.name.clone(),
                    user: user.clone(),
                }),
        }
    }

    /// `route` as a worker of this kind runs it; refused when the kind's
    /// user does not exist.
    pub fn apply(&self, route: &Route) -> Result<Route, UnknownUser> {
        let mut r = route.clone();
        let base = r
            .base_env
            .clone()
            .unwrap_or_else(|| crate::input::parent_env().into_iter().collect());
        r.base_env = Some(crate::dispatch::build_env(&self.env, base));
        if self.user.is_some() {
            r.run_as = self.run_as()?;
        }
        Ok(r)
    }
}

/// Queue settings (`[queue]`).
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// How long a claim lives without a heartbeat.
    pub lease: Duration,
    /// How often an idle worker looks for work.
    pub poll: Duration,
    /// How long a stopping worker lets running jobs finish.
    pub shutdown_grace: Duration,
    /// Wake on LISTEN/NOTIFY (PostgreSQL); false for poll-only (poolers without LISTEN).
    pub listen: bool,
    /// How long finished jobs, their events and resolved incidents are kept
    /// before the maintenance leader prunes them; `None` ("off") keeps everything.
    pub retention: Option<Duration>,
    /// What enqueue does with a prompt holding a secret (`prompt_secrets`).
    pub prompt_secrets: PromptSecrets,
}

/// `[queue] prompt_secrets`: what enqueue does with a prompt that holds a
/// secret. Either way the prompt is never stored in clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PromptSecrets {
    /// Refuse the job (`"refuse"`, the default).
    #[default]
    Refuse,
    /// Store the prompt with the secrets replaced, and say so in the job's events (`"redact"`).
    Redact,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(250),
            shutdown_grace: Duration::from_secs(30),
            listen: true,
            retention: Some(Duration::from_secs(14 * 24 * 60 * 60)),
            prompt_secrets: PromptSecrets::Refuse,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    routes: BTreeMap<String, Spanned<RawRoute>>,
    #[serde(default)]
    kinds: BTreeMap<String, Spanned<RawKind>>,
    #[serde(default)]
    lanes: BTreeMap<String, Spanned<RawLane>>,
    #[serde(default)]
    preflight: Option<RawPreflight>,
    #[serde(default)]
    rules_file: Option<Spanned<String>>,
    #[serde(default)]
    retry: BTreeMap<String, Spanned<RawRetry>>,
    #[serde(default)]
    queue: Option<RawQueue>,
    #[serde(default)]
    workers: BTreeMap<String, Spanned<RawWorkerKind>>,
    #[serde(default)]
    store: Option<RawStore>,
    #[serde(default)]
    artifacts: Option<RawArtifacts>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArtifacts {
    #[serde(default)]
    max_bytes_per_stream: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkerKind {
    #[serde(default)]
    env_clear: bool,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    env_inherit: Vec<String>,
    #[serde(default)]
    user: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    #[serde(default)]
    action: Option<Spanned<String>>,
    #[serde(default)]
    initial_backoff: Option<Spanned<String>>,
    #[serde(default)]
    factor: Option<f64>,
    #[serde(default)]
    max_backoff: Option<Spanned<String>>,
    #[serde(default)]
    max_attempts: Option<u32>,
    #[serde(default)]
    timeout_factor: Option<f64>,
    #[serde(default)]
    max_timeout: Option<Spanned<String>>,
    #[serde(default)]
    jitter: Option<f64>,
    #[serde(default)]
    diagnostics: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    #[serde(default)]
    lease: Option<Spanned<String>>,
    #[serde(default)]
    poll: Option<Spanned<String>>,
    #[serde(default)]
    shutdown_grace: Option<Spanned<String>>,
    #[serde(default)]
    listen: Option<bool>,
    #[serde(default)]
    retention: Option<Spanned<String>>,
    #[serde(default)]
    prompt_secrets: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    #[serde(default)]
    profile: Option<Spanned<String>>,
    #[serde(default)]
    program: Option<Spanned<String>>,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    prompt_via: Option<Spanned<String>>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    timeout: Option<Spanned<String>>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    env_clear: bool,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    env_inherit: Vec<String>,
    #[serde(default)]
    env_file: Option<Spanned<String>>,
    #[serde(default)]
    json: bool,
    #[serde(default)]
    subagents: bool,
    #[serde(default)]
    concurrency: Option<Spanned<u32>>,
    #[serde(default)]
    canary_args: Option<Vec<String>>,
    #[serde(default)]
    rules_file: Option<Spanned<String>>,
    #[serde(default)]
    retry: BTreeMap<String, Spanned<RawRetry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKind {
    #[serde(default)]
    routes: Vec<Spanned<String>>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    max_prompt_bytes: Option<u64>,
    #[serde(default)]
    required_fields: Vec<String>,
    #[serde(default)]
    requires_subagents: bool,
    #[serde(default)]
    requires_flag: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLane {
    #[serde(default)]
    routes: Vec<Spanned<String>>,
    #[serde(default)]
    concurrency: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPreflight {
    #[serde(default)]
    ttl: Option<Spanned<String>>,
    #[serde(default)]
    probe_timeout: Option<Spanned<String>>,
}

/// Reads a file the configuration names (`rules_file`, `env_file`): its path,
/// the size cap, and what it is for (named in errors).
pub type ReadFile<'a> = &'a dyn Fn(&Path, u64, &str) -> Result<String, crate::input::InputError>;

/// Positions in one source text.
struct Source<'a> {
    file: String,
    text: &'a str,
    dir: PathBuf,
    read: ReadFile<'a>,
}

impl Source<'_> {
    fn error(&self, offset: usize, message: impl Into<String>) -> ConfigError {
        let before = &self.text[..offset.min(self.text.len())];
        ConfigError {
            file: self.file.clone(),
            line: before.matches('\n').count() + 1,
            column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
            message: message.into(),
        }
    }

    fn at<T>(&self, s: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        self.error(s.span().start, message)
    }

    fn duration(&self, s: &Spanned<String>, key: &str) -> Result<Duration, ConfigError> {
        humantime::parse_duration(s.get_ref())
            .map_err(|e| self.at(s, format!("`{key}` = \"{}\" is not a duration ({e}): write e.g. \"90s\", \"20m\" or \"1h30m\"", s.get_ref())))
    }

    fn size(&self, s: &Spanned<String>, key: &str) -> Result<u64, ConfigError> {
        crate::size::parse_size(s.get_ref()).map_err(|e| self.at(s, format!("`{key}`: {e}")))
    }

    fn path(&self, p: &str) -> PathBuf {
        let expanded = match p.strip_prefix("~/") {
            Some(rest) => std::env::var_os("HOME")
                .map_or_else(|| PathBuf::from(p), |h| PathBuf::from(h).join(rest)),
            None => PathBuf::from(p),
        };
        self.dir.join(expanded)
    }
}

/// Where the configuration is looked for, in order, given `--config`.
pub fn candidates(explicit: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    if let Some(p) = env("AGENTLANE_CONFIG").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut out = vec![PathBuf::from("agentlane.toml")];
    match env("XDG_CONFIG_HOME").filter(|x| x.starts_with('/')) {
        Some(x) => out.push(PathBuf::from(x).join("agentlane/agentlane.toml")),
        None => {
            if let Some(h) = env("HOME") {
                out.push(PathBuf::from(h).join(".config/agentlane/agentlane.toml"));
            }
        }
    }
    out
}

/// Finds and loads the configuration. `Ok(None)` when no candidate exists and
/// none was asked for explicitly.
pub fn discover(explicit: Option<&Path>) -> Result<Option<Config>, ConfigError> {
    let env = |k: &str| std::env::var(k).ok();
    let explicit_asked =
        explicit.is_some() || env("AGENTLANE_CONFIG").is_some_and(|v| !v.is_empty());
    for path in candidates(explicit, env) {
        if explicit_asked || path.exists() {
            return load(&path).map(Some);
        }
    }
    Ok(None)
}

/// Loads a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = crate::input::read_text_capped(
        path,
        crate::input::MAX_CONFIG_FILE_BYTES,
        "the configuration",
    )
    .map_err(|e| ConfigError {
        file: path.display().to_string(),
        line: 0,
        column: 0,
        message: match e {
            crate::input::InputError::Io { error, .. }
                if error.kind() == std::io::ErrorKind::NotFound =>
            {
                format!("cannot read the configuration: {error}; create one with `agentlane init`")
            }
            other => other.to_string(),
        },
    })?;
    parse(path, &text)
}

/// Parses configuration text read from `path` (relative paths inside are taken from its directory).
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    parse_with(path, text, &crate::input::read_text_capped)
}

/// [`parse`] with the files the text names (`rules_file`, `env_file`) read by
/// `read` instead of from disk: the fuzz targets serve them from their input,
/// so a generated `rules_file = "/dev/stdin"` never blocks.
pub fn parse_with(path: &Path, text: &str, read: ReadFile<'_>) -> Result<Config, ConfigError> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let src = Source {
        file: path.display().to_string(),
        text,
        dir,
        read,
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let message = match e.message().trim() {
            // The TOML parser names no reason for some inputs (`0=`).
            "" => "invalid TOML here: a value is missing or malformed (write key = \"text\", key = 3 or key = [\"a\"])".to_string(),
            m => m.to_string(),
        };
        src.error(offset, message)
    })?;
    validate::check(&src, &raw)?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(text.as_bytes());
    let rules = match &raw.rules_file {
        Some(f) => load_rules(&src, f, RuleSet::builtin(), &mut hasher)?,
        None => RuleSet::builtin().clone(),
    };
    let mut artifacts = ArtifactSettings::default();
    if let Some(t) = raw
        .artifacts
        .as_ref()
        .and_then(|a| a.max_bytes_per_stream.as_ref())
    {
        artifacts.max_bytes_per_stream = src.size(t, "artifacts.max_bytes_per_stream")?;
    }
    let mut routes = BTreeMap::new();
    let mut retry = RetryTable::default();
    for (class, policy) in &raw.retry {
        retry
            .classes
            .insert(class.clone(), retry_policy(&src, class, policy)?);
    }
    for (name, r) in &raw.routes {
        let mut route = route(&src, name, r, &rules, &mut hasher)?;
        route.artifact_cap = artifacts.max_bytes_per_stream;
        routes.insert(name.clone(), route);
        for (class, policy) in &r.get_ref().retry {
            retry.routes.insert(
                (name.clone(), class.clone()),
                retry_policy(&src, class, policy)?,
            );
        }
    }
    let mut queue = QueueSettings::default();
    if let Some(q) = &raw.queue {
        if let Some(t) = &q.lease {
            queue.lease = src.duration(t, "queue.lease")?;
        }
        if let Some(t) = &q.poll {
            queue.poll = src.duration(t, "queue.poll")?;
        }
        if let Some(t) = &q.shutdown_grace {
            queue.shutdown_grace = src.duration(t, "queue.shutdown_grace")?;
        }
        if let Some(listen) = q.listen {
            queue.listen = listen;
        }
        if let Some(t) = &q.retention {
            queue.retention = match t.get_ref().trim() {
                "off" => None,
                _ => Some(src.duration(t, "queue.retention")?),
            };
        }
        if let Some(p) = &q.prompt_secrets {
            queue.prompt_secrets = match p.get_ref().as_str() {
                "refuse" => PromptSecrets::Refuse,
                "redact" => PromptSecrets::Redact,
                other => {
                    return Err(src.at(
                        p,
                        format!("queue.prompt_secrets is \"{other}\": use \"refuse\" (refuse a job whose prompt holds a secret) or \"redact\" (store it with the secret replaced)"),
                    ))
                }
            };
        }
    }
    let mut kinds = BTreeMap::new();
    for (name, k) in &raw.kinds {
        kinds.insert(name.clone(), kind(&src, name, k, &routes)?);
    }
    let mut lanes = BTreeMap::new();
    for (name, l) in &raw.lanes {
        lanes.insert(name.clone(), lane(&src, name, l, &routes)?);
    }
    let mut preflight = PreflightSettings::default();
    if let Some(p) = &raw.preflight {
        if let Some(t) = &p.ttl {
            preflight.ttl = src.duration(t, "preflight.ttl")?;
        }
        if let Some(t) = &p.probe_timeout {
            preflight.probe_timeout = src.duration(t, "preflight.probe_timeout")?;
        }
    }
    Ok(Config {
        path: path.to_path_buf(),
        fingerprint: hasher.finalize().to_hex()[..16].to_string(),
        routes,
        kinds,
        lanes,
        preflight,
        rules,
        rules_file: raw.rules_file.as_ref().map(|f| src.path(f.get_ref())),
        retry,
        queue,
        store_url: raw.store.as_ref().map(|s| s.url.clone()),
        artifacts,
        workers: raw
            .workers
            .iter()
            .map(|(name, w)| {
                let w = w.get_ref();
                let kind = WorkerKind {
                    name: name.clone(),
                    env: EnvSpec {
                        clear: w.env_clear,
                        inherit: w.env_inherit.clone(),
                        set: w.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    },
                    user: w.user.clone(),
                };
                (name.clone(), kind)
            })
            .collect(),
    })
}

fn retry_policy(
    src: &Source<'_>,
    class_key: &str,
    spanned: &Spanned<RawRetry>,
) -> Result<Policy, ConfigError> {
    let class = if class_key == "unknown_exit" {
        crate::class::Class::UnknownExit(1)
    } else {
        class_key.parse().map_err(|e: crate::class::UnknownClass| {
            src.at(
                spanned,
                format!("[retry.{class_key}]: {e} (use unknown_exit for every unknown exit code)"),
            )
        })?
    };
    let r = spanned.get_ref();
    let mut p = default_policy(class);
    if let Some(a) = &r.action {
        p.action = match a.get_ref().as_str() {
            "retry" => Action::Retry,
            "park" => Action::Park,
            "fail" => Action::Fail,
            other => {
                return Err(src.at(
                    a,
                    format!("unknown action '{other}': use retry, park or fail"),
                ))
            }
        };
        if p.action == Action::Retry && p.max_attempts < 2 {
            p.max_attempts = 3;
            if p.initial_backoff.is_zero() {
                p.initial_backoff = Duration::from_secs(10);
                p.max_backoff = Duration::from_secs(300);
                p.factor = 2.0;
            }
        }
    }
    if let Some(t) = &r.initial_backoff {
        p.initial_backoff = src.duration(t, "initial_backoff")?;
    }
    if let Some(t) = &r.max_backoff {
        p.max_backoff = src.duration(t, "max_backoff")?;
    }
    if let Some(t) = &r.max_timeout {
        p.max_timeout = Some(src.duration(t, "max_timeout")?);
    }
    if let Some(f) = r.factor {
        p.factor = f;
    }
    if let Some(n) = r.max_attempts {
        if n == 0 {
            return Err(src.at(
                spanned,
                format!(
                    "[retry.{class_key}] max_attempts = 0: the first attempt counts, use 1 or more"
                ),
            ));
        }
        p.max_attempts = n;
    }
    if let Some(f) = r.timeout_factor {
        p.timeout_factor = f;
    }
    if let Some(j) = r.jitter {
        p.jitter = j.clamp(0.0, 1.0);
    }
    if let Some(d) = r.diagnostics {
        p.diagnostics = d;
    }
    Ok(p)
}

fn load_rules(
    src: &Source<'_>,
    file: &Spanned<String>,
    base: &RuleSet,
    hasher: &mut blake3::Hasher,
) -> Result<RuleSet, ConfigError> {
    let path = src.path(file.get_ref());
    let text = (src.read)(&path, crate::input::MAX_CONFIG_FILE_BYTES, "rules file")
        .map_err(|e| src.at(file, e.to_string()))?;
    hasher.update(text.as_bytes());
    base.with_document(&path.display().to_string(), &text)
        .map_err(|e| ConfigError {
            file: e.file,
            line: e.line,
            column: e.column,
            message: e.message,
        })
}

fn route(
    src: &Source<'_>,
    name: &str,
    spanned: &Spanned<RawRoute>,
    rules: &RuleSet,
    hasher: &mut blake3::Hasher,
) -> Result<Route, ConfigError> {
    let r = spanned.get_ref();
    let profile_name = r
        .profile
        .as_ref()
        .map_or("generic", |p| p.get_ref().as_str());
    let profile = profile::profile(profile_name).ok_or_else(|| {
        let message = format!(
            "unknown profile '{profile_name}' in route '{name}': use one of {}",
            profile::names().join(", ")
        );
        match &r.profile {
            Some(at) => src.at(at, message),
            None => src.at(spanned, message),
        }
    })?;
    let program = match (&r.program, profile.program) {
        (Some(p), _) => p.get_ref().clone(),
        (None, Some(default)) => default.to_string(),
        (None, None) => {
            return Err(src.at(spanned, format!("route '{name}' has no `program` and profile '{profile_name}' has no default: add program = \"/path/to/cli\"")))
        }
    };
    if program.is_empty() {
        let message = "`program` is empty: give a bare name or an absolute path";
        return Err(match &r.program {
            Some(at) => src.at(at, message),
            None => src.at(spanned, message),
        });
    }
    let prompt_via = match &r.prompt_via {
        Some(v) => v.get_ref().parse::<PromptVia>().map_err(|e| src.at(v, e))?,
        None if r.args.is_some() => {
            // Custom args: infer the delivery from the placeholders they use.
            let args = r.args.as_deref().unwrap_or_default();
            if args.iter().any(|a| a.contains("{prompt_file}")) {
                PromptVia::File
            } else if args.iter().any(|a| a.contains("{prompt}")) {
                PromptVia::Arg
            } else {
                PromptVia::Stdin
            }
        }
        None => profile.prompt_via,
    };
    let mut args: Vec<String> = match &r.args {
        Some(a) => a.clone(),
        None => profile.args.iter().map(|s| s.to_string()).collect(),
    };
    if let Some(model) = &r.model {
        if !args.iter().any(|a| a.contains("{model}")) {
            // Before a `--` separator: after it they would be prompt text.
            insert_options(&mut args, profile.model_args.iter().map(|s| s.to_string()));
        }
        args = args.iter().map(|a| a.replace("{model}", model)).collect();
    } else if args.iter().any(|a| a.contains("{model}")) {
        return Err(src.at(
            spanned,
            format!("route '{name}' uses {{model}} in its args but sets no `model`"),
        ));
    }
    if r.json {
        let at = json_insert_at(profile, &args).min(options_end(&args));
        args.splice(at..at, profile.json_args.iter().map(|s| s.to_string()));
    }
    let mut set: Vec<(String, String)> = Vec::new();
    if let Some(f) = &r.env_file {
        let path = src.path(f.get_ref());
        let text = (src.read)(&path, crate::input::MAX_ENV_FILE_BYTES, "env_file")
            .map_err(|e| src.at(f, e.to_string()))?;
        hasher.update(text.as_bytes());
        let parsed =
            parse_env_file(&path.display().to_string(), &text).map_err(|e| ConfigError {
                file: e.file,
                line: e.line,
                column: e.column,
                message: e.message,
            })?;
        set.extend(parsed);
    }
    set.extend(r.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let route_rules = match &r.rules_file {
        Some(f) => Some(load_rules(src, f, rules, hasher)?),
        None => None,
    };
    if let Some(c) = &r.concurrency {
        if *c.get_ref() == 0 {
            return Err(src.at(c, format!("route '{name}' has concurrency 0: it could never run; remove the key or set 1 or more")));
        }
    }
    Ok(Route {
        name: name.to_string(),
        profile,
        program,
        args,
        prompt_via,
        model: r.model.clone(),
        timeout: r
            .timeout
            .as_ref()
            .map(|t| src.duration(t, "timeout"))
            .transpose()?,
        cwd: r.cwd.as_deref().map(|c| src.path(c)),
        env: EnvSpec {
            clear: r.env_clear,
            inherit: r.env_inherit.clone(),
            set,
        },
        subagents: r.subagents,
        concurrency: r.concurrency.as_ref().map(|c| *c.get_ref()),
        canary_args: r.canary_args.clone(),
        rules: route_rules,
        base_env: None,
        run_as: None,
        artifact_cap: crate::dispatch::DEFAULT_ARTIFACT_CAP,
    })
}

/// Where a profile's JSON flags go: after the subcommand for codex (`exec --json`), else first.
fn json_insert_at(profile: &Profile, args: &[String]) -> usize {
    match (profile.name, args.first()) {
        ("codex", Some(first)) if first == "exec" => 1,
        _ => 0,
    }
}

fn known_routes(
    src: &Source<'_>,
    owner: &str,
    list: &[Spanned<String>],
    routes: &BTreeMap<String, Route>,
) -> Result<Vec<String>, ConfigError> {
    list.iter()
        .map(|r| {
            if routes.contains_key(r.get_ref()) {
                Ok(r.get_ref().clone())
            } else {
                let known: Vec<&str> = routes.keys().map(String::as_str).collect();
                Err(src.at(r, format!("{owner} names route '{}', which is not defined: define [routes.{}] or use one of [{}]", r.get_ref(), r.get_ref(), known.join(", "))))
            }
        })
        .collect()
}

fn kind(
    src: &Source<'_>,
    name: &str,
    spanned: &Spanned<RawKind>,
    routes: &BTreeMap<String, Route>,
) -> Result<Kind, ConfigError> {
    let k = spanned.get_ref();
    Ok(Kind {
        name: name.to_string(),
        routes: known_routes(src, &format!("kind '{name}'"), &k.routes, routes)?,
        models: k.models.clone(),
        max_prompt_bytes: k.max_prompt_bytes,
        required_fields: k.required_fields.clone(),
        requires_subagents: k.requires_subagents,
        requires_flag: k.requires_flag.clone(),
    })
}

fn lane(
    src: &Source<'_>,
    name: &str,
    spanned: &Spanned<RawLane>,
    routes: &BTreeMap<String, Route>,
) -> Result<Lane, ConfigError> {
    let l = spanned.get_ref();
    if let Some(c) = &l.concurrency {
        if *c.get_ref() == 0 {
            return Err(src.at(c, format!("lane '{name}' has concurrency 0: set 1 or more")));
        }
    }
    Ok(Lane {
        name: name.to_string(),
        routes: known_routes(src, &format!("lane '{name}'"), &l.routes, routes)?,
        concurrency: l.concurrency.as_ref().map(|c| *c.get_ref()),
    })
}

impl Config {
    /// The route with this name, or an error listing the defined ones.
    pub fn route(&self, name: &str) -> Result<&Route, UnknownName> {
        self.routes
            .get(name)
            .ok_or_else(|| UnknownName::new("route", "routes", name, self, self.routes.keys()))
    }

    /// The kind with this name.
    pub fn kind(&self, name: &str) -> Result<&Kind, UnknownName> {
        self.kinds
            .get(name)
            .ok_or_else(|| UnknownName::new("kind", "kinds", name, self, self.kinds.keys()))
    }
}

impl Route {
    /// The dispatch request that runs this route with `prompt`.
    pub fn request(&self, prompt: Option<Vec<u8>>) -> DispatchRequest {
        let mut req = DispatchRequest::new(self.program.clone(), self.args.clone());
        req.cwd = self.cwd.clone();
        req.env = self.env.clone();
        req.prompt = prompt;
        req.prompt_via = self.prompt_via;
        req.timeout = self.timeout;
        req.route = Some(self.name.clone());
        req.model = self.model.clone();
        req.base_env = self.base_env.clone();
        req.run_as = self.run_as.clone();
        req.artifact_cap = self.artifact_cap;
        req
    }

    /// The same program, environment and working directory with other arguments
    /// (a probe: version, auth status, canary) and no prompt.
    pub fn probe_request(&self, args: Vec<String>, timeout: Duration) -> DispatchRequest {
        let mut req = self.request(None);
        req.args = args;
        req.timeout = Some(timeout);
        req.prompt_via = PromptVia::Stdin;
        req.env.set.extend(
            self.profile
                .probe_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        req
    }

    /// The canary request: the route's canary args, else its own invocation with the seed's prompt.
    pub fn canary_request(&self, timeout: Option<Duration>) -> DispatchRequest {
        let mut req = match &self.canary_args {
            Some(args) => {
                let mut r = self.request(None);
                r.args = args.clone();
                r
            }
            None => self.request(Some(CANARY_PROMPT.as_bytes().to_vec())),
        };
        if timeout.is_some() {
            req.timeout = timeout;
        }
        req
    }
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
