//! The operator's controls over SQLite: each one transaction that changes
//! only rows in the states the control names and records an
//! `operator_action` event per job (or lane) it touched.

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::insert_event;
use super::queue::NOW;
use crate::events::Event;
use crate::model::control::{CANCELLABLE, RETRYABLE};
use crate::model::{
    Actor, Cancelled, ControlAction, JobState, LanePause, OperatorAction, Resolved, Retried,
    RetryFilter,
};
use crate::store::rules;
use crate::store::{id_match, IdKind, IdMatch, ID_CANDIDATES};

fn state_of(
    tx: &Transaction<'_>,
    id: &str,
) -> rusqlite::Result<Option<(JobState, Option<String>, bool)>> {
    let sql = format!(
        "SELECT state, lease_owner, coalesce(lease_expires_at < {NOW}, 0) FROM jobs WHERE id = ?1"
    );
    let row: Option<(String, Option<String>, bool)> = tx
        .prepare_cached(&sql)?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    row.map(|(state, owner, expired)| {
        let state = state.parse::<JobState>().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })?;
        Ok((state, owner, expired))
    })
    .transpose()
}

fn record(tx: &Transaction<'_>, action: OperatorAction) -> rusqlite::Result<()> {
    let job = action.job_id.clone();
    insert_event(tx, None, job.as_deref(), &Event::OperatorAction(action))
}

pub(super) fn cancel_job(
    conn: &mut Connection,
    id: &str,
    who: &Actor,
) -> rusqlite::Result<Option<Cancelled>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some((state, owner, expired)) = state_of(&tx, id)? else {
        return Ok(None);
    };
    let why = who.reason("cancelled");
    let mut event = OperatorAction::new(ControlAction::Cancel, who);
    event.job_id = Some(id.to_string());
    event.from = Some(state);
    let outcome = if CANCELLABLE.contains(&state) || (state == JobState::Running && expired) {
        // Waiting work, or a running job no worker holds any more (its
        // lease expired: its worker is gone and nothing would stop it).
        let sql = format!(
            "UPDATE jobs SET {set}, lease_owner = NULL, lease_expires_at = NULL WHERE id = ?1 AND state = ?3",
            set = rules::cancel_set("?2", NOW)
        );
        tx.prepare_cached(&sql)?
            .execute(params![id, why, state.label()])?;
        Cancelled::Cancelled { from: state }
    } else if state == JobState::Running {
        let sql = format!(
            "UPDATE jobs SET cancel_reason = ?2, updated_at = {NOW} WHERE id = ?1 AND state = 'running'"
        );
        tx.prepare_cached(&sql)?.execute(params![id, why])?;
        event.action = ControlAction::CancelRequested;
        Cancelled::Requested {
            owner: owner.unwrap_or_default(),
        }
    } else {
        return Ok(Some(Cancelled::Finished { state }));
    };
    record(&tx, event)?;
    tx.commit()?;
    Ok(Some(outcome))
}

pub(super) fn retry_job(
    conn: &mut Connection,
    id: &str,
    who: &Actor,
) -> rusqlite::Result<Option<Retried>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some((state, _, _)) = state_of(&tx, id)? else {
        return Ok(None);
    };
    if !RETRYABLE.contains(&state) {
        return Ok(Some(Retried::NotRetryable { state }));
    }
    requeue(&tx, id, state, who, None)?;
    tx.commit()?;
    Ok(Some(Retried::Requeued { from: state }))
}

/// Queues `id` again (it is in `state`), with its event.
fn requeue(
    tx: &Transaction<'_>,
    id: &str,
    state: JobState,
    who: &Actor,
    incident: Option<&str>,
) -> rusqlite::Result<()> {
    let sql = format!(
        "UPDATE jobs SET {set} WHERE id = ?1 AND state = ?3",
        set = rules::retry_set("?2", NOW)
    );
    tx.prepare_cached(&sql)?
        .execute(params![id, who.reason("retried"), state.label()])?;
    let mut event = OperatorAction::new(ControlAction::Retry, who);
    event.job_id = Some(id.to_string());
    event.from = Some(state);
    event.incident_id = incident.map(str::to_string);
    record(tx, event)
}

pub(super) fn retry_jobs(
    conn: &mut Connection,
    f: &RetryFilter,
    who: &Actor,
) -> rusqlite::Result<Vec<String>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let states: Vec<JobState> = f
        .states()
        .into_iter()
        .filter(|s| RETRYABLE.contains(s))
        .collect();
    if states.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, state FROM jobs WHERE state IN ({states})
           AND (?1 IS NULL OR lane = ?1) AND (?2 IS NULL OR classifier = ?2)
           AND (?3 IS NULL OR coalesce(finished_at, updated_at) >= ?3)
         ORDER BY id",
        states = rules::state_list(&states)
    );
    let found: Vec<(String, String)> = tx
        .prepare(&sql)?
        .query_map(params![f.lane, f.class, f.since], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut ids = Vec::with_capacity(found.len());
    for (id, state) in found {
        let state = state.parse::<JobState>().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })?;
        requeue(&tx, &id, state, who, None)?;
        ids.push(id);
    }
    tx.commit()?;
    Ok(ids)
}

pub(super) fn resolve_incident(
    conn: &mut Connection,
    id: &str,
    who: &Actor,
    retry_failed: bool,
) -> rusqlite::Result<Option<Resolved>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let sql = format!("UPDATE incidents SET state = 'resolved', resolved_at = {NOW}, resolution = ?2 WHERE id = ?1 AND state = 'open'");
    if tx
        .prepare_cached(&sql)?
        .execute(params![id, who.reason("resolved")])?
        == 0
    {
        return Ok(None);
    }
    let sql = format!(
        "UPDATE jobs SET state = 'queued', run_at = {NOW}, next_action = 'run', reason = 'released: incident ' || ?1 || ' resolved', updated_at = {NOW}
         WHERE state = 'parked' AND id IN (SELECT job_id FROM incident_jobs WHERE incident_id = ?1)"
    );
    let released = tx.prepare_cached(&sql)?.execute([id])? as u64;
    let mut retried = 0;
    if retry_failed {
        let failed: Vec<String> = tx
            .prepare_cached(
                "SELECT j.id FROM jobs j JOIN incident_jobs ij ON ij.job_id = j.id
                 WHERE ij.incident_id = ?1 AND j.state = 'failed' ORDER BY j.id",
            )?
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for job in &failed {
            requeue(&tx, job, JobState::Failed, who, Some(id))?;
        }
        retried = failed.len() as u64;
    }
    let mut event = OperatorAction::new(ControlAction::Resolve, who);
    event.incident_id = Some(id.to_string());
    record(&tx, event)?;
    tx.commit()?;
    Ok(Some(Resolved { released, retried }))
}

pub(super) fn pause_lane(conn: &mut Connection, lane: &str, who: &Actor) -> rusqlite::Result<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let added = tx
        .prepare_cached(
            "INSERT INTO lane_pauses (lane, paused_by, reason) VALUES (?1, ?2, ?3) ON CONFLICT (lane) DO NOTHING",
        )?
        .execute(params![lane, who.by, who.why])?
        > 0;
    if added {
        let mut event = OperatorAction::new(ControlAction::Pause, who);
        event.lane = Some(lane.to_string());
        record(&tx, event)?;
    }
    tx.commit()?;
    Ok(added)
}

pub(super) fn resume_lane(
    conn: &mut Connection,
    lane: &str,
    who: &Actor,
) -> rusqlite::Result<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let removed = tx
        .prepare_cached("DELETE FROM lane_pauses WHERE lane = ?1")?
        .execute([lane])?
        > 0;
    if removed {
        let mut event = OperatorAction::new(ControlAction::Resume, who);
        event.lane = Some(lane.to_string());
        record(&tx, event)?;
    }
    tx.commit()?;
    Ok(removed)
}

pub(super) fn lane_pauses(
    conn: &mut Connection,
    lane: Option<&str>,
) -> rusqlite::Result<Vec<LanePause>> {
    conn.prepare_cached(
        "SELECT lane, paused_by, reason, paused_at FROM lane_pauses WHERE ?1 IS NULL OR lane = ?1 ORDER BY lane",
    )?
    .query_map([lane], |r| {
        Ok(LanePause {
            lane: r.get(0)?,
            by: r.get(1)?,
            why: r.get(2)?,
            at: r.get(3)?,
        })
    })?
    .collect()
}

/// The ids of `kind` that start or end with `fragment` (validated by the
/// caller): the prefix through the primary key's order, the suffix by a
/// scan (an operator's lookup, not a hot path).
pub(super) fn resolve_id(
    conn: &mut Connection,
    kind: IdKind,
    fragment: &str,
) -> rusqlite::Result<IdMatch> {
    let table = kind.table();
    let sql = format!(
        "SELECT id FROM (SELECT id FROM {table} WHERE id >= ?1 AND id < ?1 || x'ff' ORDER BY id LIMIT ?2)
         UNION SELECT id FROM (SELECT id FROM {table} WHERE substr(id, -length(?1)) = ?1 ORDER BY id LIMIT ?2)"
    );
    let found: Vec<String> = conn
        .prepare_cached(&sql)?
        .query_map(params![fragment, ID_CANDIDATES as i64 + 1], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(id_match(fragment, found))
}
