//! `agentlane rules suggest|test|add` end to end: the real binary, a real
//! SQLite store in a private home, scripts that fail the way an agent CLI
//! does. The loop under test: an unknown exit → a suggested rule → a replay
//! over the stored dispatches → the rule appended → the next run named.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use serde_json::Value;

const GATEWAY: &str =
    "fatal: upstream gateway rejected the session 0190c0de-1234-7abc-8def-0123456789ab (code GW-4031)";

struct Loop {
    sb: Sandbox,
    rules: PathBuf,
    script: PathBuf,
}

impl Loop {
    fn new() -> Loop {
        let sb = Sandbox::new();
        let rules = sb.path("rules/user.toml");
        let script = sb.path("acme");
        write_exe(
            &script,
            &format!("#!/bin/sh\necho 'connecting to gateway'\necho '{GATEWAY}' >&2\nexit 3\n"),
            0o755,
        );
        Loop { sb, rules, script }
    }

    /// `agentlane --home H ARGS` with the rules file in $AGENTLANE_RULES (for
    /// `exec`, once it exists: exec refuses a rules file that is missing), no
    /// configuration found, and `stdin` as its input.
    fn run_with(&self, args: &[&str], stdin: &str) -> Output {
        let mut command = Command::new(agentlane());
        if args.first() == Some(&"exec") && !self.rules.exists() {
            command.env_remove("AGENTLANE_RULES");
        } else {
            command.env("AGENTLANE_RULES", &self.rules);
        }
        let mut child = command
            .arg("--home")
            .arg(self.sb.home())
            .args(args)
            .current_dir(self.sb.dir.path())
            .env("HOME", self.sb.dir.path())
            .env("XDG_CONFIG_HOME", self.sb.path("xdg"))
            .env_remove("AGENTLANE_CONFIG")
            .env_remove("AGENTLANE_STORE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("agentlane runs");
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes());
        child.wait_with_output().expect("agentlane finishes")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, "")
    }

    fn exec(&self, command: &[&str]) -> Value {
        let mut args = vec!["exec", "--json", "--"];
        args.extend_from_slice(command);
        let out = self.run(&args);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "exec --json printed no report ({e}): {}\n{}",
                text(&out.stdout),
                text(&out.stderr)
            )
        })
    }

    fn failing_run(&self) -> Value {
        self.exec(&[self.script.to_str().unwrap()])
    }

    fn rules_text(&self) -> Option<String> {
        std::fs::read_to_string(&self.rules).ok()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).expect("JSON on stdout")
}

fn changed_ids(replay: &Value) -> Vec<String> {
    replay["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["dispatch_id"].as_str().unwrap().to_string())
        .collect()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn an_unknown_exit_becomes_a_rule_in_one_step() {
    let l = Loop::new();
    // 1. The failure nobody named: unknown_exit_3, and its hint names the command.
    let first = l.failing_run();
    assert_eq!(first["classifier"], "unknown_exit_3", "{first}");
    let id = first["dispatch_id"].as_str().unwrap().to_string();
    let hint = first["repair_hint"].as_str().unwrap();
    assert!(
        hint.contains(&format!("agentlane rules suggest {id}")),
        "{hint}"
    );
    let fine = l.exec(&["/bin/echo", "all good"]);
    assert_eq!(fine["classifier"], "ok");
    let fine_id = fine["dispatch_id"].as_str().unwrap().to_string();

    // 2. suggest: a rule that matches its dispatch, from the stable part of the line.
    let suggestion = json(&l.run(&[
        "rules",
        "suggest",
        &id,
        "--class",
        "network_unavailable",
        "--json",
    ]));
    let rule = &suggestion["rule"];
    assert_eq!(rule["class"], "network_unavailable");
    assert_eq!(rule["stream"], "stderr");
    assert_eq!(rule["exit_code"], 3);
    assert_eq!(
        rule["id"],
        "user.acme_upstream_gateway_rejected_the_session"
    );
    let pattern = rule["pattern"].as_str().unwrap();
    assert!(
        !pattern.contains("4031") && !pattern.contains("0190c0de"),
        "{pattern}"
    );
    assert_eq!(suggestion["matches_its_dispatch"], true);
    assert_eq!(changed_ids(&suggestion["replay"]), vec![id.clone()]);
    // The human form prints the block and the replay below it.
    let human = ok(&l.run(&["rules", "suggest", &id, "--class", "network_unavailable"]));
    assert!(
        human.contains("[[rule]]\nid = \"user.acme_upstream_gateway_rejected_the_session\""),
        "{human}"
    );
    assert!(
        human.contains("this rule changes 1 of 2 replayed dispatches"),
        "{human}"
    );
    assert!(
        human.contains(&format!("source = \"dispatch {id}\"")),
        "{human}"
    );

    // 3. test: the file with that rule changes the failing dispatch, not the ok one.
    let candidate = l.sb.path("candidate.toml");
    write(&candidate, suggestion["toml"].as_str().unwrap());
    let replay = json(&l.run(&["rules", "test", candidate.to_str().unwrap(), "--json"]));
    let changed = changed_ids(&replay);
    assert_eq!(changed, vec![id.clone()], "{replay}");
    assert!(!changed.contains(&fine_id));
    assert_eq!(replay["changes"][0]["before_class"], "unknown_exit_3");
    assert_eq!(replay["changes"][0]["after_class"], "network_unavailable");
    assert_eq!(replay["changes"][0]["after_layer"], "user");
    assert_eq!(replay["replayed"], 2);
    let table = ok(&l.run(&["rules", "test", candidate.to_str().unwrap()]));
    assert!(table.contains(&id) && !table.contains(&fine_id), "{table}");
    assert!(
        table.contains("changes 1 of 2 replayed dispatches"),
        "{table}"
    );

    // 4. add: replayed, then appended to the file $AGENTLANE_RULES names (created with a header).
    assert!(l.rules_text().is_none());
    let added = ok(&l.run(&[
        "rules",
        "add",
        "--from",
        &id,
        "--class",
        "network_unavailable",
        "--yes",
    ]));
    assert!(added.contains("this rule changes 1 of 2"), "{added}");
    assert!(
        added.contains("added rule 'user.acme_upstream_gateway_rejected_the_session'"),
        "{added}"
    );
    let file = l.rules_text().expect("the rules file was created");
    assert!(file.starts_with("# agentlane classifier rules"), "{file}");
    assert!(file.contains("class = \"network_unavailable\""), "{file}");

    // 5. The next run of the same failure is named by the new rule.
    let second = l.failing_run();
    assert_eq!(second["classifier"], "network_unavailable", "{second}");
    assert_eq!(second["layer"], "user");
    assert_eq!(
        second["rule"],
        "user.acme_upstream_gateway_rejected_the_session"
    );
}

#[test]
fn rules_add_refuses_a_duplicate_id_a_bad_regex_and_a_pattern_that_misses_its_dispatch() {
    let l = Loop::new();
    let first = l.failing_run();
    let id = first["dispatch_id"].as_str().unwrap().to_string();
    ok(&l.run(&[
        "rules",
        "add",
        "--from",
        &id,
        "--class",
        "network_unavailable",
        "--yes",
    ]));
    let before = l.rules_text().unwrap();

    let duplicate = l.run(&[
        "rules",
        "add",
        "--class",
        "transient_io",
        "--pattern",
        "vault sealed",
        "--id",
        "user.acme_upstream_gateway_rejected_the_session",
        "--yes",
    ]);
    assert_eq!(duplicate.status.code(), Some(64));
    assert!(
        text(&duplicate.stderr).contains("already has a rule"),
        "{}",
        text(&duplicate.stderr)
    );

    let bad_regex = l.run(&[
        "rules",
        "add",
        "--class",
        "transient_io",
        "--pattern",
        "vault (sealed",
        "--yes",
    ]);
    assert_eq!(bad_regex.status.code(), Some(64));
    let err = text(&bad_regex.stderr);
    // The regex error shows where: the pattern, a caret under the fault, the reason.
    assert!(
        err.contains("vault (sealed") && err.contains('^') && err.contains("unclosed group"),
        "{err}"
    );

    let misses = l.run(&[
        "rules",
        "add",
        "--from",
        &id,
        "--class",
        "transient_io",
        "--pattern",
        "^nothing like it",
        "--id",
        "user.other",
        "--yes",
    ]);
    assert_eq!(misses.status.code(), Some(64));
    assert!(
        text(&misses.stderr).contains("does not match dispatch"),
        "{}",
        text(&misses.stderr)
    );

    let bad_class = l.run(&["rules", "add", "--class", "nope", "--pattern", "x", "--yes"]);
    assert_eq!(bad_class.status.code(), Some(64));

    assert_eq!(
        l.rules_text().unwrap(),
        before,
        "a refusal leaves the file as it was"
    );
}

#[test]
fn rules_add_asks_and_a_no_writes_nothing() {
    let l = Loop::new();
    let first = l.failing_run();
    let id = first["dispatch_id"].as_str().unwrap().to_string();
    let out = l.run_with(
        &[
            "rules",
            "add",
            "--from",
            &id,
            "--class",
            "network_unavailable",
        ],
        "n\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("nothing written"),
        "{}",
        text(&out.stdout)
    );
    assert!(l.rules_text().is_none());
    let out = l.run_with(
        &[
            "rules",
            "add",
            "--from",
            &id,
            "--class",
            "network_unavailable",
        ],
        "y\n",
    );
    ok(&out);
    assert!(l.rules_text().unwrap().contains("network_unavailable"));
}

#[test]
fn rules_suggest_asks_for_a_class_unless_the_generic_layer_names_one() {
    let l = Loop::new();
    let unknown = l.failing_run();
    let id = unknown["dispatch_id"].as_str().unwrap();
    let out = l.run(&["rules", "suggest", id]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).contains("--class"),
        "{}",
        text(&out.stderr)
    );

    // A line the generic layer reads: its class is suggested, and said to be.
    let dns = l.exec(&[
        "/bin/sh",
        "-c",
        "echo 'relay: getaddrinfo ENOTFOUND api.acme.dev' >&2; exit 1",
    ]);
    let out = ok(&l.run(&["rules", "suggest", dns["dispatch_id"].as_str().unwrap()]));
    assert!(out.contains("class = \"network_unavailable\""), "{out}");
    assert!(out.contains("generic layer's verdict"), "{out}");
    assert!(!out.contains("exit_codes"), "exit 1 is left out: {out}");
}

#[test]
fn rules_test_on_a_bad_file_names_the_position_and_exits_78() {
    let l = Loop::new();
    l.failing_run();
    let bad = l.sb.path("bad.toml");
    write(
        &bad,
        "[[rule]]\nid = \"x\"\nclass = \"no_such_class\"\npattern = 'a'\n",
    );
    let out = l.run(&["rules", "test", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78));
    let err = text(&out.stderr);
    assert!(err.contains("bad.toml:3:9"), "{err}");
    let missing = l.run(&["rules", "test", l.sb.path("missing.toml").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(78));
}

#[test]
fn rules_add_appends_to_the_configurations_rules_file_and_routes_read_it() {
    let l = Loop::new();
    let config = l.sb.path("conf/agentlane.toml");
    let rules = l.sb.path("conf/rules.toml");
    write(&rules, "# mine\n");
    write(
        &config,
        &format!(
            "rules_file = \"rules.toml\"\n[routes.acme]\nprofile = \"generic\"\nprogram = \"{}\"\n",
            l.script.display()
        ),
    );
    let conf = config.to_str().unwrap();
    // No $AGENTLANE_RULES: the configuration names the file.
    let run = |args: &[&str]| {
        Command::new(agentlane())
            .arg("--home")
            .arg(l.sb.home())
            .arg("--config")
            .arg(conf)
            .args(args)
            .env_remove("AGENTLANE_RULES")
            .env_remove("AGENTLANE_STORE")
            .stdin(Stdio::null())
            .output()
            .expect("agentlane runs")
    };
    let first: Value =
        serde_json::from_slice(&run(&["exec", "--json", "--route", "acme"]).stdout).unwrap();
    assert_eq!(first["classifier"], "unknown_exit_3", "{first}");
    let id = first["dispatch_id"].as_str().unwrap();
    let added = ok(&run(&[
        "rules",
        "add",
        "--from",
        id,
        "--class",
        "network_unavailable",
        "--yes",
    ]));
    assert!(added.contains(&rules.display().to_string()), "{added}");
    let file = std::fs::read_to_string(&rules).unwrap();
    assert!(
        file.starts_with("# mine\n") && file.contains("[[rule]]"),
        "{file}"
    );
    let second: Value =
        serde_json::from_slice(&run(&["exec", "--json", "--route", "acme"]).stdout).unwrap();
    assert_eq!(second["classifier"], "network_unavailable", "{second}");
    assert_eq!(second["layer"], "user");
}

#[test]
fn without_a_named_file_rules_add_writes_the_default_and_says_how_to_load_it() {
    let l = Loop::new();
    let first = l.failing_run();
    let id = first["dispatch_id"].as_str().unwrap();
    let out = Command::new(agentlane())
        .arg("--home")
        .arg(l.sb.home())
        .args([
            "rules",
            "add",
            "--from",
            id,
            "--class",
            "network_unavailable",
            "--yes",
        ])
        .current_dir(l.sb.dir.path())
        .env("HOME", l.sb.dir.path())
        .env("XDG_CONFIG_HOME", l.sb.path("xdg"))
        .env_remove("AGENTLANE_RULES")
        .env_remove("AGENTLANE_CONFIG")
        .env_remove("AGENTLANE_STORE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = ok(&out);
    let default = l.sb.home().join("rules.toml");
    assert!(default.exists(), "{stdout}");
    assert!(
        stdout.contains(&format!("AGENTLANE_RULES={}", default.display())),
        "{stdout}"
    );
}

#[test]
fn a_replay_reads_the_artifact_where_the_stored_tail_is_too_short() {
    let l = Loop::new();
    // The decisive line, then 20 KB of noise: the report keeps the last 4 KiB
    // of stderr, the classifier read 64 KiB, and so must the replay.
    let noisy = l.sb.path("noisy");
    write_exe(
        &noisy,
        &format!(
            "#!/bin/sh\necho '{GATEWAY}' >&2\ni=0\nwhile [ $i -lt 400 ]; do echo \"cleanup step $i of the session teardown, nothing to see\" >&2; i=$((i+1)); done\nexit 3\n"
        ),
        0o755,
    );
    let report = l.exec(&[noisy.to_str().unwrap()]);
    assert_eq!(report["classifier"], "unknown_exit_3", "{report}");
    assert!(
        !report["stderr_tail"]
            .as_str()
            .unwrap()
            .contains("upstream gateway"),
        "the stored tail must be too short for this test: {report}"
    );
    let candidate = l.sb.path("candidate.toml");
    write(
        &candidate,
        "[[rule]]\nid = \"user.gateway\"\nclass = \"network_unavailable\"\npattern = 'upstream gateway rejected the session'\n",
    );
    let replay = json(&l.run(&["rules", "test", candidate.to_str().unwrap(), "--json"]));
    assert_eq!(
        changed_ids(&replay),
        vec![report["dispatch_id"].as_str().unwrap().to_string()],
        "{replay}"
    );
}
