//! An account's usage quota on PostgreSQL: the open quota incidents (their
//! latest reset through `incident_totals`), and the parking of every queued
//! job of the account's routes behind one of them.

use crate::model::Account;
use crate::model::QuotaIncident;
use crate::store::postgres::connect::err;
use crate::store::postgres::PostgresStore;
use crate::store::{rules, StoreError};

pub(in crate::store::postgres) async fn quota_incidents(
    s: &PostgresStore,
) -> Result<Vec<QuotaIncident>, StoreError> {
    let client = s.client().await?;
    let sql = rules::quota_incidents("incident_totals", "al_ts(i.reset_at)");
    let rows = s.rows(&client, &sql, &[]).await?;
    Ok(rows
        .iter()
        .map(|row| QuotaIncident {
            id: row.get("id"),
            route: row.get("route"),
            reset_at: row
                .get::<_, Option<String>>("reset_at")
                .and_then(|t| t.parse().ok()),
            account: row.get("account"),
            account_label: row.get("label"),
            parked: row.get::<_, i64>("parked").max(0) as u64,
            repair_hint: row.get("repair_hint"),
        })
        .collect())
}

/// Parks the queued jobs of `routes` behind the open incident `id`. The
/// incident's row is locked first: a concurrent resolution either commits
/// before (the incident is no longer open: nothing is parked) or waits for
/// this one (and releases what it parked).
pub(in crate::store::postgres) async fn park_for_account(
    s: &PostgresStore,
    id: &str,
    account: &Account,
    routes: &[String],
    reason: &str,
) -> Result<u64, StoreError> {
    let mut client = s.client().await?;
    let e = err(&s.location);
    let tx = client.transaction().await.map_err(&e)?;
    let open = tx
        .query_opt(
            "SELECT 1 FROM incidents WHERE id = $1 AND state = 'open' FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(&e)?;
    if open.is_none() {
        return Ok(0);
    }
    tx.execute(
        "INSERT INTO account_quotas (incident_id, account, label) VALUES ($1, $2, $3)
         ON CONFLICT (incident_id) DO NOTHING",
        &[&id, &account.key, &account.label],
    )
    .await
    .map_err(&e)?;
    let routes: Vec<&str> = routes.iter().map(String::as_str).collect();
    let parked = tx
        .query(
            "UPDATE jobs SET state = 'parked', next_action = 'park', reason = $3, incident_id = $1,
                    updated_at = now()
             WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND route = ANY($2)
                          ORDER BY id FOR UPDATE SKIP LOCKED)
             RETURNING id",
            &[&id, &routes, &reason],
        )
        .await
        .map_err(&e)?;
    let ids: Vec<String> = parked.iter().map(|r| r.get(0)).collect();
    if !ids.is_empty() {
        let attached = tx
            .execute(
                "INSERT INTO incident_jobs (incident_id, job_id) SELECT $1, unnest($2::text[])
                 ON CONFLICT DO NOTHING",
                &[&id, &ids],
            )
            .await
            .map_err(&e)?;
        tx.execute(
            "INSERT INTO incident_counts (incident_id, occurrences, affected) VALUES ($1, 0, $2)",
            &[&id, &(attached as i64)],
        )
        .await
        .map_err(&e)?;
    }
    tx.commit().await.map_err(&e)?;
    Ok(ids.len() as u64)
}
