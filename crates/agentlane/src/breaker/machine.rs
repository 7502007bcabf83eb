//! The breaker's state machine: states, inputs, the probe schedule and `step`.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::class::Class;
use crate::config::BreakerSettings;
use crate::model::{BreakerState, RouteAttempt, RouteBreaker};

/// A breaker's state and the data each state has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Claims as usual.
    Closed,
    /// Claims nothing; probes on a schedule.
    Open {
        /// When it opened.
        since: Timestamp,
        /// When the next probe is due (or, while a worker probes, when its
        /// probe counts as lost and another worker may probe).
        next_probe_at: Timestamp,
        /// Probes and trials failed since it opened.
        probes_failed: u32,
    },
    /// A probe passed: one job may run.
    HalfOpen {
        /// When it opened (kept for the record).
        since: Timestamp,
        /// The trial job, once a worker took it.
        trial: Option<String>,
        /// Probes and trials failed since it opened (the next backoff step
        /// if the trial fails).
        probes_failed: u32,
    },
}

/// A route's breaker: its state, when that last changed and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaker {
    /// The state.
    pub state: State,
    /// When the state last changed (a closed breaker counts failures after it).
    pub changed_at: Timestamp,
    /// Why it is in this state.
    pub reason: String,
}

/// What happens to a breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// The route's latest settled attempts (any order).
    Attempts(&'a [RouteAttempt]),
    /// A worker takes the due probe: the probe is pushed back by `lease`, so
    /// no other worker probes meanwhile, and a prober that dies leaves a
    /// probe due again after it.
    ProbeTaken {
        /// How long the probe may take.
        lease: Duration,
    },
    /// The probe's result (preflight, and the canary where configured).
    Probe {
        /// It passed.
        passed: bool,
        /// What it found, in words.
        detail: &'a str,
    },
    /// A worker claimed `job` as the half-open trial.
    TrialTaken(&'a str),
    /// A job of the route settled as `class`.
    Settled {
        /// The job.
        job: &'a str,
        /// Its attempt's class.
        class: Class,
    },
}

/// A change of state: the breaker after it and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The state before.
    pub from: BreakerState,
    /// The breaker after.
    pub to: Breaker,
}

impl State {
    /// The state's label.
    pub fn label(&self) -> BreakerState {
        match self {
            State::Closed => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

impl Breaker {
    /// A route that never opened: closed since the beginning of time.
    pub fn closed() -> Breaker {
        Breaker {
            state: State::Closed,
            changed_at: Timestamp::UNIX_EPOCH,
            reason: String::new(),
        }
    }

    /// The breaker a stored row holds. A row whose open state lost its probe
    /// time is due at once (never stuck).
    pub fn from_row(row: &RouteBreaker) -> Breaker {
        let since = row.opened_at.unwrap_or(row.changed_at);
        let state = match row.state {
            BreakerState::Closed => State::Closed,
            BreakerState::Open => State::Open {
                since,
                next_probe_at: row.next_probe_at.unwrap_or(row.changed_at),
                probes_failed: row.probes_failed,
            },
            BreakerState::HalfOpen => State::HalfOpen {
                since,
                trial: row.trial_job.clone(),
                probes_failed: row.probes_failed,
            },
        };
        Breaker {
            state,
            changed_at: row.changed_at,
            reason: row.reason.clone(),
        }
    }

    /// The row for `route` holding this breaker; `before` is the row it
    /// replaces (its version and incident are kept).
    pub fn to_row(&self, route: &str, before: Option<&RouteBreaker>) -> RouteBreaker {
        let (opened_at, next_probe_at, probes_failed, trial_job) = match &self.state {
            State::Closed => (before.and_then(|b| b.opened_at), None, 0, None),
            State::Open {
                since,
                next_probe_at,
                probes_failed,
            } => (Some(*since), Some(*next_probe_at), *probes_failed, None),
            State::HalfOpen {
                since,
                trial,
                probes_failed,
            } => (Some(*since), None, *probes_failed, trial.clone()),
        };
        RouteBreaker {
            route: route.to_string(),
            state: self.state.label(),
            opened_at,
            next_probe_at,
            probes_failed,
            reason: self.reason.clone(),
            trial_job,
            changed_at: self.changed_at,
            incident_id: before.and_then(|b| b.incident_id.clone()),
            version: before.map_or(0, |b| b.version),
        }
    }

    /// Whether a probe is due now (open, and its time has come).
    pub fn probe_due(&self, now: Timestamp) -> bool {
        matches!(self.state, State::Open { next_probe_at, .. } if now >= next_probe_at)
    }
}

/// The delay before the probe after `failed` failed probes: `probe_first`
/// doubled per failure, capped at `probe_max`, less up to a fifth of it by
/// `jitter` (in [0, 1)) so a fleet's routes do not probe in step. Pure.
pub fn probe_delay(s: &BreakerSettings, failed: u32, jitter: f64) -> Duration {
    let base = s
        .probe_first
        .checked_mul(1u32.checked_shl(failed.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(s.probe_max)
        .min(s.probe_max);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    base.mul_f64(1.0 - 0.2 * jitter)
}

fn plus(now: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// The runtime failures that count for a closed breaker: among the
/// attempts after `since` and within `s.within` of `now`, the latest
/// `s.window_attempts`, those that are [`Class::breaker_evidence`]. Pure.
pub fn evidence(
    s: &BreakerSettings,
    attempts: &[RouteAttempt],
    since: Timestamp,
    now: Timestamp,
) -> Vec<RouteAttempt> {
    let window_start = SignedDuration::try_from(s.within)
        .ok()
        .and_then(|w| now.checked_sub(w).ok())
        .unwrap_or(Timestamp::MIN);
    let mut recent: Vec<&RouteAttempt> = attempts
        .iter()
        .filter(|a| a.at > since && a.at >= window_start && a.at <= now)
        .collect();
    recent.sort_by_key(|a| std::cmp::Reverse(a.at));
    recent
        .into_iter()
        .take(s.window_attempts as usize)
        .filter(|a| a.class.breaker_evidence())
        .cloned()
        .collect()
}

/// The class most of `failures` had (the latest of the most frequent). Pure.
pub fn dominant(failures: &[RouteAttempt]) -> Option<Class> {
    let mut counts: Vec<(Class, usize, Timestamp)> = Vec::new();
    for f in failures {
        match counts.iter_mut().find(|(c, _, _)| *c == f.class) {
            Some((_, n, at)) => {
                *n += 1;
                *at = (*at).max(f.at);
            }
            None => counts.push((f.class, 1, f.at)),
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(a.2.cmp(&b.2)))
        .map(|(c, _, _)| c)
}

fn open(
    s: &BreakerSettings,
    since: Timestamp,
    now: Timestamp,
    failed: u32,
    jitter: f64,
    reason: String,
) -> Breaker {
    let next = plus(now, probe_delay(s, failed, jitter));
    Breaker {
        state: State::Open {
            since,
            next_probe_at: next,
            probes_failed: failed,
        },
        changed_at: now,
        reason: format!("{reason}; next probe at {next}"),
    }
}

/// What `input` does to breaker `b` at `now` (`jitter` in [0, 1) spaces
/// the probes); None when nothing changes. Pure.
pub fn step(
    s: &BreakerSettings,
    b: &Breaker,
    input: &Input<'_>,
    now: Timestamp,
    jitter: f64,
) -> Option<Transition> {
    let from = b.state.label();
    let to = match (&b.state, input) {
        (State::Closed, Input::Attempts(attempts)) => {
            let failures = evidence(s, attempts, b.changed_at, now);
            if failures.len() < s.failures as usize {
                return None;
            }
            let class = dominant(&failures)?;
            open(
                s,
                now,
                now,
                0,
                jitter,
                format!(
                    "{} of the last {} attempts within {} failed at runtime (mostly {})",
                    failures.len(),
                    s.window_attempts,
                    humantime::format_duration(s.within),
                    class.label()
                ),
            )
        }
        (
            State::Open {
                since,
                probes_failed,
                ..
            },
            Input::ProbeTaken { lease },
        ) if b.probe_due(now) => Breaker {
            state: State::Open {
                since: *since,
                next_probe_at: plus(now, *lease),
                probes_failed: *probes_failed,
            },
            changed_at: b.changed_at,
            reason: b.reason.clone(),
        },
        (
            State::Open {
                since,
                probes_failed,
                ..
            },
            Input::Probe { passed, detail },
        ) => {
            if *passed {
                Breaker {
                    state: State::HalfOpen {
                        since: *since,
                        trial: None,
                        probes_failed: *probes_failed,
                    },
                    changed_at: now,
                    reason: format!("the probe passed ({detail}): one trial job may run"),
                }
            } else {
                let failed = probes_failed.saturating_add(1);
                open(
                    s,
                    *since,
                    now,
                    failed,
                    jitter,
                    format!("probe {failed} failed ({detail})"),
                )
            }
        }
        (
            State::HalfOpen {
                since,
                trial: None,
                probes_failed,
            },
            Input::TrialTaken(job),
        ) => Breaker {
            state: State::HalfOpen {
                since: *since,
                trial: Some(job.to_string()),
                probes_failed: *probes_failed,
            },
            changed_at: b.changed_at,
            reason: format!("job {job} runs as the trial"),
        },
        (
            State::HalfOpen {
                since,
                trial: Some(trial),
                probes_failed,
            },
            Input::Settled { job, class },
        ) if trial == job => {
            if *class == Class::Ok {
                Breaker {
                    state: State::Closed,
                    changed_at: now,
                    reason: format!("the trial job {job} succeeded"),
                }
            } else if class.breaker_evidence() {
                let failed = probes_failed.saturating_add(1);
                open(
                    s,
                    *since,
                    now,
                    failed,
                    jitter,
                    format!("the trial job {job} failed: {}", class.label()),
                )
            } else {
                Breaker {
                    state: State::HalfOpen {
                        since: *since,
                        trial: None,
                        probes_failed: *probes_failed,
                    },
                    changed_at: b.changed_at,
                    reason: format!(
                        "the trial job {job} ended {}, which says nothing of the route's runtime: another job may try",
                        class.label()
                    ),
                }
            }
        }
        _ => return None,
    };
    Some(Transition { from, to })
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
