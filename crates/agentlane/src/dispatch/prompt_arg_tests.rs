//! The guard's table, and every built-in profile against the prompts that
//! became flags on main (docs/agent-clis.md).

use std::path::Path;

use test_case::test_case;

use super::*;
use crate::config::profile::PROFILES;
use crate::dispatch::prepare::substitute;
use crate::dispatch::PromptVia;

fn v(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// The prompts that were taken as flags or special arguments by a real CLI.
const DANGEROUS: &[&str] = &[
    "--version",
    "--yolo",
    "--dangerously-skip-permissions",
    "-c key=value",
    "$(id)",
    "-",
    "--",
];

#[test_case(&["-p", "{prompt}"], PromptSlot::Exposed ; "whole argument after a value-taking short option")]
#[test_case(&["--message", "{prompt}"], PromptSlot::Exposed ; "whole argument after a value-taking long option")]
#[test_case(&["exec", "{prompt}"], PromptSlot::Exposed ; "positional without a separator")]
#[test_case(&["{prompt}"], PromptSlot::Exposed ; "alone")]
#[test_case(&["{prompt}", "--"], PromptSlot::Exposed ; "separator after it")]
#[test_case(&["-p{prompt}"], PromptSlot::Exposed ; "glued to a short option")]
#[test_case(&["-p={prompt}"], PromptSlot::Exposed ; "short option with equals is not literal everywhere")]
#[test_case(&["--{prompt}"], PromptSlot::Exposed ; "glued to dashes")]
#[test_case(&["-p", "--", "{prompt}"], PromptSlot::AfterSeparator ; "after the separator")]
#[test_case(&["run", "--", "x", "{prompt}"], PromptSlot::AfterSeparator ; "anywhere after the separator")]
#[test_case(&["--prompt={prompt}"], PromptSlot::AttachedValue ; "attached long value")]
#[test_case(&["--message=Review: {prompt}"], PromptSlot::AttachedValue ; "attached long value with a prefix")]
#[test_case(&["note:{prompt}"], PromptSlot::Embedded ; "after a plain prefix")]
fn slots(args: &[&str], want: PromptSlot) {
    assert_eq!(
        prompt_slots(&v(args)),
        vec![(
            args.iter().position(|a| a.contains("{prompt}")).unwrap(),
            want
        )]
    );
}

#[test_case(&["exec"], PromptSlot::Exposed ; "appended without a separator")]
#[test_case(&["exec", "--"], PromptSlot::AfterSeparator ; "appended after a separator")]
#[test_case(&[], PromptSlot::Exposed ; "appended to nothing")]
fn appended_prompt_slots(args: &[&str], want: PromptSlot) {
    assert_eq!(prompt_slots(&v(args)), vec![(args.len(), want)]);
}

#[test_case(&["-p", "{prompt}"], "--version", true ; "version as the value of p")]
#[test_case(&["-p", "{prompt}"], "-c key=value", true ; "a short option with a value")]
#[test_case(&["-p", "{prompt}"], "-", true ; "a lone dash")]
#[test_case(&["-p", "{prompt}"], "--", true ; "a separator as the prompt")]
#[test_case(&["-p", "{prompt}"], "review the diff --stat output", false ; "dashes later in the text")]
#[test_case(&["-p", "{prompt}"], "$(id)", false ; "shell syntax is text: no shell runs")]
#[test_case(&["-p", "{prompt}"], " --version", false ; "a leading space is not an option")]
#[test_case(&["exec"], "--yolo", true ; "appended")]
#[test_case(&["-p", "--", "{prompt}"], "--yolo", false ; "after the separator")]
#[test_case(&["-p", "--", "{prompt}"], "--", false ; "a separator after the separator")]
#[test_case(&["--prompt={prompt}"], "--dangerously-skip-permissions", false ; "attached")]
#[test_case(&["note:{prompt}"], "--version", false ; "embedded")]
#[test_case(&["--prompt={prompt}", "{prompt}"], "--version", true ; "one exposed copy is enough")]
fn refused(args: &[&str], prompt: &str, want: bool) {
    assert_eq!(check_prompt_arg(&v(args), prompt).is_some(), want);
}

#[test]
fn the_refusal_names_the_argument_and_the_fix() {
    let exposed = check_prompt_arg(&v(&["-p", "{prompt}"]), "--version").unwrap();
    assert_eq!(exposed.index, 1);
    let evidence = exposed.evidence("--version");
    assert!(
        evidence.contains("argument 2") && evidence.contains("\"{prompt}\""),
        "{evidence}"
    );
    assert!(ExposedPrompt::HINT.contains("\"--\", \"{prompt}\""));
    assert!(ExposedPrompt::HINT.contains("--prompt={prompt}"));
    assert!(ExposedPrompt::HINT.contains("prompt_via = \"stdin\""));
}

#[test_case(&["-p", "--", "{prompt}"], &["--model", "m"], &["-p", "--model", "m", "--", "{prompt}"] ; "before the separator")]
#[test_case(&["run", "--"], &["--verbose"], &["run", "--verbose", "--"] ; "before a trailing separator")]
#[test_case(&["-p", "{prompt}"], &["--model", "m"], &["-p", "{prompt}", "--model", "m"] ; "appended without one")]
fn options_go_before_the_separator(args: &[&str], extra: &[&str], want: &[&str]) {
    let mut args = v(args);
    insert_options(&mut args, v(extra));
    assert_eq!(args, v(want));
}

/// A profile's invocation as a route builds it with every optional part (a
/// model and JSON events from agentlane.toml, then the verbose arguments the
/// worker adds on a diagnostic retry).
fn full_invocation(p: &crate::config::profile::Profile) -> Vec<String> {
    let text = format!(
        "[routes.r]\nprofile = \"{}\"\nmodel = \"m-1\"\njson = true\n",
        p.name
    );
    let cfg = crate::config::parse(Path::new("agentlane.toml"), &text).unwrap();
    let mut args = cfg.routes["r"].args.clone();
    insert_options(&mut args, p.verbose_args.iter().map(|s| s.to_string()));
    args
}

#[test]
fn every_profile_keeps_each_dangerous_prompt_literal() {
    let file = Path::new("/h/run/d/prompt.txt");
    for p in PROFILES.iter().filter(|p| p.program.is_some()) {
        let template = full_invocation(p);
        for prompt in DANGEROUS {
            let (argv, _) = substitute(&template, Some(prompt), p.prompt_via, file);
            let what = format!("profile {} with prompt {prompt:?}: {argv:?}", p.name);
            match p.prompt_via {
                // Not in the arguments at all: the prompt changes nothing in them.
                PromptVia::Stdin | PromptVia::File => {
                    let (plain, _) = substitute(&template, Some("hello"), p.prompt_via, file);
                    assert_eq!(argv, plain, "{what}");
                }
                PromptVia::Arg => {
                    assert_eq!(check_prompt_arg(&template, prompt), None, "{what}");
                    // The prompt's argument, found from the template (the prompt
                    // `--` must not be confused with the separator).
                    let at = template.iter().position(|a| a.contains("{prompt}"));
                    let at = at.unwrap_or(template.len());
                    let arg = &argv[at];
                    let literal = if arg == prompt {
                        argv[..at].iter().any(|a| a == "--")
                    } else {
                        arg.starts_with("--") && arg.ends_with(&format!("={prompt}"))
                    };
                    assert!(
                        literal,
                        "{what}: argument {at} ({arg:?}) is not after `--` nor an attached value"
                    );
                    // Nothing the route adds lands after the separator.
                    if let Some(sep) = argv.iter().position(|a| a == "--") {
                        assert_eq!(&argv[sep + 1..], &[prompt.to_string()], "{what}");
                    }
                }
            }
        }
    }
}
