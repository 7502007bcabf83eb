//! The `rules` command line: suggest, test, add.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Dispatches a replay reads by default (newest first).
pub(super) const DEFAULT_LIMIT: usize = 1000;

#[derive(Debug, Args)]
#[command(
    after_help = "The loop: `exec` ends in unknown_exit_N and its hint names the dispatch;\n  agentlane rules suggest ID --class CLASS     propose a [[rule]] from its evidence line\n  agentlane rules test FILE                    which stored verdicts a rules file would change\n  agentlane rules add --from ID --class CLASS  replay, confirm, append to your rules file\n\nYour rules file: --file, else $AGENTLANE_RULES, else the configuration's top-level\nrules_file, else rules.toml beside the configuration (without one: in the home).\n\nExit status: 0 done (whatever the replay found), 1 `add` not confirmed, 64 a usage error or a\nrefused rule (duplicate id, bad regex, no class, a pattern that misses its dispatch), 74 the\nstore or the file could not be read or written, 78 a bad rules file (file:line:column)."
)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub(super) command: RulesCommand,
}

#[derive(Debug, Subcommand)]
pub(super) enum RulesCommand {
    /// Propose a [[rule]] from a dispatch's evidence line, and show what it would change.
    Suggest(SuggestArgs),
    /// Replay a rules file on the stored dispatches and list the verdicts it would change.
    Test(TestArgs),
    /// Append a rule to your rules file, after replaying it on the stored dispatches.
    Add(AddArgs),
}

#[derive(Debug, Args)]
pub(super) struct SuggestArgs {
    /// The dispatch (id or unique prefix; `agentlane runs` lists them)
    pub(super) dispatch: String,
    /// The class the rule assigns [default: the generic layer's verdict on the line, when it names one]
    #[arg(long)]
    pub(super) class: Option<String>,
    /// The rule's id [default: user.<program>_<words of the line>]
    #[arg(long)]
    pub(super) id: Option<String>,
    /// Your rules file, which the replay puts the rule on top of [default: see `rules --help`]
    #[arg(long, value_name = "PATH")]
    pub(super) file: Option<PathBuf>,
    /// Dispatches the replay reads, newest first (0 for all)
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    pub(super) limit: usize,
    /// Print JSON ({rule, toml, class_from, replay})
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, Args)]
pub(super) struct TestArgs {
    /// The rules file to try (same shape as the built-in rules)
    pub(super) file: PathBuf,
    /// Dispatches to read, newest first (0 for all)
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    pub(super) limit: usize,
    /// Print JSON ({file, replayed, skipped, drifted, changes})
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, Args)]
pub(super) struct AddArgs {
    /// The class the rule assigns (`agentlane explain --list`); with --from, defaults to the generic layer's verdict
    #[arg(long)]
    pub(super) class: Option<String>,
    /// The regex (one line at a time, multi-line mode); with --from, defaults to the suggestion's
    #[arg(long, required_unless_present = "from")]
    pub(super) pattern: Option<String>,
    /// The rule's id [default: user.<program>_<words of the line>]
    #[arg(long)]
    pub(super) id: Option<String>,
    /// The stream it reads first: stdout, stderr, any or json [default: any, or the suggestion's]
    #[arg(long, value_name = "S")]
    pub(super) stream: Option<String>,
    /// The exit code it is limited to [default: any failure, or the suggestion's]
    #[arg(long, value_name = "N")]
    pub(super) exit_code: Option<i32>,
    /// A repair hint template ({program}, {evidence}, {home}, … as in docs/runbook.md)
    #[arg(long, value_name = "TEXT")]
    pub(super) hint: Option<String>,
    /// Start from `rules suggest DISPATCH_ID`; the rule must match that dispatch
    #[arg(long, value_name = "DISPATCH_ID")]
    pub(super) from: Option<String>,
    /// Append without asking (after the replay)
    #[arg(long, short = 'y')]
    pub(super) yes: bool,
    /// The rules file to append to [default: see `rules --help`]
    #[arg(long, value_name = "PATH")]
    pub(super) file: Option<PathBuf>,
    /// Dispatches the replay reads, newest first (0 for all)
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    pub(super) limit: usize,
}
