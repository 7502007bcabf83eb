//! An account's usage quota on SQLite: the open quota incidents, and the
//! parking of every queued job of the account's routes behind one of them
//! (released with it: `resolve_incident`).

use rusqlite::{params, Connection, Row, TransactionBehavior};

use super::queue::NOW;
use crate::model::Account;
use crate::model::QuotaIncident;
use crate::store::rules;

fn quota(row: &Row<'_>) -> rusqlite::Result<QuotaIncident> {
    Ok(QuotaIncident {
        id: row.get("id")?,
        route: row.get("route")?,
        reset_at: row
            .get::<_, Option<String>>("reset_at")?
            .and_then(|t| t.parse().ok()),
        account: row.get("account")?,
        account_label: row.get("label")?,
        parked: row.get::<_, i64>("parked")?.max(0) as u64,
        repair_hint: row.get("repair_hint")?,
    })
}

pub(super) fn quota_incidents(conn: &mut Connection) -> rusqlite::Result<Vec<QuotaIncident>> {
    let sql = rules::quota_incidents("incidents", "i.reset_at");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], quota)?;
    rows.collect()
}

/// Parks the queued jobs of `routes` behind the open incident `id`, which
/// now names `account`; nothing when the incident is no longer open (its
/// release already ran: parking behind it would strand the jobs).
pub(super) fn park_for_account(
    conn: &mut Connection,
    id: &str,
    account: &Account,
    routes: &[String],
    reason: &str,
) -> rusqlite::Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let open: bool = tx
        .prepare_cached("SELECT count(*) > 0 FROM incidents WHERE id = ?1 AND state = 'open'")?
        .query_row([id], |r| r.get(0))?;
    if !open {
        return Ok(0);
    }
    tx.prepare_cached(
        "INSERT INTO account_quotas (incident_id, account, label) VALUES (?1, ?2, ?3)
         ON CONFLICT (incident_id) DO NOTHING",
    )?
    .execute(params![id, account.key, account.label])?;
    let list = serde_json::to_string(routes).unwrap_or_else(|_| "[]".into());
    let ids: Vec<String> = tx
        .prepare_cached(
            "SELECT id FROM jobs WHERE state = 'queued'
             AND route IN (SELECT value FROM json_each(?1)) ORDER BY id",
        )?
        .query_map([&list], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let park = format!(
        "UPDATE jobs SET state = 'parked', next_action = 'park', reason = ?2, incident_id = ?3,
                updated_at = {NOW}
         WHERE id = ?1 AND state = 'queued'"
    );
    let mut parked = 0u64;
    for job in &ids {
        if tx
            .prepare_cached(&park)?
            .execute(params![job, reason, id])?
            == 0
        {
            continue;
        }
        parked += 1;
        let attached = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO incident_jobs (incident_id, job_id) VALUES (?1, ?2)",
            )?
            .execute(params![id, job])?;
        if attached > 0 {
            tx.prepare_cached(
                "UPDATE incidents SET affected_jobs = affected_jobs + 1 WHERE id = ?1",
            )?
            .execute([id])?;
        }
    }
    tx.commit()?;
    Ok(parked)
}
