//! What the worker tells the alerts sender (`crate::alerts`): an incident
//! opened (by a settlement or by the gate's preflight), and every failed
//! attempt for the mass-failure detector. Raising never waits.

use super::Shared;
use crate::alerts::Alert;
use crate::model::{Completion, IncidentFacts, Next};

/// How long a stopping worker waits for alerts still being sent.
pub(super) const FLUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The alert of an incident opened (or counted again).
pub(super) fn incident_opened(
    facts: &IncidentFacts,
    incident_id: Option<String>,
    job_id: Option<String>,
) -> Alert {
    Alert::IncidentOpened {
        incident_id,
        job_id,
        fingerprint: facts.fingerprint.clone(),
        class: facts.class,
        hint: facts.repair_hint.clone(),
        evidence: facts.evidence.clone(),
        route: facts.route.clone(),
        lane: facts.lane.clone(),
        host: facts.host.clone(),
    }
}

/// After a settlement the store accepted: its incident, and its failure
/// (an attempt the worker let go or an operator cancelled is not one).
pub(super) fn settled(shared: &Shared, route: &str, c: &Completion) {
    if let Some(facts) = &c.incident {
        shared
            .alerts
            .send(incident_opened(facts, None, Some(c.job_id.clone())));
    }
    if c.class.is_failure() && !matches!(c.next, Next::Release | Next::Cancel) {
        let hint = c
            .incident
            .as_ref()
            .map_or(c.reason.as_str(), |i| i.repair_hint.as_str());
        shared.alerts.attempt_failed(c.class, route, hint);
    }
}
