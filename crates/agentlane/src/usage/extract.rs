//! The usage an attempt reported, read from its CLI's structured output.
//!
//! The shapes, each checked against the CLI's source (fixtures and their
//! sources in `crates/agentlane/tests/data/agent-formats/README.md`):
//! - Claude Code (`-p --output-format json | stream-json`): the final
//!   `result` object's `usage` (uncached, cache-creation and cache-read input,
//!   output), `total_cost_usd`, `num_turns`, and `modelUsage` per model.
//! - Qwen Code (`--output-format json | stream-json`): the same `result`
//!   object (the JSON mode prints all events as one array line); its
//!   `usage.input_tokens` already counts cached input, and it has no cost.
//! - Codex CLI (`exec --json`): one `turn.completed` per turn, each with
//!   `usage {input_tokens, cached_input_tokens, output_tokens}`: summed.
//! - Gemini CLI (`--output-format json`): one pretty-printed document whose
//!   `stats.models.<model>.tokens` are summed across models; with
//!   `stream-json`, the `result` event's `stats`.
//!
//! Only whole JSON values are read — lines that are JSON objects or arrays,
//! and Gemini's document from its opening `{` line — never the text around
//! them, so an answer that quotes numbers cannot count.

use serde_json::{Map, Value};

use crate::model::Usage;

/// The usage reported in an attempt's captured output, if any: a final
/// `result` event (Claude Code, Qwen Code, Gemini's stream) first, else the
/// sum of Codex's `turn.completed` events, else Gemini's JSON document.
///
/// A tail cut at its start needs no care: the rest of a cut line is never
/// a whole JSON value (its nesting leaves closers behind), so it is skipped
/// like any text.
pub fn extract(stdout: &[u8], stderr: &[u8]) -> Option<Usage> {
    let mut seen = Seen::default();
    for tail in [stdout, stderr] {
        for line in String::from_utf8_lossy(tail).lines() {
            seen.line(line);
        }
    }
    let mut usage = seen
        .result
        .or(seen.codex)
        .or_else(|| gemini_document(&String::from_utf8_lossy(stdout)))?;
    if usage.model.is_none() {
        usage.model = seen.init_model;
    }
    Some(usage)
}

/// What the events of one attempt said, as they were read.
#[derive(Default)]
struct Seen {
    /// The last `result` event's usage.
    result: Option<Usage>,
    /// Codex's turns, summed.
    codex: Option<Usage>,
    /// The model an `init` event named.
    init_model: Option<String>,
}

impl Seen {
    fn line(&mut self, line: &str) {
        let trimmed = line.trim();
        if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
            return;
        }
        // Most events carry no usage: skip parsing them.
        if !["usage", "stats", "init"]
            .iter()
            .any(|w| trimmed.contains(w))
        {
            return;
        }
        match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(event)) => self.event(&event),
            Ok(Value::Array(events)) => {
                for event in events.iter().filter_map(Value::as_object) {
                    self.event(event);
                }
            }
            _ => {}
        }
    }

    fn event(&mut self, e: &Map<String, Value>) {
        match e.get("type").and_then(Value::as_str) {
            Some("result") => {
                if let Some(u) = result_usage(e) {
                    self.result = Some(u);
                }
            }
            Some("turn.completed") => {
                if let Some(u) = e.get("usage").and_then(Value::as_object) {
                    let turn = Usage {
                        input_tokens: count(u, "input_tokens"),
                        output_tokens: count(u, "output_tokens"),
                        cached_tokens: count(u, "cached_input_tokens"),
                        turns: Some(1),
                        ..Usage::default()
                    };
                    match &mut self.codex {
                        Some(total) => total.add(&turn),
                        None => self.codex = Some(turn),
                    }
                }
            }
            // Claude's and Qwen's `system`/`init`, Gemini's stream `init`.
            Some("system" | "init") => {
                let init = e.get("subtype").and_then(Value::as_str).unwrap_or("init");
                if init == "init" {
                    if let Some(m) = e.get("model").and_then(Value::as_str) {
                        self.init_model = Some(m.to_string());
                    }
                }
            }
            _ => {}
        }
    }
}

/// A `result` event's usage: Claude's or Qwen's `usage`, or Gemini's stream
/// `stats`.
fn result_usage(e: &Map<String, Value>) -> Option<Usage> {
    if let Some(u) = e.get("usage").and_then(Value::as_object) {
        let read = count(u, "cache_read_input_tokens");
        // Claude counts uncached input apart from the cache's (and always
        // writes `cache_creation_input_tokens`); Qwen's input includes it.
        let input = if u.contains_key("cache_creation_input_tokens") {
            count(u, "input_tokens")
                .saturating_add(count(u, "cache_creation_input_tokens"))
                .saturating_add(read)
        } else {
            count(u, "input_tokens")
        };
        let models = e.get("modelUsage").and_then(Value::as_object);
        return Some(Usage {
            input_tokens: input,
            output_tokens: count(u, "output_tokens"),
            cached_tokens: read,
            cost_usd: e.get("total_cost_usd").and_then(dollars),
            model: models.and_then(|m| {
                largest(m, |v| {
                    [
                        "inputTokens",
                        "outputTokens",
                        "cacheReadInputTokens",
                        "cacheCreationInputTokens",
                    ]
                    .iter()
                    .fold(0u64, |a, k| a.saturating_add(count(v, k)))
                })
            }),
            turns: e.get("num_turns").and_then(Value::as_u64),
        });
    }
    let s = e.get("stats").and_then(Value::as_object)?;
    if !s.contains_key("input_tokens") {
        return None;
    }
    Some(Usage {
        input_tokens: count(s, "input_tokens"),
        output_tokens: count(s, "output_tokens"),
        cached_tokens: count(s, "cached"),
        model: s
            .get("models")
            .and_then(Value::as_object)
            .and_then(|m| largest(m, |v| count(v, "total_tokens"))),
        ..Usage::default()
    })
}

/// Gemini's `--output-format json` document: the last line that is a lone
/// `{` (the document's root: nested objects are indented) to its end.
fn gemini_document(stdout: &str) -> Option<Usage> {
    let start = if stdout.starts_with("{\n") || stdout.starts_with("{\r\n") {
        Some(0)
    } else {
        None
    };
    let start = stdout
        .rmatch_indices("\n{\n")
        .chain(stdout.rmatch_indices("\n{\r\n"))
        .map(|(i, _)| i + 1)
        .max()
        .or(start)?;
    let doc = serde_json::Deserializer::from_str(&stdout[start..])
        .into_iter::<Value>()
        .next()?
        .ok()?;
    let models = doc.get("stats")?.get("models")?.as_object()?;
    let mut usage = Usage::default();
    for v in models.values().filter_map(Value::as_object) {
        let Some(t) = v.get("tokens").and_then(Value::as_object) else {
            continue;
        };
        usage.input_tokens = usage.input_tokens.saturating_add(count(t, "prompt"));
        usage.output_tokens = usage
            .output_tokens
            .saturating_add(count(t, "candidates"))
            .saturating_add(count(t, "thoughts"));
        usage.cached_tokens = usage.cached_tokens.saturating_add(count(t, "cached"));
    }
    usage.model = largest(models, |v| {
        v.get("tokens")
            .and_then(Value::as_object)
            .map_or(0, |t| count(t, "total"))
    });
    Some(usage)
}

/// No attempt uses more tokens than this (a trillion): a larger count is
/// capped, so sums over millions of attempts still fit the stores' 64-bit
/// integers.
pub const MAX_TOKENS: u64 = 1 << 40;

/// A token count: a non-negative integer (at most [`MAX_TOKENS`]), else 0.
fn count(obj: &Map<String, Value>, key: &str) -> u64 {
    obj.get(key)
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(MAX_TOKENS)
}

/// A reported cost: a finite, non-negative number.
fn dollars(v: &Value) -> Option<f64> {
    v.as_f64().filter(|d| d.is_finite() && *d >= 0.0)
}

/// The name of the model that used the most tokens (ties: the first name).
fn largest(
    models: &Map<String, Value>,
    size: impl Fn(&Map<String, Value>) -> u64,
) -> Option<String> {
    let mut best: Option<(&String, u64)> = None;
    for (name, v) in models {
        let n = v.as_object().map_or(0, &size);
        if best.is_none_or(|(_, b)| n > b) {
            best = Some((name, n));
        }
    }
    best.map(|(name, _)| name.clone())
}
