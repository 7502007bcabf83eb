//! Layer 1 of redaction: the values of the environment, whatever their names.
//!
//! Pure. [`literals`] turns one variable into the byte strings to remove:
//! the value itself when it is credential-like ([`is_credential_like`]) or
//! its name says secret ([`is_secret_name`]), and its *parts*: the password
//! of a URL, the query values of credential parameters, the secret parts of a
//! `Key=Value;` connection string, the secret fields of a JSON document,
//! each line of a multi-line value, and the JSON-escaped and %-encoded forms
//! of each. Variables on the [`ALLOWED`] list (and `LC_*`, `XDG_*`) are kept.

use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};

use super::{is_secret_name, MIN_SECRET_LEN};

/// Harmless variables whose values are never redacted, whatever they hold.
/// Every other variable is examined by its value. `LC_*` and `XDG_*` too.
pub const ALLOWED: &[&str] = &[
    "PATH",
    "HOME",
    "SHELL",
    "USER",
    "LOGNAME",
    "PWD",
    "OLDPWD",
    "TERM",
    "COLORTERM",
    "LANG",
    "LANGUAGE",
    "TZ",
    "SHLVL",
    "_",
    "HOSTNAME",
    "TMPDIR",
    "TMP",
    "TEMP",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "COLUMNS",
    "LINES",
    "NODE_ENV",
    "CI",
    "MAIL",
    "MANPATH",
    "INFOPATH",
    "LS_COLORS",
    "LSCOLORS",
    "LESS",
    "LESSOPEN",
    "LESSCLOSE",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "DBUS_SESSION_BUS_ADDRESS",
    "SSH_AUTH_SOCK",
    "SSH_CONNECTION",
    "SSH_CLIENT",
    "SSH_TTY",
    "GPG_TTY",
    "HISTFILE",
    "HISTSIZE",
    "HISTCONTROL",
    "AGENTLANE_DISPATCH_ID",
    "AGENTLANE_JOB_ID",
    "AGENTLANE_ATTEMPT",
];

const ALLOWED_PREFIXES: &[&str] = &["LC_", "XDG_"];

/// A credential-like value is at least this long.
pub const MIN_CREDENTIAL_LEN: usize = 16;

/// ... and at least this random (Shannon entropy, bits per byte).
pub const MIN_ENTROPY: f64 = 3.0;

/// A part of a structured value (a URL password, an `AccountKey=` value) is
/// removed from this length on: its place, not its randomness, says secret.
pub const MIN_PART_LEN: usize = 6;

/// Lines of a multi-line value are removed from this length on.
pub const MIN_LINE_LEN: usize = 16;

/// Connection-string keys and URL query parameters whose values are secrets
/// (compared case-insensitively, besides any [`is_secret_name`] name).
const SECRET_KEYS: &[&str] = &[
    "accountkey",
    "password",
    "pwd",
    "sharedaccesssignature",
    "sharedaccesskey",
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-security-token",
    "x-amz-credential",
    "x-goog-signature",
    "client_secret",
    "clientsecret",
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "apikey",
    "api_key",
    "key",
    "token",
    "secret",
    "auth",
    "pass",
];

/// True when a variable is on the allow-list: its value is never redacted.
pub fn is_allowed_name(name: &str) -> bool {
    ALLOWED.contains(&name) || ALLOWED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Shannon entropy of the bytes, in bits per byte.
pub fn entropy(value: &[u8]) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0usize; 256];
    for &b in value {
        counts[b as usize] += 1;
    }
    let n = value.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// True for a value that looks like a credential by itself: long enough,
/// random enough, of at least two character classes, and not a path, a list
/// of words, a number, a version or a boolean.
pub fn is_credential_like(value: &str) -> bool {
    let v = value.trim();
    if v.len() < MIN_CREDENTIAL_LEN || entropy(v.as_bytes()) < MIN_ENTROPY {
        return false;
    }
    if is_url(v) {
        // A URL is a credential when a part of it is: a password, a token
        // parameter, a random path segment (a webhook).
        let mut parts = Vec::new();
        url_parts(v, &mut parts);
        return !parts.is_empty();
    }
    if is_path_like(v) || is_word_list(v) || is_numeric(v) {
        return false;
    }
    let classes = [
        v.bytes().any(|b| b.is_ascii_lowercase()),
        v.bytes().any(|b| b.is_ascii_uppercase()),
        v.bytes().any(|b| b.is_ascii_digit()),
        v.bytes().any(|b| !b.is_ascii_alphanumeric()),
    ];
    classes.iter().filter(|&&c| c).count() >= 2
}

/// `scheme://…` without spaces.
fn is_url(v: &str) -> bool {
    v.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    }) && !v.contains(char::is_whitespace)
}

/// `/a/b`, `~/x`, `./x` or a `:`-list of them, without spaces.
fn is_path_like(v: &str) -> bool {
    !v.contains(char::is_whitespace)
        && v.split(':').all(|p| {
            p.is_empty() || p.starts_with('/') || p.starts_with("~/") || p.starts_with("./")
        })
}

/// Words of letters (a capital first at most) separated by spaces or punctuation.
fn is_word_list(v: &str) -> bool {
    let mut words = 0;
    for w in v.split(|c: char| c.is_whitespace() || ",;:-_.".contains(c)) {
        if w.is_empty() {
            continue;
        }
        let mut chars = w.chars();
        let first = chars.next().is_some_and(|c| c.is_alphabetic());
        if !first || w.len() > 14 || !chars.all(|c| c.is_lowercase()) {
            return false;
        }
        words += 1;
    }
    words >= 2
}

/// Digits with separators: numbers, versions, dates, IP addresses.
fn is_numeric(v: &str) -> bool {
    let v = v.strip_prefix('v').unwrap_or(v);
    v.bytes().any(|b| b.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_digit() || b".,:-+ /".contains(&b))
}

/// The byte strings to remove for one variable, longest first, deduplicated.
/// Empty for allowed names and harmless values.
pub fn literals(name: &str, value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if is_allowed_name(name) || value.is_empty() {
        return out;
    }
    let whole = (is_secret_name(name) && value.len() >= MIN_SECRET_LEN)
        || is_credential_like(value)
        || super::url_has_password(value);
    if whole {
        push_forms(&mut out, value);
    }
    if value.contains('\n') && value.len() <= super::MAX_LITERAL {
        // (A longer value is anchored at each line start by the redactor.)
        for line in value.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().len() >= MIN_LINE_LEN && (whole || is_credential_like(line)) {
                push_forms(&mut out, line);
            }
        }
    }
    let mut parts = Vec::new();
    url_parts(value, &mut parts);
    conn_string_parts(value, &mut parts);
    json_parts(value, &mut parts);
    for part in parts {
        if part.len() >= MIN_PART_LEN {
            push_url_forms(&mut out, &part);
            for line in part.lines() {
                if line.trim().len() >= MIN_LINE_LEN {
                    push_forms(&mut out, line);
                }
            }
        }
    }
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

/// The value and its JSON-escaped form (with and without `\/`).
fn push_forms(out: &mut Vec<String>, v: &str) {
    out.push(v.to_string());
    let json = serde_json::to_string(v).unwrap_or_default();
    let json = json.get(1..json.len().saturating_sub(1)).unwrap_or("");
    if json != v && !json.is_empty() {
        out.push(json.to_string());
    }
    if v.len() > super::MAX_LITERAL {
        return;
    }
    if v.contains('/') {
        out.push(json.replace('/', "\\/"));
    }
}

/// [`push_forms`] and the %-encoded form: for the parts of URLs.
fn push_url_forms(out: &mut Vec<String>, v: &str) {
    push_forms(out, v);
    let encoded = utf8_percent_encode(v, NON_ALPHANUMERIC).to_string();
    if encoded != v {
        out.push(encoded);
    }
}

fn is_secret_key(key: &str) -> bool {
    let k = key.trim().to_ascii_lowercase();
    SECRET_KEYS.contains(&k.as_str()) || is_secret_name(&k)
}

/// The password of `scheme://user:password@host`, the values of credential
/// query parameters, and long random path segments (webhook URLs).
fn url_parts(value: &str, parts: &mut Vec<String>) {
    for (at, _) in value.match_indices("://") {
        let rest = &value[at + 3..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ';')
            .unwrap_or(rest.len());
        let url = &rest[..end];
        let (authority, tail) = url.split_at(url.find(['/', '?', '#']).unwrap_or(url.len()));
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            if let Some((_, password)) = userinfo.split_once(':') {
                push_decoded(parts, password);
            }
        }
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        for segment in path.split('/') {
            if is_credential_like(segment) {
                push_decoded(parts, segment);
            }
        }
        for pair in query.split(['&', '#']) {
            if let Some((k, v)) = pair.split_once('=') {
                if is_secret_key(k) || is_credential_like(v) {
                    push_decoded(parts, v);
                }
            }
        }
    }
}

fn push_decoded(parts: &mut Vec<String>, raw: &str) {
    parts.push(raw.to_string());
    if raw.contains('%') {
        if let Ok(decoded) = percent_decode_str(raw).decode_utf8() {
            parts.push(decoded.into_owned());
        }
    }
}

/// `AccountKey=…;Password=…;SharedAccessSignature=…` style parts.
fn conn_string_parts(value: &str, parts: &mut Vec<String>) {
    if !value.contains(';') && !value.contains('=') {
        return;
    }
    for pair in value.split(';') {
        if let Some((k, v)) = pair.split_once('=') {
            if is_secret_key(k) {
                parts.push(v.trim().to_string());
                // A SAS token is itself a query string.
                url_parts(&format!("x://h/?{}", v.trim()), parts);
            }
        }
    }
}

/// The string fields of a JSON document whose key says secret or whose value
/// is credential-like (a service-account file's `private_key`, `private_key_id`).
fn json_parts(value: &str, parts: &mut Vec<String>) {
    let t = value.trim_start();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return;
    }
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(t) else {
        return;
    };
    let mut stack = vec![(String::new(), &doc)];
    while let Some((key, v)) = stack.pop() {
        match v {
            serde_json::Value::Object(map) => {
                stack.extend(map.iter().map(|(k, v)| (k.clone(), v)));
            }
            serde_json::Value::Array(items) => {
                stack.extend(items.iter().map(|v| (key.clone(), v)));
            }
            serde_json::Value::String(s) => {
                if is_secret_key(&key) || is_credential_like(s) {
                    parts.push(s.clone());
                }
                url_parts(s, parts);
            }
            _ => {}
        }
    }
}
