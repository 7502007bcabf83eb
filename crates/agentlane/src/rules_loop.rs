//! The rule loop: an unknown exit becomes a rule in one step.
//!
//! `agentlane rules suggest` turns a stored dispatch's evidence line into a
//! `[[rule]]` block ([`suggest`], [`generalize`]); `rules test` re-runs the
//! classifier over stored dispatches with and without a rule file and lists
//! the verdicts that change ([`replay`]); `rules add` appends a rule to the
//! operator's rules file after that replay ([`appended`]).
//!
//! Everything here is pure: the CLI reads the store and the files and hands
//! over their contents. A replay is [`crate::classify::classify`] re-run on
//! what the store keeps of a dispatch ([`Replayable::from_report`]): its exit
//! code, signal, timeout flag and stored tails. The store does not keep
//! everything the classifier saw when the dispatch ran: the tails it keeps
//! are the report's (the last `tail_bytes`, 4 KiB by default, of each
//! stream, where the classifier read up to 64 KiB), and the child's HOME and
//! PATH are not kept (they only fill in hint text, which a replay does not
//! compare). A verdict decided by a line older than the stored tail cannot
//! be reproduced; [`STORED_FACTS_NOTE`] says so to the operator.

use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

use crate::class::Class;
use crate::classify::structured::StreamText;
use crate::classify::{self, generic, normalize, Classification, HintContext, Observed, RuleSet};

/// What a replay cannot see, for the operator.
pub const STORED_FACTS_NOTE: &str = "a replay re-runs the classifier on what the store keeps: exit code, signal, timeout, and the last 64 KiB of each stream read back from its artifact file (as the classifier read them) — or, where the artifact is gone, was cut at its cap or failed to write, the report's shorter tail, so a verdict decided by an older line may not be reproduced; route-specific rules files are not applied";

/// The comment a new rules file starts with.
pub const HEADER: &str = "# agentlane classifier rules of this installation (`agentlane rules add` appends here).\n# Same shape as the built-in rules: a rule with a built-in id replaces it, `disabled = true` removes it.\n# Check a change before relying on it: `agentlane rules test THIS_FILE`.\n";

// ---------------------------------------------------------------------------
// Pattern generalisation
// ---------------------------------------------------------------------------

/// One kind of changing text and the regex that stands for it.
struct Variable {
    /// What it matches in the evidence line.
    find: &'static str,
    /// What a match becomes in the pattern (a regex); `None` rejects the
    /// match, whose text is then read by the variables after this one.
    with: fn(&str) -> Option<String>,
}

/// Changing parts of a message, tried left to right (the leftmost match
/// wins; at one position the first in this list).
const VARIABLES: &[Variable] = &[
    // quoted values: the quotes stay, what is between them changes (an
    // apostrophe inside a word opens nothing)
    Variable {
        find: r#"(?:^|\B)"[^"]*""#,
        with: |_| Some(r#"".*?""#.to_string()),
    },
    Variable {
        find: r"(?:^|\B)'[^']*'",
        with: |_| Some(r"'.*?'".to_string()),
    },
    Variable {
        find: r"`[^`]*`",
        with: |_| Some(r"`.*?`".to_string()),
    },
    // URLs
    Variable {
        find: r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'`]+",
        with: |_| Some(r"\S+".to_string()),
    },
    // timestamps (ISO 8601, with or without a time and a zone)
    Variable {
        find: r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b",
        with: |_| Some(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.,]+)?(?:Z|[+-][\d:]+)?".to_string()),
    },
    Variable {
        find: r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b",
        with: |_| Some(r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?".to_string()),
    },
    // UUIDs
    Variable {
        find: r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
        with: |_| Some(r"[0-9a-fA-F-]{36}".to_string()),
    },
    // absolute, home-relative and dot-relative paths (not `HTTP/1.1`, `and/or`)
    Variable {
        find: r"(?:^|\B)(?:~|\.{1,2})?/[^\s'`,;()\[\]{}<>]+",
        with: |_| Some(r"\S+".to_string()),
    },
    // hex: 0x…, and runs of 7+ hex digits with a digit and a letter (hashes, ids)
    Variable {
        find: r"\b0x[0-9a-fA-F]+\b",
        with: |_| Some(r"0x[0-9a-fA-F]+".to_string()),
    },
    Variable {
        find: r"\b[0-9a-fA-F]{7,}\b",
        with: |s| {
            let digit = s.chars().any(|c| c.is_ascii_digit());
            let letter = s.chars().any(|c| c.is_ascii_alphabetic());
            (digit && letter).then(|| r"[0-9a-fA-F]+".to_string())
        },
    },
    // versions
    Variable {
        find: r"\bv\d+(?:\.\d+)+\b",
        with: |_| Some(r"v\d+(?:\.\d+)+".to_string()),
    },
    // long ids of letters and digits (`req_011CT8Wq9xYz`, `chatcmpl-9xYzAb12`);
    // a short one (`GW-4031`) keeps its letters
    Variable {
        find: r"\b[A-Za-z][A-Za-z0-9]*(?:[_-][A-Za-z0-9]+)*\d[A-Za-z0-9_-]*\b",
        with: |s| {
            let mixed = s.chars().any(|c| c.is_ascii_alphabetic());
            (mixed && s.len() >= 12).then(|| r"[\w-]+".to_string())
        },
    },
    // durations (`30s`, `2h13m`, `500ms`)
    Variable {
        find: r"\b(?:\d+(?:\.\d+)?(?:ms|[smhd]))+\b",
        with: |_| Some(r"(?:[\d.]+(?:ms|[smhd]))+".to_string()),
    },
    // an HTTP error status is part of the meaning: kept as it is
    Variable {
        find: r"\b[45]\d\d\b",
        with: |s| Some(regex::escape(s)),
    },
    // any other number
    Variable {
        find: r"\b\d+(?:[.,]\d+)*\b",
        with: |s| {
            Some(if s.contains(['.', ',']) {
                r"[\d.,]+".to_string()
            } else {
                r"\d+".to_string()
            })
        },
    },
];

/// For each `i`, the alternation of `VARIABLES[i..]`.
#[allow(
    clippy::expect_used,
    reason = "constant patterns, compiled by the unit tests"
)]
fn variables_from(i: usize) -> Option<&'static Regex> {
    static RES: OnceLock<Vec<Regex>> = OnceLock::new();
    RES.get_or_init(|| {
        (0..VARIABLES.len())
            .map(|from| {
                let alternation: Vec<String> = VARIABLES[from..]
                    .iter()
                    .map(|v| format!("({})", v.find))
                    .collect();
                Regex::new(&alternation.join("|")).expect("the variable patterns compile")
            })
            .collect()
    })
    .get(i)
}

/// The evidence line as a rule reads it: without the `…` of a clipped line,
/// and with its dress (colours, log prefixes, bullets, escaping) removed —
/// the classifier removes the same dress before it retries a rule.
pub fn stable_line(evidence: &str) -> String {
    let clipped = evidence.chars().count() > crate::classify::rules::EVIDENCE_MAX;
    let line = match evidence.strip_suffix('…') {
        Some(rest) if clipped => rest,
        _ => evidence,
    };
    normalize::line(line)
}

/// Literal text: escaped, each run of blanks `\s+`.
fn push_literal(out: &mut String, text: &str) {
    let mut blank = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !blank {
                out.push_str(r"\s+");
            }
            blank = true;
        } else {
            blank = false;
            if r"\.+*?()|[]{}^$".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
}

/// `text` with the variables from `from` on replaced.
fn render(out: &mut String, text: &str, from: usize) {
    let Some(re) = variables_from(from) else {
        push_literal(out, text);
        return;
    };
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let Some(whole) = caps.get(0) else { continue };
        push_literal(out, &text[last..whole.start()]);
        let which = (1..caps.len())
            .find(|i| caps.get(*i).is_some())
            .unwrap_or(1)
            - 1
            + from;
        match VARIABLES.get(which).and_then(|v| (v.with)(whole.as_str())) {
            Some(wild) => out.push_str(&wild),
            None => render(out, whole.as_str(), which + 1),
        }
        last = whole.end();
    }
    push_literal(out, &text[last..]);
}

/// A regex for an evidence line's stable part: numbers, ids, timestamps,
/// paths, hex, URLs and quoted values become wildcards (an HTTP error status
/// stays: it is part of the meaning), runs of blanks `\s+`, the rest is
/// escaped literally; anchored at the start of the normalised line (the
/// classifier retries a rule on normalised lines), open at its end. Pure.
pub fn generalize(evidence: &str) -> String {
    let line = stable_line(evidence);
    let mut out = String::from("^");
    render(&mut out, &line, 0);
    out
}

/// The lowercase words of a line's stable text, joined by `_` (at most
/// five words, 40 characters): `upstream_gateway_rejected_the_session`.
pub fn slug(evidence: &str) -> String {
    let line = stable_line(evidence);
    let literal = match variables_from(0) {
        Some(re) => re.replace_all(&line, " ").into_owned(),
        None => line,
    };
    let mut out = String::new();
    for word in literal
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() > 1 && w.chars().any(|c| c.is_ascii_alphabetic()))
        .take(5)
    {
        let word = word.to_ascii_lowercase();
        if out.len() + word.len() + 1 > 40 {
            break;
        }
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(&word);
    }
    if out.is_empty() {
        out.push_str("failure");
    }
    out
}

/// A rule id for a program's message: `user.<program>_<slug>`, made unique
/// against `taken` with a `_2`, `_3`… suffix. Pure.
pub fn rule_id(program: &str, evidence: &str, taken: &dyn Fn(&str) -> bool) -> String {
    let base = program.rsplit('/').next().unwrap_or(program);
    let program: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let program = program.trim_matches('_');
    let program = if program.is_empty() { "cli" } else { program };
    let id = format!("user.{program}_{}", slug(evidence));
    if !taken(&id) {
        return id;
    }
    (2..)
        .map(|n| format!("{id}_{n}"))
        .find(|candidate| !taken(candidate))
        .unwrap_or(id)
}

// ---------------------------------------------------------------------------
// A rule as the operator's file holds it
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------

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
    fn text(&self) -> StreamText {
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

// ---------------------------------------------------------------------------
// Suggestion
// ---------------------------------------------------------------------------

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

#[cfg(test)]
mod tests;
