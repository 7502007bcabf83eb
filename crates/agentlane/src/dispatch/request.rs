//! What a dispatch is asked to do: the request, decided before it starts
//! (program, arguments, environment, prompt delivery, limits, the user to run as).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::env::EnvSpec;

use crate::classify::{self, RuleSet};

/// The default cap of one stream's artifact file (`[artifacts] max_bytes_per_stream`).
pub const DEFAULT_ARTIFACT_CAP: u64 = 64 << 20;

/// How the prompt reaches the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PromptVia {
    /// Written to the child's stdin, then closed.
    #[default]
    Stdin,
    /// Substituted for `{prompt}` in the arguments, or appended as the last one.
    Arg,
    /// Written to a private file substituted for `{prompt_file}` (or appended).
    File,
}

impl PromptVia {
    /// The label used in events and flags.
    pub fn label(self) -> &'static str {
        match self {
            PromptVia::Stdin => "stdin",
            PromptVia::Arg => "arg",
            PromptVia::File => "file",
        }
    }
}

impl std::str::FromStr for PromptVia {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "stdin" => Ok(PromptVia::Stdin),
            "arg" => Ok(PromptVia::Arg),
            "file" => Ok(PromptVia::File),
            other => Err(format!(
                "unknown prompt delivery '{other}': use stdin, arg or file"
            )),
        }
    }
}

/// A job attempt a dispatch belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRef {
    /// The job id.
    pub id: String,
    /// The attempt number (1-based).
    pub attempt: u32,
}

/// Everything a dispatch needs, decided before it starts.
#[derive(Debug, Clone)]
pub struct DispatchRequest {
    /// The program: a bare name looked up on the child's PATH, or a path.
    pub program: String,
    /// Its arguments (may contain `{prompt}` / `{prompt_file}`).
    pub args: Vec<String>,
    /// The working directory (default: agentlane's own).
    pub cwd: Option<PathBuf>,
    /// How to build the child's environment.
    pub env: EnvSpec,
    /// The prompt, if any (checked to be text before launch).
    pub prompt: Option<Vec<u8>>,
    /// How the prompt reaches the child.
    pub prompt_via: PromptVia,
    /// The timeout.
    pub timeout: Option<Duration>,
    /// SIGTERM → SIGKILL grace period.
    pub kill_grace: Duration,
    /// How long to wait for the pipes after the child exited.
    pub leak_timeout: Duration,
    /// Bytes of each stream kept in the report's tails.
    pub tail_bytes: usize,
    /// Bytes of each stream written to its artifact file; past it the file
    /// ends with a marker line (the tails and the classifier see everything).
    pub artifact_cap: u64,
    /// Echo the child's output live.
    pub echo: bool,
    /// The route, when dispatched from one.
    pub route: Option<String>,
    /// The selected model.
    pub model: Option<String>,
    /// The job attempt, when dispatched by a worker.
    pub job: Option<JobRef>,
    /// A refusal decided upstream (payload contract, route policy): recorded
    /// as this dispatch's pre-launch class, and nothing is spawned.
    pub gate: Option<classify::Classification>,
    /// Classifier rules for this dispatch (a route's), instead of the dispatcher's.
    pub rules: Option<Arc<RuleSet>>,
    /// Expanded diagnostics: the report also lists every variable name of the child's environment.
    pub diagnostics: bool,
    /// The environment the child's is built from, instead of this process's
    /// (the matrix's environment-source cells: a login shell's, a thin service's).
    pub base_env: Option<BTreeMap<String, String>>,
    /// Run the child as another user (this process must be root).
    pub run_as: Option<RunAs>,
    /// Give the child this process's stdin when the prompt does not take it
    /// (`exec` with piped input); otherwise the child's stdin is /dev/null.
    pub inherit_stdin: bool,
    /// The watchdog: idle timeout, early stop on terminal lines, and the
    /// grace a CLI gets to exit after its final result (`watch.rs`).
    pub watch: super::watch::WatchSettings,
    /// What a successful run must show: a run that exits zero and breaks it
    /// is `empty_success` (`classify::success`).
    pub success: Option<Arc<crate::classify::success::SuccessContract>>,
}

/// A user to run the child as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// The user name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
    /// Its home directory.
    pub home: PathBuf,
}

impl RunAs {
    /// Looks a user up by name.
    pub fn lookup(name: &str) -> Option<RunAs> {
        let user = nix::unistd::User::from_name(name).ok().flatten()?;
        Some(RunAs {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            home: user.dir,
        })
    }
}

impl DispatchRequest {
    /// A request with agentlane's defaults for `program args…`.
    pub fn new(program: impl Into<String>, args: Vec<String>) -> Self {
        DispatchRequest {
            program: program.into(),
            args,
            cwd: None,
            env: EnvSpec::default(),
            prompt: None,
            prompt_via: PromptVia::Stdin,
            timeout: None,
            kill_grace: Duration::from_secs(5),
            leak_timeout: Duration::from_millis(500),
            tail_bytes: 4096,
            artifact_cap: DEFAULT_ARTIFACT_CAP,
            echo: false,
            route: None,
            model: None,
            job: None,
            gate: None,
            rules: None,
            diagnostics: false,
            base_env: None,
            run_as: None,
            inherit_stdin: false,
            watch: super::watch::WatchSettings::default(),
            success: None,
        }
    }
}
