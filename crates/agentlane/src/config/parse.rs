//! Finding, reading and checking the configuration: raw TOML to
//! [`super::Config`], each error with file, line and column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::profile::Profile;
use super::raw::*;
use super::types::*;
use crate::classify::RuleSet;
use crate::dispatch::prompt_arg::{insert_options, options_end};
use crate::dispatch::{parse_env_file, EnvSpec, PromptVia};
use crate::retry::{default_policy, Action, Policy, RetryTable};

/// Reads a file the configuration names (`rules_file`, `env_file`): its path,
/// the size cap, and what it is for (named in errors).
pub type ReadFile<'a> = &'a dyn Fn(&Path, u64, &str) -> Result<String, crate::input::InputError>;

/// Positions in one source text.
pub(crate) struct Source<'a> {
    file: String,
    text: &'a str,
    dir: PathBuf,
    read: ReadFile<'a>,
}

impl Source<'_> {
    pub(crate) fn error(&self, offset: usize, message: impl Into<String>) -> ConfigError {
        let before = &self.text[..offset.min(self.text.len())];
        ConfigError {
            file: self.file.clone(),
            line: before.matches('\n').count() + 1,
            column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
            message: message.into(),
        }
    }

    pub(crate) fn at<T>(&self, s: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        self.error(s.span().start, message)
    }

    pub(crate) fn duration(&self, s: &Spanned<String>, key: &str) -> Result<Duration, ConfigError> {
        humantime::parse_duration(s.get_ref())
            .map_err(|e| self.at(s, format!("`{key}` = \"{}\" is not a duration ({e}): write e.g. \"90s\", \"20m\" or \"1h30m\"", s.get_ref())))
    }

    /// A budget in dollars: a finite amount above zero.
    pub(crate) fn dollars(&self, s: &Spanned<f64>, key: &str) -> Result<f64, ConfigError> {
        let v = *s.get_ref();
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.at(
                s,
                format!(
                    "`{key}` = {v} is not a budget: write an amount of dollars above 0, e.g. 2.5"
                ),
            ))
        }
    }

    pub(crate) fn size(&self, s: &Spanned<String>, key: &str) -> Result<u64, ConfigError> {
        crate::size::parse_size(s.get_ref()).map_err(|e| self.at(s, format!("`{key}`: {e}")))
    }

    pub(crate) fn path(&self, p: &str) -> PathBuf {
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
    super::validate::check(&src, &raw)?;
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
    let breaker = super::breaker::settings(&src, raw.breaker.as_ref())?;
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
        if let Some(t) = &q.idle_poll {
            queue.idle_poll = src.duration(t, "queue.idle_poll")?;
        }
        if let Some(t) = &q.shutdown_grace {
            queue.shutdown_grace = src.duration(t, "queue.shutdown_grace")?;
        }
        if let Some(trial) = q.trial {
            queue.trial = trial;
        }
        if let Some(t) = &q.quota_release_jitter {
            queue.quota_release_jitter = src.duration(t, "queue.quota_release_jitter")?;
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
        store_url: raw.store.as_ref().and_then(|s| s.url.clone()),
        store_max_connections: match raw.store.as_ref().and_then(|s| s.max_connections.as_ref()) {
            Some(n) if !(2..=1000).contains(n.get_ref()) => {
                return Err(src.at(n, format!("`store.max_connections` = {}: use a number from 2 to 1000 — the most connections one agentlane process opens to PostgreSQL: one kept for lease renewals and LISTEN, the rest pooled for claims and settlements (default 3)", n.get_ref())));
            }
            Some(n) => Some(*n.get_ref() as usize),
            None => None,
        },
        artifacts,
        budgets: Budgets {
            per_job_usd: match raw.budgets.as_ref().and_then(|b| b.per_job_usd.as_ref()) {
                Some(v) => Some(src.dollars(v, "budgets.per_job_usd")?),
                None => None,
            },
        },
        breaker,
        alerts: super::alerts::alerts(&src, raw.alerts.as_ref())?,
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
    let profile = super::profile::profile(profile_name).ok_or_else(|| {
        let message = format!(
            "unknown profile '{profile_name}' in route '{name}': use one of {}",
            super::profile::names().join(", ")
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
    let watch = crate::dispatch::WatchSettings {
        idle_timeout: r
            .idle_timeout
            .as_ref()
            .map(|t| src.duration(t, "idle_timeout"))
            .transpose()?,
        terminal_settle: match (r.stop_early, &r.stop_early_after) {
            (Some(false), _) => None,
            (_, Some(t)) => Some(src.duration(t, "stop_early_after")?),
            (_, None) => Some(crate::dispatch::watch::DEFAULT_TERMINAL_SETTLE),
        },
        done_grace: match &r.result_grace {
            Some(t) => src.duration(t, "result_grace")?,
            None => crate::dispatch::watch::DEFAULT_DONE_GRACE,
        },
    };
    if let Some(t) = &r.idle_timeout {
        if watch.idle_timeout.is_some_and(|d| d.is_zero()) {
            return Err(src.at(t, format!("route '{name}' has idle_timeout 0: every run would be stopped at once; remove the key or give a duration such as \"10m\"")));
        }
    }
    let success = match &r.success {
        Some(s) => Some(std::sync::Arc::new(success_contract(src, name, s)?)),
        None => None,
    };
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
        watch,
        success,
    })
}

/// `[routes.NAME.success]`: the regex compiled (an error points at it).
fn success_contract(
    src: &Source<'_>,
    name: &str,
    s: &super::raw::RawSuccess,
) -> Result<crate::classify::success::SuccessContract, ConfigError> {
    let output_matches = match &s.output_matches {
        Some(p) => Some(regex::Regex::new(p.get_ref()).map_err(|e| {
            src.at(
                p,
                format!("route '{name}': `success.output_matches` is not a valid regex: {e}"),
            )
        })?),
        None => None,
    };
    if let Some(f) = &s.file_exists {
        if f.get_ref().trim().is_empty() {
            return Err(src.at(f, format!("route '{name}': `success.file_exists` is empty: name a file relative to the route's cwd")));
        }
    }
    Ok(crate::classify::success::SuccessContract {
        output_matches,
        non_empty_result: s.non_empty_result,
        min_turns: s.min_turns.as_ref().map(|m| *m.get_ref()),
        changed_worktree: s.changed_worktree,
        file_exists: s.file_exists.as_ref().map(|f| f.get_ref().into()),
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
        budget_usd_per_day: match &l.budget_usd_per_day {
            Some(v) => Some(src.dollars(v, &format!("lanes.{name}.budget_usd_per_day"))?),
            None => None,
        },
    })
}
