//! `agentlane explain`: what a class means and how to repair it.

use agentlane::class::{Class, NAMED_CLASSES};
use agentlane::exit_status;
use clap::Args;

use crate::Failure;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The class label, e.g. cli_missing or unknown_exit_1
    #[arg(required_unless_present = "list")]
    class: Option<String>,
    /// List every class label
    #[arg(long)]
    list: bool,
}

/// The text for one class (shared with the runbook).
pub fn render(class: Class) -> String {
    let info = class.info();
    let mut out = format!("{}\n\n{}\n\nUsual causes:\n", class, info.meaning);
    for cause in info.causes {
        out.push_str(&format!("  - {cause}\n"));
    }
    out.push_str("\nRepair:\n");
    for (i, step) in info.repair.iter().enumerate() {
        out.push_str(&format!("  {}. {step}\n", i + 1));
    }
    out.push_str(&format!("\nRetry: {}\n", info.retry));
    out
}

pub fn run(args: ExplainArgs) -> Result<i32, Failure> {
    if args.list {
        for class in NAMED_CLASSES {
            println!("{:<24} {}", class.label(), class.info().meaning);
        }
        println!(
            "{:<24} {}",
            "unknown_exit_N",
            Class::UnknownExit(1).info().meaning
        );
        return Ok(0);
    }
    let label = args.class.unwrap_or_default();
    let class: Class = label.parse().map_err(|e: agentlane::class::UnknownClass| {
        Failure::new(exit_status::USAGE, e.to_string())
    })?;
    print!("{}", render(class));
    Ok(0)
}
