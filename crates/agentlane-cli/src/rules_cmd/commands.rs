//! The `rules` subcommands: suggest a rule from a dispatch, test a rules
//! file against the stored failures, add a rule after a replay.

use crate::{load_config, open_store, Failure};
use agentlane::class::Class;
use agentlane::classify::RuleSet;
use agentlane::exit_status;
use agentlane::rules_loop::{self, RuleSpec};
use context::Context;
use file::{confirm, read_rules_text, taken_ids, write_rules};
use report::{file_flag, print_class_note, print_replay, propose, replay_json};
use std::path::{Path, PathBuf};

use super::*;

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

pub(super) fn parse_class(label: Option<&str>) -> Result<Option<Class>, Failure> {
    label
        .map(|l| {
            l.parse::<Class>()
                .map_err(|e| Failure::new(exit_status::USAGE, format!("--class: {e}")))
        })
        .transpose()
}

pub(super) async fn suggest(ctx: &Context, args: SuggestArgs) -> Result<i32, Failure> {
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

pub(super) async fn test(ctx: &Context, args: TestArgs) -> Result<i32, Failure> {
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

pub(super) async fn add(ctx: &Context, args: AddArgs) -> Result<i32, Failure> {
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
