//! Reset parsing across formats and zones, with an injected clock.

use super::*;
use proptest::prelude::*;
use test_case::test_case;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

/// `reset_at` as RFC 3339 text, for compact tables.
fn read(text: &str, now: &str, local: &str) -> Option<String> {
    reset_at(text, ts(now), &zone(local)).map(|t| t.to_string())
}

// 2026-03-10 12:00Z: Berlin 13:00 (CET), New York 08:00 (EDT since Mar 8),
// Kolkata 17:30 (IST).
const NOW: &str = "2026-03-10T12:00:00Z";

// Claude Code: a time of day in a named zone.
#[test_case("You've hit your limit · resets 3pm (Europe/Berlin)", "UTC" => Some("2026-03-10T14:00:00Z".into()); "claude 3pm berlin read in its zone, not the local one")]
#[test_case("You've hit your limit · resets 3pm (Europe/Berlin)", "Asia/Kolkata" => Some("2026-03-10T14:00:00Z".into()); "a named zone beats the local zone")]
#[test_case("You've hit your session limit · resets 10pm (Europe/Berlin)", "UTC" => Some("2026-03-10T21:00:00Z".into()); "claude session limit")]
#[test_case("5-hour limit reached ∙ resets 3pm (America/New_York)", "UTC" => Some("2026-03-10T19:00:00Z".into()); "claude new york edt")]
#[test_case("resets 9:30pm (Asia/Kolkata)", "UTC" => Some("2026-03-10T16:00:00Z".into()); "half hour zone")]
#[test_case("resets 1pm (Europe/Berlin)", "UTC" => Some("2026-03-11T12:00:00Z".into()); "a time equal to now is tomorrow's")]
#[test_case("resets 11am (Europe/Berlin)", "UTC" => Some("2026-03-11T10:00:00Z".into()); "a past time of day is tomorrow's")]
#[test_case("resets 12am (Europe/Berlin)", "UTC" => Some("2026-03-10T23:00:00Z".into()); "midnight in berlin")]
#[test_case("resets 12pm (UTC)", "Europe/Berlin" => Some("2026-03-11T12:00:00Z".into()); "noon utc is now so tomorrow")]
#[test_case("resets Mar 12, 1:53am (Europe/Berlin)", "UTC" => Some("2026-03-12T00:53:00Z".into()); "claude month day")]
#[test_case("resets 3pm", "America/New_York" => Some("2026-03-10T19:00:00Z".into()); "no zone is the local zone")]
#[test_case("resets 3pm (Mars/Olympus_Mons)", "UTC" => None; "an unknown zone is no reset")]
// Codex CLI: its local time, with a date when not today.
#[test_case("You've hit your usage limit. Try again at 3:26 PM.", "UTC" => Some("2026-03-10T15:26:00Z".into()); "codex utc")]
#[test_case("You've hit your usage limit. Try again at 3:26 PM.", "Europe/Berlin" => Some("2026-03-10T14:26:00Z".into()); "codex berlin")]
#[test_case("You've hit your usage limit. Try again at 3:26 PM.", "America/New_York" => Some("2026-03-10T19:26:00Z".into()); "codex new york")]
#[test_case("You've hit your usage limit. Try again at 3:26 PM.", "Asia/Kolkata" => Some("2026-03-11T09:56:00Z".into()); "codex kolkata already past today")]
#[test_case("You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) or try again at Mar 12th, 2026 3:26 PM.", "America/New_York" => Some("2026-03-12T19:26:00Z".into()); "codex with a date")]
#[test_case("or try again at Mar 21st, 2026 9:05 AM.", "Asia/Kolkata" => Some("2026-03-21T03:35:00Z".into()); "codex st suffix")]
#[test_case("You've hit your usage limit. Try again in 2 days 3 hours 15 minutes.", "UTC" => Some("2026-03-12T15:15:00Z".into()); "codex relative words")]
#[test_case("try again in 1 hour and 5 minutes", "UTC" => Some("2026-03-10T13:05:00Z".into()); "and between parts")]
#[test_case("Try again at 15:30", "Europe/Berlin" => Some("2026-03-10T14:30:00Z".into()); "a 24 hour clock")]
// Gemini CLI and Google RPC.
#[test_case("Your quota will reset after 2h13m45s.", "UTC" => Some("2026-03-10T14:13:45Z".into()); "gemini compact duration")]
#[test_case("Please retry in 41.9s.", "UTC" => Some("2026-03-10T12:00:42Z".into()); "gemini fraction rounds up")]
#[test_case(r#"{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "41s"}"#, "UTC" => Some("2026-03-10T12:00:41Z".into()); "google rpc retry delay")]
// HTTP.
#[test_case("retry-after: 30", "UTC" => Some("2026-03-10T12:00:30Z".into()); "retry after seconds")]
#[test_case("Retry-After: Wed, 11 Mar 2026 07:28:00 GMT", "UTC" => Some("2026-03-11T07:28:00Z".into()); "retry after http date")]
#[test_case("x-ratelimit-reset-requests: 1s", "UTC" => Some("2026-03-10T12:00:01Z".into()); "openai requests reset")]
#[test_case("x-ratelimit-reset-tokens: 6m0s", "UTC" => Some("2026-03-10T12:06:00Z".into()); "openai tokens reset")]
#[test_case("x-ratelimit-reset-requests: 500ms", "UTC" => Some("2026-03-10T12:00:01Z".into()); "milliseconds round up")]
#[test_case("anthropic-ratelimit-requests-reset: 2026-03-10T12:05:00Z", "UTC" => Some("2026-03-10T12:05:00Z".into()); "anthropic reset header")]
// Epochs and JSON fields.
#[test_case("Claude AI usage limit reached|1773172800", "UTC" => Some("2026-03-10T20:00:00Z".into()); "claude legacy epoch")]
#[test_case(r#"{"error":{"type":"usage_limit_reached","resetsAt":1773172800}}"#, "UTC" => Some("2026-03-10T20:00:00Z".into()); "resetsAt epoch seconds")]
#[test_case(r#"{"resets_at": 1773172800000}"#, "UTC" => Some("2026-03-10T20:00:00Z".into()); "resets_at epoch ms")]
#[test_case(r#"{"reset_at": "1773172800"}"#, "UTC" => Some("2026-03-10T20:00:00Z".into()); "reset_at quoted epoch")]
#[test_case(r#"{"reset_at": "2026-03-10T18:00:00Z"}"#, "UTC" => Some("2026-03-10T18:00:00Z".into()); "reset_at rfc3339")]
#[test_case(r#"{"resetAt":"2026-03-10T19:00:00+01:00"}"#, "UTC" => Some("2026-03-10T18:00:00Z".into()); "resetAt with offset")]
#[test_case(r#"{"resetAt":"2026-03-10T19:00:00"}"#, "Asia/Kolkata" => Some("2026-03-10T13:30:00Z".into()); "a field without offset is local")]
// Not a reset.
#[test_case("Claude AI usage limit reached|1772323200", "UTC" => None; "an epoch in the past")]
#[test_case(r#"{"resetsAt": 1777593600}"#, "UTC" => None; "more than 31 days ahead")]
#[test_case("try again in 40 days", "UTC" => None; "a wait past the horizon")]
#[test_case("resets Nov 30, 1:53am (Europe/Berlin)", "UTC" => None; "a month day beyond the horizon")]
#[test_case("retry 3 times then give up", "UTC" => None; "a count is not a time")]
#[test_case("You've hit your usage limit. Try again later.", "UTC" => None; "later is no time")]
#[test_case("resets 13pm (UTC)", "UTC" => None; "thirteen pm")]
#[test_case("resets Feb 30, 1am (UTC)", "UTC" => None; "no such day")]
#[test_case("", "UTC" => None; "empty")]
#[test_case("exit code 1|1773172800", "UTC" => None; "a pipe epoch needs the limit words")]
// Several: the latest.
#[test_case("Please retry in 2s. Please retry in 41.9s. Please retry in 5s.", "UTC" => Some("2026-03-10T12:00:42Z".into()); "the latest of several")]
fn formats(text: &str, local: &str) -> Option<String> {
    read(text, NOW, local)
}

// DST edges and wraps, each with its own clock.
#[test_case("resets Mar 29, 2:30am (Europe/Berlin)", "2026-03-28T12:00:00Z" => Some("2026-03-29T01:30:00Z".into()); "berlin spring gap moves forward")]
#[test_case("resets Oct 25, 2:30am (Europe/Berlin)", "2026-10-24T12:00:00Z" => Some("2026-10-25T00:30:00Z".into()); "berlin autumn fold takes the earlier")]
#[test_case("resets 3pm (Europe/Berlin)", "2026-03-28T15:00:00Z" => Some("2026-03-29T13:00:00Z".into()); "tomorrow is summer time in berlin")]
#[test_case("resets 3pm (Europe/Berlin)", "2026-10-24T14:00:00Z" => Some("2026-10-25T14:00:00Z".into()); "tomorrow is winter time in berlin")]
#[test_case("Try again at 3:00 AM.", "2026-03-08T06:30:00Z" => Some("2026-03-08T07:00:00Z".into()); "new york an hour after the spring gap")]
#[test_case("Try again at 2:30 AM.", "2026-03-08T06:00:00Z" => Some("2026-03-08T07:30:00Z".into()); "new york inside the spring gap")]
#[test_case("Try again at 12:15 AM.", "2026-03-10T23:30:00Z" => Some("2026-03-11T04:15:00Z".into()); "new york midnight wrap")]
#[test_case("resets 12:15am (UTC)", "2026-03-10T23:30:00Z" => Some("2026-03-11T00:15:00Z".into()); "utc midnight wrap")]
#[test_case("resets Jan 2, 9am (Europe/Berlin)", "2026-12-20T12:00:00Z" => Some("2027-01-02T08:00:00Z".into()); "a month day in next year")]
#[test_case("resets Dec 31, 11:30pm (Asia/Kolkata)", "2026-12-31T18:30:00Z" => None; "new year's eve passed is next year, beyond the horizon")]
#[test_case("resets 11:45pm (UTC)", "2026-12-31T23:30:00Z" => Some("2026-12-31T23:45:00Z".into()); "year end same day")]
fn edges(text: &str, now: &str) -> Option<String> {
    read(text, now, "America/New_York")
}

#[test]
fn patterns_compile() {
    assert!(patterns().is_some());
}

#[test_case(None => "system"; "no tz is the system zone")]
#[test_case(Some("Europe/Berlin") => "Europe/Berlin"; "an iana name")]
#[test_case(Some(":Asia/Kolkata") => "Asia/Kolkata"; "a leading colon")]
#[test_case(Some("/usr/share/zoneinfo/America/New_York") => "America/New_York"; "a zoneinfo path")]
#[test_case(Some("") => "UTC"; "empty is utc")]
#[test_case(Some("Nowhere/Land") => "UTC"; "unreadable is utc")]
fn child_zones(tz: Option<&str>) -> String {
    let z = child_zone(tz);
    match tz {
        None => {
            let system = TimeZone::try_system().unwrap_or(TimeZone::UTC);
            assert_eq!(z.iana_name(), system.iana_name());
            "system".into()
        }
        Some(_) => z.iana_name().unwrap_or("?").to_string(),
    }
}

#[test]
fn a_posix_tz_is_read() {
    let z = child_zone(Some("CET-1CEST,M3.5.0,M10.5.0/3"));
    let t = reset_at("resets 3pm", ts(NOW), &z).unwrap();
    assert_eq!(t.to_string(), "2026-03-10T14:00:00Z");
}

proptest! {
    #[test]
    fn never_panics_and_stays_in_the_horizon(text in any::<String>(), secs in 0i64..4_000_000_000) {
        let now = Timestamp::from_second(secs).unwrap();
        if let Some(t) = reset_at(&text, now, &TimeZone::UTC) {
            prop_assert!(t > now);
            prop_assert!(t.as_second() - now.as_second() <= HORIZON_DAYS * 86_400);
        }
    }

    #[test]
    fn shaped_text_never_panics(
        prefix in "(resets|try again at|retry in|Retry-After:|resetsAt\":|limit reached\\|)",
        body in "[0-9a-zA-Z:,./() -]{0,40}",
        secs in 0i64..4_000_000_000,
    ) {
        let now = Timestamp::from_second(secs).unwrap();
        let _ = reset_at(&format!("{prefix} {body}"), now, &zone("Europe/Berlin"));
    }
}

/// Through the classifier: the verdict carries the reset, the retry-after
/// is filled from it, and without a clock nothing is read.
mod through_classify {
    use super::*;
    use crate::classify::{classify, HintContext, Observed, RuleSet};

    fn run(
        stdout: &str,
        now: Option<Timestamp>,
        zone: Option<&TimeZone>,
    ) -> crate::classify::Classification {
        let observed = Observed {
            exit_code: Some(1),
            signal: None,
            timed_out: false,
            stdout_tail: stdout.as_bytes(),
            stderr_tail: b"",
            stdout_truncated: false,
            stderr_truncated: false,
        };
        let ctx = HintContext {
            program: "claude",
            cwd: "/tmp",
            now,
            zone,
            ..HintContext::default()
        };
        classify(&observed, RuleSet::builtin, &ctx)
    }

    #[test]
    fn a_usage_limit_carries_its_reset_and_the_wait_until_it() {
        let berlin = zone("America/New_York");
        let c = run(
            "You've hit your limit · resets 3pm (Europe/Berlin)\n",
            Some(ts(NOW)),
            Some(&berlin),
        );
        assert_eq!(c.class, crate::Class::QuotaExhausted, "{c:?}");
        assert_eq!(
            c.reset_at.map(ResetAt::timestamp),
            Some(ts("2026-03-10T14:00:00Z"))
        );
        assert_eq!(c.retry_after_secs, Some(7200));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["reset_at"], "2026-03-10T14:00:00Z");
        let back: crate::classify::Classification = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
        assert!(std::mem::size_of::<crate::classify::Classification>() < 128);
    }

    #[test]
    fn a_relative_wait_the_cli_gave_is_kept() {
        let c = run(
            "API Error: 429 rate_limit_error: Please retry in 41.9s\n",
            Some(ts(NOW)),
            None,
        );
        assert_eq!(c.class, crate::Class::RateLimited, "{c:?}");
        assert_eq!(
            c.reset_at.map(ResetAt::timestamp),
            Some(ts("2026-03-10T12:00:42Z"))
        );
        assert_eq!(c.retry_after_secs, Some(42));
    }

    #[test]
    fn without_a_clock_or_for_other_classes_there_is_no_reset() {
        let c = run(
            "You've hit your limit · resets 3pm (Europe/Berlin)\n",
            None,
            None,
        );
        assert_eq!(c.reset_at, None);
        let c = run(
            "Invalid API key · resets 3pm (Europe/Berlin)\n",
            Some(ts(NOW)),
            None,
        );
        assert_ne!(c.class, crate::Class::QuotaExhausted);
        assert_eq!(c.reset_at, None);
    }
}
