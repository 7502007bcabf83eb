//! Settings that parse but cannot work, refused at load with their position
//! and the fix: a lease too short for the heartbeat, durations that mean
//! nothing at zero (and an artifact cap of zero bytes), a lane the
//! configuration does not define.
//!
//! Runs over the raw, spanned configuration after it deserialised; a value
//! that is not a duration at all is left to the loader's own message.

use std::time::Duration;

use toml::Spanned;

use super::{Config, ConfigError, RawConfig, RawRetry, Source};

/// The shortest `[queue] lease`: the heartbeat renews every lease/3 and must
/// fit a store round trip in that third, and a worker cut off from the store
/// stops its agents at 2/3 of the lease with a kill grace of lease/6.
pub const MIN_LEASE: Duration = Duration::from_secs(1);

/// Refuses the settings of `raw` that cannot work.
pub(super) fn check(src: &Source<'_>, raw: &RawConfig) -> Result<(), ConfigError> {
    if let Some(q) = &raw.queue {
        if let Some((t, d)) = parsed(&q.lease) {
            if d < MIN_LEASE {
                return Err(src.at(t, format!(
                    "`queue.lease` = \"{}\" is too short: the heartbeat renews leases every lease/3 and must fit a store round trip in that time; use at least \"{}\" (\"30s\" is the default)",
                    t.get_ref(),
                    humantime::format_duration(MIN_LEASE)
                )));
            }
        }
        nonzero(
            src,
            &q.poll,
            "queue.poll",
            "a worker would poll the store without pause; use e.g. \"250ms\" (the default)",
        )?;
        nonzero(
            src,
            &q.idle_poll,
            "queue.idle_poll",
            "an idle worker would run whole passes without pause; use e.g. \"5s\" (the default)",
        )?;
        if q.retention
            .as_ref()
            .is_some_and(|t| t.get_ref().trim() != "off")
        {
            nonzero(
                src,
                &q.retention,
                "queue.retention",
                "every finished job would be pruned at once; use e.g. \"14d\" (the default), or \"off\" to keep everything",
            )?;
        }
    }
    if let Some(p) = &raw.preflight {
        nonzero(
            src,
            &p.probe_timeout,
            "preflight.probe_timeout",
            "every probe would time out and no route would pass preflight; use e.g. \"15s\" (the default)",
        )?;
    }
    for (name, r) in &raw.routes {
        let r = r.get_ref();
        nonzero(
            src,
            &r.timeout,
            &format!("routes.{name}.timeout"),
            "every run would be killed at once; use e.g. \"20m\", or remove the key for no timeout",
        )?;
        for (class, p) in &r.retry {
            retry(src, &format!("routes.{name}.retry.{class}"), p)?;
        }
    }
    for (class, p) in &raw.retry {
        retry(src, &format!("retry.{class}"), p)?;
    }
    if let Some(t) = raw
        .artifacts
        .as_ref()
        .and_then(|a| a.max_bytes_per_stream.as_ref())
    {
        if crate::size::parse_size(t.get_ref()) == Ok(0) {
            return Err(src.at(t, format!(
                "`artifacts.max_bytes_per_stream` = \"{}\" is zero: no output would be kept in the artifact files; use e.g. \"64MiB\" (the default)",
                t.get_ref()
            )));
        }
    }
    Ok(())
}

fn retry(src: &Source<'_>, key: &str, p: &Spanned<RawRetry>) -> Result<(), ConfigError> {
    nonzero(
        src,
        &p.get_ref().max_timeout,
        &format!("{key}.max_timeout"),
        "every retried run would be killed at once; use e.g. \"1h\", or remove the key for no cap",
    )
}

/// The value and its duration, when it is one (else the loader reports it).
fn parsed(t: &Option<Spanned<String>>) -> Option<(&Spanned<String>, Duration)> {
    let t = t.as_ref()?;
    humantime::parse_duration(t.get_ref()).ok().map(|d| (t, d))
}

fn nonzero(
    src: &Source<'_>,
    t: &Option<Spanned<String>>,
    key: &str,
    why: &str,
) -> Result<(), ConfigError> {
    match parsed(t) {
        Some((t, d)) if d.is_zero() => {
            Err(src.at(t, format!("`{key}` = \"{}\" is zero: {why}", t.get_ref())))
        }
        _ => Ok(()),
    }
}

impl Config {
    /// Checks that a worker may serve `lane`: any lane when the configuration
    /// defines none (every route serves every lane), else one of `[lanes]`.
    /// The error lists the configured lanes.
    pub fn check_lane(&self, lane: &str) -> Result<(), String> {
        if self.lanes.is_empty() || self.lanes.contains_key(lane) {
            return Ok(());
        }
        let known: Vec<&str> = self.lanes.keys().map(String::as_str).collect();
        Err(format!(
            "unknown lane '{lane}': {} defines [{}]; use one of them, or add [lanes.{lane}] with its routes",
            self.path.display(),
            known.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use test_case::test_case;

    use crate::config::parse;

    const ROUTE: &str = "[routes.a]\nprogram = \"/bin/true\"\n";

    #[test_case("[queue]\nlease = \"0s\"\n", 2, 9, "at least \"1s\"" ; "zero lease")]
    #[test_case("[queue]\nlease = \"999ms\"\n", 2, 9, "lease/3" ; "lease under the minimum")]
    #[test_case("[queue]\npoll = \"0ms\"\n", 2, 8, "without pause" ; "zero poll")]
    #[test_case("[queue]\nidle_poll = \"0s\"\n", 2, 13, "\"5s\" (the default)" ; "zero idle poll")]
    #[test_case("[store]\nmax_connections = 1\n", 2, 19, "one kept for lease renewals" ; "a budget of one connection")]
    #[test_case("[store]\nmax_connections = 5000\n", 2, 19, "from 2 to 1000" ; "a budget over a thousand")]
    #[test_case("[queue]\nretention = \"0d\"\n", 2, 13, "\"off\"" ; "zero retention")]
    #[test_case("[preflight]\nprobe_timeout = \"0s\"\n", 2, 17, "no route would pass" ; "zero probe timeout")]
    #[test_case("[routes.b]\nprogram = \"x\"\ntimeout = \"0s\"\n", 3, 11, "routes.b.timeout" ; "zero route timeout")]
    #[test_case("[retry.rate_limited]\nmax_timeout = \"0s\"\n", 2, 15, "retry.rate_limited.max_timeout" ; "zero retry cap")]
    #[test_case("[routes.b]\nprogram = \"x\"\n[routes.b.retry.timeout]\nmax_timeout = \"0s\"\n", 4, 15, "routes.b.retry.timeout.max_timeout" ; "zero route retry cap")]
    #[test_case("[artifacts]\nmax_bytes_per_stream = \"0\"\n", 2, 24, "artifacts.max_bytes_per_stream" ; "zero artifact cap")]
    #[test_case("[artifacts]\nmax_bytes_per_stream = \"0MiB\"\n", 2, 24, "\"64MiB\" (the default)" ; "zero artifact cap with a unit")]
    #[test_case("[artifacts]\nmax_bytes_per_stream = \"lots\"\n", 2, 24, "512KiB, 64MiB" ; "an artifact cap that is not a size")]
    fn settings_that_cannot_work_are_refused_at_their_position(
        text: &str,
        line: usize,
        column: usize,
        fix: &str,
    ) {
        let e = parse(Path::new("a.toml"), &format!("{text}{ROUTE}")).unwrap_err();
        assert_eq!((e.line, e.column), (line, column), "{e}");
        assert!(e.message.contains(fix), "{e}");
    }

    #[test_case("[queue]\nlease = \"1s\"\n" ; "the minimum lease")]
    #[test_case("[queue]\nretention = \"off\"\n" ; "retention off")]
    #[test_case("[store]\nmax_connections = 2\n" ; "the least budget, without a URL")]
    #[test_case("[queue]\nshutdown_grace = \"0s\"\n" ; "no shutdown grace")]
    #[test_case("[preflight]\nttl = \"0s\"\n" ; "a preflight probed every time")]
    #[test_case("[retry.rate_limited]\ninitial_backoff = \"0s\"\n" ; "an immediate retry")]
    fn settings_that_work_at_zero_or_the_minimum_are_accepted(text: &str) {
        parse(Path::new("a.toml"), &format!("{text}{ROUTE}")).unwrap();
    }

    #[test]
    fn a_lane_is_checked_against_the_configured_lanes_only_when_there_are_some() {
        let none = parse(Path::new("a.toml"), ROUTE).unwrap();
        assert!(none.check_lane("anything").is_ok());
        let some = parse(
            Path::new("a.toml"),
            &format!("{ROUTE}[lanes.main]\nroutes = [\"a\"]\n[lanes.bulk]\n"),
        )
        .unwrap();
        assert!(some.check_lane("main").is_ok());
        let e = some.check_lane("mian").unwrap_err();
        assert!(
            e.contains("unknown lane 'mian'") && e.contains("[bulk, main]"),
            "{e}"
        );
    }
}
