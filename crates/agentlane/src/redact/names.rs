//! Which variable names and values are secrets, whatever the redactor holds.

use super::*;

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

pub(super) fn url_has_password(value: &str) -> bool {
    value
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .is_some_and(|authority| authority.contains('@') && authority.contains(':'))
}
