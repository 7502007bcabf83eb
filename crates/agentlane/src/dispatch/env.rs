//! Building the child's environment: the one it will really get.
//!
//! Starts from the parent's environment or from nothing (`clear`), keeps only
//! the `inherit` names when given, then applies `set` in order. Env files are
//! parsed here ([`parse_env_file`]) and read at the edge by the caller.

use std::collections::BTreeMap;

/// How to build the child's environment.
#[derive(Debug, Clone, Default)]
pub struct EnvSpec {
    /// Start from an empty environment instead of the parent's.
    pub clear: bool,
    /// When non-empty, keep only these parent variables (before `set`).
    pub inherit: Vec<String>,
    /// Variables to set, in order (later wins).
    pub set: Vec<(String, String)>,
}

/// Builds the final environment. Pure: the parent's environment is an input.
pub fn build_env(
    spec: &EnvSpec,
    parent: impl IntoIterator<Item = (String, String)>,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = if spec.clear {
        BTreeMap::new()
    } else if spec.inherit.is_empty() {
        parent.into_iter().collect()
    } else {
        parent
            .into_iter()
            .filter(|(k, _)| spec.inherit.iter().any(|i| i == k))
            .collect()
    };
    for (k, v) in &spec.set {
        env.insert(k.clone(), v.clone());
    }
    env
}

/// A malformed env file line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}:{line}:{column}: {message}")]
pub struct EnvFileError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses `KEY=VALUE` lines (`#` comments, blank lines, optional `export `,
/// single or double quotes around the value). Pure.
pub fn parse_env_file(file: &str, src: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut out = Vec::new();
    for (i, raw) in src.lines().enumerate() {
        // `at` is a byte offset in `raw`; the column counts characters.
        let err = |at: usize, message: String| EnvFileError {
            file: file.to_string(),
            line: i + 1,
            column: raw.get(..at).map_or(at, |before| before.chars().count()) + 1,
            message,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map_or(line, |rest| rest.trim_start());
        // Where `line` (a slice of `raw`) starts in it, in bytes.
        let indent = line.as_ptr() as usize - raw.as_ptr() as usize;
        let Some((key, value)) = line.split_once('=') else {
            // Never quote the line: it may be a secret pasted without its name.
            return Err(err(
                indent,
                format!(
                    "expected KEY=VALUE, found a line of {} bytes without '=' (not shown: it may be a secret)",
                    line.len()
                ),
            ));
        };
        let key = key.trim();
        if key.is_empty()
            || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || key.starts_with(|c: char| c.is_ascii_digit())
        {
            let shown = if key.len() > 64 || crate::redact::is_credential_like(key) {
                format!(
                    "the {}-byte name (not shown: it may be a secret)",
                    key.len()
                )
            } else {
                format!("'{key}'")
            };
            return Err(err(indent, format!("{shown} is not a valid variable name (letters, digits and _, not starting with a digit)")));
        }
        let value = value.trim();
        let value = match value.chars().next() {
            Some(q @ ('"' | '\'')) => {
                if value.len() < 2 || !value.ends_with(q) {
                    // Just after the `=`.
                    let at = indent + line.find('=').map_or(0, |p| p + 1);
                    return Err(err(
                        at,
                        format!("unterminated {q} quote in the value of {key}"),
                    ));
                }
                value[1..value.len() - 1].to_string()
            }
            _ => value.to_string(),
        };
        out.push((key.to_string(), value));
    }
    Ok(out)
}

/// Parses one `KEY=VALUE` command-line assignment.
pub fn parse_assignment(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err(format!("expected KEY=VALUE, got '{s}'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> Vec<(String, String)> {
        vec![
            ("PATH".into(), "/usr/bin".into()),
            ("HOME".into(), "/root".into()),
            ("X".into(), "1".into()),
        ]
    }

    #[test]
    fn inherits_by_default_and_set_wins() {
        let env = build_env(
            &EnvSpec {
                set: vec![("X".into(), "2".into())],
                ..Default::default()
            },
            parent(),
        );
        assert_eq!(env["X"], "2");
        assert_eq!(env["HOME"], "/root");
    }

    #[test]
    fn clear_starts_empty() {
        let env = build_env(
            &EnvSpec {
                clear: true,
                set: vec![("PATH".into(), "/bin".into())],
                ..Default::default()
            },
            parent(),
        );
        assert_eq!(env.len(), 1);
        assert_eq!(env["PATH"], "/bin");
    }

    #[test]
    fn inherit_list_keeps_only_named() {
        let env = build_env(
            &EnvSpec {
                inherit: vec!["HOME".into()],
                ..Default::default()
            },
            parent(),
        );
        assert_eq!(env.keys().collect::<Vec<_>>(), vec!["HOME"]);
    }

    #[test]
    fn parses_env_files() {
        let src = "# comment\n\nexport A=1\nB = \"two words\"\nC='x=y'\nD=\n";
        let parsed = parse_env_file("e", src).unwrap();
        assert_eq!(
            parsed,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x=y".into()),
                ("D".into(), "".into())
            ]
        );
    }

    #[test]
    fn env_file_errors_have_positions() {
        let e = parse_env_file("f.env", "A=1\n  oops\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 3));
        let e = parse_env_file("f.env", "1X=2\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_env_file("f.env", "Q=\"open\n").unwrap_err();
        assert!(e.message.contains("unterminated"));
    }

    /// Found by the `env_file` fuzz target: the column counted bytes, so a
    /// line indented with non-ASCII whitespace (U+0085) pointed past its end.
    #[test]
    fn env_file_error_columns_count_characters_not_bytes() {
        let e = parse_env_file("f.env", "\r\u{85}\u{85}+").unwrap_err();
        assert_eq!((e.line, e.column), (1, 4), "{e}");
        let e = parse_env_file("f.env", "\u{a0}é=1\n").unwrap_err();
        assert_eq!(e.column, 2, "{e}");
        let e = parse_env_file("f.env", "export  Q=\"open \t\n").unwrap_err();
        assert_eq!(e.column, 11, "just after the `=`: {e}");
        let e = parse_env_file("f.env", "  export 1X=2 \t\n").unwrap_err();
        assert_eq!(e.column, 10, "{e}");
    }

    #[test]
    fn env_file_errors_never_quote_a_secret() {
        let token = "Zq8vW3xY5tU7rS9pQ1oN2mL4kJ6hG";
        let e = parse_env_file("f.env", &format!("A=1\n{token}\n")).unwrap_err();
        assert!(!e.to_string().contains(token), "{e}");
        assert!(e.message.contains("without '='"), "{e}");
        let e = parse_env_file("f.env", &format!("{token}-x=1\n")).unwrap_err();
        assert!(!e.to_string().contains(token), "{e}");
        let e = parse_env_file("f.env", "MY-VAR=1\n").unwrap_err();
        assert!(e.message.contains("'MY-VAR'"), "{e}");
    }
}
