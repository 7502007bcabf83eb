//! The store conformance suite: one set of cases, generic over [`Store`], that
//! every backend must pass. The cases live by concern (`enqueue`, `claim`,
//! `settle`, `incidents`, `rescue`, `lanes`, `leadership`, `finish`,
//! `maintenance`, `breaker`, `metrics`) on the helpers of `helpers`; the `sqlite` and `postgres`
//! modules run every case on their backend.
//!
//! Each case asserts behaviour that breaks when the backend's SQL is wrong:
//! orderings are checked with data whose insertion order differs from the
//! expected order, and every "changes nothing" is checked against the row as
//! it was before.

mod helpers;

mod alerts;
mod blocks;
mod breaker;
mod claim;
mod controls;
mod dashboard;
mod enqueue;
mod feed;
mod finish;
mod incidents;
mod job_list;
mod lanes;
mod leadership;
mod maintenance;
mod metrics;
mod quota;
mod rescue;
mod settle;
mod usage;

// The helpers, for every case file's and backend module's `use super::*`.
use helpers::*;

pub(crate) use alerts::*;
pub(crate) use blocks::*;
pub(crate) use breaker::*;
pub(crate) use claim::*;
pub(crate) use controls::*;
pub(crate) use dashboard::*;
pub(crate) use enqueue::*;
pub(crate) use feed::*;
pub(crate) use finish::*;
pub(crate) use incidents::*;
pub(crate) use job_list::*;
pub(crate) use lanes::*;
pub(crate) use leadership::*;
pub(crate) use maintenance::*;
pub(crate) use metrics::*;
pub(crate) use quota::*;
pub(crate) use rescue::*;
pub(crate) use settle::*;
pub(crate) use usage::*;

/// Applies macro `$m` to every conformance case, as `test => case`: each
/// backend's module runs them all.
#[cfg(test)]
macro_rules! every_case {
    ($m:ident) => {
        $m! {
            enqueue_and_read => case_enqueue_and_read,
            enqueue_many => case_enqueue_many,
            duplicate_key_returns_the_same_id => case_duplicate_key_returns_the_same_id,
            batch_with_an_existing_key_stores_the_others => case_batch_with_an_existing_key_stores_the_others,
            claim_order_and_filters => case_claim_order_and_filters,
            claims_never_overlap => case_claims_never_overlap,
            settle_fenced_and_variants => case_settle_fenced_and_variants,
            incidents => case_incidents,
            incident_keeps_latest_reset => case_incident_keeps_latest_reset,
            incident_resolves_on_success => case_incident_resolves_on_success,
            rescue_expired => case_rescue_expired,
            rescue_evidence_names_lost_worker => case_rescue_evidence_names_lost_worker,
            release_parked => case_release_parked,
            lane_pending => case_lane_pending,
            status => case_status,
            leadership => case_leadership,
            prunes_on_retention => case_prunes_on_retention,
            prunes_in_batches => case_prunes_in_batches,
            finish_and_settle => case_finish_and_settle,
            finish_settle_and_claim => case_finish_settle_and_claim,
            hard_stop_blocks_claims => case_hard_stop_blocks_claims,
            cancel => case_cancel,
            retry => case_retry,
            pause => case_pause,
            resolve_retry_failed => case_resolve_retry_failed,
            resolve_ids => case_resolve_ids,
            jobs_changed_since => case_jobs_changed_since,
            label_round_trip => case_label_round_trip,
            usage_per_attempt_and_totals => case_usage_per_attempt_and_totals,
            account_quota_parks_and_releases => case_account_quota_parks_and_releases,
            breaker_blocks_claims_until_closed => case_breaker_blocks_claims_until_closed,
            route_attempts_newest_first => case_route_attempts_newest_first,
            alert_outcomes_are_events => case_alert_outcomes_are_events,
            events_after_and_job_pages => case_events_after_and_job_pages,
            metrics_snapshot => case_metrics_snapshot,
            finished_per_minute => case_finished_per_minute,
            job_list_filters_combine => case_job_list_filters_combine,
        }
    };
}

#[cfg(test)]
mod sqlite;

#[cfg(test)]
mod postgres;
