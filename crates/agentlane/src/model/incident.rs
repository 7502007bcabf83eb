//! Incidents: repeats of one failure collapsed into one record with its
//! repair address and priority.

use serde::{Deserialize, Serialize};

use crate::class::Class;

/// Where an incident's repair belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairAddress {
    /// The runtime: executable, environment, auth, network, provider.
    Runtime,
    /// The router and policy.
    Router,
    /// The producer of the payload.
    Producer,
}

impl RepairAddress {
    /// The stored label.
    pub fn label(self) -> &'static str {
        match self {
            RepairAddress::Runtime => "runtime",
            RepairAddress::Router => "router",
            RepairAddress::Producer => "producer",
        }
    }
}

impl std::fmt::Display for RepairAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl std::str::FromStr for RepairAddress {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            RepairAddress::Runtime,
            RepairAddress::Router,
            RepairAddress::Producer,
        ]
        .into_iter()
        .find(|a| a.label() == s)
        .ok_or_else(|| {
            format!("unknown repair address '{s}' (expected runtime, router or producer)")
        })
    }
}

/// Whether an incident is still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    /// Its cause is still there (or not yet known to be gone).
    Open,
    /// Resolved: by an operator, or by a released job's success.
    Resolved,
}

impl IncidentState {
    /// The stored label.
    pub fn label(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Resolved => "resolved",
        }
    }
}

impl std::fmt::Display for IncidentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl std::str::FromStr for IncidentState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(IncidentState::Open),
            "resolved" => Ok(IncidentState::Resolved),
            other => Err(format!(
                "unknown incident state '{other}' (expected open or resolved)"
            )),
        }
    }
}

/// Where a class's repair belongs. Pure.
pub fn repair_address(class: Class) -> RepairAddress {
    match class {
        Class::PayloadInvalid => RepairAddress::Producer,
        Class::RouteNotAllowed => RepairAddress::Router,
        _ => RepairAddress::Runtime,
    }
}

/// An incident's priority: an outage of a whole route or lane (the runtime
/// cannot run anything there) outranks a single job's problem. Pure.
pub fn incident_priority(class: Class) -> i64 {
    match class {
        Class::CliMissing
        | Class::CliNotExecutable
        | Class::InterpreterMissing
        | Class::AuthUnavailable
        | Class::ConfigInvalid => 100,
        Class::CwdMissing
        | Class::SandboxOrPolicyBlock
        | Class::QuotaExhausted
        | Class::NetworkUnavailable => 80,
        Class::RouteNotAllowed => 60,
        Class::RateLimited | Class::TransientIo | Class::Timeout | Class::WorkerLost => 40,
        Class::UnknownExit(_) | Class::KilledBySignal | Class::EmptySuccess => 30,
        Class::PayloadInvalid => 10,
        Class::Ok => 0,
    }
}

/// One provider account, as agentlane names it (`crate::account` finds a
/// route's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The identity: 16 hex digits, the same on every host for the same credential.
    pub key: String,
    /// What people read: `claude account (key …a1f3)`.
    pub label: String,
}

/// An open `quota_exhausted` incident, with the account whose jobs it
/// parked (once a worker has parked them) and how many wait on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaIncident {
    /// The incident.
    pub id: String,
    /// The route whose failure opened it.
    pub route: Option<String>,
    /// When the quota resets, as the CLI said (None: a spend cap, or no
    /// time given: it waits for an operator).
    pub reset_at: Option<jiff::Timestamp>,
    /// The account's identity (a hash), once its jobs were parked.
    pub account: Option<String>,
    /// The account as people read it (`claude account (key …a1f3)`).
    pub account_label: Option<String>,
    /// Jobs parked behind it now.
    pub parked: u64,
    /// What to do about it.
    pub repair_hint: String,
}

/// A route a hard stop blocks: no worker it applies to claims the route's
/// jobs until the incident is resolved (see [`crate::class::Class::stops_route`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteBlock {
    /// The blocked route.
    pub route: String,
    /// The blocking incident.
    pub incident_id: String,
    /// Its class.
    pub class: Class,
    /// What to do about it.
    pub repair_hint: String,
    /// The host that saw it (the block applies there alone when the class is
    /// host-local).
    pub host: String,
}

impl RouteBlock {
    /// Why a waiting job of the route is not claimed, in words.
    pub fn reason(&self) -> String {
        let scope = if self.class.is_host_local() {
            format!(" on {}", self.host)
        } else {
            String::new()
        };
        format!(
            "blocked{scope} by incident {} ({}): {}",
            self.incident_id, self.class, self.repair_hint
        )
    }
}

/// What opens or attaches to an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentFacts {
    /// The failure fingerprint.
    pub fingerprint: String,
    /// The class.
    pub class: Class,
    /// The route.
    pub route: Option<String>,
    /// The lane.
    pub lane: Option<String>,
    /// The host.
    pub host: String,
    /// The repair hint.
    pub repair_hint: String,
    /// The evidence.
    pub evidence: Option<String>,
    /// When the limit resets, when the failure said (the report's `reset_at`).
    pub reset_at: Option<jiff::Timestamp>,
    /// The digest of the route's preflight stamp on its host when it failed
    /// (`Stamp::digest`), for a hard stop: a worker there resolves the
    /// incident once the stamp differs — the environment changed — and not
    /// before, even after a restart.
    pub stamp: Option<String>,
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Id.
    pub id: String,
    /// The failure fingerprint it collects.
    pub failure_fingerprint: String,
    /// The class.
    pub classifier: Class,
    /// Open or resolved.
    pub state: IncidentState,
    /// Where the repair belongs.
    pub repair_address: RepairAddress,
    /// Higher first.
    pub priority: i64,
    /// The route, when known.
    pub route: Option<String>,
    /// The lane, when known.
    pub lane: Option<String>,
    /// The host it was seen on.
    pub host: String,
    /// What to do.
    pub repair_hint: String,
    /// The evidence of the first occurrence.
    pub evidence: Option<String>,
    /// Distinct jobs affected.
    pub affected_jobs: u64,
    /// Occurrences (attempts and preflight checks).
    pub occurrences: u64,
    /// First seen (database clock).
    pub first_seen: String,
    /// Last seen (database clock).
    pub last_seen: String,
    /// Resolved at.
    pub resolved_at: Option<String>,
    /// How it was resolved.
    pub resolution: Option<String>,
    /// The latest reset its failures named (usage and rate limits; UTC).
    #[serde(default)]
    pub reset_at: Option<jiff::Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_addresses_round_trip_through_their_labels() {
        for st in [IncidentState::Open, IncidentState::Resolved] {
            assert_eq!(st.label().parse::<IncidentState>(), Ok(st));
        }
        for a in [
            RepairAddress::Runtime,
            RepairAddress::Router,
            RepairAddress::Producer,
        ] {
            assert_eq!(a.label().parse::<RepairAddress>(), Ok(a));
        }
        assert!("closed".parse::<IncidentState>().is_err());
        assert!("elsewhere".parse::<RepairAddress>().is_err());
    }

    #[test]
    fn outages_outrank_single_job_problems() {
        assert!(incident_priority(Class::CliMissing) > incident_priority(Class::RateLimited));
        assert!(
            incident_priority(Class::AuthUnavailable) > incident_priority(Class::PayloadInvalid)
        );
        assert_eq!(
            repair_address(Class::PayloadInvalid),
            RepairAddress::Producer
        );
        assert_eq!(
            repair_address(Class::RouteNotAllowed),
            RepairAddress::Router
        );
        assert_eq!(
            repair_address(Class::InterpreterMissing),
            RepairAddress::Runtime
        );
    }
}
