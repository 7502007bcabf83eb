//! The state machine, table by table, and its invariants by proptest.

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
