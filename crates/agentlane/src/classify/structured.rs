//! Splitting captured tails into text lines and structured error messages.
//!
//! Agent CLIs in machine-readable mode (`codex exec --json`, `claude -p
//! --output-format stream-json`, `gemini --output-format json`) print JSON
//! events. Those lines also carry the model's own answer, which must never be
//! taken as the CLI's error, so JSON lines are kept out of the text that text
//! rules read; only the error message of an error-shaped event is extracted,
//! for `stream = "json"` rules.

use serde_json::Value;

/// The bytes at the end of each stream that the tolerant passes (normalised
/// text, the other stream, the generic layer) read. A CLI prints the failure
/// that ends its run last; the exact pass still reads the whole tail.
pub const TOLERANT_WINDOW: usize = 16 * 1024;

/// The end of `s`: its last `bytes` bytes, from a line start.
pub fn window(s: &str, bytes: usize) -> &str {
    if s.len() <= bytes {
        return s;
    }
    let mut cut = s.len() - bytes;
    while !s.is_char_boundary(cut) {
        cut += 1;
    }
    match s[cut..].find('\n') {
        Some(i) if cut > 0 => &s[cut + i + 1..],
        _ => &s[cut..],
    }
}

/// The text rules read, split by origin.
#[derive(Debug, Default, Clone)]
pub struct StreamText {
    /// Stdout lines that are not JSON objects, joined by `\n`.
    pub stdout: String,
    /// Stderr lines that are not JSON objects, joined by `\n`.
    pub stderr: String,
    /// Error messages extracted from JSON events on either stream, in order.
    pub json: Vec<String>,
    /// The message of the run's final verdict event when that verdict is a
    /// failure (Claude Code's `result` with `is_error`, Codex's
    /// `turn.failed`): the CLI's own statement that the run failed, whatever
    /// its exit status.
    pub final_error: Option<String>,
    /// The same three, normalised line by line ([`super::normalize::line`]),
    /// built on first use: a run that needs no rule never pays for it.
    normalized: std::cell::OnceCell<Normalized>,
}

/// [`StreamText`] with colours, log prefixes, bullets and JSON escaping removed.
#[derive(Debug, Default, Clone)]
pub struct Normalized {
    /// Stdout, line for line.
    pub stdout: String,
    /// Stderr, line for line.
    pub stderr: String,
    /// The JSON error messages.
    pub json: Vec<String>,
}

impl StreamText {
    /// Splits two tails. A tail marked truncated may start with a partial
    /// line, which is dropped; each stream is judged by its own flag, so a
    /// cut stdout never costs stderr its first (maybe only) line.
    pub fn split(
        stdout: &[u8],
        stdout_truncated: bool,
        stderr: &[u8],
        stderr_truncated: bool,
    ) -> StreamText {
        let mut out = StreamText::default();
        let mut final_error = None;
        out.stdout = split_one(stdout, stdout_truncated, &mut out.json, &mut final_error);
        out.stderr = split_one(stderr, stderr_truncated, &mut out.json, &mut final_error);
        out.final_error = final_error;
        out
    }

    /// The normalised text (computed once).
    pub fn normalized(&self) -> &Normalized {
        self.normalized.get_or_init(|| {
            let lines = |s: &str| {
                let mut out = String::with_capacity(s.len());
                for line in s.lines() {
                    out.push_str(&super::normalize::line(line));
                    out.push('\n');
                }
                out
            };
            Normalized {
                stdout: lines(window(&self.stdout, TOLERANT_WINDOW)),
                stderr: lines(window(&self.stderr, TOLERANT_WINDOW)),
                json: self
                    .json
                    .iter()
                    .map(|m| super::normalize::line(m))
                    .collect(),
            }
        })
    }

    /// The end of all text ([`TOLERANT_WINDOW`] of each stream) and the JSON
    /// messages, for hints that scan everything (retry-after).
    pub fn all_text(&self) -> String {
        let (stderr, stdout) = (
            window(&self.stderr, TOLERANT_WINDOW),
            window(&self.stdout, TOLERANT_WINDOW),
        );
        let mut all = String::with_capacity(stdout.len() + stderr.len() + 64);
        all.push_str(stderr);
        all.push('\n');
        all.push_str(stdout);
        for m in &self.json {
            all.push('\n');
            all.push_str(m);
        }
        all
    }
}

fn split_one(
    tail: &[u8],
    truncated: bool,
    json: &mut Vec<String>,
    final_error: &mut Option<String>,
) -> String {
    let text = String::from_utf8_lossy(tail);
    let mut lines = text.lines();
    if truncated && !tail.is_empty() {
        lines.next();
    }
    let mut plain = String::with_capacity(text.len());
    for line in lines {
        let trimmed = line.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            match serde_json::from_str::<Value>(trimmed) {
                Ok(event @ Value::Object(_)) => {
                    if let Some(verdict) = final_verdict(&event) {
                        *final_error = verdict;
                    }
                    json.extend(error_message(&event));
                    continue;
                }
                // Qwen Code's `--output-format json` prints all events as one array.
                Ok(Value::Array(events)) if events.iter().all(Value::is_object) => {
                    for event in &events {
                        if let Some(verdict) = final_verdict(event) {
                            *final_error = verdict;
                        }
                    }
                    json.extend(events.iter().filter_map(error_message));
                    continue;
                }
                _ => {}
            }
        }
        plain.push_str(line);
        plain.push('\n');
    }
    plain
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Object(o) => o.get("message").and_then(text_of),
        _ => None,
    }
}

fn is_true(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true)))
}

/// The error message of one JSON event, if it is an error-shaped event.
///
/// Shapes (see docs/agent-clis.md): Codex `{"type":"error","message":…}` and
/// `{"type":"turn.failed","error":{"message":…}}` (older: wrapped in
/// `"msg"`); Claude Code `{"type":"result","is_error":true,"result":…}`;
/// Gemini CLI and Qwen Code `{"error":{"message":…}}`; a `result` event
/// whose subtype starts with `error`.
pub fn error_message(event: &Value) -> Option<String> {
    let obj = event.as_object()?;
    if let Some(inner) = obj.get("msg").filter(|m| m.is_object()) {
        return error_message(inner);
    }
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
    let subtype = obj.get("subtype").and_then(Value::as_str).unwrap_or("");
    match kind {
        "error" | "stream_error" => obj
            .get("message")
            .and_then(text_of)
            .or_else(|| obj.get("error").and_then(text_of)),
        "turn.failed" | "turn_failed" => obj.get("error").and_then(text_of),
        "result" if is_true(obj.get("is_error")) || subtype.starts_with("error") => obj
            .get("result")
            .and_then(text_of)
            .or_else(|| obj.get("error").and_then(text_of))
            .or_else(|| Some(subtype.to_string()).filter(|s| !s.is_empty())),
        // Qwen Code reports API failures as a "successful" result whose text is
        // its own `[API Error: ...]` wrapper (is_error: false, exit 0).
        "result" => obj
            .get("result")
            .and_then(text_of)
            .filter(|text| text.starts_with("[API Error:")),
        // Not an event of a known CLI: an API or server error body printed
        // as it came (`{"detail":"..."}`, opencode's `{"name":"ProviderInitError",
        // "data":{...}}`). Only objects with no event `type` qualify.
        "" => obj
            .get("error")
            .and_then(text_of)
            .or_else(|| obj.get("detail").and_then(text_of))
            .or_else(|| named_error(obj)),
        _ => obj.get("error").and_then(text_of),
    }
}

/// A run's final verdict event: `Some(Some(message))` for a failure,
/// `Some(None)` for a success, `None` for any other event. The last one wins.
pub fn final_verdict(event: &Value) -> Option<Option<String>> {
    let obj = event.as_object()?;
    match obj.get("type").and_then(Value::as_str)? {
        "result" => {
            let subtype = obj.get("subtype").and_then(Value::as_str).unwrap_or("");
            let failed = is_true(obj.get("is_error")) || subtype.starts_with("error");
            Some(failed.then(|| error_message(event)).flatten())
        }
        "turn.failed" | "turn_failed" => Some(error_message(event)),
        "turn.completed" | "turn_completed" => Some(None),
        _ => None,
    }
}

/// `{"name":"SomethingError","data":{"message":...}}`: the name, and the message when there is one.
fn named_error(obj: &serde_json::Map<String, Value>) -> Option<String> {
    let name = obj.get("name").and_then(Value::as_str)?;
    if !name.ends_with("Error") {
        return None;
    }
    let message = obj
        .get("data")
        .and_then(|d| d.get("message"))
        .and_then(text_of);
    Some(match message {
        Some(m) => format!("{name}: {m}"),
        None => name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test_case(r#"{"type":"error","message":"stream disconnected"}"#, Some("stream disconnected"); "codex error")]
    #[test_case(r#"{"type":"turn.failed","error":{"message":"401 Unauthorized"}}"#, Some("401 Unauthorized"); "codex turn failed")]
    #[test_case(r#"{"msg":{"type":"error","message":"old shape"}}"#, Some("old shape"); "codex wrapped")]
    #[test_case(r#"{"type":"result","subtype":"success","is_error":true,"result":"Not logged in · Please run /login"}"#, Some("Not logged in · Please run /login"); "claude error result says success")]
    #[test_case(r#"{"type":"result","subtype":"success","is_error":false,"result":"rate limit is a topic"}"#, None; "claude answer is not an error")]
    #[test_case(r#"{"error":{"type":"Error","message":"quota exceeded","code":429}}"#, Some("quota exceeded"); "gemini error")]
    #[test_case(r#"{"type":"result","subtype":"success","is_error":false,"result":"[API Error: 401 Incorrect API key provided]"}"#, Some("[API Error: 401 Incorrect API key provided]"); "qwen api error behind is_error false")]
    #[test_case(r#"{"type":"assistant","message":{"content":"Not logged in"}}"#, None; "assistant message is never evidence")]
    #[test_case(r#"{"type":"item.completed","item":{"text":"429"}}"#, None; "codex item is never evidence")]
    fn extracts(line: &str, expected: Option<&str>) {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(error_message(&v).as_deref(), expected);
    }

    #[test]
    fn json_lines_are_kept_out_of_text() {
        let t = StreamText::split(
            b"{\"type\":\"assistant\",\"message\":\"Not logged in\"}\nplain line\n",
            false,
            b"err line\n",
            false,
        );
        assert_eq!(t.stdout, "plain line\n");
        assert_eq!(t.stderr, "err line\n");
        assert!(t.json.is_empty());
    }

    #[test]
    fn a_json_array_of_events_is_read_event_by_event() {
        let t = StreamText::split(
            br#"[{"type":"system"},{"type":"result","is_error":true,"error":{"message":"No auth type is selected."}}]"#,
            false,
            b"",
            false,
        );
        assert_eq!(t.json, vec!["No auth type is selected."]);
        assert!(t.stdout.is_empty());
    }

    #[test]
    fn a_truncated_tail_drops_its_partial_first_line() {
        let t = StreamText::split(b"tial line\nwhole line\n", true, b"", false);
        assert_eq!(t.stdout, "whole line\n");
    }

    #[test]
    fn a_truncated_stdout_leaves_stderr_whole() {
        let t = StreamText::split(
            b"tial line\nwhole line\n",
            true,
            b"Error: 429 Too Many Requests\n",
            false,
        );
        assert_eq!(t.stdout, "whole line\n");
        assert_eq!(t.stderr, "Error: 429 Too Many Requests\n");
        let t = StreamText::split(b"only line\n", false, b"tial\nwhole\n", true);
        assert_eq!(
            (t.stdout.as_str(), t.stderr.as_str()),
            ("only line\n", "whole\n")
        );
    }
}
