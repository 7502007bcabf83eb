//! The export pipeline, from the standard `OTEL_*` variables: an OTLP
//! HTTP/protobuf exporter (endpoint, headers, compression and timeout as the
//! SDK reads them) behind the SDK's batch processor (its own thread, a bounded
//! queue: a slow or absent collector never waits a job), sent with a blocking
//! reqwest client over agentlane's TLS. An export failure is logged once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agentlane::exit_status;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::InstrumentationScope;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use super::layer::{JobIds, JobTraces};
use crate::Failure;

/// How long the end of the process waits for the last spans to be sent.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// Traces being exported: the provider behind the tracing layer. Call
/// [`Traces::shutdown`] before the process exits so the last spans are sent.
pub struct Traces {
    provider: SdkTracerProvider,
    endpoint: String,
}

/// The variable that is set and not empty.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Traces {
    /// The pipeline the environment asks for, or `None` (nothing is built)
    /// when neither `OTEL_EXPORTER_OTLP_ENDPOINT` nor
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, `OTEL_SDK_DISABLED` is
    /// `true` or `OTEL_TRACES_EXPORTER` is `none`. `worker` and `serve` call it.
    pub fn from_env() -> Result<Option<Traces>, Failure> {
        let traces_endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        let base = var("OTEL_EXPORTER_OTLP_ENDPOINT");
        let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
        let endpoint = match (traces_endpoint, base) {
            _ if disabled => return Ok(None),
            (Some(url), _) => url,
            (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
            (None, None) => return Ok(None),
        };
        for name in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(p) = var(name).filter(|p| p != "http/protobuf") {
                return Err(usage(format!(
                    "{name}={p:?}: agentlane exports traces over OTLP http/protobuf only: unset it or set it to http/protobuf (an OpenTelemetry Collector, Jaeger and Tempo accept it on port 4318)"
                )));
            }
        }
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_http_client(client(timeout(), endpoint.starts_with("https:"))?)
            .build()
            .map_err(|e| {
                usage(format!(
                    "cannot export traces to {}: {e}: fix the OTEL_EXPORTER_OTLP_* variable it names (the endpoint e.g. http://127.0.0.1:4318; no compression), or unset OTEL_EXPORTER_OTLP_ENDPOINT",
                    shown(&endpoint)
                ))
            })?;
        let mut resource = Resource::builder();
        // The SDK reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; its
        // fallback name is `unknown_service`, ours is agentlane.
        let named = var("OTEL_SERVICE_NAME").is_some()
            || var("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|a| a.contains("service.name="));
        if !named {
            resource = resource.with_service_name("agentlane");
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(WarnOnce {
                inner: exporter,
                endpoint: shown(&endpoint),
                warned: AtomicBool::new(false),
            })
            .with_id_generator(JobIds)
            .with_resource(resource.build())
            .build();
        Ok(Some(Traces {
            provider,
            endpoint: shown(&endpoint),
        }))
    }

    /// Where the spans go (without credentials or query), for the log.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The tracing layer that turns the library's job spans into spans of
    /// this pipeline; it sees nothing but the `agentlane::trace` target.
    pub(crate) fn layer(&self) -> JobTraces {
        let scope = InstrumentationScope::builder("agentlane")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        JobTraces::new(self.provider.tracer_with_scope(scope))
    }

    /// Sends the spans still queued (waiting at most a few seconds for the
    /// collector) and stops the export thread.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown_with_timeout(SHUTDOWN_WAIT) {
            tracing::warn!(endpoint = %self.endpoint, "the last traces may not have been exported: {e}");
        }
    }
}

fn usage(message: String) -> Failure {
    Failure::new(exit_status::USAGE, message)
}

/// A URL as it may be logged: scheme, host, port and path (no user, no
/// password, no query).
fn shown(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default(),
            u.path()
        ),
        Err(_) => "(an unparsable URL)".to_string(),
    }
}

/// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, else `OTEL_EXPORTER_OTLP_TIMEOUT`
/// (milliseconds), else the specification's 10 s.
fn timeout() -> Duration {
    [
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ]
    .iter()
    .find_map(|k| var(k)?.trim().parse::<u64>().ok())
    .map_or(Duration::from_secs(10), Duration::from_millis)
}

/// The blocking client the export thread sends with. Built on a thread of
/// its own: a blocking client may not be made (or dropped) inside an async
/// runtime, and `serve` may call this from one. The machine's root
/// certificates are read only for an https endpoint.
fn client(timeout: Duration, https: bool) -> Result<Blocking, Failure> {
    let built = std::thread::spawn(move || {
        let tls = if https {
            agentlane::alerts::tls_config()?
        } else {
            let ring = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            rustls::ClientConfig::builder_with_provider(ring)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        };
        reqwest::blocking::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("agentlane/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.without_url().to_string())
    })
    .join()
    .unwrap_or_else(|_| Err("the thread building it panicked".to_string()));
    built.map(Blocking).map_err(|e| {
        Failure::new(
            exit_status::OS_ERROR,
            format!("cannot build the HTTP client for trace export: {e}"),
        )
    })
}

/// The largest response body read from a collector.
const MAX_RESPONSE: u64 = 1 << 20;

#[derive(Debug)]
struct Blocking(reqwest::blocking::Client);

#[async_trait::async_trait]
impl HttpClient for Blocking {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        use std::io::Read;
        let (parts, body) = request.into_parts();
        let response = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(Vec::from(body))
            .send()
            .map_err(|e| e.without_url())?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        response.take(MAX_RESPONSE).read_to_end(&mut body)?;
        let mut out = Response::builder().status(status).body(Bytes::from(body))?;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

/// The exporter, whose first failure is logged (once: an absent collector
/// would otherwise log every few seconds). Jobs never wait for it.
#[derive(Debug)]
struct WarnOnce<E> {
    inner: E,
    endpoint: String,
    warned: AtomicBool,
}

impl<E: SpanExporter> SpanExporter for WarnOnce<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        if let Err(e) = &result {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    endpoint = %self.endpoint,
                    "traces could not be exported ({e}); jobs are not affected and later failures are not logged: check OTEL_EXPORTER_OTLP_ENDPOINT and that the collector listens for OTLP/HTTP"
                );
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource)
    }
}
