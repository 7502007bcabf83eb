//! `agentlane.toml`: routes, job kinds (policy and payload contract), lanes.
//!
//! Found via `--config`, `$AGENTLANE_CONFIG`, `./agentlane.toml`, then
//! `$XDG_CONFIG_HOME/agentlane/agentlane.toml` (else `~/.config/...`).
//! Every error names the file, line and column, and says how to fix it.
//! Unknown keys are errors: a typo in a policy must not silently allow work.

mod alerts;
mod breaker;
mod parse;
pub mod profile;
mod raw;
pub mod starter;
mod types;
mod validate;

pub use alerts::{check_url, AlertFormat, AlertSettings, Webhook, WebhookUrl, DEFAULT_DEBOUNCE};
pub use breaker::BreakerSettings;
pub(crate) use parse::Source;
pub use parse::{candidates, discover, load, parse, parse_with, ReadFile};
pub use profile::{Profile, CANARY_PROMPT};
pub(crate) use raw::{RawConfig, RawRetry};
pub use types::*;
pub use validate::MIN_LEASE;

#[cfg(test)]
mod budget_tests;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
