//! Alerts in the model's words: which kinds of alert there are (the names an
//! operator writes in `[[alerts.webhook]] on = [...]`) and the events that
//! record what became of one (`alert_delivered`, `alert_failed`).
//!
//! A webhook is named here only by its configured name: its URL is a secret
//! (a Slack webhook URL is a bearer token) and never reaches the store.

use serde::{Deserialize, Serialize};

/// A kind of alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// An incident was opened (or counted again) for a failure.
    IncidentOpened,
    /// A route's breaker opened: it stopped claiming after repeated failures.
    BreakerOpened,
    /// A route's breaker closed: it claims again.
    BreakerClosed,
    /// An account's usage limit parked its jobs.
    QuotaParked,
    /// An account's parked jobs were released.
    QuotaReleased,
    /// Many attempts failed within a short window.
    MassFailure,
}

impl AlertKind {
    /// Every kind, in the order the documentation lists them.
    pub const ALL: [AlertKind; 6] = [
        AlertKind::IncidentOpened,
        AlertKind::BreakerOpened,
        AlertKind::BreakerClosed,
        AlertKind::QuotaParked,
        AlertKind::QuotaReleased,
        AlertKind::MassFailure,
    ];

    /// The kind's name, as configured and as sent (`incident_opened`, ...).
    pub fn label(self) -> &'static str {
        match self {
            AlertKind::IncidentOpened => "incident_opened",
            AlertKind::BreakerOpened => "breaker_opened",
            AlertKind::BreakerClosed => "breaker_closed",
            AlertKind::QuotaParked => "quota_parked",
            AlertKind::QuotaReleased => "quota_released",
            AlertKind::MassFailure => "mass_failure",
        }
    }

    /// The kind named `label`.
    pub fn from_label(label: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.label() == label)
    }
}

/// `alert_delivered` / `alert_failed`: the final outcome of one alert to one
/// webhook, after its retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertDelivery {
    /// The alert's kind.
    pub alert: AlertKind,
    /// The webhook, by its configured name (never its URL).
    pub webhook: String,
    /// The alert's debounce key (an incident's fingerprint, `breaker:ROUTE`, ...).
    pub key: String,
    /// The class the alert carried, when it carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// The job the alert is about, when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// HTTP requests made (1 when the first one was answered 2xx).
    pub attempts: u32,
    /// The last HTTP status received (none when no answer came).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed (a timeout, a refused connection, a status), redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Alerts of the same key suppressed by the debounce before this one.
    pub suppressed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_label() {
        for k in AlertKind::ALL {
            assert_eq!(AlertKind::from_label(k.label()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.label());
        }
        assert_eq!(AlertKind::from_label("incident"), None);
    }
}
