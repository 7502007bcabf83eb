//! One cell's outcome as the matrix reads it back from the store.

use serde::{Deserialize, Serialize};

use super::*;

/// One row of the matrix (the fields the seed names, plus the variation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The dispatch.
    pub dispatch_id: Option<String>,
    /// The worker kind.
    pub worker_kind: String,
    /// The job the cell ran as.
    pub queue_id: String,
    /// The route the cell ran (the base route's name, or the varied route's).
    pub route: String,
    /// The route's configured program (before resolution; `cli_path` is
    /// where it resolved, if anywhere).
    #[serde(default)]
    pub program: String,
    /// The working directory.
    pub cwd: Option<String>,
    /// The argument vector (redacted).
    pub argv: Vec<String>,
    /// The resolved executable.
    pub cli_path: Option<String>,
    /// The environment fingerprint id.
    pub env_fingerprint: Option<String>,
    /// The prompt's size.
    pub prompt_bytes: u64,
    /// The exit code.
    pub exit_code: Option<i32>,
    /// The signal.
    pub signal: Option<i32>,
    /// Duration in ms.
    pub duration_ms: Option<u64>,
    /// The end of stderr.
    pub stderr_tail: String,
    /// The class.
    pub classifier: String,
    /// The repair hint.
    pub repair_hint: String,
    /// The dimension that differs from the baseline.
    pub dimension: Dimension,
    /// Its value.
    pub value: String,
    /// For a control cell, the class it must end with.
    pub expected: Option<String>,
}

impl Row {
    /// A control cell that ended as expected: it says nothing about the shape.
    pub fn is_expected_control(&self) -> bool {
        self.expected.as_deref() == Some(self.classifier.as_str())
    }

    /// The cell passed.
    pub fn passed(&self) -> bool {
        self.classifier == "ok"
    }
}
