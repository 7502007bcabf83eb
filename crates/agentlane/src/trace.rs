//! The trace a job leaves: the names and fields of the `tracing` spans the
//! worker and the dispatcher open, and the ids that tie every attempt of a job
//! into one trace. The library names no tracing backend: the binary turns these
//! spans into OpenTelemetry spans when an exporter is configured
//! (`agentlane-cli/src/otel.rs`, docs/tracing.md), and otherwise nothing
//! listens to them (they are `TRACE`-level under their own [`TARGET`], so a
//! disabled span costs one cached interest check).
//!
//! ```text
//! job        (trace id = the job's UUIDv7, span id = job_span_id(job);
//!             emitted once, when the job reaches a final state)
//! └─ attempt (one per attempt, whichever worker or host ran it: its parent is
//!    │        the job span, named by id, never by memory)
//!    ├─ prepare   ├─ launch   ├─ supervise   └─ classify
//! ```
//! A job's attempts run at different times on different workers, so the
//! parent is derived from the job id alone: every host computes the same ids.
//! Fields carry ids, labels and numbers only: never a prompt, an environment
//! value or an output tail.

/// The `tracing` target of every span and event of a job's trace.
pub const TARGET: &str = "agentlane::trace";

/// One attempt of a job (fields: `job_id`, `lane`, `kind`, `route`,
/// `attempt`; recorded later: `dispatch_id`, `class`, `exit_code`, `signal`,
/// `timed_out`, `exit_status`, `decision`, `accepted`).
pub const ATTEMPT: &str = "attempt";
/// The payload, cwd and executable checks and the `runner_prepare` record
/// (recorded: `dispatch_id`, `refused`).
pub const PREPARE: &str = "prepare";
/// The spawn of the agent's process group.
pub const LAUNCH: &str = "launch";
/// The run: output capture, watchdog, timeout, reaping.
pub const SUPERVISE: &str = "supervise";
/// The classification of the ended run (recorded: `class`, `exit_status`).
pub const CLASSIFY: &str = "classify";
/// The message of the event a worker emits when it settles a job's final
/// attempt (fields: `job_id`, `lane`, `kind`, `route`, `attempts`, `class`,
/// `decision`, `created_at`): the job span is built from it.
pub const JOB: &str = "job";

/// The trace id of a job: its id's 128 bits when it is a UUID (every job id
/// is a UUIDv7), else the first 16 bytes of a domain-separated BLAKE3 of it.
/// Never all zeros (an invalid trace id).
pub fn job_trace_id(job_id: &str) -> [u8; 16] {
    let bytes = match uuid::Uuid::parse_str(job_id) {
        Ok(u) if !u.is_nil() => *u.as_bytes(),
        _ => {
            let hash = blake3::derive_key("agentlane 2026 job trace id", job_id.as_bytes());
            let mut id = [0u8; 16];
            id.copy_from_slice(&hash[..16]);
            id
        }
    };
    if bytes == [0; 16] {
        [1; 16]
    } else {
        bytes
    }
}

/// The span id of a job's own span: 8 bytes of a domain-separated BLAKE3 of
/// its id, so every worker that runs one of its attempts names the same parent.
/// Never all zeros (an invalid span id).
pub fn job_span_id(job_id: &str) -> [u8; 8] {
    let hash = blake3::derive_key("agentlane 2026 job span id", job_id.as_bytes());
    let mut id = [0u8; 8];
    id.copy_from_slice(&hash[..8]);
    if id == [0; 8] {
        [1; 8]
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_job_id_is_its_own_trace_id() {
        let id = "01937b2e-8f3a-7c11-9a5b-2f0e4d6c8a10";
        assert_eq!(
            job_trace_id(id),
            *uuid::Uuid::parse_str(id).unwrap().as_bytes()
        );
    }

    #[test]
    fn ids_are_the_same_on_every_host_and_differ_between_jobs() {
        let (a, b) = ("job-a", "job-b");
        assert_eq!(job_span_id(a), job_span_id(a));
        assert_ne!(job_span_id(a), job_span_id(b));
        assert_ne!(job_trace_id(a), job_trace_id(b));
        assert_ne!(job_trace_id(a), [0; 16], "not a UUID: hashed, never zero");
        assert_ne!(
            job_trace_id("00000000-0000-0000-0000-000000000000"),
            [0; 16]
        );
    }
}
