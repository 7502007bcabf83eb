//! Planning: the one owner of "configuration + job → what runs". Pure: it
//! reads the configuration and the job and spawns nothing, so every path
//! (the worker, `service`, enqueue's admission, the matrix) resolves a lane
//! and builds a job's request the same way, and the binary decides nothing.
//!
//! - [`lane_routes`]: the routes a lane runs (every route when the lane
//!   names none, or when the configuration defines no lanes at all).
//! - [`worker_routes`]: those routes in a worker kind's context (its
//!   environment, its user); a user that does not exist is refused.
//! - [`lane_of`]: the lane a route belongs to.
//! - [`job_request`]: a route's request with a claimed job applied.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, Route, UnknownUser};
use crate::dispatch::{DispatchRequest, JobRef};
use crate::model::Job;
use crate::policy::{check_contract, route_allowed, Load, Payload};

/// Why a lane cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The configuration defines lanes, and not this one.
    #[error("unknown lane '{lane}' in {config}: use one of [{known}], or add [lanes.{lane}] with its routes")]
    UnknownLane {
        /// The lane asked for.
        lane: String,
        /// The lanes defined, comma-separated.
        known: String,
        /// The configuration file.
        config: String,
    },
    /// The lane has no route to run.
    #[error("lane '{lane}' has no routes to run: define routes in {config}")]
    NoRoutes {
        /// The lane.
        lane: String,
        /// The configuration file.
        config: String,
    },
    /// The worker kind names a user that does not exist.
    #[error(transparent)]
    UnknownUser(#[from] UnknownUser),
}

/// The routes `lane` runs, in the configuration's order. Pure.
pub fn lane_routes<'c>(config: &'c Config, lane: &str) -> Result<Vec<&'c Route>, PlanError> {
    let lane_cfg = config.lanes.get(lane);
    if lane_cfg.is_none() && !config.lanes.is_empty() {
        return Err(PlanError::UnknownLane {
            lane: lane.to_string(),
            known: config.lanes.keys().cloned().collect::<Vec<_>>().join(", "),
            config: config.path.display().to_string(),
        });
    }
    let routes: Vec<&Route> = match lane_cfg {
        Some(l) if !l.routes.is_empty() => l
            .routes
            .iter()
            .filter_map(|r| config.routes.get(r))
            .collect(),
        _ => config.routes.values().collect(),
    };
    if routes.is_empty() {
        return Err(PlanError::NoRoutes {
            lane: lane.to_string(),
            config: config.path.display().to_string(),
        });
    }
    Ok(routes)
}

/// The routes a worker of `kind` runs for `lane`, each in the kind's
/// context (a kind the configuration does not define adds none). Pure but
/// for looking the kind's user up.
pub fn worker_routes(config: &Config, lane: &str, kind: &str) -> Result<Vec<Route>, PlanError> {
    let routes = lane_routes(config, lane)?;
    Ok(match config.workers.get(kind) {
        Some(k) => routes
            .into_iter()
            .map(|r| k.apply(r))
            .collect::<Result<_, _>>()?,
        None => routes.into_iter().cloned().collect(),
    })
}

/// The first lane that runs `route`. Pure.
pub fn lane_of<'c>(config: &'c Config, route: &str) -> Option<&'c str> {
    config
        .lanes
        .values()
        .find(|l| l.routes.is_empty() || l.routes.iter().any(|r| r == route))
        .map(|l| l.name.as_str())
}

/// `route`'s request for an attempt of `job`: its prompt, its attempt (the
/// fencing token), the gate (the kind's payload contract, then the route
/// policy: a refusal is recorded instead of a launch), the timeout a retry
/// grew to, expanded diagnostics when the retry table asked for them, the
/// route's rules, and a kill grace that fits in the lease. Pure.
pub fn job_request(config: &Config, route: &Route, job: &Job) -> DispatchRequest {
    let kind = config.kinds.get(&job.kind);
    let lane = config.lanes.get(&job.lane);
    let mut req = route.request(Some(job.prompt.clone().into_bytes()));
    req.job = Some(JobRef {
        id: job.id.clone(),
        attempt: job.attempts,
    });
    req.gate = kind
        .map(|k| {
            check_contract(
                k,
                &Payload {
                    prompt: job.prompt.as_bytes(),
                    fields: &job.fields,
                },
            )
        })
        .transpose()
        .err()
        .or_else(|| route_allowed(kind, route, lane, Some(&job.fields), Load::default()).err());
    if let Some(ms) = job.timeout_ms {
        req.timeout = Some(Duration::from_millis(ms));
    }
    if job.diagnostics {
        req.diagnostics = true;
        req.tail_bytes = 64 * 1024;
        // Before a `--` separator: after it they would be prompt text.
        crate::dispatch::prompt_arg::insert_options(
            &mut req.args,
            route.profile.verbose_args.iter().map(|s| s.to_string()),
        );
    }
    req.rules = route.rules.clone().map(Arc::new);
    // Stopped at 2/3 of a lease when renewals fail, the agent must be dead
    // before the lease ends: cap the SIGTERM → SIGKILL grace at lease/6.
    req.kill_grace = req.kill_grace.min(config.queue.lease / 6);
    req
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(text: &str) -> Config {
        crate::config::parse(Path::new("agentlane.toml"), text).unwrap()
    }

    const TWO_LANES: &str = "[routes.a]\nprofile = \"claude\"\n[routes.b]\nprofile = \"codex\"\n[routes.c]\nprofile = \"gemini\"\n[lanes.fast]\nroutes = [\"b\", \"a\"]\n[lanes.all]\n[workers.cron]\nenv_clear = true\nenv = { PATH = \"/usr/bin:/bin\" }\n[workers.ghost]\nuser = \"nosuchuser-agentlane\"\n";

    #[test]
    fn a_lane_runs_its_routes_in_order_or_every_route() {
        let cfg = config(TWO_LANES);
        let names = |lane| -> Vec<String> {
            lane_routes(&cfg, lane)
                .unwrap()
                .iter()
                .map(|r| r.name.clone())
                .collect()
        };
        assert_eq!(names("fast"), ["b", "a"]);
        assert_eq!(names("all"), ["a", "b", "c"]);
        assert!(matches!(
            lane_routes(&cfg, "fsat"),
            Err(PlanError::UnknownLane { ref known, .. }) if known == "all, fast"
        ));
        // No lanes defined: any lane name runs every route.
        let open = config("[routes.a]\nprofile = \"claude\"\n");
        assert_eq!(lane_routes(&open, "anything").unwrap().len(), 1);
        let empty = config("");
        assert!(matches!(
            lane_routes(&empty, "x"),
            Err(PlanError::NoRoutes { .. })
        ));
    }

    #[test]
    fn a_worker_kind_gives_its_context_or_refuses_a_missing_user() {
        let cfg = config(TWO_LANES);
        let cron = worker_routes(&cfg, "fast", "cron").unwrap();
        let env = cron[0].base_env.as_ref().expect("the kind's environment");
        assert_eq!(env.get("PATH").map(String::as_str), Some("/usr/bin:/bin"));
        let local = worker_routes(&cfg, "fast", "local").unwrap();
        assert!(
            local[0].base_env.is_none(),
            "an undefined kind adds nothing"
        );
        assert!(matches!(
            worker_routes(&cfg, "fast", "ghost"),
            Err(PlanError::UnknownUser(_))
        ));
    }

    #[test]
    fn a_route_belongs_to_the_first_lane_that_runs_it() {
        let cfg = config(TWO_LANES);
        assert_eq!(
            lane_of(&cfg, "b"),
            Some("all"),
            "BTreeMap order: all before fast"
        );
        assert_eq!(lane_of(&cfg, "c"), Some("all"));
    }

    #[test]
    fn a_jobs_request_carries_its_attempt_timeout_diagnostics_and_a_grace_within_the_lease() {
        let cfg = config("[routes.a]\nprofile = \"claude\"\n[kinds.k]\nroutes = [\"a\"]\n[queue]\nlease = \"30s\"\n");
        let job = Job {
            id: "j1".into(),
            kind: "k".into(),
            lane: "main".into(),
            route: "a".into(),
            prompt: "hello".into(),
            fields: Default::default(),
            priority: 0,
            status: crate::model::JobStatus::Running(crate::model::Lease {
                owner: "w".into(),
                expires_at: String::new(),
            }),
            attempts: 3,
            run_at: String::new(),
            created_at: String::new(),
            updated_at: String::new(),
            timeout_ms: Some(90_000),
            diagnostics: true,
            classifier: None,
            next_action: None,
            reason: None,
            incident_id: None,
            last_dispatch_id: None,
            key: None,
            label: None,
        };
        let req = job_request(&cfg, &cfg.routes["a"], &job);
        assert_eq!(
            req.job.as_ref().map(|j| (j.id.as_str(), j.attempt)),
            Some(("j1", 3))
        );
        assert_eq!(req.timeout, Some(Duration::from_secs(90)));
        assert!(req.diagnostics);
        assert!(
            req.kill_grace <= Duration::from_secs(5),
            "{:?}",
            req.kill_grace
        );
        assert!(req.gate.is_none(), "the payload keeps its contract");
    }
}
