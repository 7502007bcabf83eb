//! The queue's SQL for PostgreSQL. Claims take `FOR UPDATE SKIP LOCKED`;
//! times come from `now()`; writes after a claim are fenced.

mod breaker;
mod incidents;
mod jobs;
mod quota;
mod settle;

pub(super) use breaker::*;
pub(super) use incidents::*;
#[cfg(test)]
pub(crate) use jobs::RENEW;
pub(super) use jobs::*;
pub(super) use quota::*;
pub(super) use settle::*;
#[cfg(test)]
pub(crate) use settle::{finish_settle_and_claim_sql, settle_sql};
