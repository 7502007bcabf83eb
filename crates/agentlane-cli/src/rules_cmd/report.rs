//! What a replay found, as a table or JSON, and the rule a change proposes.

use std::path::Path;

use agentlane::exit_status;
use agentlane::rules_loop::{self, ClassFrom, Replay, Suggestion};

use super::context::{Context, Skipped, Target};
use crate::Failure;

/// The replay of the target file with `block` appended, against the rules in force.
pub(super) struct Proposed {
    /// The file's new text.
    pub(super) text: String,
    /// Before → after.
    pub(super) replay: Replay,
    pub(super) skipped: Skipped,
}

pub(super) async fn propose(
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

pub(super) fn print_replay(replay: &Replay, skipped: &Skipped, what: &str) {
    if !replay.changes.is_empty() {
        let mut table = crate::render::table(&[
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

pub(super) fn replay_json(replay: &Replay, skipped: &Skipped) -> serde_json::Value {
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

pub(super) fn file_flag(file: Option<&Path>) -> String {
    file.map_or_else(String::new, |f| format!(" --file {}", f.display()))
}

pub(super) fn print_class_note(s: &Suggestion) {
    if let ClassFrom::Generic { signal } = &s.class_from {
        println!(
            "# class {} is the generic layer's verdict on this line (signal {signal}); pass --class to choose another",
            s.rule.class
        );
    }
}
