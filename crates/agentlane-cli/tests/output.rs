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

/// `s` without its colour sequences (`ESC [ … m`).
fn without_escapes(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
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

/// A home whose worker settled two jobs on two routes: one parked behind an
/// `auth_unavailable` incident, one failed with `unknown_exit_3` (two
/// incidents); returns the sandbox and its configuration file.
fn worked() -> (Sandbox, String) {
    let sb = Sandbox::new();
    let config = sb.path("agentlane.toml");
    let fake = fake_agent();
    std::fs::write(
        &config,
        format!(
            "[routes.a]\nprofile = \"generic\"\nprogram = \"{f}\"\n\
             args = [\"--stderr\", \"Error: 401 Unauthorized: invalid x-api-key\", \"--exit\", \"1\"]\n\
             [routes.b]\nprofile = \"generic\"\nprogram = \"{f}\"\n\
             args = [\"--stderr\", \"something odd\", \"--exit\", \"3\"]\n\
             [kinds.ka]\nroutes = [\"a\"]\n[kinds.kb]\nroutes = [\"b\"]\n",
            f = fake.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();
    for kind in ["ka", "kb"] {
        let out = sb.run(&[
            "--config", &config, "enqueue", "--kind", kind, "--lane", "main", "--prompt", "p",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = sb.run(&["--config", &config, "worker", "--lane", "main", "--drain"]);
    assert!(
        out.status.code().is_some_and(|c| c != 0),
        "a parked and a failed job: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (sb, config)
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
    let (sb, config) = worked();
    for args in [
        &["runs"][..],
        &["jobs"],
        &["incidents"],
        &["status"],
        &["--config", &config, "doctor"],
        &["jobs", "--lane", "main", "--limit", "1"],
    ] {
        let out = sb.run(args);
        let t = text(&out);
        assert!(
            t.lines().count() >= 2,
            "{args:?} prints a header and rows:\n{t}"
        );
        assert!(!has_box_drawing(&t), "{args:?} piped:\n{t}");
        assert!(!t.contains('\u{1b}'), "{args:?} piped has no colour:\n{t}");
        assert!(
            !t.starts_with(' '),
            "{args:?}: no blank before the header:\n{t}"
        );
        for line in t.lines() {
            assert_eq!(
                line,
                line.trim_end(),
                "{args:?}: no blanks after a line:\n{t}"
            );
        }
    }
    // Columns line up: each header word starts where its column's cells do.
    let t = text(&sb.run(&["jobs"]));
    let lines: Vec<&str> = t.lines().collect();
    let at = lines[0].find("state").unwrap();
    assert!(
        lines[1..3]
            .iter()
            .all(|l| l[at..].starts_with("parked") || l[at..].starts_with("failed")),
        "{t}"
    );
    // Dumb terminals get plain columns too, and no colour.
    let t = on_a_terminal(&sb, "jobs", &[("TERM", "dumb")]);
    assert!(!has_box_drawing(&t), "TERM=dumb:\n{t}");
    assert!(!t.contains('\u{1b}'), "TERM=dumb:\n{t}");
}

#[test]
fn a_terminal_gets_boxes_and_colour_unless_no_color_is_set() {
    let sb = populated();
    let t = on_a_terminal(&sb, "runs", &[]);
    assert!(has_box_drawing(&t), "{t}");
    // COLUMNS=200: the table fits it, and its rows are whole (a pseudo-
    // terminal nobody sized reports 0 columns; that is not its width).
    let widest = t
        .lines()
        .map(|l| without_escapes(l).chars().count())
        .max()
        .unwrap();
    assert!((100..=200).contains(&widest), "{widest} columns:\n{t}");
    assert!(t.contains("rate_limited"), "{t}");
    assert!(
        t.contains("\u{1b}["),
        "the class is coloured on a terminal:\n{t}"
    );
    let t = on_a_terminal(&sb, "runs", &[("NO_COLOR", "1")]);
    assert!(has_box_drawing(&t), "{t}");
    assert!(!t.contains('\u{1b}'), "NO_COLOR:\n{t}");
    // An empty NO_COLOR does not count (no-color.org).
    let t = on_a_terminal(&sb, "runs", &[("NO_COLOR", "")]);
    assert!(t.contains("\u{1b}["), "NO_COLOR empty:\n{t}");
}

#[test]
fn states_classes_and_preflight_answers_are_coloured_on_a_terminal() {
    let (sb, config) = worked();
    let red = "\u{1b}[38;5;9m";
    let yellow = "\u{1b}[38;5;11m";
    let green = "\u{1b}[38;5;10m";
    for (args, tone, what) in [
        ("jobs".to_string(), yellow, "parked"),
        ("jobs".to_string(), red, "failed"),
        ("incidents".to_string(), red, "auth_unavailable"),
        ("status".to_string(), yellow, "parked"),
        (format!("--config {config} doctor"), green, "yes"),
    ] {
        let t = on_a_terminal(&sb, &args, &[]);
        assert!(
            t.contains(&format!("{tone} {what} ")),
            "{args}: {what} wears its colour:\n{t:?}"
        );
        let t = on_a_terminal(&sb, &args, &[("NO_COLOR", "1")]);
        assert!(!t.contains('\u{1b}'), "{args} with NO_COLOR:\n{t}");
    }
}

#[test]
fn a_terminal_cuts_a_long_cell_with_a_mark_and_a_pipe_keeps_it_whole() {
    let (sb, _) = worked();
    let end = "replaying it on the stored dispatches";
    let t = on_a_terminal(&sb, "incidents", &[]);
    assert!(t.contains('…'), "the cut is marked:\n{t}");
    assert!(!t.contains(end), "{t}");
    // Header (3 lines with its rules), 2 rows of at most 4 lines, bottom rule.
    assert!(t.lines().count() <= 3 + 2 * 4 + 1, "{t}");
    let piped = text(&sb.run(&["incidents"]));
    assert!(piped.contains(end) && !piped.contains('…'), "{piped}");
}

#[test]
fn a_cut_incident_list_says_how_many_and_limit_0_shows_all() {
    let (sb, _) = worked();
    let t = text(&sb.run(&["incidents", "--limit", "1"]));
    assert_eq!(t.lines().count(), 3, "header, one row, footer:\n{t}");
    assert!(t.ends_with("1 of 2 shown; --limit 0 for all\n"), "{t}");
    for args in [&["incidents"][..], &["incidents", "--limit", "0"]] {
        let t = text(&sb.run(args));
        assert_eq!(t.lines().count(), 3, "{args:?}: header and both rows:\n{t}");
        assert!(!t.contains("shown"), "{t}");
    }
    let v: serde_json::Value =
        serde_json::from_slice(&sb.run(&["incidents", "--limit", "1", "--json"]).stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "JSON holds the rows only");
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
    // `show` says how long the dispatch took, in words.
    let runs: serde_json::Value =
        serde_json::from_slice(&sb.run(&["runs", "--json"]).stdout).unwrap();
    let id = runs[0]["dispatch_id"].as_str().unwrap();
    let shown = text(&sb.run(&["show", id]));
    let took = shown
        .lines()
        .find_map(|l| l.strip_prefix("took"))
        .unwrap_or_else(|| panic!("show has a took line:\n{shown}"))
        .trim();
    assert!(
        took.ends_with("ms") && took[..took.len() - 2].parse::<u64>().is_ok(),
        "a fake agent's run takes milliseconds, in words: {took:?}"
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
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
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
