//! Layers 2 and 3 of redaction: known token formats and context rules.
//!
//! Pure: [`find`] reports the spans of `input` that hold a secret recognised
//! by its shape, whatever variable (if any) it came from.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::bytes::Regex;

/// Appends the spans of `input` that hold a token shape, each with its replacement.
pub(super) fn find(input: &[u8], spans: &mut Vec<(Range<usize>, Cow<'static, str>)>) {
    if token_prefixes().is_match(input) {
        for m in token_shapes().find_iter(input) {
            spans.push((m.range(), Cow::Borrowed("[REDACTED]")));
        }
    }
}

/// Literal starts of the token shapes: a cheap scan that decides whether the
/// (costly to compile) shape regex needs to run at all.
fn token_prefixes() -> &'static AhoCorasick {
    static PREFIXES: OnceLock<AhoCorasick> = OnceLock::new();
    PREFIXES.get_or_init(|| {
        // Leftmost-first, case-sensitive literals: that is what enables the
        // SIMD (Teddy) searcher; a standard or case-insensitive automaton
        // scans bulk output byte by byte, ~10x slower.
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build([
                "sk-",
                "ghp_",
                "gho_",
                "ghu_",
                "ghs_",
                "ghr_",
                "github_pat_",
                "AKIA",
                "ASIA",
                "AIza",
                "xoxa-",
                "xoxb-",
                "xoxp-",
                "xoxo-",
                "xoxs-",
                "xoxr-",
                "xoxe-",
                "eyJ",
                "Bearer",
                "bearer",
                "BEARER",
            ])
            .expect("token prefixes are plain literals")
    })
}

fn token_shapes() -> &'static Regex {
    static SHAPES: OnceLock<Regex> = OnceLock::new();
    SHAPES.get_or_init(|| {
        let shapes = [
            r"sk-[A-Za-z0-9_\-]{16,512}",
            r"gh[pousr]_[A-Za-z0-9]{20,255}",
            r"github_pat_[A-Za-z0-9_]{20,255}",
            r"(?:AKIA|ASIA)[0-9A-Z]{16}",
            r"AIza[0-9A-Za-z_\-]{30,64}",
            r"xox[abposre]-[A-Za-z0-9\-]{10,255}",
            r"eyJ[A-Za-z0-9_\-]{8,2048}\.eyJ[A-Za-z0-9_\-]{8,4096}\.[A-Za-z0-9_\-]{8,2048}",
        ];
        let mut pattern = String::from(r"(?-u:\b)(?:");
        pattern.push_str(&shapes.join("|"));
        pattern.push_str(r")|(?i:bearer)[ \t]+[A-Za-z0-9._~+/\-]{8,2048}=*");
        Regex::new(&pattern).expect("token shapes compile")
    })
}
