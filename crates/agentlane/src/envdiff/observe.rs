//! Observing an environment: where a program resolves in it and which
//! credential files its HOME holds (the filesystem edge).

use crate::config::Route;
use crate::envprint::CREDENTIAL_FILES;
use crate::resolve::{resolve_program, ResolveFailure};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;

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
