//! End to end, through the real binary: a fresh random secret of every
//! family in the corpus (crates/agentlane/tests/data/secrets/corpus.jsonl),
//! printed by the child on stdout and stderr, passed in its argv, and queued
//! in prompts. Everything agentlane wrote (database, WAL, artifacts) and
//! printed is searched for any 12-character window of each secret's random
//! part. Reproduce a run with `REDACTION_SEED=<printed seed>`.

mod common;

#[path = "../../agentlane/tests/support/secret_gen.rs"]
mod secret_gen;

use common::*;
use secret_gen::*;
use serde_json::Value;

const CORPUS: &str = include_str!("../../agentlane/tests/data/secrets/corpus.jsonl");

struct Sample {
    family: String,
    /// How a person would print it: `NAME=value` for prefixless families.
    shown: String,
    windows: Vec<String>,
}

fn samples(rng: &mut Rng) -> Vec<Sample> {
    CORPUS
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("corpus row"))
        .map(|row| {
            let (value, random) = generate(row["generator"].as_str().unwrap(), rng);
            // The templates write a PEM's newlines as `\n`: print them as lines.
            let value = value.replace("\\n", "\n");
            let random: Vec<bool> = random.into_iter().take(value.len()).collect();
            let shown = match row["context"].as_str() {
                Some(name) => format!("{name}={value}"),
                None => value.clone(),
            };
            Sample {
                family: row["family"].as_str().unwrap().to_string(),
                shown,
                windows: secret_windows(&value, &random),
            }
        })
        .collect()
}

fn leaked<'a>(samples: &'a [Sample], places: &[(String, Vec<u8>)]) -> Vec<(&'a str, String)> {
    // One automaton of every window, one pass over each place.
    let (mut windows, mut owner) = (Vec::new(), Vec::new());
    for (i, s) in samples.iter().enumerate() {
        for w in &s.windows {
            windows.push(w.as_bytes());
            owner.push(i);
        }
    }
    let ac = aho_corasick::AhoCorasick::new(&windows).expect("windows are literals");
    let mut out = std::collections::BTreeSet::new();
    for (place, bytes) in places {
        for m in ac.find_overlapping_iter(bytes.as_slice()) {
            out.insert((
                samples[owner[m.pattern().as_usize()]].family.as_str(),
                place.clone(),
            ));
        }
    }
    out.into_iter().collect()
}

fn stored(sb: &Sandbox) -> Vec<(String, Vec<u8>)> {
    sb.all_stored_bytes()
        .into_iter()
        .map(|(p, b)| (p.display().to_string(), b))
        .collect()
}

#[test]
fn every_family_printed_or_passed_in_argv_is_kept_out_of_everything_written() {
    let seed = seed();
    println!("REDACTION_SEED={seed}");
    let mut rng = Rng(seed);
    let samples = samples(&mut rng);
    assert!(samples.len() >= 100, "{} families", samples.len());
    let sb = Sandbox::new();
    let mut fake_args: Vec<String> = Vec::new();
    for s in &samples {
        fake_args.push("--stdout".into());
        fake_args.push(s.shown.clone());
        fake_args.push("--stderr".into());
        fake_args.push(format!("error: the server refused {} (401)", s.shown));
    }
    fake_args.extend(["--exit".into(), "1".into()]);
    let fake_args: Vec<&str> = fake_args.iter().map(String::as_str).collect();
    let run = sb.fake(&["--tail-bytes", "1000000"], &fake_args);
    assert_eq!(run.status, 1, "{}", run.stderr);
    let id = run.str("dispatch_id").to_string();
    let shown = sb.run(&["show", &id, "--json"]);
    let mut places = stored(&sb);
    places.push(("exec --json".into(), run.report.to_string().into_bytes()));
    places.push(("exec stderr".into(), run.stderr.clone().into_bytes()));
    places.push(("show --json".into(), shown.stdout));
    // The child really printed them: the artifacts hold every line, redacted.
    assert!(
        places
            .iter()
            .any(|(p, b)| p.contains("artifacts") && b.len() > 10_000),
        "no artifact of the child's output: {:?}",
        places.iter().map(|p| &p.0).collect::<Vec<_>>()
    );
    let leaks = leaked(&samples, &places);
    let families: std::collections::BTreeSet<&str> = leaks.iter().map(|l| l.0).collect();
    println!(
        "printed and in argv: {} of {} families kept out of everything written",
        samples.len() - families.len(),
        samples.len()
    );
    assert!(leaks.is_empty(), "leaked: {leaks:#?}");
}

#[test]
fn every_family_in_a_queued_prompt_is_refused_or_stored_redacted_never_in_clear() {
    let mut rng = Rng(seed());
    let samples = samples(&mut rng);
    for policy in ["refuse", "redact"] {
        let sb = Sandbox::new();
        let cfg = sb.path("agentlane.toml");
        std::fs::write(
            &cfg,
            format!("[routes.t]\nprofile = \"generic\"\nprogram = \"/bin/true\"\n[kinds.k]\nroutes = [\"t\"]\n[lanes.l]\nroutes = [\"t\"]\n[queue]\nprompt_secrets = \"{policy}\"\n"),
        )
        .unwrap();
        let jsonl = sb.path("jobs.jsonl");
        let lines: Vec<String> = samples
            .iter()
            .map(|s| {
                serde_json::json!({
                    "kind": "k",
                    "lane": "l",
                    "prompt": format!("Please fix the deploy script. It uses {} and still gets a 403.", s.shown),
                })
                .to_string()
            })
            .collect();
        std::fs::write(&jsonl, lines.join("\n") + "\n").unwrap();
        let out = sb.run(&[
            "--config",
            cfg.to_str().unwrap(),
            "enqueue",
            "--jsonl",
            jsonl.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        match policy {
            "refuse" => assert_ne!(out.status.code(), Some(0), "{stderr}"),
            _ => assert_eq!(out.status.code(), Some(0), "{stderr}"),
        }
        let jobs = sb.run(&[
            "--config",
            cfg.to_str().unwrap(),
            "jobs",
            "--json",
            "--limit",
            "0",
        ]);
        let mut places = stored(&sb);
        places.push(("enqueue stdout".into(), out.stdout));
        places.push(("enqueue stderr".into(), out.stderr));
        places.push(("jobs --json".into(), jobs.stdout.clone()));
        if policy == "redact" {
            let listed = String::from_utf8_lossy(&jobs.stdout);
            assert!(listed.matches("\"k\"").count() >= samples.len(), "{listed}");
        }
        let leaks = leaked(&samples, &places);
        assert!(leaks.is_empty(), "{policy}: leaked {leaks:#?}");
    }
}
