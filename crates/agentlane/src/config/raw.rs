//! The configuration file as serde reads it (every key spanned, unknown keys
//! refused), before it is checked and turned into [`super::Config`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub(crate) routes: BTreeMap<String, Spanned<RawRoute>>,
    #[serde(default)]
    pub(crate) kinds: BTreeMap<String, Spanned<RawKind>>,
    #[serde(default)]
    pub(crate) lanes: BTreeMap<String, Spanned<RawLane>>,
    #[serde(default)]
    pub(crate) preflight: Option<RawPreflight>,
    #[serde(default)]
    pub(crate) rules_file: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) retry: BTreeMap<String, Spanned<RawRetry>>,
    #[serde(default)]
    pub(crate) queue: Option<RawQueue>,
    #[serde(default)]
    pub(crate) workers: BTreeMap<String, Spanned<RawWorkerKind>>,
    #[serde(default)]
    pub(crate) store: Option<RawStore>,
    #[serde(default)]
    pub(crate) artifacts: Option<RawArtifacts>,
    #[serde(default)]
    pub(crate) alerts: Option<super::alerts::RawAlerts>,
    pub(crate) breaker: Option<Spanned<super::breaker::RawBreaker>>,
    pub(crate) budgets: Option<RawBudgets>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBudgets {
    #[serde(default)]
    pub(crate) per_job_usd: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawArtifacts {
    #[serde(default)]
    pub(crate) max_bytes_per_stream: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    #[serde(default)]
    pub(crate) url: Option<String>,
    #[serde(default)]
    pub(crate) max_connections: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkerKind {
    #[serde(default)]
    pub(crate) env_clear: bool,
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) env_inherit: Vec<String>,
    #[serde(default)]
    pub(crate) user: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    #[serde(default)]
    pub(crate) action: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) initial_backoff: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) factor: Option<f64>,
    #[serde(default)]
    pub(crate) max_backoff: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) max_attempts: Option<u32>,
    #[serde(default)]
    pub(crate) timeout_factor: Option<f64>,
    #[serde(default)]
    pub(crate) max_timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) jitter: Option<f64>,
    #[serde(default)]
    pub(crate) diagnostics: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQueue {
    #[serde(default)]
    pub(crate) lease: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) poll: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) idle_poll: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) shutdown_grace: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) listen: Option<bool>,
    #[serde(default)]
    pub(crate) trial: Option<bool>,
    #[serde(default)]
    pub(crate) retention: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) prompt_secrets: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) quota_release_jitter: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    #[serde(default)]
    pub(crate) profile: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) program: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) args: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) prompt_via: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) model: Option<String>,
    #[serde(default)]
    pub(crate) timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) cwd: Option<String>,
    #[serde(default)]
    pub(crate) env_clear: bool,
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) env_inherit: Vec<String>,
    #[serde(default)]
    pub(crate) env_file: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) json: bool,
    #[serde(default)]
    pub(crate) subagents: bool,
    #[serde(default)]
    pub(crate) concurrency: Option<Spanned<u32>>,
    #[serde(default)]
    pub(crate) canary_args: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) rules_file: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) retry: BTreeMap<String, Spanned<RawRetry>>,
    #[serde(default)]
    pub(crate) idle_timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) stop_early: Option<bool>,
    #[serde(default)]
    pub(crate) stop_early_after: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) result_grace: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) success: Option<RawSuccess>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSuccess {
    #[serde(default)]
    pub(crate) output_matches: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) non_empty_result: bool,
    #[serde(default)]
    pub(crate) min_turns: Option<Spanned<u64>>,
    #[serde(default)]
    pub(crate) changed_worktree: bool,
    #[serde(default)]
    pub(crate) file_exists: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKind {
    #[serde(default)]
    pub(crate) routes: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) models: Vec<String>,
    #[serde(default)]
    pub(crate) max_prompt_bytes: Option<u64>,
    #[serde(default)]
    pub(crate) required_fields: Vec<String>,
    #[serde(default)]
    pub(crate) requires_subagents: bool,
    #[serde(default)]
    pub(crate) requires_flag: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLane {
    #[serde(default)]
    pub(crate) routes: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) concurrency: Option<Spanned<u32>>,
    #[serde(default)]
    pub(crate) budget_usd_per_day: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPreflight {
    #[serde(default)]
    pub(crate) ttl: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) probe_timeout: Option<Spanned<String>>,
}
