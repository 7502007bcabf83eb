//! Budgets (issue 17), decided from numbers alone: a job whose attempts have
//! cost its per-job budget is not retried, and a lane that has spent its
//! daily budget (UTC day) is held — its workers claim nothing, its jobs stay
//! queued. The worker asks the store for the spend and these functions for
//! the verdict. Only reported costs count: an attempt whose CLI printed no
//! cost spends nothing here.

use serde::Serialize;

use crate::model::{Decision, Next};

/// Why a job may not retry: its summed cost has reached `per_job_usd`.
/// None when there is no budget or it is not reached.
pub fn job_budget_spent(spent_usd: Option<f64>, per_job_usd: Option<f64>) -> Option<String> {
    let (spent, budget) = (spent_usd?, per_job_usd?);
    (spent >= budget).then(|| {
        format!("budget: the job's attempts cost ${spent:.4}, its per-job budget ([budgets] per_job_usd) is ${budget:.4}; not retried")
    })
}

/// The retry decision within the per-job budget: a retry of a job whose
/// attempts (this one included) have cost `per_job_usd` becomes a failure
/// whose reason names the budget; every other decision stands.
pub fn within_job_budget(
    decision: Decision,
    spent_usd: Option<f64>,
    per_job_usd: Option<f64>,
) -> Decision {
    if !matches!(decision.next, Next::Retry { .. }) {
        return decision;
    }
    match job_budget_spent(spent_usd, per_job_usd) {
        Some(reason) => Decision {
            next: Next::Fail,
            reason: format!("{reason} (was: {})", decision.reason),
        },
        None => decision,
    }
}

/// A lane held by its daily budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LaneHold {
    /// The lane.
    pub lane: String,
    /// What its attempts reported spending today (UTC).
    pub spent_usd: f64,
    /// Its `budget_usd_per_day`.
    pub budget_usd: f64,
}

impl std::fmt::Display for LaneHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "lane {} held: spent ${:.2} of ${:.2} today",
            self.lane, self.spent_usd, self.budget_usd
        )
    }
}

/// Whether `lane`, having spent `spent_today_usd` this UTC day, is held by
/// its daily budget (None: no budget, or money left).
pub fn lane_hold(
    lane: &str,
    spent_today_usd: f64,
    budget_per_day: Option<f64>,
) -> Option<LaneHold> {
    let budget = budget_per_day?;
    (spent_today_usd >= budget).then(|| LaneHold {
        lane: lane.to_string(),
        spent_usd: spent_today_usd,
        budget_usd: budget,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    #[test_case(None, Some(2.0), false ; "no cost reported spends nothing")]
    #[test_case(Some(1.99), Some(2.0), false ; "under the budget")]
    #[test_case(Some(2.0), Some(2.0), true ; "reaching it stops")]
    #[test_case(Some(5.0), Some(2.0), true ; "over it stops")]
    #[test_case(Some(5.0), None, false ; "no budget")]
    fn a_job_retries_until_its_budget_is_spent(
        spent: Option<f64>,
        budget: Option<f64>,
        stops: bool,
    ) {
        let reason = job_budget_spent(spent, budget);
        assert_eq!(reason.is_some(), stops);
        if let Some(r) = reason {
            assert!(r.contains("per_job_usd"), "{r}");
        }
    }

    fn retry() -> Decision {
        Decision {
            next: Next::Retry {
                delay: std::time::Duration::from_secs(30),
                timeout: None,
                diagnostics: false,
            },
            reason: "rate_limited: retry in 30s".into(),
        }
    }

    #[test]
    fn a_spent_job_fails_instead_of_retrying() {
        let d = within_job_budget(retry(), Some(2.5), Some(2.0));
        assert_eq!(d.next, Next::Fail);
        assert!(
            d.reason.contains("per-job budget") && d.reason.contains("rate_limited"),
            "{}",
            d.reason
        );
        assert_eq!(within_job_budget(retry(), Some(1.0), Some(2.0)), retry());
        let done = Decision {
            next: Next::Done,
            reason: "ok".into(),
        };
        assert_eq!(
            within_job_budget(done.clone(), Some(9.0), Some(2.0)),
            done,
            "a success stands"
        );
    }

    #[test_case(0.0, Some(1.0), None ; "nothing spent")]
    #[test_case(0.99, Some(1.0), None ; "money left")]
    #[test_case(1.0, Some(1.0), Some("lane fast held: spent $1.00 of $1.00 today") ; "spent")]
    #[test_case(3.5, Some(1.0), Some("lane fast held: spent $3.50 of $1.00 today") ; "overspent by running attempts")]
    #[test_case(100.0, None, None ; "no budget")]
    fn a_lane_is_held_once_its_day_is_spent(spent: f64, budget: Option<f64>, said: Option<&str>) {
        assert_eq!(
            lane_hold("fast", spent, budget)
                .map(|h| h.to_string())
                .as_deref(),
            said
        );
    }
}
