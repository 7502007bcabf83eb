//! The `enqueue --jsonl` reader: one job request per line, read with a cap on
//! each line and on the whole input. Pure over any `BufRead` (the CLI gives it
//! a file or stdin; the fuzz target and the tests give it bytes).

use std::io::{BufRead, Read};

use crate::input::{MAX_JSONL_BYTES, MAX_JSONL_LINE_BYTES};

use super::admit::JobRequest;

/// One line: its 1-based number and the request, or why it is not one.
pub type Line = (usize, Result<JobRequest, String>);

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
            out.push((i + 1, Err("the line is not UTF-8 text".to_string())));
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        let parsed = serde_json::from_str::<JobRequest>(line)
            .map_err(|e| format!("column {}: {e}", e.column()));
        out.push((i + 1, parsed));
    }
    Ok(out)
}
