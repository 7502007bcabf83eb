//! The library's job spans (`agentlane::trace`) as OpenTelemetry spans.
//!
//! Written against the OpenTelemetry API rather than through
//! `tracing-opentelemetry`, because a job's trace needs ids that no in-memory
//! parent gives: an `attempt` span's parent is the job span named by id (trace
//! id = the job's UUIDv7, span id = `agentlane::trace::job_span_id`), and the
//! job span itself is built, with those exact ids, from the event the worker
//! emits when the job reaches a final state (start = created, end = now).
//! Stage spans (`prepare`, `launch`, `supervise`, `classify`) are children of
//! the nearest exported ancestor; outside an attempt (`exec`, `doctor`) they
//! are not exported. Field values become `agentlane.<field>` attributes.

use std::cell::Cell;
use std::time::SystemTime;

use agentlane::trace as names;
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceFlags, TraceId,
    TraceState, Tracer as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracer};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Turns the job spans into OpenTelemetry spans.
pub(crate) struct JobTraces {
    tracer: SdkTracer,
}

/// A span being recorded, kept in the tracing span's extensions.
struct Live(opentelemetry_sdk::trace::Span);

/// The job span's fields, kept on the final attempt until it ends.
struct PendingJob(Fields);

impl JobTraces {
    pub(crate) fn new(tracer: SdkTracer) -> Self {
        JobTraces { tracer }
    }

    /// This layer with the filter that lets only the job spans reach it.
    pub(crate) fn filtered<S>(self) -> impl Layer<S> + Send + Sync
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        self.with_filter(OnlyJobTraces)
    }

    /// The job span, from the worker's final-settlement event.
    fn job_span(&self, fields: Fields) {
        let Some(job_id) = fields.job_id.as_deref() else {
            return;
        };
        let start = fields
            .created_at
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map_or_else(SystemTime::now, SystemTime::from);
        let failed = fields.decision.as_deref().is_some_and(|d| d != "done");
        let builder = self
            .tracer
            .span_builder(names::JOB)
            .with_kind(SpanKind::Internal)
            .with_start_time(start)
            .with_attributes(fields.attributes);
        let ids = (
            TraceId::from_bytes(names::job_trace_id(job_id)),
            SpanId::from_bytes(names::job_span_id(job_id)),
        );
        let mut span = NEXT_IDS.with(|next| {
            next.set(Some(ids));
            let span = self.tracer.build_with_context(builder, &Context::new());
            next.set(None);
            span
        });
        if failed {
            span.set_status(Status::error(fields.class.unwrap_or_default()));
        }
        span.end();
    }
}

thread_local! {
    /// The ids the next span built on this thread takes (the job span's).
    static NEXT_IDS: Cell<Option<(TraceId, SpanId)>> = const { Cell::new(None) };
}

/// Random ids, except for a job span, whose ids come from its job.
#[derive(Debug)]
pub(crate) struct JobIds;

impl IdGenerator for JobIds {
    fn new_trace_id(&self) -> TraceId {
        NEXT_IDS
            .with(Cell::get)
            .map_or_else(|| RandomIdGenerator::default().new_trace_id(), |(t, _)| t)
    }

    fn new_span_id(&self) -> SpanId {
        NEXT_IDS
            .with(Cell::get)
            .map_or_else(|| RandomIdGenerator::default().new_span_id(), |(_, s)| s)
    }
}

/// Lets through only `agentlane::trace` spans and events.
struct OnlyJobTraces;

impl<S> Filter<S> for OnlyJobTraces {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: &LayerContext<'_, S>) -> bool {
        meta.target() == names::TARGET
    }

    fn callsite_enabled(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if meta.target() == names::TARGET {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }
}

/// The remote parent of an attempt: its job's span, by id.
fn job_context(job_id: &str) -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_bytes(names::job_trace_id(job_id)),
        SpanId::from_bytes(names::job_span_id(job_id)),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ))
}

impl<S> Layer<S> for JobTraces
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let name = attrs.metadata().name();
        let parent = if name == names::ATTEMPT {
            match fields.job_id.as_deref() {
                Some(job_id) => job_context(job_id),
                None => return,
            }
        } else {
            let found = span.scope().skip(1).find_map(|s| {
                s.extensions()
                    .get::<Live>()
                    .map(|l| l.0.span_context().clone())
            });
            match found {
                Some(sc) => Context::new().with_remote_span_context(sc),
                // Not inside an attempt: not part of a job's trace.
                None => return,
            }
        };
        let builder = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Internal)
            .with_attributes(fields.attributes);
        let live = Live(self.tracer.build_with_context(builder, &parent));
        span.extensions_mut().insert(live);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        let mut ext = span.extensions_mut();
        let Some(Live(live)) = ext.get_mut::<Live>() else {
            return;
        };
        if let Some(class) = fields.class.filter(|c| c != "ok") {
            live.set_status(Status::error(class));
        }
        live.set_attributes(fields.attributes);
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let mut ext = span.extensions_mut();
        if let Some(Live(mut live)) = ext.remove::<Live>() {
            live.end();
        }
        // The job ends with its last attempt.
        if let Some(PendingJob(fields)) = ext.remove::<PendingJob>() {
            self.job_span(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.message.as_deref() != Some(names::JOB) {
            return;
        }
        // Settled inside an attempt: built when the attempt ends, so the job
        // span encloses it. Otherwise (a lost attempt settled by another
        // worker's rescue): now.
        let attempt = ctx.event_span(event).and_then(|s| {
            s.scope()
                .find(|s| s.name() == names::ATTEMPT && s.extensions().get::<Live>().is_some())
        });
        match attempt {
            Some(attempt) => {
                attempt.extensions_mut().insert(PendingJob(fields));
            }
            None => self.job_span(fields),
        }
    }
}

/// A span's or event's fields: its attributes, and the few this layer reads.
#[derive(Default)]
struct Fields {
    attributes: Vec<KeyValue>,
    job_id: Option<String>,
    class: Option<String>,
    decision: Option<String>,
    created_at: Option<String>,
    message: Option<String>,
}

impl Fields {
    fn text(&mut self, field: &Field, value: String) {
        let keep = match field.name() {
            "message" => {
                self.message = Some(value);
                return;
            }
            "created_at" => {
                self.created_at = Some(value);
                return;
            }
            "job_id" => &mut self.job_id,
            "class" => &mut self.class,
            "decision" => &mut self.decision,
            _ => {
                self.attributes.push(KeyValue::new(key(field), value));
                return;
            }
        };
        *keep = Some(value.clone());
        self.attributes.push(KeyValue::new(key(field), value));
    }
}

fn key(field: &Field) -> String {
    format!("agentlane.{}", field.name())
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value.to_string());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attributes.push(KeyValue::new(key(field), value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.attributes.push(KeyValue::new(
            key(field),
            i64::try_from(value).unwrap_or(i64::MAX),
        ));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attributes.push(KeyValue::new(key(field), value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `%value` fields arrive here, formatted by their Display.
        self.text(field, format!("{value:?}"));
    }
}
