//! `agentlane explain`: what a class means and how to repair it.
//!
//! The text comes from the library ([`agentlane::runbook`]), the same source
//! as the classifier section of docs/runbook.md (`explain --markdown`).

use std::io::Write;

use agentlane::class::{Class, NAMED_CLASSES};
use agentlane::exit_status;
use agentlane::runbook;
use clap::Args;

use crate::Failure;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The class label, e.g. cli_missing or unknown_exit_1
    #[arg(required_unless_present_any = ["list", "markdown"])]
    class: Option<String>,
    /// List every class label
    #[arg(long, conflicts_with_all = ["class", "markdown"])]
    list: bool,
    /// Print Markdown: the runbook's whole classifier section, or one class's section with CLASS
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
    /// Print JSON: the class (or with --list, every class) with its meaning, causes, repair steps and retry policy
    #[arg(long)]
    json: bool,
}

/// A class's catalogue entry as JSON; `label` is the class's own (e.g. unknown_exit_1).
fn info_json(label: &str, class: Class) -> serde_json::Value {
    let i = class.info();
    serde_json::json!({
        "class": label,
        "meaning": i.meaning,
        "causes": i.causes,
        "repair": i.repair,
        "retry": i.retry,
        "stops_route": class.stops_route(),
    })
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn emit(text: &str) -> Result<i32, Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Failure::new(
            exit_status::IO_ERROR,
            format!("cannot write to stdout: {e}"),
        )),
    }
}

pub fn run(args: ExplainArgs) -> Result<i32, Failure> {
    if args.list && args.json {
        let all: Vec<serde_json::Value> = NAMED_CLASSES
            .iter()
            .map(|c| info_json(&c.label(), *c))
            .chain(std::iter::once(info_json(
                "unknown_exit_N",
                Class::UnknownExit(1),
            )))
            .collect();
        return emit(&format!("{}\n", serde_json::Value::from(all)));
    }
    if args.list {
        let mut text = String::new();
        for class in NAMED_CLASSES {
            text.push_str(&format!("{:<24} {}\n", class.label(), class.info().meaning));
        }
        text.push_str(&format!(
            "{:<24} {}\n",
            "unknown_exit_N",
            Class::UnknownExit(1).info().meaning
        ));
        return emit(&text);
    }
    let Some(label) = args.class else {
        return emit(&runbook::classifier_markdown());
    };
    let class: Class = label.parse().map_err(|e: agentlane::class::UnknownClass| {
        Failure::new(exit_status::USAGE, e.to_string())
    })?;
    if args.json {
        emit(&format!("{}\n", info_json(&label, class)))
    } else if args.markdown {
        emit(&runbook::class_markdown(class))
    } else {
        emit(&runbook::explain_text(class))
    }
}
