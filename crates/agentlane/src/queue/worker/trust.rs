//! Trust in a route: a route earns full concurrency by one attempt that did
//! not end in a hard stop.
//!
//! Until then — in a fresh worker, and again after a hard stop — the worker
//! runs one job of the route at a time (a trial) and claims none of its jobs
//! in settlements. So N queued jobs behind a bad key cost one attempt, not
//! one per slot: the trial parks with the incident, and the incident blocks
//! the route (`store::rules::unblocked`). Pure bookkeeping, shared by the
//! loop (which claims trials) and the job tasks (which settle them).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::class::Class;

/// Whether an attempt that ended as `class` shows the route works: the CLI
/// ran and answered (a success, or a failure of the job or of the provider's
/// limits). A timeout, a network failure, a kill or a lost worker says
/// nothing about it — a CLI with a bad key and no network hangs until its
/// timeout (seen with Claude Code) — so the route stays on trial, one job at
/// a time. Pure.
pub(super) fn proves_route(class: Class) -> bool {
    !class.stops_route()
        && !matches!(
            class,
            Class::Timeout
                | Class::NetworkUnavailable
                | Class::TransientIo
                | Class::KilledBySignal
                | Class::WorkerLost
        )
}

/// Which routes have proven themselves, and which have a trial running.
#[derive(Debug, Default)]
pub(super) struct Trust {
    inner: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    proven: HashSet<String>,
    /// Route → the job running as its trial.
    on_trial: HashMap<String, String>,
}

/// What the loop may claim now, given the routes that passed the gate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct ClaimPlan {
    /// Routes claimed up to the free slots, and in settlements.
    pub(super) proven: Vec<String>,
    /// Routes that may start one trial job now (none running).
    pub(super) trials: Vec<String>,
}

impl Trust {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every route trusted at once (the canary matrix, which must run every
    /// cell whatever the others did).
    pub(super) fn trust_all(&self, routes: &[String]) {
        self.state().proven.extend(routes.iter().cloned());
    }

    /// Splits the gate's routes into trusted ones and trials to start.
    pub(super) fn plan(&self, healthy: &[String]) -> ClaimPlan {
        let s = self.state();
        let (proven, untried): (Vec<String>, Vec<String>) =
            healthy.iter().cloned().partition(|r| s.proven.contains(r));
        let trials = untried
            .into_iter()
            .filter(|r| !s.on_trial.contains_key(r))
            .collect();
        ClaimPlan { proven, trials }
    }

    /// The routes a settlement may claim its slot's next job on.
    pub(super) fn chainable(&self, routes: &[String]) -> Vec<String> {
        let s = self.state();
        routes
            .iter()
            .filter(|r| s.proven.contains(*r))
            .cloned()
            .collect()
    }

    /// `job` was claimed as the trial of `route`.
    pub(super) fn started(&self, route: &str, job: &str) {
        self.state()
            .on_trial
            .insert(route.to_string(), job.to_string());
    }

    /// Ends `route`'s trial if `job` is it: another job of the route
    /// settling (one this worker rescued) does not end the trial early.
    fn end_trial(s: &mut State, route: &str, job: &str) {
        if s.on_trial.get(route).is_some_and(|t| t == job) {
            s.on_trial.remove(route);
        }
    }

    /// `job`'s attempt on `route` settled as `class`: a hard stop takes the
    /// route's trust away; a run that shows the CLI working earns it
    /// ([`proves_route`]); the rest leaves it as it was.
    pub(super) fn settled(&self, route: &str, job: &str, class: Class) {
        let mut s = self.state();
        Self::end_trial(&mut s, route, job);
        if class.stops_route() {
            s.proven.remove(route);
        } else if proves_route(class) {
            s.proven.insert(route.to_string());
        }
    }

    /// `job` ended without a settlement (its task failed).
    pub(super) fn abandoned(&self, route: &str, job: &str) {
        Self::end_trial(&mut self.state(), route, job);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_untried_route_runs_one_trial_until_an_attempt_proves_it() {
        let t = Trust::default();
        let healthy = routes(&["a"]);
        assert_eq!(t.plan(&healthy).trials, routes(&["a"]));
        assert!(
            t.chainable(&healthy).is_empty(),
            "no chained claims on trial"
        );
        t.started("a", "j1");
        assert_eq!(
            t.plan(&healthy),
            ClaimPlan::default(),
            "one trial at a time"
        );
        // A job of the route this worker rescued settles while the trial
        // runs: the trial is still the only one.
        t.settled("a", "rescued", Class::AuthUnavailable);
        t.abandoned("a", "rescued");
        assert_eq!(
            t.plan(&healthy),
            ClaimPlan::default(),
            "another job's settlement does not end the trial"
        );
        t.settled("a", "j1", Class::RateLimited);
        assert_eq!(t.plan(&healthy).proven, routes(&["a"]));
        assert_eq!(t.chainable(&healthy), routes(&["a"]));
    }

    #[test]
    fn a_hard_stop_takes_trust_away_and_a_lost_worker_proves_nothing() {
        let t = Trust::default();
        let healthy = routes(&["a", "b"]);
        t.settled("a", "j1", Class::Ok);
        t.settled("a", "j2", Class::AuthUnavailable);
        assert_eq!(t.plan(&healthy).trials, routes(&["a", "b"]));
        t.started("b", "j3");
        t.settled("b", "j3", Class::WorkerLost);
        assert_eq!(
            t.plan(&healthy).trials,
            routes(&["a", "b"]),
            "still untried"
        );
        t.started("b", "j4");
        t.abandoned("b", "j4");
        assert_eq!(t.plan(&healthy).trials, routes(&["a", "b"]));
    }

    #[test]
    fn only_a_run_that_shows_the_cli_answering_earns_trust() {
        let cases = [
            (Class::Ok, true),
            (Class::RateLimited, true),
            (Class::PayloadInvalid, true),
            (Class::UnknownExit(3), true),
            (Class::Timeout, false),
            (Class::NetworkUnavailable, false),
            (Class::TransientIo, false),
            (Class::KilledBySignal, false),
            (Class::WorkerLost, false),
            (Class::AuthUnavailable, false),
            (Class::QuotaExhausted, false),
        ];
        for (class, proves) in cases {
            assert_eq!(proves_route(class), proves, "{class:?}");
        }
        let t = Trust::default();
        let healthy = routes(&["a"]);
        t.started("a", "j1");
        t.settled("a", "j1", Class::Timeout);
        assert_eq!(
            t.plan(&healthy).trials,
            routes(&["a"]),
            "a timeout leaves the route on trial"
        );
    }

    #[test]
    fn trusting_all_skips_trials() {
        let t = Trust::default();
        let healthy = routes(&["a", "b"]);
        t.trust_all(&healthy);
        assert_eq!(t.plan(&healthy).proven, healthy);
        assert!(t.plan(&healthy).trials.is_empty());
    }
}
