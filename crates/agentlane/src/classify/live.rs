//! Reading a running child's output line by line: what each line says about
//! the outcome before the process ends.
//!
//! The supervisor's watchdog (`dispatch/watch.rs`) asks two questions of
//! every complete line while the agent still runs:
//! - **Is the outcome already known?** A line matched by a rule marked
//!   `terminal = true` (a CLI that prints a failure and then retries
//!   forever: Codex without network), or a final verdict event (Claude
//!   Code's and Qwen Code's `result`, Codex's `turn.completed` /
//!   `turn.failed`) after which the CLI should exit.
//! - **Is it making progress?** A structured event that is not an error
//!   clears a terminal match that has not settled yet: the CLI recovered.
//!
//! Pure: the same line always gets the same answer. The same invariant as
//! the classifier's holds: a JSON line is never read by text rules (the
//! model's answer is not evidence); only the error message of an
//! error-shaped event is, by `stream = "json"` rules.

use serde_json::Value;

use super::rules::{clip, Rule, RuleSet, Stream};
use super::structured;

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The child's stdout.
    Stdout,
    /// The child's stderr.
    Stderr,
}

/// What one line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// Plain text (not a JSON event).
    Plain,
    /// A JSON event that is neither an error nor a final verdict: progress.
    Event {
        /// Its `type` (or `type.subtype`), when it has one.
        kind: Option<String>,
    },
    /// An error-shaped JSON event and its message.
    Error {
        /// Its `type`, when it has one.
        kind: Option<String>,
        /// The error message (what `stream = "json"` rules read).
        message: String,
    },
    /// The run's final verdict event: the CLI is done and should exit.
    Final {
        /// Its `type`.
        kind: String,
        /// Whether the verdict is a success (`is_error: false`, `turn.completed`).
        ok: bool,
    },
}

impl LineKind {
    /// The event's kind, for "last event: …" evidence.
    pub fn event_kind(&self) -> Option<&str> {
        match self {
            LineKind::Plain => None,
            LineKind::Event { kind } | LineKind::Error { kind, .. } => kind.as_deref(),
            LineKind::Final { kind, .. } => Some(kind),
        }
    }
}

/// What `line` is. Lines that start like JSON but do not parse are plain.
pub fn line_kind(line: &str) -> LineKind {
    let trimmed = line.trim();
    if !trimmed.starts_with('{') {
        return LineKind::Plain;
    }
    let Ok(event @ Value::Object(_)) = serde_json::from_str::<Value>(trimmed) else {
        return LineKind::Plain;
    };
    let kind = event_kind(&event);
    if let Some(verdict) = structured::final_verdict(&event) {
        return LineKind::Final {
            kind: kind.unwrap_or_else(|| "result".into()),
            ok: verdict.is_none(),
        };
    }
    match structured::error_message(&event) {
        Some(message) => LineKind::Error { kind, message },
        None => LineKind::Event { kind },
    }
}

/// What the first bytes of a line too long to keep whole say: only a final
/// verdict is worth reading from a prefix (a long answer in Claude Code's
/// `result`, whose `type`, `subtype` and `is_error` come first). Anything
/// else is `None` (activity only). Pure.
pub fn truncated_final(prefix: &str) -> Option<LineKind> {
    let compact: String = prefix
        .chars()
        .take(512)
        .filter(|c| !c.is_whitespace())
        .collect();
    if !compact.starts_with(r#"{"type":"result""#) {
        return None;
    }
    let ok = if compact.contains(r#""is_error":false"#) {
        true
    } else if compact.contains(r#""is_error":true"#) {
        false
    } else {
        return None;
    };
    let kind = match compact
        .split(r#""subtype":""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
    {
        Some(sub) if !sub.is_empty() => format!("result.{sub}"),
        _ => "result".to_string(),
    };
    Some(LineKind::Final { kind, ok })
}

fn event_kind(event: &Value) -> Option<String> {
    let obj = event.as_object()?;
    let obj = obj
        .get("msg")
        .and_then(Value::as_object)
        .filter(|m| m.contains_key("type"))
        .unwrap_or(obj);
    let kind = obj.get("type").and_then(Value::as_str)?;
    Some(match obj.get("subtype").and_then(Value::as_str) {
        Some(sub) if !sub.is_empty() => format!("{kind}.{sub}"),
        _ => kind.to_string(),
    })
}

/// The rules marked `terminal = true`, in evaluation order.
pub fn terminal_rules(rules: &RuleSet) -> Vec<&Rule> {
    rules
        .rules()
        .iter()
        .filter(|r| r.terminal && r.pattern.is_some())
        .collect()
}

/// The first terminal rule that matches this line, with its evidence.
///
/// Text rules read plain lines of their stream (`any` reads both); `json`
/// rules read the message of an error-shaped event. The exact words first,
/// then the line without colour codes.
pub fn terminal_match<'r>(
    rules: &[&'r Rule],
    origin: Origin,
    line: &str,
    kind: &LineKind,
) -> Option<(&'r Rule, String)> {
    if rules.is_empty() {
        return None;
    }
    let text = match kind {
        LineKind::Plain => line.trim(),
        LineKind::Error { message, .. } => message.as_str(),
        LineKind::Event { .. } | LineKind::Final { .. } => return None,
    };
    if text.is_empty() {
        return None;
    }
    let reads = |rule: &Rule| match (kind, rule.stream) {
        (LineKind::Error { .. }, Stream::Json) => true,
        (LineKind::Plain, Stream::Any) => true,
        (LineKind::Plain, Stream::Stdout) => origin == Origin::Stdout,
        (LineKind::Plain, Stream::Stderr) => origin == Origin::Stderr,
        _ => false,
    };
    let find = |text: &str| {
        rules.iter().copied().filter(|r| reads(r)).find(|r| {
            r.pattern
                .as_ref()
                .and_then(|p| p.regex())
                .is_some_and(|re| re.is_match(text))
        })
    };
    if let Some(rule) = find(text) {
        return Some((rule, clip(text)));
    }
    // Colours only: a terminal rule is anchored on the CLI's own prefix
    // (`ERROR: `), which the classifier's full normalisation would remove.
    let plain = super::normalize::strip_ansi(text);
    (plain != text)
        .then(|| find(&plain))
        .flatten()
        .map(|rule| (rule, clip(plain.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test_case("plain words", LineKind::Plain; "plain text")]
    #[test_case("{not json", LineKind::Plain; "broken json is plain")]
    #[test_case(r#"{"type":"thread.started","thread_id":"x"}"#, LineKind::Event { kind: Some("thread.started".into()) }; "codex progress")]
    #[test_case(r#"{"type":"item.completed","item":{"type":"agent_message","text":"rate limit exceeded"}}"#, LineKind::Event { kind: Some("item.completed".into()) }; "the model's words are progress, never an error")]
    #[test_case(r#"{"type":"error","message":"Reconnecting... 2/5"}"#, LineKind::Error { kind: Some("error".into()), message: "Reconnecting... 2/5".into() }; "codex error event")]
    #[test_case(r#"{"type":"turn.completed","usage":{"input_tokens":1}}"#, LineKind::Final { kind: "turn.completed".into(), ok: true }; "codex turn completed")]
    #[test_case(r#"{"type":"turn.failed","error":{"message":"boom"}}"#, LineKind::Final { kind: "turn.failed".into(), ok: false }; "codex turn failed")]
    #[test_case(r#"{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"done"}"#, LineKind::Final { kind: "result.success".into(), ok: true }; "claude result")]
    #[test_case(r#"{"type":"result","subtype":"success","is_error":true,"result":"Not logged in"}"#, LineKind::Final { kind: "result.success".into(), ok: false }; "claude error result")]
    #[test_case(r#"{"type":"system","subtype":"api_retry","attempt":1,"error":"unknown"}"#, LineKind::Error { kind: Some("system.api_retry".into()), message: "unknown".into() }; "claude api retry is an error")]
    fn kinds(line: &str, expected: LineKind) {
        assert_eq!(line_kind(line), expected);
    }

    fn rules() -> RuleSet {
        RuleSet::default()
            .with_document(
                "t.toml",
                r#"
[[rule]]
id = "t.net"
class = "network_unavailable"
stream = "stderr"
pattern = '^ERROR: Reconnecting\.\.\. waiting for network'
terminal = true

[[rule]]
id = "t.json_net"
class = "network_unavailable"
stream = "json"
pattern = 'failed to lookup address information'
terminal = true

[[rule]]
id = "t.not_terminal"
class = "transient_io"
stream = "any"
pattern = 'Reconnecting'
"#,
            )
            .unwrap()
    }

    #[test_case(Origin::Stderr, "ERROR: Reconnecting... waiting for network", Some("t.net"); "its stream")]
    #[test_case(Origin::Stdout, "ERROR: Reconnecting... waiting for network", None; "not on the other stream")]
    #[test_case(Origin::Stderr, "\u{1b}[31mERROR: Reconnecting... waiting for network\u{1b}[0m", Some("t.net"); "colours removed")]
    #[test_case(Origin::Stdout, r#"{"type":"error","message":"stream disconnected: failed to lookup address information"}"#, Some("t.json_net"); "json error message")]
    #[test_case(Origin::Stdout, r#"{"type":"item.completed","item":{"text":"failed to lookup address information"}}"#, None; "the model quoting it is not evidence")]
    #[test_case(Origin::Stderr, "ERROR: Reconnecting... 2/5", None; "a rule not marked terminal never stops a run")]
    fn terminal_matches(origin: Origin, line: &str, expected: Option<&str>) {
        let set = rules();
        let terminal = terminal_rules(&set);
        assert_eq!(terminal.len(), 2);
        let kind = line_kind(line);
        let got = terminal_match(&terminal, origin, line, &kind).map(|(r, _)| r.id.clone());
        assert_eq!(got.as_deref(), expected);
    }

    #[test]
    fn a_long_result_line_is_read_from_its_prefix() {
        let long = format!(
            r#"{{"type":"result","subtype":"success","is_error":false,"num_turns":3,"result":"{}"#,
            "x".repeat(100)
        );
        assert_eq!(
            truncated_final(&long),
            Some(LineKind::Final {
                kind: "result.success".into(),
                ok: true
            })
        );
        let failed = r#"{"type":"result","subtype":"error_max_turns","is_error":true,"result":"#;
        assert_eq!(
            truncated_final(failed),
            Some(LineKind::Final {
                kind: "result.error_max_turns".into(),
                ok: false
            })
        );
        assert_eq!(truncated_final(r#"{"type":"assistant","message":"#), None);
        assert_eq!(
            truncated_final(r#"{"type":"result","result":"no verdict yet"#),
            None
        );
    }

    #[test]
    fn the_builtin_terminal_rules_parse_and_name_codex_network_failures() {
        let terminal = terminal_rules(RuleSet::builtin());
        let ids: Vec<&str> = terminal.iter().map(|r| r.id.as_str()).collect();
        assert!(ids.contains(&"codex.waiting_for_network"), "{ids:?}");
        let line = "ERROR: Reconnecting... waiting for network";
        let (rule, evidence) =
            terminal_match(&terminal, Origin::Stderr, line, &line_kind(line)).unwrap();
        assert_eq!(rule.class, crate::Class::NetworkUnavailable);
        assert_eq!(evidence, line);
    }
}
