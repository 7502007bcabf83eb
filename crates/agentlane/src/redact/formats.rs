//! Layer 2: known token formats, from the table in `families.rs`.
//!
//! One case-sensitive Aho-Corasick pass over the input finds the literal
//! anchors (prefixes, or literals inside a token); only at an anchor does a
//! family's regex run, anchored there (prefix families) or over a small window
//! around it (inside-literal families). A prefix must start a word: `sk-` in
//! `task-force-…` is not a key.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, Input, MatchKind};
use regex::bytes::Regex;

use super::families::{Family, Find, FAMILIES};

/// How far before an inside literal a token may start.
const WINDOW_BEFORE: usize = 64;
/// How far after an inside literal a token may end.
const WINDOW_AFTER: usize = 4096;

/// Literal heads per searcher: Aho-Corasick's SIMD (Teddy) searcher takes at
/// most 64 literals, so the heads are split into groups that each keep it.
const GROUP: usize = 48;
/// Bytes of an anchor used as its head (all of it: a short head such as `key`
/// hits ordinary text far more often than `key-`).
const HEAD: usize = 64;
/// No family's token is shorter than this (prefix included).
const MIN_TOKEN: usize = 16;

struct Group {
    heads: AhoCorasick,
    /// Per head: the families to try there, longest anchor first.
    candidates: Vec<Vec<usize>>,
}

struct Compiled {
    groups: Vec<Group>,
    /// Per family: its compiled regex (`None` for context-only families or a
    /// pattern that failed to compile, which a unit test forbids).
    regexes: Vec<Option<Regex>>,
    /// Families with no literal, run over the whole input.
    scans: Vec<usize>,
}

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| compile(FAMILIES))
}

fn anchor_of(family: &Family) -> Option<&'static str> {
    match family.find {
        Find::Prefix(p, _) | Find::Inside(p, _) => Some(p),
        Find::Scan(_) | Find::Context(_) => None,
    }
}

/// The regex of one family: anchored at the prefix, or the whole token.
pub(super) fn pattern(family: &Family) -> Option<String> {
    match family.find {
        // `(?-u)`: ASCII classes and word boundaries, which the lazy DFA runs;
        // a Unicode `\b` would force a much slower engine.
        Find::Prefix(p, body) => Some(format!("(?-u)^(?:{}{})", regex::escape(p), body)),
        Find::Inside(_, re) | Find::Scan(re) => Some(format!("(?-u){re}")),
        Find::Context(_) => None,
    }
}

fn compile(families: &[Family]) -> Compiled {
    let mut heads: Vec<&'static str> = families
        .iter()
        .filter_map(anchor_of)
        .map(|a| a.get(..HEAD).unwrap_or(a))
        .collect();
    heads.sort_unstable();
    heads.dedup();
    let groups = heads
        .chunks(GROUP)
        .filter_map(|chunk| {
            let candidates = chunk
                .iter()
                .map(|h| {
                    let mut c: Vec<usize> = families
                        .iter()
                        .enumerate()
                        .filter(|(_, f)| anchor_of(f).is_some_and(|a| a.starts_with(h)))
                        .map(|(i, _)| i)
                        .collect();
                    c.sort_by_key(|&i| {
                        std::cmp::Reverse(anchor_of(&families[i]).map_or(0, str::len))
                    });
                    c
                })
                .collect();
            // Leftmost-first, case-sensitive literals keep the SIMD searchers.
            let heads = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostFirst)
                .build(chunk)
                .ok()?;
            Some(Group { heads, candidates })
        })
        .collect();
    let regexes = families
        .iter()
        .map(|f| pattern(f).and_then(|p| Regex::new(&p).ok()))
        .collect();
    let scans = families
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.find, Find::Scan(_)))
        .map(|(i, _)| i)
        .collect();
    Compiled {
        groups,
        regexes,
        scans,
    }
}

/// How many bytes from `at` could belong to a token (no space, quote or bracket).
fn token_run(input: &[u8], at: usize, enough: usize) -> usize {
    input[at..]
        .iter()
        .take(enough)
        .take_while(|&&b| b > b' ' && b < 0x7f && !b"\"'`,;<>()[]{}\\".contains(&b))
        .count()
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// True when a token may start at `at`: at the input's start, after a
/// non-word byte, or right after a JSON/C escape such as `\n`.
fn starts_word(input: &[u8], at: usize) -> bool {
    match at.checked_sub(1).map(|i| input[i]) {
        None => true,
        Some(b) if !is_word(b) => true,
        Some(b'n' | b't' | b'r') => at >= 2 && input[at - 2] == b'\\',
        Some(_) => false,
    }
}

fn label(family: &Family) -> Cow<'static, str> {
    Cow::Owned(format!("[REDACTED:{}]", family.id))
}

/// Appends the spans of tokens of a known format.
pub(super) fn find(input: &[u8], spans: &mut Vec<(Range<usize>, Cow<'static, str>)>) {
    let c = compiled();
    for group in &c.groups {
        find_group(c, group, input, spans);
    }
    for &i in &c.scans {
        if let Some(re) = &c.regexes[i] {
            for t in re.find_iter(input) {
                spans.push((t.range(), label(&FAMILIES[i])));
            }
        }
    }
}

fn find_group(
    c: &Compiled,
    group: &Group,
    input: &[u8],
    spans: &mut Vec<(Range<usize>, Cow<'static, str>)>,
) {
    let mut at = 0;
    while at < input.len() {
        let Some(m) = group.heads.find(Input::new(input).span(at..input.len())) else {
            break;
        };
        at = m.start() + 1;
        let p = m.start();
        let mut end = None;
        for &i in &group.candidates[m.pattern().as_usize()] {
            let family = &FAMILIES[i];
            let Some(re) = &c.regexes[i] else { continue };
            match family.find {
                Find::Prefix(prefix, _) => {
                    if !input[p..].starts_with(prefix.as_bytes())
                        || !starts_word(input, p)
                        || token_run(input, p, MIN_TOKEN) < MIN_TOKEN
                    {
                        continue;
                    }
                    let stop = input.len().min(p + 8192);
                    if let Some(t) = re.find(&input[p..stop]) {
                        end = Some(p + t.end());
                        spans.push((p..p + t.end(), label(family)));
                        break;
                    }
                }
                Find::Inside(anchor, _) => {
                    if !input[p..].starts_with(anchor.as_bytes()) {
                        continue;
                    }
                    let anchor_end = p + anchor.len();
                    let lo = p.saturating_sub(WINDOW_BEFORE);
                    let hi = input.len().min(anchor_end + WINDOW_AFTER);
                    let hit = re
                        .find_iter(&input[lo..hi])
                        .map(|t| lo + t.start()..lo + t.end())
                        .find(|r| r.start <= p && r.end >= anchor_end);
                    if let Some(range) = hit {
                        end = Some(range.end);
                        spans.push((range, label(family)));
                        break;
                    }
                }
                Find::Scan(_) | Find::Context(_) => {}
            }
        }
        if let Some(e) = end {
            at = at.max(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    fn redacted(input: &str) -> Vec<(String, String)> {
        let mut spans = Vec::new();
        find(input.as_bytes(), &mut spans);
        spans
            .into_iter()
            .map(|(r, l)| (input[r].to_string(), l.into_owned()))
            .collect()
    }

    #[test]
    fn the_table_has_at_least_100_families_and_every_pattern_compiles() {
        assert!(FAMILIES.len() >= 100, "{} families", FAMILIES.len());
        let c = compiled();
        for (f, re) in FAMILIES.iter().zip(&c.regexes) {
            if !matches!(f.find, Find::Context(_)) {
                assert!(re.is_some(), "{}: {:?} does not compile", f.id, pattern(f));
            }
        }
        let mut ids: Vec<&str> = FAMILIES.iter().map(|f| f.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "family ids are unique");
    }

    #[test]
    fn every_row_documents_its_format_and_the_docs_list_it() {
        let docs = include_str!("../../../../docs/redaction.md");
        for f in FAMILIES {
            for (what, v) in [
                ("provider", f.provider),
                ("charset", f.charset),
                ("length", f.length),
                ("checksum", f.checksum),
                ("source", f.source),
            ] {
                assert!(!v.trim().is_empty(), "{}: empty {what}", f.id);
            }
            if let Find::Context(names) = f.find {
                assert!(
                    !names.is_empty(),
                    "{}: a context family names its context",
                    f.id
                );
            }
            assert!(
                docs.contains(&format!("`{}`", f.id)),
                "docs/redaction.md lacks {}",
                f.id
            );
        }
    }

    #[test_case("gsk_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789aBcDeFgHiJkLmN", "groq")]
    #[test_case(
        "sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "openrouter"
    )]
    #[test_case("sk-ant-api03-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaAA", "anthropic")]
    #[test_case(
        "dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "digitalocean-pat"
    )]
    #[test_case("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1", "telegram-bot")]
    #[test_case("abc8Q~abcdefghijklmnopqrstuvwxyz0123456", "azure-ad-client-secret")]
    #[test_case("abcdefghijklmn.atlasv1.abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnop", "terraform-cloud")]
    fn a_documented_shape_is_found_whole_with_its_family(token: &str, family: &str) {
        let found = redacted(&format!("value: {token} end"));
        assert!(
            found
                .iter()
                .any(|(t, l)| t == token && l == &format!("[REDACTED:{family}]")),
            "{found:?}"
        );
    }

    #[test_case("task-force-abcdefghijklmnopqrstuvwxyz"; "sk- inside a word")]
    #[test_case("the rk_live_ prefix"; "a bare prefix")]
    #[test_case("ASKABCDEFGHIJKLMNOPQRSTUVWX"; "AKIA-like inside a word")]
    #[test_case("see secret_key_base in config"; "notion prefix on an identifier")]
    fn ordinary_text_is_not_a_token(input: &str) {
        assert_eq!(redacted(input), vec![]);
    }

    #[test]
    fn a_token_right_after_a_json_escape_is_found() {
        let found =
            redacted(r#"{"log":"line\ngsk_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789aBcDeFgHiJkLmN"}"#);
        assert_eq!(found.len(), 1, "{found:?}");
    }
}
