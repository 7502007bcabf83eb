//! Output conventions (issue 16): plain columns when piped, boxes and colour
//! only on a terminal, NO_COLOR honoured, a footer when a list is cut, words
//! for durations, `explain --json`, completions and a man page generated
//! from the command's own definitions.

mod common;

use std::process::{Command, Output, Stdio};

use common::*;

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn has_box_drawing(s: &str) -> bool {
    s.chars().any(|c| ('\u{2500}'..='\u{257F}').contains(&c))
}

/// A home with two failed dispatches and three queued jobs.
fn populated() -> Sandbox {
    let sb = Sandbox::new();
    for _ in 0..2 {
        sb.fake(
            &[],
            &["--stderr", "Error: 429 Too Many Requests", "--exit", "1"],
        );
    }
    let config = sb.path("agentlane.toml");
    std::fs::write(
        &config,
        format!(
            "[routes.r]\nprofile = \"generic\"\nprogram = \"{}\"\n[kinds.k]\nroutes = [\"r\"]\n",
            fake_agent().display()
        ),
    )
    .unwrap();
    for i in 0..3 {
        let out = sb.run(&[
            "--config",
            config.to_str().unwrap(),
            "enqueue",
            "--kind",
            "k",
            "--lane",
            "main",
            "--prompt",
            &format!("job {i}"),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    sb
}

/// `agentlane --home H ARGS` on a pseudo-terminal (`script`), with `env`.
fn on_a_terminal(sb: &Sandbox, args: &str, env: &[(&str, &str)]) -> String {
    let line = format!(
        "{} --home {} {args}",
        agentlane().display(),
        sb.home().display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env("TERM", "xterm-256color")
        .env("COLUMNS", "200")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("script(1) runs (bsdutils)");
    text(&out)
}

#[test]
fn piped_lists_are_plain_columns_without_box_characters() {
    let sb = populated();
    for args in [
        &["runs"][..],
        &["jobs"],
        &["incidents"],
        &["status"],
        &["jobs", "--lane", "main", "--limit", "2"],
    ] {
        let out = sb.run(args);
        assert!(out.status.success(), "{args:?}");
        let t = text(&out);
        assert!(!has_box_drawing(&t), "{args:?} piped:\n{t}");
        assert!(!t.contains('\u{1b}'), "{args:?} piped has no colour:\n{t}");
    }
    // Dumb terminals get plain columns too.
    let t = on_a_terminal(&sb, "jobs", &[("TERM", "dumb")]);
    assert!(!has_box_drawing(&t), "TERM=dumb:\n{t}");
}

#[test]
fn a_terminal_gets_boxes_and_colour_unless_no_color_is_set() {
    let sb = populated();
    let t = on_a_terminal(&sb, "runs", &[]);
    assert!(has_box_drawing(&t), "{t}");
    assert!(
        t.contains("\u{1b}["),
        "the class is coloured on a terminal:\n{t}"
    );
    let t = on_a_terminal(&sb, "runs", &[("NO_COLOR", "1")]);
    assert!(has_box_drawing(&t), "{t}");
    assert!(!t.contains('\u{1b}'), "NO_COLOR:\n{t}");
}

#[test]
fn a_cut_list_says_how_many_and_how_to_see_all_and_durations_read_as_words() {
    let sb = populated();
    let t = text(&sb.run(&["jobs", "--limit", "2"]));
    assert!(t.contains("2 of 3 shown; --limit 0 for all"), "{t}");
    let t = text(&sb.run(&["jobs", "--limit", "0"]));
    assert!(!t.contains("shown"), "{t}");
    let t = text(&sb.run(&["runs", "--limit", "1"]));
    assert!(t.contains("1 of 2 shown; --limit 0 for all"), "{t}");
    let row = t.lines().nth(1).unwrap();
    assert!(
        row.split_whitespace()
            .any(|w| w.ends_with("ms") || w.ends_with('s')),
        "a duration in words: {row}"
    );
    let t = text(&sb.run(&["jobs", "--limit", "2", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&t).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "JSON holds the rows only");
}

#[test]
fn explain_json_carries_the_catalogue() {
    let sb = Sandbox::new();
    let v: serde_json::Value =
        serde_json::from_slice(&sb.run(&["explain", "rate_limited", "--json"]).stdout).unwrap();
    assert_eq!(v["class"], "rate_limited");
    assert!(v["meaning"].as_str().unwrap().len() > 10);
    assert!(!v["repair"].as_array().unwrap().is_empty());
    let all: serde_json::Value =
        serde_json::from_slice(&sb.run(&["explain", "--list", "--json"]).stdout).unwrap();
    let labels: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["class"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"cli_missing") && labels.contains(&"unknown_exit_N"),
        "{labels:?}"
    );
    assert_eq!(
        sb.run(&["explain", "nonsense", "--json"]).status.code(),
        Some(64)
    );
}

#[test]
fn completions_generate_for_bash_zsh_and_fish_from_the_commands() {
    let sb = Sandbox::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = sb.run(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let t = text(&out);
        for word in ["enqueue", "worker", "incident", "log-format"] {
            assert!(t.contains(word), "{shell} completion lacks {word}");
        }
    }
    assert_eq!(sb.run(&["completions", "tcsh"]).status.code(), Some(64));
}

#[test]
fn the_man_page_renders() {
    let sb = Sandbox::new();
    let out = sb.run(&["man"]);
    assert!(out.status.success());
    let roff = text(&out);
    assert!(roff.contains(".TH agentlane 1"), "{roff}");
    let mut groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-P", "-cbou"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("groff is installed (.ci/run installs groff-base)");
    use std::io::Write;
    groff
        .stdin
        .take()
        .unwrap()
        .write_all(roff.as_bytes())
        .unwrap();
    let rendered = groff.wait_with_output().unwrap();
    assert!(rendered.status.success());
    let page = String::from_utf8_lossy(&rendered.stdout);
    assert!(page.contains("NAME") && page.contains("SYNOPSIS"), "{page}");
    assert!(
        page.contains("unattended"),
        "the page opens with what agentlane is for"
    );
    let dir = sb.path("man1");
    assert!(sb
        .run(&["man", "--dir", dir.to_str().unwrap()])
        .status
        .success());
    assert!(dir.join("agentlane.1").is_file() && dir.join("agentlane-worker.1").is_file());
}

#[test]
fn help_starts_with_what_agentlane_is_for() {
    let sb = Sandbox::new();
    let t = text(&sb.run(&["--help"]));
    let first = t.lines().next().unwrap();
    assert!(
        first.starts_with("Runs coding-agent CLIs") && !first.contains("argument parsing"),
        "{first}"
    );
}
