//! Budgets in the worker (issue 17): the store says what was spent, the
//! pure `crate::usage::budget` decides. A lane whose day is spent claims
//! nothing — neither in a pass nor in a settlement's chained claim — so its
//! jobs stay queued (held) until the UTC day turns; a job whose attempts
//! have cost its per-job budget fails instead of retrying. Jobs already
//! running finish: a budget can be overrun by what was running when it was
//! reached, never by a new claim.

use super::{Shared, Worker, WorkerError};
use crate::dispatch::Finished;
use crate::model::{Decision, Job};
use crate::usage::{lane_hold, within_job_budget, LaneHold};

/// The lane's hold, when its daily budget is spent (`extra_usd`: a cost not
/// stored yet, the attempt being settled).
async fn hold(shared: &Shared, extra_usd: f64) -> Result<Option<LaneHold>, WorkerError> {
    let budget = shared
        .config
        .lanes
        .get(&shared.lane)
        .and_then(|l| l.budget_usd_per_day);
    if budget.is_none() {
        return Ok(None);
    }
    // Like a settlement, worth waiting for through a store outage.
    let spent = crate::store::with_patience(shared.config.queue.lease, || {
        shared.store.lane_spent_today(&shared.lane)
    })
    .await?;
    Ok(lane_hold(&shared.lane, spent + extra_usd, budget))
}

impl Worker {
    /// Whether the lane is held by its budget this pass; said once when it
    /// becomes held and once when it is released.
    pub(super) async fn held_by_budget(&mut self) -> Result<bool, WorkerError> {
        let held = hold(&self.shared, 0.0).await;
        let held = self.answered(held)?;
        match (&held, self.budget_held) {
            (Some(h), false) => {
                tracing::warn!(lane = %h.lane, spent_usd = h.spent_usd, budget_usd = h.budget_usd, "{h}: claiming nothing until the UTC day turns")
            }
            (None, true) => {
                tracing::info!(lane = %self.options.lane, "lane released: its daily budget has money left")
            }
            _ => {}
        }
        self.budget_held = held.is_some();
        Ok(self.budget_held)
    }
}

/// The decision for `job`'s attempt within the per-job budget: what its
/// stored attempts cost plus this one's report.
pub(super) async fn job_decision(
    shared: &Shared,
    job: &Job,
    finished: &Finished,
    decision: Decision,
) -> Result<Decision, WorkerError> {
    let Some(budget) = shared.config.budgets.per_job_usd else {
        return Ok(decision);
    };
    let before = crate::store::with_patience(shared.config.queue.lease, || {
        shared.store.job_spent(&job.id)
    })
    .await?;
    let now = finished.report.usage.as_ref().and_then(|u| u.cost_usd);
    let spent = match (before, now) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    Ok(within_job_budget(decision, spent, Some(budget)))
}

/// Before an attempt settles: when its cost spends the lane's day, the
/// settlement claims no next job.
pub(super) async fn stop_chaining_if_spent(
    shared: &Shared,
    finished: &Finished,
) -> Result<(), WorkerError> {
    let cost = finished
        .report
        .usage
        .as_ref()
        .and_then(|u| u.cost_usd)
        .unwrap_or(0.0);
    if hold(shared, cost).await?.is_some() {
        shared.set_next_claim(None);
    }
    Ok(())
}
