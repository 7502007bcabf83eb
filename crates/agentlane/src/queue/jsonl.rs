//! The `enqueue --jsonl` reader: one job request per line, read with a cap on
//! each line and on the whole input. Pure over any `BufRead` (the CLI gives it
//! a file or stdin; the fuzz target and the tests give it bytes).

use std::io::{BufRead, Read};

use crate::input::{MAX_JSONL_BYTES, MAX_JSONL_LINE_BYTES};

use super::admit::JobRequest;

/// One line: its 1-based number and the request, or why it is not one.
pub type Line = (usize, Result<JobRequest, LineError>);

/// Why a line is not a job request: the field at fault (when one is) and
/// the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The request's field at fault; `None` when the line as a whole is
    /// (not UTF-8, not JSON, not an object).
    pub field: Option<String>,
    /// What is wrong (it may quote the line: redact before printing).
    pub reason: String,
}

impl LineError {
    fn whole(reason: impl Into<String>) -> LineError {
        LineError {
            field: None,
            reason: reason.into(),
        }
    }
}

/// Parses one line into a request, naming the field at fault: serde says
/// which field is missing or unknown, and a value of the wrong type is
/// found by reading each field on its own.
pub fn parse_line(line: &str) -> Result<JobRequest, LineError> {
    let value: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| LineError::whole(format!("not JSON: column {}: {e}", e.column())))?;
    let Some(object) = value.as_object() else {
        return Err(LineError::whole(
            "not a job object: a line must be a JSON object such as {\"kind\": …, \"lane\": …, \"prompt\": …}",
        ));
    };
    serde_json::from_value::<JobRequest>(value.clone()).map_err(|e| {
        let message = e.to_string();
        let named = ["missing field `", "unknown field `"]
            .iter()
            .find_map(|p| message.split_once(p))
            .and_then(|(_, rest)| rest.split_once('`'))
            .map(|(name, _)| name.to_string());
        let field = named.or_else(|| {
            object
                .iter()
                .find(|(name, v)| !field_type_ok(name, v))
                .map(|(name, _)| name.clone())
        });
        LineError {
            field,
            reason: message,
        }
    })
}

/// Whether `value` has the type the request's field `name` takes.
fn field_type_ok(name: &str, value: &serde_json::Value) -> bool {
    use serde_json::from_value as read;
    let v = value.clone();
    match name {
        "kind" | "lane" | "prompt" => read::<String>(v).is_ok(),
        "route" | "key" => read::<Option<String>>(v).is_ok(),
        "priority" => read::<i64>(v).is_ok(),
        "fields" => read::<std::collections::BTreeMap<String, serde_json::Value>>(v).is_ok(),
        _ => false,
    }
}

/// Why the input as a whole was refused (nothing may be enqueued).
#[derive(Debug)]
pub enum JsonlError {
    /// Reading failed at this 1-based line.
    Io {
        /// The line being read.
        line: usize,
        /// The OS error.
        error: std::io::Error,
    },
    /// A line is longer than [`MAX_JSONL_LINE_BYTES`].
    LineTooLong {
        /// The 1-based line.
        line: usize,
    },
    /// The input holds more than [`MAX_JSONL_BYTES`].
    TooLarge,
}

impl JsonlError {
    /// The message, naming the input as `shown`.
    pub fn message(&self, shown: &str) -> String {
        match self {
            JsonlError::Io { line, error } => {
                format!("cannot read --jsonl {shown} at line {line}: {error}")
            }
            JsonlError::LineTooLong { line } => format!("--jsonl {shown}: line {line} is longer than {MAX_JSONL_LINE_BYTES} bytes, the limit for one job (a 16 MiB prompt and its fields); nothing was enqueued"),
            JsonlError::TooLarge => format!("--jsonl {shown} holds more than {MAX_JSONL_BYTES} bytes, the limit for one batch; nothing was enqueued: split it into several files"),
        }
    }
}

/// Splits JSON lines with a cap on each line and on the whole input, checked
/// while reading. Blank lines are skipped; a line that is not UTF-8 or not a
/// job object is kept with its reason, so the others can still be admitted.
pub fn read_lines(mut reader: impl BufRead) -> Result<Vec<Line>, JsonlError> {
    let mut out = Vec::new();
    let mut total: u64 = 0;
    let mut buf = Vec::new();
    for i in 0.. {
        buf.clear();
        let read = (&mut reader)
            .take(MAX_JSONL_LINE_BYTES + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|error| JsonlError::Io { line: i + 1, error })?;
        if read == 0 {
            break;
        }
        total += read as u64;
        if buf.len() as u64 > MAX_JSONL_LINE_BYTES {
            return Err(JsonlError::LineTooLong { line: i + 1 });
        }
        if total > MAX_JSONL_BYTES {
            return Err(JsonlError::TooLarge);
        }
        let Ok(line) = std::str::from_utf8(&buf) else {
            out.push((i + 1, Err(LineError::whole("the line is not UTF-8 text"))));
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        out.push((i + 1, parse_line(line)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_line_names_the_field_at_fault() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"{"kind":"k","lane":"l","prompt":"p"}"#, None),
            (r#"{"kind":"k","lane":"l"}"#, Some("prompt")),
            (
                r#"{"kind":"k","lane":"l","prompt":"p","colour":1}"#,
                Some("colour"),
            ),
            (
                r#"{"kind":"k","lane":"l","prompt":"p","priority":"high"}"#,
                Some("priority"),
            ),
            (
                r#"{"kind":"k","lane":"l","prompt":"p","key":7}"#,
                Some("key"),
            ),
            (r#"{"kind":5,"lane":"l","prompt":"p"}"#, Some("kind")),
            (
                r#"{"kind":"k","lane":"l","prompt":"p","fields":[1]}"#,
                Some("fields"),
            ),
            ("not json", None),
            ("[1, 2]", None),
        ];
        for (line, field) in cases {
            match parse_line(line) {
                Ok(_) => assert_eq!(*field, None, "{line} parsed"),
                Err(e) => {
                    assert_eq!(e.field.as_deref(), *field, "{line}: {e:?}");
                    assert!(!e.reason.is_empty());
                }
            }
        }
        assert!(parse_line(r#"{"kind":"k","lane":"l","prompt":"p"}"#).is_ok());
    }

    #[test]
    fn lines_keep_their_numbers_and_skip_blanks() {
        let input = b"{\"kind\":\"k\",\"lane\":\"l\",\"prompt\":\"a\",\"key\":\"x\"}\n\nnope\n";
        let lines = read_lines(&input[..]).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].0, 1);
        assert_eq!(lines[0].1.as_ref().unwrap().key.as_deref(), Some("x"));
        assert_eq!(lines[1].0, 3);
        assert!(lines[1].1.is_err());
    }
}
