//! The preflight engine: runs the checks of a route, caches the verdict
//! until its stamp changes or its TTL passes, and records what changed.

use crate::class::Class;
use crate::config::{Config, Kind, Lane, PreflightSettings, Route};
use crate::dispatch::{precheck, DispatchError, Dispatcher, Interrupt};
use crate::events::{Check, Event, PreflightChecked};
use crate::policy::{route_allowed, Load};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::*;

/// Options of one preflight.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Run a real canary prompt (costs tokens).
    pub canary: bool,
}

pub(super) struct Cached {
    at: Instant,
    stamp: Stamp,
    result: PreflightChecked,
}

/// Preflight with its cache. One per worker process.
pub struct Preflight {
    settings: PreflightSettings,
    cache: Mutex<HashMap<(String, Option<String>), Cached>>,
}

impl Preflight {
    /// A preflight with these settings and an empty cache.
    pub fn new(settings: PreflightSettings) -> Self {
        Preflight {
            settings,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The cached result, if its stamp still matches and it is fresh. Spawns nothing.
    pub fn cached(
        &self,
        config: &Config,
        route: &Route,
        kind: Option<&Kind>,
        key: &[u8; 32],
    ) -> Option<PreflightChecked> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let entry = cache.get(&(route.name.clone(), kind.map(|k| k.name.clone())))?;
        if entry.at.elapsed() > self.settings.ttl {
            return None;
        }
        let now = Stamp::of(config, route, key);
        (now == entry.stamp).then(|| PreflightChecked {
            cached: true,
            ..entry.result.clone()
        })
    }

    /// Checks a route, from the cache when valid, else by probing; records
    /// `preflight_checked` for every fresh probe.
    pub async fn check(
        &self,
        dispatcher: &Dispatcher,
        config: &Config,
        route: &Route,
        kind: Option<&Kind>,
        options: Options,
    ) -> Result<PreflightChecked, DispatchError> {
        if let Some(hit) = self.cached(config, route, kind, dispatcher.home().key()) {
            return Ok(hit);
        }
        let stamp = Stamp::of(config, route, dispatcher.home().key());
        let result = self.probe(dispatcher, route, kind, options, &stamp).await?;
        dispatcher
            .log()
            .append_event(&Event::PreflightChecked(result.clone()))
            .await?;
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
            (route.name.clone(), kind.map(|k| k.name.clone())),
            Cached {
                at: Instant::now(),
                stamp,
                result: result.clone(),
            },
        );
        Ok(result)
    }

    async fn probe(
        &self,
        dispatcher: &Dispatcher,
        route: &Route,
        kind: Option<&Kind>,
        options: Options,
        stamp: &Stamp,
    ) -> Result<PreflightChecked, DispatchError> {
        let mut checks: Vec<Check> = Vec::new();
        let mut failure: Option<checks::Failure> = None;
        let mut probes = Vec::new();
        let pre = precheck(&route.request(None));
        let resolved = match &pre.outcome {
            Ok(r) => {
                checks.push(checks::ok("cli_resolves", format!("{}", r.path.display())));
                Some(r.clone())
            }
            Err(c) => {
                let f = checks::Failure::from_classification(c);
                checks.push(checks::failed("cli_resolves", &f));
                failure = Some(f);
                None
            }
        };
        let cli_resolves = resolved.is_some()
            || !matches!(
                failure.as_ref().map(|f| f.class),
                Some(Class::CliMissing | Class::CliNotExecutable | Class::InterpreterMissing)
            );
        if resolved.is_some() {
            let ctx = checks::Context {
                route,
                env: &pre.env,
                cwd: &pre.cwd,
                dispatcher,
                timeout: self.settings.probe_timeout,
                interrupt: Interrupt::never(),
            };
            failure = checks::readiness(&ctx, options, &mut checks, &mut probes).await?;
        }
        let cli_ready = cli_resolves && failure.is_none();
        let lane: Option<&Lane> = None;
        let allowed = route_allowed(kind, route, lane, None, Load::default());
        let route_allowed = match &allowed {
            Ok(()) => {
                checks.push(checks::ok(
                    "route_allowed",
                    kind.map_or_else(
                        || "no kind given".to_string(),
                        |k| format!("kind '{}'", k.name),
                    ),
                ));
                true
            }
            Err(c) => {
                let f = checks::Failure::from_classification(c);
                checks.push(checks::failed("route_allowed", &f));
                failure.get_or_insert(f);
                false
            }
        };
        Ok(PreflightChecked {
            route: route.name.clone(),
            kind: kind.map(|k| k.name.clone()),
            host: crate::os::host_name(),
            cli_resolves,
            cli_ready,
            route_allowed,
            classifier: failure.as_ref().map(|f| f.class),
            repair_hint: failure.as_ref().map(|f| f.hint.clone()),
            evidence: failure.as_ref().map(|f| f.evidence.clone()),
            cli_path: resolved.map(|r| r.path),
            env_fingerprint: stamp.env_id().to_string(),
            checks,
            probe_dispatches: probes,
            cached: false,
        })
    }
}
