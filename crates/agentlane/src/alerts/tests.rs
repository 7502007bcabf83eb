//! The pure parts, table-driven: the renderers, the debounce, the
//! mass-failure detector, the retry policy.

use std::time::Duration;

use test_case::test_case;

use super::*;
use crate::class::Class;
use crate::model::AlertKind;
use crate::redact::{Redactor, Secrets};

fn at(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_800_000_000 + secs).unwrap()
}

fn incident() -> Alert {
    Alert::IncidentOpened {
        incident_id: None,
        job_id: Some("0193abc".into()),
        fingerprint: "fp1".into(),
        class: Class::AuthUnavailable,
        hint: "log in again: codex login".into(),
        evidence: Some("ERROR: unexpected status 401 Unauthorized".into()),
        route: Some("codex".into()),
        lane: Some("main".into()),
        host: "box".into(),
    }
}

fn every_variant() -> Vec<Alert> {
    vec![
        incident(),
        Alert::BreakerOpened {
            route: "codex".into(),
            class: Class::RateLimited,
            hint: "wait".into(),
            failures: 5,
            waiting: Some(12),
        },
        Alert::BreakerClosed {
            route: "codex".into(),
            reason: "a probe passed".into(),
        },
        Alert::QuotaParked {
            account: "claude account (key …a1f3)".into(),
            class: Class::QuotaExhausted,
            hint: "wait for the reset".into(),
            parked: 7,
            reset_at: Some(at(3600)),
            incident_id: Some("inc1".into()),
        },
        Alert::QuotaReleased {
            account: "claude account (key …a1f3)".into(),
            released: 7,
            incident_id: Some("inc1".into()),
        },
        Alert::MassFailure {
            failed: 3,
            window: Duration::from_secs(600),
            class: Class::AuthUnavailable,
            hint: "log in".into(),
            routes: vec!["a".into(), "b".into()],
            lane: Some("main".into()),
        },
    ]
}

#[test_case(
    0,
    AlertKind::IncidentOpened,
    Some("auth_unavailable"),
    1,
    "incident:fp1",
    "agentlane job 0193abc"
)]
#[test_case(
    1,
    AlertKind::BreakerOpened,
    Some("rate_limited"),
    12,
    "breaker_opened:codex",
    "agentlane status"
)]
#[test_case(
    2,
    AlertKind::BreakerClosed,
    None,
    0,
    "breaker_closed:codex",
    "agentlane status"
)]
#[test_case(
    3,
    AlertKind::QuotaParked,
    Some("quota_exhausted"),
    7,
    "quota_parked:claude account (key …a1f3)",
    "agentlane incident inc1"
)]
#[test_case(
    4,
    AlertKind::QuotaReleased,
    None,
    7,
    "quota_released:claude account (key …a1f3)",
    "agentlane incident inc1"
)]
#[test_case(
    5,
    AlertKind::MassFailure,
    Some("auth_unavailable"),
    3,
    "mass_failure:main",
    "agentlane jobs --lane main"
)]
fn every_variant_carries_its_class_count_key_and_command(
    i: usize,
    kind: AlertKind,
    class: Option<&str>,
    affected: u64,
    key: &str,
    see: &str,
) {
    let a = &every_variant()[i];
    assert_eq!(a.kind(), kind);
    assert_eq!(a.class().map(|c| c.label()).as_deref(), class);
    assert_eq!(a.affected(), affected);
    assert_eq!(a.key(), key);
    assert_eq!(a.see(), see);
    let body = json_body(a, 2, "box", at(0), &Redactor::shapes_only());
    assert_eq!(body["version"], BODY_VERSION);
    assert_eq!(body["kind"], kind.label());
    assert_eq!(body["class"].as_str(), class);
    assert_eq!(body["affected"], affected);
    assert_eq!(body["suppressed"], 2);
    assert_eq!(body["see"], see);
    assert_eq!(body["hint"], a.hint().as_str());
    let slack = slack_body(a, 2, "box", at(0), &Redactor::shapes_only());
    let text = slack["text"].as_str().unwrap();
    assert!(text.contains(&a.hint()), "{text}");
    if let Some(c) = class {
        assert!(text.contains(c), "{text}");
    }
    assert_eq!(slack["blocks"][0]["type"], "header");
    assert!(slack["blocks"][2]["elements"][0]["text"]
        .as_str()
        .unwrap()
        .contains(see));
    assert!(slack["blocks"][1]["text"]["text"]
        .as_str()
        .unwrap()
        .contains("Suppressed since the last alert:* 2"));
}

#[test]
fn an_incident_without_an_id_or_job_points_at_the_listing() {
    let mut a = incident();
    if let Alert::IncidentOpened { job_id, .. } = &mut a {
        *job_id = None;
    }
    assert_eq!(a.see(), "agentlane incidents");
}

#[test]
fn a_secret_in_the_hint_or_evidence_never_leaves() {
    let secret = "hunter2-a-long-password-value-9f8e7d";
    let mut s = Secrets::default();
    s.add_env([("DB_PASSWORD", secret)]);
    let r = Redactor::new(&s);
    let mut a = incident();
    if let Alert::IncidentOpened { hint, evidence, .. } = &mut a {
        *hint = format!("the password {secret} was refused");
        *evidence = Some(format!("key sk-ant-api03-{} refused", "A".repeat(93)));
    }
    for body in [
        json_body(&a, 0, "box", at(0), &r),
        slack_body(&a, 0, "box", at(0), &r),
    ] {
        let text = body.to_string();
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains(&"A".repeat(93)), "{text}");
    }
}

#[test]
fn slack_limits_are_kept() {
    let mut a = incident();
    if let Alert::IncidentOpened { hint, route, .. } = &mut a {
        *hint = "x ".repeat(5000);
        *route = Some("r".repeat(400));
    }
    let slack = slack_body(&a, 0, "box", at(0), &Redactor::shapes_only());
    assert!(
        slack["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .chars()
            .count()
            <= 150
    );
    assert!(
        slack["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap()
            .chars()
            .count()
            <= 3000
    );
    assert!(slack["text"].as_str().unwrap().chars().count() <= 3000);
}

/// (key, seconds) raised in order → what each got.
#[test_case(&[("a", 0), ("a", 10), ("a", 599), ("a", 600)], &[Some(0), None, None, Some(2)] ; "a duplicate in the window is held back and counted")]
#[test_case(&[("a", 0), ("b", 1), ("a", 2), ("b", 3)], &[Some(0), Some(0), None, None] ; "keys are debounced apart")]
#[test_case(&[("a", 0), ("a", 600), ("a", 1200)], &[Some(0), Some(0), Some(0)] ; "one per window passes")]
#[test_case(&[("a", 100), ("a", 50)], &[Some(0), None] ; "a clock that went back is within the window")]
fn the_debounce(raised: &[(&str, i64)], expect: &[Option<u64>]) {
    let mut d = Debouncer::new(Duration::from_secs(600));
    let got: Vec<Option<u64>> = raised
        .iter()
        .map(|(k, t)| match d.admit(k, at(*t)) {
            Admit::Send { suppressed } => Some(suppressed),
            Admit::Suppressed => None,
        })
        .collect();
    assert_eq!(got, expect);
}

#[test]
fn a_zero_debounce_sends_everything() {
    let mut d = Debouncer::new(Duration::ZERO);
    for _ in 0..3 {
        assert_eq!(d.admit("a", at(0)), Admit::Send { suppressed: 0 });
    }
}

/// Failed attempts at these seconds → which of them fired (3 in 600 s).
#[test_case(&[0, 10, 20], &[2] ; "the third in the window fires")]
#[test_case(&[0, 10, 20, 30, 40], &[2] ; "once per episode")]
#[test_case(&[0, 300, 600, 900], &[] ; "never three in one window")]
#[test_case(&[0, 10, 20, 2000, 2010, 2020], &[2, 5] ; "a quiet window ends the episode")]
#[test_case(&[0, 10, 599, 610], &[2] ; "the window slides, the episode goes on while it holds three")]
fn the_mass_failure_detector(times: &[i64], fired: &[usize]) {
    let mut m = MassFailure::new(3, Duration::from_secs(600));
    let got: Vec<usize> = times
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            m.failed(at(*t), Class::AuthUnavailable, "r", "h")
                .map(|_| i)
        })
        .collect();
    assert_eq!(got, fired);
}

#[test]
fn a_mass_failure_names_the_commonest_class_its_hint_and_routes() {
    let mut m = MassFailure::new(3, Duration::from_secs(600));
    assert!(m
        .failed(at(0), Class::RateLimited, "b", "slow down")
        .is_none());
    assert!(m
        .failed(at(1), Class::AuthUnavailable, "a", "log in")
        .is_none());
    let seen = m
        .failed(at(2), Class::AuthUnavailable, "c", "log in again")
        .unwrap();
    assert_eq!(
        seen,
        MassFailureSeen {
            failed: 3,
            class: Class::AuthUnavailable,
            hint: "log in again".into(),
            routes: vec!["a".into(), "b".into(), "c".into()],
        }
    );
}

#[test_case(Some(200), Verdict::Delivered ; "ok")]
#[test_case(Some(204), Verdict::Delivered ; "no content")]
#[test_case(Some(500), Verdict::Retry ; "server error")]
#[test_case(Some(503), Verdict::Retry ; "unavailable")]
#[test_case(Some(429), Verdict::Retry ; "throttled")]
#[test_case(None, Verdict::Retry ; "no answer")]
#[test_case(Some(404), Verdict::GiveUp ; "not found")]
#[test_case(Some(400), Verdict::GiveUp ; "bad body")]
#[test_case(Some(403), Verdict::GiveUp ; "forbidden")]
#[test_case(Some(302), Verdict::GiveUp ; "a redirect is not followed")]
fn what_is_retried(status: Option<u16>, expect: Verdict) {
    assert_eq!(verdict(status), expect);
}

#[test_case(2, 0.999, 500 ; "first retry, full")]
#[test_case(2, 0.0, 250 ; "first retry, halved by jitter")]
#[test_case(3, 0.999, 1000 ; "doubles")]
#[test_case(5, 0.999, 4000 ; "doubles again")]
#[test_case(20, 0.999, 30000 ; "capped")]
#[test_case(u32::MAX, 0.999, 30000 ; "never overflows")]
fn the_backoff(next: u32, jitter: f64, about_ms: u64) {
    let got = backoff(
        next,
        Duration::from_millis(500),
        Duration::from_secs(30),
        jitter,
    );
    let want = Duration::from_millis(about_ms);
    assert!(
        got <= want && got + Duration::from_millis(about_ms / 100 + 1) >= want,
        "{got:?} vs {want:?}"
    );
}
