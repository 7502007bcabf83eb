//! Just enough JSON writing for the `--run-log` records (no serde here).

use std::ffi::OsStr;
use std::fmt::Write as _;

/// Appends `text` to `out` as a JSON string literal, quotes included.
/// Non-UTF-8 bytes become U+FFFD.
pub fn push_str(out: &mut String, text: &OsStr) {
    out.push('"');
    for c in text.to_string_lossy().chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a JSON string literal, or `null` for `None`.
pub fn push_opt_str(out: &mut String, text: Option<&OsStr>) {
    match text {
        Some(text) => push_str(out, text),
        None => out.push_str("null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(text: &str) -> String {
        let mut out = String::new();
        push_str(&mut out, OsStr::new(text));
        out
    }

    #[test]
    fn escapes_specials() {
        assert_eq!(quoted("plain"), r#""plain""#);
        assert_eq!(quoted("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quoted("l1\nl2\t\r"), r#""l1\nl2\t\r""#);
        assert_eq!(quoted("\u{1}\u{0}"), r#""\u0001\u0000""#);
        assert_eq!(quoted("· ünï"), "\"· ünï\"");
    }

    #[test]
    fn none_is_null() {
        let mut out = String::new();
        push_opt_str(&mut out, None);
        assert_eq!(out, "null");
    }
}
