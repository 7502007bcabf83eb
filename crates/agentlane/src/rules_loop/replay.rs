//! A replay: the classifier re-run on what the store keeps of each dispatch,
//! with and without a rules file.

use serde::Serialize;
use serde_json::Value;

use crate::classify::structured::StreamText;
use crate::classify::{self, normalize, Classification, HintContext, Observed, RuleSet};

/// What a replay cannot see, for the operator.
pub const STORED_FACTS_NOTE: &str = "a replay re-runs the classifier on what the store keeps: exit code, signal, timeout, and the last 64 KiB of each stream read back from its artifact file (as the classifier read them) — or, where the artifact is gone, was cut at its cap or failed to write, the report's shorter tail, so a verdict decided by an older line may not be reproduced; route-specific rules files are not applied";

/// What the store keeps of a finished dispatch, enough to classify it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayable {
    /// The dispatch id.
    pub dispatch_id: String,
    /// The program as asked for.
    pub program: String,
    /// The working directory.
    pub cwd: String,
    /// The resolved executable.
    pub cli_path: Option<String>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Signal.
    pub signal: Option<i32>,
    /// Whether the timeout ended it.
    pub timed_out: bool,
    /// The stored stdout tail.
    pub stdout_tail: String,
    /// The stored stderr tail.
    pub stderr_tail: String,
    /// Whether stdout printed more than its stored tail.
    pub stdout_truncated: bool,
    /// Whether stderr printed more than its stored tail.
    pub stderr_truncated: bool,
    /// The verdict recorded when it ran: class label.
    pub stored_class: String,
    /// The verdict recorded when it ran: rule.
    pub stored_rule: String,
    /// The evidence line recorded when it ran.
    pub evidence: Option<String>,
}

/// A captured stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// The artifact files of a stored report that hold a stream whole: not cut
/// at the cap and never failed to write (only those end where the stream
/// ended, so their last bytes are what the classifier read). Pure.
pub fn whole_artifacts(report: &Value) -> Vec<(ArtifactStream, String)> {
    let failed = |name: &str| {
        report
            .get("artifact_errors")
            .and_then(Value::as_array)
            .is_some_and(|errors| {
                errors
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|e| e.starts_with(name))
            })
    };
    [
        (ArtifactStream::Stdout, "stdout"),
        (ArtifactStream::Stderr, "stderr"),
    ]
    .into_iter()
    .filter_map(|(stream, name)| {
        let cut = report
            .get(format!("{name}_artifact_truncated"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let path = report.get("artifacts")?.get(name)?.as_str()?;
        (!cut && !failed(name)).then(|| (stream, path.to_string()))
    })
    .collect()
}

/// Why a stored dispatch is not replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// Still running, or its worker was lost: no report.
    NoReport,
    /// Refused before launch (its verdict is a fact, not the classifier's).
    NotLaunched,
    /// Interrupted by agentlane's own signal (a fact, not the classifier's).
    Interrupted,
    /// The report lacks a field the replay needs.
    Unreadable,
}

impl Replayable {
    /// Reads a stored report (the JSON of `agentlane show --json`'s
    /// `report`). Pure.
    pub fn from_report(report: Option<&Value>) -> Result<Replayable, Skip> {
        let r = report.filter(|r| r.is_object()).ok_or(Skip::NoReport)?;
        let text = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
        let int = |k: &str| {
            r.get(k)
                .and_then(Value::as_i64)
                .and_then(|n| i32::try_from(n).ok())
        };
        let count = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
        if r.get("interrupted_by").is_some_and(|v| !v.is_null()) {
            return Err(Skip::Interrupted);
        }
        let exit_code = int("exit_code");
        let signal = int("signal");
        let timed_out = r.get("timed_out").and_then(Value::as_bool).unwrap_or(false);
        if exit_code.is_none() && signal.is_none() && !timed_out {
            return Err(Skip::NotLaunched);
        }
        let dispatch_id = text("dispatch_id").ok_or(Skip::Unreadable)?;
        let stdout_tail = text("stdout_tail").unwrap_or_default();
        let stderr_tail = text("stderr_tail").unwrap_or_default();
        Ok(Replayable {
            dispatch_id,
            program: text("program").unwrap_or_default(),
            cwd: text("cwd").unwrap_or_default(),
            cli_path: text("cli_path"),
            exit_code,
            signal,
            timed_out,
            stdout_truncated: count("stdout_bytes") > stdout_tail.len() as u64,
            stderr_truncated: count("stderr_bytes") > stderr_tail.len() as u64,
            stdout_tail,
            stderr_tail,
            stored_class: text("classifier").unwrap_or_default(),
            stored_rule: text("rule").unwrap_or_default(),
            evidence: text("evidence"),
        })
    }

    /// Puts back the longer tail the classifier read when the dispatch ran,
    /// read from a stream's artifact file by the caller: `tail` is the file's
    /// last bytes (at most [`crate::dispatch::CLASSIFY_TAIL`]), `truncated`
    /// whether the file is longer. A tail shorter than the stored one is
    /// ignored (the artifact was pruned or rewritten).
    pub fn widen(&mut self, stream: ArtifactStream, tail: &[u8], truncated: bool) {
        let text = String::from_utf8_lossy(tail).into_owned();
        let (stored, cut) = match stream {
            ArtifactStream::Stdout => (&mut self.stdout_tail, &mut self.stdout_truncated),
            ArtifactStream::Stderr => (&mut self.stderr_tail, &mut self.stderr_truncated),
        };
        if text.len() >= stored.len() && text.ends_with(stored.as_str()) {
            *stored = text;
            *cut = truncated;
        }
    }

    /// What the classifier observes of it.
    pub fn observed(&self) -> Observed<'_> {
        Observed {
            exit_code: self.exit_code,
            signal: self.signal,
            timed_out: self.timed_out,
            stdout_tail: self.stdout_tail.as_bytes(),
            stderr_tail: self.stderr_tail.as_bytes(),
            stdout_truncated: self.stdout_truncated,
            stderr_truncated: self.stderr_truncated,
        }
    }

    /// The facts a hint may name that the store kept.
    pub fn hint_context(&self) -> HintContext<'_> {
        HintContext {
            program: &self.program,
            cli_path: self.cli_path.as_deref(),
            cwd: &self.cwd,
            exit_code: self.exit_code,
            signal: self.signal,
            dispatch_id: &self.dispatch_id,
            ..HintContext::default()
        }
    }

    /// Classifies it with `rules`. Pure.
    pub fn classify(&self, rules: &RuleSet) -> Classification {
        classify::classify(&self.observed(), || rules, &self.hint_context())
    }

    /// The tails as the classifier splits them (text lines, JSON messages).
    pub(super) fn text(&self) -> StreamText {
        StreamText::split(
            self.stdout_tail.as_bytes(),
            self.stdout_truncated,
            self.stderr_tail.as_bytes(),
            self.stderr_truncated,
        )
    }

    /// Which streams' text lines (not JSON events) hold `line`, as printed
    /// or once normalised: (stdout, stderr).
    pub fn streams_holding(&self, line: &str) -> (bool, bool) {
        let wanted = normalize::line(line);
        let holds = |text: &str| {
            !wanted.is_empty()
                && text
                    .lines()
                    .any(|l| l.contains(line.trim()) || normalize::line(l).contains(&wanted))
        };
        let text = self.text();
        (holds(&text.stdout), holds(&text.stderr))
    }
}

impl Replayable {
    /// Whether an error message of the tails' JSON events holds `line`.
    pub fn json_holds(&self, line: &str) -> bool {
        let text = self.text();
        let line = line.trim();
        !line.is_empty() && text.json.iter().any(|m| m.contains(line))
    }
}

/// One verdict a rule file would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The dispatch.
    pub dispatch_id: String,
    /// Its program.
    pub program: String,
    /// The class without the file.
    pub before_class: String,
    /// The rule without the file.
    pub before_rule: String,
    /// The class with it.
    pub after_class: String,
    /// The rule with it.
    pub after_rule: String,
    /// The layer with it.
    pub after_layer: String,
    /// The evidence with it.
    pub after_evidence: Option<String>,
}

/// A replay's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Replay {
    /// Dispatches re-classified.
    pub replayed: usize,
    /// Verdicts that change, in the order given.
    pub changes: Vec<Change>,
    /// Dispatches whose verdict without the file already differs from the
    /// one recorded (the rules in force changed since they ran).
    pub drifted: usize,
}

/// Re-classifies each dispatch with `before` and with `after` and lists
/// the verdicts (class or rule) that differ. Pure.
pub fn replay(dispatches: &[Replayable], before: &RuleSet, after: &RuleSet) -> Replay {
    let mut out = Replay::default();
    for d in dispatches {
        out.replayed += 1;
        let old = d.classify(before);
        if old.class.label() != d.stored_class || old.rule != d.stored_rule {
            out.drifted += 1;
        }
        let new = d.classify(after);
        if old.class != new.class || old.rule != new.rule {
            out.changes.push(Change {
                dispatch_id: d.dispatch_id.clone(),
                program: d.program.clone(),
                before_class: old.class.label(),
                before_rule: old.rule,
                after_class: new.class.label(),
                after_rule: new.rule,
                after_layer: new.layer.label().to_string(),
                after_evidence: new.evidence,
            });
        }
    }
    out
}
