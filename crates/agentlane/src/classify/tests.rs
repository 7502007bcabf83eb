//! Table-driven classifier tests: one row per real message (builtin_cases.toml)
//! plus the ordering and override behaviour of rule sets.

use serde::Deserialize;

use super::*;
use crate::class::Class;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    stdout: String,
    #[serde(default)]
    stderr: String,
    exit_code: Option<i32>,
    signal: Option<i32>,
    #[serde(default)]
    timed_out: bool,
    expect_class: String,
    #[serde(default)]
    expect_rule: String,
    #[serde(default)]
    #[allow(dead_code)]
    source: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Cases {
    case: Vec<Case>,
}

fn run(
    rules: &RuleSet,
    stdout: &str,
    stderr: &str,
    exit_code: Option<i32>,
    signal: Option<i32>,
    timed_out: bool,
) -> Classification {
    let observed = Observed {
        exit_code,
        signal,
        timed_out,
        stdout_tail: stdout.as_bytes(),
        stderr_tail: stderr.as_bytes(),
        stdout_truncated: false,
        stderr_truncated: false,
    };
    classify(&observed, || rules, &HintContext::default())
}

#[test]
fn builtin_rules_classify_every_recorded_message() {
    let cases: Cases =
        toml::from_str(include_str!("builtin_cases.toml")).expect("builtin_cases.toml parses");
    let mut failures = Vec::new();
    for case in &cases.case {
        let got = run(
            RuleSet::builtin(),
            &case.stdout,
            &case.stderr,
            case.exit_code,
            case.signal,
            case.timed_out,
        );
        let rule_ok = case.expect_rule.is_empty() && got.rule.starts_with("fact.")
            || got.rule == case.expect_rule;
        if got.class.label() != case.expect_class || !rule_ok {
            failures.push(format!(
                "{}: expected {} ({}), got {} ({}) evidence {:?}",
                case.name, case.expect_class, case.expect_rule, got.class, got.rule, got.evidence
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.case.len(),
        failures.join("\n")
    );
}

#[test]
fn every_builtin_rule_has_a_case() {
    let cases: Cases = toml::from_str(include_str!("builtin_cases.toml")).unwrap();
    let missing: Vec<&str> = RuleSet::builtin()
        .rules()
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| !cases.case.iter().any(|c| c.expect_rule == *id))
        .collect();
    assert!(missing.is_empty(), "rules without a test case: {missing:?}");
}

const USER_RULES: &str = r#"
[[rule]]
id = "acme.vpn_down"
class = "network_unavailable"
stream = "stderr"
pattern = 'VPN tunnel is down'
order = 10
hint = "bring the VPN up on the worker host (evidence: {evidence})"

[[rule]]
id = "acme.exit_42"
class = "quota_exhausted"
exit_codes = [42]
order = 20
"#;

#[test]
fn user_rules_run_in_order_with_their_hint() {
    let rules = RuleSet::default()
        .with_document("rules.toml", USER_RULES)
        .unwrap();
    let got = run(
        &rules,
        "",
        "boot\nVPN tunnel is down (wg0)\n",
        Some(1),
        None,
        false,
    );
    assert_eq!(got.class, Class::NetworkUnavailable);
    assert_eq!(got.rule, "acme.vpn_down");
    assert_eq!(got.evidence.as_deref(), Some("VPN tunnel is down (wg0)"));
    assert_eq!(
        got.repair_hint,
        "bring the VPN up on the worker host (evidence: VPN tunnel is down (wg0))"
    );
    let by_code = run(&rules, "", "whatever", Some(42), None, false);
    assert_eq!(by_code.class, Class::QuotaExhausted);
}

#[test]
fn a_user_rule_replaces_a_builtin_with_the_same_id_and_can_disable_it() {
    let base = RuleSet::default()
        .with_document(
            "a.toml",
            "[[rule]]\nid = \"x.one\"\nclass = \"rate_limited\"\npattern = 'boom'\n",
        )
        .unwrap();
    let replaced = base
        .with_document(
            "b.toml",
            "[[rule]]\nid = \"x.one\"\nclass = \"transient_io\"\npattern = 'boom'\n",
        )
        .unwrap();
    assert_eq!(
        run(&replaced, "", "boom", Some(1), None, false).class,
        Class::TransientIo
    );
    let disabled = base
        .with_document("c.toml", "[[rule]]\nid = \"x.one\"\ndisabled = true\n")
        .unwrap();
    assert_eq!(
        run(&disabled, "", "boom", Some(1), None, false).class,
        Class::UnknownExit(1)
    );
}

#[test]
fn rules_never_read_a_successful_answer() {
    let rules = RuleSet::default()
        .with_document(
            "r.toml",
            "[[rule]]\nid = \"x.rl\"\nclass = \"rate_limited\"\npattern = '(?i)rate limit'\n",
        )
        .unwrap();
    let got = run(
        &rules,
        "Here is how to handle a rate limit.\n",
        "",
        Some(0),
        None,
        false,
    );
    assert_eq!(got.class, Class::Ok);
}

#[test]
fn an_exit_zero_rule_must_say_so() {
    let rules = RuleSet::default()
        .with_document(
            "r.toml",
            "[[rule]]\nid = \"x.denied\"\nclass = \"sandbox_or_policy_block\"\nstream = \"stderr\"\npattern = 'sandbox denied'\nexit_codes = [0]\n",
        )
        .unwrap();
    assert_eq!(
        run(
            &rules,
            "",
            "exec: sandbox denied write",
            Some(0),
            None,
            false
        )
        .class,
        Class::SandboxOrPolicyBlock
    );
}

#[test]
fn a_timeout_keeps_the_cause_the_tails_name() {
    let rules = RuleSet::default()
        .with_document(
            "r.toml",
            "[[rule]]\nid = \"x.dns\"\nclass = \"network_unavailable\"\npattern = 'ENOTFOUND'\n",
        )
        .unwrap();
    let named = run(
        &rules,
        "",
        "getaddrinfo ENOTFOUND api.example.com\nReconnecting...\n",
        None,
        Some(15),
        true,
    );
    assert_eq!(named.class, Class::NetworkUnavailable);
    let bare = run(&rules, "", "still thinking\n", None, Some(9), true);
    assert_eq!(bare.class, Class::Timeout);
}

#[test]
fn a_foreign_signal_outranks_text() {
    let rules = RuleSet::default()
        .with_document(
            "r.toml",
            "[[rule]]\nid = \"x.dns\"\nclass = \"network_unavailable\"\npattern = 'ENOTFOUND'\n",
        )
        .unwrap();
    let got = run(&rules, "", "ENOTFOUND\n", None, Some(9), false);
    assert_eq!(got.class, Class::KilledBySignal);
    assert!(got.repair_hint.contains("SIGKILL"), "{}", got.repair_hint);
}

#[test]
fn unknown_exit_keeps_the_last_line_as_evidence() {
    let got = run(
        &RuleSet::default(),
        "",
        "starting\nsomething odd happened\n",
        Some(3),
        None,
        false,
    );
    assert_eq!(got.class, Class::UnknownExit(3));
    assert_eq!(got.evidence.as_deref(), Some("something odd happened"));
    assert!(got.repair_hint.contains("something odd happened"));
}

#[test]
fn rules_file_errors_name_line_and_column() {
    let bad_regex = "[[rule]]\nid = \"x\"\nclass = \"rate_limited\"\npattern = 'a(b'\n";
    let err = RuleSet::default()
        .with_document("r.toml", bad_regex)
        .unwrap_err();
    assert_eq!((err.line, err.column), (4, 11), "{err}");
    assert!(
        err.to_string().starts_with("r.toml:4:11: invalid pattern"),
        "{err}"
    );

    let bad_class = "[[rule]]\nid = \"x\"\nclass = \"rate_limitd\"\npattern = 'a'\n";
    let err = RuleSet::default()
        .with_document("r.toml", bad_class)
        .unwrap_err();
    assert_eq!(err.line, 3, "{err}");
    assert!(err.message.contains("rate_limitd"), "{err}");

    let bad_toml = "[[rule]]\nid = \"x\"\nclass = rate_limited\n";
    let err = RuleSet::default()
        .with_document("r.toml", bad_toml)
        .unwrap_err();
    assert_eq!(err.line, 3, "{err}");

    let unknown_key = "[[rule]]\nid = \"x\"\nclass = \"ok\"\npatern = 'a'\n";
    let err = RuleSet::default()
        .with_document("r.toml", unknown_key)
        .unwrap_err();
    assert!(err.message.contains("patern"), "{err}");
}

#[test]
fn every_builtin_pattern_compiles() {
    for rule in RuleSet::builtin().rules() {
        if let Some(p) = &rule.pattern {
            assert!(
                regex::RegexBuilder::new(p.source())
                    .multi_line(true)
                    .build()
                    .is_ok(),
                "rule {} has an invalid pattern",
                rule.id
            );
        }
    }
}

#[test]
fn every_verdict_names_its_layer() {
    let builtin = RuleSet::builtin();
    let cli = run(
        builtin,
        "Not logged in · Please run /login\n",
        "",
        Some(1),
        None,
        false,
    );
    assert_eq!(
        (cli.layer, cli.rule.as_str()),
        (Layer::Cli, "claude.not_logged_in")
    );
    let user = RuleSet::builtin()
        .with_document("rules.toml", USER_RULES)
        .unwrap();
    let by_user = run(&user, "", "VPN tunnel is down\n", Some(1), None, false);
    assert_eq!(by_user.layer, Layer::User);
    let generic = run(
        builtin,
        "",
        "Error: 401 Unauthorized\n",
        Some(1),
        None,
        false,
    );
    assert_eq!(
        (generic.layer, generic.class),
        (Layer::Generic, Class::AuthUnavailable)
    );
    let unknown = run(builtin, "", "something odd\n", Some(3), None, false);
    assert_eq!(
        (unknown.layer, unknown.class),
        (Layer::Unknown, Class::UnknownExit(3))
    );
    let ok = run(builtin, "done\n", "", Some(0), None, false);
    assert_eq!((ok.layer, ok.class), (Layer::Fact, Class::Ok));
}

#[test]
fn a_user_rule_outranks_the_generic_layer() {
    let rules = RuleSet::builtin()
        .with_document(
            "rules.toml",
            "[[rule]]\nid = \"acme.gateway\"\nclass = \"network_unavailable\"\npattern = 'acme gateway'\n",
        )
        .unwrap();
    let got = run(
        &rules,
        "",
        "acme gateway said 401 Unauthorized\n",
        Some(1),
        None,
        false,
    );
    assert_eq!(
        (got.class, got.rule.as_str()),
        (Class::NetworkUnavailable, "acme.gateway")
    );
}

#[test]
fn a_run_that_exited_zero_is_never_judged_by_its_words() {
    for words in [
        "Error: 401 Unauthorized",
        "■ Not logged in · Please run /login",
        "The log says: getaddrinfo ENOTFOUND api.openai.com",
    ] {
        let got = run(RuleSet::builtin(), words, words, Some(0), None, false);
        assert_eq!(got.class, Class::Ok, "{words}");
    }
}

#[test]
fn a_cli_rule_tolerates_prefixes_colours_and_the_other_stream() {
    for (stdout, stderr) in [
        ("", "Not logged in · Please run /login\n"),
        ("\x1b[31m✕ Not logged in · Please run /login\x1b[0m\n", ""),
        (
            "2026-01-01T00:00:00Z ERROR Not logged in · Please run /login\n",
            "",
        ),
    ] {
        let got = run(RuleSet::builtin(), stdout, stderr, Some(1), None, false);
        assert_eq!(got.rule, "claude.not_logged_in", "{stdout:?} {stderr:?}");
        assert_eq!(got.layer, Layer::Cli);
    }
}

#[test]
fn a_foreign_signal_is_a_fact_not_text() {
    let got = run(
        RuleSet::builtin(),
        "",
        "Error: 401 Unauthorized\n",
        None,
        Some(9),
        false,
    );
    assert_eq!((got.class, got.layer), (Class::KilledBySignal, Layer::Fact));
}

#[test]
fn a_cut_stdout_does_not_cost_stderr_its_only_line() {
    let stdout = "tial line of a long answer\nmore output\n".repeat(8);
    let observed = |stdout_truncated, stderr_truncated| Observed {
        exit_code: Some(1),
        signal: None,
        timed_out: false,
        stdout_tail: stdout.as_bytes(),
        stderr_tail: b"Error: 429 Too Many Requests\n",
        stdout_truncated,
        stderr_truncated,
    };
    let c = classify(
        &observed(true, false),
        RuleSet::builtin,
        &HintContext::default(),
    );
    assert_eq!(c.class, Class::RateLimited, "{c:?}");
    // A cut stderr may start mid-line: its first line is not evidence.
    let c = classify(
        &observed(false, true),
        RuleSet::builtin,
        &HintContext::default(),
    );
    assert_eq!(c.class, Class::UnknownExit(1), "{c:?}");
}

/// Found by the `rules` fuzz target: the TOML parser gives a lone `\r` and a
/// NUL in a comment an empty message, and the rules file error said nothing.
#[test]
fn a_rules_file_toml_error_without_a_reason_still_gets_a_message() {
    for text in ["\r", "#\0", "[[rule]]\nid = \"x\"\r"] {
        let err = RuleSet::default()
            .with_document("r.toml", text)
            .unwrap_err();
        assert!(!err.message.trim().is_empty(), "{text:?}: {err:?}");
        assert!(err.line >= 1 && err.column >= 1, "{text:?}: {err:?}");
    }
}
