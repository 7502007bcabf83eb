//! The gate: each route of the lane is preflighted (cached) before anything
//! is claimed for it. A failing route claims nothing and opens one incident;
//! a route that passes again — or whose environment changed since its jobs
//! were parked — has its parked jobs released and its host-local hard stops
//! resolved. A route an open hard stop blocks claims nothing.

use std::collections::HashMap;

use super::{Shared, WorkerError, WorkerSummary};
use crate::class::Class;
use crate::config::Route;
use crate::dispatch::repo_root;
use crate::events::PreflightChecked;
use crate::fingerprint::{failure_fingerprint, FailureFacts};
use crate::model::IncidentFacts;
use crate::preflight::{Options, Preflight, Stamp};

/// What the gate remembers between passes.
#[derive(Default)]
pub(super) struct GateMemory {
    /// Each route's health at the previous pass.
    pub(super) healthy_before: HashMap<String, bool>,
    /// Per route, the stamp digest of the last release: the store is asked
    /// again only when it changes (binary installed, PATH fixed, credentials
    /// written). A hard stop records the digest it failed under, so an
    /// unchanged environment never resolves it — after a restart neither.
    pub(super) released_at: HashMap<String, String>,
    /// The blocks at the previous pass (route → incident), so each change
    /// is logged once.
    pub(super) blocked: HashMap<String, String>,
}

/// Preflights every route (cached); returns the names of the healthy ones.
pub(super) async fn check_routes(
    shared: &Shared,
    preflight: &Preflight,
    routes: &[Route],
    memory: &mut GateMemory,
    summary: &mut WorkerSummary,
) -> Result<Vec<String>, WorkerError> {
    let store = &shared.store;
    let mut healthy = Vec::new();
    for route in routes {
        let result = preflight
            .check(
                &shared.dispatcher,
                &shared.config,
                route,
                None,
                Options::default(),
            )
            .await?;
        let ok = result.cli_resolves && result.cli_ready;
        let was = memory.healthy_before.insert(route.name.clone(), ok);
        if was != Some(ok) {
            if ok {
                tracing::info!(
                    route = %route.name,
                    cli_resolves = result.cli_resolves,
                    cli_ready = result.cli_ready,
                    route_allowed = result.route_allowed,
                    "preflight passes"
                );
            } else {
                tracing::warn!(
                    route = %route.name,
                    cli_resolves = result.cli_resolves,
                    cli_ready = result.cli_ready,
                    route_allowed = result.route_allowed,
                    class = %result.classifier.map_or_else(|| "unknown".into(), |c| c.label()),
                    hint = %result.repair_hint.as_deref().unwrap_or(""),
                    "preflight fails: nothing is claimed for the route"
                );
            }
        }
        if ok {
            healthy.push(route.name.clone());
            summary.unhealthy_routes.remove(&route.name);
            let digest = stamp_digest(shared, route);
            let changed = memory.released_at.get(&route.name) != Some(&digest);
            if was != Some(true) || changed {
                // Health flipped, the environment changed, or a fresh
                // worker: resolve the hard stops this environment no longer
                // has, and release what they parked.
                memory
                    .released_at
                    .insert(route.name.clone(), digest.clone());
                let released = store
                    .release_parked(
                        &shared.lane,
                        &route.name,
                        &shared.host,
                        &digest,
                        &format!(
                            "released: preflight of route '{}' passes on {}",
                            route.name, shared.host
                        ),
                    )
                    .await?;
                if released > 0 {
                    tracing::info!(
                        route = %route.name,
                        released,
                        "released parked jobs: preflight passes in a changed environment"
                    );
                }
            }
        } else {
            summary.unhealthy_routes.insert(
                route.name.clone(),
                result
                    .classifier
                    .map_or_else(|| "unknown".into(), |c| c.label()),
            );
            if !result.cached {
                let facts = preflight_incident(shared, route, &result);
                let id = store.open_incident(&facts).await?;
                shared.alerts.send(super::alerting::incident_opened(
                    &facts,
                    Some(id.clone()),
                    None,
                ));
                tracing::warn!(
                    incident_id = %id,
                    route = %route.name,
                    class = %facts.class.label(),
                    fingerprint = %facts.fingerprint,
                    "incident opened or counted"
                );
            }
        }
    }
    // A route a hard stop blocks claims nothing, here or in any settlement
    // (the store's claim says the same): its jobs wait, blocked, until the
    // incident is resolved.
    let blocks = store.route_blocks(&shared.lane, Some(&shared.host)).await?;
    for block in &blocks {
        if memory.blocked.get(&block.route) != Some(&block.incident_id) {
            tracing::warn!(
                route = %block.route,
                incident_id = %block.incident_id,
                class = %block.class.label(),
                hint = %block.repair_hint,
                "route blocked: its jobs wait until the incident is resolved"
            );
        }
    }
    for route in memory.blocked.keys() {
        if !blocks.iter().any(|b| &b.route == route) {
            tracing::info!(route = %route, "route unblocked");
        }
    }
    memory.blocked = blocks
        .iter()
        .map(|b| (b.route.clone(), b.incident_id.clone()))
        .collect();
    summary.blocked_routes.clear();
    for block in blocks {
        if healthy.contains(&block.route) {
            summary
                .blocked_routes
                .insert(block.route.clone(), block.incident_id.clone());
        }
        healthy.retain(|r| *r != block.route);
    }
    Ok(healthy)
}

fn preflight_incident(shared: &Shared, route: &Route, r: &PreflightChecked) -> IncidentFacts {
    let class = r.classifier.unwrap_or(Class::UnknownExit(-1));
    let cwd = route
        .cwd
        .clone()
        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
    let root = repo_root(&cwd).unwrap_or(cwd);
    let fingerprint = failure_fingerprint(&FailureFacts {
        class,
        cli_path: r.cli_path.as_deref(),
        cwd_root: Some(&root),
        route: Some(&route.name),
        evidence: r.evidence.as_deref(),
        host: Some(&shared.host),
    })
    .unwrap_or_default();
    IncidentFacts {
        fingerprint,
        class,
        route: Some(route.name.clone()),
        lane: Some(shared.lane.clone()),
        host: shared.host.clone(),
        repair_hint: r.repair_hint.clone().unwrap_or_default(),
        evidence: r.evidence.clone(),
        reset_at: None,
        stamp: Some(stamp_digest(shared, route)),
    }
}

/// The digest of the route's preflight stamp on this host now.
fn stamp_digest(shared: &Shared, route: &Route) -> String {
    let key = shared.dispatcher.home().key();
    Stamp::of(&shared.config, route, key).digest(key)
}
