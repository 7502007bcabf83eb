//! Enqueueing a batch, the one implementation `agentlane enqueue` and the
//! HTTP API (`POST /api/v1/jobs`) call: every request is admitted first
//! (kind, lane, route, contract, policy, secrets), and either all are
//! stored in one transaction or none; a job whose prompt held a secret that
//! was redacted gets its `job_admitted` event.

use serde::Serialize;

use crate::config::Config;
use crate::events::{Event, JobAdmitted};
use crate::queue::admit::{admit_with, prompt_redactor};
use crate::queue::jsonl::Line;
use crate::store::{QueueStore, StoreError};

/// A request that was refused: nothing of its batch was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refused {
    /// Its position in the batch (a JSONL line number; 1 for a single job).
    pub line: usize,
    /// The request's field at fault, when one is.
    pub field: Option<String>,
    /// `payload_invalid`, `route_not_allowed` or `config_invalid`.
    pub class: String,
    /// What is wrong and how to fix it (redacted).
    pub message: String,
}

/// A request that was stored, or whose idempotency key was already taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Submitted {
    /// Its position in the batch.
    pub line: usize,
    /// The job's id (the earlier job's, when the key was taken).
    pub id: String,
    /// The route it runs on.
    pub route: String,
    /// Its idempotency key.
    pub key: Option<String>,
    /// The key was taken: nothing was added.
    pub existed: bool,
    /// A secret was removed from its prompt or fields before it was stored.
    pub prompt_redacted: bool,
    /// The key repeats an earlier position of this batch (the first wins).
    pub repeats_line: Option<usize>,
}

/// What a batch came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Submission {
    /// Every request was admitted and stored (or found by key).
    Stored {
        /// One per request, in order.
        jobs: Vec<Submitted>,
        /// Events that could not be recorded (the jobs are stored).
        warnings: Vec<String>,
    },
    /// At least one request was refused: nothing was stored.
    Refused {
        /// Every refused request.
        refused: Vec<Refused>,
        /// How many were acceptable.
        admitted: usize,
    },
}

/// Admits every request, then stores all of them in one transaction or none.
pub async fn submit(
    config: &Config,
    store: &dyn QueueStore,
    requests: Vec<Line>,
) -> Result<Submission, StoreError> {
    // One engine for the batch: shapes, context rules, and the values of our
    // own environment and of the routes' env and env_file.
    let redactor = prompt_redactor(config);
    let mut admitted = Vec::new();
    let mut redacted = Vec::new();
    let mut refused = Vec::new();
    for (line, request) in requests {
        let checked = match request {
            Err(e) => Err(Refused {
                line,
                field: e.field,
                class: "payload_invalid".to_string(),
                // A parse error may quote the request: redact it.
                message: redactor.redact(&e.reason).into_owned(),
            }),
            Ok(r) => admit_with(config, r, &redactor).map_err(|r| Refused {
                line,
                field: Some(r.field),
                class: r.class,
                message: r.message,
            }),
        };
        match checked {
            Ok(a) => {
                redacted.push(a.prompt_redacted);
                admitted.push((line, a.job));
            }
            Err(r) => refused.push(r),
        }
    }
    if !refused.is_empty() {
        return Ok(Submission::Refused {
            refused,
            admitted: admitted.len(),
        });
    }
    let jobs: Vec<_> = admitted.iter().map(|(_, j)| j.clone()).collect();
    let stored = store.enqueue_keyed(&jobs).await?;
    let mut first_line: std::collections::HashMap<&str, usize> = Default::default();
    let mut out = Vec::with_capacity(admitted.len());
    let mut warnings = Vec::new();
    for (((line, job), e), was_redacted) in admitted.iter().zip(&stored).zip(&redacted) {
        let repeats_line = job.key.as_deref().and_then(|k| {
            let first = *first_line.entry(k).or_insert(*line);
            (first != *line).then_some(first)
        });
        let prompt_redacted = *was_redacted && !e.existed;
        if prompt_redacted {
            let event = Event::JobAdmitted(JobAdmitted {
                job_id: e.id.clone(),
                prompt_redacted: true,
                reason: "the prompt or a payload field held a secret; it was stored with the secret replaced ([queue] prompt_secrets = \"redact\")".into(),
            });
            if let Err(err) = store.append_event(&event).await {
                warnings.push(format!(
                    "job {}: cannot record its job_admitted event: {err}",
                    e.id
                ));
            }
        }
        out.push(Submitted {
            line: *line,
            id: e.id.clone(),
            route: job.route.clone(),
            key: job.key.clone(),
            existed: e.existed,
            prompt_redacted,
            repeats_line,
        });
    }
    Ok(Submission::Stored {
        jobs: out,
        warnings,
    })
}
