//! Tests of the parent module.
use super::spec::check_lane_name;
use super::*;
use std::collections::BTreeMap;

use std::path::{Path, PathBuf};

use std::time::Duration;

use crate::config::Config;
use crate::dispatch::{build_env, Dispatcher};

use crate::resolve::resolve_program;

use std::os::unix::fs::PermissionsExt;
use test_case::test_case;

const SECRET: &str = "sk-ant-api03-VERYSECRETVALUE0123456789abcdef";

fn exe(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A HOME with an npm-style CLI in ~/.local/bin whose `node` lives only under nvm.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let w = World {
            dir: tempfile::tempdir().unwrap(),
        };
        exe(
            &w.home().join(".local/bin/agent-cli"),
            "#!/usr/bin/env fakenode\n",
        );
        exe(
            &w.home().join(".nvm/versions/node/v20.0.0/bin/fakenode"),
            "#!/bin/sh\necho ok\n",
        );
        std::fs::create_dir_all(w.dir.path().join("work")).unwrap();
        w
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("user")
    }

    fn config(&self, extra: &str) -> Config {
        self.config_with("claude", extra)
    }

    fn config_with(&self, profile: &str, extra: &str) -> Config {
        let text = format!(
            "[routes.r]\nprofile = \"{profile}\"\nprogram = \"agent-cli\"\n{extra}\n[lanes.main]\nroutes = [\"r\"]\nconcurrency = 3\n[queue]\nshutdown_grace = \"20s\"\n"
        );
        crate::config::parse(&self.dir.path().join("agentlane.toml"), &text).unwrap()
    }

    fn parent_env(&self) -> BTreeMap<String, String> {
        [
            ("PATH", "/usr/bin:/bin:relative/dir:/does/not/exist"),
            ("HOME", self.home().to_str().unwrap()),
            ("USER", "tester"),
            ("LANG", "C.UTF-8"),
            ("ANTHROPIC_API_KEY", SECRET),
            ("CLAUDE_CODE_USE_BEDROCK", "1"),
            ("UNRELATED", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn spec(&self, config: &Config, user: Option<ServiceUser>) -> UnitSpec {
        build_spec(
            config,
            SpecInputs {
                lane: "main",
                concurrency: None,
                agentlane_path: std::env::current_exe().unwrap(),
                home_dir: self.dir.path().join("state"),
                working_directory: self.dir.path().join("work"),
                user,
                parent_env: &self.parent_env(),
            },
        )
        .unwrap()
    }
}

#[test]
fn the_explicit_path_holds_the_programs_and_the_interpreters_directories() {
    let w = World::new();
    let spec = w.spec(&w.config(""), None);
    let entries: Vec<&str> = spec.path.split(':').collect();
    let cli_dir = w.home().join(".local/bin");
    let node_dir = w.home().join(".nvm/versions/node/v20.0.0/bin");
    assert!(entries.contains(&cli_dir.to_str().unwrap()), "{entries:?}");
    assert!(entries.contains(&node_dir.to_str().unwrap()), "{entries:?}");
    assert_eq!(
        &entries[..2],
        &["/usr/bin", "/bin"],
        "the parent's order first"
    );
    assert!(
        !entries.iter().any(|e| !e.starts_with('/')),
        "relative entries dropped"
    );
    assert!(!entries.contains(&"/does/not/exist"));
    // The route resolves on exactly that PATH.
    let r = resolve_program("agent-cli", Some(&spec.path), Path::new("/")).unwrap();
    assert!(r.interpreter.is_some());
}

#[test]
fn carries_what_routes_need_and_never_a_secret_value() {
    let w = World::new();
    let spec = w.spec(&w.config(""), None);
    assert_eq!(spec.env["HOME"], w.home().to_str().unwrap());
    assert_eq!(spec.env["USER"], "tester");
    assert_eq!(spec.env["LANG"], "C.UTF-8");
    assert_eq!(
        spec.env["CLAUDE_CODE_USE_BEDROCK"], "1",
        "not secret: baked"
    );
    assert!(!spec.env.contains_key("UNRELATED"));
    assert_eq!(spec.secret_names, vec!["ANTHROPIC_API_KEY"]);
    assert_eq!(spec.concurrency, 3, "the lane's concurrency by default");
    assert_eq!(spec.stop_timeout, Duration::from_secs(30));
    for text in [render_systemd(&spec, false), render_launchd(&spec)] {
        assert!(!text.contains(SECRET), "{text}");
        assert!(
            text.contains("ANTHROPIC_API_KEY"),
            "the name is given: {text}"
        );
    }
}

#[test]
fn a_route_inheriting_a_variable_carries_it() {
    let w = World::new();
    let spec = w.spec(&w.config("env_inherit = [\"PATH\", \"UNRELATED\"]"), None);
    assert_eq!(spec.env["UNRELATED"], "x");
}

#[test_case("PATH", "/a b:/c", r#""PATH=/a b:/c""#; "spaces quoted whole")]
#[test_case("P", "100%", r#""P=100%%""#; "percent doubled")]
#[test_case("P", "$HOME/x", r#""P=$HOME/x""#; "dollar literal in Environment")]
#[test_case("P", r#"say "hi""#, r#""P=say \"hi\"""#; "quotes escaped")]
#[test_case("P", r"C:\dir", r#""P=C:\\dir""#; "backslash escaped")]
#[test_case("P", "a\nb", r#""P=a\nb""#; "newline escaped")]
fn environment_assignments_follow_systemd_rules(name: &str, value: &str, expected: &str) {
    assert_eq!(systemd_assignment(name, value), expected);
}

#[test_case("/usr/bin/agentlane", "/usr/bin/agentlane"; "plain path bare")]
#[test_case("/srv/my home/x", r#""/srv/my home/x""#; "space quoted")]
#[test_case("/srv/$x/%i", r#""/srv/$$x/%%i""#; "dollar and percent escaped")]
#[test_case(";", r#"";""#; "separator quoted")]
fn exec_words_follow_systemd_rules(word: &str, expected: &str) {
    assert_eq!(systemd_exec_word(word), expected);
}

#[test_case(false, Some("svc"), true, "multi-user.target", "/etc/agentlane/main.env"; "system unit with user")]
#[test_case(false, None, false, "multi-user.target", "/etc/agentlane/main.env"; "system unit as root")]
#[test_case(true, Some("svc"), false, "default.target", "/.config/agentlane/main.env"; "user unit never has User")]
fn systemd_unit_shape(
    user_unit: bool,
    user: Option<&str>,
    has_user_line: bool,
    wanted_by: &str,
    env_file: &str,
) {
    let w = World::new();
    let mut spec = w.spec(&w.config(""), None);
    spec.user = user.map(str::to_string);
    let text = render_systemd(&spec, user_unit);
    assert_eq!(text.contains("\nUser=svc\n"), has_user_line, "{text}");
    assert!(text.contains(&format!("WantedBy={wanted_by}\n")), "{text}");
    let env_line = text
        .lines()
        .find(|l| l.starts_with("EnvironmentFile=-"))
        .unwrap();
    assert!(env_line.ends_with(env_file), "{env_line}");
    for line in [
        "Type=simple",
        "Restart=on-failure",
        "RestartSec=5",
        "KillMode=mixed",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=30",
        "After=network-online.target",
        "Wants=network-online.target",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
    let exec = text.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(exec.starts_with(&format!(
        "ExecStart={}",
        std::env::current_exe().unwrap().display()
    )));
    assert!(
        exec.ends_with("worker --lane main --concurrency 3"),
        "{exec}"
    );
    assert!(
        exec.contains(" --home /") && exec.contains(" --config /"),
        "{exec}"
    );
    assert!(text.contains(&format!("Environment=\"PATH={}\"", spec.path)));
}

#[test]
fn systemd_analyze_verifies_the_system_unit() {
    let analyze = Path::new("/usr/bin/systemd-analyze");
    if !analyze.exists() {
        eprintln!("skipped: {} is absent", analyze.display());
        return;
    }
    let w = World::new();
    let mut spec = w.spec(&w.config(""), None);
    spec.user = Some("root".to_string());
    spec.env
        .insert("ODD".into(), "50% \"quoted\" $dollar \\ back".into());
    let file = w.dir.path().join(unit_file_name(Flavour::Systemd, "main"));
    std::fs::write(&file, render_systemd(&spec, false)).unwrap();
    let out = std::process::Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for bad in ["Unknown", "ignoring", "Invalid", "Failed", "not executable"] {
        assert!(!stderr.contains(bad), "{stderr}");
    }
}

/// Checks that tags nest and close; returns the element names in document order.
fn xml_elements(text: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let (tag, skip) = if let Some(body) = after.strip_prefix("!--") {
            let end = body.find("-->").expect("comment closes");
            assert!(!body[..end].contains("--"), "-- inside a comment");
            ("", 3 + end + 3)
        } else {
            let end = after.find('>').expect("tag closes");
            (&after[..end], end + 1)
        };
        rest = &after[skip..];
        if tag.is_empty() || tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap().to_string();
            seen.push(name.clone());
            stack.push(name);
        } else {
            seen.push(tag.trim_end_matches('/').to_string());
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    seen
}

#[test]
fn the_plist_is_absolute_escaped_and_well_formed() {
    let w = World::new();
    let mut spec = w.spec(&w.config(""), None);
    spec.path = format!("~/.local/bin:$HOME/bin:${{HOME}}/x:{}", spec.path);
    spec.env.insert("ODD".into(), "a<b & \"c\" 'd' -- e".into());
    spec.env.insert("CREDS".into(), "~/key.json".into());
    let text = render_launchd(&spec);
    assert!(
        !text.contains("$HOME") && !text.contains("${HOME}"),
        "{text}"
    );
    assert!(!text.contains(">~"), "no value starts with ~: {text}");
    assert!(!text.contains(":~"), "no PATH entry starts with ~: {text}");
    let home = w.home().display().to_string();
    assert!(text.contains(&format!("<string>{home}/.local/bin:{home}/bin:{home}/x:")));
    assert!(text.contains(&format!("<string>{home}/key.json</string>")));
    assert!(text.contains("<string>a&lt;b &amp; &quot;c&quot; &apos;d&apos; -- e</string>"));
    assert!(text.contains("<string>dev.agentlane.worker.main</string>"));
    let log = spec.home_dir.join("logs/worker-main.log");
    assert!(text.contains(&format!("<string>{}</string>", log.display())));
    let elements = xml_elements(&text);
    assert_eq!(elements.first().map(String::as_str), Some("plist"));
    for key in [
        "Label",
        "ProgramArguments",
        "EnvironmentVariables",
        "RunAtLoad",
        "KeepAlive",
        "StandardOutPath",
        "StandardErrorPath",
        "WorkingDirectory",
    ] {
        assert!(text.contains(&format!("<key>{key}</key>")), "{key}");
    }
    assert!(!text.contains("UserName"), "no user: no UserName");
    spec.user = Some("svc".into());
    assert!(render_launchd(&spec).contains("<key>UserName</key>\n  <string>svc</string>"));
}

#[test_case("a/b"; "slash")]
#[test_case("-x"; "leading dash")]
#[test_case(""; "empty")]
#[test_case("a b"; "space")]
fn lane_names_that_cannot_name_a_file_are_refused(lane: &str) {
    assert!(matches!(
        check_lane_name(lane),
        Err(ServiceError::LaneName(_))
    ));
}

#[test]
fn unknown_lanes_are_refused_when_lanes_are_defined() {
    let w = World::new();
    let err = lane_routes(&w.config(""), "nope").unwrap_err();
    assert!(err.to_string().contains("use one of [main]"), "{err}");
}

#[test_case("$HOME/bin", "/h/bin"; "dollar home")]
#[test_case("${HOME}/bin", "/h/bin"; "braced home")]
#[test_case("~/a:~/b:/c", "/h/a:/h/b:/c"; "tilde in every part")]
#[test_case("~", "/h"; "bare tilde")]
#[test_case("$HOMEDIR/x", "$HOMEDIR/x"; "other variable untouched")]
#[test_case("~other/x", "~other/x"; "another user's tilde untouched")]
fn expands_home(value: &str, expected: &str) {
    assert_eq!(expand_home(value, Path::new("/h")), expected);
}

#[test]
fn unit_paths_per_flavour_and_scope() {
    let h = Path::new("/home/u");
    assert_eq!(
        unit_path(Flavour::Systemd, false, "x", h),
        PathBuf::from("/etc/systemd/system/agentlane-worker-x.service")
    );
    assert_eq!(
        unit_path(Flavour::Systemd, true, "x", h),
        PathBuf::from("/home/u/.config/systemd/user/agentlane-worker-x.service")
    );
    assert_eq!(
        unit_path(Flavour::Launchd, true, "x", h),
        PathBuf::from("/home/u/Library/LaunchAgents/dev.agentlane.worker.x.plist")
    );
    assert_eq!(
        unit_path(Flavour::Launchd, false, "x", h),
        PathBuf::from("/Library/LaunchDaemons/dev.agentlane.worker.x.plist")
    );
}

#[test]
fn the_unit_environment_is_exactly_the_units_plus_its_env_file() {
    let w = World::new();
    let spec = w.spec(&w.config(""), None);
    let env = unit_environment(&spec, Flavour::Systemd, true).unwrap();
    assert_eq!(env["PATH"], spec.path);
    assert!(
        !env.contains_key("ANTHROPIC_API_KEY"),
        "secrets are not inherited"
    );
    let file = env_file_path(true, "main", &w.home());
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, format!("ANTHROPIC_API_KEY={SECRET}\n")).unwrap();
    let env = unit_environment(&spec, Flavour::Systemd, true).unwrap();
    assert_eq!(env["ANTHROPIC_API_KEY"], SECRET);
    let launchd = unit_environment(&spec, Flavour::Launchd, true).unwrap();
    assert!(
        !launchd.contains_key("ANTHROPIC_API_KEY"),
        "launchd reads no env file"
    );
}

#[test]
fn a_derived_route_runs_in_nothing_but_the_unit_environment() {
    let w = World::new();
    let config = w.config("env = { EXTRA = \"1\" }\ncwd = \"sub\"");
    let unit_env: BTreeMap<String, String> = [("PATH".to_string(), "/bin".to_string())].into();
    let derived = route_under_unit(&config.routes["r"], &unit_env, Path::new("/wd"));
    let built = build_env(&derived.env, std::env::vars());
    assert_eq!(built.len(), 2, "{built:?}");
    assert_eq!(built["PATH"], "/bin");
    assert_eq!(built["EXTRA"], "1");
    assert!(derived.cwd.unwrap().is_absolute());
}

#[test]
fn write_unit_refuses_to_overwrite_without_force() {
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("a/b/unit.service");
    write_unit(&path, "one", false).unwrap();
    assert!(matches!(
        write_unit(&path, "two", false),
        Err(ServiceError::Exists(_))
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
    write_unit(&path, "two", true).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
}

#[tokio::test]
async fn preflight_in_the_unit_environment_finds_what_the_unit_lacks() {
    use crate::store::sqlite::SqliteStore;
    let w = World::new();
    let home = crate::home::Home::open(&w.dir.path().join("state")).unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(&home.database()).unwrap());
    let dispatcher = Dispatcher::new(home, store, None);
    let config = w.config_with("generic", "");
    let routes = lane_routes(&config, "main").unwrap();
    let spec = w.spec(&config, None);
    let env = unit_environment(&spec, Flavour::Launchd, true).unwrap();
    let wd = spec.working_directory.clone();
    let ok = preflight_in_unit(&dispatcher, &config, &routes, &env, &wd, false)
        .await
        .unwrap();
    assert!(ok[0].passed(), "{:?}", ok[0]);
    // The same unit without nvm's directory: the interpreter is missing.
    let mut thin = env.clone();
    thin.insert(
        "PATH".into(),
        format!("/usr/bin:/bin:{}", w.home().join(".local/bin").display()),
    );
    let bad = preflight_in_unit(&dispatcher, &config, &routes, &thin, &wd, false)
        .await
        .unwrap();
    assert_eq!(bad[0].classifier, Some(crate::Class::InterpreterMissing));
}

#[test]
fn a_webhook_url_by_reference_is_a_secret_named_never_written() {
    let w = World::new();
    let url = "https://hooks.example.com/services/T000/B000/xoxb-not-in-the-unit";
    let config = crate::config::parse(
        &w.dir.path().join("agentlane.toml"),
        "[routes.r]\nprofile = \"claude\"\nprogram = \"agent-cli\"\n[lanes.main]\nroutes = [\"r\"]\n[[alerts.webhook]]\nname = \"slack\"\nurl_env = \"SLACK_WEBHOOK_URL\"\nformat = \"slack\"\n",
    )
    .unwrap();
    let mut parent = w.parent_env();
    parent.insert("SLACK_WEBHOOK_URL".into(), url.into());
    let spec = build_spec(
        &config,
        SpecInputs {
            lane: "main",
            concurrency: None,
            agentlane_path: std::env::current_exe().unwrap(),
            home_dir: w.dir.path().join("state"),
            working_directory: w.dir.path().join("work"),
            user: None,
            parent_env: &parent,
        },
    )
    .unwrap();
    assert_eq!(
        spec.secret_names,
        vec!["ANTHROPIC_API_KEY", "SLACK_WEBHOOK_URL"]
    );
    for text in [render_systemd(&spec, false), render_launchd(&spec)] {
        assert!(!text.contains(url), "{text}");
        assert!(text.contains("SLACK_WEBHOOK_URL"), "{text}");
    }
}
