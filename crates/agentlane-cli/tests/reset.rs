//! A usage limit's reset, through the real binary: a fake CLI prints the
//! message a real one prints, and `exec --json` carries `reset_at` in UTC.

mod common;

use common::*;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// The next 15:00 in Berlin after `now`: the rule for a time of day.
fn next_3pm_berlin(now: Timestamp) -> Timestamp {
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let today = now.to_zoned(berlin.clone()).date();
    let at = |d: jiff::civil::Date| {
        d.to_datetime(Time::constant(15, 0, 0, 0))
            .to_zoned(berlin.clone())
            .unwrap()
            .timestamp()
    };
    let t = at(today);
    if t > now {
        t
    } else {
        at(today.tomorrow().unwrap())
    }
}

#[test]
fn claude_resets_3pm_berlin_is_reported_in_utc() {
    let sb = Sandbox::new();
    let before = Timestamp::now();
    let run = sb.fake(
        &[],
        &[
            "--stdout",
            "You've hit your limit · resets 3pm (Europe/Berlin)",
            "--exit",
            "1",
        ],
    );
    let after = Timestamp::now();
    run.expect_class("quota_exhausted");
    let got: Timestamp = run
        .str("reset_at")
        .parse()
        .unwrap_or_else(|e| panic!("reset_at is RFC 3339 ({e}): {}", run.report));
    assert!(run.str("reset_at").ends_with('Z'), "UTC: {}", run.report);
    // The classifier read the clock between `before` and `after`: at 15:00
    // Berlin exactly the two differ, and either is right.
    assert!(
        got == next_3pm_berlin(before) || got == next_3pm_berlin(after),
        "{got} is not the next 3pm in Berlin after {before}"
    );
    let wait = run.report["retry_after_secs"].as_u64().unwrap();
    let expected = got.duration_since(before).as_secs() as u64;
    assert!(
        wait <= expected + 1 && wait + 60 >= expected,
        "{wait} vs {expected}"
    );
}

/// Codex prints its local time; the child's TZ says which zone that is.
#[test]
fn codex_try_again_at_is_read_in_the_childs_tz() {
    let sb = Sandbox::new();
    let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
    let target = (Timestamp::now() + SignedDuration::from_hours(50))
        .to_zoned(kolkata.clone())
        .round(jiff::Unit::Minute)
        .unwrap();
    let day = target.day();
    let suffix = match day {
        11..=13 => "th",
        _ => match day % 10 {
            1 => "st",
            2 => "nd",
            3 => "rd",
            _ => "th",
        },
    };
    let printed = format!(
        "You've hit your usage limit. Try again at {} {day}{suffix}, {} {}.",
        target.strftime("%b"),
        target.year(),
        target.strftime("%-I:%M %p")
    );
    let run = sb.fake(
        &["--env", "TZ=Asia/Kolkata"],
        &["--stdout", &printed, "--exit", "1"],
    );
    run.expect_class("quota_exhausted");
    assert_eq!(
        run.str("reset_at"),
        target.timestamp().to_string(),
        "{printed}: {}",
        run.report
    );
    // Read in UTC instead, the same words are 5h30m later.
    let run = sb.fake(&["--env", "TZ=UTC"], &["--stdout", &printed, "--exit", "1"]);
    let in_utc: Timestamp = run.str("reset_at").parse().unwrap();
    assert_eq!(
        in_utc.duration_since(target.timestamp()),
        SignedDuration::from_mins(330)
    );
}

#[test]
fn a_failure_without_a_reset_has_none() {
    let sb = Sandbox::new();
    let run = sb.fake(
        &[],
        &[
            "--stdout",
            "You've hit your limit · resets soon",
            "--exit",
            "1",
        ],
    );
    run.expect_class("quota_exhausted");
    assert!(run.report["reset_at"].is_null(), "{}", run.report);
}
