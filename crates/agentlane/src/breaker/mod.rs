//! Circuit breakers per route: when a route's recent attempts fail at
//! runtime (a provider's 5xx, the network, hangs — [`Class::breaker_evidence`])
//! above a threshold, the route stops claiming until a probe shows it
//! works again, then runs one job before it claims as usual.
//!
//! ```text
//! Closed ──(failures of the last window_attempts within `within`, after the last close)──▶ Open
//! Open ──probe fails──▶ Open (next probe after probe_first·2^n, jittered, capped at probe_max)
//! Open ──probe passes──▶ HalfOpen (one job: the trial)
//! HalfOpen ──trial succeeds──▶ Closed
//! HalfOpen ──trial fails at runtime──▶ Open (the next backoff step)
//! HalfOpen ──trial says nothing of the runtime (a payload refusal, a lost worker)──▶ HalfOpen, no trial
//! ```
//!
//! Never stuck open: the probe schedule always continues (a prober that dies
//! leaves a due probe for the next worker) and a passing probe always
//! half-opens. Never flapping: a closed breaker counts only failures after
//! it closed, so one old window cannot reopen it; a failed trial reopens at
//! the next backoff step, not the first.
//!
//! Pure: every decision takes `now` (the worker's injectable clock) and a
//! jitter sample; the worker (`queue::worker::breaker`) reads and writes the
//! store's row ([`RouteBreaker`]) around it.

mod machine;

pub use machine::*;
