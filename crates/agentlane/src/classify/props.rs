//! Property tests: the classifier and the rules parser never panic.
//!
//! The classifier's contract (rules.rs `applies`, builtin_rules.toml's
//! header): a run that exited 0 within its timeout is `ok` unless a rule that
//! lists exit code 0 itself matched (CLIs such as Qwen Code report some
//! failures with exit 0); a non-zero exit is never `ok`.

use proptest::prelude::*;

use super::{classify, HintContext, Observed, RuleSet};
use crate::class::Class;

/// Lines agent CLIs really print, failures and answers, JSON and text, so
/// that generated tails reach the rules and not only the facts.
const LINES: &[&str] = &[
    "Error: 429 Too Many Requests",
    "rate limit exceeded, retry after 30s",
    "Invalid API key · Please run /login",
    "ERROR: You've hit your usage limit for today",
    "{\"type\":\"error\",\"message\":\"You've hit your usage limit for today\"}",
    "{\"type\":\"result\",\"is_error\":false,\"result\":\"[API Error: 401 invalid api key]\"}",
    "{\"type\":\"turn.failed\",\"error\":{\"message\":\"Quota exceeded. Check your plan and billing details\"}}",
    "getaddrinfo ENOTFOUND api.openai.com",
    "Permission denied",
    "command not found",
    "ok",
    "The answer is 42.",
    "I fixed the rate limit handling in src/retry.rs.",
    "",
    "{",
    "\u{1F600} é",
];

fn tail() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        prop::collection::vec(prop::sample::select(LINES), 0..8)
            .prop_map(|l| l.join("\n").into_bytes()),
    ]
}

fn run(
    exit_code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
    stdout: &[u8],
    stderr: &[u8],
    truncated: (bool, bool),
) -> super::Classification {
    let observed = Observed {
        exit_code,
        signal,
        timed_out,
        stdout_tail: stdout,
        stderr_tail: stderr,
        stdout_truncated: truncated.0,
        stderr_truncated: truncated.1,
    };
    classify(&observed, RuleSet::builtin, &HintContext::default())
}

/// Ids of the built-in rules that may apply to an exit 0.
fn exit_zero_rules() -> Vec<String> {
    RuleSet::builtin()
        .rules()
        .iter()
        .filter(|r| r.exit_codes.as_ref().is_some_and(|c| c.contains(&0)))
        .map(|r| r.id.clone())
        .collect()
}

/// Rule-file fragments, valid and not.
const RULE_FRAGMENTS: &[&str] = &[
    "[[rule]]\n",
    "id = \"my.rule\"\n",
    "id = \"claude.not_logged_in\"\n",
    "class = \"rate_limited\"\n",
    "class = \"no_such_class\"\n",
    "stream = \"stderr\"\n",
    "stream = \"sideways\"\n",
    "pattern = '^Error: (\\d+)'\n",
    "pattern = '(unclosed'\n",
    "pattern = '[z-a]'\n",
    "exit_codes = [0, 1]\n",
    "signals = [9]\n",
    "order = -5\n",
    "hint = \"wait {retry_after} s for {program}\"\n",
    "disabled = true\n",
    "unknown = 1\n",
    "\"",
    "'",
    "=",
    "[",
    "]",
    "\n",
    " ",
    "é",
    "#",
    "{",
    "}",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_observation_gets_a_class_without_panicking(
        exit_code in prop::option::of(any::<i32>()),
        signal in prop::option::of(1..65i32),
        timed_out in any::<bool>(),
        stdout in tail(),
        stderr in tail(),
        truncated in any::<(bool, bool)>(),
    ) {
        let c = run(exit_code, signal, timed_out, &stdout, &stderr, truncated);
        prop_assert!(!c.class.label().is_empty());
        prop_assert!(!c.rule.is_empty());
        prop_assert!(!c.repair_hint.trim().is_empty(), "no hint for {:?}", c);
        if let Some(e) = &c.evidence {
            prop_assert!(e.chars().count() <= super::rules::EVIDENCE_MAX + 1, "{}", e);
        }
    }

    #[test]
    fn an_exit_zero_is_ok_unless_a_rule_for_exit_zero_matched_or_the_cli_said_it_failed(
        stdout in tail(),
        stderr in tail(),
        truncated in any::<(bool, bool)>(),
    ) {
        let c = run(Some(0), None, false, &stdout, &stderr, truncated);
        if c.class != Class::Ok {
            let text = super::structured::StreamText::split(&stdout, truncated.0, &stderr, truncated.1);
            prop_assert!(
                exit_zero_rules().contains(&c.rule) || super::exit_zero_failure(&text).is_some(),
                "exit 0 classified {} by {} (not a rule for exit 0, and no failure statement)",
                c.class.label(),
                c.rule
            );
        }
    }

    #[test]
    fn an_exit_zero_with_a_silent_stderr_and_plain_answers_is_ok(
        answer in prop::collection::vec("[A-Za-z0-9 ,.!?']{0,80}", 0..8),
    ) {
        // Prose on stdout (the agent's answer) is never evidence of failure.
        let stdout = answer.join("\n");
        let c = run(Some(0), None, false, stdout.as_bytes(), b"", (false, false));
        prop_assert_eq!(c.class, Class::Ok, "rule {}", c.rule);
    }

    #[test]
    fn a_non_zero_exit_is_never_ok(
        code in any::<i32>().prop_filter("non-zero", |c| *c != 0),
        timed_out in any::<bool>(),
        stdout in tail(),
        stderr in tail(),
    ) {
        let c = run(Some(code), None, timed_out, &stdout, &stderr, (false, false));
        prop_assert_ne!(c.class, Class::Ok, "rule {}", c.rule);
    }

    #[test]
    fn arbitrary_rule_files_never_panic(text in any::<String>()) {
        let _ = RuleSet::builtin().with_document("props.toml", &text);
    }

    #[test]
    fn rule_files_built_from_fragments_never_panic_and_errors_point_inside_them(
        parts in prop::collection::vec(prop::sample::select(RULE_FRAGMENTS), 0..30)
    ) {
        let text = parts.concat();
        if let Err(e) = RuleSet::builtin().with_document("props.toml", &text) {
            let lines: Vec<&str> = text.split('\n').collect();
            prop_assert!(e.line >= 1 && e.line <= lines.len(), "{} in {:?}", e, text);
            let width = lines[e.line - 1].chars().count();
            prop_assert!(e.column >= 1 && e.column <= width + 1, "{} in {:?}", e, text);
        }
    }

    /// Every line a running child prints goes through the watchdog's reader:
    /// whatever it is, reading it never panics, and a line that is not a JSON
    /// object is plain text (never an error event the model could fake).
    #[test]
    fn live_lines_never_panic(line in prop_oneof![any::<String>(), prop::sample::select(LINES).prop_map(String::from)]) {
        let kind = super::live::line_kind(&line);
        if !line.trim().starts_with('{') {
            prop_assert_eq!(&kind, &super::live::LineKind::Plain);
        }
        let terminal = super::live::terminal_rules(RuleSet::builtin());
        for origin in [super::live::Origin::Stdout, super::live::Origin::Stderr] {
            let _ = super::live::terminal_match(&terminal, origin, &line, &kind);
        }
    }

    /// Reading a run's account of its work never panics, and a run without a
    /// `result` event is never judged empty by the built-in checks alone.
    #[test]
    fn run_facts_never_panic(stdout in tail(), truncated in any::<bool>()) {
        let facts = super::success::run_facts(&stdout, truncated);
        let broken = super::success::judge(&facts, None, super::success::TreeFacts::default());
        if facts.source != Some("result") {
            prop_assert!(broken.is_none(), "{:?}", broken);
        }
    }
}
