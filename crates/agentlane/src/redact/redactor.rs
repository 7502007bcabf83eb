//! The redactor: the literal secrets of the environments (Aho-Corasick over
//! values and their anchors) and the token shapes, applied to a buffer.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::borrow::Cow;
use std::ops::Range;

use super::*;

/// Environment values shorter than this are not treated as secrets: redacting
/// `true` or `1` everywhere would destroy the evidence.
pub const MIN_SECRET_LEN: usize = 8;

/// The longest partial line a [`StreamRedactor`] holds before releasing part of it.
pub const MAX_PENDING: usize = 64 * 1024;

/// Values longer than this are not literals of the automaton but anchors
/// (see [`Redactor::new`]): set-up stays linear and memory bounded.
pub const MAX_LITERAL: usize = 4 * 1024;

/// The length of an anchor of a long value.
pub const ANCHOR_LEN: usize = 32;

/// The distance between two anchors of a long value.
pub const ANCHOR_STEP: usize = 256;

/// The most anchors one long value gets (4 MiB of a single-line value).
pub const MAX_ANCHORS: usize = 16 * 1024;

/// The most values one pattern stands for (the same anchor in several values).
pub(super) const MAX_CANDIDATES: usize = 8;

/// How much of a long line stays held back so a token straddling the cut survives.
pub(super) const OVERLAP: usize = 16 * 1024;

/// The secret values to remove, each with the variable name it came from.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    entries: Vec<(String, String)>,
}

impl Secrets {
    /// Picks the credential-like values and value parts out of an environment
    /// (layer 1, see [`env`]): whatever the variable's name, except the
    /// [`ALLOWED`] names.
    pub fn from_env<'a>(env: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut secrets = Secrets::default();
        secrets.add_env(env);
        secrets
    }

    /// Adds the secrets of another environment (agentlane's own, an env file).
    pub fn add_env<'a>(&mut self, env: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (name, value) in env {
            for literal in env::literals(name, value) {
                self.entries.push((name.to_string(), literal));
            }
        }
    }

    /// Adds agentlane's own process environment (non-UTF-8 values are read lossily).
    pub fn add_process_env(&mut self) {
        let own: Vec<(String, String)> = std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        self.add_env(own.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }

    /// The names of the variables whose values (or parts) are redacted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let mut seen = std::collections::BTreeSet::new();
        self.entries
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(move |n| seen.insert(*n))
    }

    /// True when nothing is to be removed beyond the token shapes.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What a pattern of the automaton stands for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Pattern {
    /// An exact literal; the label's index.
    Exact(usize),
    /// A piece of a long value at this offset; the match is extended over as
    /// much of the value as the input repeats around it.
    Anchor { value: usize, offset: usize },
}

/// Removes secrets from text and bytes. Cheap to share; build once per dispatch.
#[derive(Debug)]
pub struct Redactor {
    pub(super) exact: Option<AhoCorasick>,
    /// What each pattern of `exact` stands for (several values may share it).
    patterns: Vec<Vec<Pattern>>,
    labels: Vec<String>,
    /// Long values (over [`MAX_LITERAL`]) with their label index.
    long: Vec<(usize, Vec<u8>)>,
}

impl Redactor {
    /// A redactor for these secret values plus the built-in token shapes.
    ///
    /// Linear in the total size of the values: a value up to [`MAX_LITERAL`]
    /// bytes is an exact literal; a longer one is represented by anchors of
    /// [`ANCHOR_LEN`] bytes every [`ANCHOR_STEP`] bytes and at each line start
    /// (at most [`MAX_ANCHORS`] per value), and a match of an anchor is
    /// extended over the value in the input.
    pub fn new(secrets: &Secrets) -> Self {
        Self::build(secrets)
    }

    fn build<'a>(secrets: &'a Secrets) -> Self {
        let mut pairs: Vec<&'a (String, String)> = secrets.entries.iter().collect();
        // Longest first so a value that contains another is replaced whole.
        pairs.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        let mut labels: Vec<String> = Vec::new();
        let mut label_of = std::collections::HashMap::new();
        let mut index_of: std::collections::HashMap<&'a [u8], usize> = Default::default();
        let mut bytes: Vec<&'a [u8]> = Vec::new();
        let mut patterns: Vec<Vec<Pattern>> = Vec::new();
        let mut long = Vec::new();
        let mut add = |piece: &'a [u8], pattern: Pattern| {
            let i = *index_of.entry(piece).or_insert_with(|| {
                bytes.push(piece);
                patterns.push(Vec::new());
                patterns.len() - 1
            });
            if patterns[i].len() < MAX_CANDIDATES {
                patterns[i].push(pattern);
            }
        };
        for (name, value) in pairs {
            if value.is_empty() {
                continue;
            }
            let label = *label_of.entry(name.as_str()).or_insert_with(|| {
                labels.push(format!("[REDACTED:{name}]"));
                labels.len() - 1
            });
            let v = value.as_bytes();
            if v.len() <= MAX_LITERAL {
                add(v, Pattern::Exact(label));
                continue;
            }
            let index = long.len();
            for (offset, end) in anchor_offsets(v) {
                if end - offset >= env::MIN_LINE_LEN {
                    add(
                        &v[offset..end],
                        Pattern::Anchor {
                            value: index,
                            offset,
                        },
                    );
                }
            }
            long.push((label, v.to_vec()));
        }
        let exact = if bytes.is_empty() {
            None
        } else {
            let total: usize = bytes.iter().map(|b| b.len()).sum();
            // aho-corasick picks a DFA for few patterns, and builds it in time
            // quadratic in a long pattern's length (a 30 KB value: 1.4 s, a
            // 3 MB one: hours). Past a few KiB the contiguous NFA builds in
            // linear time and searches nearly as fast.
            let kind = (total > 16 * 1024).then_some(AhoCorasickKind::ContiguousNFA);
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .kind(kind)
                .build(bytes)
                .ok()
        };
        Redactor {
            exact,
            patterns,
            labels,
            long,
        }
    }

    /// A redactor that removes only the built-in token shapes.
    pub fn shapes_only() -> Self {
        Redactor::new(&Secrets::default())
    }

    /// The spans to replace, sorted and non-overlapping, with their replacement.
    fn spans(&self, input: &[u8]) -> Vec<(Range<usize>, Cow<'static, str>)> {
        let mut spans: Vec<(Range<usize>, Cow<'static, str>)> = Vec::new();
        if let Some(ac) = &self.exact {
            let mut covered = 0;
            for m in ac.find_iter(input) {
                if m.start() < covered {
                    continue;
                }
                let mut best: Option<(Range<usize>, usize)> = None;
                for pattern in &self.patterns[m.pattern().as_usize()] {
                    let found = match *pattern {
                        Pattern::Exact(label) => (m.range(), label),
                        Pattern::Anchor { value, offset } => {
                            let (label, v) = &self.long[value];
                            (extend(input, m.range(), v, offset, covered), *label)
                        }
                    };
                    if best.as_ref().is_none_or(|(r, _)| found.0.len() > r.len()) {
                        best = Some(found);
                    }
                }
                let Some((range, label)) = best else { continue };
                covered = range.end;
                spans.push((range, Cow::Owned(self.labels[label].clone())));
            }
        }
        shapes::find(input, &mut spans);
        if spans.len() > 1 {
            spans.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
            let mut merged: Vec<(Range<usize>, Cow<'static, str>)> =
                Vec::with_capacity(spans.len());
            for (range, label) in spans {
                match merged.last_mut() {
                    Some((last, _)) if range.start < last.end => last.end = last.end.max(range.end),
                    _ => merged.push((range, label)),
                }
            }
            spans = merged;
        }
        spans
    }

    /// Redacts bytes, borrowing when there is nothing to remove.
    pub fn redact_bytes<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        let spans = self.spans(input);
        if spans.is_empty() {
            return Cow::Borrowed(input);
        }
        let mut out = Vec::with_capacity(input.len());
        let mut at = 0;
        for (range, label) in spans {
            out.extend_from_slice(&input[at..range.start]);
            out.extend_from_slice(label.as_bytes());
            at = range.end;
        }
        out.extend_from_slice(&input[at..]);
        Cow::Owned(out)
    }

    /// Redacts text, borrowing when there is nothing to remove.
    pub fn redact<'a>(&self, input: &'a str) -> Cow<'a, str> {
        match self.redact_bytes(input.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(input),
            // Replacements are ASCII and cuts fall on match boundaries of
            // ASCII patterns or whole UTF-8 values, so this stays UTF-8.
            Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
        }
    }

    /// The first position at or before `cut` that no match straddles.
    pub(super) fn safe_cut(&self, input: &[u8], mut cut: usize) -> usize {
        for (range, _) in self.spans(input) {
            if range.start < cut && range.end >= cut {
                cut = range.start;
            }
        }
        cut
    }
}

/// The anchors of a long value, as byte ranges: every [`ANCHOR_STEP`] bytes
/// and at each line start, never across a line end, at most [`MAX_ANCHORS`].
pub(super) fn anchor_offsets(v: &[u8]) -> Vec<(usize, usize)> {
    let mut anchors = Vec::new();
    let mut at = 0;
    while at < v.len() && anchors.len() < MAX_ANCHORS {
        let line_end = v[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(v.len(), |p| at + p);
        let line_end = if line_end > at && v[line_end - 1] == b'\r' {
            line_end - 1
        } else {
            line_end
        };
        anchors.extend(
            (at..line_end)
                .step_by(ANCHOR_STEP)
                .map(|o| (o, (o + ANCHOR_LEN).min(line_end)))
                .take(MAX_ANCHORS - anchors.len()),
        );
        at = v[line_end..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(v.len(), |p| line_end + p + 1);
    }
    anchors
}

/// Grows the match of an anchor (value offset `offset`) over the bytes of
/// `input` that repeat the value around it, not before `floor`.
pub(super) fn extend(
    input: &[u8],
    m: Range<usize>,
    value: &[u8],
    offset: usize,
    floor: usize,
) -> Range<usize> {
    let mut end = m.end;
    let mut v = offset + m.len();
    while end < input.len() && v < value.len() && input[end] == value[v] {
        end += 1;
        v += 1;
    }
    let mut start = m.start;
    let mut v = offset;
    while start > floor && v > 0 && input[start - 1] == value[v - 1] {
        start -= 1;
        v -= 1;
    }
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    fn env_redactor() -> Redactor {
        Redactor::new(&Secrets::from_env([
            ("OPENAI_API_KEY", "opensesame-12345"),
            ("MY_PASSWORD", "hunter2hunter2"),
            ("HOME", "/home/svc"),
            ("SHORT_TOKEN", "abc"),
            ("DATABASE_URL", "postgres://app:s3cretpw@db/app"),
        ]))
    }

    #[test_case("key is opensesame-12345 ok", "key is [REDACTED:OPENAI_API_KEY] ok"; "exact env value")]
    #[test_case("pw=hunter2hunter2", "pw=[REDACTED:MY_PASSWORD]"; "password variable")]
    #[test_case("home /home/svc", "home /home/svc"; "non secret variable kept")]
    #[test_case("abc abc", "abc abc"; "short values are not secrets")]
    #[test_case("dsn postgres://app:s3cretpw@db/app", "dsn [REDACTED:DATABASE_URL]"; "url with password")]
    #[test_case("sk-proj-abcdefghijklmnopqrstuvwx", "[REDACTED:openai]"; "openai key shape")]
    #[test_case("x sk-ant-api03-abcdefghijklmnopqrstuv y", "x [REDACTED:anthropic] y"; "anthropic key shape")]
    #[test_case("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED:github-pat]"; "github classic token")]
    #[test_case("github_pat_11ABCDEFG0123456789_abcdefghijkl", "[REDACTED:github-fine-grained]"; "github fine grained token")]
    #[test_case("AKIAIOSFODNN7EXAMPLE", "[REDACTED:aws-access-key-id]"; "aws access key id")]
    #[test_case("AIzaSyA-abcdefghijklmnopqrstuvwxyz012345", "[REDACTED:gcp-api-key]"; "google api key")]
    #[test_case("xoxb-123456789012-abcdefghij", "[REDACTED:slack-bot]"; "slack token")]
    #[test_case("Authorization: Bearer abc.def-ghi_jkl", "Authorization: [REDACTED:context]"; "bearer header")]
    #[test_case("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijk", "jwt [REDACTED:jwt]"; "jwt")]
    #[test_case("task-force-abcdefghijklmnopqrstuvwxyz", "task-force-abcdefghijklmnopqrstuvwxyz"; "sk inside a word is not a key")]
    #[test_case("nothing to see", "nothing to see"; "clean text is unchanged")]
    fn redacts(input: &str, expected: &str) {
        assert_eq!(env_redactor().redact(input), expected);
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(env_redactor().redact("plain"), Cow::Borrowed(_)));
    }

    fn stream_through(r: &Redactor, input: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = StreamRedactor::new(r);
        for piece in input.chunks(chunk) {
            s.push(piece, &mut |b| out.extend_from_slice(b));
        }
        s.finish(&mut |b| out.extend_from_slice(b));
        out
    }

    #[test]
    fn a_secret_split_across_chunks_is_still_redacted() {
        let r = env_redactor();
        let input = b"line one\nthe key opensesame-12345 here\nand sk-abcdefghijklmnopqrstuvwx\n";
        for chunk in 1..input.len() {
            let out = stream_through(&r, input, chunk);
            let text = String::from_utf8(out).unwrap();
            assert!(!text.contains("opensesame"), "chunk {chunk}: {text}");
            assert!(!text.contains("sk-abc"), "chunk {chunk}: {text}");
        }
    }

    #[test]
    fn a_secret_inside_a_huge_line_is_redacted_and_memory_stays_bounded() {
        let r = env_redactor();
        let mut input = vec![b'x'; 3 * MAX_PENDING];
        let at = MAX_PENDING + 10;
        input.splice(at..at, b" opensesame-12345 ".iter().copied());
        input.extend_from_slice(&[b'y'; 200_000]);
        let mut out = Vec::new();
        let mut s = StreamRedactor::new(&r);
        for piece in input.chunks(4096) {
            s.push(piece, &mut |b| out.extend_from_slice(b));
            assert!(s.pending.len() <= MAX_PENDING + 4096);
        }
        s.finish(&mut |b| out.extend_from_slice(b));
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("opensesame"));
        assert!(text.contains("[REDACTED:OPENAI_API_KEY]"));
        assert_eq!(
            text.len(),
            input.len() - "opensesame-12345".len() + "[REDACTED:OPENAI_API_KEY]".len()
        );
    }

    #[test]
    fn invalid_utf8_and_nul_bytes_pass_through() {
        let r = env_redactor();
        let input = b"bin:\xff\xfe\x00\x01 ok\n";
        assert_eq!(stream_through(&r, input, 3), input.to_vec());
    }

    #[test_case("OPENAI_API_KEY" => true)]
    #[test_case("GITHUB_TOKEN" => true)]
    #[test_case("AWS_SECRET_ACCESS_KEY" => true)]
    #[test_case("CODEX_HOME" => false)]
    #[test_case("GOOGLE_APPLICATION_CREDENTIALS_FILE" => false)]
    #[test_case("SSH_AUTH_SOCK" => false)]
    #[test_case("PATH" => false)]
    fn secret_names(name: &str) -> bool {
        is_secret_name(name)
    }
}
