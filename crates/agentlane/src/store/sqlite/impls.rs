//! The store contracts ([`DispatchLog`](crate::store::DispatchLog),
//! [`QueueStore`](crate::store::QueueStore), [`Reader`](crate::store::Reader)) over SQLite.

use super::connection::SqliteStore;
use super::records::*;
use super::{controls, maintain, queue};
use crate::events::{Event, Prepare};
use crate::model::{
    Actor, Cancelled, Completion, Enqueued, Incident, IncidentFacts, Job, JobFilter, LanePause,
    LanePending, NewJob, Renewed, Resolved, Retried, RetryFilter, Status,
};
use crate::model::{DispatchReport, QuotaIncident, RouteBlock};
use crate::store::FeedEvent;
use crate::store::{
    id_fragment, Control, DispatchLog, DispatchRecord, DispatchSummary, IdKind, IdMatch, NextClaim,
    QueueStore, Reader, Store, StoreError, StoredEvent,
};
use async_trait::async_trait;
use rusqlite::{params, TransactionBehavior};
use std::time::Duration;

#[async_trait]
impl DispatchLog for SqliteStore {
    async fn record_prepare(&self, p: &Prepare) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "INSERT INTO dispatches (id, program, cli_path, cwd, route, model, job_id, attempt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                p.dispatch_id,
                p.program,
                p.cli_path.as_ref().map(|c| c.display().to_string()),
                p.cwd.display().to_string(),
                p.route,
                p.model,
                p.job_id,
                p.attempt,
            ])?;
            insert_event(
                &tx,
                Some(&p.dispatch_id),
                p.job_id.as_deref(),
                &Event::RunnerPrepare(p.clone()),
            )?;
            tx.commit()
        })
    }

    async fn record_finish(&self, r: &DispatchReport, events: &[Event]) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            finish_in(&tx, r, events)?;
            tx.commit()
        })
    }

    async fn append_event(&self, event: &Event) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            insert_event(&tx, None, event.job_id(), event)?;
            tx.commit()
        })
    }
}

#[async_trait]
impl QueueStore for SqliteStore {
    async fn job_spent(&self, job_id: &str) -> Result<Option<f64>, StoreError> {
        self.with(|c| super::usage::job_spent(c, job_id))
    }

    async fn lane_spent_today(&self, lane: &str) -> Result<f64, StoreError> {
        self.with(|c| super::usage::lane_spent_today(c, lane))
    }

    async fn maintain(
        &self,
        retention: Option<Duration>,
        batch: usize,
    ) -> Result<crate::store::Maintenance, StoreError> {
        self.with(|c| maintain::maintain(c, retention, batch))
    }

    async fn try_lead(&self, name: &str, owner: &str, lease: Duration) -> Result<bool, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "INSERT INTO leaders (name, owner, expires_at) VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?3))
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
                 WHERE leaders.owner = excluded.owner OR leaders.expires_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            )?
            .execute(params![name, owner, format!("+{:.3} seconds", lease.as_secs_f64())])?;
            let leader: String = tx.query_row("SELECT owner FROM leaders WHERE name = ?1", [name], |r| r.get(0))?;
            tx.commit()?;
            Ok(leader == owner)
        })
    }

    async fn enqueue_keyed(&self, jobs: &[NewJob]) -> Result<Vec<Enqueued>, StoreError> {
        self.with(|c| queue::enqueue(c, jobs))
    }

    async fn claim(
        &self,
        lane: &str,
        routes: &[String],
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        self.with(|c| queue::claim(c, lane, routes, owner, lease, limit))
    }

    async fn heartbeat(
        &self,
        owner: &str,
        jobs: &[String],
        lease: Duration,
    ) -> Result<Vec<Renewed>, StoreError> {
        self.with(|c| queue::heartbeat(c, owner, jobs, lease))
    }

    async fn settle(&self, completion: &Completion) -> Result<bool, StoreError> {
        self.with(|c| queue::settle(c, completion))
    }

    async fn open_incident(&self, facts: &IncidentFacts) -> Result<String, StoreError> {
        self.with(|c| queue::open_incident(c, facts))
    }

    async fn rescue_expired(&self, owner: &str, lease: Duration) -> Result<Vec<Job>, StoreError> {
        self.with(|c| queue::rescue_expired(c, owner, lease))
    }

    async fn release_parked(
        &self,
        lane: &str,
        route: &str,
        host: &str,
        stamp: &str,
        why: &str,
    ) -> Result<u64, StoreError> {
        self.with(|c| queue::release_parked(c, lane, route, host, stamp, why))
    }
    async fn route_blocks(
        &self,
        lane: &str,
        host: Option<&str>,
    ) -> Result<Vec<RouteBlock>, StoreError> {
        self.with(|c| queue::route_blocks(c, lane, host))
    }

    async fn quota_incidents(&self) -> Result<Vec<QuotaIncident>, StoreError> {
        self.with(super::quota::quota_incidents)
    }

    async fn park_for_account(
        &self,
        id: &str,
        account: &crate::model::Account,
        routes: &[String],
        reason: &str,
    ) -> Result<u64, StoreError> {
        self.with(|c| super::quota::park_for_account(c, id, account, routes, reason))
    }

    async fn route_breakers(&self) -> Result<Vec<crate::model::RouteBreaker>, StoreError> {
        self.with(super::breaker::route_breakers)
    }

    async fn write_breaker(&self, row: &crate::model::RouteBreaker) -> Result<bool, StoreError> {
        self.with(|c| super::breaker::write_breaker(c, row))
    }

    async fn claim_trial(
        &self,
        lane: &str,
        route: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<Job>, StoreError> {
        self.with(|c| super::breaker::claim_trial(c, lane, route, owner, lease))
    }

    async fn route_attempts(
        &self,
        route: &str,
        limit: usize,
    ) -> Result<Vec<crate::model::RouteAttempt>, StoreError> {
        self.with(|c| super::breaker::route_attempts(c, route, limit))
    }

    async fn resolve_incident(
        &self,
        id: &str,
        who: &Actor,
        retry_failed: bool,
    ) -> Result<Option<Resolved>, StoreError> {
        self.with(|c| controls::resolve_incident(c, id, who, retry_failed))
    }

    async fn lane_paused(&self, lane: &str) -> Result<Option<LanePause>, StoreError> {
        Ok(self
            .with(|c| controls::lane_pauses(c, Some(lane)))?
            .into_iter()
            .next())
    }

    async fn lane_pending(&self, lane: &str, routes: &[String]) -> Result<LanePending, StoreError> {
        self.with(|c| queue::lane_pending(c, lane, routes))
    }

    async fn finish_and_settle(
        &self,
        r: &DispatchReport,
        events: &[Event],
        completion: &Completion,
    ) -> Result<bool, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            finish_in(&tx, r, events)?;
            let accepted = queue::settle_in(&tx, completion)?;
            tx.commit()?;
            Ok(accepted)
        })
    }

    async fn finish_settle_and_claim(
        &self,
        r: &DispatchReport,
        events: &[Event],
        completion: &Completion,
        next: &NextClaim,
    ) -> Result<(bool, Option<Job>), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            finish_in(&tx, r, events)?;
            let accepted = queue::settle_in(&tx, completion)?;
            let job = if accepted {
                queue::claim_in(
                    &tx,
                    &next.lane,
                    &next.routes,
                    &completion.owner,
                    next.lease,
                    1,
                )?
                .pop()
            } else {
                None
            };
            tx.commit()?;
            Ok((accepted, job))
        })
    }

    async fn worker_seen(&self, beat: &crate::model::WorkerBeat) -> Result<(), StoreError> {
        self.with(|c| super::metrics::worker_seen(c, beat))
    }
}

#[async_trait]
impl Control for SqliteStore {
    async fn cancel_job(&self, id: &str, who: &Actor) -> Result<Option<Cancelled>, StoreError> {
        self.with(|c| controls::cancel_job(c, id, who))
    }

    async fn retry_job(&self, id: &str, who: &Actor) -> Result<Option<Retried>, StoreError> {
        self.with(|c| controls::retry_job(c, id, who))
    }

    async fn retry_jobs(
        &self,
        filter: &RetryFilter,
        who: &Actor,
    ) -> Result<Vec<String>, StoreError> {
        self.with(|c| controls::retry_jobs(c, filter, who))
    }

    async fn pause_lane(&self, lane: &str, who: &Actor) -> Result<bool, StoreError> {
        self.with(|c| controls::pause_lane(c, lane, who))
    }

    async fn resume_lane(&self, lane: &str, who: &Actor) -> Result<bool, StoreError> {
        self.with(|c| controls::resume_lane(c, lane, who))
    }

    async fn lane_pauses(&self) -> Result<Vec<LanePause>, StoreError> {
        self.with(|c| controls::lane_pauses(c, None))
    }
}

#[async_trait]
impl Reader for SqliteStore {
    async fn job_usage(&self, job_id: &str) -> Result<Vec<crate::model::AttemptUsage>, StoreError> {
        self.with(|c| super::usage::job_usage(c, job_id))
    }

    async fn usage_totals(
        &self,
        by: crate::model::UsageGroup,
        since: Option<Duration>,
    ) -> Result<Vec<crate::model::UsageTotal>, StoreError> {
        self.with(|c| super::usage::usage_totals(c, by, since))
    }

    async fn resolve_id(&self, kind: IdKind, fragment: &str) -> Result<IdMatch, StoreError> {
        let fragment = id_fragment(kind, fragment).map_err(StoreError::InvalidId)?;
        self.with(|c| controls::resolve_id(c, kind, &fragment))
    }

    async fn job_dispatches(&self, job_id: &str) -> Result<Vec<DispatchSummary>, StoreError> {
        self.with(|conn| {
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} FROM dispatches WHERE job_id = ?1 ORDER BY attempt, id"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([job_id], summary)?;
            rows.collect()
        })
    }

    async fn export_rows(&self) -> Result<crate::store::Snapshot, StoreError> {
        self.with(|conn| {
            let mut tables = Vec::new();
            for table in crate::store::TABLES {
                let mut stmt = conn.prepare(&format!("SELECT * FROM {table}"))?;
                let names: Vec<String> =
                    stmt.column_names().iter().map(|n| n.to_string()).collect();
                let rows = stmt.query_map([], |row| {
                    let mut obj = serde_json::Map::new();
                    for (i, name) in names.iter().enumerate() {
                        use rusqlite::types::ValueRef;
                        let v = match row.get_ref(i)? {
                            ValueRef::Null => serde_json::Value::Null,
                            ValueRef::Integer(n) => serde_json::Value::from(n),
                            ValueRef::Real(f) => serde_json::Value::from(f),
                            ValueRef::Text(t) => {
                                let text = String::from_utf8_lossy(t).into_owned();
                                if matches!(name.as_str(), "report" | "fields" | "body") {
                                    serde_json::from_str(&text)
                                        .unwrap_or(serde_json::Value::String(text))
                                } else {
                                    serde_json::Value::String(text)
                                }
                            }
                            ValueRef::Blob(b) => {
                                serde_json::Value::String(String::from_utf8_lossy(b).into_owned())
                            }
                        };
                        obj.insert(name.clone(), v);
                    }
                    Ok(serde_json::Value::Object(obj))
                })?;
                tables.push((
                    table.to_string(),
                    rows.collect::<rusqlite::Result<Vec<_>>>()?,
                ));
            }
            Ok(crate::store::Snapshot { tables })
        })
    }

    async fn row_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.with(|conn| {
            crate::store::TABLES
                .iter()
                .map(|t| {
                    let n: i64 =
                        conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?;
                    Ok((t.to_string(), n as u64))
                })
                .collect()
        })
    }

    async fn job_events(&self, job_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at, kind, body FROM events WHERE job_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([job_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?;
            rows.collect::<rusqlite::Result<Vec<RawEvent>>>()
        })?;
        decode_events(rows)
    }

    async fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        self.with(|c| queue::jobs(c, filter))
    }

    async fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        self.with(|c| queue::job_by_id(c, id))
    }

    async fn incidents(&self, open_only: bool) -> Result<Vec<Incident>, StoreError> {
        self.with(|c| queue::incidents(c, open_only))
    }

    async fn incident(&self, id: &str) -> Result<Option<(Incident, Vec<String>)>, StoreError> {
        self.with(|c| queue::incident_by_id(c, id))
    }

    async fn status(&self) -> Result<Status, StoreError> {
        self.with(queue::status)
    }

    async fn recent_events(
        &self,
        kind: &str,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at, kind, body FROM events WHERE kind = ?1 ORDER BY seq DESC LIMIT ?2",
            )?;
            let limit = if limit == 0 { i64::MAX } else { limit as i64 };
            let rows = stmt.query_map(params![kind, limit], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        decode_events(rows)
    }

    async fn events_after(&self, after: i64, limit: usize) -> Result<Vec<FeedEvent>, StoreError> {
        let rows = self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT e.seq, e.at, e.kind, e.job_id, COALESCE(j.lane, json_extract(e.body, '$.lane')), e.body
                   FROM events e LEFT JOIN jobs j ON j.id = e.job_id
                  WHERE e.seq > ?1 ORDER BY e.seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, limit.min(i64::MAX as usize) as i64], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        rows.into_iter()
            .map(|(seq, at, kind, job_id, lane, body)| {
                let body: serde_json::Value = serde_json::from_str(&body)
                    .map_err(|e| StoreError::Corrupt(format!("event {seq}: {e}")))?;
                Ok(FeedEvent {
                    seq,
                    at,
                    kind,
                    job_id,
                    lane,
                    body,
                })
            })
            .collect()
    }

    async fn last_event_seq(&self) -> Result<i64, StoreError> {
        Ok(self.with(|conn| {
            conn.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events")?
                .query_row([], |r| r.get::<_, i64>(0))
        })?)
    }

    async fn recent_dispatches(&self, limit: usize) -> Result<Vec<DispatchSummary>, StoreError> {
        self.with(|conn| {
            let sql = format!("SELECT {SUMMARY_COLUMNS} FROM dispatches ORDER BY id DESC LIMIT ?1");
            let mut stmt = conn.prepare(&sql)?;
            let limit = if limit == 0 { i64::MAX } else { limit as i64 };
            let rows = stmt.query_map([limit], summary)?;
            rows.collect()
        })
    }

    async fn dispatch(&self, id_or_prefix: &str) -> Result<Option<DispatchRecord>, StoreError> {
        let found = self.with(|conn| {
            let sql = format!("SELECT {SUMMARY_COLUMNS}, report FROM dispatches WHERE id >= ?1 AND id < ?1 || x'ff' ORDER BY id LIMIT 2");
            let mut stmt = conn.prepare(&sql)?;
            let rows: Vec<(DispatchSummary, Option<String>)> = stmt
                .query_map([id_or_prefix], |row| Ok((summary(row)?, row.get(12)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })?;
        let exact = found
            .first()
            .is_some_and(|(s, _)| s.dispatch_id == id_or_prefix);
        if found.len() > 1 && !exact {
            return Err(StoreError::Ambiguous(id_or_prefix.to_string()));
        }
        let Some((summary, report)) = found.into_iter().next() else {
            return Ok(None);
        };
        let report = report
            .map(|r| {
                serde_json::from_str(&r).map_err(|e| {
                    StoreError::Corrupt(format!("report of {}: {e}", summary.dispatch_id))
                })
            })
            .transpose()?;
        let raw_events = self.with(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at, kind, body FROM events WHERE dispatch_id = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map([&summary.dispatch_id], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let events = decode_events(raw_events)?;
        Ok(Some(
            DispatchRecord {
                summary,
                report,
                events,
            }
            .restored(),
        ))
    }

    async fn metrics_snapshot(&self) -> Result<crate::model::MetricsSnapshot, StoreError> {
        self.with(super::metrics::snapshot)
    }

    async fn finished_per_minute(
        &self,
        since: Duration,
    ) -> Result<Vec<crate::store::LaneMinute>, StoreError> {
        self.with(|c| super::dashboard::finished_per_minute(c, since))
    }
}

#[async_trait]
impl Store for SqliteStore {}
