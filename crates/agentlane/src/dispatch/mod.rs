//! The dispatcher: the one path every agent invocation goes through.
//!
//! ```text
//! DispatchRequest ─prepare─▶ Ready ─launch─▶ Running ─supervise─▶ Exited ─classify─▶ report
//!        │ pre-launch refusal (payload, cwd, executable, interpreter) ──────────────▶ report
//! record: runner_prepare ........... runner_exit ........ runner_classified_failure
//! ```
//! Each stage lives in its own file and takes the previous stage's output, so
//! no stage can be skipped. `runner_prepare` is stored before launch; the exit
//! and the classification are stored together with the report.

mod capture;
mod dispatcher;
pub mod env;
#[cfg(test)]
#[path = "env_props.rs"]
mod env_props;
mod error;
mod guard;
mod interrupt;
mod launch;
mod prepare;
pub mod proctree;
pub mod prompt_arg;
mod request;
mod supervise;
pub mod watch;
pub use supervise::CLASSIFY_TAIL;

pub use crate::model::report::DispatchReport;
pub use capture::Echo;
#[cfg(test)]
pub(crate) use dispatcher::{base_report, classified_event};
pub use dispatcher::{Dispatcher, Finished};
pub use env::{build_env, parse_assignment, parse_env_file, EnvFileError, EnvSpec};
pub use error::DispatchError;
pub use interrupt::Interrupt;
pub use prepare::{precheck, repo_root, Precheck};
pub use request::{DispatchRequest, JobRef, PromptVia, RunAs, DEFAULT_ARTIFACT_CAP};
pub use watch::WatchSettings;
