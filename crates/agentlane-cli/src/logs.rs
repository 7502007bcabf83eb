//! Log events on stderr through `tracing`: what a worker does (start, claim,
//! launch, end and class of each attempt, decision, park and release,
//! preflight changes, blocks, incidents, pauses, store outages, stop), as
//! human lines or one JSON object per line. Which events: `AGENTLANE_LOG`,
//! else `RUST_LOG`, else the command's default (`info` for `worker`; none
//! for the others, so `exec` stays quiet unless asked).

use std::io::IsTerminal;

use agentlane::exit_status;
use tracing_subscriber::EnvFilter;

use crate::Failure;

/// How events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-12-05T10:00:00.123Z  INFO claimed job_id=… route=…`
    Human,
    /// `{"timestamp":…,"level":"INFO","message":"claimed","job_id":…}`
    Json,
}

/// The filter: `AGENTLANE_LOG`, else `RUST_LOG`, else `default`.
fn filter(default: &str) -> Result<EnvFilter, Failure> {
    let (name, directives) = ["AGENTLANE_LOG", "RUST_LOG"]
        .iter()
        .find_map(|k| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| (*k, v))
        })
        .unwrap_or(("the default", default.to_string()));
    EnvFilter::builder()
        .with_regex(false)
        .parse(&directives)
        .map_err(|e| {
            Failure::new(
                exit_status::USAGE,
                format!("{name}={directives:?} is not a log filter ({e}): use a level (error, warn, info, debug, trace, off) or TARGET=LEVEL, comma-separated"),
            )
        })
}

/// Installs the subscriber for this process; with `traces`, beside the log
/// lines, the layer that exports the job spans (docs/tracing.md). Without
/// them the subscriber is the plain log writer: no other layer, nothing more
/// done per span.
pub fn init(
    format: LogFormat,
    default: &str,
    traces: Option<&crate::otel::Traces>,
) -> Result<(), Failure> {
    let filter = filter(default)?;
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb");
    if let Some(traces) = traces {
        return init_with_traces(format, colour, filter, traces);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second subscriber cannot be installed; that never happens here (one
    // call per process), and logs are not worth failing the command for.
    let _ = match format {
        LogFormat::Human => builder.with_ansi(colour).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
    Ok(())
}

/// The same log lines, their filter applied to them alone, and the trace
/// layer beside them with its own (the job spans are `TRACE`-level: the log
/// filter never needs to let them through).
fn init_with_traces(
    format: LogFormat,
    colour: bool,
    filter: EnvFilter,
    traces: &crate::otel::Traces,
) -> Result<(), Failure> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let fmt = match format {
        LogFormat::Human => fmt.with_ansi(colour).with_filter(filter).boxed(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(traces.layer().filtered())
        .try_init();
    tracing::info!(endpoint = %traces.endpoint(), "exporting job traces over OTLP/HTTP");
    Ok(())
}
