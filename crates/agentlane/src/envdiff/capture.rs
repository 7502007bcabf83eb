//! Capturing a login shell's environment (the process edge) and parsing
//! `env` and `env -0` output.

use crate::redact::Redactor;
use std::process::Stdio;
use std::time::Duration;

use super::*;

const BEGIN: &str = "__AGENTLANE_ENV_BEGIN__";
const END: &str = "__AGENTLANE_ENV_END__";

pub(super) fn is_env_name(name: &str) -> bool {
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

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub(super) fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
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
