//! Stage 1, prepare: decide everything before anything runs.
//!
//! Builds the child's environment, checks the payload, the working directory
//! and the executable (with the child's PATH), and produces the
//! `runner_prepare` event. A dispatch that cannot run is refused here with its
//! class and a hint naming the facts — no process is spawned for it.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::class::Class;
use crate::classify::Classification;
use crate::envprint::{env_fingerprint, probe_credential_files};
use crate::events::Prepare;
use crate::home::Home;
use crate::redact::{Redactor, Secrets};
use crate::resolve::{find_elsewhere, resolve_program, ResolveFailure, Resolved};

use super::proctree::MARKER_VAR;
use super::prompt_arg::{check_prompt_arg, ExposedPrompt};
use super::{build_env, DispatchRequest, PromptVia};

/// Linux's limit on one argument (MAX_ARG_STRLEN).
const MAX_ARG_BYTES: usize = 128 * 1024;

/// The output of prepare: the event to record, and either what to launch or why not.
pub(super) struct Prepared {
    pub event: Prepare,
    pub outcome: Result<Ready, Classification>,
}

/// A dispatch that passed every pre-launch check.
pub(super) struct Ready {
    pub resolved: Resolved,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    pub stdin: Option<Vec<u8>>,
    pub prompt_file: Option<(PathBuf, Vec<u8>)>,
    pub redactor: Arc<Redactor>,
}

fn refuse(class: Class, rule: &str, evidence: String, hint: String) -> Classification {
    Classification {
        layer: crate::classify::Layer::Fact,
        class,
        rule: rule.to_string(),
        evidence: Some(evidence),
        repair_hint: hint,
        retry_after_secs: None,
        reset_at: None,
    }
}

/// The repository root: the nearest ancestor with a `.git` entry.
pub fn repo_root(cwd: &Path) -> Option<PathBuf> {
    cwd.ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
}

/// The working directory and environment the child of `req` would get.
fn child_context(req: &DispatchRequest) -> (PathBuf, BTreeMap<String, String>) {
    let parent_cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let cwd = match &req.cwd {
        Some(dir) => parent_cwd.join(dir),
        None => parent_cwd,
    };
    let mut env = match &req.base_env {
        Some(base) => build_env(&req.env, base.clone()),
        None => build_env(&req.env, crate::input::parent_env()),
    };
    // agentlane's own store URL may carry the database password: it is the
    // worker's, never the agent's.
    env.remove("AGENTLANE_STORE");
    if let Some(user) = &req.run_as {
        env.insert("HOME".into(), user.home.display().to_string());
        env.insert("USER".into(), user.name.clone());
        env.insert("LOGNAME".into(), user.name.clone());
    }
    (cwd, env)
}

/// Whether `uid`/`gid` may enter `dir` (search permission on it and every
/// ancestor), judged from the modes: root cannot test it with access(2).
fn user_can_enter(dir: &Path, uid: u32, gid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    dir.ancestors().all(|d| match std::fs::metadata(d) {
        Ok(m) => {
            let mode = m.mode();
            let bit = if m.uid() == uid {
                0o100
            } else if m.gid() == gid {
                0o010
            } else {
                0o001
            };
            uid == 0 || mode & bit != 0
        }
        Err(_) => false,
    })
}

/// What a dispatch of a request would find before launch, with nothing spawned or recorded.
#[derive(Debug, Clone)]
pub struct Precheck {
    /// The child's environment.
    pub env: BTreeMap<String, String>,
    /// The child's working directory.
    pub cwd: PathBuf,
    /// The resolved program, or the pre-launch class with its hint.
    pub outcome: Result<Resolved, Classification>,
}

/// The same working-directory and executable checks a dispatch makes, for preflight.
pub fn precheck(req: &DispatchRequest) -> Precheck {
    let (cwd, env) = child_context(req);
    let outcome = check_cwd(&cwd).and_then(|()| resolve(req, &env, &cwd));
    Precheck { env, cwd, outcome }
}

pub(super) fn prepare(req: &DispatchRequest, dispatch_id: &str, home: &Home) -> Prepared {
    let (cwd, mut env) = child_context(req);
    env.insert(MARKER_VAR.to_string(), dispatch_id.to_string());
    if let Some(job) = &req.job {
        env.insert("AGENTLANE_JOB_ID".to_string(), job.id.clone());
        env.insert("AGENTLANE_ATTEMPT".to_string(), job.attempt.to_string());
    }
    // The child's environment (env files are merged into it) and agentlane's
    // own: a payload or an error may echo a value the child was not given.
    let mut secrets = Secrets::from_env(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    secrets.add_process_env();
    let redactor = Arc::new(Redactor::new(&secrets));
    let child_home = env.get("HOME").map(PathBuf::from);
    let files = probe_credential_files(child_home.as_deref(), &env);
    let fingerprint = env_fingerprint(&env, &files, home.key());
    let cwd_exists = cwd.is_dir();
    let prompt_text = req.prompt.as_deref().map(String::from_utf8_lossy);
    let prompt = prompt_text.as_deref();
    let prompt_file_path = home.root().join("run").join(dispatch_id).join("prompt.txt");
    let (args, display_args) = substitute(&req.args, prompt, req.prompt_via, &prompt_file_path);

    let gate = match &req.gate {
        Some(refusal) => Err(refusal.clone()),
        None => Ok(()),
    };
    let outcome = gate
        .and_then(|()| check_payload(req))
        .and_then(|()| check_cwd(&cwd))
        .and_then(|()| check_cwd_for(req.run_as.as_ref(), &cwd))
        .and_then(|()| resolve(req, &env, &cwd));
    let resolved = outcome.as_ref().ok().cloned();
    let mut argv = vec![req.program.clone()];
    argv.extend(display_args.iter().map(|a| redactor.redact(a).into_owned()));
    let event = Prepare {
        dispatch_id: dispatch_id.to_string(),
        program: req.program.clone(),
        cli_path: resolved.as_ref().map(|r| r.path.clone()),
        interpreter: resolved
            .as_ref()
            .and_then(|r| r.interpreter.as_ref().map(|i| i.path.clone())),
        argv,
        cwd: cwd.clone(),
        cwd_exists,
        repo_root: repo_root(&cwd),
        prompt_bytes: prompt.map_or(0, |p| p.len() as u64),
        prompt_via: req.prompt_via.label().to_string(),
        timeout_ms: req.timeout.map(|t| t.as_millis() as u64),
        route: req.route.clone(),
        model: req.model.clone(),
        job_id: req.job.as_ref().map(|j| j.id.clone()),
        attempt: req.job.as_ref().map(|j| j.attempt),
        env_fingerprint: fingerprint,
        env_names: req.diagnostics.then(|| env.keys().cloned().collect()),
        host: Some(crate::os::host_name()),
    };
    let outcome = outcome.map(|resolved| {
        let bytes = req.prompt.clone();
        Ready {
            resolved,
            args,
            env,
            cwd,
            stdin: bytes.clone().filter(|_| req.prompt_via == PromptVia::Stdin),
            prompt_file: bytes
                .filter(|_| req.prompt_via == PromptVia::File)
                .map(|b| (prompt_file_path, b)),
            redactor,
        }
    });
    Prepared { event, outcome }
}

/// Substitutes `{prompt}` / `{prompt_file}` (or appends), returning the real
/// arguments and the ones to record (the prompt replaced by its size).
pub(super) fn substitute(
    args: &[String],
    prompt: Option<&str>,
    via: PromptVia,
    prompt_file: &Path,
) -> (Vec<String>, Vec<String>) {
    let Some(prompt) = prompt else {
        return (args.to_vec(), args.to_vec());
    };
    let shown = format!("<prompt: {} bytes>", prompt.len());
    let file = prompt_file.display().to_string();
    let (token, real, display) = match via {
        PromptVia::Stdin => return (args.to_vec(), args.to_vec()),
        PromptVia::Arg => ("{prompt}", prompt.to_string(), shown),
        PromptVia::File => ("{prompt_file}", file.clone(), file),
    };
    let mut real_args: Vec<String> = args.iter().map(|a| a.replace(token, &real)).collect();
    let mut display_args: Vec<String> = args.iter().map(|a| a.replace(token, &display)).collect();
    if !args.iter().any(|a| a.contains(token)) {
        real_args.push(real);
        display_args.push(display);
    }
    (real_args, display_args)
}

fn check_payload(req: &DispatchRequest) -> Result<(), Classification> {
    let invalid = |evidence: String, hint: &str| {
        Err(refuse(
            Class::PayloadInvalid,
            "fact.payload",
            evidence,
            hint.to_string(),
        ))
    };
    let uses_placeholder = req
        .args
        .iter()
        .any(|a| a.contains("{prompt}") || a.contains("{prompt_file}"));
    let Some(prompt) = &req.prompt else {
        if uses_placeholder {
            return invalid(
                "the arguments use {prompt} or {prompt_file} but no prompt was given".into(),
                "give the prompt with --prompt or --prompt-file, or remove the placeholder from the arguments",
            );
        }
        return Ok(());
    };
    let Ok(prompt) = std::str::from_utf8(prompt) else {
        return invalid("the prompt is not valid UTF-8 text".into(), "the payload must be text: fix the producer, or check the file's encoding (iconv -f LATIN1 -t UTF-8)");
    };
    if prompt.trim().is_empty() {
        return invalid("the prompt is empty".into(), "the producer sent an empty prompt: fix the job's payload (an empty prompt makes most CLIs wait for input or fail)");
    }
    if req.prompt_via == PromptVia::Arg {
        if prompt.contains('\0') {
            return invalid(
                "the prompt contains a NUL byte, which cannot be passed as an argument".into(),
                "remove the NUL byte, or deliver the prompt with --prompt-via stdin",
            );
        }
        if prompt.len() > MAX_ARG_BYTES {
            return invalid(
                format!("the prompt is {} bytes; one argument may hold at most {MAX_ARG_BYTES} bytes on Linux", prompt.len()),
                "deliver large prompts with --prompt-via stdin or --prompt-via file",
            );
        }
        if let Some(exposed) = check_prompt_arg(&req.args, prompt) {
            return invalid(exposed.evidence(prompt), ExposedPrompt::HINT);
        }
    }
    Ok(())
}

fn check_cwd_for(user: Option<&super::RunAs>, cwd: &Path) -> Result<(), Classification> {
    match user {
        Some(u) if !user_can_enter(cwd, u.uid, u.gid) => Err(refuse(
            Class::CwdMissing,
            "fact.cwd_user",
            format!("working directory {} cannot be entered by user {} (uid {})", cwd.display(), u.name, u.uid),
            format!("the service user {} cannot reach {}: give it search permission on the directory and its parents, or run the worker as the owner", u.name, cwd.display()),
        )),
        _ => Ok(()),
    }
}

fn check_cwd(cwd: &Path) -> Result<(), Classification> {
    let shown = cwd.display();
    let missing =
        |evidence: String, hint: String| Err(refuse(Class::CwdMissing, "fact.cwd", evidence, hint));
    match std::fs::metadata(cwd) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => missing(
            format!("cannot reach working directory {shown}: {e}"),
            format!("the worker's user (uid {}) cannot reach {shown}: fix the permissions of its parent directories", nix::unistd::getuid()),
        ),
        Err(_) => missing(
            format!("working directory {shown} does not exist"),
            format!("create or clone {shown} on this host, or fix the route's cwd (services resolve relative paths against their own working directory)"),
        ),
        Ok(meta) if !meta.is_dir() => missing(
            format!("working directory {shown} is not a directory"),
            format!("{shown} is a file: point cwd at the directory that contains the repository"),
        ),
        Ok(meta) => {
            let enterable = nix::unistd::access(cwd, nix::unistd::AccessFlags::X_OK).is_ok();
            if enterable {
                return Ok(());
            }
            missing(
                format!("working directory {shown} cannot be entered (mode {:o})", meta.permissions().mode() & 0o7777),
                format!("the worker's user (uid {}) cannot enter {shown}: fix its permissions or run the worker as its owner", nix::unistd::getuid()),
            )
        }
    }
}

fn resolve(
    req: &DispatchRequest,
    env: &BTreeMap<String, String>,
    cwd: &Path,
) -> Result<Resolved, Classification> {
    let child_path = env.get("PATH").map(String::as_str);
    resolve_program(&req.program, child_path, cwd).map_err(|failure| explain_resolve(failure, env))
}

fn elsewhere_hint(program: &str, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    let child_home = env.get("HOME").map(PathBuf::from);
    let parent_home = std::env::var_os("HOME").map(PathBuf::from);
    let mut homes: Vec<&Path> = Vec::new();
    homes.extend(child_home.as_deref());
    homes.extend(
        parent_home
            .as_deref()
            .filter(|p| Some(*p) != child_home.as_deref()),
    );
    let parent_path = std::env::var("PATH").ok();
    find_elsewhere(program, &homes, parent_path.as_deref())
        .into_iter()
        .next()
}

fn explain_resolve(failure: ResolveFailure, env: &BTreeMap<String, String>) -> Classification {
    let shown_path = |p: &Option<String>| p.clone().unwrap_or_else(|| "<PATH unset>".into());
    match failure {
        ResolveFailure::NotFound { program, .. } if program.contains('/') => refuse(
            Class::CliMissing,
            "fact.cli_missing",
            format!("'{program}' does not exist"),
            format!("'{program}' does not exist (relative paths are taken from the working directory): install the CLI there or fix the route's program"),
        ),
        ResolveFailure::NotFound { program, path_var } => {
            let evidence = format!("'{program}' is not on the child's PATH ({})", shown_path(&path_var));
            let hint = match elsewhere_hint(&program, env) {
                Some(found) => format!(
                    "'{program}' is not on this process's PATH ({}); found at {} — add {} to the worker's PATH or set the route's program to the absolute path",
                    shown_path(&path_var),
                    found.display(),
                    found.parent().unwrap_or(Path::new("/")).display()
                ),
                None => format!(
                    "'{program}' is not on this process's PATH ({}) nor in the usual install places (~/.local/bin, ~/.npm-global/bin, /usr/local/bin, /opt/homebrew/bin, ~/.cargo/bin, nvm): install it for the worker's user or set the program to its absolute path",
                    shown_path(&path_var)
                ),
            };
            refuse(Class::CliMissing, "fact.cli_missing", evidence, hint)
        }
        ResolveFailure::IsDirectory(path) => refuse(
            Class::CliNotExecutable,
            "fact.cli_is_directory",
            format!("{} is a directory", path.display()),
            format!("{} is a directory, not a program: point the program at the executable inside it", path.display()),
        ),
        ResolveFailure::NotExecutable(path) => {
            let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0);
            refuse(
                Class::CliNotExecutable,
                "fact.cli_not_executable",
                format!("{} is not executable (mode {mode:o})", path.display()),
                format!("{} lacks execute permission for uid {} (mode {mode:o}): `chmod +x {}` or point the program at the real executable", path.display(), nix::unistd::getuid(), path.display()),
            )
        }
        ResolveFailure::UnknownFormat(path) => refuse(
            Class::CliNotExecutable,
            "fact.cli_unknown_format",
            format!("{} is neither a binary for this machine nor a script with a #! line", path.display()),
            format!("{} cannot be executed here (wrong platform, a truncated download, or a data file with an exec bit): reinstall the CLI for this machine or point the program at the real executable", path.display()),
        ),
        ResolveFailure::InterpreterMissing { script, shebang, command, path_var } => {
            let evidence = format!("{} starts with '#!{shebang}' and '{command}' does not resolve on the child's PATH ({})", script.display(), shown_path(&path_var));
            let found = if command.contains('/') { None } else { elsewhere_hint(&command, env) };
            let hint = match found {
                Some(found) => format!(
                    "{} is a script for '{command}', which is not on the child's PATH ({}); found {command} at {} — add {} to the worker's PATH",
                    script.display(),
                    shown_path(&path_var),
                    found.display(),
                    found.parent().unwrap_or(Path::new("/")).display()
                ),
                None => format!(
                    "{} is a script for '{command}', which is not installed where the child can find it (PATH {}): install {command} or fix the shebang",
                    script.display(),
                    shown_path(&path_var)
                ),
            };
            refuse(Class::InterpreterMissing, "fact.interpreter_missing", evidence, hint)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_via_arg_substitutes_or_appends_and_records_only_the_size() {
        let f = Path::new("/h/run/x/prompt.txt");
        let (real, shown) = substitute(
            &["-p".into(), "{prompt}".into()],
            Some("hello"),
            PromptVia::Arg,
            f,
        );
        assert_eq!(real, vec!["-p", "hello"]);
        assert_eq!(shown, vec!["-p", "<prompt: 5 bytes>"]);
        let (real, _) = substitute(&["exec".into()], Some("hi"), PromptVia::Arg, f);
        assert_eq!(real, vec!["exec", "hi"]);
        let (real, _) = substitute(
            &["--file={prompt_file}".into()],
            Some("hi"),
            PromptVia::File,
            f,
        );
        assert_eq!(real, vec!["--file=/h/run/x/prompt.txt"]);
        let (real, _) = substitute(&["x".into()], Some("hi"), PromptVia::Stdin, f);
        assert_eq!(real, vec!["x"]);
    }

    #[test]
    fn repo_root_walks_up_to_git() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("r/.git")).unwrap();
        std::fs::create_dir_all(t.path().join("r/a/b")).unwrap();
        assert_eq!(repo_root(&t.path().join("r/a/b")), Some(t.path().join("r")));
    }
}
