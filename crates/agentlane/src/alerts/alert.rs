//! One alert: what happened, in the words the bodies carry. Breaker and
//! quota alerts are built by their own features; each variant knows its
//! class, hint, affected count, debounce key and the command that shows more.

use std::time::Duration;

use crate::class::Class;
use crate::model::AlertKind;

/// One alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Alert {
    /// An incident was opened (or counted again) for a failure.
    IncidentOpened {
        /// The incident, when the store answered its id (a preflight's).
        incident_id: Option<String>,
        /// The job whose attempt failed, when a job's.
        job_id: Option<String>,
        /// The failure fingerprint (the debounce key).
        fingerprint: String,
        /// The class.
        class: Class,
        /// The repair hint.
        hint: String,
        /// The evidence line, redacted.
        evidence: Option<String>,
        /// The route.
        route: Option<String>,
        /// The lane.
        lane: Option<String>,
        /// The host.
        host: String,
    },
    /// A route's breaker opened: it stopped claiming after repeated failures.
    BreakerOpened {
        /// The route.
        route: String,
        /// The class that opened it.
        class: Class,
        /// The repair hint.
        hint: String,
        /// Failures that opened it.
        failures: u64,
        /// Jobs waiting behind it, when known.
        waiting: Option<u64>,
    },
    /// A route's breaker closed: it claims again.
    BreakerClosed {
        /// The route.
        route: String,
        /// Why it closed (a probe passed, an operator).
        reason: String,
    },
    /// An account's usage limit parked its jobs.
    QuotaParked {
        /// The account, as labelled (never the credential).
        account: String,
        /// The class (normally `quota_exhausted`).
        class: Class,
        /// The repair hint.
        hint: String,
        /// Jobs parked.
        parked: u64,
        /// When the limit resets, when known.
        reset_at: Option<jiff::Timestamp>,
        /// The quota's incident.
        incident_id: Option<String>,
    },
    /// An account's parked jobs were released.
    QuotaReleased {
        /// The account, as labelled.
        account: String,
        /// Jobs released.
        released: u64,
        /// The quota's incident.
        incident_id: Option<String>,
    },
    /// Many attempts failed within a short window.
    MassFailure {
        /// Failed attempts in the window.
        failed: u64,
        /// The window.
        window: Duration,
        /// The most frequent class among them.
        class: Class,
        /// That class's hint (the latest seen).
        hint: String,
        /// The routes that failed, sorted.
        routes: Vec<String>,
        /// The lane.
        lane: Option<String>,
    },
}

impl Alert {
    /// Its kind.
    pub fn kind(&self) -> AlertKind {
        match self {
            Alert::IncidentOpened { .. } => AlertKind::IncidentOpened,
            Alert::BreakerOpened { .. } => AlertKind::BreakerOpened,
            Alert::BreakerClosed { .. } => AlertKind::BreakerClosed,
            Alert::QuotaParked { .. } => AlertKind::QuotaParked,
            Alert::QuotaReleased { .. } => AlertKind::QuotaReleased,
            Alert::MassFailure { .. } => AlertKind::MassFailure,
        }
    }

    /// The failure class it carries (none for a recovery).
    pub fn class(&self) -> Option<Class> {
        match self {
            Alert::IncidentOpened { class, .. }
            | Alert::BreakerOpened { class, .. }
            | Alert::QuotaParked { class, .. }
            | Alert::MassFailure { class, .. } => Some(*class),
            Alert::BreakerClosed { .. } | Alert::QuotaReleased { .. } => None,
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            Alert::IncidentOpened { hint, .. }
            | Alert::BreakerOpened { hint, .. }
            | Alert::QuotaParked { hint, .. }
            | Alert::MassFailure { hint, .. } => hint.clone(),
            Alert::BreakerClosed { reason, .. } => format!("nothing to do: {reason}"),
            Alert::QuotaReleased { .. } => {
                "nothing to do: the limit reset and the parked jobs run again".into()
            }
        }
    }

    /// How many jobs (or attempts) it concerns.
    pub fn affected(&self) -> u64 {
        match self {
            Alert::IncidentOpened { .. } => 1,
            Alert::BreakerOpened {
                failures, waiting, ..
            } => waiting.unwrap_or(*failures),
            Alert::BreakerClosed { .. } => 0,
            Alert::QuotaParked { parked, .. } => *parked,
            Alert::QuotaReleased { released, .. } => *released,
            Alert::MassFailure { failed, .. } => *failed,
        }
    }

    /// The debounce key: alerts with one key within a webhook's window are
    /// one alert. An incident's is its failure fingerprint.
    pub fn key(&self) -> String {
        match self {
            Alert::IncidentOpened { fingerprint, .. } => format!("incident:{fingerprint}"),
            Alert::BreakerOpened { route, .. } => format!("breaker_opened:{route}"),
            Alert::BreakerClosed { route, .. } => format!("breaker_closed:{route}"),
            Alert::QuotaParked { account, .. } => format!("quota_parked:{account}"),
            Alert::QuotaReleased { account, .. } => format!("quota_released:{account}"),
            Alert::MassFailure { lane, .. } => {
                format!("mass_failure:{}", lane.as_deref().unwrap_or("*"))
            }
        }
    }

    /// The command that shows more.
    pub fn see(&self) -> String {
        match self {
            Alert::IncidentOpened {
                incident_id: Some(id),
                ..
            }
            | Alert::QuotaParked {
                incident_id: Some(id),
                ..
            }
            | Alert::QuotaReleased {
                incident_id: Some(id),
                ..
            } => format!("agentlane incident {id}"),
            Alert::IncidentOpened {
                job_id: Some(id), ..
            } => format!("agentlane job {id}"),
            Alert::IncidentOpened { .. }
            | Alert::QuotaParked { .. }
            | Alert::QuotaReleased { .. } => "agentlane incidents".into(),
            Alert::BreakerOpened { .. } | Alert::BreakerClosed { .. } => "agentlane status".into(),
            Alert::MassFailure {
                lane: Some(lane), ..
            } => {
                format!("agentlane jobs --lane {lane}")
            }
            Alert::MassFailure { .. } => "agentlane status".into(),
        }
    }

    /// A one-line title.
    pub fn title(&self) -> String {
        match self {
            Alert::IncidentOpened { class, route, .. } => format!(
                "incident opened: {}{}",
                class.label(),
                route
                    .as_ref()
                    .map(|r| format!(" on route {r}"))
                    .unwrap_or_default()
            ),
            Alert::BreakerOpened {
                route,
                class,
                failures,
                ..
            } => format!(
                "breaker opened on route {route}: {failures} failures ({})",
                class.label()
            ),
            Alert::BreakerClosed { route, .. } => format!("breaker closed on route {route}"),
            Alert::QuotaParked {
                account,
                parked,
                reset_at,
                ..
            } => format!(
                "quota: {parked} jobs of {account} parked{}",
                reset_at.map(|t| format!(" until {t}")).unwrap_or_default()
            ),
            Alert::QuotaReleased {
                account, released, ..
            } => {
                format!("quota: {released} jobs of {account} released")
            }
            Alert::MassFailure {
                failed,
                window,
                class,
                ..
            } => format!(
                "mass failure: {failed} attempts failed within {} (mostly {})",
                humantime::format_duration(*window),
                class.label()
            ),
        }
    }

    /// The job it is about, when one.
    pub fn job_id(&self) -> Option<&str> {
        match self {
            Alert::IncidentOpened { job_id, .. } => job_id.as_deref(),
            _ => None,
        }
    }

    /// The variant's own fields for the JSON body (route, lane, ids, ...).
    pub(crate) fn details(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let v = match self {
            Alert::IncidentOpened {
                incident_id,
                job_id,
                fingerprint,
                evidence,
                route,
                lane,
                host,
                ..
            } => json!({
                "incident_id": incident_id, "job_id": job_id, "fingerprint": fingerprint,
                "evidence": evidence, "route": route, "lane": lane, "host": host,
            }),
            Alert::BreakerOpened {
                route,
                failures,
                waiting,
                ..
            } => json!({
                "route": route, "failures": failures, "waiting": waiting,
            }),
            Alert::BreakerClosed { route, reason } => json!({ "route": route, "reason": reason }),
            Alert::QuotaParked {
                account,
                parked,
                reset_at,
                incident_id,
                ..
            } => json!({
                "account": account, "parked": parked,
                "reset_at": reset_at.map(|t| t.to_string()), "incident_id": incident_id,
            }),
            Alert::QuotaReleased {
                account,
                released,
                incident_id,
            } => json!({
                "account": account, "released": released, "incident_id": incident_id,
            }),
            Alert::MassFailure {
                failed,
                window,
                routes,
                lane,
                ..
            } => json!({
                "failed": failed, "window_secs": window.as_secs(), "routes": routes, "lane": lane,
            }),
        };
        match v {
            serde_json::Value::Object(mut m) => {
                m.retain(|_, v| !v.is_null());
                m
            }
            _ => serde_json::Map::new(),
        }
    }
}
