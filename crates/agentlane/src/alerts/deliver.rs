//! Delivery, the I/O edge: the worker's handle ([`Alerts`]) puts an alert on a
//! bounded channel without waiting (a full channel drops it and counts it);
//! one task per worker takes it from there — per webhook: the kinds it wants,
//! its debounce, its body — and posts it, each delivery in its own task so a
//! hung receiver delays nothing else. Each final outcome is an
//! `alert_delivered` or `alert_failed` event naming the webhook by name.
//!
//! The HTTP client is reqwest over rustls with the *ring* provider and the
//! machine's trusted roots (the same TLS stack as the PostgreSQL store), HTTP/1.1
//! only, redirects not followed (a webhook that redirects is misconfigured, and
//! following would carry the body elsewhere).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::policy::{backoff, verdict, Verdict};
use super::render::{json_body, slack_body};
use super::{Admit, Alert, Debouncer, MassFailure};
use crate::class::Class;
use crate::config::{AlertFormat, AlertSettings};
use crate::events::Event;
use crate::model::AlertDelivery;
use crate::redact::{Redactor, Secrets};
use crate::store::DispatchLog;

/// A wall clock: when an alert was raised, for the debounce and the
/// mass-failure window (tests pass a fixed one).
pub type Now = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// The first retry's wait; it doubles per retry up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The worker's handle: cheap to clone, never waits.
#[derive(Clone, Default)]
pub struct Alerts {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    tx: mpsc::Sender<Raised>,
    dropped: AtomicU64,
    mass: Mutex<MassFailure>,
    lane: Option<String>,
    now: Now,
}

/// An alert and when it was raised.
struct Raised {
    alert: Alert,
    at: jiff::Timestamp,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Alerts(on: {}, dropped: {})",
            self.inner.is_some(),
            self.dropped()
        )
    }
}

impl Alerts {
    /// Alerts off: every call does nothing.
    pub fn off() -> Alerts {
        Alerts { inner: None }
    }

    /// Whether any webhook listens.
    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Raises `alert` without waiting: when the channel is full (or the
    /// sender stopped) it is dropped and counted.
    pub fn send(&self, alert: Alert) {
        let Some(inner) = &self.inner else { return };
        let kind = alert.kind();
        let raised = Raised {
            alert,
            at: (inner.now)(),
        };
        if inner.tx.try_send(raised).is_err() {
            let n = inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                alert = kind.label(),
                dropped = n,
                "alert dropped: the alert queue is full or stopped"
            );
        }
    }

    /// A failed attempt of `route` (class and hint): fed to the mass-failure
    /// detector, which raises a mass failure at the start of an episode.
    pub fn attempt_failed(&self, class: Class, route: &str, hint: &str) {
        let Some(inner) = &self.inner else { return };
        let now = (inner.now)();
        let (seen, window) = {
            let mut mass = inner.mass.lock().unwrap_or_else(|p| p.into_inner());
            (mass.failed(now, class, route, hint), mass.window())
        };
        if let Some(s) = seen {
            self.send(Alert::MassFailure {
                failed: s.failed,
                window,
                class: s.class,
                hint: s.hint,
                routes: s.routes,
                lane: inner.lane.clone(),
            });
        }
    }

    /// Alerts dropped because the channel was full.
    pub fn dropped(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(0, |i| i.dropped.load(Ordering::Relaxed))
    }
}

/// The sender task; [`AlertsTask::flush`] stops it.
pub struct AlertsTask {
    handle: Option<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl AlertsTask {
    /// Stops taking alerts, sends what is queued and waits for deliveries in
    /// flight, for at most `wait`; what is still unsent then is abandoned.
    /// Returns whether everything finished in time.
    pub async fn flush(mut self, wait: Duration) -> bool {
        let _ = self.stop.send(true);
        let Some(mut handle) = self.handle.take() else {
            return true;
        };
        match tokio::time::timeout(wait, &mut handle).await {
            Ok(_) => true,
            Err(_) => {
                handle.abort();
                tracing::warn!(
                    wait_ms = wait.as_millis() as u64,
                    "alerts still in flight at shutdown were abandoned"
                );
                false
            }
        }
    }
}

impl Drop for AlertsTask {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// One webhook, resolved.
struct Hook {
    name: String,
    url: reqwest::Url,
    format: AlertFormat,
    on: Vec<crate::model::AlertKind>,
    debounce: Debouncer,
}

/// What every delivery shares.
struct Context {
    client: reqwest::Client,
    store: Arc<dyn DispatchLog>,
    redactor: Redactor,
    host: String,
    timeout: Duration,
    max_attempts: u32,
}

/// Starts the sender for `settings`' webhooks (URLs by reference read
/// through `env`; one that cannot be used is logged by name and skipped).
/// With no usable webhook, alerts are off and no task runs.
pub fn spawn(
    settings: &AlertSettings,
    store: Arc<dyn DispatchLog>,
    host: &str,
    lane: Option<String>,
    now: Now,
    env: impl Fn(&str) -> Option<String>,
) -> (Alerts, AlertsTask) {
    let (stop, stopped) = watch::channel(false);
    let off = || {
        (
            Alerts::off(),
            AlertsTask {
                handle: None,
                stop: stop.clone(),
            },
        )
    };
    let mut secrets = Secrets::default();
    secrets.add_process_env();
    let mut hooks = Vec::new();
    for w in &settings.webhooks {
        match w.url.resolve(&w.name, &env) {
            Ok(url) => {
                let label = format!("ALERT_WEBHOOK_{}", w.name.to_uppercase());
                secrets.add_env([(label.as_str(), url.as_str())]);
                hooks.push(Hook {
                    name: w.name.clone(),
                    url,
                    format: w.format,
                    on: w.on.clone(),
                    debounce: Debouncer::new(w.debounce),
                });
            }
            Err(e) => tracing::error!(webhook = %w.name, "alerts to this webhook are off: {e}"),
        }
    }
    if hooks.is_empty() {
        return off();
    }
    let client = match client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("alerts are off: the HTTP client could not be built: {e}");
            return off();
        }
    };
    let (tx, rx) = mpsc::channel(settings.queue.max(1));
    let ctx = Arc::new(Context {
        client,
        store,
        redactor: Redactor::new(&secrets),
        host: host.to_string(),
        timeout: settings.timeout,
        max_attempts: settings.max_attempts.max(1),
    });
    let handle = tokio::spawn(run(ctx, hooks, rx, stopped));
    let alerts = Alerts {
        inner: Some(Arc::new(Inner {
            tx,
            dropped: AtomicU64::new(0),
            mass: Mutex::new(MassFailure::new(
                settings.mass_failure_attempts,
                settings.mass_failure_window,
            )),
            lane,
            now,
        })),
    };
    (
        alerts,
        AlertsTask {
            handle: Some(handle),
            stop,
        },
    )
}

/// The TLS every outbound HTTP client of agentlane uses (webhooks, the
/// binary's trace exporter): rustls with *ring*, the machine's roots.
pub fn tls_config() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn client() -> Result<reqwest::Client, String> {
    let tls = tls_config()?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("agentlane/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.without_url().to_string())
}

async fn run(
    ctx: Arc<Context>,
    mut hooks: Vec<Hook>,
    mut rx: mpsc::Receiver<Raised>,
    mut stop: watch::Receiver<bool>,
) {
    let mut deliveries = JoinSet::new();
    loop {
        tokio::select! {
            raised = rx.recv() => match raised {
                Some(r) => route(&ctx, &mut hooks, r, &mut deliveries),
                None => break,
            },
            _ = stop.changed() => {
                rx.close();
                while let Ok(r) = rx.try_recv() {
                    route(&ctx, &mut hooks, r, &mut deliveries);
                }
                break;
            }
            Some(_) = deliveries.join_next(), if !deliveries.is_empty() => {}
        }
    }
    while deliveries.join_next().await.is_some() {}
}

/// Hands `r` to each webhook that wants its kind and whose debounce admits it.
fn route(ctx: &Arc<Context>, hooks: &mut [Hook], r: Raised, deliveries: &mut JoinSet<()>) {
    let kind = r.alert.kind();
    let key = r.alert.key();
    for hook in hooks.iter_mut().filter(|h| h.on.contains(&kind)) {
        let suppressed = match hook.debounce.admit(&key, r.at) {
            Admit::Send { suppressed } => suppressed,
            Admit::Suppressed => {
                tracing::debug!(webhook = %hook.name, alert = kind.label(), key = %key, "alert debounced");
                continue;
            }
        };
        let body = match hook.format {
            AlertFormat::Json => json_body(&r.alert, suppressed, &ctx.host, r.at, &ctx.redactor),
            AlertFormat::Slack => slack_body(&r.alert, suppressed, &ctx.host, r.at, &ctx.redactor),
        };
        let record = AlertDelivery {
            alert: kind,
            webhook: hook.name.clone(),
            key: ctx.redactor.redact(&key).into_owned(),
            class: r.alert.class().map(|c| c.label()),
            job_id: r.alert.job_id().map(str::to_string),
            attempts: 0,
            status: None,
            error: None,
            suppressed,
        };
        deliveries.spawn(deliver(ctx.clone(), hook.url.clone(), body, record));
    }
}

/// Posts `body` until it is delivered, refused, or the attempts run out;
/// records the outcome.
async fn deliver(
    ctx: Arc<Context>,
    url: reqwest::Url,
    body: serde_json::Value,
    mut record: AlertDelivery,
) {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let delivered = loop {
        record.attempts += 1;
        let sent = ctx
            .client
            .post(url.clone())
            .timeout(ctx.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes.clone())
            .send()
            .await;
        let (status, error) = match sent {
            Ok(r) => {
                let s = r.status().as_u16();
                (
                    Some(s),
                    (!r.status().is_success()).then(|| format!("HTTP {s}")),
                )
            }
            Err(e) => (None, Some(describe(&e, ctx.timeout))),
        };
        record.status = status;
        record.error = error.map(|e| ctx.redactor.redact(&e).into_owned());
        match verdict(status) {
            Verdict::Delivered => break true,
            Verdict::GiveUp => break false,
            Verdict::Retry if record.attempts >= ctx.max_attempts => break false,
            Verdict::Retry => {
                let wait = backoff(record.attempts + 1, BASE_BACKOFF, MAX_BACKOFF, jitter());
                tracing::info!(webhook = %record.webhook, alert = record.alert.label(), attempt = record.attempts, status, error = record.error.as_deref(), retry_in_ms = wait.as_millis() as u64, "alert not delivered yet: retrying");
                tokio::time::sleep(wait).await;
            }
        }
    };
    if delivered {
        tracing::info!(webhook = %record.webhook, alert = record.alert.label(), attempts = record.attempts, status = record.status, "alert delivered");
    } else {
        tracing::warn!(webhook = %record.webhook, alert = record.alert.label(), attempts = record.attempts, status = record.status, error = record.error.as_deref(), "alert failed");
    }
    let event = if delivered {
        Event::AlertDelivered(record)
    } else {
        Event::AlertFailed(record)
    };
    let store = &ctx.store;
    if let Err(e) =
        crate::store::with_patience(Duration::from_secs(5), || store.append_event(&event)).await
    {
        tracing::warn!("the alert's outcome could not be recorded: {e}");
    }
}

/// A request error in words, never with its URL.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        format!("no answer within {}", humantime::format_duration(timeout))
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        let mut text = String::from("request failed");
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }
}

fn jitter() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::getrandom(&mut b);
    u32::from_le_bytes(b) as f64 / (u32::MAX as f64 + 1.0)
}
