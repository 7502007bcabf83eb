//! Environment parity: why does the agent run in my shell but not in the worker?
//!
//! The answer is nearly always a difference between two environments — the
//! login shell's (`$SHELL -lc env`, where nvm and `~/.local/bin` were added
//! to PATH and the API key was exported) and the worker's or a service
//! unit's. [`diff`] names those differences: variables present in one and not
//! the other, PATH entries missing from each, where the route's program and
//! its interpreter resolve in each, HOME/USER/TMPDIR, and the credential
//! files visible under each HOME.
//!
//! Values are never shown except HOME, USER, TMPDIR and PATH entries (which
//! are not secret and are what an operator needs): every other variable is
//! reported by name, presence and a keyed hash (the per-install key of
//! [`crate::home::Home`]), so two hashes say "same" or "different" without
//! saying what.
//!
//! [`diff`] is pure; [`observe`] (filesystem) and [`capture_shell_env`] (a
//! process) are the edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;

use crate::config::Route;
use crate::envprint::{keyed_hash, CREDENTIAL_FILES};
use crate::redact::{is_secret_name, Redactor};
use crate::resolve::{resolve_program, ResolveFailure};

/// An environment: names to values.
pub type Env = BTreeMap<String, String>;

/// Variables whose values are shown (they are not secret, and they differ for a reason).
pub const IDENTITY_VARS: &[&str] = &["HOME", "USER", "TMPDIR"];

/// Variables a shell sets for itself; they differ everywhere and decide nothing.
pub const SHELL_NOISE: &[&str] = &["_", "SHLVL", "PWD", "OLDPWD"];

/// How long the login shell may take to print its environment.
pub const CAPTURE_TIMEOUT: Duration = Duration::from_secs(5);

const BEGIN: &str = "__AGENTLANE_ENV_BEGIN__";
const END: &str = "__AGENTLANE_ENV_END__";

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
}

impl EnvDiff {
    /// Whether anything that can change how an agent runs differs.
    pub fn has_differences(&self) -> bool {
        !self.only_in_a.is_empty()
            || !self.only_in_b.is_empty()
            || !self.differs.is_empty()
            || !self.path.same
            || self.identity.iter().any(|i| !i.same)
            || self.resolution.as_ref().is_some_and(|r| !r.same)
            || self.credential_files.iter().any(|f| f.a != f.b)
    }
}

fn path_entries(env: &Env) -> Vec<String> {
    env.get("PATH")
        .map(|p| p.split(':').map(str::to_string).collect())
        .unwrap_or_default()
}

fn missing(from: &[String], present: &[String]) -> Vec<String> {
    let have: BTreeSet<&String> = from.iter().collect();
    let mut out: Vec<String> = Vec::new();
    for entry in present {
        if !have.contains(entry) && !out.contains(entry) {
            out.push(entry.clone());
        }
    }
    out
}

/// Compares two environments. Pure; `key` keys the value hashes.
pub fn diff(a: &Side, b: &Side, key: &[u8; 32]) -> EnvDiff {
    let hash = |v: &str| keyed_hash(key, v.as_bytes());
    let shown_apart =
        |n: &str| n == "PATH" || IDENTITY_VARS.contains(&n) || SHELL_NOISE.contains(&n);
    let only = |x: &Env, y: &Env| -> Vec<VarPresence> {
        x.iter()
            .filter(|(k, _)| !shown_apart(k) && !y.contains_key(*k))
            .map(|(k, v)| VarPresence {
                name: k.clone(),
                secret: is_secret_name(k),
                hash: hash(v),
            })
            .collect()
    };
    let differs = a
        .env
        .iter()
        .filter(|(k, _)| !shown_apart(k))
        .filter_map(|(k, va)| {
            let vb = b.env.get(k).filter(|vb| *vb != va)?;
            Some(VarChange {
                name: k.clone(),
                secret: is_secret_name(k),
                hash_a: hash(va),
                hash_b: hash(vb),
            })
        })
        .collect();
    let (pa, pb) = (path_entries(&a.env), path_entries(&b.env));
    EnvDiff {
        a: a.label.clone(),
        b: b.label.clone(),
        only_in_a: only(&a.env, &b.env),
        only_in_b: only(&b.env, &a.env),
        differs,
        path: PathDiff {
            missing_from_a: missing(&pa, &pb),
            missing_from_b: missing(&pb, &pa),
            same: pa == pb,
            a: pa,
            b: pb,
        },
        identity: IDENTITY_VARS
            .iter()
            .map(|n| {
                let (va, vb) = (a.env.get(*n).cloned(), b.env.get(*n).cloned());
                IdentityVar {
                    name: n.to_string(),
                    same: va == vb,
                    a: va,
                    b: vb,
                }
            })
            .collect(),
        resolution: match (&a.resolution, &b.resolution) {
            (Some(ra), Some(rb)) => Some(ResolutionDiff {
                same: ra.path == rb.path
                    && ra.interpreter_path == rb.interpreter_path
                    && ra.error.is_none() == rb.error.is_none(),
                a: ra.clone(),
                b: rb.clone(),
            }),
            _ => None,
        },
        credential_files: file_visibility(&a.credential_files, &b.credential_files),
    }
}

fn file_visibility(a: &BTreeMap<String, bool>, b: &BTreeMap<String, bool>) -> Vec<FileVisibility> {
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names
        .into_iter()
        .map(|f| FileVisibility {
            file: f.clone(),
            a: a.get(f).copied().unwrap_or(false),
            b: b.get(f).copied().unwrap_or(false),
        })
        .collect()
}

/// Says why a program does not resolve. Pure.
pub fn describe_failure(failure: &ResolveFailure) -> String {
    match failure {
        ResolveFailure::NotFound { program, .. } if program.contains('/') => {
            format!("'{program}' does not exist")
        }
        ResolveFailure::NotFound { program, path_var } => match path_var {
            Some(_) => format!("'{program}' is not on this PATH"),
            None => format!("'{program}' cannot be found: PATH is unset"),
        },
        ResolveFailure::IsDirectory(p) => format!("{} is a directory", p.display()),
        ResolveFailure::NotExecutable(p) => format!("{} is not executable", p.display()),
        ResolveFailure::UnknownFormat(p) => {
            format!("{} is neither a binary nor a #! script", p.display())
        }
        ResolveFailure::InterpreterMissing {
            script, command, ..
        } => format!(
            "{} needs '{command}', which is not on this PATH",
            script.display()
        ),
    }
}

/// Where `program` resolves with `env`'s PATH from `cwd`.
pub fn resolution(program: &str, env: &Env, cwd: &Path) -> Resolution {
    let mut r = Resolution {
        program: program.to_string(),
        path: None,
        interpreter: None,
        interpreter_path: None,
        error: None,
    };
    match resolve_program(program, env.get("PATH").map(String::as_str), cwd) {
        Ok(found) => {
            r.path = Some(found.path);
            if let Some(i) = found.interpreter {
                r.interpreter = Some(i.command);
                r.interpreter_path = Some(i.path);
            }
        }
        Err(failure) => {
            if let ResolveFailure::InterpreterMissing {
                script, command, ..
            } = &failure
            {
                r.path = Some(script.clone());
                r.interpreter = Some(command.clone());
            }
            r.error = Some(describe_failure(&failure));
        }
    }
    r
}

/// Which of `files` (relative to HOME) exist under `env`'s HOME, keyed `~/file`.
pub fn credential_files(files: &[&str], env: &Env) -> BTreeMap<String, bool> {
    let home = env.get("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    files
        .iter()
        .map(|rel| {
            let exists = home.as_ref().is_some_and(|h| h.join(rel).exists());
            (format!("~/{rel}"), exists)
        })
        .collect()
}

/// Gathers the facts of one environment: where the route's program resolves
/// (from the route's working directory, else `cwd`) and which credential
/// files — the route profile's, else every known CLI's — exist under its HOME.
pub fn observe(label: &str, env: Env, route: Option<&Route>, cwd: &Path) -> Side {
    let files: Vec<&str> = match route {
        Some(r) => r.profile.credential_files.to_vec(),
        None => CREDENTIAL_FILES.to_vec(),
    };
    let resolution = route.map(|r| {
        let dir = r
            .cwd
            .as_ref()
            .map_or_else(|| cwd.to_path_buf(), |c| cwd.join(c));
        resolution(&r.program, &env, &dir)
    });
    Side {
        label: label.to_string(),
        credential_files: credential_files(&files, &env),
        resolution,
        env,
    }
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses `env -0` output: NUL-separated `KEY=VALUE` records. Pure.
pub fn parse_env0(text: &str) -> Env {
    text.split('\0')
        .filter_map(|record| record.split_once('='))
        .filter(|(k, _)| is_env_name(k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Parses `env` output: a line that does not start with `NAME=` continues
/// the previous value (values may hold newlines). Pure.
pub fn parse_env_lines(text: &str) -> Env {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut env = Env::new();
    let mut last: Option<String> = None;
    for line in text.split('\n') {
        match line.split_once('=').filter(|(k, _)| is_env_name(k)) {
            Some((k, v)) => {
                env.insert(k.to_string(), v.to_string());
                last = Some(k.to_string());
            }
            None => {
                if let Some(value) = last.as_ref().and_then(|k| env.get_mut(k)) {
                    value.push('\n');
                    value.push_str(line);
                }
            }
        }
    }
    env
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// Extracts the environment from the capture script's output, ignoring
/// whatever profile scripts print around it. `None` when the markers are
/// missing. Pure.
pub fn parse_capture(stdout: &[u8]) -> Option<Env> {
    let begin = format!("{BEGIN}\n");
    let start = find(stdout, begin.as_bytes())? + begin.len();
    let body = &stdout[start..];
    let end = rfind(body, format!("\n{END}").as_bytes()).unwrap_or(body.len());
    let body = &body[..end];
    let text = String::from_utf8_lossy(body);
    Some(if body.contains(&0) {
        parse_env0(&text)
    } else {
        parse_env_lines(&text)
    })
}

/// The script run by the login shell: `env -0` where it exists, else `env`,
/// between markers.
pub fn capture_script() -> String {
    format!("printf '%s\\n' {BEGIN}; env -0 2>/dev/null || env; printf '\\n%s\\n' {END}")
}

/// The login shell: `$SHELL`, else `/bin/sh`.
pub fn login_shell(env: &Env) -> String {
    env.get("SHELL")
        .filter(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| "/bin/sh".to_string())
}

/// Runs `SHELL -lc` with the capture script (stdin closed, own process
/// group, killed with its children after `timeout`) and parses its output.
pub async fn capture_shell_env(shell: &str, timeout: Duration) -> Result<Env, EnvDiffError> {
    let mut cmd = tokio::process::Command::new(shell);
    cmd.arg("-lc")
        .arg(capture_script())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let spawn_err = |source| EnvDiffError::Spawn {
        shell: shell.to_string(),
        source,
    };
    let child = cmd.spawn().map_err(spawn_err)?;
    let pid = child.id();
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(result) => result.map_err(spawn_err)?,
        Err(_) => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            return Err(EnvDiffError::Timeout {
                shell: shell.to_string(),
                timeout,
            });
        }
    };
    parse_capture(&output.stdout).ok_or_else(|| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr
            .trim()
            .chars()
            .rev()
            .take(400)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        EnvDiffError::NoOutput {
            shell: shell.to_string(),
            status: output.status.to_string(),
            stderr: Redactor::shapes_only().redact(&tail).into_owned(),
        }
    })
}

#[cfg(test)]
mod tests;
