//! Usage limits, for the whole account, once: a `quota_exhausted` failure is
//! the provider account's, so every job of every route (in any lane) that
//! spends the same account waits for the same reset.
//!
//! Each pass (at most every [`CHECK_EVERY`], or at once after this worker
//! saw a quota failure) the worker reads the open quota incidents. For each:
//! - its account is the one recorded on it, else the account of the route
//!   that failed, as this worker's configuration and environment give it
//!   (`crate::account`);
//! - every queued job of every route of that account is parked behind it
//!   (`QueueStore::park_for_account`: idempotent, so jobs enqueued later are
//!   parked at the next pass), and those routes claim nothing;
//! - once the worker's clock passes the reset plus the incident's jitter
//!   (the same on every worker: drawn from the incident id), a preflight of
//!   one of the account's routes runs; when it passes, the incident is
//!   resolved, which releases every job it parked, at once. A quota with no
//!   reset (a spend cap) waits for an operator (`agentlane incident resolve`).
//!
//! Nothing is retried on a timer: the retry table parks a quota failure.
//! The decisions (`due`, `jitter_of`) are pure.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use super::types::{Worker, WorkerError};
use crate::account::Account;
use crate::config::Config;
use crate::model::Actor;
use crate::preflight::Options;

/// How often the open quota incidents are read when nothing happened.
pub(super) const CHECK_EVERY: Duration = Duration::from_secs(2);

/// What the worker knows of accounts between passes.
pub(crate) struct QuotaMemory {
    /// Every route of the configuration with its account, in this worker's
    /// environment (routes with no visible credential have none).
    accounts: BTreeMap<String, Account>,
    /// Routes an account's quota blocks now, with the incident.
    blocked: BTreeMap<String, String>,
    /// When the incidents were last read.
    checked: Option<Instant>,
    /// Incidents already reported, so each is logged once.
    reported: HashSet<String>,
}

impl QuotaMemory {
    /// Whether the quota incidents were read less than `ago` ago.
    pub(super) fn checked_within(&self, ago: std::time::Duration) -> bool {
        self.checked.is_some_and(|t| t.elapsed() < ago)
    }

    /// The accounts of every route of `config`, as this worker would run them.
    pub(super) fn new(config: &Config, host: &str) -> QuotaMemory {
        let parent = crate::input::parent_env();
        let accounts = config
            .routes
            .values()
            .filter_map(|route| {
                let base = route
                    .base_env
                    .clone()
                    .map_or_else(|| parent.clone(), |b| b.into_iter().collect());
                let env = crate::dispatch::build_env(&route.env, base);
                let account = crate::account::of_route(route, &env, host, |p| p.exists())?;
                Some((route.name.clone(), account))
            })
            .collect();
        QuotaMemory {
            accounts,
            blocked: BTreeMap::new(),
            checked: None,
            reported: HashSet::new(),
        }
    }

    /// The routes that spend `account`.
    fn routes_of(&self, account: &Account) -> Vec<String> {
        self.accounts
            .iter()
            .filter(|(_, a)| a.key == account.key)
            .map(|(r, _)| r.clone())
            .collect()
    }
}

/// A number in [0, `max`) drawn from the incident id: every worker of a
/// fleet releases the same incident at the same time, and two incidents at
/// different times. Pure.
pub(crate) fn jitter_of(incident: &str, max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let h = blake3::hash(incident.as_bytes());
    let n = u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap_or([0; 8]));
    Duration::from_millis(n % (max.as_millis().max(1) as u64))
}

/// Whether an account's quota has reset: the reset plus the jitter has
/// passed. A quota without a reset time never resets by itself. Pure.
pub(crate) fn due(
    reset_at: Option<jiff::Timestamp>,
    jitter: Duration,
    now: jiff::Timestamp,
) -> bool {
    let Some(reset) = reset_at else {
        return false;
    };
    let jitter = jiff::SignedDuration::try_from(jitter).unwrap_or(jiff::SignedDuration::ZERO);
    reset.checked_add(jitter).is_ok_and(|at| now >= at)
}

impl Worker {
    /// The routes accounts' quotas block now, with the blocking incident
    /// (see the module doc).
    pub(super) async fn quotas(&mut self) -> Result<BTreeMap<String, String>, WorkerError> {
        let fresh = self
            .quota
            .checked
            .is_some_and(|t| t.elapsed() < CHECK_EVERY);
        let seen = self
            .shared
            .quota_seen
            .swap(false, std::sync::atomic::Ordering::SeqCst);
        if fresh && !seen {
            return Ok(self.quota.blocked.clone());
        }
        let open = self.store.quota_incidents().await;
        let open = self.answered(open)?;
        self.quota.checked = Some(Instant::now());
        let now = self.options.clock.now();
        let jitter_max = self.shared.config.queue.quota_release_jitter;
        let mut blocked = BTreeMap::new();
        for q in open {
            let account = match (&q.account, &q.account_label) {
                (Some(key), Some(label)) => Account {
                    key: key.clone(),
                    label: label.clone(),
                },
                _ => match q.route.as_ref().and_then(|r| self.quota.accounts.get(r)) {
                    Some(a) => a.clone(),
                    // Not an account this worker can name: the route's own
                    // block (the claim's hard-stop rule) still holds.
                    None => continue,
                },
            };
            let routes = self.quota.routes_of(&account);
            if routes.is_empty() {
                continue;
            }
            if due(q.reset_at, jitter_of(&q.id, jitter_max), now)
                && self.release(&q.id, &account, &routes).await?
            {
                continue;
            }
            let until = q.reset_at.map_or_else(
                || "an operator resolves it (no reset time: a spend cap?)".to_string(),
                |at| format!("{} UTC", at.strftime("%Y-%m-%d %H:%M")),
            );
            let reason = format!(
                "parked: {} is out of quota until {until} (incident {})",
                account.label, q.id
            );
            let parked = self
                .store
                .park_for_account(&q.id, &account, &routes, &reason)
                .await;
            let parked = self.answered(parked)?;
            let first = self.quota.reported.insert(q.id.clone());
            if first && parked > 0 {
                self.shared.alerts.send(crate::alerts::Alert::QuotaParked {
                    account: account.label.clone(),
                    class: crate::class::Class::QuotaExhausted,
                    hint: q.repair_hint.clone(),
                    parked: q.parked + parked,
                    reset_at: q.reset_at,
                    incident_id: Some(q.id.clone()),
                });
            }
            if parked > 0 || first {
                tracing::warn!(
                    incident_id = %q.id,
                    account = %account.label,
                    routes = %routes.join(","),
                    parked,
                    waiting = q.parked + parked,
                    reset_at = %q.reset_at.map_or_else(|| "none".into(), |t| t.to_string()),
                    "account out of quota: its jobs are parked until the reset"
                );
            }
            for r in routes {
                blocked.insert(r, q.id.clone());
            }
        }
        self.quota.blocked = blocked.clone();
        Ok(blocked)
    }

    /// The quota has reset: once a preflight of one of the account's routes
    /// that this worker runs passes (any route, for a worker that runs
    /// none), resolves the incident, which releases every job it parked.
    /// Whether it is released (by this worker or another).
    async fn release(
        &mut self,
        id: &str,
        account: &Account,
        routes: &[String],
    ) -> Result<bool, WorkerError> {
        let mine: Vec<crate::config::Route> = self
            .routes
            .iter()
            .filter(|r| routes.contains(&r.name))
            .cloned()
            .collect();
        if !self.options.ungated {
            for route in &mine {
                let result = self
                    .preflight
                    .check(
                        &self.shared.dispatcher,
                        &self.shared.config,
                        route,
                        None,
                        Options::default(),
                    )
                    .await?;
                if !(result.cli_resolves && result.cli_ready) {
                    tracing::warn!(
                        incident_id = %id,
                        route = %route.name,
                        "the quota has reset but preflight fails: its jobs stay parked"
                    );
                    return Ok(false);
                }
            }
        }
        let who = Actor {
            by: format!("agentlane@{}", self.shared.host),
            why: format!(
                "the quota of {} has reset and preflight passes",
                account.label
            ),
        };
        let resolved = self.store.resolve_incident(id, &who, false).await;
        if let Some(r) = self.answered(resolved)? {
            tracing::info!(
                incident_id = %id,
                account = %account.label,
                released = r.released,
                "account quota reset: its parked jobs are released"
            );
            self.shared
                .alerts
                .send(crate::alerts::Alert::QuotaReleased {
                    account: account.label.clone(),
                    released: r.released,
                    incident_id: Some(id.to_string()),
                });
        }
        self.quota.reported.remove(id);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    fn t(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test_case(None, 0, "2030-01-01T00:00:00Z" => false; "no reset never resets by itself")]
    #[test_case(Some("2026-12-05T15:00:00Z"), 0, "2026-12-05T14:59:59Z" => false; "before the reset")]
    #[test_case(Some("2026-12-05T15:00:00Z"), 0, "2026-12-05T15:00:00Z" => true; "at the reset")]
    #[test_case(Some("2026-12-05T15:00:00Z"), 30, "2026-12-05T15:00:29Z" => false; "within the jitter")]
    #[test_case(Some("2026-12-05T15:00:00Z"), 30, "2026-12-05T15:00:30Z" => true; "after the jitter")]
    fn a_quota_is_due_after_its_reset_and_jitter(
        reset: Option<&str>,
        jitter: u64,
        now: &str,
    ) -> bool {
        due(reset.map(t), Duration::from_secs(jitter), t(now))
    }

    #[test]
    fn the_jitter_is_the_incidents_own_and_within_its_bound() {
        let max = Duration::from_secs(60);
        let a = jitter_of("0193a0b0-0000-7000-8000-000000000001", max);
        assert_eq!(a, jitter_of("0193a0b0-0000-7000-8000-000000000001", max));
        assert!(a < max);
        let spread: HashSet<Duration> = (0..20)
            .map(|i| jitter_of(&format!("incident-{i}"), max))
            .collect();
        assert!(spread.len() > 10, "incidents are spread: {spread:?}");
        assert_eq!(jitter_of("x", Duration::ZERO), Duration::ZERO);
    }
}
