//! Tolerant matching: one message reads the same whatever dresses it.
//!
//! The same failure reaches agentlane coloured (ANSI escapes), behind a log
//! prefix (`2026-01-02T03:04:05Z ERROR codex_core::client: `, `[ERROR]`,
//! `Error: `), behind a bullet (`■`, `✕`, `│`), JSON-escaped inside another
//! message (`\"message\": \"...\"`), or as the JSON body of an API error
//! embedded in a line. [`line`] strips the dress, [`embedded_json`] reads the
//! body's type, code, status and message. Pure functions.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

/// The longest line normalised; longer lines are cut (their end is kept: the
/// end of a long line is where a wrapped error's cause usually is).
pub const MAX_LINE: usize = 4096;

#[allow(
    clippy::expect_used,
    reason = "constant patterns, compiled by the unit tests"
)]
fn ansi() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // CSI sequences, OSC sequences (ended by BEL or ST), and lone escapes.
        Regex::new(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
            .expect("ansi pattern compiles")
    })
}

#[allow(
    clippy::expect_used,
    reason = "constant patterns, compiled by the unit tests"
)]
fn prefix() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            r"^(?:",
            // whitespace and bullets, box-drawing and status symbols
            r"[\s■□▪▫●○•◦▶►▸›»>✕✖✗✘×❌⛔⚠❗‼!*|│┃┆╎├└─→⏺⎿✓✔-]+",
            // ISO-8601 and syslog-ish timestamps, bracketed or not
            r"|\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2}| ?UTC)?\]?:?",
            r"|\[?\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?: ?[AP]M)?\]?:?",
            // log levels, bracketed or followed by a separator
            r"|\[(?i:error|err|fatal|critical|crit|warn|warning|info|debug|trace|panic|notice)\]:?",
            r"|(?i:error|err|fatal|critical|warn|warning|info|debug|trace|panic|notice)(?:\s*[:|]|\s+-\s)",
            // an upper-case level before a logger name: `ERROR codex_core: …`
            r"|(?:ERROR|ERR|FATAL|CRITICAL|WARN|WARNING|INFO|DEBUG|TRACE|PANIC|NOTICE)\s+",
            // Rust tracing targets and Python logger names: `codex_core::client:`
            r"|[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)+:",
            // a short bracketed tag (`[gemini]`); none with a colon, so `[API Error: 401]` stays
            r"|\[(?:[A-Za-z][\w ./@-]{0,30})\]:?",
            r")"
        ))
        .expect("prefix pattern compiles")
    })
}

/// Removes ANSI escape sequences.
pub fn strip_ansi(s: &str) -> Cow<'_, str> {
    if !s.contains('\x1b') {
        return Cow::Borrowed(s);
    }
    ansi().replace_all(s, "")
}

/// Undoes JSON string escaping left in a line (`\"`, `\n`, `\t`, `\/`,
/// `\\`), so a message quoted inside another message reads as text.
pub fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('"') => {
                out.push('"');
                chars.next();
            }
            Some('n' | 'r' | 't') => {
                out.push(' ');
                chars.next();
            }
            Some('/') => {
                out.push('/');
                chars.next();
            }
            Some('\\') => {
                out.push('\\');
                chars.next();
            }
            _ => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// One line with its dress removed: colours, JSON escaping, then any run of
/// bullets, timestamps, log levels, logger names and short tags at its start.
pub fn line(raw: &str) -> String {
    let raw = if raw.len() > MAX_LINE {
        let mut cut = raw.len() - MAX_LINE;
        while !raw.is_char_boundary(cut) {
            cut += 1;
        }
        &raw[cut..]
    } else {
        raw
    };
    let plain = strip_ansi(raw);
    let plain = unescape(&plain);
    let mut rest: &str = plain.trim();
    // Each pass removes one prefix; six cover `■ 2026-… [ERROR] codex::x: Error:`.
    for _ in 0..6 {
        match prefix().find(rest) {
            Some(m) if m.end() > 0 && m.end() < rest.len() => rest = rest[m.end()..].trim_start(),
            _ => break,
        }
    }
    rest.trim_end().to_string()
}

/// The facts of an API error body embedded in a line (`API Error: 401
/// {"type":"error","error":{"type":"authentication_error",...}}`, `Error
/// code: 429 - {'error': {...}}`), as `key=value` text: `type=…`, `code=…`,
/// `status=…`, `message=…`. A message that is itself JSON is read too
/// (Gemini quotes the provider's body inside its own). `None` when the line
/// holds no JSON object.
pub fn embedded_json(line: &str) -> Option<String> {
    let mut facts = Vec::new();
    let mut searched = 0;
    for (i, _) in line.match_indices('{').take(3) {
        if i < searched {
            continue;
        }
        let candidate = &line[i..];
        // Python prints dicts with single quotes: read them as JSON too.
        let value = parse_object(candidate).or_else(|| {
            candidate
                .contains('\'')
                .then(|| candidate.replace('\'', "\""))
                .and_then(|s| parse_object(&s))
        });
        if let Some(v) = value {
            collect(&v, 0, &mut facts);
            searched = line.len();
        }
    }
    (!facts.is_empty()).then(|| facts.join(" "))
}

fn parse_object(s: &str) -> Option<Value> {
    let mut stream = serde_json::Deserializer::from_str(s).into_iter::<Value>();
    match stream.next() {
        Some(Ok(v @ Value::Object(_))) => Some(v),
        _ => None,
    }
}

fn collect(v: &Value, depth: usize, out: &mut Vec<String>) {
    if depth > 4 {
        return;
    }
    let Value::Object(map) = v else { return };
    for key in [
        "type",
        "code",
        "status",
        "reason",
        "statusCode",
        "status_code",
    ] {
        match map.get(key) {
            Some(Value::String(s)) if !s.is_empty() && s.len() < 120 => {
                out.push(format!("{key}={s}"))
            }
            Some(Value::Number(n)) => out.push(format!("{key}={n}")),
            _ => {}
        }
    }
    if let Some(Value::String(m)) = map.get("message") {
        let m = m.trim();
        if m.starts_with('{') {
            if let Some(inner) = parse_object(m) {
                collect(&inner, depth + 1, out);
            }
        } else if !m.is_empty() {
            out.push(format!("message={}", m.replace('\n', " ")));
        }
    }
    for key in ["error", "details", "detail", "body", "response"] {
        match map.get(key) {
            Some(inner @ Value::Object(_)) => collect(inner, depth + 1, out),
            Some(Value::Array(items)) => {
                for item in items.iter().take(4) {
                    collect(item, depth + 1, out);
                }
            }
            Some(Value::String(s)) if key == "error" && !s.is_empty() => {
                out.push(format!("error={}", s.replace('\n', " ")))
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test_case("\x1b[31mError: 401 Unauthorized\x1b[0m", "401 Unauthorized"; "ansi colours and Error prefix")]
    #[test_case("2026-11-25T18:17:39.593995Z ERROR codex_api::endpoint::responses_websocket: failed to connect", "failed to connect"; "rust tracing line")]
    #[test_case("[2025-06-01 12:00:01] [ERROR] Invalid API key", "Invalid API key"; "bracketed timestamp and level")]
    #[test_case("■ You've hit your usage limit.", "You've hit your usage limit."; "codex bullet")]
    #[test_case("  ✕ [API Error: 429 Too Many Requests]", "[API Error: 429 Too Many Requests]"; "gemini cross keeps the API Error wrapper")]
    #[test_case("ERROR: Reconnecting... 2/5", "Reconnecting... 2/5"; "codex error prefix")]
    #[test_case("error: unexpected argument '--foo' found", "unexpected argument '--foo' found"; "clap error prefix")]
    #[test_case("12:03:44 PM [warn] rate limited", "rate limited"; "clock and tag")]
    #[test_case("{\\\"message\\\": \\\"quota exceeded\\\"}", "{\"message\": \"quota exceeded\"}"; "json escaping")]
    #[test_case("Error", "Error"; "a bare word is kept")]
    #[test_case("│ Error: connect ECONNREFUSED 127.0.0.1:443", "connect ECONNREFUSED 127.0.0.1:443"; "box drawing")]
    fn normalises(raw: &str, want: &str) {
        assert_eq!(line(raw), want);
    }

    #[test_case(r#"API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#, Some("type=error type=authentication_error message=invalid x-api-key"); "anthropic body")]
    #[test_case(r#"Error code: 429 - {'error': {'message': 'You exceeded your current quota', 'type': 'insufficient_quota', 'code': 'insufficient_quota'}}"#, Some("type=insufficient_quota code=insufficient_quota message=You exceeded your current quota"); "python dict body")]
    #[test_case(r#"[API Error: {"error":{"code":429,"message":"{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\"}}"}}]"#, Some("code=429 code=429 status=RESOURCE_EXHAUSTED"); "gemini nested body")]
    #[test_case("no json here", None; "plain")]
    #[test_case("{ not json", None; "broken")]
    fn reads_bodies(line: &str, want: Option<&str>) {
        assert_eq!(embedded_json(line).as_deref(), want);
    }

    #[test]
    fn a_huge_line_keeps_its_end() {
        let raw = format!("{}Error: 401 Unauthorized", "x".repeat(100_000));
        assert!(line(&raw).ends_with("401 Unauthorized"));
        assert!(line(&raw).len() <= MAX_LINE);
    }
}
