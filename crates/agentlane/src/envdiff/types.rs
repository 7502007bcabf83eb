//! The environments compared and what their comparison reports.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// An environment: names to values.
pub type Env = BTreeMap<String, String>;

/// Variables whose values are shown (they are not secret, and they differ for a reason).
pub const IDENTITY_VARS: &[&str] = &["HOME", "USER", "TMPDIR"];

/// Variables a shell sets for itself; they differ everywhere and decide nothing.
pub const SHELL_NOISE: &[&str] = &["_", "SHLVL", "PWD", "OLDPWD"];

/// How long the login shell may take to print its environment.
pub const CAPTURE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the login shell's environment could not be captured.
#[derive(Debug, thiserror::Error)]
pub enum EnvDiffError {
    /// The shell could not be started.
    #[error("cannot run the login shell {shell}: {source}; set SHELL to a working shell")]
    Spawn {
        /// The shell.
        shell: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The shell did not finish in time.
    #[error("the login shell {shell} did not print its environment within {}s: a profile script may wait for input or the network; make it return quickly for non-interactive shells", .timeout.as_secs())]
    Timeout {
        /// The shell.
        shell: String,
        /// The limit.
        timeout: Duration,
    },
    /// The shell ran but printed no environment.
    #[error(
        "the login shell {shell} exited ({status}) without printing its environment: {stderr}"
    )]
    NoOutput {
        /// The shell.
        shell: String,
        /// Its exit status.
        status: String,
        /// The end of its stderr (token shapes redacted).
        stderr: String,
    },
}

/// Where a route's program resolves in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// The program as the route names it.
    pub program: String,
    /// The executable found.
    pub path: Option<PathBuf>,
    /// The shebang's command (`node`), when the program is a script.
    pub interpreter: Option<String>,
    /// Where that command resolved.
    pub interpreter_path: Option<PathBuf>,
    /// Why it does not resolve.
    pub error: Option<String>,
}

/// One environment and what was found in it.
#[derive(Debug, Clone)]
pub struct Side {
    /// What it is ("shell", "worker", "service unit").
    pub label: String,
    /// Its variables.
    pub env: Env,
    /// Where the route's program resolves, when a route was given.
    pub resolution: Option<Resolution>,
    /// Credential files (`~/...`) and whether each exists under this side's HOME.
    pub credential_files: BTreeMap<String, bool>,
}

/// A variable present on one side only: its name and keyed hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VarPresence {
    /// The name.
    pub name: String,
    /// Whether the name says the value is a secret.
    pub secret: bool,
    /// Keyed hash of the value.
    pub hash: String,
}

/// A variable set on both sides to different values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VarChange {
    /// The name.
    pub name: String,
    /// Whether the name says the value is a secret.
    pub secret: bool,
    /// Keyed hash of side a's value.
    pub hash_a: String,
    /// Keyed hash of side b's value.
    pub hash_b: String,
}

/// PATH entries on each side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathDiff {
    /// Side a's entries, in order.
    pub a: Vec<String>,
    /// Side b's entries, in order.
    pub b: Vec<String>,
    /// Entries of b that a lacks.
    pub missing_from_a: Vec<String>,
    /// Entries of a that b lacks.
    pub missing_from_b: Vec<String>,
    /// Whether both are the same list.
    pub same: bool,
}

/// HOME, USER or TMPDIR on each side (values shown: not secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityVar {
    /// The name.
    pub name: String,
    /// Side a's value.
    pub a: Option<String>,
    /// Side b's value.
    pub b: Option<String>,
    /// Whether they are equal.
    pub same: bool,
}

/// Where the route's program resolves on each side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolutionDiff {
    /// Side a.
    pub a: Resolution,
    /// Side b.
    pub b: Resolution,
    /// Whether both resolve to the same executable and interpreter.
    pub same: bool,
}

/// One credential file's visibility on each side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileVisibility {
    /// The file, relative to HOME (`~/...`).
    pub file: String,
    /// Exists under side a's HOME.
    pub a: bool,
    /// Exists under side b's HOME.
    pub b: bool,
}

/// The differences between two environments. Holds no secret value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvDiff {
    /// Side a's label.
    pub a: String,
    /// Side b's label.
    pub b: String,
    /// Variables only side a has.
    pub only_in_a: Vec<VarPresence>,
    /// Variables only side b has.
    pub only_in_b: Vec<VarPresence>,
    /// Variables both have, with different values.
    pub differs: Vec<VarChange>,
    /// PATH entries.
    pub path: PathDiff,
    /// HOME, USER, TMPDIR.
    pub identity: Vec<IdentityVar>,
    /// The route's program, when a route was given.
    pub resolution: Option<ResolutionDiff>,
    /// Credential files visible on each side.
    pub credential_files: Vec<FileVisibility>,
    /// The differing variables by group (credentials, network, other, harmless).
    pub groups: super::Groups,
}

impl EnvDiff {
    /// Whether anything that can change how an agent runs differs.
    pub fn has_differences(&self) -> bool {
        // Harmless variables (terminal, shell, session) decide nothing.
        !self.groups.credentials.is_empty()
            || !self.groups.network.is_empty()
            || !self.groups.other.is_empty()
            || !self.path.same
            || self.identity.iter().any(|i| !i.same)
            || self.resolution.as_ref().is_some_and(|r| !r.same)
            || self.credential_files.iter().any(|f| f.a != f.b)
    }
}
