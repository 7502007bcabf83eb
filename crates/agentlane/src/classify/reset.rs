//! When a usage limit resets: the time a CLI printed, read into UTC.
//!
//! The CLIs say it in many ways, each read here from real output:
//! - Claude Code: `You've hit your limit · resets 3pm (Europe/Berlin)`,
//!   `resets Nov 30, 1:53am (Europe/Berlin)`, and the legacy
//!   `Claude AI usage limit reached|1750708800` (a Unix time);
//! - Codex CLI: `Try again at 3:26 PM.` (its local time, today),
//!   `try again at Dec 5th, 2025 3:26 PM.`, and older releases'
//!   `try again in 2 days 3 hours 15 minutes`;
//! - Gemini CLI: `Your quota will reset after 2h13m45s.`, `Please retry in
//!   41.9s`, a Google RPC body's `"retryDelay": "41s"`;
//! - HTTP: `retry-after: 30`, `Retry-After: Wed, 21 Oct 2026 07:28:00 GMT`,
//!   `x-ratelimit-reset-requests: 6m0s`, `anthropic-ratelimit-…-reset: <RFC 3339>`;
//! - JSON fields `resetsAt`, `resets_at`, `reset_at`, `resetAt`: epoch
//!   seconds, epoch milliseconds or RFC 3339.
//!
//! Rules: a time without a zone is read in `local` (the child's zone: the CLI
//! printed its own local time); a time of day without a date is its next
//! occurrence after `now`; a month and day without a year is its next
//! occurrence. A result in the past (or at `now`) or more than
//! [`HORIZON_DAYS`] ahead is not a reset but a misreading, and is ignored.
//! When the text names several resets, the latest wins: waiting for the
//! latest is never too early. Results are whole seconds (rounded up), so their
//! RFC 3339 text sorts as the time does.
//!
//! Pure: the clock and the zone are parameters; nothing here panics on any text.

use std::sync::OnceLock;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use regex::{Captures, Regex};

use super::structured::StreamText;
use super::HintContext;
use crate::class::Class;

/// The furthest ahead a reset may lie (a monthly quota resets within a month).
pub const HORIZON_DAYS: i64 = 31;

/// The reset the text names, in UTC, if any plausible one. Pure.
pub fn reset_at(text: &str, now: Timestamp, local: &TimeZone) -> Option<Timestamp> {
    let p = patterns()?;
    let mut best: Option<Timestamp> = None;
    let mut consider = |t: Option<Timestamp>| {
        if let Some(t) = t.and_then(|t| plausible(t, now)) {
            best = Some(best.map_or(t, |b| b.max(t)));
        }
    };
    for c in p.epoch_pipe.captures_iter(text) {
        consider(c.get(1).and_then(|m| epoch(m.as_str())));
    }
    for c in p.field.captures_iter(text) {
        consider(field_value(&c, local));
    }
    for m in p.relative.find_iter(text) {
        let wait = text.get(m.end()..).and_then(duration);
        consider(wait.and_then(|d| now.checked_add(d).ok()));
    }
    for c in p.http_date.captures_iter(text) {
        let parsed = c
            .get(1)
            .and_then(|m| jiff::fmt::rfc2822::parse(m.as_str()).ok());
        consider(parsed.map(|z| z.timestamp()));
    }
    for m in p.absolute.find_iter(text) {
        let rest = text.get(m.end()..).unwrap_or("");
        let at = p
            .clock
            .captures(rest)
            .and_then(|c| clock(&c, now, local))
            .or_else(|| {
                let m = p.iso.captures(rest)?.get(1)?;
                datetime_text(m.as_str(), local)
            });
        consider(at);
    }
    best
}

/// A reset as a verdict carries it: a whole UTC second, RFC 3339 text in
/// JSON. Eight bytes where a [`Timestamp`] takes sixteen, so that a
/// [`super::Classification`] (the error of every pre-launch check) stays small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResetAt(i64);

impl ResetAt {
    /// The time (whole seconds).
    pub fn timestamp(self) -> Timestamp {
        // Always in range: a ResetAt is only made from a Timestamp.
        Timestamp::from_second(self.0).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

impl From<Timestamp> for ResetAt {
    fn from(t: Timestamp) -> Self {
        ResetAt(t.as_second())
    }
}

impl serde::Serialize for ResetAt {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.timestamp().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for ResetAt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Timestamp::deserialize(d).map(ResetAt::from)
    }
}

/// The reset a verdict carries, and its retry-after: only `quota_exhausted`
/// and `rate_limited` carry one, and only when the caller gave a clock
/// (`ctx.now`). A relative wait the CLI gave (`retry_after`) is kept; when it
/// gave none, the seconds until the reset stand in for it.
pub fn of_verdict(
    class: Class,
    text: &StreamText,
    retry_after: Option<u64>,
    ctx: &HintContext<'_>,
) -> (Option<ResetAt>, Option<u64>) {
    let reset = match (class, ctx.now) {
        (Class::QuotaExhausted | Class::RateLimited, Some(now)) => {
            let utc = TimeZone::UTC;
            reset_at(&text.all_text(), now, ctx.zone.unwrap_or(&utc))
        }
        _ => None,
    };
    let wait = retry_after.or_else(|| secs_until(reset?, ctx.now?));
    (reset.map(ResetAt::from), wait)
}

/// Whole seconds from `now` until `at` (rounded up), if `at` is ahead.
pub fn secs_until(at: Timestamp, now: Timestamp) -> Option<u64> {
    let d = at.duration_since(now);
    if d <= SignedDuration::ZERO {
        return None;
    }
    let secs = d.as_secs().checked_add(i64::from(d.subsec_nanos() > 0))?;
    u64::try_from(secs).ok()
}

/// The zone a child's `TZ` names, else the system's: how the CLI rendered
/// its local times. An unreadable `TZ` is UTC, as the C library reads it.
pub fn child_zone(tz: Option<&str>) -> TimeZone {
    let Some(tz) = tz else {
        return TimeZone::try_system().unwrap_or(TimeZone::UTC);
    };
    let name = tz.strip_prefix(':').unwrap_or(tz).trim();
    let name = match name.split_once("zoneinfo/") {
        Some((_, after)) if name.starts_with('/') => after,
        _ => name,
    };
    if name.is_empty() {
        return TimeZone::UTC;
    }
    TimeZone::get(name)
        .or_else(|_| TimeZone::posix(name))
        .unwrap_or(TimeZone::UTC)
}

/// A reset in `(now, now + HORIZON_DAYS]`, rounded up to a whole second.
fn plausible(t: Timestamp, now: Timestamp) -> Option<Timestamp> {
    let secs = t
        .as_second()
        .checked_add(i64::from(t.subsec_nanosecond() > 0))?;
    let t = Timestamp::from_second(secs).ok()?;
    let ahead = t.as_second().checked_sub(now.as_second())?;
    (t > now && ahead <= HORIZON_DAYS * 86_400).then_some(t)
}

/// A Unix time in seconds, or in milliseconds when it has 13 digits or more.
fn epoch(digits: &str) -> Option<Timestamp> {
    let value: f64 = digits.parse().ok()?;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let secs = if value >= 1e12 { value / 1000.0 } else { value };
    if secs > 1e11 {
        return None;
    }
    Timestamp::from_second(secs.ceil() as i64).ok()
}

/// A field's value: an epoch (seconds or ms) or a date-time text.
fn field_value(c: &Captures<'_>, local: &TimeZone) -> Option<Timestamp> {
    let value = c
        .get(1)
        .or_else(|| c.get(2))
        .or_else(|| c.get(3))?
        .as_str()
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return epoch(value);
    }
    datetime_text(value, local)
}

/// RFC 3339 with an offset, or an ISO date-time without one (read in `local`).
fn datetime_text(value: &str, local: &TimeZone) -> Option<Timestamp> {
    if let Ok(t) = value.parse::<Timestamp>() {
        return Some(t);
    }
    let civil: DateTime = value.parse().ok()?;
    civil.to_zoned(local.clone()).ok().map(|z| z.timestamp())
}

/// A wait written as `30`, `41.9s`, `2h13m45s`, `6m0s`, `500ms`,
/// `2 days 3 hours 15 minutes` or `1 hour and 5 minutes`, at the start of
/// `text`. A bare number is seconds (as `Retry-After` means it).
fn duration(text: &str) -> Option<SignedDuration> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut total = 0.0_f64;
    let mut parts = 0;
    loop {
        let start = i;
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            break;
        }
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        // "41.9s." ends a sentence: a trailing dot is not the number's.
        if b[i - 1] == b'.' {
            i -= 1;
        }
        let Some(n) = text.get(start..i).and_then(|s| s.parse::<f64>().ok()) else {
            break;
        };
        if i - start > 12 {
            break;
        }
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let unit_start = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = text.get(unit_start..i)?.to_ascii_lowercase();
        let scale = match unit.as_str() {
            "" if parts == 0 => 1.0,
            "ms" | "msec" | "millisecond" | "milliseconds" => 0.001,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            _ if parts == 0 => return None,
            _ => break,
        };
        total += n * scale;
        parts += 1;
        if unit.is_empty() {
            break;
        }
        // Separators between parts: spaces, commas, "and".
        while i < b.len() && matches!(b[i], b' ' | b',') {
            i += 1;
        }
        if text
            .get(i..i + 4)
            .is_some_and(|s| s.eq_ignore_ascii_case("and "))
        {
            i += 4;
        }
    }
    if parts == 0 || !total.is_finite() || total > (HORIZON_DAYS * 86_400 * 2) as f64 {
        return None;
    }
    SignedDuration::try_from_secs_f64(total).ok()
}

/// A clock time, maybe with a month and day (and year), maybe with a zone.
fn clock(c: &Captures<'_>, now: Timestamp, local: &TimeZone) -> Option<Timestamp> {
    let num = |name: &str| c.name(name).and_then(|m| m.as_str().parse::<i64>().ok());
    let hour = num("h")?;
    let minute = num("min");
    let meridiem = c
        .name("ap")
        .and_then(|m| m.as_str().chars().next())
        .map(|ch| ch.to_ascii_lowercase());
    // "retry 3 times" is not a time: a time has minutes or am/pm.
    if minute.is_none() && meridiem.is_none() {
        return None;
    }
    let hour = match meridiem {
        Some(ap) if (1..=12).contains(&hour) => hour % 12 + if ap == 'p' { 12 } else { 0 },
        Some(_) => return None,
        None if (0..=23).contains(&hour) => hour,
        None => return None,
    };
    let time = Time::new(
        i8::try_from(hour).ok()?,
        i8::try_from(minute.unwrap_or(0)).ok()?,
        0,
        0,
    )
    .ok()?;
    let zone = if let Some(name) = c.name("zone") {
        TimeZone::get(name.as_str()).ok()?
    } else if c.name("utc").is_some() {
        TimeZone::UTC
    } else {
        local.clone()
    };
    let today = now.to_zoned(zone.clone()).date();
    let at = |date: Date| -> Option<Timestamp> {
        let z = date.to_datetime(time).to_zoned(zone.clone()).ok()?;
        Some(z.timestamp())
    };
    let Some(month) = c.name("mon").and_then(|m| month(m.as_str())) else {
        // A time of day: its next occurrence.
        let t = at(today)?;
        return if t > now {
            Some(t)
        } else {
            at(today.tomorrow().ok()?)
        };
    };
    let day = i8::try_from(num("day")?).ok()?;
    if let Some(year) = num("year") {
        return at(Date::new(i16::try_from(year).ok()?, month, day).ok()?);
    }
    // A month and day: its next occurrence.
    let year = today.year();
    let this_year = Date::new(year, month, day).ok().and_then(at);
    match this_year {
        Some(t) if t > now => Some(t),
        _ => at(Date::new(year.checked_add(1)?, month, day).ok()?),
    }
}

fn month(name: &str) -> Option<i8> {
    let prefix = name.get(..3)?.to_ascii_lowercase();
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let i = months.iter().position(|m| *m == prefix)?;
    i8::try_from(i + 1).ok()
}

struct Patterns {
    epoch_pipe: Regex,
    field: Regex,
    relative: Regex,
    http_date: Regex,
    absolute: Regex,
    clock: Regex,
    iso: Regex,
}

/// The patterns, compiled once (`None` only if a constant pattern were
/// invalid, which `patterns_compile` rules out).
fn patterns() -> Option<&'static Patterns> {
    static PATTERNS: OnceLock<Option<Patterns>> = OnceLock::new();
    PATTERNS
        .get_or_init(|| {
            Some(Patterns {
                // Claude Code's legacy `…usage limit reached|1750708800`.
                epoch_pipe: Regex::new(r"(?i)limit[^|\n]{0,80}\|(\d{10,13})\b").ok()?,
                // resetsAt / resets_at / reset_at / resetAt, and reset headers
                // whose value is a time (x-ratelimit-reset: <epoch>,
                // anthropic-ratelimit-requests-reset: <RFC 3339>).
                field: Regex::new(
                    r#"(?i)(?:resets?_?at|x-ratelimit-reset|ratelimit-[a-z-]*reset)["']?\s*[:=]\s*(?:"([^"\n]{1,40})"|'([^'\n]{1,40})'|(\d{4}-\d{2}-\d{2}[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?|\d{9,14}(?:\.\d+)?))"#,
                )
                .ok()?,
                // Relative waits: what follows is read by `duration`.
                relative: Regex::new(
                    r#"(?i)(?:\btry again in|\bretry(?:ing)? in|\bretry[-_ ]?after|\bresets? in|\breset after|\bretry_?delay|\bx-ratelimit-reset-[a-z]+|\bratelimit-reset)["']?\s*[:=]?\s*["']?"#,
                )
                .ok()?,
                http_date: Regex::new(
                    r#"(?i)retry-after["']?\s*[:=]\s*["']?((?:mon|tue|wed|thu|fri|sat|sun),\s*\d{1,2}\s+[a-z]{3}\s+\d{4}\s+\d{2}:\d{2}(?::\d{2})?\s*(?:GMT|UTC|UT|Z|[+-]\d{4}))"#,
                )
                .ok()?,
                // Absolute times: what follows is read by `clock` or `iso`.
                absolute: Regex::new(
                    r"(?i)\b(?:resets?|try again|retry|available again)\s+(?:at\s+|on\s+)?",
                )
                .ok()?,
                clock: Regex::new(
                    r"(?i)^(?:(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?:(?P<year>\d{4}),?\s+)?(?:at\s+)?)?(?P<h>\d{1,2})(?::(?P<min>\d{2}))?(?:\s*(?P<ap>[ap])\.?\s?m\b\.?)?(?:\s*(?:\((?P<zone>[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*)\)|(?P<utc>UTC|GMT|Z)\b))?",
                )
                .ok()?,
                iso: Regex::new(
                    r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)",
                )
                .ok()?,
            })
        })
        .as_ref()
}

#[cfg(test)]
mod tests;
