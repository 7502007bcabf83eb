//! Exit 0 is not proof of work: what a successful run must show.
//!
//! A CLI that exits zero may have done nothing: a result with zero turns, a
//! reply saying no prompt reached it, an answer that does not say what the
//! job asked for, a work tree left unchanged. A route may declare what
//! success looks like (its *success contract*); a run that exits zero but
//! breaks it is `empty_success`, not `ok`. Some emptiness is known without a
//! contract (the built-in checks): a final result reporting zero turns, or
//! zero output tokens at zero cost.
//!
//! The facts come from the CLI's structured events first (Claude Code's and
//! Qwen Code's `result`, Codex's `item.completed` agent message and
//! `turn.completed`, Gemini CLI's JSON document with its `response`), and
//! from the plain stdout only when the CLI printed no events. Pure: the
//! dispatcher gathers the two facts that need the file system (the work
//! tree's status, a file's existence) and passes them in.

use regex::Regex;
use serde_json::Value;

/// What a route says a successful run must show. Every check that is set
/// must hold.
#[derive(Debug, Clone, Default)]
pub struct SuccessContract {
    /// The final message must match this regex.
    pub output_matches: Option<Regex>,
    /// The final message (the CLI's result) must not be empty.
    pub non_empty_result: bool,
    /// At least this many turns (when the CLI reports turns).
    pub min_turns: Option<u64>,
    /// `git status --porcelain` in the working directory must not be empty.
    pub changed_worktree: bool,
    /// This file (relative to the working directory) must exist afterwards.
    pub file_exists: Option<std::path::PathBuf>,
}

impl SuccessContract {
    /// Whether the contract checks anything.
    pub fn is_empty(&self) -> bool {
        self.output_matches.is_none()
            && !self.non_empty_result
            && self.min_turns.is_none()
            && !self.changed_worktree
            && self.file_exists.is_none()
    }
}

/// What a finished run reported about its own work.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFacts {
    /// The final message: the result text, the last agent message, the
    /// response, or (without events) the plain stdout.
    pub final_message: Option<String>,
    /// Where it came from (`result`, `item.completed`, `response`, `stdout`).
    pub source: Option<&'static str>,
    /// Turns, as the CLI reported them.
    pub turns: Option<u64>,
    /// Cost in USD, as the CLI reported it.
    pub cost_usd: Option<f64>,
    /// Output tokens, as the CLI reported them.
    pub output_tokens: Option<u64>,
}

/// Reads the run's own account of its work from its stdout tail.
pub fn run_facts(stdout: &[u8], truncated: bool) -> RunFacts {
    let text = String::from_utf8_lossy(stdout);
    let mut facts = RunFacts::default();
    // Gemini CLI's `--output-format json`: one (pretty-printed) document.
    let whole = text.trim();
    if !truncated && whole.starts_with('{') && whole.contains('\n') {
        if let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(whole) {
            if let Some(response) = doc.get("response") {
                facts.final_message = Some(response.as_str().unwrap_or("").to_string());
                facts.source = Some("response");
                facts.output_tokens = gemini_output_tokens(&doc);
                return facts;
            }
        }
    }
    let mut lines = text.lines();
    if truncated {
        lines.next();
    }
    let mut plain = String::new();
    let mut events = false;
    let mut codex_turns = 0u64;
    for line in lines {
        let trimmed = line.trim();
        let event = trimmed
            .starts_with('{')
            .then(|| serde_json::from_str::<Value>(trimmed).ok())
            .flatten()
            .filter(Value::is_object);
        let Some(event) = event else {
            plain.push_str(line);
            plain.push('\n');
            continue;
        };
        events = true;
        let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "result" => {
                facts.final_message = Some(
                    event
                        .get("result")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                );
                facts.source = Some("result");
                facts.turns = event.get("num_turns").and_then(Value::as_u64);
                facts.cost_usd = event.get("total_cost_usd").and_then(Value::as_f64);
                facts.output_tokens = event
                    .get("usage")
                    .and_then(|u| u.get("output_tokens"))
                    .and_then(Value::as_u64);
            }
            "item.completed" => {
                let item = event.get("item");
                let is_message = item
                    .and_then(|i| i.get("type"))
                    .and_then(Value::as_str)
                    .is_some_and(|t| t == "agent_message" || t == "assistant_message");
                if is_message {
                    facts.final_message = Some(
                        item.and_then(|i| i.get("text"))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    );
                    facts.source = Some("item.completed");
                }
            }
            "turn.completed" => {
                codex_turns += 1;
                let out = event
                    .get("usage")
                    .and_then(|u| u.get("output_tokens"))
                    .and_then(Value::as_u64);
                if let Some(out) = out {
                    facts.output_tokens = Some(facts.output_tokens.unwrap_or(0) + out);
                }
            }
            _ => {}
        }
    }
    if codex_turns > 0 && facts.turns.is_none() {
        facts.turns = Some(codex_turns);
    }
    if !events {
        let out = plain.trim();
        facts.final_message = Some(out.to_string());
        facts.source = Some("stdout");
    }
    facts
}

fn gemini_output_tokens(doc: &serde_json::Map<String, Value>) -> Option<u64> {
    let models = doc.get("stats")?.get("models")?.as_object()?;
    let mut total = None;
    for m in models.values() {
        if let Some(n) = m
            .get("tokens")
            .and_then(|t| t.get("candidates"))
            .and_then(Value::as_u64)
        {
            total = Some(total.unwrap_or(0) + n);
        }
    }
    total
}

/// What the file system says, gathered by the dispatcher for the contract.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeFacts {
    /// Whether `git status --porcelain` printed anything (`None`: not asked,
    /// or not a git work tree).
    pub worktree_changed: Option<bool>,
    /// Whether the contract's file exists (`None`: not asked).
    pub file_exists: Option<bool>,
}

/// Why a run that exited zero did no work: the evidence line, and the rule
/// id (`fact.empty_result.*` built in, `contract.*` from the route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// The rule: which check failed.
    pub rule: &'static str,
    /// What was seen, as one line.
    pub evidence: String,
}

/// The built-in checks, then the route's contract; the first that fails.
pub fn judge(
    facts: &RunFacts,
    contract: Option<&SuccessContract>,
    tree: TreeFacts,
) -> Option<Broken> {
    if facts.source == Some("result") && facts.turns == Some(0) {
        return Some(Broken {
            rule: "fact.empty_result.zero_turns",
            evidence: "the CLI's result reports 0 turns: the model never ran".into(),
        });
    }
    if facts.source == Some("result")
        && facts.cost_usd == Some(0.0)
        && facts.output_tokens == Some(0)
    {
        return Some(Broken {
            rule: "fact.empty_result.zero_cost",
            evidence: "the CLI's result reports 0 output tokens at $0: nothing was generated"
                .into(),
        });
    }
    let c = contract?;
    let message = facts.final_message.as_deref().unwrap_or("");
    let from = facts.source.unwrap_or("output");
    if c.non_empty_result && message.trim().is_empty() {
        return Some(Broken {
            rule: "contract.non_empty_result",
            evidence: format!("the final message ({from}) is empty"),
        });
    }
    if let Some(re) = &c.output_matches {
        if !re.is_match(message) {
            return Some(Broken {
                rule: "contract.output_matches",
                evidence: format!(
                    "the final message ({from}, {} bytes) does not match /{}/",
                    message.len(),
                    re.as_str()
                ),
            });
        }
    }
    if let (Some(min), Some(turns)) = (c.min_turns, facts.turns) {
        if turns < min {
            return Some(Broken {
                rule: "contract.min_turns",
                evidence: format!("{turns} turns, the route requires at least {min}"),
            });
        }
    }
    if c.changed_worktree && tree.worktree_changed == Some(false) {
        return Some(Broken {
            rule: "contract.changed_worktree",
            evidence: "the work tree is unchanged (`git status --porcelain` printed nothing)"
                .into(),
        });
    }
    if let (Some(path), Some(false)) = (&c.file_exists, tree.file_exists) {
        return Some(Broken {
            rule: "contract.file_exists",
            evidence: format!("{} does not exist after the run", path.display()),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    const CLAUDE_OK: &str = r#"{"type":"system","subtype":"init","session_id":"s"}
{"type":"assistant","message":{"content":[{"type":"text","text":"Done"}]}}
{"type":"result","subtype":"success","is_error":false,"duration_ms":2100,"num_turns":2,"result":"Created hello.txt","session_id":"s","total_cost_usd":0.0123,"usage":{"input_tokens":12,"cache_read_input_tokens":100,"output_tokens":40}}
"#;
    const CLAUDE_ZERO_TURNS: &str = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":0,"result":"","total_cost_usd":0,"usage":{"input_tokens":0,"output_tokens":0}}
"#;
    const CLAUDE_ZERO_COST: &str = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"","total_cost_usd":0,"usage":{"input_tokens":0,"output_tokens":0}}
"#;
    const CODEX_OK: &str = r#"{"type":"thread.started","thread_id":"t"}
{"type":"turn.started"}
{"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"thinking"}}
{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"PATCH APPLIED"}}
{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":20,"output_tokens":7}}
"#;
    const GEMINI_OK: &str = "{\n  \"response\": \"All tests pass\",\n  \"stats\": {\"models\": {\"gemini-2.5-pro\": {\"tokens\": {\"prompt\": 10, \"candidates\": 5, \"total\": 15}}}}\n}\n";
    const GEMINI_EMPTY: &str = "{\n  \"response\": \"\",\n  \"stats\": {\"models\": {}}\n}\n";

    #[test_case(CLAUDE_OK, Some("Created hello.txt"), Some("result"), Some(2); "claude result")]
    #[test_case(CODEX_OK, Some("PATCH APPLIED"), Some("item.completed"), Some(1); "codex agent message")]
    #[test_case(GEMINI_OK, Some("All tests pass"), Some("response"), None; "gemini response")]
    #[test_case("plain answer\n", Some("plain answer"), Some("stdout"), None; "text mode")]
    #[test_case("", Some(""), Some("stdout"), None; "nothing printed")]
    fn facts_are_read_from_the_events(
        out: &str,
        message: Option<&str>,
        source: Option<&str>,
        turns: Option<u64>,
    ) {
        let f = run_facts(out.as_bytes(), false);
        assert_eq!(f.final_message.as_deref(), message);
        assert_eq!(f.source, source);
        assert_eq!(f.turns, turns);
    }

    fn contract() -> SuccessContract {
        SuccessContract {
            output_matches: Some(Regex::new("(?i)applied|created").unwrap()),
            non_empty_result: true,
            min_turns: Some(1),
            ..SuccessContract::default()
        }
    }

    #[test_case(CLAUDE_OK, None, None; "a real result with no contract is fine")]
    #[test_case(CLAUDE_ZERO_TURNS, None, Some("fact.empty_result.zero_turns"); "zero turns is empty whatever the route says")]
    #[test_case(CLAUDE_ZERO_COST, None, Some("fact.empty_result.zero_cost"); "zero tokens at zero cost is empty")]
    #[test_case(CLAUDE_OK, Some(contract()), None; "a result that keeps the contract")]
    #[test_case(CODEX_OK, Some(contract()), None; "codex keeps it")]
    #[test_case(GEMINI_OK, Some(contract()), Some("contract.output_matches"); "gemini's answer does not say it")]
    #[test_case(GEMINI_EMPTY, Some(contract()), Some("contract.non_empty_result"); "an empty response")]
    #[test_case("", Some(contract()), Some("contract.non_empty_result"); "nothing printed at all")]
    fn judged(out: &str, contract: Option<SuccessContract>, broken: Option<&str>) {
        let f = run_facts(out.as_bytes(), false);
        let got = judge(&f, contract.as_ref(), TreeFacts::default()).map(|b| b.rule);
        assert_eq!(got, broken);
    }

    #[test]
    fn the_tree_checks_use_the_facts_gathered_outside() {
        let c = SuccessContract {
            changed_worktree: true,
            file_exists: Some("out/report.md".into()),
            ..SuccessContract::default()
        };
        let f = run_facts(b"done\n", false);
        let judge_with = |changed, exists| {
            judge(
                &f,
                Some(&c),
                TreeFacts {
                    worktree_changed: changed,
                    file_exists: exists,
                },
            )
            .map(|b| b.rule)
        };
        assert_eq!(judge_with(Some(true), Some(true)), None);
        assert_eq!(
            judge_with(Some(false), Some(true)),
            Some("contract.changed_worktree")
        );
        assert_eq!(
            judge_with(Some(true), Some(false)),
            Some("contract.file_exists")
        );
        // Not a git work tree: the check cannot be made, so it cannot fail the run.
        assert_eq!(judge_with(None, Some(true)), None);
    }

    #[test]
    fn the_models_words_never_fake_a_result() {
        // An assistant message quoting a result line is not the CLI's result.
        let out = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"{\"type\":\"result\",\"num_turns\":0}"}]}}
"#;
        let f = run_facts(out.as_bytes(), false);
        assert_eq!(f.source, None);
        assert_eq!(judge(&f, None, TreeFacts::default()), None);
    }
}
