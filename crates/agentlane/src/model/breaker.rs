//! A route's circuit breaker as the store keeps it: one row per route that
//! ever opened, shared by every worker of the fleet. The store speaks this
//! row; the state machine that decides its transitions is `crate::breaker`
//! (pure), and the worker writes each transition with a conditional update
//! on `version`, so two workers never both probe or both take the half-open
//! trial.

use serde::{Deserialize, Serialize};

/// Where a route's breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Jobs are claimed as usual.
    Closed,
    /// Nothing is claimed for the route; a probe runs on a schedule.
    Open,
    /// A probe passed: exactly one job (the trial) may run.
    HalfOpen,
}

impl BreakerState {
    /// The stored label (`closed`, `open`, `half_open`).
    pub fn label(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// The state a stored label names; None for anything else.
    pub fn from_label(label: &str) -> Option<BreakerState> {
        match label {
            "closed" => Some(BreakerState::Closed),
            "open" => Some(BreakerState::Open),
            "half_open" => Some(BreakerState::HalfOpen),
            _ => None,
        }
    }
}

/// One route's breaker row (`route_breakers`). Its times come from the
/// worker's clock (injectable), not the database's: the state machine that
/// wrote them compares them with the same clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteBreaker {
    /// The route.
    pub route: String,
    /// Closed, open or half-open.
    pub state: BreakerState,
    /// When it last opened (kept after it closes, for the record).
    pub opened_at: Option<jiff::Timestamp>,
    /// When the next probe is due (open only).
    pub next_probe_at: Option<jiff::Timestamp>,
    /// Probes (and half-open trials) failed since it opened: the step of the
    /// probe schedule.
    pub probes_failed: u32,
    /// Why it is in this state, in words.
    pub reason: String,
    /// Half-open: the one job running as the trial, once a worker took it.
    pub trial_job: Option<String>,
    /// When the state last changed: a closed breaker counts only failures
    /// after it (hysteresis).
    pub changed_at: jiff::Timestamp,
    /// The incident opened with the breaker, resolved when it closes.
    pub incident_id: Option<String>,
    /// Bumped by every write; a write names the version it read.
    pub version: i64,
}

/// One settled attempt of a route, as the breaker reads it: when it ended
/// and its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAttempt {
    /// When the attempt finished.
    pub at: jiff::Timestamp,
    /// Its class.
    pub class: crate::class::Class,
}
