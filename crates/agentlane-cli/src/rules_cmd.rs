//! `agentlane rules suggest|test|add`: an unknown exit becomes a rule in one
//! step, proven on the stored dispatches before it is written.
//!
//! The deciding parts (the pattern, the id, the replay, the appended text)
//! are pure functions of `agentlane::rules_loop`; this file reads the store,
//! the configuration and the rules file, asks for confirmation, and writes
//! the file atomically.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use agentlane::class::Class;
use agentlane::classify::RuleSet;
use agentlane::config::Config;
use agentlane::exit_status;
use agentlane::rules_loop::{self, ClassFrom, Replay, Replayable, RuleSpec, Skip, Suggestion};
use agentlane::store::{Store, StoreError};
use clap::{Args, Subcommand};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

use crate::{load_config, open_store, Failure};

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

struct Context {
    config: Option<Config>,
    home: PathBuf,
    store: std::sync::Arc<dyn Store>,
}

/// Where the operator's rules file is, and who named it.
struct Target {
    path: PathBuf,
    named_by: &'static str,
}

fn env_rules() -> Option<PathBuf> {
    std::env::var_os("AGENTLANE_RULES")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl Context {
    /// `--file`, `$AGENTLANE_RULES`, the config's `rules_file`, else
    /// `rules.toml` beside the config (or in the home without one).
    fn target(&self, explicit: Option<&Path>) -> Target {
        if let Some(p) = explicit {
            return Target {
                path: p.to_path_buf(),
                named_by: "--file",
            };
        }
        if let Some(p) = env_rules() {
            return Target {
                path: p,
                named_by: "$AGENTLANE_RULES",
            };
        }
        if let Some(p) = self.config.as_ref().and_then(|c| c.rules_file.clone()) {
            return Target {
                path: p,
                named_by: "the configuration's rules_file",
            };
        }
        let dir = match &self.config {
            Some(c) => c
                .path
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
            None => self.home.clone(),
        };
        Target {
            path: dir.join("rules.toml"),
            named_by: "default",
        }
    }

    /// The rules files `exec` reads on top of the built-ins: the config's
    /// `rules_file`, then `$AGENTLANE_RULES`.
    fn in_force_files(&self) -> Vec<PathBuf> {
        self.config
            .as_ref()
            .and_then(|c| c.rules_file.clone())
            .into_iter()
            .chain(env_rules())
            .collect()
    }

    /// The built-ins plus the rules files in force, leaving out `except`.
    fn rules_without(&self, except: Option<&Path>) -> Result<RuleSet, Failure> {
        let mut set = RuleSet::builtin().clone();
        for file in self.in_force_files() {
            // A file not written yet adds nothing (`rules add` creates it).
            if except.is_some_and(|e| same_file(e, &file)) || !file.exists() {
                continue;
            }
            set = set.with_file(&file).map_err(|e| {
                Failure::new(
                    exit_status::CONFIG,
                    format!("invalid rules file in force: {e}"),
                )
            })?;
        }
        Ok(set)
    }

    /// The stored dispatches a replay reads, and how many were skipped.
    async fn dispatches(&self, limit: usize) -> Result<(Vec<Replayable>, Skipped), Failure> {
        let summaries = self
            .store
            .recent_dispatches(limit)
            .await
            .map_err(store_failure)?;
        let mut out = Vec::new();
        let mut skipped = Skipped::default();
        for s in summaries {
            let record = self
                .store
                .dispatch(&s.dispatch_id)
                .await
                .map_err(store_failure)?;
            let report = record.as_ref().and_then(|r| r.report.as_ref());
            match Replayable::from_report(report) {
                Ok(mut d) => {
                    widen_from_artifacts(&mut d, report);
                    out.push(d)
                }
                Err(Skip::NotLaunched) => skipped.not_launched += 1,
                Err(Skip::Interrupted) => skipped.interrupted += 1,
                Err(Skip::NoReport | Skip::Unreadable) => skipped.no_report += 1,
            }
        }
        Ok((out, skipped))
    }

    async fn one_dispatch(&self, id: &str) -> Result<Replayable, Failure> {
        let record = self
            .store
            .dispatch(id)
            .await
            .map_err(store_failure)?
            .ok_or_else(|| {
                Failure::new(
                    exit_status::USAGE,
                    format!("no dispatch '{id}': list them with `agentlane runs`"),
                )
            })?;
        let mut replayable = Replayable::from_report(record.report.as_ref()).map_err(|skip| {
            let why = match skip {
                Skip::NoReport | Skip::Unreadable => "it has no finished report (still running, or its worker was lost)",
                Skip::NotLaunched => "it was refused before launch: its class is a fact agentlane decided, not a line a rule could match",
                Skip::Interrupted => "it was interrupted by a signal agentlane received: no rule decides that",
            };
            Failure::new(
                exit_status::USAGE,
                format!("dispatch {id} cannot be turned into a rule: {why}"),
            )
        })?;
        widen_from_artifacts(&mut replayable, record.report.as_ref());
        Ok(replayable)
    }
}

/// Dispatches a replay did not read, by reason.
#[derive(Debug, Default)]
struct Skipped {
    not_launched: usize,
    interrupted: usize,
    no_report: usize,
}

impl Skipped {
    fn total(&self) -> usize {
        self.not_launched + self.interrupted + self.no_report
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn store_failure(e: StoreError) -> Failure {
    match e {
        StoreError::Ambiguous(_) => Failure::new(exit_status::USAGE, e.to_string()),
        other => Failure::new(exit_status::IO_ERROR, other.to_string()),
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

/// The text of a rules file, `None` when it does not exist.
fn read_rules_text(path: &Path) -> Result<Option<String>, Failure> {
    if !path.exists() {
        return Ok(None);
    }
    agentlane::input::read_text_capped(
        path,
        agentlane::input::MAX_CONFIG_FILE_BYTES,
        "the rules file",
    )
    .map(Some)
    .map_err(|e| Failure::new(exit_status::IO_ERROR, e.to_string()))
}

/// The ids a new rule must not take: the built-ins' and the target file's.
fn taken_ids(existing: Option<&str>) -> impl Fn(&str) -> bool {
    let mut ids: Vec<String> = RuleSet::builtin()
        .rules()
        .iter()
        .map(|r| r.id.clone())
        .collect();
    ids.extend(existing.map(rules_loop::rule_ids).unwrap_or_default());
    move |id: &str| ids.iter().any(|i| i == id)
}

/// The replay of the target file with `block` appended, against the rules in force.
struct Proposed {
    /// The file's new text.
    text: String,
    /// Before → after.
    replay: Replay,
    skipped: Skipped,
}

async fn propose(
    ctx: &Context,
    target: &Target,
    existing: Option<&str>,
    block: &str,
    limit: usize,
) -> Result<Proposed, Failure> {
    let text = rules_loop::appended(existing, block);
    let before = ctx.rules_without(None)?;
    // The target file may be in force already: the new text replaces it.
    let after = ctx
        .rules_without(Some(&target.path))?
        .with_document(&target.path.display().to_string(), &text)
        .map_err(|e| {
            Failure::new(
                exit_status::CONFIG,
                format!("{} would not be a valid rules file with this rule: {e}\nhint: fix the file first (`agentlane rules test {}` names the position)", target.path.display(), target.path.display()),
            )
        })?;
    let (dispatches, skipped) = ctx.dispatches(limit).await?;
    Ok(Proposed {
        text,
        replay: rules_loop::replay(&dispatches, &before, &after),
        skipped,
    })
}

fn print_replay(replay: &Replay, skipped: &Skipped, what: &str) {
    if !replay.changes.is_empty() {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header([
            "dispatch",
            "program",
            "now (class / rule)",
            "with it",
            "evidence",
        ]);
        for c in &replay.changes {
            table.add_row([
                c.dispatch_id.clone(),
                c.program.clone(),
                format!("{} / {}", c.before_class, c.before_rule),
                format!("{} / {} ({})", c.after_class, c.after_rule, c.after_layer),
                c.after_evidence.clone().unwrap_or_default(),
            ]);
        }
        println!("{table}");
    }
    println!(
        "{what} changes {} of {} replayed dispatches",
        replay.changes.len(),
        replay.replayed
    );
    if skipped.total() > 0 {
        println!(
            "not replayed: {} (refused before launch: {}, interrupted: {}, unfinished: {})",
            skipped.total(),
            skipped.not_launched,
            skipped.interrupted,
            skipped.no_report
        );
    }
    if replay.drifted > 0 {
        println!(
            "note: {} dispatches were recorded with another verdict than the rules without it give today (the rules changed since they ran, or it was in force already)",
            replay.drifted
        );
    }
    println!("note: {}", rules_loop::STORED_FACTS_NOTE);
}

fn replay_json(replay: &Replay, skipped: &Skipped) -> serde_json::Value {
    serde_json::json!({
        "replayed": replay.replayed,
        "skipped": {
            "not_launched": skipped.not_launched,
            "interrupted": skipped.interrupted,
            "unfinished": skipped.no_report,
        },
        "drifted": replay.drifted,
        "changes": replay.changes,
        "note": rules_loop::STORED_FACTS_NOTE,
    })
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

fn file_flag(file: Option<&Path>) -> String {
    file.map_or_else(String::new, |f| format!(" --file {}", f.display()))
}

fn print_class_note(s: &Suggestion) {
    if let ClassFrom::Generic { signal } = &s.class_from {
        println!(
            "# class {} is the generic layer's verdict on this line (signal {signal}); pass --class to choose another",
            s.rule.class
        );
    }
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

/// Asks on stdin; anything but y/yes (or the end of input) is a no.
fn confirm(path: &Path) -> Result<bool, Failure> {
    print!("append this rule to {}? [y/N] ", path.display());
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| {
            Failure::new(
                exit_status::IO_ERROR,
                format!("cannot read the answer: {e}"),
            )
        })?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Writes `text` to `path` through a temporary file and a rename, then reads
/// it back; a file that does not parse then is put back as it was.
fn write_rules(path: &Path, old: Option<&str>, text: &str, base: &RuleSet) -> Result<(), Failure> {
    let io = |what: &str, e: std::io::Error| {
        Failure::new(
            exit_status::IO_ERROR,
            format!(
                "cannot {what} {}: {e}; the rules file is unchanged",
                path.display()
            ),
        )
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;
    replace_atomically(path, text).map_err(|e| io("write", e))?;
    let back = agentlane::input::read_text_capped(
        path,
        agentlane::input::MAX_CONFIG_FILE_BYTES,
        "the rules file",
    )
    .map_err(|e| {
        Failure::new(
            exit_status::IO_ERROR,
            format!("cannot read back {}: {e}", path.display()),
        )
    })?;
    if let Err(e) = base.with_document(&path.display().to_string(), &back) {
        let restored = match old {
            Some(old) => replace_atomically(path, old),
            None => std::fs::remove_file(path),
        };
        return Err(Failure::new(
            exit_status::SOFTWARE,
            format!(
                "{} did not parse after writing ({e}); {}",
                path.display(),
                match restored {
                    Ok(()) => "it was restored".to_string(),
                    Err(r) => format!("restoring it failed too: {r}"),
                }
            ),
        ));
    }
    Ok(())
}

fn replace_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "rules.toml".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads back the last [`agentlane::dispatch::CLASSIFY_TAIL`] bytes of each
/// whole artifact file of a report, so a replay sees what the classifier saw;
/// a file that cannot be read leaves the report's shorter tail.
fn widen_from_artifacts(d: &mut Replayable, report: Option<&serde_json::Value>) {
    use std::io::{Read, Seek, SeekFrom};
    let Some(report) = report else { return };
    for (stream, path) in rules_loop::whole_artifacts(report) {
        let Ok(mut file) = std::fs::File::open(&path) else {
            continue;
        };
        let Ok(len) = file.metadata().map(|m| m.len()) else {
            continue;
        };
        let cap = agentlane::dispatch::CLASSIFY_TAIL as u64;
        if file.seek(SeekFrom::Start(len.saturating_sub(cap))).is_err() {
            continue;
        }
        let mut tail = Vec::with_capacity(len.min(cap) as usize);
        if file.take(cap).read_to_end(&mut tail).is_ok() {
            d.widen(stream, &tail, len > cap);
        }
    }
}
