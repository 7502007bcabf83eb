//! The live feed: one poller reads new events from the store and fans them
//! out to every Server-Sent-Events client, so fifty open dashboards cost the
//! store one query per interval, not fifty.
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

/// The fan-out: started by the first subscriber, idle (no queries) while
/// nobody listens.
pub struct Feed {
    tx: broadcast::Sender<Arc<FeedEvent>>,
    started: AtomicBool,
    every: Duration,
}

impl Feed {
    /// A feed polling the store every `every` while someone listens.
    pub fn new(every: Duration) -> Feed {
        let (tx, _) = broadcast::channel(FEED_WINDOW);
        Feed {
            tx,
            started: AtomicBool::new(false),
            every,
        }
    }

    /// A receiver of every event stored from now on.
    pub fn subscribe(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
    ) -> broadcast::Receiver<Arc<FeedEvent>> {
        let rx = self.tx.subscribe();
        if !self.started.swap(true, Ordering::AcqRel) {
            let (feed, store) = (Arc::clone(self), Arc::clone(store));
            tokio::spawn(async move { feed.poll(store).await });
        }
        rx
    }

    async fn poll(self: Arc<Self>, store: Arc<dyn Store>) {
        let mut head: Option<i64> = None;
        let mut gaps: BTreeMap<i64, Instant> = BTreeMap::new();
        let mut warned = false;
        loop {
            tokio::time::sleep(self.every).await;
            if self.tx.receiver_count() == 0 {
                // Nobody listens: no queries; start again from the newest.
                head = None;
                gaps.clear();
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
                    let _ = self.tx.send(Arc::new(e));
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
                let _ = self.tx.send(Arc::new(e));
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
            Ok(e) => filter.wants(&e).then(|| Ok(sse_event(&e))),
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                Some(Ok(Event::default().event("lagged").data(format!(
                    "{{\"missed\":{n},\"hint\":\"this client fell behind; reload what it shows\"}}"
                ))))
            }
        };
        std::future::ready(out)
    });
    Ok(Sse::new(replay.chain(live)).keep_alive(KeepAlive::default()))
}
