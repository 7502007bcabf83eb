use super::*;
use crate::class::Class;
use crate::classify::RuleSet;
use regex::RegexBuilder;
use test_case::test_case;

fn compiles_and_matches(pattern: &str, line: &str) {
    let re = RegexBuilder::new(pattern)
        .multi_line(true)
        .build()
        .unwrap_or_else(|e| panic!("{pattern} does not compile: {e}"));
    let stable = stable_line(line);
    assert!(
        re.is_match(&stable),
        "{pattern} does not match its own line {stable:?}"
    );
}

#[test_case("fatal: upstream gateway rejected the session (code GW-4031)"
    => r"^upstream\s+gateway\s+rejected\s+the\s+session\s+\(code\s+GW-\d+\)"; "numbers in an id keep its letters; the log level is dress")]
#[test_case("request 0190c0de-1234-7abc-8def-0123456789ab failed"
    => r"^request\s+[0-9a-fA-F-]{36}\s+failed"; "uuid")]
#[test_case("cannot open /home/svc/.acme/token.json: permission denied"
    => r"^cannot\s+open\s+\S+\s+permission\s+denied"; "absolute path")]
#[test_case("config at ~/.acme/config.toml is unreadable"
    => r"^config\s+at\s+\S+\s+is\s+unreadable"; "home path")]
#[test_case("session expired at 2026-01-02T03:04:05Z, log in again"
    => r"^session\s+expired\s+at\s+\d{4}-\d{2}-\d{2}(?:[T ][\d:.,]+)?(?:Z|[+-][\d:]+)?,\s+log\s+in\s+again"; "timestamp")]
#[test_case("unknown model 'gpt-9-turbo' for profile \"work\""
    => r#"^unknown\s+model\s+'.*?'\s+for\s+profile\s+".*?""#; "quoted values")]
#[test_case("can't reach the broker after 3 attempts"
    => r"^can't\s+reach\s+the\s+broker\s+after\s+\d+\s+attempts"; "an apostrophe opens no quote")]
#[test_case("object 9f86d081884c7d65 missing; trace 0xdeadbeef"
    => r"^object\s+[0-9a-fA-F]+\s+missing;\s+trace\s+0x[0-9a-fA-F]+"; "hex")]
#[test_case("Error: 403 Forbidden from https://api.acme.dev/v1/run?x=1"
    => r"^403\s+Forbidden\s+from\s+\S+"; "an HTTP status stays, a URL goes")]
#[test_case("request req_011CT8Wq9xYzAbC rejected"
    => r"^request\s+[\w-]+\s+rejected"; "long id")]
#[test_case("gateway v2.14.1 retired, retry in 2h13m"
    => r"^gateway\s+v\d+(?:\.\d+)+\s+retired,\s+retry\s+in\s+(?:[\d.]+(?:ms|[smhd]))+"; "version and duration")]
#[test_case("took 1.5 seconds over HTTP/1.1 and/or x86_64"
    => r"^took\s+[\d.,]+\s+seconds\s+over\s+HTTP/[\d.,]+\s+and/or\s+x86_64"; "words with slashes and digits stay, their numbers go")]
#[test_case("\x1b[31m■ 12:00:01 [ERROR] vault sealed\x1b[0m"
    => r"^vault\s+sealed"; "colours and prefixes are dress")]
fn generalises(line: &str) -> String {
    let pattern = generalize(line);
    compiles_and_matches(&pattern, line);
    pattern
}

#[test]
fn a_clipped_line_loses_its_ellipsis() {
    let long = format!("{}…", "x".repeat(crate::classify::rules::EVIDENCE_MAX));
    let pattern = generalize(&long);
    assert!(!pattern.contains('…'), "{pattern}");
    compiles_and_matches(&pattern, &long);
}

#[test_case("fatal: upstream gateway rejected the session (code GW-4031)" => "upstream_gateway_rejected_the_session")]
#[test_case("Error: 42" => "failure")]
#[test_case("cannot open /home/x/y: permission denied" => "cannot_open_permission_denied")]
fn slugs(line: &str) -> String {
    slug(line)
}

#[test]
fn rule_ids_are_unique_and_tidy() {
    let id = rule_id("/usr/local/bin/My-CLI", "vault sealed", &|_| false);
    assert_eq!(id, "user.my_cli_vault_sealed");
    let taken = |s: &str| s == "user.sh_vault_sealed" || s == "user.sh_vault_sealed_2";
    assert_eq!(
        rule_id("sh", "vault sealed", &taken),
        "user.sh_vault_sealed_3"
    );
}

fn dispatch(stdout: &str, stderr: &str, exit: i32) -> Replayable {
    let report = serde_json::json!({
        "dispatch_id": "d1",
        "program": "sh",
        "cwd": "/tmp",
        "exit_code": exit,
        "signal": null,
        "timed_out": false,
        "interrupted_by": null,
        "stdout_tail": stdout,
        "stderr_tail": stderr,
        "stdout_bytes": stdout.len(),
        "stderr_bytes": stderr.len(),
        "classifier": format!("unknown_exit_{exit}"),
        "rule": "fact.unknown_exit",
        "evidence": stderr.lines().last().or(stdout.lines().last()),
    });
    Replayable::from_report(Some(&report)).unwrap()
}

#[test]
fn a_suggestion_names_the_stream_the_exit_code_and_its_source_and_matches() {
    let d = dispatch(
        "working\n",
        "fatal: upstream gateway rejected the session (code GW-4031)\n",
        3,
    );
    let s = suggest(&d, Some(Class::NetworkUnavailable), None, &|_| false).unwrap();
    assert_eq!(s.class_from, ClassFrom::Given);
    assert_eq!(s.rule.stream.as_deref(), Some("stderr"));
    assert_eq!(s.rule.exit_code, Some(3));
    assert_eq!(s.rule.source.as_deref(), Some("dispatch d1"));
    let block = s.rule.to_toml();
    assert!(
        block.contains("id = \"user.sh_upstream_gateway_rejected_the_session\""),
        "{block}"
    );
    let alone = s.rule.compile().unwrap();
    assert!(matches_dispatch(&alone, &d));
    // With it on top of the built-ins, the dispatch is named by it.
    let after = RuleSet::builtin().with_document("<rule>", &block).unwrap();
    let r = replay(std::slice::from_ref(&d), RuleSet::builtin(), &after);
    assert_eq!(r.replayed, 1);
    assert_eq!(r.changes.len(), 1, "{r:?}");
    assert_eq!(r.changes[0].after_class, "network_unavailable");
    assert_eq!(r.changes[0].after_layer, "user");
    assert_eq!(r.changes[0].before_class, "unknown_exit_3");
    assert_eq!(r.drifted, 0);
}

#[test]
fn a_line_on_both_streams_names_no_stream_and_exit_one_is_left_out() {
    let d = dispatch("vault sealed\n", "vault sealed\n", 1);
    let s = suggest(&d, Some(Class::TransientIo), None, &|_| false).unwrap();
    assert_eq!(s.rule.stream, None);
    assert_eq!(s.rule.exit_code, None);
    assert!(!s.rule.to_toml().contains("exit_codes"));
}

#[test]
fn without_a_class_the_generic_layer_suggests_one_or_asks() {
    let d = dispatch("", "upstream said: getaddrinfo ENOTFOUND api.acme.dev\n", 1);
    let s = suggest(&d, None, None, &|_| false).unwrap();
    assert_eq!(s.rule.class, "network_unavailable");
    assert!(matches!(s.class_from, ClassFrom::Generic { .. }));
    let d = dispatch("", "vault sealed\n", 1);
    assert!(matches!(
        suggest(&d, None, None, &|_| false),
        Err(SuggestError::NoClass { .. })
    ));
    let d = dispatch("", "", 1);
    assert!(matches!(
        suggest(&d, Some(Class::TransientIo), None, &|_| false),
        Err(SuggestError::NoEvidence(_))
    ));
}

#[test]
fn an_unrelated_ok_dispatch_does_not_change() {
    let ok = dispatch("all done\n", "", 0);
    let block = RuleSpec {
        id: "user.x".into(),
        class: "transient_io".into(),
        stream: None,
        pattern: "^vault".into(),
        exit_code: None,
        hint: None,
        source: None,
        evidence: None,
    }
    .to_toml();
    let after = RuleSet::builtin().with_document("<rule>", &block).unwrap();
    assert!(replay(&[ok], RuleSet::builtin(), &after).changes.is_empty());
}

#[test]
fn refusals_carry_positions() {
    let bad = RuleSpec {
        id: "user.x".into(),
        class: "transient_io".into(),
        stream: None,
        pattern: "vault (sealed".into(),
        exit_code: None,
        hint: None,
        source: None,
        evidence: None,
    };
    let e = bad.compile().unwrap_err();
    assert!(e.to_string().contains("invalid pattern"), "{e}");
    assert_eq!(e.line, 4, "{e}");
}

#[test]
fn patterns_with_quotes_stay_valid_toml() {
    let spec = RuleSpec {
        id: "user.q".into(),
        class: "transient_io".into(),
        stream: Some("stderr".into()),
        pattern: r#"can't "open" '.*?'\s+now"#.into(),
        exit_code: Some(2),
        hint: Some("say \"hi\"".into()),
        source: Some("dispatch x".into()),
        evidence: Some("line\nwith a newline".into()),
    };
    let set = spec.compile().unwrap();
    assert_eq!(
        set.rules()[0].pattern.as_ref().unwrap().source(),
        spec.pattern
    );
}

#[test]
fn appending_adds_a_header_to_a_new_file_and_keeps_the_old_text() {
    let block = "[[rule]]\nid = \"a\"\nclass = \"transient_io\"\npattern = 'x'\n";
    let fresh = appended(None, block);
    assert!(fresh.starts_with(HEADER));
    assert!(fresh.ends_with(block));
    let old = "[[rule]]\nid = \"b\"\nclass = \"transient_io\"\npattern = 'y'";
    let both = appended(Some(old), block);
    assert!(both.starts_with(old));
    assert_eq!(rule_ids(&both), vec!["b".to_string(), "a".to_string()]);
    RuleSet::builtin().with_document("f", &both).unwrap();
}

#[test]
fn refused_and_interrupted_dispatches_are_not_replayed() {
    let refused = serde_json::json!({"dispatch_id": "r", "exit_code": null, "signal": null, "timed_out": false});
    assert_eq!(
        Replayable::from_report(Some(&refused)),
        Err(Skip::NotLaunched)
    );
    let interrupted = serde_json::json!({"dispatch_id": "i", "exit_code": null, "signal": 15, "timed_out": false, "interrupted_by": 15});
    assert_eq!(
        Replayable::from_report(Some(&interrupted)),
        Err(Skip::Interrupted)
    );
    assert_eq!(Replayable::from_report(None), Err(Skip::NoReport));
}

#[test]
fn a_line_from_a_json_error_event_gets_a_json_rule_that_matches() {
    let event = r#"{"type":"error","message":"vault sealed by operator 42"}"#;
    let mut d = dispatch(&format!("{event}\n"), "", 2);
    d.evidence = Some("vault sealed by operator 42".into());
    let s = suggest(&d, Some(Class::TransientIo), None, &|_| false).unwrap();
    assert_eq!(s.rule.stream.as_deref(), Some("json"), "{:?}", s.rule);
    assert!(matches_dispatch(&s.rule.compile().unwrap(), &d));
}

#[test]
fn only_whole_artifacts_stand_in_for_the_tails() {
    let report = serde_json::json!({
        "artifacts": {"stdout": "/a/stdout.log", "stderr": "/a/stderr.log"},
        "stdout_artifact_truncated": true,
        "stderr_artifact_truncated": false,
        "artifact_errors": [],
    });
    assert_eq!(
        whole_artifacts(&report),
        vec![(ArtifactStream::Stderr, "/a/stderr.log".to_string())]
    );
    let failed = serde_json::json!({
        "artifacts": {"stdout": "/a/stdout.log", "stderr": null},
        "artifact_errors": ["stdout: cannot write /a/stdout.log: No space left on device (os error 28)"],
    });
    assert!(whole_artifacts(&failed).is_empty());
}

#[test]
fn a_longer_tail_replaces_the_stored_one_only_when_it_ends_with_it() {
    let report = serde_json::json!({
        "dispatch_id": "d1", "exit_code": 3, "signal": null, "timed_out": false,
        "stdout_tail": "", "stderr_tail": "end\n", "stdout_bytes": 0, "stderr_bytes": 40,
    });
    let mut d = Replayable::from_report(Some(&report)).unwrap();
    d.widen(ArtifactStream::Stderr, b"something else\n", false);
    assert_eq!(
        d.stderr_tail, "end\n",
        "a file that is not this stream's end is ignored"
    );
    d.widen(ArtifactStream::Stderr, b"the real cause\nend\n", false);
    assert_eq!(d.stderr_tail, "the real cause\nend\n");
    assert!(!d.stderr_truncated);
}
