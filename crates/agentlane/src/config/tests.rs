//! Configuration parsing: the documented keys, defaults from profiles, and
//! errors with file, line, column and a fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::dispatch::PromptVia;

use super::*;

const ISSUE_EXAMPLE: &str = r#"
[routes.review]              # a route named "review"
profile = "claude"
program = "claude"
args = ["-p", "{prompt}"]
prompt_via = "arg"
model = "sonnet"
timeout = "20m"
cwd = "/srv/repos/site"
env_clear = true
env = { PATH = "/usr/bin:/bin", HOME = "/home/svc" }
[kinds.lead_review]
routes = ["review"]
models = ["sonnet"]
max_prompt_bytes = 200000
[lanes.revenue]
routes = ["review"]
concurrency = 2
"#;

fn parse_str(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("/etc/agentlane/agentlane.toml"), text)
}

#[test]
fn the_documented_example_parses_with_its_meanings() {
    let cfg = parse_str(ISSUE_EXAMPLE).unwrap();
    let r = &cfg.routes["review"];
    assert_eq!(r.profile.name, "claude");
    assert_eq!(r.program, "claude");
    assert_eq!(
        r.args,
        vec!["-p", "{prompt}", "--model", "sonnet"],
        "the profile's model flag is appended"
    );
    assert_eq!(r.prompt_via, PromptVia::Arg);
    assert_eq!(r.timeout, Some(Duration::from_secs(20 * 60)));
    assert_eq!(r.cwd.as_deref(), Some(Path::new("/srv/repos/site")));
    assert!(r.env.clear);
    assert!(r.env.set.contains(&("HOME".into(), "/home/svc".into())));
    assert_eq!(cfg.kinds["lead_review"].max_prompt_bytes, Some(200_000));
    assert_eq!(cfg.lanes["revenue"].concurrency, Some(2));
}

#[test]
fn a_route_takes_its_defaults_from_the_profile() {
    let cfg =
        parse_str("[routes.c]\nprofile = \"codex\"\nmodel = \"o4-mini\"\njson = true\n").unwrap();
    let r = &cfg.routes["c"];
    assert_eq!(r.program, "codex");
    assert_eq!(
        r.args,
        vec![
            "exec",
            "--json",
            "--skip-git-repo-check",
            "-",
            "--model",
            "o4-mini"
        ]
    );
    assert_eq!(r.prompt_via, PromptVia::Stdin);
    let req = r.request(Some(b"hi".to_vec()));
    assert_eq!(req.route.as_deref(), Some("c"));
    assert_eq!(req.model.as_deref(), Some("o4-mini"));
}

#[test]
fn model_and_json_arguments_go_before_the_prompt_separator() {
    let cfg = parse_str(
        "[routes.c]\nprofile = \"claude\"\nmodel = \"sonnet\"\njson = true\n\
         [routes.o]\nprofile = \"opencode\"\nmodel = \"p/m\"\n\
         [routes.u]\nprofile = \"claude\"\nargs = [\"-p\", \"--\", \"{prompt}\"]\nmodel = \"opus\"\njson = true\n",
    )
    .unwrap();
    let claude = [
        "--output-format",
        "stream-json",
        "--verbose",
        "-p",
        "--model",
        "sonnet",
        "--",
        "{prompt}",
    ];
    assert_eq!(cfg.routes["c"].args, claude);
    assert_eq!(
        cfg.routes["u"].args,
        claude.map(|a| a.replace("sonnet", "opus"))
    );
    assert_eq!(cfg.routes["o"].args, ["run", "--model", "p/m"]);
}

#[test]
fn custom_args_infer_the_prompt_delivery() {
    let cfg = parse_str(
        "[routes.g]\nprogram = \"/opt/agent\"\nargs = [\"--task-file\", \"{prompt_file}\"]\n",
    )
    .unwrap();
    assert_eq!(cfg.routes["g"].prompt_via, PromptVia::File);
    assert_eq!(cfg.routes["g"].profile.name, "generic");
    let cfg = parse_str("[routes.g]\nprogram = \"/opt/agent\"\nargs = [\"run\"]\n").unwrap();
    assert_eq!(cfg.routes["g"].prompt_via, PromptVia::Stdin);
}

fn err(text: &str) -> ConfigError {
    parse_str(text).unwrap_err()
}

#[test]
fn errors_name_line_column_and_fix() {
    let e = err("[routes.a]\nprofile = \"claud\"\n");
    assert_eq!((e.line, e.column), (2, 11), "{e}");
    assert!(
        e.message.contains("unknown profile 'claud'") && e.message.contains("claude"),
        "{e}"
    );

    let e = err("[routes.a]\nprofile = \"claude\"\ntimeout = \"20 minutes-ish\"\n");
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("write e.g. \"90s\""), "{e}");

    let e = err("[routes.a]\nprofile = \"claude\"\npromt_via = \"arg\"\n");
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("promt_via"), "{e}");

    let e = err("[routes.a]\nprofile = \"claude\"\n[kinds.k]\nroutes = [\"a\", \"b\"]\n");
    assert_eq!((e.line, e.column), (4, 16), "{e}");
    assert!(e.message.contains("route 'b', which is not defined"), "{e}");

    let e = err("[routes.a]\nprofile = \"generic\"\n");
    assert!(e.message.contains("has no `program`"), "{e}");

    let e = err("[routes.a]\nprofile = \"claude\"\nprompt_via = \"pipe\"\n");
    assert!(e.message.contains("use stdin, arg or file"), "{e}");

    let e = err("[lanes.l]\nconcurrency = 0\n");
    assert_eq!(e.line, 2, "{e}");

    let e = err("[routes.a\nprofile = 1\n");
    assert_eq!(e.line, 1, "{e}");
    assert_eq!(e.file, "/etc/agentlane/agentlane.toml");
}

#[test]
fn env_files_and_rules_files_are_read_relative_to_the_config() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("svc.env"), "PATH=/usr/bin:/bin\nTOKEN=x\n").unwrap();
    std::fs::write(
        t.path().join("rules.toml"),
        "[[rule]]\nid = \"acme.x\"\nclass = \"transient_io\"\npattern = 'acme broke'\n",
    )
    .unwrap();
    let path = t.path().join("agentlane.toml");
    let cfg = parse(
        &path,
        "rules_file = \"rules.toml\"\n[routes.a]\nprofile = \"claude\"\nenv_file = \"svc.env\"\n",
    )
    .unwrap();
    assert!(cfg.routes["a"]
        .env
        .set
        .contains(&("TOKEN".into(), "x".into())));
    assert!(cfg.rules.rules().iter().any(|r| r.id == "acme.x"));

    std::fs::write(t.path().join("bad.env"), "OK=1\nnope\n").unwrap();
    let e = parse(
        &path,
        "[routes.a]\nprofile = \"claude\"\nenv_file = \"bad.env\"\n",
    )
    .unwrap_err();
    assert!(e.file.ends_with("bad.env") && e.line == 2, "{e}");
}

#[test]
fn candidates_follow_the_documented_order() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(
        candidates(
            Some(Path::new("/x.toml")),
            env(&[("AGENTLANE_CONFIG", "/y.toml")])
        ),
        vec![PathBuf::from("/x.toml")]
    );
    assert_eq!(
        candidates(None, env(&[("AGENTLANE_CONFIG", "/y.toml")])),
        vec![PathBuf::from("/y.toml")]
    );
    assert_eq!(
        candidates(None, env(&[("HOME", "/h")])),
        vec![
            PathBuf::from("agentlane.toml"),
            PathBuf::from("/h/.config/agentlane/agentlane.toml")
        ]
    );
}

#[test]
fn retry_sections_override_the_table_per_class_and_route() {
    let cfg = parse_str(
        "[retry.rate_limited]\naction = \"retry\"\ninitial_backoff = \"30s\"\nfactor = 2.0\nmax_backoff = \"10m\"\nmax_attempts = 5\n\
         [queue]\nlease = \"30s\"\n\
         [routes.a]\nprofile = \"claude\"\n[routes.a.retry.timeout]\naction = \"fail\"\n",
    )
    .unwrap();
    let p = cfg.retry.policy(crate::Class::RateLimited, None);
    assert_eq!(p.max_backoff, Duration::from_secs(600));
    assert_eq!(p.max_attempts, 5);
    assert_eq!(
        cfg.retry.policy(crate::Class::Timeout, Some("a")).action,
        crate::retry::Action::Fail
    );
    assert_eq!(
        cfg.retry.policy(crate::Class::Timeout, Some("b")).action,
        crate::retry::Action::Retry
    );
    assert_eq!(cfg.queue.lease, Duration::from_secs(30));
    let e = err("[retry.rate_limted]\naction = \"retry\"\n");
    assert!(e.message.contains("rate_limted"), "{e}");
    let e = err("[retry.timeout]\naction = \"again\"\n");
    assert_eq!(e.line, 2, "{e}");
}

#[test]
fn queue_retention_defaults_to_fourteen_days_and_can_be_set_or_turned_off() {
    let base = "[routes.r]\nprofile = \"generic\"\nprogram = \"/bin/true\"\n";
    let default = parse_str(base).unwrap();
    assert_eq!(
        default.queue.retention,
        Some(Duration::from_secs(14 * 24 * 3600))
    );
    let week = parse_str(&format!("{base}[queue]\nretention = \"7d\"\n")).unwrap();
    assert_eq!(
        week.queue.retention,
        Some(Duration::from_secs(7 * 24 * 3600))
    );
    let off = parse_str(&format!("{base}[queue]\nretention = \"off\"\n")).unwrap();
    assert_eq!(off.queue.retention, None);
    let bad = parse_str(&format!("{base}[queue]\nretention = \"forever\"\n"))
        .unwrap_err()
        .to_string();
    assert!(
        bad.contains("agentlane.toml:5:") && bad.contains("queue.retention"),
        "{bad}"
    );
}

#[test]
fn the_artifact_cap_defaults_to_64_mib_and_reaches_every_route_request() {
    let base = "[routes.r]\nprofile = \"generic\"\nprogram = \"/bin/true\"\n";
    let default = parse_str(base).unwrap();
    assert_eq!(default.artifacts.max_bytes_per_stream, 64 << 20);
    assert_eq!(default.routes["r"].request(None).artifact_cap, 64 << 20);
    let small = parse_str(&format!(
        "[artifacts]\nmax_bytes_per_stream = \"1MiB\"\n{base}"
    ))
    .unwrap();
    assert_eq!(small.artifacts.max_bytes_per_stream, 1 << 20);
    let route = &small.routes["r"];
    assert_eq!(route.request(None).artifact_cap, 1 << 20);
    assert_eq!(
        route
            .probe_request(vec![], Duration::from_secs(1))
            .artifact_cap,
        1 << 20
    );
    let bad = parse_str(&format!("{base}[artifacts]\nmax_bytes_per_stream = 4096\n"))
        .unwrap_err()
        .to_string();
    assert!(bad.contains("agentlane.toml:5:"), "{bad}");
}

#[test]
fn a_worker_kind_whose_user_does_not_exist_is_refused_not_run_as_self() {
    let cfg = parse(
        Path::new("a.toml"),
        "[routes.r]\nprofile = \"claude\"\n[workers.svc]\nuser = \"nosuchuser-agentlane\"\n[workers.me]\nenv_clear = true\n",
    )
    .unwrap();
    let err = cfg.workers["svc"].apply(&cfg.routes["r"]).unwrap_err();
    assert_eq!(err.user, "nosuchuser-agentlane");
    assert!(err.to_string().contains("[workers.svc]"), "{err}");
    // A kind that names no user runs as the worker itself.
    let me = cfg.workers["me"].apply(&cfg.routes["r"]).unwrap();
    assert!(me.run_as.is_none());
}

#[test]
fn an_unknown_route_or_kind_is_a_typed_error_that_names_the_file_and_the_choices() {
    let cfg = parse(
        Path::new("/etc/agentlane.toml"),
        "[routes.a]\nprofile = \"claude\"\n[routes.b]\nprofile = \"codex\"\n[kinds.k]\n",
    )
    .unwrap();
    let e = cfg.route("c").unwrap_err();
    assert_eq!(
        (e.what, e.name.as_str(), e.known.as_str()),
        ("route", "c", "a, b")
    );
    assert_eq!(
        e.to_string(),
        "no route 'c' in /etc/agentlane.toml: define [routes.c] or use one of [a, b]"
    );
    let e = cfg.kind("x").unwrap_err();
    assert_eq!(
        e.to_string(),
        "no kind 'x' in /etc/agentlane.toml: define [kinds.x] or use one of [k]"
    );
    assert!(cfg.route("a").is_ok() && cfg.kind("k").is_ok());
}
