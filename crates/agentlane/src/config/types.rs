//! The loaded configuration's types: routes, kinds, lanes, worker kinds,
//! settings, and the errors a lookup gives.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::profile::{Profile, CANARY_PROMPT};
use crate::classify::RuleSet;
use crate::dispatch::{DispatchRequest, EnvSpec, PromptVia};
use crate::retry::RetryTable;

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
    /// The watchdog: `idle_timeout`, `stop_early` / `stop_early_after`, `result_grace`.
    pub watch: crate::dispatch::WatchSettings,
    /// What a successful run must show (`[routes.NAME.success]`).
    pub success: Option<std::sync::Arc<crate::classify::success::SuccessContract>>,
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
    /// Dollars its attempts may report per UTC day; once spent, its workers
    /// claim nothing until the next day (`budget_usd_per_day`).
    pub budget_usd_per_day: Option<f64>,
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
    /// `[store] max_connections`: the most connections one process opens to
    /// PostgreSQL (a URL's `max_connections=` wins).
    pub store_max_connections: Option<usize>,
    /// Artifact settings (`[artifacts]`).
    pub artifacts: ArtifactSettings,
    /// Alerts (`[alerts]`, `[[alerts.webhook]]`).
    pub alerts: super::AlertSettings,
    /// Circuit breakers per route (`[breaker]`).
    pub breaker: super::BreakerSettings,
    /// Spending limits (`[budgets]`).
    pub budgets: Budgets,
}

/// Spending limits (`[budgets]`), in the dollars the agent CLIs report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Budgets {
    /// A job whose attempts have reported this much is not retried.
    pub per_job_usd: Option<f64>,
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
    /// How often an idle worker looks for work when nothing tells it (SQLite;
    /// PostgreSQL without LISTEN asks one cheap question this often).
    pub poll: Duration,
    /// The longest an idle worker waits between whole passes when the store
    /// can wake it (PostgreSQL); jittered ±25%.
    pub idle_poll: Duration,
    /// How long a stopping worker lets running jobs finish.
    pub shutdown_grace: Duration,
    /// Wake on LISTEN/NOTIFY (PostgreSQL); false for poll-only (poolers without LISTEN).
    pub listen: bool,
    /// How long finished jobs, their events and resolved incidents are kept
    /// before the maintenance leader prunes them; `None` ("off") keeps everything.
    pub retention: Option<Duration>,
    /// What enqueue does with a prompt holding a secret (`prompt_secrets`).
    pub prompt_secrets: PromptSecrets,
    /// A route a worker has not seen run without a hard stop runs one job
    /// alone first (`trial`, default true): N jobs behind a bad key cost one
    /// attempt. Off, a fresh worker fills every slot at once.
    pub trial: bool,
    /// An account's parked jobs are released at its quota's reset plus up
    /// to this much (`quota_release_jitter`, default 1m; the same for every
    /// worker: it is drawn from the incident), so a fleet does not spend the
    /// fresh quota in the same second.
    pub quota_release_jitter: Duration,
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
            idle_poll: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(30),
            listen: true,
            retention: Some(Duration::from_secs(14 * 24 * 60 * 60)),
            prompt_secrets: PromptSecrets::Refuse,
            trial: true,
            quota_release_jitter: Duration::from_secs(60),
        }
    }
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
        req.watch = self.watch;
        req.success = self.success.clone();
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
