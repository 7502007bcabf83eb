//! `agentlane.toml`: routes, job kinds (policy and payload contract), lanes.
//!
//! Found via `--config`, `$AGENTLANE_CONFIG`, `./agentlane.toml`, then
//! `$XDG_CONFIG_HOME/agentlane/agentlane.toml` (else `~/.config/...`).
//! Every error names the file, line and column, and says how to fix it.
//! Unknown keys are errors: a typo in a policy must not silently allow work.

pub mod profile;
pub mod starter;
mod validate;
mod parse;
mod raw;
mod types;

pub use parse::{candidates, discover, load, parse, parse_with, ReadFile};
pub(crate) use parse::Source;
pub(crate) use raw::{RawConfig, RawRetry};
pub use profile::{Profile, CANARY_PROMPT};
pub use types::*;
pub use validate::MIN_LEASE;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
