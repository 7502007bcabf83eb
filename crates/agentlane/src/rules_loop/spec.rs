//! A rule as the operator's rules file holds it, and the file with one more.

use serde::Serialize;

use super::HEADER;
use crate::classify::{self, RuleSet};

/// One `[[rule]]` block to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSpec {
    /// Its id.
    pub id: String,
    /// Its class label.
    pub class: String,
    /// `stdout`, `stderr`, `any` or `json`; `None` leaves the default (any).
    pub stream: Option<String>,
    /// The regex.
    pub pattern: String,
    /// The exit code it is limited to, when not "any failure".
    pub exit_code: Option<i32>,
    /// A hint template.
    pub hint: Option<String>,
    /// Where it came from (`dispatch <id>`).
    pub source: Option<String>,
    /// The line it was written from (a comment above the block).
    pub evidence: Option<String>,
}

/// A TOML string: a literal string (`'…'`, no escaping: regexes stay
/// readable) when it can be one, else a basic string.
fn toml_string(s: &str) -> String {
    if !s.contains('\'') && !s.chars().any(char::is_control) {
        return format!("'{s}'");
    }
    toml::Value::String(s.to_string()).to_string()
}

impl RuleSpec {
    /// The `[[rule]]` block, ending with a newline.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        if let Some(evidence) = &self.evidence {
            let one_line: String = evidence
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            out.push_str(&format!("# written from: {one_line}\n"));
        }
        out.push_str("[[rule]]\n");
        out.push_str(&format!("id = {}\n", toml::Value::String(self.id.clone())));
        out.push_str(&format!(
            "class = {}\n",
            toml::Value::String(self.class.clone())
        ));
        if let Some(stream) = &self.stream {
            out.push_str(&format!(
                "stream = {}\n",
                toml::Value::String(stream.clone())
            ));
        }
        out.push_str(&format!("pattern = {}\n", toml_string(&self.pattern)));
        if let Some(code) = self.exit_code {
            out.push_str(&format!("exit_codes = [{code}]\n"));
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!("hint = {}\n", toml::Value::String(hint.clone())));
        }
        if let Some(source) = &self.source {
            out.push_str(&format!(
                "source = {}\n",
                toml::Value::String(source.clone())
            ));
        }
        out
    }

    /// The rule compiled on its own (its errors name `<rule>` with line and
    /// column of [`Self::to_toml`], and a bad regex its position).
    pub fn compile(&self) -> Result<RuleSet, classify::RulesError> {
        RuleSet::default().with_document("<rule>", &self.to_toml())
    }
}

/// The ids of the rules a rules document defines (none when it does not parse).
pub fn rule_ids(doc: &str) -> Vec<String> {
    let Ok(value) = doc.parse::<toml::Table>() else {
        return Vec::new();
    };
    value
        .get("rule")
        .and_then(|r| r.as_array())
        .map(|rules| {
            rules
                .iter()
                .filter_map(|r| r.get("id").and_then(|id| id.as_str()).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A rules file with `block` appended: the [`HEADER`] first when there was
/// no file, a blank line between blocks. Pure.
pub fn appended(existing: Option<&str>, block: &str) -> String {
    let mut out = match existing {
        Some(text) if !text.trim().is_empty() => text.to_string(),
        Some(_) | None => HEADER.to_string(),
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push('\n');
    out.push_str(block);
    out
}
