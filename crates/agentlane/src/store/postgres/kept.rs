//! The kept connection: one per process, opened by the first worker call
//! that needs it and kept for the life of the process. It carries what must
//! not wait for the pool — lease renewals and the worker's heartbeat row —
//! and, when the server is reached directly (not through a transaction
//! pooler), `LISTEN agentlane_jobs`: enqueue sends `NOTIFY agentlane_jobs,
//! '<lane>'` in its transaction (once per lane), which wakes that lane's
//! idle workers at once.
//!
//! A pool that cannot get a connection (the server's slots are all taken)
//! does not cost a worker its leases: they are renewed here, on a connection
//! it already holds. After every (re)connect every lane is woken for a claim
//! pass, since notifications sent while it was away are lost. Reconnects back
//! off with jitter, from 1 s up to 30 s.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{AsyncMessage, Row};

/// The channel name.
pub(super) const CHANNEL: &str = "agentlane_jobs";

/// The first wait before a reconnect, and the longest.
const RECONNECT_FIRST: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// The kept connection and its prepared statements.
pub(super) struct Conn {
    client: tokio_postgres::Client,
    prepared: Option<HashMap<&'static str, tokio_postgres::Statement>>,
}

/// The kept connection's state, shared with its task.
#[derive(Default)]
pub(super) struct Kept {
    /// Waiters per lane.
    lanes: Mutex<HashMap<String, Arc<Notify>>>,
    /// The connection, while it is up, with the statements prepared on it
    /// (none behind a transaction pooler, where a statement prepared on one
    /// server connection may be asked for on another).
    client: tokio::sync::Mutex<Option<Conn>>,
    /// It is up and LISTENing: a notification will wake a waiter.
    listening: AtomicBool,
}

impl Kept {
    pub(super) fn lane(&self, lane: &str) -> Arc<Notify> {
        self.lanes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(lane.to_string())
            .or_default()
            .clone()
    }

    fn wake(&self, lane: &str) {
        // notify_one keeps a permit when nobody waits: the next wait returns at once.
        self.lane(lane).notify_one();
    }

    fn wake_all(&self) {
        for notify in self
            .lanes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
        {
            notify.notify_one();
        }
    }

    /// Whether a notification will wake a waiter now.
    pub(super) fn listening(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
    }

    /// Runs one statement on the kept connection: prepared once per
    /// connection, or, behind a transaction pooler, sent unnamed with its
    /// parameter types in one message. `None` when the connection is not up: the
    /// caller uses the pool. A failure that ends the connection drops it;
    /// its task reconnects.
    pub(super) async fn query(
        &self,
        sql: &'static str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Option<Result<Vec<Row>, tokio_postgres::Error>> {
        let mut guard = self.client.lock().await;
        let conn = guard.as_mut()?;
        if conn.client.is_closed() {
            *guard = None;
            return None;
        }
        let result = match &mut conn.prepared {
            // Directly or through session pooling: prepared once, planned
            // once, for the life of the connection.
            Some(prepared) => {
                let stmt = match prepared.get(sql) {
                    Some(stmt) => Ok(stmt.clone()),
                    None => {
                        let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
                        conn.client
                            .prepare_typed(sql, &types)
                            .await
                            .inspect(|stmt| {
                                prepared.insert(sql, stmt.clone());
                            })
                    }
                };
                match stmt {
                    Ok(stmt) => {
                        let values: Vec<&(dyn ToSql + Sync)> =
                            params.iter().map(|(v, _)| *v).collect();
                        conn.client.query(&stmt, &values).await
                    }
                    Err(e) => Err(e),
                }
            }
            None => conn.client.query_typed(sql, params).await,
        };
        if result.is_err() && conn.client.is_closed() {
            *guard = None;
        }
        Some(result)
    }
}

/// Keeps the connection up for the life of the process; LISTENs on it and
/// prepares statements on it when `listen` (no transaction pooler between).
pub(super) async fn run(
    (config, tls): (
        tokio_postgres::Config,
        tokio_postgres_rustls::MakeRustlsConnect,
    ),
    kept: Arc<Kept>,
    listen: bool,
    location: String,
) {
    let mut wait = RECONNECT_FIRST;
    let mut refused_since: Option<std::time::Instant> = None;
    loop {
        match config.connect(tls.clone()).await {
            Ok((client, mut connection)) => {
                if let Some(since) = refused_since.take() {
                    tracing::info!(
                        store = %location,
                        "the kept connection is up again after {:.1} s",
                        since.elapsed().as_secs_f64()
                    );
                }
                wait = RECONNECT_FIRST;
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
                let driver = tokio::spawn(async move {
                    let mut messages =
                        futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => {
                                let _ = tx.send(n.payload().to_string());
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                });
                // A server (or pooler) that refuses LISTEN still gets the
                // renewals; idle workers then ask instead of being told.
                let listening = listen
                    && client
                        .batch_execute(&format!("LISTEN {CHANNEL}"))
                        .await
                        .is_ok();
                *kept.client.lock().await = Some(Conn {
                    client,
                    prepared: listen.then(HashMap::new),
                });
                kept.listening.store(listening, Ordering::SeqCst);
                kept.wake_all();
                // Until the connection ends (its driver drops `tx`).
                while let Some(lane) = rx.recv().await {
                    kept.wake(&lane);
                }
                kept.listening.store(false, Ordering::SeqCst);
                *kept.client.lock().await = None;
                driver.abort();
            }
            Err(e) => {
                if refused_since.is_none() {
                    refused_since = Some(std::time::Instant::now());
                    let message = super::connect::error_chain(&e);
                    tracing::warn!(
                        store = %location,
                        "the kept connection (lease renewals, wake-ups) cannot connect: {message}; \
                         lease renewals use the pool meanwhile, and it tries again with backoff"
                    );
                }
            }
        }
        tokio::time::sleep(jittered(wait)).await;
        wait = (wait * 2).min(RECONNECT_MAX);
    }
}

/// `d` scaled by a uniform factor in [0.5, 1.0): a fleet that lost its
/// server at once does not come back at once.
pub fn jittered(d: Duration) -> Duration {
    let mut b = [0u8; 4];
    let _ = getrandom::getrandom(&mut b);
    let u = u32::from_le_bytes(b) as f64 / (u32::MAX as f64 + 1.0);
    d.mul_f64(0.5 + u / 2.0)
}
