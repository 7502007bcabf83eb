//! Property tests of the shape layers: no panic and sane spans on any bytes;
//! a generated token inside arbitrary text is always redacted.

use super::find;
use proptest::prelude::*;

fn spans_of(input: &[u8]) -> Vec<(std::ops::Range<usize>, std::borrow::Cow<'static, str>)> {
    let mut spans = Vec::new();
    find(input, &mut spans);
    spans
}

/// Tokens of a few families, built from their documented formats.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9]{52}".prop_map(|s| format!("gsk_{s}")),
        "[a-f0-9]{64}".prop_map(|s| format!("dop_v1_{s}")),
        "[A-Za-z0-9]{36}".prop_map(|s| format!("ghp_{s}")),
        "[A-Za-z0-9_-]{28}".prop_map(|s| format!("GOCSPX-{s}")),
        "[A-Za-z0-9]{99}".prop_map(|s| format!("sk_live_{s}")),
        "[a-f0-9]{32}".prop_map(|s| format!("SK{s}")),
        "[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}".prop_map(|s| format!("SG.{s}")),
        "[A-Za-z0-9]{40}".prop_map(|s| format!("password={s}")),
        "[A-Za-z0-9]{16}".prop_map(|s| format!("redis://default:{s}@cache:6379")),
    ]
}

proptest! {
    #[test]
    fn find_never_panics_and_spans_are_in_bounds(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for (range, label) in spans_of(&input) {
            prop_assert!(range.start < range.end, "empty span {range:?}");
            prop_assert!(range.end <= input.len());
            prop_assert!(label.starts_with("[REDACTED"));
        }
    }

    #[test]
    fn find_never_panics_on_text_made_of_prefixes(parts in proptest::collection::vec(
        prop_oneof![Just("sk-"), Just("gsk_"), Just("-----BEGIN PRIVATE KEY-----"), Just("://a:b@"),
                    Just("password="), Just("\\n"), Just("\""), Just(".atlasv1."), Just("Q~"), Just(":AA"),
                    Just("eyJ"), Just("\n"), Just(" "), Just("a1"), Just("=")], 0..64)) {
        let input = parts.concat();
        for (range, _) in spans_of(input.as_bytes()) {
            prop_assert!(range.start < range.end && range.end <= input.len());
        }
    }

    #[test]
    fn a_token_in_arbitrary_text_is_redacted(
        before in "[ -~]{0,40}",
        tok in token(),
        after in "[ -~]{0,40}",
        sep in prop_oneof![Just(" "), Just("\n"), Just("\t"), Just(" \""), Just("\\n")],
    ) {
        let input = format!("{before}{sep}{tok} {after}");
        let spans = spans_of(input.as_bytes());
        let at = before.len() + sep.len();
        let secret = if let Some((_, v)) = tok.split_once('=') { at + tok.len() - v.len()..at + tok.len() }
            else if let Some(i) = tok.find("default:") { at + i + 8..at + i + 24 }
            else { at..at + tok.len() };
        // Every byte of the secret is under some span.
        for i in secret.clone() {
            prop_assert!(spans.iter().any(|(r, _)| r.contains(&i)), "byte {i} of {input:?} left: {spans:?}");
        }
    }
}
