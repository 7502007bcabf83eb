//! Circuit breakers per route: when a route's recent attempts fail at
//! runtime (a provider's 5xx, the network, hangs — [`Class::breaker_evidence`])
//! above a threshold, the route stops claiming until a probe shows it
//! works again, then runs one job before it claims as usual.
//!
//! ```text
//! Closed ──(failures of the last window_attempts within `within`, after the last close)──▶ Open
//! Open ──probe fails──▶ Open (next probe after probe_first·2^n, jittered, capped at probe_max)
//! Open ──probe passes──▶ HalfOpen (one job: the trial)
//! HalfOpen ──trial succeeds──▶ Closed
//! HalfOpen ──trial fails at runtime──▶ Open (the next backoff step)
//! HalfOpen ──trial says nothing of the runtime (a payload refusal, a lost worker)──▶ HalfOpen, no trial
//! ```
//!
//! Never stuck open: the probe schedule always continues (a prober that dies
//! leaves a due probe for the next worker) and a passing probe always
//! half-opens. Never flapping: a closed breaker counts only failures after
//! it closed, so one old window cannot reopen it; a failed trial reopens at
//! the next backoff step, not the first.
//!
//! Pure: every decision takes `now` (the worker's injectable clock) and a
//! jitter sample; the worker (`queue::worker::breaker`) reads and writes the
//! store's row ([`RouteBreaker`]) around it.

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
mod tests {
    use super::*;
    use proptest::prelude::*;
    use test_case::test_case;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn settings() -> BreakerSettings {
        BreakerSettings {
            enabled: true,
            failures: 3,
            window_attempts: 5,
            within: Duration::from_secs(300),
            probe_first: Duration::from_secs(30),
            probe_max: Duration::from_secs(600),
        }
    }

    fn attempts(list: &[(i64, Class)]) -> Vec<RouteAttempt> {
        list.iter()
            .map(|&(at, class)| RouteAttempt { at: t(at), class })
            .collect()
    }

    #[test_case(Class::TransientIo, true)]
    #[test_case(Class::NetworkUnavailable, true)]
    #[test_case(Class::Timeout, true)]
    #[test_case(Class::RateLimited, true)]
    #[test_case(Class::KilledBySignal, true)]
    #[test_case(Class::UnknownExit(3), true)]
    #[test_case(Class::Ok, false)]
    #[test_case(Class::PayloadInvalid, false)]
    #[test_case(Class::RouteNotAllowed, false)]
    #[test_case(Class::SandboxOrPolicyBlock, false)]
    #[test_case(Class::QuotaExhausted, false)]
    #[test_case(Class::AuthUnavailable, false)]
    #[test_case(Class::CliMissing, false)]
    #[test_case(Class::EmptySuccess, false)]
    #[test_case(Class::WorkerLost, false)]
    #[test_case(Class::CwdMissing, false)]
    #[test_case(Class::ConfigInvalid, false)]
    fn breaker_evidence_is_the_runtime_side(class: Class, counts: bool) {
        assert_eq!(class.breaker_evidence(), counts);
    }

    #[test_case(&[(1, Class::TransientIo), (2, Class::TransientIo)], false; "below the threshold")]
    #[test_case(&[(1, Class::TransientIo), (2, Class::Timeout), (3, Class::TransientIo)], true; "at the threshold")]
    #[test_case(&[(1, Class::PayloadInvalid), (2, Class::QuotaExhausted), (3, Class::AuthUnavailable), (4, Class::Ok)], false; "refusals and quota are not evidence")]
    #[test_case(&[(1, Class::TransientIo), (2, Class::TransientIo), (3, Class::TransientIo), (4, Class::Ok), (5, Class::Ok), (6, Class::Ok)], false; "only the last window counts")]
    #[test_case(&[(-400, Class::TransientIo), (-350, Class::TransientIo), (2, Class::TransientIo)], false; "only within the time window")]
    fn opens_after_the_threshold(list: &[(i64, Class)], opens: bool) {
        let b = Breaker::closed();
        let a = attempts(list);
        let got = step(&settings(), &b, &Input::Attempts(&a), t(10), 0.0);
        assert_eq!(got.is_some(), opens, "{got:?}");
        if let Some(tr) = got {
            assert_eq!(tr.from, BreakerState::Closed);
            assert_eq!(
                tr.to.state,
                State::Open {
                    since: t(10),
                    next_probe_at: t(40),
                    probes_failed: 0
                }
            );
            assert!(
                tr.to.reason.contains("failed at runtime"),
                "{}",
                tr.to.reason
            );
        }
    }

    #[test]
    fn the_dominant_class_names_the_reason() {
        let a = attempts(&[
            (1, Class::Timeout),
            (2, Class::TransientIo),
            (3, Class::TransientIo),
        ]);
        assert_eq!(dominant(&a), Some(Class::TransientIo));
        let tr = step(
            &settings(),
            &Breaker::closed(),
            &Input::Attempts(&a),
            t(5),
            0.0,
        )
        .unwrap();
        assert!(
            tr.to.reason.contains("mostly transient_io"),
            "{}",
            tr.to.reason
        );
    }

    #[test_case(0, 0.0, 30)]
    #[test_case(1, 0.0, 60)]
    #[test_case(2, 0.0, 120)]
    #[test_case(5, 0.0, 600; "capped")]
    #[test_case(40, 0.0, 600; "a huge step stays capped")]
    #[test_case(0, 0.5, 27; "jitter shortens by at most a fifth")]
    #[test_case(0, f64::NAN, 30; "a bad sample is no jitter")]
    fn the_probe_schedule_is_exponential_jittered_and_capped(failed: u32, jitter: f64, secs: u64) {
        assert_eq!(probe_delay(&settings(), failed, jitter).as_secs(), secs);
    }

    /// The whole life: open, a failed probe backs off, a probe taken by one
    /// worker is not due for another, a passing probe half-opens, one trial,
    /// a success closes, and the old failures cannot reopen it.
    #[test]
    fn open_probe_half_open_close() {
        let s = settings();
        let a = attempts(&[
            (1, Class::TransientIo),
            (2, Class::TransientIo),
            (3, Class::TransientIo),
        ]);
        let b = step(&s, &Breaker::closed(), &Input::Attempts(&a), t(10), 0.0)
            .unwrap()
            .to;
        assert!(!b.probe_due(t(39)) && b.probe_due(t(40)));
        assert_eq!(
            step(
                &s,
                &b,
                &Input::ProbeTaken {
                    lease: Duration::from_secs(60)
                },
                t(39),
                0.0
            ),
            None,
            "not due yet"
        );
        let taken = step(
            &s,
            &b,
            &Input::ProbeTaken {
                lease: Duration::from_secs(60),
            },
            t(40),
            0.0,
        )
        .unwrap()
        .to;
        assert!(!taken.probe_due(t(41)), "one worker probes");
        assert!(
            taken.probe_due(t(100)),
            "a lost prober leaves the probe due again"
        );
        let failed = step(
            &s,
            &taken,
            &Input::Probe {
                passed: false,
                detail: "503",
            },
            t(45),
            0.0,
        )
        .unwrap()
        .to;
        assert_eq!(
            failed.state,
            State::Open {
                since: t(10),
                next_probe_at: t(105),
                probes_failed: 1
            }
        );
        assert!(
            failed.reason.contains("probe 1 failed (503)"),
            "{}",
            failed.reason
        );
        let half = step(
            &s,
            &failed,
            &Input::Probe {
                passed: true,
                detail: "preflight passes",
            },
            t(105),
            0.0,
        )
        .unwrap();
        assert_eq!(half.from, BreakerState::Open);
        assert!(matches!(half.to.state, State::HalfOpen { trial: None, .. }));
        let trial = step(&s, &half.to, &Input::TrialTaken("j1"), t(106), 0.0)
            .unwrap()
            .to;
        assert_eq!(
            step(&s, &trial, &Input::TrialTaken("j2"), t(106), 0.0),
            None,
            "one trial"
        );
        assert_eq!(
            step(
                &s,
                &trial,
                &Input::Settled {
                    job: "j2",
                    class: Class::Ok
                },
                t(107),
                0.0
            ),
            None,
            "another job's end is not the trial's"
        );
        let closed = step(
            &s,
            &trial,
            &Input::Settled {
                job: "j1",
                class: Class::Ok,
            },
            t(110),
            0.0,
        )
        .unwrap();
        assert_eq!(
            (closed.from, closed.to.state.clone()),
            (BreakerState::HalfOpen, State::Closed)
        );
        assert_eq!(
            step(&s, &closed.to, &Input::Attempts(&a), t(111), 0.0),
            None,
            "the failures before the close do not reopen it"
        );
    }

    #[test]
    fn a_failed_trial_reopens_at_the_next_step_and_an_unrelated_end_frees_the_trial() {
        let s = settings();
        let half = Breaker {
            state: State::HalfOpen {
                since: t(0),
                trial: Some("j".into()),
                probes_failed: 2,
            },
            changed_at: t(50),
            reason: String::new(),
        };
        let reopened = step(
            &s,
            &half,
            &Input::Settled {
                job: "j",
                class: Class::TransientIo,
            },
            t(60),
            0.0,
        )
        .unwrap()
        .to;
        assert_eq!(
            reopened.state,
            State::Open {
                since: t(0),
                next_probe_at: t(60 + 240),
                probes_failed: 3
            }
        );
        let freed = step(
            &s,
            &half,
            &Input::Settled {
                job: "j",
                class: Class::PayloadInvalid,
            },
            t(60),
            0.0,
        )
        .unwrap()
        .to;
        assert!(matches!(
            freed.state,
            State::HalfOpen {
                trial: None,
                probes_failed: 2,
                ..
            }
        ));
    }

    #[test]
    fn a_row_round_trips_and_a_lost_probe_time_is_due() {
        let b = Breaker {
            state: State::Open {
                since: t(0),
                next_probe_at: t(30),
                probes_failed: 1,
            },
            changed_at: t(5),
            reason: "r".into(),
        };
        let row = b.to_row("route", None);
        assert_eq!(Breaker::from_row(&row), b);
        let lost = RouteBreaker {
            next_probe_at: None,
            ..row
        };
        assert!(Breaker::from_row(&lost).probe_due(t(5)));
    }

    fn input_strategy() -> impl Strategy<Value = (u8, i64, bool, u8, u8)> {
        (0u8..5, 0i64..120, any::<bool>(), 0u8..4, 0u8..3)
    }

    proptest! {
        /// Over any sequence of inputs: from Open, a passing probe always
        /// half-opens; from half-open exactly one trial is taken; an open
        /// breaker always has a probe due at some finite time no later than
        /// probe_max (plus a probe's lease) ahead; a closed breaker never
        /// reopens on attempts from before it closed.
        #[test]
        fn never_stuck_never_two_trials(seq in proptest::collection::vec(input_strategy(), 1..60)) {
            let s = settings();
            let classes = [Class::Ok, Class::TransientIo, Class::PayloadInvalid, Class::Timeout];
            let jobs = ["a", "b", "c"];
            let mut b = Breaker::closed();
            let mut now = t(0);
            let mut history: Vec<RouteAttempt> = Vec::new();
            for (kind, dt, passed, class, job) in seq {
                now = plus(now, Duration::from_secs(dt as u64));
                let class = classes[class as usize];
                let job = jobs[job as usize];
                if let State::Open { .. } = b.state {
                    let probe = step(&s, &b, &Input::Probe { passed: true, detail: "" }, now, 0.5).unwrap();
                    prop_assert!(
                        matches!(probe.to.state, State::HalfOpen { trial: None, .. }),
                        "a passing probe half-opens"
                    );
                }
                if let State::HalfOpen { trial: Some(_), .. } = &b.state {
                    prop_assert_eq!(step(&s, &b, &Input::TrialTaken("z"), now, 0.5), None);
                }
                let input = match kind {
                    0 => { history.push(RouteAttempt { at: now, class }); Input::Attempts(&history) }
                    1 => Input::ProbeTaken { lease: Duration::from_secs(60) },
                    2 => Input::Probe { passed, detail: "" },
                    3 => Input::TrialTaken(job),
                    _ => Input::Settled { job, class },
                };
                if let Some(tr) = step(&s, &b, &input, now, 0.5) {
                    prop_assert_eq!(tr.from, b.state.label());
                    if tr.from == BreakerState::Closed {
                        // Counted apart from `evidence`: runtime failures after the close.
                        let fresh = history
                            .iter()
                            .filter(|a| a.at > b.changed_at && a.class.breaker_evidence())
                            .count();
                        prop_assert!(fresh >= s.failures as usize, "reopened on {} fresh failures", fresh);
                    }
                    b = tr.to;
                }
                if let State::Open { next_probe_at, .. } = b.state {
                    let latest = plus(now, s.probe_max + Duration::from_secs(60));
                    prop_assert!(next_probe_at <= latest, "probe at {} after {}", next_probe_at, latest);
                }
            }
        }
    }
}
