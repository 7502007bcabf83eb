//! The readiness checks of a preflight, in the order they are judged.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::class::Class;
use crate::classify::Classification;
use crate::config::profile::ConfigFormat;
use crate::config::{Route, CANARY_PROMPT};
use crate::dispatch::{DispatchError, DispatchReport, Dispatcher, Interrupt};
use crate::events::Check;

use super::Options;

/// A failed check: the class it maps to, its evidence and the repair hint.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub class: Class,
    pub evidence: String,
    pub hint: String,
}

impl Failure {
    pub fn from_classification(c: &Classification) -> Failure {
        Failure {
            class: c.class,
            evidence: c.evidence.clone().unwrap_or_default(),
            hint: c.repair_hint.clone(),
        }
    }
}

pub(super) fn ok(name: &str, detail: String) -> Check {
    Check {
        name: name.to_string(),
        ok: true,
        detail,
    }
}

pub(super) fn failed(name: &str, f: &Failure) -> Check {
    Check {
        name: name.to_string(),
        ok: false,
        detail: format!("{}: {}", f.class, f.evidence),
    }
}

/// What the readiness checks need.
pub(super) struct Context<'a> {
    pub route: &'a Route,
    pub env: &'a BTreeMap<String, String>,
    pub cwd: &'a Path,
    pub dispatcher: &'a Dispatcher,
    pub timeout: Duration,
    pub interrupt: Interrupt,
}

/// Runs the readiness checks; returns the first failure (all checks are recorded).
pub(super) async fn readiness(
    ctx: &Context<'_>,
    options: Options,
    checks: &mut Vec<Check>,
    probes: &mut Vec<String>,
) -> Result<Option<Failure>, DispatchError> {
    let mut first: Option<Failure> = None;
    let mut record =
        |name: &str, result: Result<String, Failure>, first: &mut Option<Failure>| match result {
            Ok(detail) => checks.push(ok(name, detail)),
            Err(f) => {
                checks.push(failed(name, &f));
                first.get_or_insert(f);
            }
        };
    record("config_files", config_files(ctx), &mut first);
    record("temp_dir", temp_dir(ctx), &mut first);
    record("cwd_writable", cwd_writable(ctx), &mut first);
    if first.is_some() {
        return Ok(first);
    }
    if !ctx.route.profile.version_args.is_empty() {
        let args = ctx
            .route
            .profile
            .version_args
            .iter()
            .map(|s| s.to_string())
            .collect();
        let report = probe(ctx, args, probes).await?;
        let result = if report.classifier == Class::Ok {
            Ok(first_line(&report.stdout_tail)
                .unwrap_or("(no output)")
                .to_string())
        } else {
            Err(probe_failure(&report, "the version command failed"))
        };
        record("version", result, &mut first);
    }
    record("auth_material", auth_material(ctx), &mut first);
    if first.is_none() {
        if let Some(args) = ctx.route.profile.auth_status_args {
            let report = probe(ctx, args.iter().map(|s| s.to_string()).collect(), probes).await?;
            let result = if report.classifier == Class::Ok {
                Ok(first_line(&report.stdout_tail)
                    .or(first_line(&report.stderr_tail))
                    .unwrap_or("logged in")
                    .to_string())
            } else {
                let mut f = probe_failure(&report, "the CLI's auth-status command failed");
                if matches!(f.class, Class::UnknownExit(_)) {
                    f.class = Class::AuthUnavailable;
                    f.hint = format!(
                        "`{} {}` says this environment is not logged in (HOME={}): log in as the worker's user with that HOME, or give the route an API key variable",
                        ctx.route.program,
                        args.join(" "),
                        ctx.env.get("HOME").map_or("<unset>", String::as_str)
                    );
                }
                Err(f)
            };
            record("auth_status", result, &mut first);
        }
    }
    if first.is_none() && options.canary {
        let mut req = ctx.route.canary_request(Some(ctx.timeout));
        req.echo = false;
        let report = ctx.dispatcher.dispatch(req, ctx.interrupt.clone()).await?;
        probes.push(report.dispatch_id.clone());
        let said_ok = report
            .stdout_tail
            .to_ascii_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == "ok");
        let result = match (report.classifier, said_ok) {
            (Class::Ok, true) => Ok(format!("the canary ({CANARY_PROMPT:?}) returned ok")),
            (Class::Ok, false) => Err(Failure {
                class: Class::UnknownExit(0),
                evidence: format!(
                    "the canary exited 0 but did not answer ok: {}",
                    first_line(&report.stdout_tail).unwrap_or("(no output)")
                ),
                hint: format!(
                    "look at the canary's output: agentlane show {}",
                    report.dispatch_id
                ),
            }),
            _ => Err(probe_failure(&report, "the canary failed")),
        };
        record("canary", result, &mut first);
    }
    Ok(first)
}

fn first_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|l| !l.is_empty())
}

async fn probe(
    ctx: &Context<'_>,
    args: Vec<String>,
    probes: &mut Vec<String>,
) -> Result<DispatchReport, DispatchError> {
    let mut req = ctx.route.probe_request(args, ctx.timeout);
    req.rules = ctx.route.rules.clone().map(std::sync::Arc::new);
    let report = ctx.dispatcher.dispatch(req, ctx.interrupt.clone()).await?;
    probes.push(report.dispatch_id.clone());
    Ok(report)
}

fn probe_failure(report: &DispatchReport, what: &str) -> Failure {
    Failure {
        class: report.classifier,
        evidence: format!(
            "{what}: {}",
            report.evidence.clone().unwrap_or_else(|| format!(
                "{} (dispatch {})",
                report.classifier, report.dispatch_id
            ))
        ),
        hint: report.repair_hint.clone(),
    }
}

fn config_files(ctx: &Context<'_>) -> Result<String, Failure> {
    let Some(home) = ctx.env.get("HOME") else {
        return Ok("HOME is unset: no config files to check".into());
    };
    let mut checked = Vec::new();
    for (rel, format) in ctx.route.profile.config_files {
        let path = Path::new(home).join(rel);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let error = match format {
            ConfigFormat::Json => serde_json::from_str::<serde_json::Value>(&text)
                .err()
                .map(|e| format!("{}:{}:{}: {e}", path.display(), e.line(), e.column())),
            ConfigFormat::Toml => toml::from_str::<toml::Value>(&text).err().map(|e| {
                let offset = e.span().map_or(0, |s| s.start);
                let before = &text[..offset.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("{}:{line}:{col}: {}", path.display(), e.message())
            }),
        };
        if let Some(error) = error {
            return Err(Failure {
                class: Class::ConfigInvalid,
                hint: format!(
                    "{}'s config file does not parse: fix {error}",
                    ctx.route.program
                ),
                evidence: error,
            });
        }
        checked.push(path.display().to_string());
    }
    Ok(if checked.is_empty() {
        "no config files present".into()
    } else {
        format!("parsed {}", checked.join(", "))
    })
}

fn temp_dir(ctx: &Context<'_>) -> Result<String, Failure> {
    let dir = ctx
        .env
        .get("TMPDIR")
        .filter(|t| !t.is_empty())
        .map_or("/tmp", String::as_str);
    let probe = Path::new(dir).join(format!(
        ".agentlane-probe-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| f.write_all(b"probe"));
    let _ = std::fs::remove_file(&probe);
    match written {
        Ok(()) => Ok(format!("{dir} is writable")),
        Err(e) => Err(Failure {
            class: if e.raw_os_error() == Some(libc::ENOSPC) { Class::TransientIo } else { Class::SandboxOrPolicyBlock },
            evidence: format!("cannot write a file in the temp dir {dir}: {e}"),
            hint: format!("the CLI needs a writable temp dir: fix {dir}'s permissions or space, or set TMPDIR in the route's env"),
        }),
    }
}

fn cwd_writable(ctx: &Context<'_>) -> Result<String, Failure> {
    let cwd = ctx.cwd;
    match nix::unistd::access(cwd, nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK) {
        Ok(()) => Ok(format!("{} is readable and writable", cwd.display())),
        Err(e) => Err(Failure {
            class: Class::SandboxOrPolicyBlock,
            evidence: format!("the working directory {} is not readable and writable by uid {}: {e}", cwd.display(), nix::unistd::getuid()),
            hint: format!("agents read and write their repository: give the worker's user access to {} or run the worker as its owner", cwd.display()),
        }),
    }
}

fn auth_material(ctx: &Context<'_>) -> Result<String, Failure> {
    let profile = ctx.route.profile;
    if !profile.needs_auth() {
        return Ok("the profile needs no credentials".into());
    }
    if let Some(var) = profile
        .auth_vars
        .iter()
        .find(|v| ctx.env.get(**v).is_some_and(|val| !val.is_empty()))
    {
        return Ok(format!("{var} is set"));
    }
    let home = ctx.env.get("HOME");
    if let Some(home) = home {
        if let Some(file) = profile
            .credential_files
            .iter()
            .map(|f| Path::new(home).join(f))
            .find(|p| p.is_file())
        {
            return Ok(format!("{} exists", file.display()));
        }
    }
    let home_text = home.map_or("<unset>", String::as_str);
    let files: Vec<String> = profile
        .credential_files
        .iter()
        .map(|f| format!("~/{f}"))
        .collect();
    Err(Failure {
        class: Class::AuthUnavailable,
        evidence: format!(
            "none of {} is set in the route's environment and none of {} exists under HOME={home_text}",
            profile.auth_vars.join(", "),
            files.join(", ")
        ),
        hint: format!(
            "'{}' has no credentials for the worker: log in as the worker's user with HOME={home_text} (the CLI writes {}), or set {} in [routes.{}].env or its env_file",
            ctx.route.program,
            files.join(" or "),
            profile.auth_vars.first().copied().unwrap_or("its API key variable"),
            ctx.route.name
        ),
    })
}
