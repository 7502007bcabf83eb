//! `agentlane rules suggest|test|add`: an unknown exit becomes a rule in one
//! step, proven on the stored dispatches before it is written.
//!
//! The deciding parts (the pattern, the id, the replay, the appended text)
//! are pure functions of `agentlane::rules_loop`; this file reads the store,
//! the configuration and the rules file, asks for confirmation, and writes
//! the file atomically.

use std::path::{Path, PathBuf};

use agentlane::class::Class;
use agentlane::classify::RuleSet;
use agentlane::exit_status;
use agentlane::rules_loop::{self, RuleSpec};
use clap::{Args, Subcommand};

use crate::{load_config, open_store, Failure};

mod context;
mod file;
mod report;

use context::Context;
use file::{confirm, read_rules_text, taken_ids, write_rules};
use report::{file_flag, print_class_note, print_replay, propose, replay_json};

/// Dispatches a replay reads by default (newest first).
const DEFAULT_LIMIT: usize = 1000;

#[derive(Debug, Args)]
#[command(
    after_help = "The loop: `exec` ends in unknown_exit_N and its hint names the dispatch;\n  agentlane rules suggest ID --class CLASS     propose a [[rule]] from its evidence line\n  agentlane rules test FILE                    which stored verdicts a rules file would change\n  agentlane rules add --from ID --class CLASS  replay, confirm, append to your rules file\n\nYour rules file: --file, else $AGENTLANE_RULES, else the configuration's top-level\nrules_file, else rules.toml beside the configuration (without one: in the home).\n\nExit status: 0 done (whatever the replay found), 1 `add` not confirmed, 64 a usage error or a\nrefused rule (duplicate id, bad regex, no class, a pattern that misses its dispatch), 74 the\nstore or the file could not be read or written, 78 a bad rules file (file:line:column)."
)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Propose a [[rule]] from a dispatch's evidence line, and show what it would change.
    Suggest(SuggestArgs),
    /// Replay a rules file on the stored dispatches and list the verdicts it would change.
    Test(TestArgs),
    /// Append a rule to your rules file, after replaying it on the stored dispatches.
    Add(AddArgs),
}

#[derive(Debug, Args)]
struct SuggestArgs {
    /// The dispatch (id or unique prefix; `agentlane runs` lists them)
    dispatch: String,
    /// The class the rule assigns [default: the generic layer's verdict on the line, when it names one]
    #[arg(long)]
    class: Option<String>,
    /// The rule's id [default: user.<program>_<words of the line>]
    #[arg(long)]
    id: Option<String>,
    /// Your rules file, which the replay puts the rule on top of [default: see `rules --help`]
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Dispatches the replay reads, newest first (0 for all)
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    limit: usize,
    /// Print JSON ({rule, toml, class_from, replay})
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct TestArgs {
    /// The rules file to try (same shape as the built-in rules)
    file: PathBuf,
    /// Dispatches to read, newest first (0 for all)
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    limit: usize,
    /// Print JSON ({file, replayed, skipped, drifted, changes})
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct AddArgs {
    /// The class the rule assigns (`agentlane explain --list`); with --from, defaults to the generic layer's verdict
    #[arg(long)]
    class: Option<String>,
    /// The regex (one line at a time, multi-line mode); with --from, defaults to the suggestion's
    #[arg(long, required_unless_present = "from")]
    pattern: Option<String>,
    /// The rule's id [default: user.<program>_<words of the line>]
    #[arg(long)]
    id: Option<String>,
    /// The stream it reads first: stdout, stderr, any or json [default: any, or the suggestion's]
    #[arg(long, value_name = "S")]
    stream: Option<String>,
    /// The exit code it is limited to [default: any failure, or the suggestion's]
    #[arg(long, value_name = "N")]
    exit_code: Option<i32>,
    /// A repair hint template ({program}, {evidence}, {home}, … as in docs/runbook.md)
    #[arg(long, value_name = "TEXT")]
    hint: Option<String>,
    /// Start from `rules suggest DISPATCH_ID`; the rule must match that dispatch
    #[arg(long, value_name = "DISPATCH_ID")]
    from: Option<String>,
    /// Append without asking (after the replay)
    #[arg(long, short = 'y')]
    yes: bool,
    /// The rules file to append to [default: see `rules --help`]
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Dispatches the replay reads, newest first (0 for all)
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    limit: usize,
}

pub async fn run(
    args: RulesArgs,
    home: Option<&PathBuf>,
    config: Option<&Path>,
) -> Result<i32, Failure> {
    let config = load_config(config)?;
    let (home, store) = open_store(home).await?;
    let ctx = Context {
        config,
        home: home.root().to_path_buf(),
        store,
    };
    match args.command {
        RulesCommand::Suggest(a) => suggest(&ctx, a).await,
        RulesCommand::Test(a) => test(&ctx, a).await,
        RulesCommand::Add(a) => add(&ctx, a).await,
    }
}

fn parse_class(label: Option<&str>) -> Result<Option<Class>, Failure> {
    label
        .map(|l| {
            l.parse::<Class>()
                .map_err(|e| Failure::new(exit_status::USAGE, format!("--class: {e}")))
        })
        .transpose()
}

async fn suggest(ctx: &Context, args: SuggestArgs) -> Result<i32, Failure> {
    let d = ctx.one_dispatch(&args.dispatch).await?;
    let class = parse_class(args.class.as_deref())?;
    let target = ctx.target(args.file.as_deref());
    let existing = read_rules_text(&target.path)?;
    let taken = taken_ids(existing.as_deref());
    let suggestion = rules_loop::suggest(&d, class, args.id, &taken)
        .map_err(|e| Failure::new(exit_status::USAGE, e.to_string()))?;
    let alone = suggestion.rule.compile().map_err(|e| {
        Failure::new(
            exit_status::SOFTWARE,
            format!(
                "the suggested rule does not compile (a bug: please report the evidence line): {e}"
            ),
        )
    })?;
    let matches = rules_loop::matches_dispatch(&alone, &d);
    let block = suggestion.rule.to_toml();
    let proposed = propose(ctx, &target, existing.as_deref(), &block, args.limit).await?;
    if args.json {
        let out = serde_json::json!({
            "rule": suggestion.rule,
            "toml": block,
            "class_from": suggestion.class_from,
            "matches_its_dispatch": matches,
            "file": target.path,
            "replay": replay_json(&proposed.replay, &proposed.skipped),
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(0);
    }
    print_class_note(&suggestion);
    println!("{block}");
    if !matches {
        println!("warning: this rule does not match dispatch {} itself: edit its pattern before adding it", d.dispatch_id);
    }
    print_replay(&proposed.replay, &proposed.skipped, "this rule");
    println!(
        "\nadd it with: agentlane rules add --from {} --class {} --id {}{}",
        d.dispatch_id,
        suggestion.rule.class,
        suggestion.rule.id,
        file_flag(args.file.as_deref())
    );
    Ok(0)
}

async fn test(ctx: &Context, args: TestArgs) -> Result<i32, Failure> {
    let text = agentlane::input::read_text_capped(
        &args.file,
        agentlane::input::MAX_CONFIG_FILE_BYTES,
        "the rules file",
    )
    .map_err(|e| Failure::new(exit_status::CONFIG, format!("invalid rules file: {e}")))?;
    // Before: the rules in force without FILE (when FILE is your rules
    // file, the replay shows everything it does); after: those plus FILE.
    let before = ctx.rules_without(Some(&args.file))?;
    let after = before
        .with_document(&args.file.display().to_string(), &text)
        .map_err(|e| Failure::new(exit_status::CONFIG, format!("invalid rules file: {e}")))?;
    let (dispatches, skipped) = ctx.dispatches(args.limit).await?;
    let replay = rules_loop::replay(&dispatches, &before, &after);
    if args.json {
        let mut out = replay_json(&replay, &skipped);
        if let Some(m) = out.as_object_mut() {
            m.insert("file".into(), serde_json::json!(args.file));
        }
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(0);
    }
    print_replay(&replay, &skipped, &args.file.display().to_string());
    Ok(0)
}

async fn add(ctx: &Context, args: AddArgs) -> Result<i32, Failure> {
    let target = ctx.target(args.file.as_deref());
    let existing = read_rules_text(&target.path)?;
    let taken = taken_ids(existing.as_deref());
    let class = parse_class(args.class.as_deref())?;
    let from = match &args.from {
        Some(id) => Some(ctx.one_dispatch(id).await?),
        None => None,
    };
    let mut rule = match &from {
        Some(d) => {
            let s = rules_loop::suggest(d, class, args.id.clone(), &taken)
                .map_err(|e| Failure::new(exit_status::USAGE, e.to_string()))?;
            print_class_note(&s);
            s.rule
        }
        None => {
            let class = class.ok_or_else(|| {
                Failure::new(
                    exit_status::USAGE,
                    "--class is required without --from (the labels: `agentlane explain --list`)",
                )
            })?;
            let pattern = args.pattern.clone().unwrap_or_default();
            RuleSpec {
                id: args
                    .id
                    .clone()
                    .unwrap_or_else(|| rules_loop::rule_id("rule", &pattern, &taken)),
                class: class.label(),
                stream: None,
                pattern,
                exit_code: None,
                hint: None,
                source: None,
                evidence: None,
            }
        }
    };
    if let Some(p) = &args.pattern {
        rule.pattern = p.clone();
    }
    if let Some(s) = &args.stream {
        rule.stream = Some(s.clone());
    }
    if let Some(c) = args.exit_code {
        rule.exit_code = Some(c);
    }
    if let Some(h) = &args.hint {
        rule.hint = Some(h.clone());
    }
    let existing_ids = existing
        .as_deref()
        .map(rules_loop::rule_ids)
        .unwrap_or_default();
    if existing_ids.contains(&rule.id) {
        return Err(Failure::new(
            exit_status::USAGE,
            format!(
                "{} already has a rule '{}': choose another --id, or edit that rule in the file",
                target.path.display(),
                rule.id
            ),
        ));
    }
    let alone = rule.compile().map_err(|e| {
        Failure::new(
            exit_status::USAGE,
            format!("the rule is not valid: {}\nnothing was written", e.message),
        )
    })?;
    if let Some(d) = &from {
        if !rules_loop::matches_dispatch(&alone, d) {
            return Err(Failure::new(
                exit_status::USAGE,
                format!(
                    "rule '{}' does not match dispatch {} it comes from (its pattern finds no line of the stored tails, or its exit code/stream do not fit): check --pattern against `agentlane show {}`; nothing was written",
                    rule.id, d.dispatch_id, d.dispatch_id
                ),
            ));
        }
    }
    if RuleSet::builtin().rules().iter().any(|r| r.id == rule.id) {
        println!(
            "note: '{}' is a built-in rule's id: this rule replaces it",
            rule.id
        );
    }
    let block = rule.to_toml();
    let proposed = propose(ctx, &target, existing.as_deref(), &block, args.limit).await?;
    println!("{block}");
    print_replay(&proposed.replay, &proposed.skipped, "this rule");
    if !args.yes && !confirm(&target.path)? {
        println!("nothing written");
        return Ok(1);
    }
    write_rules(
        &target.path,
        existing.as_deref(),
        &proposed.text,
        &ctx.rules_without(Some(&target.path))?,
    )?;
    println!("added rule '{}' to {}", rule.id, target.path.display());
    if target.named_by == "default" {
        let wiring = match &ctx.config {
            Some(c) => format!(
                "add `rules_file = \"{}\"` at the top of {} so exec, doctor and the workers read it",
                target.path.display(),
                c.path.display()
            ),
            None => format!(
                "nothing reads it yet: pass `--rules {}` to exec, or set AGENTLANE_RULES={}",
                target.path.display(),
                target.path.display()
            ),
        };
        println!("note: {wiring}");
    }
    Ok(0)
}
