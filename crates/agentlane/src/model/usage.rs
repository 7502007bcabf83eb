//! What an attempt cost: tokens, turns and dollars as the agent CLI itself
//! reported them (issue 17). The extractor (`crate::usage`) fills a [`Usage`]
//! from the CLI's structured events; the store keeps one per dispatch and
//! sums them per job and per route, lane, kind or day ([`UsageTotal`]).

use serde::{Deserialize, Serialize};

/// One attempt's usage, as its CLI reported it. Nothing here is estimated:
/// `cost_usd` is present only when the CLI printed a cost.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    /// Input tokens, cached ones included (Claude's uncached, cache-creation
    /// and cache-read inputs added up; Codex's and Gemini's input as given).
    pub input_tokens: u64,
    /// Output tokens (Gemini's thinking tokens included).
    pub output_tokens: u64,
    /// The part of `input_tokens` read from a prompt cache.
    pub cached_tokens: u64,
    /// The cost in US dollars, only when the CLI reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The model that used the most tokens, when the CLI named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The number of turns, when the CLI counted them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<u64>,
}

impl Usage {
    /// Adds `other` into `self`: tokens and turns add up, a cost adds to a
    /// cost (an unknown cost stays unknown only when no attempt reported
    /// one), and the model is kept when the attempts agree.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(other.cached_tokens);
        self.cost_usd = match (self.cost_usd, other.cost_usd) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.turns = match (self.turns, other.turns) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        };
        if self.model != other.model {
            self.model = match (&self.model, &other.model) {
                (None, m) | (m, None) => m.clone(),
                _ => Some("mixed".into()),
            };
        }
    }

    /// The sum of several attempts' usage, None when none reported any.
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a Usage>) -> Option<Usage> {
        let mut out: Option<Usage> = None;
        for u in all {
            match &mut out {
                Some(total) => total.add(u),
                None => out = Some(u.clone()),
            }
        }
        out
    }
}

/// One attempt's usage, with the dispatch that reported it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttemptUsage {
    /// The dispatch.
    pub dispatch_id: String,
    /// The job's attempt it ran.
    pub attempt: Option<u32>,
    /// What it used.
    #[serde(flatten)]
    pub usage: Usage,
}

/// What `agentlane usage` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UsageGroup {
    /// The route the attempt ran on.
    #[default]
    Route,
    /// The job's lane (dispatches without a job: `-`).
    Lane,
    /// The job's kind (dispatches without a job: `-`).
    Kind,
    /// The UTC day the attempt finished (`YYYY-MM-DD`).
    Day,
}

impl UsageGroup {
    /// The word used on the command line and in JSON.
    pub fn label(self) -> &'static str {
        match self {
            UsageGroup::Route => "route",
            UsageGroup::Lane => "lane",
            UsageGroup::Kind => "kind",
            UsageGroup::Day => "day",
        }
    }
}

/// The summed usage of one group (a route, lane, kind or day).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UsageTotal {
    /// The group's value (`-` for none).
    pub key: String,
    /// Attempts that reported usage.
    pub attempts: u64,
    /// Input tokens, cached included.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cached input tokens.
    pub cached_tokens: u64,
    /// Dollars reported (None: no attempt of the group reported a cost).
    pub cost_usd: Option<f64>,
    /// Turns reported.
    pub turns: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(i: u64, cost: Option<f64>, model: Option<&str>) -> Usage {
        Usage {
            input_tokens: i,
            output_tokens: 1,
            cached_tokens: 0,
            cost_usd: cost,
            model: model.map(str::to_string),
            turns: Some(1),
        }
    }

    #[test]
    fn attempts_sum_tokens_costs_and_turns() {
        let all = [
            u(10, Some(0.5), Some("a")),
            u(5, None, Some("a")),
            u(1, Some(0.25), None),
        ];
        let s = Usage::sum(&all).unwrap();
        assert_eq!((s.input_tokens, s.output_tokens, s.turns), (16, 3, Some(3)));
        assert_eq!(s.cost_usd, Some(0.75));
        assert_eq!(s.model.as_deref(), Some("a"));
        assert_eq!(Usage::sum(&[]), None);
        let mixed = Usage::sum(&[u(1, None, Some("a")), u(1, None, Some("b"))]).unwrap();
        assert_eq!(mixed.model.as_deref(), Some("mixed"));
        assert_eq!(mixed.cost_usd, None, "no cost is ever invented");
    }
}
