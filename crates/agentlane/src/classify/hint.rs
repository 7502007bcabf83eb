//! Repair hints: concrete facts of this dispatch, not boilerplate.

use std::sync::OnceLock;

use regex::Regex;

use crate::class::Class;

/// The facts a hint may name. Placeholders: `{program}`, `{cli_path}`,
/// `{home}`, `{path}`, `{cwd}`, `{evidence}`, `{retry_after}`, `{timeout}`,
/// `{exit_code}`, `{signal}`, `{dispatch_id}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HintContext<'a> {
    /// The program as asked for.
    pub program: &'a str,
    /// The resolved executable.
    pub cli_path: Option<&'a str>,
    /// The child's HOME.
    pub home: Option<&'a str>,
    /// The child's PATH.
    pub path: Option<&'a str>,
    /// The child's working directory.
    pub cwd: &'a str,
    /// The evidence line.
    pub evidence: Option<&'a str>,
    /// Retry-after seconds, when the CLI said.
    pub retry_after_secs: Option<u64>,
    /// The timeout, humanised.
    pub timeout: Option<&'a str>,
    /// The exit code.
    pub exit_code: Option<i32>,
    /// The signal.
    pub signal: Option<i32>,
    /// The dispatch id.
    pub dispatch_id: &'a str,
    /// The clock for reading a printed reset time ("resets 3pm"); without
    /// it no reset is read, so the classifier itself never reads a clock.
    pub now: Option<jiff::Timestamp>,
    /// The zone the child printed its local times in (its `TZ`, else the
    /// system's); UTC when not given.
    pub zone: Option<&'a jiff::tz::TimeZone>,
}

/// The conventional name of a signal number (`SIGKILL`), or `signal N`.
pub fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}

/// Fills a hint template's placeholders.
pub fn render(template: &str, ctx: &HintContext<'_>) -> String {
    let or_unset = |v: Option<&str>| v.map_or_else(|| "<unset>".to_string(), str::to_string);
    let retry_after = ctx
        .retry_after_secs
        .map_or_else(|| "unknown".to_string(), |s| format!("{s}s"));
    let pairs: [(&str, String); 11] = [
        ("{program}", ctx.program.to_string()),
        (
            "{cli_path}",
            ctx.cli_path.unwrap_or(ctx.program).to_string(),
        ),
        ("{home}", or_unset(ctx.home)),
        ("{path}", or_unset(ctx.path)),
        ("{cwd}", ctx.cwd.to_string()),
        ("{evidence}", ctx.evidence.unwrap_or("").to_string()),
        ("{retry_after}", retry_after),
        ("{timeout}", ctx.timeout.unwrap_or("none").to_string()),
        (
            "{exit_code}",
            ctx.exit_code
                .map_or_else(|| "none".into(), |c| c.to_string()),
        ),
        (
            "{signal}",
            ctx.signal.map_or_else(|| "none".into(), signal_name),
        ),
        ("{dispatch_id}", ctx.dispatch_id.to_string()),
    ];
    let mut out = template.to_string();
    for (key, value) in pairs {
        if out.contains(key) {
            out = out.replace(key, &value);
        }
    }
    out
}

/// The default hint of a post-exit class, with this dispatch's facts.
pub fn default_hint(class: Class, ctx: &HintContext<'_>) -> String {
    let template = match class {
        Class::Ok => "nothing to repair",
        Class::AuthUnavailable => "'{program}' has no usable credentials in this environment (HOME={home}): log in as the worker's user with that HOME, or pass the CLI's API key variable through the route's env; evidence: {evidence}",
        Class::SandboxOrPolicyBlock => "'{program}' was denied by a sandbox or policy in {cwd}: trust the directory or choose the sandbox/approval mode the task needs, and check permissions for the worker's user; evidence: {evidence}",
        Class::RateLimited => "the provider throttled '{program}' (retry after: {retry_after}): lower the lane's concurrency or spread work across keys; evidence: {evidence}",
        Class::QuotaExhausted => "the account behind '{program}' is out of quota: wait for the reset, raise the limit or route to another account; evidence: {evidence}",
        Class::NetworkUnavailable => "'{program}' could not reach its provider from this environment: check DNS, connectivity and proxy variables for the worker (HOME={home}); evidence: {evidence}",
        Class::TransientIo => "a transient failure (provider 5xx/overload or local I/O) stopped '{program}': retry later; if the evidence names ENOSPC/EIO check the disk; evidence: {evidence}",
        Class::ConfigInvalid => "a configuration file read by '{program}' is invalid: fix the file the evidence names; evidence: {evidence}",
        Class::CliMissing => "a command run by '{program}' was not found on PATH={path}: install it or fix the wrapper's PATH; evidence: {evidence}",
        Class::CliNotExecutable => "a command run by '{program}' could not be executed: check its permissions; evidence: {evidence}",
        Class::InterpreterMissing => "an interpreter needed by '{program}' is missing from PATH={path}; evidence: {evidence}",
        Class::PayloadInvalid => "'{program}' rejected its input: fix the payload's producer; evidence: {evidence}",
        Class::CwdMissing => "'{program}' could not use its working directory {cwd}; evidence: {evidence}",
        Class::RouteNotAllowed => "policy refused this route; evidence: {evidence}",
        Class::EmptySuccess => "'{program}' exited 0 but did no work ({evidence}): read its final message with `agentlane show {dispatch_id}`; check that the prompt reaches the CLI and that the route's success contract asks for what the task produces",
        Class::Timeout => "'{program}' ran past the {timeout} timeout and its output names no cause (CLIs retrying silently on a bad network or key look like this): read the tails with `agentlane show {dispatch_id}`, or raise the timeout if the work is legitimately long",
        Class::KilledBySignal => "'{program}' died by {signal}, which agentlane did not send: SIGKILL usually means the OOM killer (check `dmesg` and the service's memory limits), SIGSEGV/SIGABRT a crash of the CLI; details: `agentlane show {dispatch_id}`",
        Class::WorkerLost => "the worker running this attempt disappeared before it recorded an exit; the job is re-run elsewhere",
        Class::UnknownExit(_) => "'{program}' exited {exit_code} and no rule recognised its output; the tails and full artifacts are kept (`agentlane show {dispatch_id}`): turn the line \"{evidence}\" into a rule in one step: `agentlane rules suggest {dispatch_id}` proposes one (pass --class CLASS for its cause), `agentlane rules add --from {dispatch_id} --class CLASS` adds it after replaying it on the stored dispatches",
    };
    render(template, ctx)
}

#[allow(
    clippy::expect_used,
    reason = "a constant pattern: a unit test compiles every one"
)]
fn retry_after_patterns() -> &'static [Regex] {
    static PATTERNS: OnceLock<Vec<Regex>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        [
            r"(?i)retry[- ]after[\x22']?\s*[:=]?\s*(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)?\b",
            r"(?i)(?:try again|retry(?:ing)?|resets?) in\s+(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)\b",
        ]
        .iter()
        .map(|p| Regex::new(p).expect("retry-after pattern compiles"))
        .collect()
    })
}

/// Seconds the CLI asked to wait ("Retry-After: 30", "try again in 20s"), if any.
pub fn retry_after_secs(text: &str) -> Option<u64> {
    if text.trim().is_empty() {
        return None;
    }
    for re in retry_after_patterns() {
        if let Some(c) = re.captures_iter(text).last() {
            let n: f64 = c[1].parse().ok()?;
            let unit = c.get(2).map_or("s", |m| m.as_str()).to_ascii_lowercase();
            let secs = match unit.chars().next() {
                Some('m') if unit.starts_with("ms") || unit.starts_with("milli") => n / 1000.0,
                Some('m') => n * 60.0,
                Some('h') => n * 3600.0,
                _ => n,
            };
            return Some(secs.ceil() as u64);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test_case("Retry-After: 30" => Some(30))]
    #[test_case("please try again in 20s." => Some(20))]
    #[test_case("Rate limited, retrying in 1.5 seconds" => Some(2))]
    #[test_case("retry after 2 minutes" => Some(120))]
    #[test_case("retry-after: 500ms" => Some(1))]
    #[test_case("nothing here" => None)]
    fn retry_after(text: &str) -> Option<u64> {
        retry_after_secs(text)
    }

    #[test]
    fn hints_name_the_facts() {
        let ctx = HintContext {
            program: "claude",
            home: Some("/home/svc"),
            evidence: Some("Not logged in"),
            ..HintContext::default()
        };
        let hint = default_hint(Class::AuthUnavailable, &ctx);
        assert!(hint.contains("HOME=/home/svc"), "{hint}");
        assert!(hint.contains("Not logged in"), "{hint}");
    }

    #[test]
    fn an_unknown_exit_names_the_command_that_turns_it_into_a_rule() {
        let ctx = HintContext {
            program: "acme",
            evidence: Some("vault sealed"),
            exit_code: Some(3),
            dispatch_id: "0190c0de",
            ..HintContext::default()
        };
        let hint = default_hint(Class::UnknownExit(3), &ctx);
        assert!(hint.contains("agentlane rules suggest 0190c0de"), "{hint}");
        assert!(hint.contains("vault sealed"), "{hint}");
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(99), "signal 99");
    }
}
