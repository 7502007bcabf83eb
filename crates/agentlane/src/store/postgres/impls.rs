//! The store's traits, implemented over the pool: each method a statement or
//! a transaction (the queue's SQL is in `queue.rs`).

use crate::store::FeedEvent;
use std::time::Duration;

use async_trait::async_trait;

use super::connect::*;
use super::records::*;
use super::*;
use super::{
    DispatchLog, DispatchRecord, DispatchSummary, QueueStore, Reader, Store, StoreError,
    StoredEvent,
};
use crate::events::{Event, Prepare};
use crate::model::{
    Actor, Cancelled, Completion, Enqueued, Incident, IncidentFacts, Job, JobFilter, LanePause,
    LanePending, NewJob, Renewed, Resolved, Retried, RetryFilter, Status,
};
use crate::model::{DispatchReport, RouteBlock};
use crate::store::{id_fragment, Control, IdKind, IdMatch};

#[async_trait]
impl DispatchLog for PostgresStore {
    async fn record_prepare(&self, p: &Prepare) -> Result<(), StoreError> {
        // One statement, so one round trip and one commit: the dispatch row
        // and its runner_prepare event land together or not at all.
        let client = self.client().await?;
        let cli = p.cli_path.as_ref().map(|c| c.display().to_string());
        let attempt = p.attempt.map(|a| a as i32);
        self.exec(
                &client,
                "WITH d AS (
                     INSERT INTO dispatches (id, program, cli_path, cwd, route, model, job_id, attempt)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, job_id)
                 INSERT INTO events (dispatch_id, job_id, kind, body)
                 SELECT id, job_id, 'runner_prepare', $9 FROM d",
                &[
                    &p.dispatch_id,
                    &p.program,
                    &cli,
                    &p.cwd.display().to_string(),
                    &p.route,
                    &p.model,
                    &p.job_id,
                    &attempt,
                    &json(&Event::RunnerPrepare(p.clone())),
                ],
            )
            .await?;
        Ok(())
    }

    async fn record_finish(&self, r: &DispatchReport, events: &[Event]) -> Result<(), StoreError> {
        // One statement. Once only: the events are written only when this
        // finishes the dispatch, so a retry after a lost reply, or a late
        // write after the attempt was rescued as worker_lost, changes nothing.
        let client = self.client().await?;
        let f = FinishParams::of(r, events);
        self.exec(
            &client,
            "WITH d AS (
                 UPDATE dispatches SET finished_at = now(), classifier = $2, exit_code = $3, signal = $4,
                        timed_out = $5, duration_ms = $6, failure_fingerprint = $7, report = $8
                 WHERE id = $1 AND finished_at IS NULL RETURNING id, job_id)
             INSERT INTO events (dispatch_id, job_id, kind, body)
             SELECT d.id, d.job_id, ev.kind, ev.body
             FROM d, unnest($9::text[], $10::jsonb[]) WITH ORDINALITY AS ev(kind, body, n)
             ORDER BY ev.n",
            &f.params(),
        )
        .await?;
        Ok(())
    }

    async fn append_event(&self, event: &Event) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let e = err(&self.location);
        let tx = client.transaction().await.map_err(&e)?;
        insert_event(&tx, &self.location, None, event.job_id(), event).await?;
        tx.commit().await.map_err(&e)
    }
}

#[async_trait]
impl QueueStore for PostgresStore {
    async fn job_spent(&self, job_id: &str) -> Result<Option<f64>, StoreError> {
        super::usage::job_spent(self, job_id).await
    }

    async fn lane_spent_today(&self, lane: &str) -> Result<f64, StoreError> {
        super::usage::lane_spent_today(self, lane).await
    }

    async fn try_lead(&self, name: &str, owner: &str, lease: Duration) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let ms = lease.as_secs_f64() * 1000.0;
        let row = self
            .row(
                &client,
                "WITH taken AS (
                     INSERT INTO leaders (name, owner, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
                     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                     WHERE leaders.owner = excluded.owner OR leaders.expires_at < now()
                     RETURNING owner)
                 SELECT EXISTS (SELECT 1 FROM taken)",
                &[&name, &owner, &ms],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn maintain(
        &self,
        retention: Option<Duration>,
        batch: usize,
    ) -> Result<crate::store::Maintenance, StoreError> {
        maintain::maintain(self, retention, batch).await
    }

    async fn enqueue_keyed(&self, jobs: &[NewJob]) -> Result<Vec<Enqueued>, StoreError> {
        queue::enqueue(self, jobs).await
    }

    async fn wait_for_jobs(&self, wait: &mut crate::store::IdleWait<'_>) {
        super::wait::wait_for_jobs(self, wait).await
    }

    async fn claim(
        &self,
        lane: &str,
        routes: &[String],
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        queue::claim(self, lane, routes, owner, lease, limit).await
    }

    async fn heartbeat(
        &self,
        owner: &str,
        jobs: &[String],
        lease: Duration,
    ) -> Result<Vec<Renewed>, StoreError> {
        queue::heartbeat(self, owner, jobs, lease).await
    }

    async fn settle(&self, completion: &Completion) -> Result<bool, StoreError> {
        queue::settle(self, completion).await
    }

    async fn finish_and_settle(
        &self,
        report: &DispatchReport,
        events: &[Event],
        completion: &Completion,
    ) -> Result<bool, StoreError> {
        queue::finish_and_settle(self, report, events, completion).await
    }

    async fn finish_settle_and_claim(
        &self,
        report: &DispatchReport,
        events: &[Event],
        completion: &Completion,
        next: &crate::store::NextClaim,
    ) -> Result<(bool, Option<Job>), StoreError> {
        queue::finish_settle_and_claim(self, report, events, completion, next).await
    }

    async fn open_incident(&self, facts: &IncidentFacts) -> Result<String, StoreError> {
        queue::open_incident(self, facts).await
    }

    async fn rescue_expired(&self, owner: &str, lease: Duration) -> Result<Vec<Job>, StoreError> {
        queue::rescue_expired(self, owner, lease).await
    }

    async fn release_parked(
        &self,
        lane: &str,
        route: &str,
        host: &str,
        stamp: &str,
        why: &str,
    ) -> Result<u64, StoreError> {
        queue::release_parked(self, lane, route, host, stamp, why).await
    }
    async fn route_blocks(
        &self,
        lane: &str,
        host: Option<&str>,
    ) -> Result<Vec<RouteBlock>, StoreError> {
        queue::route_blocks(self, lane, host).await
    }

    async fn quota_incidents(&self) -> Result<Vec<crate::model::QuotaIncident>, StoreError> {
        queue::quota_incidents(self).await
    }

    async fn park_for_account(
        &self,
        id: &str,
        account: &crate::model::Account,
        routes: &[String],
        reason: &str,
    ) -> Result<u64, StoreError> {
        queue::park_for_account(self, id, account, routes, reason).await
    }

    async fn route_breakers(&self) -> Result<Vec<crate::model::RouteBreaker>, StoreError> {
        queue::route_breakers(self).await
    }

    async fn write_breaker(&self, row: &crate::model::RouteBreaker) -> Result<bool, StoreError> {
        queue::write_breaker(self, row).await
    }

    async fn claim_trial(
        &self,
        lane: &str,
        route: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Job>, StoreError> {
        queue::claim_trial(self, lane, route, owner, lease).await
    }

    async fn route_attempts(
        &self,
        route: &str,
        limit: usize,
    ) -> Result<Vec<crate::model::RouteAttempt>, StoreError> {
        queue::route_attempts(self, route, limit).await
    }

    async fn resolve_incident(
        &self,
        id: &str,
        who: &Actor,
        retry_failed: bool,
    ) -> Result<Option<Resolved>, StoreError> {
        controls::resolve_incident(self, id, who, retry_failed).await
    }

    async fn lane_paused(&self, lane: &str) -> Result<Option<LanePause>, StoreError> {
        Ok(controls::lane_pauses(self, Some(lane))
            .await?
            .into_iter()
            .next())
    }

    async fn lane_pending(&self, lane: &str, routes: &[String]) -> Result<LanePending, StoreError> {
        queue::lane_pending(self, lane, routes).await
    }

    async fn worker_seen(&self, beat: &crate::model::WorkerBeat) -> Result<(), StoreError> {
        super::metrics::worker_seen(self, beat).await
    }
}

#[async_trait]
impl Control for PostgresStore {
    async fn cancel_job(&self, id: &str, who: &Actor) -> Result<Option<Cancelled>, StoreError> {
        controls::cancel_job(self, id, who).await
    }

    async fn retry_job(&self, id: &str, who: &Actor) -> Result<Option<Retried>, StoreError> {
        controls::retry_job(self, id, who).await
    }

    async fn retry_jobs(
        &self,
        filter: &RetryFilter,
        who: &Actor,
    ) -> Result<Vec<String>, StoreError> {
        controls::retry_jobs(self, filter, who).await
    }

    async fn pause_lane(&self, lane: &str, who: &Actor) -> Result<bool, StoreError> {
        controls::pause_lane(self, lane, who).await
    }

    async fn resume_lane(&self, lane: &str, who: &Actor) -> Result<bool, StoreError> {
        controls::resume_lane(self, lane, who).await
    }

    async fn lane_pauses(&self) -> Result<Vec<LanePause>, StoreError> {
        controls::lane_pauses(self, None).await
    }
}

#[async_trait]
impl Reader for PostgresStore {
    async fn job_usage(&self, job_id: &str) -> Result<Vec<crate::model::AttemptUsage>, StoreError> {
        super::usage::job_usage(self, job_id).await
    }

    async fn usage_totals(
        &self,
        by: crate::model::UsageGroup,
        since: Option<Duration>,
    ) -> Result<Vec<crate::model::UsageTotal>, StoreError> {
        super::usage::usage_totals(self, by, since).await
    }

    async fn resolve_id(&self, kind: IdKind, fragment: &str) -> Result<IdMatch, StoreError> {
        let fragment = id_fragment(kind, fragment).map_err(StoreError::InvalidId)?;
        controls::resolve_id(self, kind, &fragment).await
    }

    async fn recent_events(
        &self,
        kind: &str,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let client = self.client().await?;
        let limit = if limit == 0 { i64::MAX } else { limit as i64 };
        let rows = self
            .rows(&client, "SELECT seq, al_ts(at), kind, body FROM events WHERE kind = $1 ORDER BY seq DESC LIMIT $2", &[&kind, &limit])
            .await?;
        Ok(rows.iter().map(stored_event).collect())
    }

    async fn recent_dispatches(&self, limit: usize) -> Result<Vec<DispatchSummary>, StoreError> {
        let client = self.client().await?;
        let limit = if limit == 0 { i64::MAX } else { limit as i64 };
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM dispatches ORDER BY id DESC LIMIT $1");
        let rows = self.rows(&client, &sql, &[&limit]).await?;
        Ok(rows.iter().map(summary).collect())
    }

    async fn dispatch(&self, id_or_prefix: &str) -> Result<Option<DispatchRecord>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {SUMMARY_COLUMNS}, report FROM dispatches WHERE starts_with(id, $1) ORDER BY id LIMIT 2");
        let rows = self.rows(&client, &sql, &[&id_or_prefix]).await?;
        let row = match rows.len() {
            0 => return Ok(None),
            1 => &rows[0],
            _ if rows[0].get::<_, String>(0) == id_or_prefix => &rows[0],
            _ => return Err(StoreError::Ambiguous(id_or_prefix.to_string())),
        };
        let summary = summary(row);
        let report: Option<serde_json::Value> = row.get(12);
        let events = self
            .rows(
                &client,
                "SELECT seq, al_ts(at), kind, body FROM events WHERE dispatch_id = $1 ORDER BY seq",
                &[&summary.dispatch_id],
            )
            .await?;
        Ok(Some(
            DispatchRecord {
                summary,
                report,
                events: events.iter().map(stored_event).collect(),
            }
            .restored(),
        ))
    }

    async fn row_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let client = self.client().await?;
        let mut out = Vec::new();
        for t in crate::store::TABLES {
            let n: i64 = self
                .row(&client, &format!("SELECT count(*) FROM {t}"), &[])
                .await?
                .get(0);
            out.push((t.to_string(), n as u64));
        }
        Ok(out)
    }

    async fn job_events(&self, job_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let client = self.client().await?;
        let rows = self
            .rows(
                &client,
                "SELECT seq, al_ts(at), kind, body FROM events WHERE job_id = $1 ORDER BY seq",
                &[&job_id],
            )
            .await?;
        Ok(rows.iter().map(stored_event).collect())
    }

    async fn events_after(&self, after: i64, limit: usize) -> Result<Vec<FeedEvent>, StoreError> {
        let client = self.client().await?;
        let limit = limit.min(i64::MAX as usize) as i64;
        let rows = self
            .rows(
                &client,
                "SELECT e.seq, al_ts(e.at), e.kind, e.job_id, COALESCE(j.lane, e.body->>'lane'), e.body
                   FROM events e LEFT JOIN jobs j ON j.id = e.job_id
                  WHERE e.seq > $1 ORDER BY e.seq LIMIT $2",
                &[&after, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| FeedEvent {
                seq: r.get(0),
                at: r.get(1),
                kind: r.get(2),
                job_id: r.get(3),
                lane: r.get(4),
                body: r.get(5),
            })
            .collect())
    }

    async fn last_event_seq(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = self
            .row(&client, "SELECT COALESCE(MAX(seq), 0) FROM events", &[])
            .await?;
        Ok(row.get::<_, i64>(0))
    }

    async fn job_dispatches(&self, job_id: &str) -> Result<Vec<DispatchSummary>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM dispatches WHERE job_id = $1 ORDER BY attempt, id"
        );
        let rows = self.rows(&client, &sql, &[&job_id]).await?;
        Ok(rows.iter().map(summary).collect())
    }

    async fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        queue::jobs(self, filter).await
    }

    async fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        queue::job(self, id).await
    }

    async fn incidents(&self, open_only: bool) -> Result<Vec<Incident>, StoreError> {
        queue::incidents(self, open_only).await
    }

    async fn incident(&self, id: &str) -> Result<Option<(Incident, Vec<String>)>, StoreError> {
        queue::incident(self, id).await
    }

    async fn status(&self) -> Result<Status, StoreError> {
        queue::status(self).await
    }

    async fn metrics_snapshot(&self) -> Result<crate::model::MetricsSnapshot, StoreError> {
        super::metrics::snapshot(self).await
    }

    async fn finished_per_minute(
        &self,
        since: Duration,
    ) -> Result<Vec<crate::store::LaneMinute>, StoreError> {
        super::dashboard::finished_per_minute(self, since).await
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn import_rows(&self, snapshot: &crate::store::Snapshot) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let e = err(&self.location);
        let tx = client.transaction().await.map_err(&e)?;
        for (table, _) in &snapshot.tables {
            let n: i64 = tx
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await
                .map_err(&e)?
                .get(0);
            if n > 0 {
                return Err(StoreError::NotEmpty(format!("{table} has {n} rows")));
            }
        }
        for (table, rows) in &snapshot.tables {
            if !crate::store::TABLES.contains(&table.as_str()) {
                return Err(StoreError::Corrupt(format!(
                    "unknown table '{table}' in the snapshot"
                )));
            }
            // jsonb_populate_recordset converts every value to the column's type.
            for chunk in rows.chunks(1000) {
                let batch = serde_json::Value::Array(chunk.to_vec());
                tx.execute(&format!("INSERT INTO {table} SELECT * FROM jsonb_populate_recordset(NULL::{table}, $1)"), &[&batch])
                    .await
                    .map_err(&e)?;
            }
        }
        tx.execute("SELECT setval(pg_get_serial_sequence('events', 'seq'), GREATEST((SELECT max(seq) FROM events), 1))", &[])
            .await
            .map_err(&e)?;
        tx.commit().await.map_err(&e)
    }
}
