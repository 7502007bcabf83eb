//! `[alerts]` and `[[alerts.webhook]]`: where alerts go, in which body, for
//! which kinds, how often. Read from the spanned file like the rest, so every
//! refusal names file:line:column.
//!
//! A webhook URL is a secret (Slack's carries its token in the path): it may
//! be given by reference (`url_env = "SLACK_WEBHOOK_URL"`) so it never sits in
//! the file, it is never printed by `Debug`, and everything else (events,
//! logs) names the webhook by its `name`.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, Source};
use crate::model::AlertKind;

/// `[alerts]` as serde reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerts {
    #[serde(default)]
    pub(crate) webhook: Vec<Spanned<RawWebhook>>,
    #[serde(default)]
    pub(crate) mass_failure_attempts: Option<Spanned<u32>>,
    #[serde(default)]
    pub(crate) mass_failure_window: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) max_attempts: Option<Spanned<u32>>,
    #[serde(default)]
    pub(crate) queue: Option<Spanned<u32>>,
}

/// One `[[alerts.webhook]]` as serde reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebhook {
    pub(crate) name: Spanned<String>,
    #[serde(default)]
    pub(crate) url: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) url_env: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) format: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) on: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(crate) debounce: Option<Spanned<String>>,
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFormat {
    /// agentlane's own JSON body (docs/alerts.md).
    Json,
    /// A Slack incoming-webhook body: `text` plus blocks.
    Slack,
}

/// Where a webhook's URL comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum WebhookUrl {
    /// Written in the file.
    Literal(String),
    /// Read from this environment variable when the worker starts.
    Env(String),
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WebhookUrl::Literal(_) => f.write_str("Literal(<hidden>)"),
            WebhookUrl::Env(name) => write!(f, "Env({name})"),
        }
    }
}

impl WebhookUrl {
    /// The URL: the literal, or the variable's value read through `env`.
    /// The error names the variable (or the webhook), never a URL.
    pub fn resolve(
        &self,
        webhook: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<reqwest::Url, String> {
        let text = match self {
            WebhookUrl::Literal(u) => u.clone(),
            WebhookUrl::Env(var) => env(var).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                format!("webhook '{webhook}': url_env = \"{var}\" is not set in the worker's environment")
            })?,
        };
        check_url(text.trim()).map_err(|why| format!("webhook '{webhook}': its URL {why}"))
    }
}

/// One configured webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Its name: how events and logs refer to it.
    pub name: String,
    /// Its URL (a secret).
    pub url: WebhookUrl,
    /// The body it receives.
    pub format: AlertFormat,
    /// The kinds it receives (all by default).
    pub on: Vec<AlertKind>,
    /// Alerts of one key within this window after one was sent are suppressed
    /// (and counted in the next one sent).
    pub debounce: Duration,
}

/// `[alerts]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// The webhooks (none: alerts are off).
    pub webhooks: Vec<Webhook>,
    /// Failed attempts within `mass_failure_window` that make a mass failure.
    pub mass_failure_attempts: u32,
    /// The window of the mass-failure detector.
    pub mass_failure_window: Duration,
    /// One HTTP request's timeout.
    pub timeout: Duration,
    /// HTTP requests per alert and webhook, the first included.
    pub max_attempts: u32,
    /// Alerts waiting to be sent; past it new ones are dropped (and counted),
    /// never waited for.
    pub queue: usize,
}

/// The default debounce of a webhook.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_secs(600);

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            webhooks: Vec::new(),
            mass_failure_attempts: 3,
            mass_failure_window: Duration::from_secs(600),
            timeout: Duration::from_secs(10),
            max_attempts: 5,
            queue: 256,
        }
    }
}

/// Why `url` cannot be a webhook's URL (http or https with a host), or it parsed.
pub fn check_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "has scheme \"{}\": only http and https are sent to",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("names no host".into());
    }
    Ok(parsed)
}

/// `[alerts]` read and checked.
pub(crate) fn alerts(
    src: &Source<'_>,
    raw: Option<&RawAlerts>,
) -> Result<AlertSettings, ConfigError> {
    let mut s = AlertSettings::default();
    let Some(raw) = raw else { return Ok(s) };
    if let Some(n) = &raw.mass_failure_attempts {
        if *n.get_ref() < 2 {
            return Err(src.at(n, "`alerts.mass_failure_attempts` must be at least 2: one failed attempt is an incident, not a mass failure (3 is the default)"));
        }
        s.mass_failure_attempts = *n.get_ref();
    }
    if let Some(t) = &raw.mass_failure_window {
        s.mass_failure_window = positive(src, t, "alerts.mass_failure_window")?;
    }
    if let Some(t) = &raw.timeout {
        s.timeout = positive(src, t, "alerts.timeout")?;
    }
    if let Some(n) = &raw.max_attempts {
        if *n.get_ref() == 0 {
            return Err(src.at(n, "`alerts.max_attempts` is 0: no alert would ever be sent; use at least 1 (5 is the default)"));
        }
        s.max_attempts = *n.get_ref();
    }
    if let Some(n) = &raw.queue {
        if *n.get_ref() == 0 {
            return Err(src.at(
                n,
                "`alerts.queue` is 0: every alert would be dropped; use e.g. 256 (the default)",
            ));
        }
        s.queue = *n.get_ref() as usize;
    }
    for w in &raw.webhook {
        let hook = webhook(src, w)?;
        if s.webhooks.iter().any(|h| h.name == hook.name) {
            return Err(src.at(&w.get_ref().name, format!("a second webhook named '{}': each [[alerts.webhook]] needs its own name (events name webhooks by it)", hook.name)));
        }
        s.webhooks.push(hook);
    }
    Ok(s)
}

fn positive(src: &Source<'_>, t: &Spanned<String>, key: &str) -> Result<Duration, ConfigError> {
    let d = src.duration(t, key)?;
    if d.is_zero() {
        return Err(src.at(
            t,
            format!(
                "`{key}` = \"{}\" is zero: use a positive duration",
                t.get_ref()
            ),
        ));
    }
    Ok(d)
}

fn webhook(src: &Source<'_>, spanned: &Spanned<RawWebhook>) -> Result<Webhook, ConfigError> {
    let w = spanned.get_ref();
    let name = w.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(src.at(&w.name, "a webhook's `name` is empty: name it (e.g. \"ops\"); events and logs refer to it by name, never by URL"));
    }
    let url = match (&w.url, &w.url_env) {
        (Some(u), None) => {
            check_url(u.get_ref().trim()).map_err(|why| {
                src.at(u, format!("webhook '{name}': `url` {why}: write e.g. \"https://hooks.example.com/agentlane\""))
            })?;
            WebhookUrl::Literal(u.get_ref().trim().to_string())
        }
        (None, Some(v)) => {
            let var = v.get_ref().trim();
            if var.is_empty() || var.contains('=') {
                return Err(src.at(v, format!("webhook '{name}': `url_env` must name an environment variable (e.g. \"SLACK_WEBHOOK_URL\")")));
            }
            WebhookUrl::Env(var.to_string())
        }
        (Some(u), Some(_)) => {
            return Err(src.at(u, format!("webhook '{name}' has both `url` and `url_env`: keep one (`url_env` keeps the secret URL out of the file)")))
        }
        (None, None) => {
            return Err(src.at(spanned, format!("webhook '{name}' has no `url` or `url_env`: add url_env = \"VARIABLE\" (the URL read from the worker's environment) or url = \"https://...\"")))
        }
    };
    let format = match w.format.as_ref().map(|f| (f, f.get_ref().as_str())) {
        None | Some((_, "json")) => AlertFormat::Json,
        Some((_, "slack")) => AlertFormat::Slack,
        Some((f, other)) => {
            return Err(src.at(f, format!("webhook '{name}': format \"{other}\" is not known: use \"json\" (agentlane's body, docs/alerts.md) or \"slack\" (a Slack incoming webhook)")))
        }
    };
    let on = match &w.on {
        None => AlertKind::ALL.to_vec(),
        Some(list) => {
            let mut on = Vec::new();
            for k in list {
                let kind = AlertKind::from_label(k.get_ref()).ok_or_else(|| {
                    let known: Vec<&str> = AlertKind::ALL.iter().map(|k| k.label()).collect();
                    src.at(
                        k,
                        format!(
                            "webhook '{name}': no alert kind \"{}\": use some of [{}]",
                            k.get_ref(),
                            known.join(", ")
                        ),
                    )
                })?;
                if !on.contains(&kind) {
                    on.push(kind);
                }
            }
            on
        }
    };
    let debounce = match &w.debounce {
        None => DEFAULT_DEBOUNCE,
        Some(t) => src.duration(t, "alerts.webhook.debounce")?,
    };
    Ok(Webhook {
        name,
        url,
        format,
        on,
        debounce,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use test_case::test_case;

    use super::*;
    use crate::config::parse;

    const ROUTE: &str = "[routes.a]\nprogram = \"/bin/true\"\n";

    fn load(text: &str) -> Result<AlertSettings, ConfigError> {
        parse(Path::new("a.toml"), &format!("{ROUTE}{text}")).map(|c| c.alerts)
    }

    #[test_case("[[alerts.webhook]]\nname = \"ops\"\nurl = \"ftp://x/y\"\n", 5, 7, "only http and https" ; "a scheme that is not http")]
    #[test_case("[[alerts.webhook]]\nname = \"ops\"\nurl = \"not a url\"\n", 5, 7, "is not a URL" ; "not a url")]
    #[test_case("[[alerts.webhook]]\nname = \"ops\"\n", 3, 1, "no `url` or `url_env`" ; "no url")]
    #[test_case("[[alerts.webhook]]\nname = \"ops\"\nurl = \"https://h/x\"\nurl_env = \"X\"\n", 5, 7, "both" ; "both urls")]
    #[test_case("[[alerts.webhook]]\nname = \"\"\nurl = \"https://h/x\"\n", 4, 8, "is empty" ; "empty name")]
    #[test_case("[[alerts.webhook]]\nname = \"ops\"\nurl = \"https://h/x\"\nformat = \"teams\"\n", 6, 10, "\"slack\"" ; "unknown format")]
    #[test_case("[[alerts.webhook]]\nname = \"ops\"\nurl = \"https://h/x\"\non = [\"incident_opened\", \"incident\"]\n", 6, 26, "mass_failure" ; "unknown kind")]
    #[test_case("[[alerts.webhook]]\nname = \"ops\"\nurl = \"https://h/x\"\ndebounce = \"soon\"\n", 6, 12, "not a duration" ; "bad debounce")]
    #[test_case("[[alerts.webhook]]\nname = \"ops\"\nurl = \"https://h/x\"\n[[alerts.webhook]]\nname = \"ops\"\nurl_env = \"U\"\n", 7, 8, "second webhook" ; "a name twice")]
    #[test_case("[alerts]\nmass_failure_attempts = 1\n", 4, 25, "at least 2" ; "a mass failure of one")]
    #[test_case("[alerts]\nmax_attempts = 0\n", 4, 16, "is 0" ; "no attempts")]
    #[test_case("[alerts]\ntimeout = \"0s\"\n", 4, 11, "is zero" ; "zero timeout")]
    #[test_case("[alerts]\nqueue = 0\n", 4, 9, "dropped" ; "no queue")]
    #[test_case("[alerts]\nurl = \"https://h/x\"\n", 4, 1, "unknown field" ; "a url outside a webhook")]
    fn bad_alert_settings_are_refused_at_their_position(
        text: &str,
        line: usize,
        column: usize,
        fix: &str,
    ) {
        let e = load(text).unwrap_err();
        assert_eq!((e.line, e.column), (line, column), "{e}");
        assert!(e.message.contains(fix), "{e}");
        assert!(
            !e.message.contains("https://h/x"),
            "an error never repeats a URL: {e}"
        );
    }

    #[test]
    fn a_webhook_reads_with_its_defaults_and_hides_its_url() {
        let s = load("[[alerts.webhook]]\nname = \"ops\"\nurl = \"https://hooks.example.com/T0/B0/secret\"\n[[alerts.webhook]]\nname = \"slack\"\nurl_env = \"SLACK_WEBHOOK_URL\"\nformat = \"slack\"\non = [\"incident_opened\", \"mass_failure\"]\ndebounce = \"30s\"\n").unwrap();
        assert_eq!(s.webhooks.len(), 2);
        let ops = &s.webhooks[0];
        assert_eq!(
            (ops.format, ops.debounce, ops.on.len()),
            (AlertFormat::Json, DEFAULT_DEBOUNCE, 6)
        );
        let slack = &s.webhooks[1];
        assert_eq!(slack.format, AlertFormat::Slack);
        assert_eq!(
            slack.on,
            vec![AlertKind::IncidentOpened, AlertKind::MassFailure]
        );
        assert_eq!(slack.debounce, Duration::from_secs(30));
        assert_eq!(slack.url, WebhookUrl::Env("SLACK_WEBHOOK_URL".into()));
        assert!(!format!("{s:?}").contains("secret"), "{s:?}");
        assert_eq!(s.mass_failure_attempts, 3);
    }

    #[test]
    fn a_url_by_reference_is_read_and_checked_when_resolved() {
        let url = WebhookUrl::Env("HOOK".into());
        let got = url.resolve("ops", |v| {
            (v == "HOOK").then(|| "http://127.0.0.1:9/x".into())
        });
        assert_eq!(got.unwrap().as_str(), "http://127.0.0.1:9/x");
        let e = url.resolve("ops", |_| None).unwrap_err();
        assert!(e.contains("HOOK") && e.contains("not set"), "{e}");
        let e = url
            .resolve("ops", |_| Some("file:///etc/passwd".into()))
            .unwrap_err();
        assert!(e.contains("only http") && !e.contains("passwd"), "{e}");
    }
}
