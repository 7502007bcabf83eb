//! Routes, policy, contracts and preflight through the CLI (issue 4):
//! `doctor` for each false boolean with its class and hint, `exec --route`
//! naming route and model, refusals before spawn, `init`.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// A sandbox with agentlane.toml describing routes that run fake-agent.
fn world(extra_routes: &str) -> (Sandbox, std::path::PathBuf) {
    let sb = Sandbox::new();
    let bin = sb.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(sb.path("user")).unwrap();
    // fake-agent answers `--version`, so it can stand in for a CLI's binary.
    std::fs::copy(fake_agent(), bin.join("claude")).unwrap();
    write_exe(
        &bin.join("shim-cli"),
        "#!/usr/bin/env node-missing-here\n",
        0o755,
    );
    let env = format!(
        "env_clear = true\nenv = {{ PATH = \"{}:/usr/bin:/bin\", HOME = \"{}\" }}",
        bin.display(),
        sb.path("user").display()
    );
    let cfg = format!(
        r#"
[routes.noauth]
profile = "claude"
{env}

[routes.ready]
profile = "claude"
env_clear = true
env = {{ PATH = "{bin}:/usr/bin:/bin", HOME = "{user}", ANTHROPIC_API_KEY = "sk-ant-test-0123456789abcdef" }}

[routes.missing]
profile = "codex"
{env}

[routes.shim]
profile = "generic"
program = "shim-cli"
{env}

[routes.fake]
profile = "generic"
program = "{fake}"
args = ["--stdout", "{{prompt}}", "--stdout", "model={{model}}"]
model = "fast-1"

[kinds.small]
routes = ["fake"]
max_prompt_bytes = 10

[kinds.only_ready]
routes = ["ready"]
{extra_routes}
"#,
        bin = bin.display(),
        user = sb.path("user").display(),
        fake = fake_agent().display(),
    );
    let path = sb.path("agentlane.toml");
    std::fs::write(&path, cfg).unwrap();
    (sb, path)
}

fn doctor(sb: &Sandbox, config: &Path, extra: &[&str]) -> (i32, Vec<Value>) {
    let mut args = vec!["--config", config.to_str().unwrap(), "doctor", "--json"];
    args.extend_from_slice(extra);
    let out = sb.run(&args);
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), rows.as_array().unwrap().clone())
}

fn row<'a>(rows: &'a [Value], route: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["route"] == route)
        .unwrap_or_else(|| panic!("no row for {route}"))
}

#[test]
fn doctor_reports_each_false_boolean_with_its_class_and_hint() {
    let (sb, config) = world("");
    let (status, rows) = doctor(&sb, &config, &[]);
    assert_eq!(status, 69, "not every route passes");

    let ready = row(&rows, "ready");
    assert_eq!(
        (
            ready["cli_resolves"].as_bool(),
            ready["cli_ready"].as_bool(),
            ready["route_allowed"].as_bool()
        ),
        (Some(true), Some(true), Some(true)),
        "{ready}"
    );
    assert!(ready["classifier"].is_null());

    let noauth = row(&rows, "noauth");
    assert_eq!(noauth["cli_resolves"], true);
    assert_eq!(noauth["cli_ready"], false);
    assert_eq!(noauth["classifier"], "auth_unavailable");
    assert!(noauth["repair_hint"]
        .as_str()
        .unwrap()
        .contains(&format!("HOME={}", sb.path("user").display())));

    let missing = row(&rows, "missing");
    assert_eq!(missing["cli_resolves"], false);
    assert_eq!(missing["classifier"], "cli_missing");
    assert!(missing["repair_hint"]
        .as_str()
        .unwrap()
        .contains("'codex' is not on this process's PATH"));

    let shim = row(&rows, "shim");
    assert_eq!(shim["cli_resolves"], false);
    assert_eq!(shim["classifier"], "interpreter_missing");
    assert!(shim["repair_hint"]
        .as_str()
        .unwrap()
        .contains("node-missing-here"));

    // One route, one kind.
    let (status, rows) = doctor(&sb, &config, &["--route", "ready"]);
    assert_eq!(status, 0);
    assert_eq!(rows.len(), 1);
    let (status, rows) = doctor(&sb, &config, &["--route", "fake", "--kind", "only_ready"]);
    assert_eq!(status, 69);
    assert_eq!(rows[0]["route_allowed"], false);
    assert_eq!(rows[0]["classifier"], "route_not_allowed");
}

#[test]
fn doctor_probes_run_through_the_dispatcher_and_are_recorded() {
    let (sb, config) = world("");
    doctor(&sb, &config, &["--route", "ready"]);
    let out = sb.run(&["runs", "--json"]);
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let probe = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == "ready")
        .expect("the version probe is a dispatch");
    assert_eq!(probe["classifier"], "ok");
}

#[test]
fn exec_route_names_the_route_and_model_and_delivers_the_prompt() {
    let (sb, config) = world("");
    let run = sb.exec_json(
        &[
            "--config",
            config.to_str().unwrap(),
            "--route",
            "fake",
            "--prompt",
            "hello",
        ],
        &[],
    );
    run.expect_class("ok");
    assert_eq!(run.str("route"), "fake");
    assert_eq!(run.str("model"), "fast-1");
    assert_eq!(run.str("stdout_tail"), "hello\nmodel=fast-1\n");
}

#[test]
fn a_payload_over_the_kind_limit_is_refused_before_spawn() {
    let (sb, config) = world("");
    let config = config.to_str().unwrap();
    let run = sb.exec_json(
        &[
            "--config",
            config,
            "--route",
            "fake",
            "--kind",
            "small",
            "--prompt",
            "this prompt is too long",
        ],
        &[],
    );
    run.expect_class("payload_invalid");
    assert_eq!(run.status, 65);
    assert!(run.str("evidence").contains("allows at most 10"));
    assert!(run.report["exit_code"].is_null());
    let run = sb.exec_json(
        &[
            "--config",
            config,
            "--route",
            "fake",
            "--kind",
            "only_ready",
            "--prompt",
            "hi",
        ],
        &[],
    );
    run.expect_class("route_not_allowed");
    assert_eq!(run.status, 77);
}

#[test]
fn config_errors_name_file_line_and_column() {
    let sb = Sandbox::new();
    let path = sb.path("agentlane.toml");
    std::fs::write(&path, "[routes.a]\nprofile = \"claud\"\n").unwrap();
    let out = sb.run(&["--config", path.to_str().unwrap(), "doctor"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:2:11: unknown profile 'claud'", path.display())),
        "{err}"
    );
    let out = sb.run(&["--config", sb.path("nope.toml").to_str().unwrap(), "doctor"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("agentlane init"));
}

#[test]
fn init_writes_a_starter_that_doctor_accepts_and_never_overwrites() {
    let sb = Sandbox::new();
    let path = sb.path("agentlane.toml");
    let out = sb.run(&["init", "--path", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, rows) = doctor(&sb, &path, &["--route", "echo"]);
    assert_eq!(rows[0]["cli_ready"], true, "{:?}", rows);
    let again = sb.run(&["init", "--path", path.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(73));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let out = sb.run(&[
        "--config",
        path.to_str().unwrap(),
        "exec",
        "--json",
        "--route",
        "echo",
        "--prompt",
        "ok",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["classifier"], "ok");
    assert_eq!(report["stdout_tail"], "ok\n");
}
