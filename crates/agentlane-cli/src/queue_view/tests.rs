//! The views' pure helpers.

use super::jobs::*;
use super::status::*;

#[test]
fn an_attempt_takes_words_not_raw_milliseconds() {
    for (ms, want) in [
        (None, "-"),
        (Some(0), "0ms"),
        (Some(850), "850ms"),
        (Some(12_345), "12.3s"),
        (Some(245_000), "4m05s"),
        (Some(7_380_000), "2h03m"),
    ] {
        assert_eq!(took(ms), want, "{ms:?}");
    }
}

#[test]
fn status_names_open_and_half_open_breakers_with_the_next_probe() {
    use agentlane::model::{BreakerState, RouteBreaker};
    let at: jiff::Timestamp = "2031-01-01T12:00:00Z".parse().unwrap();
    let row = |route: &str, state, trial: Option<&str>| RouteBreaker {
        route: route.into(),
        state,
        opened_at: Some(at),
        next_probe_at: (state == BreakerState::Open)
            .then(|| "2031-01-01T12:01:00Z".parse().unwrap()),
        probes_failed: 1,
        reason: "5 of the last 10 attempts within 5m failed at runtime".into(),
        trial_job: trial.map(str::to_string),
        changed_at: at,
        incident_id: None,
        version: 3,
    };
    let lines = breaker_lines(&[
        row("a", BreakerState::Open, None),
        row("b", BreakerState::HalfOpen, Some("job-1")),
        row("c", BreakerState::HalfOpen, None),
        row("d", BreakerState::Closed, None),
    ]);
    assert_eq!(
        lines,
        [
            "route a: circuit breaker open since 2031-01-01T12:00:00Z; next probe at 2031-01-01T12:01:00Z (1 probe failed): 5 of the last 10 attempts within 5m failed at runtime",
            "route b: circuit breaker half-open: trial job job-1 running",
            "route c: circuit breaker half-open: the next job runs alone as the trial",
        ]
    );
}

#[test]
fn an_excerpt_cuts_on_a_character_and_says_how_much_is_left() {
    assert_eq!(excerpt("short", 10), "short");
    assert_eq!(excerpt("héllo wörld", 5), "héllo… (7 more bytes)");
}
