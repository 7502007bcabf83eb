//! Layer 3: context rules — a secret recognised by what stands next to it.
//!
//! - `Authorization:` / `Proxy-Authorization:` headers (any scheme) and API-key
//!   headers (`x-api-key:`, `api-key:`, `x-goog-api-key:`, …), `Bearer …` anywhere;
//! - assignments whose name says secret ([`is_secret_key_name`]) in `k=v`,
//!   `k: v`, `"k": "v"`, `k="v"`, JSON-escaped `\"k\": \"v\"` and CLI flag
//!   (`--api-key=v`, `--token v`) forms;
//! - the password of a URL's user info in any scheme (the scheme, user and host
//!   stay as evidence) and credential query parameters (`token=`, `sig=`,
//!   `X-Amz-Signature=`, …);
//! - PEM / OpenSSH / PGP private key blocks, whole.
//!
//! Values that are plainly not secrets are left alone ([`is_placeholder`]):
//! empty, `null`/`none`/`true`/`false`, a run of one character (`***`),
//! `<redacted>`-style markers, variable references (`${VAR}`, `$VAR`,
//! `%VAR%`, `{{ var }}`), code references (`this.password`), short numbers.
//! A default such as `changeme` IS redacted: it may well be the real password.
//!
//! Rules run per line, and only on lines an Aho-Corasick keyword pass flags.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, Input, MatchKind};
use regex::bytes::Regex;

type Spans = Vec<(Range<usize>, Cow<'static, str>)>;

const LABEL: &str = "[REDACTED:context]";
const LABEL_PEM: &str = "[REDACTED:private-key]";

/// Keywords that make a line worth the context rules (case variants listed:
/// case-sensitive literals keep the SIMD searcher).
const KEYWORDS: &[&str] = &[
    "uthorization",
    "UTHORIZATION",
    "earer",
    "EARER",
    "pass",
    "Pass",
    "PASS",
    "pwd",
    "PWD",
    "secret",
    "Secret",
    "SECRET",
    "token",
    "Token",
    "TOKEN",
    "api-key",
    "Api-Key",
    "API-KEY",
    "api_key",
    "API_KEY",
    "apikey",
    "apiKey",
    "ApiKey",
    "APIKEY",
    "ccess_key",
    "ccessKey",
    "CCESS_KEY",
    "rivate",
    "RIVATE",
    "redential",
    "REDENTIAL",
    "auth",
    "AUTH",
    "Auth",
    "://",
    "sig=",
    "ignature=",
    "X-Amz-",
    "AccountKey",
    "ccessKey=",
    "-----BEGIN",
    "key=",
    "Key=",
    "KEY=",
    "cookie",
    "Cookie",
    "COOKIE",
    "-key-data",
    "_PAT",
    "_pat",
    "-pat",
];

fn keywords() -> Option<&'static AhoCorasick> {
    static K: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    K.get_or_init(|| {
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(KEYWORDS)
            .ok()
    })
    .as_ref()
}

/// A single-literal searcher (memmem speed) for the start of a key block.
fn pem_marker() -> Option<&'static AhoCorasick> {
    static P: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    P.get_or_init(|| AhoCorasick::new(["-----BEGIN "]).ok())
        .as_ref()
}

struct Rules {
    header: Regex,
    bearer: Regex,
    assign: Regex,
    flag: Regex,
    userinfo: Regex,
    query: Regex,
    pem: Regex,
}

/// The compiled rules; `None` only if a rule failed to compile, which a unit
/// test forbids (the context layer is then skipped rather than panicking).
fn rules() -> Option<&'static Rules> {
    static R: OnceLock<Option<Rules>> = OnceLock::new();
    R.get_or_init(|| {
        Some(Rules {
            header: Regex::new(
                r#"(?i-u)(?:^|[^A-Za-z0-9_-])(?P<lq>["'])?(?:proxy-)?(?:authorization|x-api-key|api-key|x-goog-api-key|x-auth-token|x-auth-key|x-access-token|private-token|x-vault-token|x-postmark-server-token|dd-api-key|dd-application-key|cookie|set-cookie)\\?["']?\s*[:=]\s*(?:\\?"(?P<v1>[^"\\\r\n]*)|'(?P<v2>[^'\r\n]*)|(?P<v3>[^\r\n]+))"#,
            )
            .ok()?,
            bearer: Regex::new(r"(?i-u)\bbearer[ \t]+(?P<v>[A-Za-z0-9._~+/\-]{8,}=*)").ok()?,
            assign: Regex::new(
                r#"(?-u)(?P<n>[A-Za-z0-9_.\-]*(?i:pass|pwd|pw|secret|token|api[_.\-]?key|access[_.\-]?key|private[_.\-]?key|credential|account[_.\-]?key|signing[_.\-]?key|auth|session[_.\-]?key|master[_.\-]?key|encryption[_.\-]?key|shared[_.\-]?access|key[_.\-]?data|cookie|sig|pat)[A-Za-z0-9_.\-]*)\\?["']?[ \t]*(?:=>|:=|=|:)[ \t]*(?:\\"(?P<v1>(?:[^"\\\r\n]|\\[^"\r\n])*)\\"|"(?P<v2>(?:[^"\\\r\n]|\\.)*)"|'(?P<v3>[^'\r\n]*)'|(?P<v4>[^\s"',;&<>(){}\[\]\\]+))"#,
            )
            .ok()?,
            flag: Regex::new(r#"(?-u)(?:^|\s)--?(?P<n>[A-Za-z0-9_.\-]+)[ \t]+(?:"(?P<v1>[^"\r\n]*)"|'(?P<v2>[^'\r\n]*)'|(?P<v3>[^\s"']+))"#).ok()?,
            userinfo: Regex::new(r#"(?i-u)\b[a-z][a-z0-9+.\-]*://[^\s:/@"'<>]*:(?P<v>[^\s/@"'<>]+)@"#).ok()?,
            query: Regex::new(
                r#"(?i-u)[?&;](?:token|access_token|refresh_token|id_token|auth|auth_token|api_key|apikey|key|sig|signature|password|passwd|pwd|secret|client_secret|code|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|sharedaccesssignature)=(?P<v>[^&\s#"'<>]+)"#,
            )
            .ok()?,
            pem: Regex::new(
                r"(?-u)-----BEGIN (?P<kind>[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----(?s:.*?)-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----",
            )
            .ok()?,
        })
    })
    .as_ref()
}

/// True when a line opens a private key block (`-----BEGIN … PRIVATE KEY-----`,
/// OpenSSH, PGP). A stream redactor holds lines from here to [`pem_end`].
pub fn pem_begin(line: &[u8]) -> bool {
    find_sub(line, b"-----BEGIN ").is_some_and(|at| {
        let rest = &line[at..];
        find_sub(rest, b"PRIVATE KEY").is_some() && find_sub(&rest[11..], b"-----").is_some()
    })
}

/// True when a line closes a private key block (`-----END … PRIVATE KEY-----`).
pub fn pem_end(line: &[u8]) -> bool {
    find_sub(line, b"-----END ").is_some_and(|at| find_sub(&line[at..], b"PRIVATE KEY").is_some())
}

fn find_sub(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// True when an assignment's key names a secret: after removing `_`, `-`, `.`
/// and lower-casing, a secret word ends the name (`DB_PASSWORD`, `apiKey`,
/// `aws_secret_access_key`, `--api-key`) or the name is one (`pass`, `pwd`,
/// `auth`). A word followed by more letters is something else: `tokens`,
/// `token_type`, `password_file`, `access_key_id`.
pub fn is_secret_key_name(name: &[u8]) -> bool {
    let norm: Vec<u8> = name
        .iter()
        .filter(|b| !matches!(b, b'_' | b'-' | b'.'))
        .map(u8::to_ascii_lowercase)
        .collect();
    const EXACT: &[&[u8]] = &[
        b"pass",
        b"pwd",
        b"pw",
        b"auth",
        b"sig",
        b"privatekeyid",
        b"clientkeydata",
    ];
    if EXACT.contains(&norm.as_slice()) || norm.ends_with(b"privatekeyid") {
        return true;
    }
    // A personal access token: `GITLAB_PAT`, `AZURE_DEVOPS_EXT_PAT`.
    let lower = name.to_ascii_lowercase();
    if lower == b"pat" || lower.ends_with(b"_pat") || lower.ends_with(b"-pat") {
        return true;
    }
    const WORDS: &[&[u8]] = &[
        b"password",
        b"passwd",
        b"passphrase",
        b"secret",
        b"token",
        b"apikey",
        b"accesskey",
        b"privatekey",
        b"credential",
        b"credentials",
        b"accountkey",
        b"signingkey",
        b"authkey",
        b"sessionkey",
        b"masterkey",
        b"encryptionkey",
        b"sharedaccesskey",
        b"sharedaccesssignature",
        b"keydata",
        b"secretkey",
        b"dbpass",
        b"cookie",
    ];
    WORDS.iter().any(|w| norm.ends_with(w))
}

/// True when a value is plainly not a secret (see the module documentation).
pub fn is_placeholder(value: &[u8]) -> bool {
    let v = value.trim_ascii();
    if v.len() < 4 {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    const WORDS: &[&[u8]] = &[
        b"null",
        b"none",
        b"true",
        b"false",
        b"undefined",
        b"nil",
        b"redacted",
        b"hidden",
        b"required",
        b"optional",
        b"string",
    ];
    if WORDS.contains(&lower.as_slice()) || lower.starts_with(b"[redacted") {
        return true;
    }
    if v.iter().all(|&b| b == v[0]) {
        return true;
    }
    let (first, last) = (v[0], v[v.len() - 1]);
    if (first == b'<' && last == b'>')
        || v.starts_with(b"${")
        || v.starts_with(b"{{")
        || (first == b'%' && last == b'%')
    {
        return true;
    }
    if first == b'$'
        && v[1..]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return true;
    }
    if v.iter().all(u8::is_ascii_digit) && v.len() < 8 {
        return true;
    }
    false
}

/// An unquoted value that reads as code rather than data: `this.password`,
/// `process.env.TOKEN`, `e.token`.
fn is_code_reference(v: &[u8]) -> bool {
    let ident = |s: &[u8]| {
        !s.is_empty()
            && !s[0].is_ascii_digit()
            && s.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
    };
    let parts: Vec<&[u8]> = v.split(|&b| b == b'.').collect();
    parts.len() >= 2 && parts.iter().all(|p| ident(p)) && parts[0].len() <= 8
}

/// `--token --verbose`: the next word is another option, not the value.
fn looks_like_flag(v: &[u8]) -> bool {
    let name = v.strip_prefix(b"--").or_else(|| v.strip_prefix(b"-"));
    name.is_some_and(|n| {
        n.first().is_some_and(u8::is_ascii_alphabetic)
            && n.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

/// Appends the spans the context rules find in `input` (any number of lines).
pub(super) fn find(input: &[u8], spans: &mut Spans) {
    let (Some(k), Some(r)) = (keywords(), rules()) else {
        return;
    };
    let mut done_to = 0;
    while let Some(m) = k.find(Input::new(input).span(done_to..input.len())) {
        let start = input[..m.start()]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let end = input[m.end()..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(input.len(), |i| m.end() + i);
        line(r, input, start..end, spans);
        done_to = end.max(m.end());
    }
    if pem_marker().is_some_and(|p| p.is_match(input)) {
        pem_blocks(r, input, spans);
    }
}

fn push(spans: &mut Spans, base: usize, range: Range<usize>, label: &'static str) {
    if range.start < range.end {
        spans.push((base + range.start..base + range.end, Cow::Borrowed(label)));
    }
}

fn line(r: &Rules, input: &[u8], at: Range<usize>, spans: &mut Spans) {
    let base = at.start;
    let text = &input[at];
    let has = |needle: &[u8]| {
        text.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    for c in r.header.captures_iter(text) {
        let quoted = c.name("v1").or_else(|| c.name("v2"));
        let v = match (quoted, c.name("v3")) {
            (Some(v), _) => Some(v.start()..v.end()),
            (None, Some(v)) => {
                // An unquoted value ends the line, or at the quote that
                // opened the header (`-H 'x-api-key: KEY' url`).
                let end = match c.name("lq") {
                    Some(q) => v
                        .as_bytes()
                        .iter()
                        .position(|&b| b == q.as_bytes()[0])
                        .map_or(v.end(), |i| v.start() + i),
                    None => v.end(),
                };
                Some(v.start()..end)
            }
            (None, None) => None,
        };
        if let Some(range) = v {
            let trimmed = text[range.clone()].trim_ascii_end();
            if !is_placeholder(trimmed) && !is_code_reference(trimmed) {
                push(spans, base, range.start..range.start + trimmed.len(), LABEL);
            }
        }
    }
    for c in r
        .bearer
        .captures_iter(if has(b"bearer") { text } else { b"" })
    {
        if let Some(v) = c.name("v") {
            if !is_placeholder(v.as_bytes()) && !is_code_reference(v.as_bytes()) {
                push(spans, base, v.range(), LABEL);
            }
        }
    }
    // By hand rather than `captures_iter`: an assignment whose name is not
    // secret (`"text": "… API_KEY=…"`) must not hide the ones inside its value.
    let mut pos = 0;
    // `find_at` runs on the DFA; the (slower) capture groups only for a
    // secret-named match.
    while let Some(found) = r.assign.find_at(text, pos) {
        let name_len = text[found.start()..]
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            .count();
        let name_end = found.start() + name_len;
        if !is_secret_key_name(&text[found.start()..name_end]) {
            pos = name_end.max(pos + 1);
            continue;
        }
        let Some(c) = r.assign.captures_at(text, found.start()) else {
            break;
        };
        let Some(n) = c.name("n") else { break };
        let whole = c.get(0).map_or(n.end(), |m| m.end());
        pos = whole.max(pos + 1);
        let quoted = ["v1", "v2", "v3"].iter().find_map(|g| c.name(g));
        let (v, skip) = match quoted {
            Some(v) => (v, false),
            None => match c.name("v4") {
                Some(v) => {
                    let sep_is_colon = text[n.end()..v.start()].contains(&b':');
                    // `credentials: universal` is prose; a password has more to it.
                    let prose = sep_is_colon && v.as_bytes().iter().all(u8::is_ascii_lowercase);
                    (v, prose || is_code_reference(v.as_bytes()))
                }
                None => continue,
            },
        };
        if !skip && !is_placeholder(v.as_bytes()) {
            push(spans, base, v.range(), LABEL);
        }
    }
    for c in r
        .flag
        .captures_iter(if text.contains(&b'-') { text } else { b"" })
    {
        let (Some(n), Some(v)) = (
            c.name("n"),
            ["v1", "v2", "v3"].iter().find_map(|g| c.name(g)),
        ) else {
            continue;
        };
        if is_secret_key_name(n.as_bytes())
            && !is_placeholder(v.as_bytes())
            && !looks_like_flag(v.as_bytes())
        {
            push(spans, base, v.range(), LABEL);
        }
    }
    for re in [&r.userinfo, &r.query] {
        for c in re.captures_iter(text) {
            if let Some(v) = c.name("v") {
                if !is_placeholder(v.as_bytes()) {
                    push(spans, base, v.range(), LABEL);
                }
            }
        }
    }
}

/// Whole private key blocks; a block whose END is not in the buffer is
/// redacted from its BEGIN line through the base64 body lines that follow.
fn pem_blocks(r: &Rules, input: &[u8], spans: &mut Spans) {
    let mut covered_to = 0;
    for m in r.pem.find_iter(input) {
        push(spans, 0, m.range(), LABEL_PEM);
        covered_to = m.end();
    }
    let mut at = covered_to;
    while let Some(off) = find_sub(&input[at..], b"-----BEGIN ") {
        let begin = at + off;
        let line_end = input[begin..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(input.len(), |i| begin + i);
        if !pem_begin(&input[begin..line_end]) {
            at = begin + 11;
            continue;
        }
        let mut end = line_end;
        let mut seen_body = false;
        while end < input.len() {
            let next = end + 1;
            let next_end = input[next.min(input.len())..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(input.len(), |i| next + i);
            let body = &input[next.min(input.len())..next_end];
            let trimmed = body.trim_ascii_end();
            let base64 = !trimmed.is_empty()
                && trimmed
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
            const HEADERS: &[&[u8]] = &[
                b"Proc-Type:",
                b"DEK-Info:",
                b"Comment:",
                b"Version:",
                b"Hash:",
            ];
            let header = HEADERS.iter().any(|h| trimmed.starts_with(h));
            // PGP armour has an empty line between its headers and its body.
            let blank_before_body = trimmed.is_empty() && !seen_body;
            seen_body |= base64;
            let base64ish = base64 || header || blank_before_body;
            if !base64ish || pem_end(body) {
                if pem_end(body) {
                    end = next_end;
                }
                break;
            }
            end = next_end;
        }
        push(spans, 0, begin..end, LABEL_PEM);
        at = end.max(begin + 11);
    }
}

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;
