//! LISTEN/NOTIFY: new jobs wake idle workers.
//!
//! Enqueue sends `NOTIFY agentlane_jobs, '<lane>'` in its transaction (one per
//! lane; PostgreSQL folds duplicates within a transaction). One listening
//! connection per process forwards them to waiters; after every (re)connect
//! it wakes every lane for a claim pass, since notifications sent while it
//! was away are lost. Workers keep their polling interval as a fallback, and
//! `[queue] listen = false` turns listening off (for poolers that do not carry
//! LISTEN; see docs/queue-design.md on PgBouncer).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::AsyncMessage;

/// The channel name.
pub(super) const CHANNEL: &str = "agentlane_jobs";

/// Waiters per lane.
#[derive(Default)]
pub(super) struct Listener {
    lanes: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Listener {
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
}

/// Keeps one LISTEN connection alive for the life of the process.
pub(super) async fn run(
    (config, tls): (
        tokio_postgres::Config,
        tokio_postgres_rustls::MakeRustlsConnect,
    ),
    listener: Arc<Listener>,
) {
    loop {
        if let Ok((client, mut connection)) = config.connect(tls.clone()).await {
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
            if client
                .batch_execute(&format!("LISTEN {CHANNEL}"))
                .await
                .is_ok()
            {
                listener.wake_all();
                while let Some(lane) = rx.recv().await {
                    listener.wake(&lane);
                }
            }
            driver.abort();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
