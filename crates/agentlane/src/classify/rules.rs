//! Classifier rules: ordered data, built in and user supplied.
//!
//! The built-in rules live in `builtin_rules.toml` beside this file, one
//! `[[rule]]` per known message of Codex CLI, Claude Code, Gemini CLI and Qwen
//! Code, with the source of the message. A user rules file has the same shape;
//! a user rule with a built-in rule's id replaces it, `disabled = true`
//! removes it. Errors name the file, line and column.

use std::path::Path;
use std::sync::OnceLock;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use toml::Spanned;

use super::structured::StreamText;
use super::Observed;
use crate::class::Class;

/// The built-in rules file, compiled into the binary.
pub const BUILTIN_RULES: &str = include_str!("builtin_rules.toml");

/// Evidence lines are clipped to this many characters.
pub const EVIDENCE_MAX: usize = 400;

/// Which text a rule reads first. On a failed run a text rule also reads the
/// other stream, after its own: the stream is where a CLI prints the message,
/// not what it means. On a run that exited zero only its own stream counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Stdout lines that are not JSON events.
    Stdout,
    /// Stderr lines that are not JSON events.
    Stderr,
    /// Both of the above.
    Any,
    /// Error messages extracted from structured JSON events.
    Json,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique id, e.g. `claude.not_logged_in`.
    pub id: String,
    /// The class it assigns.
    pub class: Class,
    /// Built in (a CLI's own rule) or the operator's.
    pub layer: super::Layer,
    /// The text it reads.
    pub stream: Stream,
    /// The pattern (multi-line mode: `^`/`$` are line bounds), if any.
    pub pattern: Option<Pattern>,
    /// Exit codes it applies to; `None` = any failure or timeout.
    pub exit_codes: Option<Vec<i32>>,
    /// Signals it applies to (when the process died by a signal).
    pub signals: Option<Vec<i32>>,
    /// Lower runs first.
    pub order: i64,
    /// Hint template, overriding the class's default hint.
    pub hint: Option<String>,
    /// The wording relays a cause it does not name (codex's `stream
    /// disconnected before completion: <cause>`): when the generic layer
    /// finds a signal of another class in the same output, its verdict wins.
    pub relays_cause: bool,
    /// The outcome is known as soon as this rule matches a running child's
    /// line: the supervisor stops the tree after a short settle time instead
    /// of waiting for the CLI's own retries (`dispatch/watch.rs`).
    pub terminal: bool,
}

/// A rule's regex, compiled on first use: a dispatch that never needs a rule
/// never pays for compiling a hundred of them. User rules are compiled when
/// their file is read, so mistakes surface with their position.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    compiled: OnceLock<Option<Regex>>,
}

impl Pattern {
    fn build(source: &str) -> Result<Regex, regex::Error> {
        RegexBuilder::new(source).multi_line(true).build()
    }

    /// The compiled regex. Patterns are validated when their file is read,
    /// so `None` (a pattern that does not compile) means a rule that never matches.
    pub fn regex(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| Pattern::build(&self.source).ok())
            .as_ref()
    }

    /// The pattern's source text.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// A rule that matched, and the line that made it match.
#[derive(Debug)]
pub struct RuleMatch<'r> {
    /// The rule.
    pub rule: &'r Rule,
    /// The evidence line.
    pub evidence: String,
}

/// An error in a rules file, with its position.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct RulesError {
    /// The file (or `<builtin>`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    #[serde(default)]
    class: Option<Spanned<String>>,
    #[serde(default)]
    stream: Option<Spanned<String>>,
    #[serde(default)]
    pattern: Option<Spanned<String>>,
    #[serde(default)]
    exit_codes: Option<Vec<i32>>,
    #[serde(default)]
    signals: Option<Vec<i32>>,
    #[serde(default)]
    order: Option<i64>,
    #[serde(default)]
    hint: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    source: Option<String>,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    relays_cause: bool,
    #[serde(default)]
    terminal: bool,
}

/// The ordered rule set.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

fn position(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn error_at(file: &str, src: &str, offset: usize, message: String) -> RulesError {
    let (line, column) = position(src, offset);
    RulesError {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

/// Parsed rules before merging: (rule, disabled).
/// `eager`: compile patterns now (user files, so errors carry positions).
fn parse(
    file: &str,
    src: &str,
    eager: bool,
    layer: super::Layer,
) -> Result<Vec<(Rule, bool)>, RulesError> {
    let raw: RawFile = toml::from_str(src).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let message = match e.message().trim() {
            // The TOML parser names no reason for some inputs (a lone `\r`,
            // a NUL in a comment): say what it can be.
            "" => "invalid TOML here: a stray control character (a lone carriage return, a NUL), or a value missing or malformed (write key = \"text\")".to_string(),
            m => m.to_string(),
        };
        error_at(file, src, offset, message)
    })?;
    raw.rule
        .into_iter()
        .map(|r| compile(file, src, r, eager, layer))
        .collect()
}

fn compile(
    file: &str,
    src: &str,
    raw: RawRule,
    eager: bool,
    layer: super::Layer,
) -> Result<(Rule, bool), RulesError> {
    let at = |s: &Spanned<String>, msg: String| error_at(file, src, s.span().start, msg);
    let id = raw.id.get_ref().clone();
    if raw.disabled {
        let placeholder = Rule {
            id,
            class: Class::Ok,
            layer,
            stream: Stream::Any,
            pattern: None,
            exit_codes: None,
            signals: None,
            order: 0,
            hint: None,
            relays_cause: false,
            terminal: false,
        };
        return Ok((placeholder, true));
    }
    let class_spanned = raw
        .class
        .as_ref()
        .ok_or_else(|| at(&raw.id, format!("rule '{id}' has no `class`: add class = \"auth_unavailable\" (or another label from `agentlane explain --list`)")))?;
    let class: Class = class_spanned
        .get_ref()
        .parse()
        .map_err(|e: crate::class::UnknownClass| at(class_spanned, e.to_string()))?;
    let stream = match raw.stream.as_ref().map(|s| (s, s.get_ref().as_str())) {
        None | Some((_, "any")) => Stream::Any,
        Some((_, "stdout")) => Stream::Stdout,
        Some((_, "stderr")) => Stream::Stderr,
        Some((_, "json")) => Stream::Json,
        Some((s, other)) => {
            return Err(at(
                s,
                format!("unknown stream '{other}': use stdout, stderr, any or json"),
            ))
        }
    };
    let pattern = match &raw.pattern {
        Some(p) => {
            let compiled = OnceLock::new();
            if eager {
                let re = Pattern::build(p.get_ref())
                    .map_err(|e| at(p, format!("invalid pattern in rule '{id}': {e}")))?;
                let _ = compiled.set(Some(re));
            }
            Some(Pattern {
                source: p.get_ref().clone(),
                compiled,
            })
        }
        None => None,
    };
    if pattern.is_none() && raw.exit_codes.is_none() && raw.signals.is_none() {
        return Err(at(
            &raw.id,
            format!("rule '{id}' matches nothing: give it a `pattern`, `exit_codes` or `signals`"),
        ));
    }
    if raw.terminal && pattern.is_none() {
        return Err(at(
            &raw.id,
            format!("rule '{id}' is `terminal` but has no `pattern`: a running child has no exit code yet, so a terminal rule must name the line that ends the run"),
        ));
    }
    Ok((
        Rule {
            id,
            class,
            layer,
            stream,
            pattern,
            exit_codes: raw.exit_codes,
            signals: raw.signals,
            order: raw.order.unwrap_or(1000),
            hint: raw.hint,
            relays_cause: raw.relays_cause,
            terminal: raw.terminal,
        },
        false,
    ))
}

impl RuleSet {
    /// The built-in rules alone.
    #[allow(
        clippy::expect_used,
        reason = "the built-in rules file is parsed by a unit test"
    )]
    pub fn builtin() -> &'static RuleSet {
        static BUILTIN: OnceLock<RuleSet> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let parsed = parse("<builtin>", BUILTIN_RULES, false, super::Layer::Cli)
                .expect("built-in rules are valid (tested)");
            let mut set = RuleSet::default();
            set.merge(parsed);
            set
        })
    }

    /// Parses a rules document (`file` names it in errors) on top of `self`.
    pub fn with_document(&self, file: &str, src: &str) -> Result<RuleSet, RulesError> {
        let mut set = self.clone();
        set.merge(parse(file, src, true, super::Layer::User)?);
        Ok(set)
    }

    /// Reads a user rules file on top of `self`.
    pub fn with_file(&self, path: &Path) -> Result<RuleSet, RulesError> {
        let src = crate::input::read_text_capped(
            path,
            crate::input::MAX_CONFIG_FILE_BYTES,
            "the rules file",
        )
        .map_err(|e| RulesError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            message: e.to_string(),
        })?;
        self.with_document(&path.display().to_string(), &src)
    }

    fn merge(&mut self, parsed: Vec<(Rule, bool)>) {
        for (rule, disabled) in parsed {
            self.rules.retain(|r| r.id != rule.id);
            if !disabled {
                self.rules.push(rule);
            }
        }
        // Stable: equal orders keep file order, built-ins before user rules.
        self.rules.sort_by_key(|r| r.order);
    }

    /// The rules, in evaluation order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The first rule (in order) that applies and matches, with its evidence.
    pub fn first_match<'r>(
        &'r self,
        observed: &Observed<'_>,
        text: &StreamText,
    ) -> Option<RuleMatch<'r>> {
        self.rules
            .iter()
            .filter(|r| r.applies(observed))
            .find_map(|r| {
                r.evidence(observed, text)
                    .map(|evidence| RuleMatch { rule: r, evidence })
            })
    }
}

impl Rule {
    fn applies(&self, o: &Observed<'_>) -> bool {
        if let Some(signals) = &self.signals {
            return !o.timed_out && o.signal.is_some_and(|s| signals.contains(&s));
        }
        match (&self.exit_codes, o.exit_code) {
            (Some(codes), Some(code)) => codes.contains(&code),
            (Some(_), None) => false,
            // A run our timeout ended may still exit 0 (Gemini does on SIGTERM):
            // its tails are read all the same.
            (None, Some(code)) => code != 0 || o.timed_out,
            // Killed: only by our timeout do text rules get a say; a foreign
            // signal is a fact that outranks text.
            (None, None) => o.timed_out,
        }
    }

    fn evidence(&self, o: &Observed<'_>, text: &StreamText) -> Option<String> {
        let Some(pattern) = &self.pattern else {
            return Some(match (o.exit_code, o.signal) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(sig)) => format!("signal {sig}"),
                _ => "no exit status".into(),
            });
        };
        let re = pattern.regex()?;
        let in_text = |s: &str| {
            re.find_iter(s).last().map(|m| {
                let start = s[..m.start()].rfind('\n').map_or(0, |i| i + 1);
                let end = s[m.end()..].find('\n').map_or(s.len(), |i| m.end() + i);
                clip(s[start..end].trim())
            })
        };
        let in_json = |messages: &[String]| {
            messages
                .iter()
                .rev()
                .find(|m| re.is_match(m))
                .map(|m| clip(m))
        };
        let strict = |stdout: &str, stderr: &str, json: &[String]| match self.stream {
            Stream::Stdout => in_text(stdout),
            Stream::Stderr => in_text(stderr),
            Stream::Any => in_text(stderr).or_else(|| in_text(stdout)),
            Stream::Json => in_json(json),
        };
        let other = |stdout: &str, stderr: &str| match self.stream {
            Stream::Stdout => in_text(stderr),
            Stream::Stderr => in_text(stdout),
            Stream::Any | Stream::Json => None,
        };
        // On a run that exited zero a rule must match the CLI's own line
        // exactly, on its stream: never a bullet of the model's answer.
        let failed = o.exit_code != Some(0) || o.timed_out;
        let exact = strict(&text.stdout, &text.stderr, &text.json);
        if exact.is_some() || !failed {
            return exact;
        }
        // A failure: the same words with colours, log prefixes, bullets and
        // escaping removed, then on the other stream (the next version of
        // a CLI may print the message elsewhere, a wrapper may relay it).
        let n = text.normalized();
        let w = |s| super::structured::window(s, super::structured::TOLERANT_WINDOW);
        strict(&n.stdout, &n.stderr, &n.json)
            .or_else(|| other(w(&text.stdout), w(&text.stderr)))
            .or_else(|| other(&n.stdout, &n.stderr))
    }
}

/// Clips a line to [`EVIDENCE_MAX`] characters.
pub fn clip(line: &str) -> String {
    if line.chars().count() <= EVIDENCE_MAX {
        return line.to_string();
    }
    let mut out: String = line.chars().take(EVIDENCE_MAX).collect();
    out.push('…');
    out
}
