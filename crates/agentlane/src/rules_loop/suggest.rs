//! Suggesting a rule from a dispatch that stayed unknown: its evidence
//! line, the class it should be, and a pattern that matches it.

use crate::class::Class;
use crate::classify::structured::StreamText;
use crate::classify::{generic, RuleSet};
use serde::Serialize;

use super::*;

/// The comment a new rules file starts with.
pub const HEADER: &str = "# agentlane classifier rules of this installation (`agentlane rules add` appends here).\n# Same shape as the built-in rules: a rule with a built-in id replaces it, `disabled = true` removes it.\n# Check a change before relying on it: `agentlane rules test THIS_FILE`.\n";

/// Where a suggested rule's class came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "from")]
pub enum ClassFrom {
    /// The operator passed it.
    Given,
    /// The generic layer's verdict on the evidence line alone.
    Generic {
        /// The generic signal's id.
        signal: String,
    },
}

/// A proposed rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// The rule.
    pub rule: RuleSpec,
    /// Where its class came from.
    pub class_from: ClassFrom,
}

/// Why no rule can be proposed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuggestError {
    /// The dispatch printed no line to match.
    #[error("dispatch {0} has no evidence line (it printed nothing the classifier could quote): a text rule needs a line; write an `exit_codes` rule by hand instead (docs/runbook.md, \"Adding a rule for a new unknown exit\")")]
    NoEvidence(String),
    /// No class was given and the generic layer names none.
    #[error("no class for \"{evidence}\": the generic layer names none for this line, so pass the cause's class with --class (e.g. --class network_unavailable; the labels: `agentlane explain --list`)")]
    NoClass {
        /// The evidence line.
        evidence: String,
    },
}

/// Proposes a rule for a stored dispatch: its evidence line generalised,
/// `class` or else the generic layer's verdict on that line, a stream only
/// when the line appeared on one stream only, the exit code when it is not
/// 1, and the dispatch as its source. `taken` says which ids exist. Pure.
pub fn suggest(
    d: &Replayable,
    class: Option<Class>,
    id: Option<String>,
    taken: &dyn Fn(&str) -> bool,
) -> Result<Suggestion, SuggestError> {
    let evidence = d
        .evidence
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty() && !e.starts_with("exit code ") && !e.starts_with("signal "))
        .ok_or_else(|| SuggestError::NoEvidence(d.dispatch_id.clone()))?;
    let (class, class_from) = match class {
        Some(c) => (c, ClassFrom::Given),
        None => {
            let only = StreamText::split(b"", false, evidence.as_bytes(), false);
            let verdict =
                generic::detect(&only, &d.cwd, d.exit_code.or(Some(1))).ok_or_else(|| {
                    SuggestError::NoClass {
                        evidence: evidence.to_string(),
                    }
                })?;
            (
                verdict.class,
                ClassFrom::Generic {
                    signal: verdict.rule.to_string(),
                },
            )
        }
    };
    let stream = match d.streams_holding(evidence) {
        (true, false) => Some("stdout".to_string()),
        (false, true) => Some("stderr".to_string()),
        (true, true) => None,
        // Not a text line: the message of a JSON error event, which text
        // rules never read.
        (false, false) if d.json_holds(evidence) => Some("json".to_string()),
        (false, false) => None,
    };
    let id = id.unwrap_or_else(|| rule_id(&d.program, evidence, taken));
    Ok(Suggestion {
        rule: RuleSpec {
            id,
            class: class.label(),
            stream,
            pattern: generalize(evidence),
            exit_code: d.exit_code.filter(|c| *c != 1),
            hint: None,
            source: Some(format!("dispatch {}", d.dispatch_id)),
            evidence: Some(evidence.to_string()),
        },
        class_from,
    })
}

/// Whether `rule` (compiled alone) matches the dispatch it came from.
/// Pure.
pub fn matches_dispatch(rule: &RuleSet, d: &Replayable) -> bool {
    rule.first_match(&d.observed(), &d.text()).is_some()
}
