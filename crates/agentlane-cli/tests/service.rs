//! Service units and environment parity through the real binary (issue 6):
//! `service print` bakes an explicit PATH (the CLI's and its interpreter's
//! directories) and never a secret; `service install` proves the unit's
//! exact environment before it claims success; `env diff` names a binary that
//! is only on the login shell's PATH, without printing a secret value.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use serde_json::Value;

const SECRET: &str = "sk-ant-api03-INTEGRATIONSECRET-0123456789abcdef";

/// A machine in a temp dir: a user HOME with an npm-style CLI in
/// `~/.local/bin` whose `#!/usr/bin/env fakenode` interpreter lives only
/// under nvm, and a config with lane `main`.
struct Machine {
    sb: Sandbox,
}

impl Machine {
    fn new(extra_config: &str) -> Machine {
        let sb = Sandbox::new();
        let m = Machine { sb };
        write_exe(
            &m.user_home().join(".local/bin/agent-cli"),
            "#!/usr/bin/env fakenode\n",
            0o755,
        );
        write_exe(
            &m.node_dir().join("fakenode"),
            "#!/bin/sh\nshift\necho ok\n",
            0o755,
        );
        std::fs::create_dir_all(m.sb.path("work")).unwrap();
        let config = format!(
            "[routes.r]\nprofile = \"claude\"\nprogram = \"agent-cli\"\n\n[routes.thin]\nprofile = \"claude\"\nprogram = \"agent-cli\"\nenv_clear = true\nenv = {{ PATH = \"/usr/bin:/bin\", HOME = \"{}\" }}\n\n[lanes.main]\nroutes = [\"r\"]\nconcurrency = 2\n{extra_config}",
            m.sb.path("elsewhere").display()
        );
        std::fs::write(m.config(), config).unwrap();
        m
    }

    fn user_home(&self) -> PathBuf {
        self.sb.path("user")
    }

    fn node_dir(&self) -> PathBuf {
        self.user_home().join(".nvm/versions/node/v20.0.0/bin")
    }

    fn config(&self) -> PathBuf {
        self.sb.path("agentlane.toml")
    }

    /// `agentlane --home H --config C ARGS` in a thin, explicit environment
    /// (the login shell adds ~/.local/bin and nvm through ~/.profile).
    fn run(&self, args: &[&str]) -> Output {
        Command::new(agentlane())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.user_home())
            .env("USER", "tester")
            .env("LANG", "C.UTF-8")
            .env("SHELL", "/bin/sh")
            .env("ANTHROPIC_API_KEY", SECRET)
            .current_dir(self.sb.path("work"))
            .arg("--home")
            .arg(self.sb.home())
            .arg("--config")
            .arg(self.config())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("agentlane runs")
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_status(out: &Output, status: i32) {
    let (stdout, stderr) = text(out);
    assert_eq!(
        out.status.code(),
        Some(status),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

#[test]
fn print_bakes_an_explicit_path_and_never_a_secret() {
    let m = Machine::new("");
    // A user unit: it runs as whoever installs it, with this HOME (a system
    // unit names its user, whose home is not the sandbox's).
    let out = m.run(&["service", "print", "--lane", "main", "--systemd", "--user"]);
    assert_status(&out, 0);
    let (unit, _) = text(&out);
    let path_line = unit
        .lines()
        .find(|l| l.starts_with("Environment=\"PATH="))
        .expect("an explicit PATH");
    assert!(path_line.contains(&m.user_home().join(".local/bin").display().to_string()));
    assert!(
        path_line.contains(&m.node_dir().display().to_string()),
        "{path_line}"
    );
    assert!(!unit.contains(SECRET), "{unit}");
    assert!(
        unit.contains("ANTHROPIC_API_KEY"),
        "the secret is named: {unit}"
    );
    assert!(
        unit.contains("worker --lane main --concurrency 2"),
        "{unit}"
    );
    assert!(unit.contains("WantedBy=default.target"), "{unit}");
    assert!(!unit.contains("User="), "a user unit names no user: {unit}");

    let analyze = Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        eprintln!(
            "systemd-analyze verify skipped: {} is absent",
            analyze.display()
        );
        return;
    }
    let file = m.sb.path("agentlane-worker-main.service");
    std::fs::write(&file, &unit).unwrap();
    let verify = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&file)
        .output()
        .unwrap();
    let (_, stderr) = text(&verify);
    assert!(verify.status.success(), "{stderr}");
    assert!(
        !stderr.contains("Unknown") && !stderr.contains("ignoring"),
        "{stderr}"
    );
}

#[test]
fn print_launchd_leaves_nothing_for_launchd_to_expand() {
    let m = Machine::new("");
    let out = m.run(&["service", "print", "--lane", "main", "--launchd", "--user"]);
    assert_status(&out, 0);
    let (plist, _) = text(&out);
    assert!(plist.contains("<string>dev.agentlane.worker.main</string>"));
    assert!(!plist.contains("$HOME") && !plist.contains(">~"), "{plist}");
    assert!(!plist.contains(SECRET));
    assert!(plist.contains(&m.node_dir().display().to_string()));
}

#[test]
fn install_proves_the_units_environment_before_claiming_success() {
    let m = Machine::new("");
    let unit = m
        .user_home()
        .join(".config/systemd/user/agentlane-worker-main.service");
    let install = [
        "service",
        "install",
        "--lane",
        "main",
        "--systemd",
        "--user",
    ];

    // The key is in this shell's environment but not in the unit's: the
    // unit is written, the preflight in its environment says why it cannot run.
    let first = m.run(&install);
    assert_status(&first, 69);
    let (stdout, stderr) = text(&first);
    assert!(unit.is_file(), "the unit stays written");
    assert!(stderr.contains("route r: auth_unavailable"), "{stderr}");
    assert!(stderr.contains("is written, but"), "{stderr}");
    assert!(
        stdout.contains("main.env"),
        "says where the secret goes: {stdout}"
    );
    assert!(
        !stdout.contains("systemctl"),
        "no start instructions on failure"
    );

    let again = m.run(&install);
    assert_status(&again, 64);
    assert!(text(&again).1.contains("--force"));

    let env_file = m.user_home().join(".config/agentlane/main.env");
    std::fs::create_dir_all(env_file.parent().unwrap()).unwrap();
    std::fs::write(&env_file, format!("ANTHROPIC_API_KEY={SECRET}\n")).unwrap();
    let mut forced = install.to_vec();
    forced.push("--force");
    let ok = m.run(&forced);
    assert_status(&ok, 0);
    let (stdout, _) = text(&ok);
    assert!(stdout.contains("route r: ok"), "{stdout}");
    assert!(
        stdout.contains(
            "systemctl --user daemon-reload && systemctl --user enable --now agentlane-worker-main"
        ),
        "{stdout}"
    );
    for (path, bytes) in m.sb.all_stored_bytes() {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "the secret leaked into {}",
            path.display()
        );
    }
    assert!(!std::fs::read_to_string(&unit).unwrap().contains(SECRET));
}

#[test]
fn install_names_a_route_the_unit_cannot_run() {
    let m = Machine::new(
        "[routes.broken]\nprogram = \"broken-cli\"\n[lanes.other]\nroutes = [\"broken\"]\n",
    );
    write_exe(
        &m.user_home().join(".local/bin/broken-cli"),
        "#!/usr/bin/env interpreter-that-is-nowhere\n",
        0o755,
    );
    let out = m.run(&[
        "service",
        "install",
        "--lane",
        "other",
        "--systemd",
        "--user",
    ]);
    assert_status(&out, 69);
    assert!(
        text(&out).1.contains("route broken: interpreter_missing"),
        "{}",
        text(&out).1
    );
}

#[test]
fn unknown_lanes_are_config_errors_as_for_the_worker_and_bad_flags_usage_errors() {
    let m = Machine::new("");
    let out = m.run(&["service", "print", "--lane", "nope"]);
    assert_status(&out, 78);
    assert!(text(&out).1.contains("use one of [main]"));
    let out = m.run(&[
        "service",
        "print",
        "--lane",
        "main",
        "--user",
        "--service-user",
        "root",
    ]);
    assert_status(&out, 64);
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", text(out).0, text(out).1))
}

#[test]
fn env_diff_names_a_binary_only_on_the_login_shells_path() {
    let m = Machine::new("");
    std::fs::write(
        m.user_home().join(".profile"),
        format!(
            "echo noise from the profile\nexport PATH=\"$HOME/.local/bin:{}:$PATH\"\nexport ONLY_IN_SHELL=1\nexport HTTPS_PROXY=http://proxy.internal:3128\nexport TERM_PROGRAM=fancy\n",
            m.node_dir().display()
        ),
    )
    .unwrap();
    let out = m.run(&["env", "diff", "--route", "thin", "--json"]);
    assert_status(&out, 0);
    assert!(!text(&out).0.contains(SECRET));
    let report = json(&out);
    let shell_vs_worker = &report["comparisons"][0];
    let missing: Vec<&str> = shell_vs_worker["path"]["missing_from_b"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let local_bin = m.user_home().join(".local/bin").display().to_string();
    assert!(missing.contains(&local_bin.as_str()), "{missing:?}");
    let resolution = &shell_vs_worker["resolution"];
    assert_eq!(resolution["same"], false);
    assert_eq!(resolution["b"]["error"], "'agent-cli' is not on this PATH");
    assert!(resolution["a"]["interpreter_path"]
        .as_str()
        .unwrap()
        .ends_with("fakenode"));
    let only_shell: Vec<&str> = shell_vs_worker["only_in_a"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert!(only_shell.contains(&"ONLY_IN_SHELL"));
    assert!(only_shell.contains(&"ANTHROPIC_API_KEY"), "present, hashed");
    let home = &shell_vs_worker["identity"][0];
    assert_eq!(home["name"], "HOME");
    assert_eq!(home["same"], false, "HOME values are shown: {home}");

    let text_out = m.run(&["env", "diff", "--route", "thin"]);
    assert_status(&text_out, 0);
    let (stdout, _) = text(&text_out);
    assert!(!stdout.contains(SECRET), "{stdout}");
    // One variable per line, by group; harmless ones folded away.
    let line_of = |name: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}: {stdout}"))
            .to_string()
    };
    assert!(
        line_of("ANTHROPIC_API_KEY").contains("present in"),
        "{stdout}"
    );
    assert!(line_of("ONLY_IN_SHELL").contains("only"), "{stdout}");
    let network = stdout
        .find("network and certificates")
        .expect("the network group");
    assert!(stdout.find("HTTPS_PROXY").unwrap() > network, "{stdout}");
    assert!(!stdout.contains("TERM_PROGRAM "), "folded: {stdout}");
    assert!(stdout.contains("harmless variable"), "{stdout}");
    assert!(
        !stdout.contains(", ONLY_IN_SHELL") && !stdout.contains("ONLY_IN_SHELL,"),
        "not a comma list: {stdout}"
    );
    let groups = &shell_vs_worker["groups"];
    assert!(
        groups["network"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "HTTPS_PROXY"),
        "{groups}"
    );
    assert!(
        groups["harmless"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "TERM_PROGRAM"),
        "{groups}"
    );
    assert!(
        stdout.contains("NO — 'agent-cli' is not on this PATH"),
        "{stdout}"
    );
}

#[test]
fn env_diff_compares_the_service_unit_of_the_routes_lane() {
    let m = Machine::new("");
    let out = m.run(&["env", "diff", "--route", "r", "--user", "--json"]);
    assert_status(&out, 0);
    let report = json(&out);
    let comparisons = report["comparisons"].as_array().unwrap();
    assert_eq!(comparisons.len(), 2, "{report}");
    let service = &comparisons[1];
    assert_eq!(service["b"], "service unit (lane main)");
    assert!(
        service["resolution"]["b"]["error"].is_null(),
        "the unit's explicit PATH resolves the CLI and its interpreter: {service}"
    );
    assert!(!text(&out).0.contains(SECRET));
}

/// A system unit written by root must not run its agents as root by
/// default: with no user named (and no SUDO_USER) `service print` refuses and
/// says how to name one; naming root writes `User=root`.
#[test]
fn a_system_unit_written_by_root_names_its_user_or_is_refused() {
    let m = Machine::new("");
    if !nix::unistd::geteuid().is_root() {
        // Not root: the unit runs as the current user, named.
        let out = m.run(&["service", "print", "--lane", "main", "--systemd"]);
        assert_status(&out, 0);
        assert!(text(&out).0.contains("User="), "{}", text(&out).0);
        return;
    }
    let out = m.run(&["service", "print", "--lane", "main", "--systemd"]);
    assert_status(&out, 64);
    let (unit, err) = text(&out);
    assert!(unit.is_empty(), "nothing printed: {unit}");
    assert!(
        err.contains("would run its agents as root") && err.contains("--service-user"),
        "{err}"
    );
    let out = m.run(&[
        "service",
        "print",
        "--lane",
        "main",
        "--systemd",
        "--service-user",
        "root",
    ]);
    assert_status(&out, 0);
    let (unit, _) = text(&out);
    assert!(unit.lines().any(|l| l == "User=root"), "{unit}");
    assert!(unit.contains("WantedBy=multi-user.target"), "{unit}");
}
