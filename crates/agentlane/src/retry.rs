//! The retry table: after a failed attempt, retry, park or fail — keyed by
//! class, because a retry is only worth it when it changes the odds.
//!
//! Data, not code: defaults below, overridden per class (`[retry.CLASS]`) and
//! per route (`[routes.NAME.retry.CLASS]`) in agentlane.toml. `decide` is a
//! pure function of the class, the attempt, the table and what the CLI said.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::class::Class;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Try again later.
    Retry,
    /// Keep the job out of its lane until preflight changes (or the incident is resolved).
    Park,
    /// Give up: terminal.
    Fail,
}

/// The retry policy of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// What to do.
    pub action: Action,
    /// First backoff.
    pub initial_backoff: Duration,
    /// Backoff multiplier per attempt.
    pub factor: f64,
    /// Backoff ceiling.
    pub max_backoff: Duration,
    /// Attempts in all (the first included).
    pub max_attempts: u32,
    /// Timeout multiplier per retry (timeouts only).
    pub timeout_factor: f64,
    /// Timeout ceiling (timeouts only).
    pub max_timeout: Option<Duration>,
    /// Random jitter of up to ±this fraction of the backoff.
    pub jitter: f64,
    /// Run the retry with expanded diagnostics (larger tails, verbose flags).
    pub diagnostics: bool,
}

impl Policy {
    fn fail() -> Policy {
        Policy {
            action: Action::Fail,
            initial_backoff: Duration::ZERO,
            factor: 1.0,
            max_backoff: Duration::ZERO,
            max_attempts: 1,
            timeout_factor: 1.0,
            max_timeout: None,
            jitter: 0.0,
            diagnostics: false,
        }
    }

    fn backoff(initial: u64, max: u64, attempts: u32) -> Policy {
        Policy {
            action: Action::Retry,
            initial_backoff: Duration::from_secs(initial),
            factor: 2.0,
            max_backoff: Duration::from_secs(max),
            max_attempts: attempts,
            jitter: 0.2,
            ..Policy::fail()
        }
    }
}

/// The default policy of a class (the table).
pub fn default_policy(class: Class) -> Policy {
    match class {
        Class::CliMissing
        | Class::CliNotExecutable
        | Class::InterpreterMissing
        | Class::CwdMissing
        | Class::PayloadInvalid
        | Class::RouteNotAllowed
        | Class::ConfigInvalid
        | Class::AuthUnavailable
        | Class::SandboxOrPolicyBlock => Policy {
            action: Action::Park,
            ..Policy::fail()
        },
        Class::Timeout => Policy {
            initial_backoff: Duration::from_secs(5),
            timeout_factor: 2.0,
            max_timeout: Some(Duration::from_secs(2 * 3600)),
            ..Policy::backoff(5, 60, 3)
        },
        Class::RateLimited => Policy::backoff(30, 600, 5),
        Class::NetworkUnavailable => Policy::backoff(10, 300, 5),
        Class::TransientIo => Policy::backoff(10, 300, 5),
        Class::WorkerLost => Policy::backoff(1, 60, 3),
        Class::EmptySuccess => Policy::backoff(5, 60, 2),
        Class::QuotaExhausted => Policy {
            action: Action::Park,
            max_attempts: 10,
            ..Policy::fail()
        },
        Class::UnknownExit(_) => Policy {
            max_attempts: 2,
            diagnostics: true,
            ..Policy::backoff(5, 60, 2)
        },
        Class::Ok | Class::KilledBySignal => Policy::fail(),
    }
}

/// The table: defaults, overridden per class, then per route and class.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryTable {
    /// `[retry.CLASS]` overrides, keyed by class label (`unknown_exit` covers every N).
    pub classes: BTreeMap<String, Policy>,
    /// `[routes.NAME.retry.CLASS]` overrides, keyed by (route, class label).
    pub routes: BTreeMap<(String, String), Policy>,
}

fn table_key(class: Class) -> String {
    match class {
        Class::UnknownExit(_) => "unknown_exit".into(),
        other => other.label(),
    }
}

impl RetryTable {
    /// The policy for a class on a route.
    pub fn policy(&self, class: Class, route: Option<&str>) -> Policy {
        let key = table_key(class);
        let exact = class.label();
        route
            .and_then(|r| {
                self.routes
                    .get(&(r.to_string(), exact.clone()))
                    .or_else(|| self.routes.get(&(r.to_string(), key.clone())))
            })
            .or_else(|| self.classes.get(&exact))
            .or_else(|| self.classes.get(&key))
            .cloned()
            .unwrap_or_else(|| default_policy(class))
    }
}

/// What the attempt said, for the decision.
#[derive(Debug, Clone, Copy)]
pub struct AttemptFacts<'a> {
    /// The class.
    pub class: Class,
    /// The attempt that just ended (1-based).
    pub attempt: u32,
    /// The route.
    pub route: Option<&'a str>,
    /// Seconds the CLI asked to wait.
    pub retry_after_secs: Option<u64>,
    /// When the usage or rate limit resets, when the CLI said (the report's
    /// `reset_at`): a quota is scheduled at it, a rate limit waits at least until it.
    pub reset_at: Option<jiff::Timestamp>,
    /// The clock `reset_at` is measured against (the worker's; fixed in tests).
    pub now: jiff::Timestamp,
    /// The timeout the attempt ran with.
    pub timeout: Option<Duration>,
    /// The evidence line.
    pub evidence: Option<&'a str>,
    /// A number in [0, 1) for jitter (random in production, fixed in tests).
    pub jitter_sample: f64,
}

pub use crate::model::next::{Decision, Next};

fn why(facts: &AttemptFacts<'_>) -> String {
    match facts.evidence {
        Some(e) if !e.is_empty() => format!("{} — {e}", facts.class),
        _ => facts.class.to_string(),
    }
}

/// Decides what happens after an attempt. Pure.
pub fn decide(table: &RetryTable, facts: &AttemptFacts<'_>) -> Decision {
    if facts.class == Class::Ok {
        return Decision {
            next: Next::Done,
            reason: "succeeded".to_string(),
        };
    }
    let policy = table.policy(facts.class, facts.route);
    let because = why(facts);
    // The longer of the CLI's relative wait and the time until its reset.
    let until_reset = facts
        .reset_at
        .and_then(|at| crate::classify::reset::secs_until(at, facts.now));
    let wait = match (facts.retry_after_secs, until_reset) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    match policy.action {
        Action::Fail => Decision {
            next: Next::Fail,
            reason: format!("failed (attempt {}): {because}", facts.attempt),
        },
        // A quota is the account's: never retried on a timer. The worker
        // parks every job of the account behind it and releases them all at
        // the reset (plus jitter), after a preflight passes; a spend cap
        // with no reset waits for an operator.
        Action::Park if facts.class == Class::QuotaExhausted => Decision {
            next: Next::Park,
            reason: match (facts.reset_at, until_reset) {
                (Some(at), Some(_)) => format!(
                    "parked with every job of its account until the quota resets at {at} (then released after a preflight passes): {because}"
                ),
                _ => format!(
                    "parked with every job of its account until an operator resolves the incident (no reset time was given: a spend cap?): {because}"
                ),
            },
        },
        Action::Park => Decision {
            next: Next::Park,
            reason: format!("parked until preflight for the lane changes or the incident is resolved: {because}"),
        },
        Action::Retry if facts.attempt >= policy.max_attempts => Decision {
            next: Next::Fail,
            reason: format!("failed after {} attempts (the most {} allows): {because}", facts.attempt, facts.class),
        },
        Action::Retry => {
            let exp = policy.factor.powi(facts.attempt.saturating_sub(1) as i32);
            let mut secs = (policy.initial_backoff.as_secs_f64() * exp).min(policy.max_backoff.as_secs_f64());
            secs *= 1.0 + policy.jitter * (2.0 * facts.jitter_sample - 1.0);
            if let Some(after) = wait {
                secs = secs.max(after as f64);
            }
            let delay = Duration::from_secs_f64(secs.max(0.0));
            let timeout = match (facts.class, facts.timeout) {
                (Class::Timeout, Some(t)) => {
                    let grown = t.mul_f64(policy.timeout_factor);
                    Some(policy.max_timeout.map_or(grown, |cap| grown.min(cap)))
                }
                (_, t) => t,
            };
            let extra = match (facts.class, timeout) {
                (Class::Timeout, Some(t)) => format!(" with a {} timeout", humantime::format_duration(Duration::from_secs(t.as_secs()))),
                _ if policy.diagnostics => " with expanded diagnostics".to_string(),
                _ => String::new(),
            };
            Decision {
                next: Next::Retry {
                    delay,
                    timeout,
                    diagnostics: policy.diagnostics,
                },
                reason: format!(
                    "retrying in {}{extra} (attempt {} of {}): {because}",
                    humantime::format_duration(Duration::from_secs(delay.as_secs().max(1))),
                    facts.attempt + 1,
                    policy.max_attempts
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    fn facts(class: Class, attempt: u32) -> AttemptFacts<'static> {
        AttemptFacts {
            class,
            attempt,
            route: None,
            retry_after_secs: None,
            reset_at: None,
            now: "2026-03-10T12:00:00Z".parse().unwrap(),
            timeout: Some(Duration::from_secs(600)),
            evidence: Some("the evidence"),
            jitter_sample: 0.5,
        }
    }

    fn kind(d: &Decision) -> &'static str {
        d.next.step().label()
    }

    #[test_case(Class::CliMissing, 1 => "park"; "cli missing is a hard stop")]
    #[test_case(Class::CliNotExecutable, 1 => "park"; "not executable")]
    #[test_case(Class::InterpreterMissing, 1 => "park"; "interpreter missing")]
    #[test_case(Class::CwdMissing, 1 => "park"; "cwd missing")]
    #[test_case(Class::PayloadInvalid, 1 => "park"; "payload invalid")]
    #[test_case(Class::RouteNotAllowed, 1 => "park"; "route not allowed")]
    #[test_case(Class::ConfigInvalid, 1 => "park"; "config invalid")]
    #[test_case(Class::AuthUnavailable, 1 => "park"; "auth unavailable")]
    #[test_case(Class::SandboxOrPolicyBlock, 1 => "park"; "sandbox")]
    #[test_case(Class::Timeout, 1 => "retry"; "timeout retries")]
    #[test_case(Class::Timeout, 3 => "fail"; "timeout bounded")]
    #[test_case(Class::RateLimited, 4 => "retry"; "rate limited retries")]
    #[test_case(Class::RateLimited, 5 => "fail"; "rate limited capped")]
    #[test_case(Class::NetworkUnavailable, 1 => "retry"; "network retries")]
    #[test_case(Class::TransientIo, 1 => "retry"; "transient retries")]
    #[test_case(Class::QuotaExhausted, 1 => "park"; "quota without reset parks")]
    #[test_case(Class::UnknownExit(1), 1 => "retry"; "unknown retries once")]
    #[test_case(Class::UnknownExit(1), 2 => "fail"; "then fails")]
    #[test_case(Class::KilledBySignal, 1 => "fail"; "other fails")]
    #[test_case(Class::WorkerLost, 1 => "retry"; "worker lost re-runs")]
    #[test_case(Class::Ok, 1 => "done"; "success")]
    fn default_table(class: Class, attempt: u32) -> &'static str {
        kind(&decide(&RetryTable::default(), &facts(class, attempt)))
    }

    #[test]
    fn backoff_is_exponential_capped_and_honours_retry_after() {
        let t = RetryTable::default();
        let delay = |attempt, after| match decide(
            &t,
            &AttemptFacts {
                retry_after_secs: after,
                ..facts(Class::RateLimited, attempt)
            },
        ) {
            Decision {
                next: Next::Retry { delay, .. },
                ..
            } => delay.as_secs(),
            other => panic!("{other:?}"),
        };
        assert_eq!(delay(1, None), 30);
        assert_eq!(delay(2, None), 60);
        assert_eq!(delay(4, None), 240);
        assert_eq!(
            delay(1, Some(90)),
            90,
            "the CLI's retry-after wins when longer"
        );
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let t = RetryTable::default();
        for sample in [0.0, 0.25, 0.999] {
            if let Decision {
                next: Next::Retry { delay, .. },
                ..
            } = decide(
                &t,
                &AttemptFacts {
                    jitter_sample: sample,
                    ..facts(Class::RateLimited, 1)
                },
            ) {
                let s = delay.as_secs_f64();
                assert!((24.0..=36.0).contains(&s), "{s}");
            }
        }
    }

    #[test]
    fn a_timeout_retries_with_a_larger_timeout_up_to_the_cap() {
        let t = RetryTable::default();
        match decide(&t, &facts(Class::Timeout, 1)) {
            Decision {
                next: Next::Retry { timeout, .. },
                reason,
            } => {
                assert_eq!(timeout, Some(Duration::from_secs(1200)));
                assert!(reason.contains("with a 20m timeout"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let long = AttemptFacts {
            timeout: Some(Duration::from_secs(5000)),
            ..facts(Class::Timeout, 1)
        };
        match decide(&t, &long) {
            Decision {
                next: Next::Retry { timeout, .. },
                ..
            } => assert_eq!(timeout, Some(Duration::from_secs(7200))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unknown_exit_retries_once_with_diagnostics() {
        match decide(&RetryTable::default(), &facts(Class::UnknownExit(1), 1)) {
            Decision {
                next: Next::Retry { diagnostics, .. },
                reason,
            } => {
                assert!(diagnostics);
                assert!(reason.contains("attempt 2 of 2"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test_case(Some(3600), None => "park"; "a wait asked for: parked, never on a timer")]
    #[test_case(None, Some("2026-03-10T14:00:00Z") => "park"; "a reset time: parked until it")]
    #[test_case(None, Some("2026-03-10T11:00:00Z") => "park"; "a reset in the past: parked")]
    #[test_case(None, None => "park"; "a spend cap: parked")]
    fn a_quota_is_never_retried_on_a_timer(
        after: Option<u64>,
        reset: Option<&str>,
    ) -> &'static str {
        let f = AttemptFacts {
            retry_after_secs: after,
            reset_at: reset.map(|r| r.parse().unwrap()),
            ..facts(Class::QuotaExhausted, 1)
        };
        kind(&decide(&RetryTable::default(), &f))
    }

    #[test]
    fn a_quotas_reason_says_when_it_is_released() {
        let at = AttemptFacts {
            reset_at: Some("2026-03-10T14:00:00Z".parse().unwrap()),
            ..facts(Class::QuotaExhausted, 1)
        };
        let reason = decide(&RetryTable::default(), &at).reason;
        assert!(
            reason.contains("until the quota resets at 2026-03-10T14:00:00Z"),
            "{reason}"
        );
        let cap = decide(&RetryTable::default(), &facts(Class::QuotaExhausted, 1)).reason;
        assert!(
            cap.contains("until an operator resolves the incident"),
            "{cap}"
        );
    }

    #[test_case(None, 1 => 30; "no reset: the backoff")]
    #[test_case(Some("2026-03-10T12:10:00Z"), 1 => 600; "a later reset: waits until it")]
    #[test_case(Some("2026-03-10T12:00:05Z"), 2 => 60; "an earlier reset: the backoff")]
    fn a_rate_limit_waits_at_least_until_its_reset(reset: Option<&str>, attempt: u32) -> u64 {
        let f = AttemptFacts {
            reset_at: reset.map(|r| r.parse().unwrap()),
            ..facts(Class::RateLimited, attempt)
        };
        match decide(&RetryTable::default(), &f) {
            Decision {
                next: Next::Retry { delay, .. },
                ..
            } => delay.as_secs(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn overrides_per_class_and_per_route() {
        let mut t = RetryTable::default();
        t.classes.insert(
            "rate_limited".into(),
            Policy {
                max_attempts: 2,
                ..default_policy(Class::RateLimited)
            },
        );
        t.routes.insert(
            ("bulk".into(), "rate_limited".into()),
            Policy {
                action: Action::Fail,
                ..default_policy(Class::RateLimited)
            },
        );
        t.classes.insert(
            "unknown_exit".into(),
            Policy {
                action: Action::Fail,
                ..Policy::fail()
            },
        );
        assert_eq!(kind(&decide(&t, &facts(Class::RateLimited, 2))), "fail");
        assert_eq!(kind(&decide(&t, &facts(Class::RateLimited, 1))), "retry");
        assert_eq!(
            kind(&decide(
                &t,
                &AttemptFacts {
                    route: Some("bulk"),
                    ..facts(Class::RateLimited, 1)
                }
            )),
            "fail"
        );
        assert_eq!(kind(&decide(&t, &facts(Class::UnknownExit(7), 1))), "fail");
    }

    #[test]
    fn reasons_say_why_in_words() {
        match decide(&RetryTable::default(), &facts(Class::RateLimited, 1)) {
            Decision {
                next: Next::Retry { .. },
                reason,
            } => assert_eq!(
                reason,
                "retrying in 30s (attempt 2 of 5): rate_limited — the evidence"
            ),
            other => panic!("{other:?}"),
        }
    }
}
