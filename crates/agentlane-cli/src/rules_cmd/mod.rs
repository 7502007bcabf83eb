//! `agentlane rules suggest|test|add`: an unknown exit becomes a rule in one
//! step, proven on the stored dispatches before it is written.
//!
//! The deciding parts (the pattern, the id, the replay, the appended text)
//! are pure functions of `agentlane::rules_loop`; this file reads the store,
//! the configuration and the rules file, asks for confirmation, and writes
//! the file atomically.

mod context;
mod file;
mod report;

mod args;
mod commands;

pub use args::RulesArgs;
use args::{AddArgs, RulesCommand, SuggestArgs, TestArgs};
pub use commands::run;
