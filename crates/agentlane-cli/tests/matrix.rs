//! The canary matrix through the real binary (issue 6): each shape built from
//! a real cause, and proof that cells run through the production path.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::*;
use serde_json::Value;

struct World {
    sb: Sandbox,
    config: PathBuf,
}

impl World {
    fn new(config_body: &str) -> World {
        let sb = Sandbox::new();
        let config = sb.path("agentlane.toml");
        let body = config_body
            .replace("$FAKE", fake_agent().to_str().unwrap())
            .replace("$DIR", sb.dir.path().to_str().unwrap());
        std::fs::write(&config, body).unwrap();
        World { sb, config }
    }

    /// `agentlane matrix --json` with SHELL pointing at a fake login shell that
    /// prints `login_path` as its PATH (the "login shell" environment source).
    fn matrix(&self, login_path: &str, extra: &[&str]) -> Value {
        let shell = self.sb.path("fake-login-shell");
        write_exe(
            &shell,
            &format!("#!/bin/sh\nprintf 'PATH={login_path}\\0HOME=/root\\0'\n"),
            0o755,
        );
        let out = std::process::Command::new(agentlane())
            .args([
                "--home",
                self.sb.home().to_str().unwrap(),
                "--config",
                self.config.to_str().unwrap(),
                "matrix",
                "--json",
                "--cell-timeout",
                "20s",
            ])
            .args(extra)
            .env("SHELL", &shell)
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }
}

fn classes(v: &Value) -> Vec<(String, String)> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["dimension"].as_str().unwrap().to_string(),
                r["classifier"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_binary_only_on_the_login_shell_path_is_lane_specific_on_env_source() {
    let w = World::new(
        "[routes.r]\nprofile = \"generic\"\nprogram = \"agentx\"\nargs = [\"--stdout\", \"ok\"]\n",
    );
    let only_login = w.sb.path("only-login");
    std::fs::create_dir_all(&only_login).unwrap();
    std::fs::copy(fake_agent(), only_login.join("agentx")).unwrap();
    let v = w.matrix(&format!("{}:/usr/bin:/bin", only_login.display()), &[]);
    assert_eq!(v["shape"], "lane_specific", "{v:#}");
    assert_eq!(v["dimension"], "env_source");
    let login = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["value"] == "login_shell")
        .unwrap();
    assert_eq!(login["classifier"], "ok");
    assert_eq!(
        login["cli_path"],
        only_login.join("agentx").to_str().unwrap()
    );
    let baseline = &v["rows"][0];
    assert_eq!(baseline["dimension"], "baseline");
    assert_eq!(baseline["classifier"], "cli_missing");
    for key in [
        "dispatch_id",
        "worker_kind",
        "queue_id",
        "cwd",
        "argv",
        "cli_path",
        "env_fingerprint",
        "prompt_bytes",
        "exit_code",
        "signal",
        "duration_ms",
        "stderr_tail",
        "classifier",
        "dimension",
        "value",
    ] {
        assert!(baseline.get(key).is_some(), "row lacks {key}: {baseline}");
    }
}

#[test]
fn a_missing_binary_is_universal() {
    let w = World::new("[routes.r]\nprofile = \"generic\"\nprogram = \"no-such-agent-anywhere\"\n");
    let v = w.matrix("/usr/bin:/bin", &[]);
    assert_eq!(v["shape"], "universal", "{v:#}");
    assert!(v["dimension"].is_null());
    assert!(v["repair_address"].as_str().unwrap().contains("preflight"));
}

#[test]
fn a_payload_at_the_contract_limit_that_the_route_cannot_take_is_payload_specific() {
    // The contract allows 200 kB but the route passes the prompt as one
    // argument, which Linux caps at 128 KiB: only the big payload fails.
    let w = World::new(
        "[routes.r]\nprofile = \"generic\"\nprogram = \"$FAKE\"\nargs = [\"--stdout\", \"{prompt}\"]\nprompt_via = \"arg\"\n[kinds.k]\nroutes = [\"r\"]\nmax_prompt_bytes = 200000\n",
    );
    let v = w.matrix("/usr/bin:/bin", &["--only", "payload"]);
    assert_eq!(v["shape"], "payload_specific", "{v:#}");
    assert_eq!(
        classes(&v),
        vec![
            ("baseline".into(), "ok".into()),
            ("payload".into(), "payload_invalid".into())
        ]
    );
}

#[test]
fn a_directory_only_the_service_user_cannot_read_is_lane_specific_on_user() {
    if !nix_is_root() {
        eprintln!("skipped: dropping to another user needs root (CI runs as root)");
        return;
    }
    let w = World::new("[routes.r]\nprofile = \"generic\"\nprogram = \"$FAKE\"\nargs = [\"--stdout\", \"ok\"]\ncwd = \"$DIR/private-repo\"\n");
    let private = w.sb.path("private-repo");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    // The sandbox itself must be reachable by nobody for the control to mean anything.
    std::fs::set_permissions(w.sb.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let v = w.matrix(
        "/usr/bin:/bin",
        &["--only", "user", "--service-user", "nobody"],
    );
    assert_eq!(v["shape"], "lane_specific", "{v:#}");
    assert_eq!(v["dimension"], "user");
    let user = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["dimension"] == "user")
        .unwrap();
    assert_eq!(user["classifier"], "cwd_missing", "{user}");
    assert_eq!(user["value"], "nobody");
}

fn nix_is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

#[test]
fn a_fault_injected_into_the_production_dispatch_path_shows_up_in_every_cell() {
    // The injected fault: a classifier rule (production dispatch path) that
    // names the canary's successful answer a transient failure.
    let w = World::new(
        "rules_file = \"inject.toml\"\n[routes.r]\nprofile = \"generic\"\nprogram = \"$FAKE\"\nargs = [\"--stdout\", \"ok\"]\n",
    );
    std::fs::write(w.sb.path("inject.toml"), "[[rule]]\nid = \"test.injected\"\nclass = \"transient_io\"\nstream = \"stdout\"\npattern = '^ok$'\nexit_codes = [0]\n").unwrap();
    let v = w.matrix("/usr/bin:/bin", &[]);
    assert_eq!(v["shape"], "universal", "{v:#}");
    let rows = v["rows"].as_array().unwrap();
    assert!(
        rows.iter()
            .filter(|r| r["expected"].is_null())
            .all(|r| r["classifier"] == "transient_io"),
        "{v:#}"
    );
    // The cells went through the worker's claim path and the dispatcher: their
    // jobs were claimed once each, and their dispatches are in `runs`.
    let jobs: Value =
        serde_json::from_slice(&w.sb.run(&["jobs", "--json", "--limit", "0"]).stdout).unwrap();
    let runs: Value =
        serde_json::from_slice(&w.sb.run(&["runs", "--json", "--limit", "0"]).stdout).unwrap();
    for row in rows {
        let job = jobs
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == row["queue_id"])
            .expect("each cell is a queued job");
        assert_eq!(job["attempts"], 1);
        assert!(
            runs.as_array()
                .unwrap()
                .iter()
                .any(|r| r["dispatch_id"] == row["dispatch_id"]),
            "each cell is a recorded dispatch"
        );
    }
}
