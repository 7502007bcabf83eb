//! The bodies a webhook receives, pure: agentlane's versioned JSON (its
//! fields documented in docs/alerts.md) and a Slack incoming-webhook body
//! (`text`, the fallback every client shows, plus blocks). Every string in a
//! body passes through the redactor before it leaves.

use serde_json::{json, Map, Value};

use super::Alert;
use crate::redact::Redactor;

/// The version of the JSON body; a field removed or changed in meaning bumps it.
pub const BODY_VERSION: u32 = 1;

/// Slack refuses a header over 150 characters and a section over 3000.
const SLACK_HEADER: usize = 150;
const SLACK_SECTION: usize = 3000;

/// The JSON body of `alert`: the common fields, then the variant's own.
/// `suppressed` counts alerts of its key the debounce held back before it;
/// `host` is the sending worker's host; `at` when it was raised.
pub fn json_body(
    alert: &Alert,
    suppressed: u64,
    host: &str,
    at: jiff::Timestamp,
    redactor: &Redactor,
) -> Value {
    let mut body = Map::new();
    body.insert("version".into(), json!(BODY_VERSION));
    body.insert("source".into(), json!("agentlane"));
    body.insert("kind".into(), json!(alert.kind().label()));
    body.insert("title".into(), json!(alert.title()));
    body.insert("class".into(), json!(alert.class().map(|c| c.label())));
    body.insert("hint".into(), json!(alert.hint()));
    body.insert("affected".into(), json!(alert.affected()));
    body.insert("key".into(), json!(alert.key()));
    body.insert("suppressed".into(), json!(suppressed));
    body.insert("see".into(), json!(alert.see()));
    body.insert("sent_by".into(), json!(host));
    body.insert("at".into(), json!(at.to_string()));
    body.insert("details".into(), Value::Object(alert.details()));
    let mut body = Value::Object(body);
    redact_strings(&mut body, redactor);
    body
}

/// The Slack body of `alert` (an incoming webhook's `text` and `blocks`).
pub fn slack_body(
    alert: &Alert,
    suppressed: u64,
    host: &str,
    at: jiff::Timestamp,
    redactor: &Redactor,
) -> Value {
    let title = alert.title();
    let class = alert.class().map(|c| c.label());
    let mut lines = Vec::new();
    if let Some(c) = &class {
        lines.push(format!("*Class:* `{c}`"));
    }
    lines.push(format!("*Hint:* {}", alert.hint()));
    lines.push(format!("*Affected:* {}", alert.affected()));
    if suppressed > 0 {
        lines.push(format!("*Suppressed since the last alert:* {suppressed}"));
    }
    if let Some(Value::String(e)) = alert.details().get("evidence") {
        lines.push(format!("*Evidence:* `{}`", e.replace('`', "'")));
    }
    let section = cut(&lines.join("\n"), SLACK_SECTION);
    let text = format!(
        "{title}{} — {}",
        class
            .as_ref()
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default(),
        alert.hint()
    );
    let mut body = json!({
        "text": cut(&text, SLACK_SECTION),
        "blocks": [
            { "type": "header", "text": { "type": "plain_text", "text": cut(&title, SLACK_HEADER) } },
            { "type": "section", "text": { "type": "mrkdwn", "text": section } },
            { "type": "context", "elements": [
                { "type": "mrkdwn", "text": cut(&format!("See more: `{}` · {host} · {at}", alert.see()), SLACK_SECTION) }
            ] }
        ]
    });
    redact_strings(&mut body, redactor);
    body
}

/// `s` cut to at most `max` characters (an ellipsis marks the cut).
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn redact_strings(v: &mut Value, redactor: &Redactor) {
    match v {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(r) = redactor.redact(s) {
                *s = r;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| redact_strings(v, redactor)),
        Value::Object(m) => m.values_mut().for_each(|v| redact_strings(v, redactor)),
        _ => {}
    }
}
