//! The ordered classifier itself: facts first (timeout, signal, exit
//! zero), then the layers of rules in order, first match wins.

use serde::{Deserialize, Serialize};

use crate::class::{Class, Layer};

use super::{generic, hint, reset, rules, structured, HintContext, RuleSet};

/// What the supervisor observed, with tails already redacted.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// Exit code, when the process exited.
    pub exit_code: Option<i32>,
    /// Signal number, when the process died by a signal.
    pub signal: Option<i32>,
    /// Whether the supervisor's timeout ended the run.
    pub timed_out: bool,
    /// The end of stdout.
    pub stdout_tail: &'a [u8],
    /// The end of stderr.
    pub stderr_tail: &'a [u8],
    /// Whether the stdout tail was cut (its first line may be partial).
    pub stdout_truncated: bool,
    /// Whether the stderr tail was cut (its first line may be partial).
    pub stderr_truncated: bool,
}

/// The classifier's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    /// The class.
    pub class: Class,
    /// The layer that decided it.
    #[serde(default)]
    pub layer: Layer,
    /// The id of the rule that matched, or a fact name (`fact.exit_zero`, ...).
    pub rule: String,
    /// The line that decided it (redacted), when text decided it.
    pub evidence: Option<String>,
    /// A concrete repair hint for this dispatch.
    pub repair_hint: String,
    /// Seconds the CLI asked to wait before retrying, when it said so (or
    /// until `reset_at`, when it gave only that).
    pub retry_after_secs: Option<u64>,
    /// When the usage or rate limit resets, as the CLI said (UTC; RFC 3339
    /// in JSON): set for `quota_exhausted` and `rate_limited` only.
    #[serde(default)]
    pub reset_at: Option<reset::ResetAt>,
}

/// Classes a timed-out run may be promoted to when its tails name the cause.
fn names_a_cause(class: Class) -> bool {
    !matches!(
        class,
        Class::Ok | Class::Timeout | Class::UnknownExit(_) | Class::KilledBySignal
    )
}

/// Classifies a finished run. Pure.
///
/// `rules` is called only when a rule could apply: a silent run that exited
/// zero never needs the rule set (loading it is the costliest step of a
/// trivial dispatch).
pub fn classify<'r>(
    observed: &Observed<'_>,
    rules: impl FnOnce() -> &'r RuleSet,
    ctx: &HintContext<'_>,
) -> Classification {
    let text = structured::StreamText::split(
        observed.stdout_tail,
        observed.stdout_truncated,
        observed.stderr_tail,
        observed.stderr_truncated,
    );
    let silent_success = observed.exit_code == Some(0)
        && !observed.timed_out
        && observed.stdout_tail.is_empty()
        && observed.stderr_tail.is_empty();
    let failed = matches!(observed.exit_code, Some(c) if c != 0) || observed.timed_out;
    // Layer 2: the CLIs' own rules and the operator's (rules that fire on an
    // exit zero list 0 among their exit codes).
    let matched = if silent_success {
        None
    } else {
        rules()
            .first_match(observed, &text)
            .filter(|m| !observed.timed_out || names_a_cause(m.rule.class))
            .map(|m| {
                // A wording that relays a cause (`stream disconnected before
                // completion: You exceeded your current quota`) yields to the
                // generic layer when it names another class in the output.
                let relayed = (m.rule.relays_cause && failed)
                    .then(|| generic::detect(&text, ctx.cwd, observed.exit_code))
                    .flatten()
                    .filter(|v| v.class != m.rule.class);
                match relayed {
                    Some(v) => (
                        v.class,
                        Layer::Generic,
                        v.rule.to_string(),
                        Some(v.evidence),
                        None,
                    ),
                    None => (
                        m.rule.class,
                        m.rule.layer,
                        m.rule.id.clone(),
                        Some(m.evidence),
                        m.rule.hint.clone(),
                    ),
                }
            })
    };
    // Layer 3: signals shared by every profile, for failures only: the words
    // of a run that exited zero are never evidence against it.
    let matched = matched.or_else(|| {
        if !failed || silent_success {
            return None;
        }
        generic::detect(&text, ctx.cwd, observed.exit_code).map(|v| {
            (
                v.class,
                Layer::Generic,
                v.rule.to_string(),
                Some(v.evidence),
                None,
            )
        })
    });
    // A run that exited zero whose CLI replaced its answer with its own
    // failure statement (a failed `result` event, or nothing on stdout but
    // Claude Code's or Qwen Code's `API Error:` line) did no work: the
    // statement is read by the generic layer; an unnamed one is still not ok.
    let matched = matched.or_else(|| {
        if observed.exit_code != Some(0) || observed.timed_out || silent_success {
            return None;
        }
        let statement = exit_zero_failure(&text)?;
        let only = structured::StreamText::split(b"", false, statement.as_bytes(), false);
        Some(match generic::detect(&only, ctx.cwd, Some(1)) {
            Some(v) => (
                v.class,
                Layer::Generic,
                v.rule.to_string(),
                Some(v.evidence),
                None,
            ),
            None => (
                Class::UnknownExit(0),
                Layer::Unknown,
                "fact.failed_exit_zero".to_string(),
                Some(rules::clip(statement.trim())),
                None,
            ),
        })
    });
    let (class, layer, rule, evidence, rule_hint) = match (observed, matched) {
        (_, Some(m)) => m,
        (
            Observed {
                timed_out: true, ..
            },
            _,
        ) => (
            Class::Timeout,
            Layer::Fact,
            "fact.timed_out".into(),
            None,
            None,
        ),
        (
            Observed {
                exit_code: Some(0), ..
            },
            _,
        ) => (Class::Ok, Layer::Fact, "fact.exit_zero".into(), None, None),
        (
            Observed {
                exit_code: Some(code),
                ..
            },
            _,
        ) => (
            Class::UnknownExit(*code),
            Layer::Unknown,
            "fact.unknown_exit".into(),
            last_line(&text),
            None,
        ),
        (
            Observed {
                signal: Some(_), ..
            },
            _,
        ) => (
            Class::KilledBySignal,
            Layer::Fact,
            "fact.signal".into(),
            None,
            None,
        ),
        _ => (
            Class::UnknownExit(-1),
            Layer::Unknown,
            "fact.no_status".into(),
            None,
            None,
        ),
    };
    let (reset_at, retry_after_secs) = waits(class, &text, ctx);
    let ctx = HintContext {
        evidence: evidence.as_deref(),
        retry_after_secs,
        ..*ctx
    };
    let repair_hint = match rule_hint {
        Some(template) => hint::render(&template, &ctx),
        None => hint::default_hint(class, &ctx),
    };
    Classification {
        class,
        layer,
        rule,
        evidence,
        repair_hint,
        retry_after_secs,
        reset_at,
    }
}

/// The wait the CLI asked for and the reset it named, for a class where a
/// retry waits (a rate limit, a quota, a transient or network failure).
fn waits(
    class: Class,
    text: &structured::StreamText,
    ctx: &HintContext<'_>,
) -> (Option<reset::ResetAt>, Option<u64>) {
    let retry_after_secs = matches!(
        class,
        Class::RateLimited | Class::QuotaExhausted | Class::TransientIo | Class::NetworkUnavailable
    )
    .then(|| hint::retry_after_secs(&text.all_text()))
    .flatten();
    reset::of_verdict(class, text, retry_after_secs, ctx)
}

/// Classifies a run the watchdog stopped because `rule` (a `terminal` rule)
/// matched one of its lines while it ran: the rule's class and hint, with
/// `evidence` saying so, and the wait or reset the tails name. Pure.
pub fn classify_by_rule(
    observed: &Observed<'_>,
    rule: &rules::Rule,
    evidence: String,
    ctx: &HintContext<'_>,
) -> Classification {
    let text = structured::StreamText::split(
        observed.stdout_tail,
        observed.stdout_truncated,
        observed.stderr_tail,
        observed.stderr_truncated,
    );
    let class = rule.class;
    let (reset_at, retry_after_secs) = waits(class, &text, ctx);
    let hint_ctx = HintContext {
        evidence: Some(&evidence),
        retry_after_secs,
        ..*ctx
    };
    let repair_hint = match &rule.hint {
        Some(template) => hint::render(template, &hint_ctx),
        None => hint::default_hint(class, &hint_ctx),
    };
    Classification {
        class,
        layer: rule.layer,
        rule: rule.id.clone(),
        evidence: Some(evidence),
        repair_hint,
        retry_after_secs,
        reset_at,
    }
}

/// The CLI's own failure statement on a run that exited zero, if it made one.
pub(super) fn exit_zero_failure(text: &structured::StreamText) -> Option<String> {
    if let Some(message) = &text.final_error {
        return Some(message.clone());
    }
    let out = text.stdout.trim();
    let one_line = !out.is_empty() && !out.contains('\n');
    (one_line && (out.starts_with("API Error:") || out.starts_with("[API Error:")))
        .then(|| out.to_string())
}

/// The last non-empty line of stderr, else stdout: the best evidence for an unknown exit.
fn last_line(text: &structured::StreamText) -> Option<String> {
    let pick = |s: &str| {
        s.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| rules::clip(l.trim()))
    };
    pick(&text.stderr)
        .or_else(|| text.json.last().map(|m| rules::clip(m)))
        .or_else(|| pick(&text.stdout))
}
