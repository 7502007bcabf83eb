//! An evidence line becomes a pattern: the changing parts (numbers, ids,
//! paths, timestamps, quoted values) become wildcards, the rest stays literal.

use std::sync::OnceLock;

use regex::Regex;

use crate::classify::normalize;

/// One kind of changing text and the regex that stands for it.
struct Variable {
    /// What it matches in the evidence line.
    find: &'static str,
    /// What a match becomes in the pattern (a regex); `None` rejects the
    /// match, whose text is then read by the variables after this one.
    with: fn(&str) -> Option<String>,
}

/// Changing parts of a message, tried left to right (the leftmost match
/// wins; at one position the first in this list).
const VARIABLES: &[Variable] = &[
    // quoted values: the quotes stay, what is between them changes (an
    // apostrophe inside a word opens nothing)
    Variable {
        find: r#"(?:^|\B)"[^"]*""#,
        with: |_| Some(r#"".*?""#.to_string()),
    },
    Variable {
        find: r"(?:^|\B)'[^']*'",
        with: |_| Some(r"'.*?'".to_string()),
    },
    Variable {
        find: r"`[^`]*`",
        with: |_| Some(r"`.*?`".to_string()),
    },
    // URLs
    Variable {
        find: r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'`]+",
        with: |_| Some(r"\S+".to_string()),
    },
    // timestamps (ISO 8601, with or without a time and a zone)
    Variable {
        find: r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b",
        with: |_| Some(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.,]+)?(?:Z|[+-][\d:]+)?".to_string()),
    },
    Variable {
        find: r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b",
        with: |_| Some(r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?".to_string()),
    },
    // UUIDs
    Variable {
        find: r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
        with: |_| Some(r"[0-9a-fA-F-]{36}".to_string()),
    },
    // absolute, home-relative and dot-relative paths (not `HTTP/1.1`, `and/or`)
    Variable {
        find: r"(?:^|\B)(?:~|\.{1,2})?/[^\s'`,;()\[\]{}<>]+",
        with: |_| Some(r"\S+".to_string()),
    },
    // hex: 0x…, and runs of 7+ hex digits with a digit and a letter (hashes, ids)
    Variable {
        find: r"\b0x[0-9a-fA-F]+\b",
        with: |_| Some(r"0x[0-9a-fA-F]+".to_string()),
    },
    Variable {
        find: r"\b[0-9a-fA-F]{7,}\b",
        with: |s| {
            let digit = s.chars().any(|c| c.is_ascii_digit());
            let letter = s.chars().any(|c| c.is_ascii_alphabetic());
            (digit && letter).then(|| r"[0-9a-fA-F]+".to_string())
        },
    },
    // versions
    Variable {
        find: r"\bv\d+(?:\.\d+)+\b",
        with: |_| Some(r"v\d+(?:\.\d+)+".to_string()),
    },
    // long ids of letters and digits (`req_011CT8Wq9xYz`, `chatcmpl-9xYzAb12`);
    // a short one (`GW-4031`) keeps its letters
    Variable {
        find: r"\b[A-Za-z][A-Za-z0-9]*(?:[_-][A-Za-z0-9]+)*\d[A-Za-z0-9_-]*\b",
        with: |s| {
            let mixed = s.chars().any(|c| c.is_ascii_alphabetic());
            (mixed && s.len() >= 12).then(|| r"[\w-]+".to_string())
        },
    },
    // durations (`30s`, `2h13m`, `500ms`)
    Variable {
        find: r"\b(?:\d+(?:\.\d+)?(?:ms|[smhd]))+\b",
        with: |_| Some(r"(?:[\d.]+(?:ms|[smhd]))+".to_string()),
    },
    // an HTTP error status is part of the meaning: kept as it is
    Variable {
        find: r"\b[45]\d\d\b",
        with: |s| Some(regex::escape(s)),
    },
    // any other number
    Variable {
        find: r"\b\d+(?:[.,]\d+)*\b",
        with: |s| {
            Some(if s.contains(['.', ',']) {
                r"[\d.,]+".to_string()
            } else {
                r"\d+".to_string()
            })
        },
    },
];

/// For each `i`, the alternation of `VARIABLES[i..]`.
#[allow(
    clippy::expect_used,
    reason = "constant patterns, compiled by the unit tests"
)]
fn variables_from(i: usize) -> Option<&'static Regex> {
    static RES: OnceLock<Vec<Regex>> = OnceLock::new();
    RES.get_or_init(|| {
        (0..VARIABLES.len())
            .map(|from| {
                let alternation: Vec<String> = VARIABLES[from..]
                    .iter()
                    .map(|v| format!("({})", v.find))
                    .collect();
                Regex::new(&alternation.join("|")).expect("the variable patterns compile")
            })
            .collect()
    })
    .get(i)
}

/// The evidence line as a rule reads it: without the `…` of a clipped line,
/// and with its dress (colours, log prefixes, bullets, escaping) removed —
/// the classifier removes the same dress before it retries a rule.
pub fn stable_line(evidence: &str) -> String {
    let clipped = evidence.chars().count() > crate::classify::rules::EVIDENCE_MAX;
    let line = match evidence.strip_suffix('…') {
        Some(rest) if clipped => rest,
        _ => evidence,
    };
    normalize::line(line)
}

/// Literal text: escaped, each run of blanks `\s+`.
fn push_literal(out: &mut String, text: &str) {
    let mut blank = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !blank {
                out.push_str(r"\s+");
            }
            blank = true;
        } else {
            blank = false;
            if r"\.+*?()|[]{}^$".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
}

/// `text` with the variables from `from` on replaced.
fn render(out: &mut String, text: &str, from: usize) {
    let Some(re) = variables_from(from) else {
        push_literal(out, text);
        return;
    };
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let Some(whole) = caps.get(0) else { continue };
        push_literal(out, &text[last..whole.start()]);
        let which = (1..caps.len())
            .find(|i| caps.get(*i).is_some())
            .unwrap_or(1)
            - 1
            + from;
        match VARIABLES.get(which).and_then(|v| (v.with)(whole.as_str())) {
            Some(wild) => out.push_str(&wild),
            None => render(out, whole.as_str(), which + 1),
        }
        last = whole.end();
    }
    push_literal(out, &text[last..]);
}

/// A regex for an evidence line's stable part: numbers, ids, timestamps,
/// paths, hex, URLs and quoted values become wildcards (an HTTP error status
/// stays: it is part of the meaning), runs of blanks `\s+`, the rest is
/// escaped literally; anchored at the start of the normalised line (the
/// classifier retries a rule on normalised lines), open at its end. Pure.
pub fn generalize(evidence: &str) -> String {
    let line = stable_line(evidence);
    let mut out = String::from("^");
    render(&mut out, &line, 0);
    out
}

/// The lowercase words of a line's stable text, joined by `_` (at most
/// five words, 40 characters): `upstream_gateway_rejected_the_session`.
pub fn slug(evidence: &str) -> String {
    let line = stable_line(evidence);
    let literal = match variables_from(0) {
        Some(re) => re.replace_all(&line, " ").into_owned(),
        None => line,
    };
    let mut out = String::new();
    for word in literal
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() > 1 && w.chars().any(|c| c.is_ascii_alphabetic()))
        .take(5)
    {
        let word = word.to_ascii_lowercase();
        if out.len() + word.len() + 1 > 40 {
            break;
        }
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(&word);
    }
    if out.is_empty() {
        out.push_str("failure");
    }
    out
}

/// A rule id for a program's message: `user.<program>_<slug>`, made unique
/// against `taken` with a `_2`, `_3`… suffix. Pure.
pub fn rule_id(program: &str, evidence: &str, taken: &dyn Fn(&str) -> bool) -> String {
    let base = program.rsplit('/').next().unwrap_or(program);
    let program: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let program = program.trim_matches('_');
    let program = if program.is_empty() { "cli" } else { program };
    let id = format!("user.{program}_{}", slug(evidence));
    if !taken(&id) {
        return id;
    }
    (2..)
        .map(|n| format!("{id}_{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or(id)
}
