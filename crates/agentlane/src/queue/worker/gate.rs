//! The gate: each route of the lane is preflighted (cached) before anything
//! is claimed for it. A failing route claims nothing and opens one incident;
//! a route that passes again — or whose environment changed since its jobs
//! were parked — has its parked jobs released.

use std::collections::HashMap;

use super::{Shared, WorkerError, WorkerSummary};
use crate::class::Class;
use crate::config::Route;
use crate::dispatch::repo_root;
use crate::events::PreflightChecked;
use crate::fingerprint::{failure_fingerprint, FailureFacts};
use crate::model::IncidentFacts;
use crate::preflight::{Options, Preflight, Stamp};

/// Per route, the preflight stamp seen when a job of it was last parked: the
/// parked jobs are released once preflight passes with a different stamp
/// (binary installed, PATH fixed, credentials written) — never by a re-probe
/// of an unchanged environment, which would only park them again.
pub(super) type ParkedStamps = HashMap<String, Stamp>;

/// What the gate remembers between passes.
#[derive(Default)]
pub(super) struct GateMemory {
    /// Each route's health at the previous pass.
    pub(super) healthy_before: HashMap<String, bool>,
    /// Stamps at the last park, per route.
    pub(super) parked: ParkedStamps,
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
        if ok {
            healthy.push(route.name.clone());
            summary.unhealthy_routes.remove(&route.name);
            let changed_since_park = memory.parked.get(&route.name).is_some_and(|at| {
                *at != Stamp::of(&shared.config, route, shared.dispatcher.home().key())
            });
            if was != Some(true) || changed_since_park {
                memory.parked.remove(&route.name);
                // Health flipped, the environment changed since a park, or a
                // fresh worker: release what was parked for this route.
                store
                    .release_parked(
                        &shared.lane,
                        &route.name,
                        &format!(
                            "released: preflight of route '{}' passes on {}",
                            route.name, shared.host
                        ),
                    )
                    .await?;
            }
        } else {
            summary.unhealthy_routes.insert(
                route.name.clone(),
                result
                    .classifier
                    .map_or_else(|| "unknown".into(), |c| c.label()),
            );
            if !result.cached {
                store
                    .open_incident(&preflight_incident(shared, route, &result))
                    .await?;
            }
        }
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
    }
}
