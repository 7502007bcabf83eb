//! The operator's controls over PostgreSQL: each one transaction that
//! locks the rows it changes (`FOR UPDATE`), changes only rows in the states
//! the control names, and records an `operator_action` event per job (or
//! lane) it touched.

use deadpool_postgres::Transaction;

use super::connect::{err, PostgresStore};
use super::records::insert_event;
use crate::events::Event;
use crate::model::control::{CANCELLABLE, RETRYABLE};
use crate::model::{
    Actor, Cancelled, ControlAction, JobState, LanePause, OperatorAction, Resolved, Retried,
    RetryFilter,
};
use crate::store::rules;
use crate::store::{id_match, IdKind, IdMatch, StoreError, ID_CANDIDATES};

fn corrupt(e: String) -> StoreError {
    StoreError::Corrupt(format!("jobs.state: {e}"))
}

async fn record(
    s: &PostgresStore,
    tx: &Transaction<'_>,
    action: OperatorAction,
) -> Result<(), StoreError> {
    let job = action.job_id.clone();
    insert_event(
        tx,
        &s.location,
        None,
        job.as_deref(),
        &Event::OperatorAction(action),
    )
    .await
}

/// The job's state, lease owner and whether its lease expired, locked.
async fn state_of(
    s: &PostgresStore,
    tx: &Transaction<'_>,
    id: &str,
) -> Result<Option<(JobState, Option<String>, bool)>, StoreError> {
    let row = tx
        .query_opt(
            "SELECT state::text, lease_owner, coalesce(lease_expires_at < now(), false) FROM jobs WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(err(&s.location))?;
    row.map(|r| {
        let state: String = r.get(0);
        Ok((state.parse().map_err(corrupt)?, r.get(1), r.get(2)))
    })
    .transpose()
}

pub(super) async fn cancel_job(
    s: &PostgresStore,
    id: &str,
    who: &Actor,
) -> Result<Option<Cancelled>, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
    let Some((state, owner, expired)) = state_of(s, &tx, id).await? else {
        return Ok(None);
    };
    let why = who.reason("cancelled");
    let mut event = OperatorAction::new(ControlAction::Cancel, who);
    event.job_id = Some(id.to_string());
    event.from = Some(state);
    let outcome = if CANCELLABLE.contains(&state) || (state == JobState::Running && expired) {
        let sql = format!(
            "UPDATE jobs SET {set}, lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND state::text = $3",
            set = rules::cancel_set("$2", "now()")
        );
        tx.execute(&sql, &[&id, &why, &state.label()])
            .await
            .map_err(&e)?;
        Cancelled::Cancelled { from: state }
    } else if state == JobState::Running {
        tx.execute(
            "UPDATE jobs SET cancel_reason = $2, updated_at = now() WHERE id = $1 AND state = 'running'",
            &[&id, &why],
        )
        .await
        .map_err(&e)?;
        event.action = ControlAction::CancelRequested;
        Cancelled::Requested {
            owner: owner.unwrap_or_default(),
        }
    } else {
        return Ok(Some(Cancelled::Finished { state }));
    };
    record(s, &tx, event).await?;
    tx.commit().await.map_err(&e)?;
    Ok(Some(outcome))
}

/// Queues `id` again (it is in `state`), with its event.
async fn requeue(
    s: &PostgresStore,
    tx: &Transaction<'_>,
    id: &str,
    state: JobState,
    who: &Actor,
    incident: Option<&str>,
) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE jobs SET {set} WHERE id = $1 AND state::text = $3",
        set = rules::retry_set("$2", "now()")
    );
    tx.execute(&sql, &[&id, &who.reason("retried"), &state.label()])
        .await
        .map_err(err(&s.location))?;
    let mut event = OperatorAction::new(ControlAction::Retry, who);
    event.job_id = Some(id.to_string());
    event.from = Some(state);
    event.incident_id = incident.map(str::to_string);
    record(s, tx, event).await
}

pub(super) async fn retry_job(
    s: &PostgresStore,
    id: &str,
    who: &Actor,
) -> Result<Option<Retried>, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
    let Some((state, _, _)) = state_of(s, &tx, id).await? else {
        return Ok(None);
    };
    if !RETRYABLE.contains(&state) {
        return Ok(Some(Retried::NotRetryable { state }));
    }
    requeue(s, &tx, id, state, who, None).await?;
    tx.commit().await.map_err(&e)?;
    Ok(Some(Retried::Requeued { from: state }))
}

pub(super) async fn retry_jobs(
    s: &PostgresStore,
    f: &RetryFilter,
    who: &Actor,
) -> Result<Vec<String>, StoreError> {
    let states: Vec<JobState> = f
        .states()
        .into_iter()
        .filter(|st| RETRYABLE.contains(st))
        .collect();
    if states.is_empty() {
        return Ok(Vec::new());
    }
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
    let sql = format!(
        "SELECT id, state::text FROM jobs WHERE state IN ({states})
           AND ($1::text IS NULL OR lane = $1) AND ($2::text IS NULL OR classifier = $2)
           AND ($3::text IS NULL OR coalesce(finished_at, updated_at) >= $3::timestamptz)
         ORDER BY id FOR UPDATE",
        states = rules::state_list(&states)
    );
    let rows = tx
        .query(&sql, &[&f.lane, &f.class, &f.since])
        .await
        .map_err(&e)?;
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        let id: String = row.get(0);
        let state: String = row.get(1);
        requeue(s, &tx, &id, state.parse().map_err(corrupt)?, who, None).await?;
        ids.push(id);
    }
    tx.commit().await.map_err(&e)?;
    Ok(ids)
}

pub(super) async fn resolve_incident(
    s: &PostgresStore,
    id: &str,
    who: &Actor,
    retry_failed: bool,
) -> Result<Option<Resolved>, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
    let closed = tx
        .execute(
            "UPDATE incidents SET state = 'resolved', resolved_at = now(), resolution = $2 WHERE id = $1 AND state = 'open'",
            &[&id, &who.reason("resolved")],
        )
        .await
        .map_err(&e)?;
    if closed == 0 {
        return Ok(None);
    }
    let released = tx
        .execute(
            "UPDATE jobs SET state = 'queued', run_at = now(), next_action = 'run', reason = 'released: incident ' || $1 || ' resolved', updated_at = now()
             WHERE state = 'parked' AND id IN (SELECT job_id FROM incident_jobs WHERE incident_id = $1)",
            &[&id],
        )
        .await
        .map_err(&e)?;
    let mut retried = 0;
    if retry_failed {
        let rows = tx
            .query(
                "SELECT j.id FROM jobs j JOIN incident_jobs ij ON ij.job_id = j.id
                 WHERE ij.incident_id = $1 AND j.state = 'failed' ORDER BY j.id FOR UPDATE OF j",
                &[&id],
            )
            .await
            .map_err(&e)?;
        for row in &rows {
            let job: String = row.get(0);
            requeue(s, &tx, &job, JobState::Failed, who, Some(id)).await?;
        }
        retried = rows.len() as u64;
    }
    let mut event = OperatorAction::new(ControlAction::Resolve, who);
    event.incident_id = Some(id.to_string());
    record(s, &tx, event).await?;
    tx.commit().await.map_err(&e)?;
    Ok(Some(Resolved { released, retried }))
}

pub(super) async fn pause_lane(
    s: &PostgresStore,
    lane: &str,
    who: &Actor,
) -> Result<bool, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
    let added = tx
        .execute(
            "INSERT INTO lane_pauses (lane, paused_by, reason) VALUES ($1, $2, $3) ON CONFLICT (lane) DO NOTHING",
            &[&lane, &who.by, &who.why],
        )
        .await
        .map_err(&e)?
        > 0;
    if added {
        let mut event = OperatorAction::new(ControlAction::Pause, who);
        event.lane = Some(lane.to_string());
        record(s, &tx, event).await?;
    }
    tx.commit().await.map_err(&e)?;
    Ok(added)
}

pub(super) async fn resume_lane(
    s: &PostgresStore,
    lane: &str,
    who: &Actor,
) -> Result<bool, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
    let removed = tx
        .execute("DELETE FROM lane_pauses WHERE lane = $1", &[&lane])
        .await
        .map_err(&e)?
        > 0;
    if removed {
        let mut event = OperatorAction::new(ControlAction::Resume, who);
        event.lane = Some(lane.to_string());
        record(s, &tx, event).await?;
    }
    tx.commit().await.map_err(&e)?;
    Ok(removed)
}

pub(super) async fn lane_pauses(
    s: &PostgresStore,
    lane: Option<&str>,
) -> Result<Vec<LanePause>, StoreError> {
    let client = s.client().await?;
    let rows = s
        .rows(
            &client,
            "SELECT lane, paused_by, reason, al_ts(paused_at) FROM lane_pauses WHERE $1::text IS NULL OR lane = $1 ORDER BY lane",
            &[&lane],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| LanePause {
            lane: r.get(0),
            by: r.get(1),
            why: r.get(2),
            at: r.get(3),
        })
        .collect())
}

/// The ids of `kind` that start or end with `fragment` (validated by the
/// caller): the prefix through the primary key's order, the suffix by a
/// scan (an operator's lookup, not a hot path).
pub(super) async fn resolve_id(
    s: &PostgresStore,
    kind: IdKind,
    fragment: &str,
) -> Result<IdMatch, StoreError> {
    let table = kind.table();
    let sql = format!(
        "(SELECT id FROM {table} WHERE starts_with(id, $1) ORDER BY id LIMIT $2)
         UNION (SELECT id FROM {table} WHERE right(id, length($1)) = $1 ORDER BY id LIMIT $2)"
    );
    let client = s.client().await?;
    let limit = ID_CANDIDATES as i64 + 1;
    let rows = s.rows(&client, &sql, &[&fragment, &limit]).await?;
    Ok(id_match(fragment, rows.iter().map(|r| r.get(0)).collect()))
}
