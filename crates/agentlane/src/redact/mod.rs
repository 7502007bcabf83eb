//! Redaction: secrets never reach rest.
//!
//! Two kinds of secret are removed from everything agentlane writes (tails,
//! argv, reports, events and the full artifacts): the exact values of
//! secret-looking environment variables given to the child, and common token
//! shapes (OpenAI/Anthropic `sk-…`, GitHub `ghp_…`/`github_pat_…`, AWS
//! `AKIA…`, Google `AIza…`, Slack `xox?-…`, `Bearer …`, JWTs).
//!
//! [`StreamRedactor`] applies the same rules to a byte stream without ever
//! cutting through a secret: complete lines are redacted and released at
//! once; a line longer than [`MAX_PENDING`] is released in pieces cut outside
//! any match.

use std::borrow::Cow;
use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};

mod shapes;

/// Environment values shorter than this are not treated as secrets: redacting
/// `true` or `1` everywhere would destroy the evidence.
pub const MIN_SECRET_LEN: usize = 8;

/// The longest partial line a [`StreamRedactor`] holds before releasing part of it.
pub const MAX_PENDING: usize = 64 * 1024;

/// How much of a long line stays held back so a token straddling the cut survives.
const OVERLAP: usize = 16 * 1024;

/// True when an environment variable's name says its value is a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    const NOT_SECRET_SUFFIXES: &[&str] = &["_FILE", "_PATH", "_DIR", "_HOME", "_SOCK", "_ENABLED"];
    if NOT_SECRET_SUFFIXES.iter().any(|s| upper.ends_with(s)) {
        return false;
    }
    const MARKERS: &[&str] = &[
        "KEY",
        "TOKEN",
        "SECRET",
        "PASSW",
        "CREDENTIAL",
        "AUTH",
        "COOKIE",
        "SESSION",
        "PRIVATE",
    ];
    MARKERS.iter().any(|m| upper.contains(m)) || upper.ends_with("_PAT")
}

/// True when a variable's value must be redacted: a secret name with a value
/// long enough to be one, or a URL carrying a password (`scheme://user:pass@`).
pub fn is_secret_var(name: &str, value: &str) -> bool {
    if value.len() < MIN_SECRET_LEN {
        return false;
    }
    is_secret_name(name) || url_has_password(value)
}

fn url_has_password(value: &str) -> bool {
    value
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .is_some_and(|authority| authority.contains('@') && authority.contains(':'))
}

/// The secret values to remove, each with the variable name it came from.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    entries: Vec<(String, String)>,
}

impl Secrets {
    /// Picks the secret-looking variables out of an environment.
    pub fn from_env<'a>(env: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let entries = env
            .into_iter()
            .filter(|(name, value)| is_secret_var(name, value))
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        Secrets { entries }
    }

    /// The names of the variables whose values are redacted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }
}

/// Removes secrets from text and bytes. Cheap to share; build once per dispatch.
#[derive(Debug)]
pub struct Redactor {
    exact: Option<AhoCorasick>,
    names: Vec<String>,
}

impl Redactor {
    /// A redactor for these secret values plus the built-in token shapes.
    pub fn new(secrets: &Secrets) -> Self {
        let mut pairs: Vec<&(String, String)> = secrets.entries.iter().collect();
        // Longest first so a value that contains another is replaced whole.
        pairs.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        let exact = if pairs.is_empty() {
            None
        } else {
            let built = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(pairs.iter().map(|(_, v)| v.as_bytes()))
                .expect("secret values are plain literals");
            Some(built)
        };
        Redactor {
            exact,
            names: pairs.iter().map(|(n, _)| n.clone()).collect(),
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
            for m in ac.find_iter(input) {
                let name = &self.names[m.pattern().as_usize()];
                spans.push((m.range(), Cow::Owned(format!("[REDACTED:{name}]"))));
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
    fn safe_cut(&self, input: &[u8], mut cut: usize) -> usize {
        for (range, _) in self.spans(input) {
            if range.start < cut && range.end >= cut {
                cut = range.start;
            }
        }
        cut
    }
}

/// Applies a [`Redactor`] to a stream delivered in arbitrary chunks.
#[derive(Debug)]
pub struct StreamRedactor<'r> {
    redactor: &'r Redactor,
    pending: Vec<u8>,
}

impl<'r> StreamRedactor<'r> {
    /// A stream redactor with nothing held.
    pub fn new(redactor: &'r Redactor) -> Self {
        StreamRedactor {
            redactor,
            pending: Vec::new(),
        }
    }

    /// Feeds a chunk; calls `emit` with redacted bytes that are final.
    pub fn push(&mut self, chunk: &[u8], emit: &mut dyn FnMut(&[u8])) {
        if self.pending.is_empty() {
            // Fast path: no copy for the complete lines of this chunk.
            match memchr_last_newline(chunk) {
                Some(end) => {
                    emit(&self.redactor.redact_bytes(&chunk[..=end]));
                    self.pending.extend_from_slice(&chunk[end + 1..]);
                }
                None => self.pending.extend_from_slice(chunk),
            }
        } else {
            self.pending.extend_from_slice(chunk);
            if let Some(end) = memchr_last_newline(&self.pending) {
                emit(&self.redactor.redact_bytes(&self.pending[..=end]));
                self.pending.drain(..=end);
            }
        }
        if self.pending.len() > MAX_PENDING {
            let cut = self
                .redactor
                .safe_cut(&self.pending, self.pending.len() - OVERLAP);
            if cut > 0 {
                emit(&self.redactor.redact_bytes(&self.pending[..cut]));
                self.pending.drain(..cut);
            }
        }
    }

    /// Releases whatever is held, redacted. Call once at end of stream.
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if !self.pending.is_empty() {
            emit(&self.redactor.redact_bytes(&self.pending));
            self.pending.clear();
        }
    }
}

fn memchr_last_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|&b| b == b'\n')
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
