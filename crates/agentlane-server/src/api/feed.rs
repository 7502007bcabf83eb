//! The live feed: one poller reads new events from the store and fans them
//! out to every Server-Sent-Events client, so fifty open dashboards cost the
//! store one query per interval, not fifty. Each event is encoded once, by
//! the poller, not once per client: with fifty clients the encoding per
//! client was three quarters of the server's CPU (docs/performance.md).
//!
//! A sequence number is taken when a row is inserted, and on PostgreSQL a
//! transaction may commit after a later one: the poller remembers the holes
//! it saw below its head and looks for them again for [`GAP_PATIENCE`], so a
//! late commit is still sent (a hole left by a rolled-back insert expires).
//! A client that reconnects with `Last-Event-ID` gets what it missed from
//! the store first (up to [`REPLAY_LIMIT`] events).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentlane::store::{FeedEvent, Store};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use super::extract::Q;
use crate::problem::Problem;
use crate::state::AppState;

/// How long a hole below the head is looked for again.
pub const GAP_PATIENCE: Duration = Duration::from_secs(10);
/// Most events replayed to a client resuming with `Last-Event-ID`.
pub const REPLAY_LIMIT: usize = 1000;
/// Events a slow client may fall behind before it is told it lagged.
pub const FEED_WINDOW: usize = 4096;
/// Events read per query.
const PAGE: usize = 500;

/// An event as the feed hands it out: the stored row, and its SSE frame
/// (`id`, `event`, `data`), rendered once for every client.
pub struct Fed {
    /// The stored event.
    pub event: FeedEvent,
    sse: Event,
}

impl Fed {
    fn new(event: FeedEvent) -> Fed {
        let sse = sse_event(&event);
        Fed { event, sse }
    }
}

impl std::ops::Deref for Fed {
    type Target = FeedEvent;
    fn deref(&self) -> &FeedEvent {
        &self.event
    }
}

/// The fan-out: started with the server (or by the first subscriber). While
/// nobody listens it only keeps its head current (`MAX(seq)`, one index
/// lookup per interval), so a client that connects gets every event stored
/// after it connected — never a gap while the poller catches up.
pub struct Feed {
    tx: broadcast::Sender<Arc<Fed>>,
    started: AtomicBool,
    every: Duration,
    closed: tokio::sync::watch::Sender<bool>,
}

impl Feed {
    /// A feed polling the store every `every` while someone listens.
    pub fn new(every: Duration) -> Feed {
        let (tx, _) = broadcast::channel(FEED_WINDOW);
        Feed {
            tx,
            started: AtomicBool::new(false),
            every,
            closed: tokio::sync::watch::channel(false).0,
        }
    }

    /// Starts the poller (once).
    pub fn start(self: &Arc<Self>, store: &Arc<dyn Store>) {
        if !self.started.swap(true, Ordering::AcqRel) {
            let (feed, store) = (Arc::clone(self), Arc::clone(store));
            tokio::spawn(async move { feed.poll(store).await });
        }
    }

    /// Ends every open stream: the server is stopping (a graceful shutdown
    /// waits for open responses, and an event stream never ends by itself).
    pub fn close(&self) {
        let _ = self.closed.send(true);
    }

    /// Resolves once [`Feed::close`] was called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closed.subscribe();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    /// A receiver of every event stored from now on.
    pub fn subscribe(self: &Arc<Self>, store: &Arc<dyn Store>) -> broadcast::Receiver<Arc<Fed>> {
        let rx = self.tx.subscribe();
        self.start(store);
        rx
    }

    async fn poll(self: Arc<Self>, store: Arc<dyn Store>) {
        let mut head: Option<i64> = None;
        let mut gaps: BTreeMap<i64, Instant> = BTreeMap::new();
        let mut warned = false;
        loop {
            if self.tx.receiver_count() == 0 {
                // Nobody listens: keep the head current, read no events.
                if let Ok(h) = store.last_event_seq().await {
                    head = Some(h);
                }
                gaps.clear();
                tokio::time::sleep(self.every).await;
                continue;
            }
            match self.step(store.as_ref(), &mut head, &mut gaps).await {
                Ok(()) => warned = false,
                Err(e) if !warned => {
                    tracing::warn!(error = %e, "the live feed cannot read the store; it retries every poll");
                    warned = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(self.every).await;
        }
    }

    /// One poll: new events after the head, then the holes below it.
    async fn step(
        &self,
        store: &dyn Store,
        head: &mut Option<i64>,
        gaps: &mut BTreeMap<i64, Instant>,
    ) -> Result<(), agentlane::store::StoreError> {
        let mut at = match *head {
            Some(h) => h,
            None => {
                let h = store.last_event_seq().await?;
                *head = Some(h);
                return Ok(());
            }
        };
        let now = Instant::now();
        gaps.retain(|_, since| now.duration_since(*since) < GAP_PATIENCE);
        if let Some((&low, _)) = gaps.iter().next() {
            let span = (at - low + 1).max(1) as usize;
            for e in store.events_after(low - 1, span.min(PAGE * 4)).await? {
                if e.seq <= at && gaps.remove(&e.seq).is_some() {
                    let _ = self.tx.send(Arc::new(Fed::new(e)));
                }
            }
        }
        loop {
            let rows = store.events_after(at, PAGE).await?;
            let n = rows.len();
            for e in rows {
                for missing in (at + 1)..e.seq {
                    if gaps.len() < PAGE * 4 {
                        gaps.insert(missing, now);
                    }
                }
                at = e.seq;
                let _ = self.tx.send(Arc::new(Fed::new(e)));
            }
            *head = Some(at);
            if n < PAGE {
                return Ok(());
            }
        }
    }
}

/// `GET /api/v1/events` parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only events of this lane's jobs and incidents.
    lane: Option<String>,
    /// Only these kinds, comma-separated (`runner_exit,incident_opened`).
    kinds: Option<String>,
}

/// Which events a client asked for.
#[derive(Debug, Clone, Default)]
struct Filter {
    lane: Option<String>,
    kinds: Option<Vec<String>>,
}

impl Filter {
    fn wants(&self, e: &FeedEvent) -> bool {
        self.lane
            .as_ref()
            .is_none_or(|l| e.lane.as_ref() == Some(l))
            && self.kinds.as_ref().is_none_or(|k| k.contains(&e.kind))
    }
}

fn sse_event(e: &FeedEvent) -> Event {
    Event::default()
        .id(e.seq.to_string())
        .event(e.kind.clone())
        .json_data(e)
        .unwrap_or_else(|_| {
            Event::default()
                .event("error")
                .data("an event could not be encoded")
        })
}

/// `GET /api/v1/events`: Server-Sent Events, resumable with `Last-Event-ID`.
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Q(q): Q<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let filter = Filter {
        lane: q.lane,
        kinds: q.kinds.map(|k| {
            k.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        }),
    };
    let resume = match headers
        .get("last-event-id")
        .map(|v| v.to_str().map(str::parse::<i64>))
    {
        None => None,
        Some(Ok(Ok(n))) if n >= 0 => Some(n),
        Some(_) => {
            return Err(Problem::bad_request(
                "Last-Event-ID must be the id of an event this feed sent",
            ))
        }
    };
    // Subscribe before the replay, so nothing falls between them.
    let rx = state.feed.subscribe(&state.store);
    let replayed = match resume {
        Some(after) => state
            .store
            .events_after(after, REPLAY_LIMIT)
            .await
            .map_err(Problem::store)?,
        None => Vec::new(),
    };
    // Live events the replay already sent are skipped (on PostgreSQL a late
    // commit below the replay's end may still come live: it is sent).
    let replay_end = replayed.last().map(|e| e.seq);
    let replayed_seqs: std::collections::HashSet<i64> = replayed.iter().map(|e| e.seq).collect();
    let f = filter.clone();
    let replay = stream::iter(
        replayed
            .into_iter()
            .filter(move |e| f.wants(e))
            .map(|e| Ok(sse_event(&e))),
    );
    let live = BroadcastStream::new(rx).filter_map(move |item| {
        let out = match item {
            Ok(e)
                if replay_end.is_some_and(|end| e.seq <= end) && replayed_seqs.contains(&e.seq) =>
            {
                None
            }
            Ok(e) => filter.wants(&e).then(|| Ok(e.sse.clone())),
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                Some(Ok(Event::default().event("lagged").data(format!(
                    "{{\"missed\":{n},\"hint\":\"this client fell behind; reload what it shows\"}}"
                ))))
            }
        };
        std::future::ready(out)
    });
    // The stream ends when the server stops, so a graceful shutdown finishes.
    let closed = state.feed.closed();
    Ok(Sse::new(replay.chain(live).take_until(closed)).keep_alive(KeepAlive::default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentlane::events::{Event as StoredEvent, JobAdmitted};
    use agentlane::store::sqlite::SqliteStore;
    use axum::response::IntoResponse;

    fn admitted(n: usize) -> StoredEvent {
        StoredEvent::JobAdmitted(JobAdmitted {
            job_id: format!("job-{n}"),
            prompt_redacted: false,
            reason: format!("fan-out {n}"),
        })
    }

    async fn next(rx: &mut broadcast::Receiver<Arc<Fed>>) -> Arc<Fed> {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an event within 10 s")
            .expect("the feed is open and this receiver kept up")
    }

    async fn frame(fed: &Fed) -> String {
        let one = stream::iter([Ok::<_, Infallible>(fed.sse.clone())]);
        let body = Sse::new(one).into_response().into_body();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("body");
        String::from_utf8(bytes.to_vec()).expect("UTF-8")
    }

    /// Every subscriber gets every event stored after the feed took its
    /// head, once and in order, as the same frame rendered once: its `id`
    /// is the sequence number, its `event` the kind, its `data` the whole
    /// event as JSON.
    #[tokio::test]
    async fn every_subscriber_gets_every_event_as_one_shared_frame() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("a.db")).expect("store"));
        let feed = Arc::new(Feed::new(Duration::from_millis(20)));
        let mut a = feed.subscribe(&store);
        let mut b = feed.subscribe(&store);
        // The poller takes its head on its first poll: store events until
        // one comes through, then 20 more that must all come.
        let first = loop {
            store.append_event(&admitted(0)).await.expect("append");
            if let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(200), a.recv()).await {
                break e.seq;
            }
        };
        for n in 1..=20 {
            store.append_event(&admitted(n)).await.expect("append");
        }
        let stored = store.events_after(first - 1, 1000).await.expect("events");
        // b may have seen probes before `first`: skip to it.
        let mut fb = next(&mut b).await;
        while fb.seq < first {
            fb = next(&mut b).await;
        }
        let mut fa = None;
        for (i, want) in stored.iter().enumerate() {
            if i > 0 {
                fa = Some(next(&mut a).await);
                fb = next(&mut b).await;
            }
            let got_b = &fb;
            assert_eq!(got_b.seq, want.seq, "b gets every event, in order");
            if let Some(got_a) = &fa {
                assert_eq!(got_a.seq, want.seq, "a gets every event, in order");
                assert!(Arc::ptr_eq(got_a, got_b), "one shared frame per event");
            }
            let text = frame(got_b).await;
            let mut lines = text.lines();
            assert_eq!(lines.next(), Some(format!("id: {}", want.seq).as_str()));
            assert_eq!(lines.next(), Some("event: job_admitted"));
            let data = lines.next().and_then(|l| l.strip_prefix("data: "));
            let parsed: serde_json::Value =
                serde_json::from_str(data.expect("a data line")).expect("JSON data");
            assert_eq!(parsed["seq"], want.seq);
            assert_eq!(parsed["body"]["job_id"], want.body["job_id"]);
        }
        assert!(
            stored.len() >= 21,
            "the probe that came through and 20 more"
        );
        assert_eq!(
            stored.last().map(|e| e.body["job_id"].clone()),
            Some(serde_json::json!("job-20")),
            "up to the last one stored"
        );
    }
}
