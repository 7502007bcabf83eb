//! A failure of agentlane itself while dispatching (a failing child is a
//! classified result, not this).

use std::path::PathBuf;

use crate::model::report::DispatchReport;

use crate::store::StoreError;

/// A failure of agentlane itself (a failing child is a classified result, not this).
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An artifact directory or file could not be created.
    #[error("cannot create artifacts in {path}: {source}")]
    Artifacts {
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The dispatch ran and was classified, but the store could not record
    /// its outcome (the database write failed: a full disk, a lost server).
    /// The report is the only account of it: print it, and say so.
    #[error("the outcome of dispatch {} ({}) was not recorded in the store: {source}", report.dispatch_id, report.classifier)]
    Unrecorded {
        /// The outcome that was not recorded.
        report: Box<DispatchReport>,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The OS refused to spawn for a reason that is not the program's fault.
    #[error("cannot spawn '{program}': {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
