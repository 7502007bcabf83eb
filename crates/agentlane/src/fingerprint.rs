//! The failure fingerprint: one hash for "the same failure".
//!
//! Five jobs failing with the same fingerprint are one incident, not five
//! mysteries. The fingerprint covers the class, the resolved executable, the
//! working-directory root, the route and a normalised error signature in which
//! numbers, ids, timestamps and temporary paths are masked, so two occurrences
//! of one cause hash alike and two different causes do not.

use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

use crate::class::Class;

/// What identifies a failure.
#[derive(Debug, Clone, Copy)]
pub struct FailureFacts<'a> {
    /// The class of the failure.
    pub class: Class,
    /// The resolved executable, when it resolved.
    pub cli_path: Option<&'a Path>,
    /// The repository root when there is one, else the working directory.
    pub cwd_root: Option<&'a Path>,
    /// The route, when the dispatch had one.
    pub route: Option<&'a str>,
    /// The evidence line (already redacted).
    pub evidence: Option<&'a str>,
    /// The host that saw it: part of the fingerprint only for host-local
    /// classes ([`Class::is_host_local`]), so a binary missing on two hosts
    /// is two incidents while one provider's rate limit stays one.
    pub host: Option<&'a str>,
}

#[allow(
    clippy::expect_used,
    reason = "a constant pattern: a unit test compiles every one"
)]
fn masks() -> &'static [(Regex, &'static str)] {
    static MASKS: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    MASKS.get_or_init(|| {
        [
            (
                r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?",
                "<time>",
            ),
            (r"\b\d{1,2}:\d{2}(?::\d{2})?\s*(?i:am|pm)?\b", "<time>"),
            (
                r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
                "<uuid>",
            ),
            (
                r"(?:/tmp|/var/tmp|/private/var/folders|/var/folders)/[^\s'\x22:]*",
                "<tmp>",
            ),
            (r"(?i)\b(?:0x)?[0-9a-f]{12,}\b", "<hex>"),
            (r"\d+", "<n>"),
        ]
        .iter()
        .map(|(p, r)| (Regex::new(p).expect("mask compiles"), *r))
        .collect()
    })
}

/// Masks numbers, ids, timestamps and temp paths, and squeezes whitespace.
pub fn normalize_signature(text: &str) -> String {
    let mut out = text.trim().to_string();
    for (re, replacement) in masks() {
        if re.is_match(&out) {
            out = re.replace_all(&out, *replacement).into_owned();
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The fingerprint of a failure: 16 hex digits, or `None` for [`Class::Ok`].
pub fn failure_fingerprint(facts: &FailureFacts<'_>) -> Option<String> {
    if !facts.class.is_failure() {
        return None;
    }
    let signature = facts.evidence.map(normalize_signature).unwrap_or_default();
    let mut hasher = blake3::Hasher::new();
    for part in [
        facts.class.label().as_str(),
        &facts
            .cli_path
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        &facts
            .cwd_root
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        facts.route.unwrap_or(""),
        &signature,
        if facts.class.is_host_local() {
            facts.host.unwrap_or("")
        } else {
            ""
        },
    ] {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    Some(hasher.finalize().to_hex()[..16].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test_case("Error: 429 at 2026-11-25T12:04:10Z", "Error: <n> at <time>")]
    #[test_case(
        "request 3f2a1c9e-1111-4222-8333-444455556666 failed",
        "request <uuid> failed"
    )]
    #[test_case(
        "cannot write /tmp/agentlane-x91/out.txt: denied",
        "cannot write <tmp>: denied"
    )]
    #[test_case("resets 3pm (Europe/Berlin)", "resets <n>pm (Europe/Berlin)")]
    #[test_case("trace  deadbeefcafebabe0011   here", "trace <hex> here")]
    fn normalizes(input: &str, expected: &str) {
        assert_eq!(normalize_signature(input), expected);
    }

    fn facts<'a>(class: Class, evidence: &'a str, route: Option<&'a str>) -> FailureFacts<'a> {
        FailureFacts {
            class,
            cli_path: Some(Path::new("/usr/local/bin/codex")),
            cwd_root: Some(Path::new("/srv/repo")),
            route,
            evidence: Some(evidence),
            host: Some("build-1"),
        }
    }

    #[test_case(Class::CliMissing, false; "a missing binary is each host's own incident")]
    #[test_case(Class::AuthUnavailable, false; "missing credentials are each host's own")]
    #[test_case(Class::InterpreterMissing, false; "a missing node is each host's own")]
    #[test_case(Class::RateLimited, true; "one provider's rate limit is one incident across hosts")]
    #[test_case(Class::QuotaExhausted, true; "one account's quota is one incident across hosts")]
    #[test_case(Class::PayloadInvalid, true; "a bad payload is the producer's, wherever it ran")]
    fn the_host_splits_a_fingerprint_only_for_host_local_classes(class: Class, same: bool) {
        let on_a = facts(class, "the same message", Some("review"));
        let on_b = FailureFacts {
            host: Some("build-2"),
            ..on_a
        };
        assert_eq!(
            failure_fingerprint(&on_a) == failure_fingerprint(&on_b),
            same
        );
    }

    #[test]
    fn same_cause_with_different_numbers_is_one_fingerprint() {
        let a = failure_fingerprint(&facts(Class::RateLimited, "429 retry in 12s (req 1)", None));
        let b = failure_fingerprint(&facts(Class::RateLimited, "429 retry in 30s (req 2)", None));
        assert_eq!(a, b);
    }

    #[test]
    fn different_class_route_or_message_differs() {
        let base = failure_fingerprint(&facts(Class::RateLimited, "429", None));
        assert_ne!(
            base,
            failure_fingerprint(&facts(Class::TransientIo, "429", None))
        );
        assert_ne!(
            base,
            failure_fingerprint(&facts(Class::RateLimited, "429", Some("review")))
        );
        assert_ne!(
            base,
            failure_fingerprint(&facts(Class::RateLimited, "quota", None))
        );
    }

    #[test]
    fn success_has_no_fingerprint() {
        assert_eq!(failure_fingerprint(&facts(Class::Ok, "", None)), None);
    }
}
