//! Stage 2, launch: spawn the child, never through a shell.
//!
//! The resolved absolute path is executed directly (argv[0] keeps the name
//! the user gave), in a new process group, with exactly the prepared
//! environment, by posix_spawn. The group is registered with the death
//! guard, so it dies with its dispatcher (guard.rs). Artifact files are
//! created 0600 in a 0700 directory when their stream first prints
//! (capture.rs).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

use crate::class::Class;
use crate::classify::Classification;
use crate::home::{private_dir, Home};
use crate::redact::Redactor;

use super::capture::ArtifactFile;
use super::guard::Guard;
use super::prepare::Ready;
use super::proctree::{pipe_inode, MARKER_VAR};
use super::{DispatchError, DispatchRequest};

/// A launched child and everything supervision needs.
pub(super) struct Running {
    pub child: Child,
    pub pid: i32,
    pub stdin: Option<(ChildStdin, Vec<u8>)>,
    pub stdout: ChildStdout,
    pub stderr: ChildStderr,
    pub pipe_inodes: Vec<u64>,
    pub stdout_file: ArtifactFile,
    pub stderr_file: ArtifactFile,
    pub redactor: Arc<Redactor>,
    pub started: Instant,
    pub run_dir: Option<PathBuf>,
    pub marker: String,
    pub child_home: Option<String>,
    pub child_path: Option<String>,
    /// The child's `TZ`: the zone its CLI prints local times in.
    pub child_tz: Option<String>,
    /// The dispatch's artifact directory (created on first use).
    pub artifact_dir: PathBuf,
}

pub(super) enum LaunchError {
    /// The program could not be executed: a classified result.
    Refused(Classification),
    /// agentlane itself failed.
    Agentlane(DispatchError),
}

fn private_file(path: &Path) -> Result<File, LaunchError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| {
            LaunchError::Agentlane(DispatchError::Artifacts {
                path: path.to_path_buf(),
                source,
            })
        })
}

fn artifact_dir(dir: &Path) -> Result<(), LaunchError> {
    private_dir(dir).map_err(|e| {
        LaunchError::Agentlane(DispatchError::Artifacts {
            path: dir.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })
    })
}

fn spawn_failure(err: &std::io::Error, ready: &Ready, program: &str) -> Option<Classification> {
    let path = ready.resolved.path.display();
    let (class, rule, evidence, hint) = match err.raw_os_error()? {
        libc::ENOENT => (
            Class::CliMissing,
            "fact.spawn_enoent",
            format!("execve({path}) failed: {err}"),
            format!("{path} disappeared between resolution and launch, or its ELF interpreter (dynamic loader) is missing: reinstall '{program}'"),
        ),
        libc::EACCES => (
            Class::CliNotExecutable,
            "fact.spawn_eacces",
            format!("execve({path}) failed: {err}"),
            format!("{path} cannot be executed by this user (permissions, or a noexec mount): fix its mode or mount options"),
        ),
        libc::ENOEXEC => (
            Class::CliNotExecutable,
            "fact.spawn_enoexec",
            format!("execve({path}) failed: {err}"),
            format!("{path} is neither a binary for this machine nor a script with a #! line: reinstall '{program}' for this platform or add a shebang"),
        ),
        libc::E2BIG => (
            Class::PayloadInvalid,
            "fact.spawn_e2big",
            format!("execve({path}) failed: {err}"),
            e2big_hint(ready),
        ),
        _ => return None,
    };
    Some(Classification {
        layer: crate::classify::Layer::Fact,
        class,
        rule: rule.to_string(),
        evidence: Some(evidence),
        repair_hint: hint,
        retry_after_secs: None,
        reset_at: None,
    })
}

/// Says which of the two is large: a long prompt delivered as an argument, or
/// an environment swollen by env files or the worker's own variables.
fn e2big_hint(ready: &Ready) -> String {
    let args: usize = ready.args.iter().map(|a| a.len() + 1).sum();
    let env: usize = ready.env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let longest = ready.args.iter().map(String::len).max().unwrap_or(0);
    let fix = if longest >= 128 * 1024 || args >= env {
        "deliver the prompt with prompt_via = \"stdin\" or \"file\" (exec: --prompt-via)"
    } else {
        "trim the child's environment (env files, the route's env, the worker's own variables)"
    };
    format!(
        "the arguments ({args} bytes, the longest {longest}) and the environment ({env} bytes) exceed the kernel's limit for one exec (ARG_MAX, and 128 KiB per argument): {fix}"
    )
}

pub(super) fn launch(
    ready: Ready,
    req: &DispatchRequest,
    home: &Home,
    running: &Arc<Mutex<HashSet<i32>>>,
    guard: Option<&Guard>,
) -> Result<Running, LaunchError> {
    let marker = ready.env.get(MARKER_VAR).cloned().unwrap_or_default();
    let dir = home.artifact_dir(&marker);
    let run_dir = match &ready.prompt_file {
        Some((path, bytes)) => {
            let parent = path.parent().unwrap_or(Path::new("/")).to_path_buf();
            artifact_dir(&parent)?;
            let mut f = private_file(path)?;
            std::io::Write::write_all(&mut f, bytes).map_err(|source| {
                LaunchError::Agentlane(DispatchError::Artifacts {
                    path: path.clone(),
                    source,
                })
            })?;
            Some(parent)
        }
        None => None,
    };

    let mut cmd = Command::new(&ready.resolved.path);
    cmd.arg0(&req.program)
        .args(&ready.args)
        .env_clear()
        .envs(&ready.env)
        .current_dir(&ready.cwd)
        .stdin(if ready.stdin.is_some() {
            Stdio::piped()
        } else if req.inherit_stdin {
            // The child reads agentlane's stdin itself: nothing is buffered
            // here, and a child that never reads it cannot block us.
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    if let Some(user) = &req.run_as {
        cmd.uid(user.uid).gid(user.gid);
    }
    // No code between fork and exec: std spawns with posix_spawn (a vfork,
    // no copy of this process), and the death guard, not a parent-death
    // signal, kills the agent's group if this process dies (guard.rs).
    // Hold the registry of running children across the spawn: a reaper of
    // adopted orphans (another dispatch finishing) must never see this child
    // exit before it is registered, or it would reap it from under tokio.
    let mut registry = running.lock().unwrap_or_else(|p| p.into_inner());
    // Armed before the spawn: if this process dies before the group is
    // registered, the guard still finds the agent by its marker.
    if let Some(guard) = guard {
        guard.arm(&marker);
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) => {
            if let Some(guard) = guard {
                guard.forget(&marker);
            }
            if let Some(dir) = &run_dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            return Err(match spawn_failure(&err, &ready, &req.program) {
                Some(classified) => LaunchError::Refused(classified),
                None => LaunchError::Agentlane(DispatchError::Spawn {
                    program: req.program.clone(),
                    source: err,
                }),
            });
        }
    };
    let started = Instant::now();
    let pid = child.id().map_or(0, |p| p as i32);
    if let Some(guard) = guard {
        guard.watch(&marker, pid);
    }
    registry.insert(pid);
    drop(registry);
    // Both are piped by the spawn above; tokio hands each out once.
    #[allow(clippy::expect_used, reason = "the spawn above pipes both streams")]
    let (stdout, stderr) = (
        child.stdout.take().expect("stdout is piped"),
        child.stderr.take().expect("stderr is piped"),
    );
    crate::os::widen_pipe(stdout.as_raw_fd());
    crate::os::widen_pipe(stderr.as_raw_fd());
    let pipe_inodes = [stdout.as_raw_fd(), stderr.as_raw_fd()]
        .into_iter()
        .filter_map(pipe_inode)
        .collect();
    let stdin = match (child.stdin.take(), ready.stdin) {
        (Some(pipe), Some(bytes)) => Some((pipe, bytes)),
        _ => None,
    };
    Ok(Running {
        child,
        pid,
        stdin,
        stdout,
        stderr,
        pipe_inodes,
        stdout_file: ArtifactFile::lazy(dir.join("stdout.log"), req.artifact_cap),
        stderr_file: ArtifactFile::lazy(dir.join("stderr.log"), req.artifact_cap),
        redactor: ready.redactor,
        started,
        run_dir,
        marker,
        child_home: ready.env.get("HOME").cloned(),
        child_path: ready.env.get("PATH").cloned(),
        child_tz: ready.env.get("TZ").cloned(),
        artifact_dir: dir,
    })
}
