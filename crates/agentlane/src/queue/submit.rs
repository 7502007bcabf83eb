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
use crate::queue::NewJob;
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

/// A batch whose every request was admitted: what [`store_batch`] stores.
#[derive(Debug, Clone)]
pub struct Batch {
    /// (position, job, a secret was removed from it).
    admitted: Vec<(usize, NewJob, bool)>,
}

impl Batch {
    /// How many jobs it holds.
    pub fn len(&self) -> usize {
        self.admitted.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.admitted.is_empty()
    }
}

/// Admits every request (pure: no store is needed to refuse a batch): the
/// batch, or every refused request and how many were acceptable.
pub fn admit_all(config: &Config, requests: Vec<Line>) -> Result<Batch, (Vec<Refused>, usize)> {
    // One engine for the batch: shapes, context rules, and the values of our
    // own environment and of the routes' env and env_file.
    let redactor = prompt_redactor(config);
    let mut admitted = Vec::new();
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
            Ok(a) => admitted.push((line, a.job, a.prompt_redacted)),
            Err(r) => refused.push(r),
        }
    }
    if refused.is_empty() {
        Ok(Batch { admitted })
    } else {
        Err((refused, admitted.len()))
    }
}

/// Admits every request, then stores all of them in one transaction or none.
pub async fn submit(
    config: &Config,
    store: &dyn QueueStore,
    requests: Vec<Line>,
) -> Result<Submission, StoreError> {
    match admit_all(config, requests) {
        Err((refused, admitted)) => Ok(Submission::Refused { refused, admitted }),
        Ok(batch) => {
            let (jobs, warnings) = store_batch(store, batch).await?;
            Ok(Submission::Stored { jobs, warnings })
        }
    }
}

/// Stores an admitted batch in one transaction (a taken key answers with its
/// holder's id) and records the `job_admitted` event of each job whose
/// prompt was redacted: the stored jobs, and the events that could not be
/// recorded.
pub async fn store_batch(
    store: &dyn QueueStore,
    batch: Batch,
) -> Result<(Vec<Submitted>, Vec<String>), StoreError> {
    let admitted: Vec<(usize, NewJob)> = batch
        .admitted
        .iter()
        .map(|(l, j, _)| (*l, j.clone()))
        .collect();
    let redacted: Vec<bool> = batch.admitted.iter().map(|(_, _, r)| *r).collect();
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
    Ok((out, warnings))
}
