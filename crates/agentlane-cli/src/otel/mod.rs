//! OpenTelemetry traces of jobs, exported over OTLP/HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set, and
//! absent otherwise: no exporter, no thread, no layer (docs/tracing.md).
//! `init.rs` reads the standard variables and builds the SDK's pipeline;
//! `layer.rs` turns the library's job spans (`agentlane::trace`) into
//! OpenTelemetry spans with ids derived from the job, so every attempt of a
//! job, from any worker on any host, lands in one trace.

mod init;
mod layer;

pub use init::Traces;
