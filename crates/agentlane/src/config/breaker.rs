//! `[breaker]`: when a route's circuit breaker opens and how its probes are
//! spaced (`crate::breaker` decides; this reads and checks the numbers, with
//! file:line:column errors).

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::parse::Source;
use super::ConfigError;

/// `[breaker]` as serde reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBreaker {
    #[serde(default)]
    pub(crate) enabled: Option<bool>,
    #[serde(default)]
    pub(crate) failures: Option<Spanned<u32>>,
    #[serde(default)]
    pub(crate) window_attempts: Option<Spanned<u32>>,
    #[serde(default)]
    pub(crate) within: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) probe_first: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) probe_max: Option<Spanned<String>>,
}

/// The breaker's thresholds and probe schedule (`[breaker]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Whether runtime failures open breakers (default true). Off, no
    /// breaker opens; one already open is still probed, so it closes.
    pub enabled: bool,
    /// Runtime failures among the recent attempts that open it (default 5).
    pub failures: u32,
    /// How many of the route's latest attempts are looked at (default 10).
    pub window_attempts: u32,
    /// Only attempts this recent count (default 5m).
    pub within: Duration,
    /// The first probe's delay after opening (default 30s); each failed
    /// probe doubles it.
    pub probe_first: Duration,
    /// The longest delay between probes (default 30m).
    pub probe_max: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            enabled: true,
            failures: 5,
            window_attempts: 10,
            within: Duration::from_secs(5 * 60),
            probe_first: Duration::from_secs(30),
            probe_max: Duration::from_secs(30 * 60),
        }
    }
}

/// Reads `[breaker]` (defaults for what it leaves out) and checks that the
/// numbers can work together.
pub(crate) fn settings(
    src: &Source<'_>,
    raw: Option<&Spanned<RawBreaker>>,
) -> Result<BreakerSettings, ConfigError> {
    let mut s = BreakerSettings::default();
    let Some(raw) = raw else {
        return Ok(s);
    };
    let b = raw.get_ref();
    if let Some(on) = b.enabled {
        s.enabled = on;
    }
    if let Some(n) = &b.failures {
        if *n.get_ref() == 0 {
            return Err(src.at(
                n,
                "`breaker.failures` is 0: write how many runtime failures open a route's breaker (at least 1)",
            ));
        }
        s.failures = *n.get_ref();
    }
    if let Some(n) = &b.window_attempts {
        s.window_attempts = *n.get_ref();
    }
    if s.window_attempts < s.failures {
        let at = b
            .window_attempts
            .as_ref()
            .map_or_else(|| src.at(raw, ""), |n| src.at(n, ""));
        return Err(ConfigError {
            message: format!(
                "`breaker.window_attempts` ({}) is below `breaker.failures` ({}): the breaker could never open",
                s.window_attempts, s.failures
            ),
            ..at
        });
    }
    for (value, key, slot) in [
        (&b.within, "breaker.within", &mut s.within),
        (&b.probe_first, "breaker.probe_first", &mut s.probe_first),
        (&b.probe_max, "breaker.probe_max", &mut s.probe_max),
    ] {
        if let Some(t) = value {
            let d = src.duration(t, key)?;
            if d.is_zero() {
                return Err(src.at(
                    t,
                    format!("`{key}` is zero: give it a length, e.g. \"30s\""),
                ));
            }
            *slot = d;
        }
    }
    if s.probe_max < s.probe_first {
        let at = b
            .probe_max
            .as_ref()
            .map_or_else(|| src.at(raw, ""), |t| src.at(t, ""));
        return Err(ConfigError {
            message: format!(
                "`breaker.probe_max` ({}) is shorter than `breaker.probe_first` ({}): the probes could not back off",
                humantime::format_duration(s.probe_max),
                humantime::format_duration(s.probe_first)
            ),
            ..at
        });
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use std::path::Path;
    use test_case::test_case;

    fn breaker(text: &str) -> Result<super::BreakerSettings, String> {
        parse(Path::new("a.toml"), text)
            .map(|c| c.breaker)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_without_a_section() {
        assert_eq!(breaker("").unwrap(), super::BreakerSettings::default());
    }

    #[test]
    fn every_key_is_read() {
        let b = breaker(
            "[breaker]\nenabled = false\nfailures = 2\nwindow_attempts = 3\nwithin = \"1m\"\nprobe_first = \"1s\"\nprobe_max = \"4s\"\n",
        )
        .unwrap();
        assert_eq!((b.enabled, b.failures, b.window_attempts), (false, 2, 3));
        assert_eq!(b.within.as_secs(), 60);
        assert_eq!((b.probe_first.as_secs(), b.probe_max.as_secs()), (1, 4));
    }

    #[test_case("[breaker]\nfailures = 0\n", "a.toml:2:", "at least 1"; "zero failures")]
    #[test_case("[breaker]\nfailures = 5\nwindow_attempts = 3\n", "a.toml:3:", "never open"; "window below failures")]
    #[test_case("[breaker]\nwithin = \"soon\"\n", "a.toml:2:", "not a duration"; "bad duration")]
    #[test_case("[breaker]\nprobe_first = \"0s\"\n", "a.toml:2:", "zero"; "zero probe")]
    #[test_case("[breaker]\nprobe_first = \"1h\"\nprobe_max = \"1m\"\n", "a.toml:3:", "back off"; "max below first")]
    #[test_case("[breaker]\nfailures = -1\n", "a.toml:2:", ""; "negative")]
    #[test_case("[breaker]\nopen = true\n", "a.toml:2:", "unknown field"; "unknown key")]
    fn bad_input_names_its_place(text: &str, place: &str, words: &str) {
        let e = breaker(text).unwrap_err();
        assert!(e.contains(place) && e.contains(words), "{e}");
    }
}
