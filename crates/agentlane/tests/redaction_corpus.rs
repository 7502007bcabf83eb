//! Redaction over a corpus of token formats (tests/data/secrets/corpus.jsonl):
//! fresh random values per family on every run, each presented on every
//! channel agentlane redacts; a secret leaks if any 12-character window of
//! its random part survives. Also the false-positive rate over ordinary
//! output (tests/data/secrets/ordinary.txt).
//!
//! Reproduce a run with `REDACTION_SEED=<seed printed> cargo test -p agentlane --test redaction_corpus -- --nocapture`.

use agentlane::redact::{Redactor, StreamRedactor};
use serde_json::Value;

const CORPUS: &str = include_str!("data/secrets/corpus.jsonl");
const ORDINARY: &str = include_str!("data/secrets/ordinary.txt");
/// Values generated per family and channel.
const ROUNDS: usize = 4;

#[path = "support/secret_gen.rs"]
mod secret_gen;
use secret_gen::*;

const CHANNELS: [&str; 7] = [
    "alone",
    "sentence",
    "stream",
    "json",
    "argv --flag=V",
    "argv --flag V",
    "prompt",
];

fn stream(r: &Redactor, input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    let mut s = StreamRedactor::new(r);
    let mut at = 0;
    while at < input.len() {
        let n = (1 + rng.below(23)).min(input.len() - at);
        s.push(&input[at..at + n], &mut |b| out.extend_from_slice(b));
        at += n;
    }
    s.finish(&mut |b| out.extend_from_slice(b));
    out
}

/// Whether the value leaked on a channel.
fn leaks(
    r: &Redactor,
    channel: &str,
    shown: &str,
    value: &str,
    random: &[bool],
    rng: &mut Rng,
) -> bool {
    let out = match channel {
        "alone" => r.redact_bytes(format!("{shown}\n").as_bytes()).into_owned(),
        "sentence" => r
            .redact_bytes(format!("error: the server refused {shown} (401), retrying\n").as_bytes())
            .into_owned(),
        "stream" => stream(
            r,
            format!("starting\nerror: the server refused {shown} (401)\ndone\n").as_bytes(),
            rng,
        ),
        "json" => {
            let line = serde_json::json!({"type": "item.completed", "text": format!("I found {shown} in .env")});
            r.redact_bytes(format!("{line}\n").as_bytes()).into_owned()
        }
        "argv --flag=V" => r
            .redact_bytes(format!("agent --api-key={value} --model m").as_bytes())
            .into_owned(),
        "argv --flag V" => r
            .redact_bytes(format!("agent --api-key {value} --model m").as_bytes())
            .into_owned(),
        "prompt" => r
            .redact_bytes(
                format!("Please fix the deploy script. It uses {shown} and still gets a 403.")
                    .as_bytes(),
            )
            .into_owned(),
        _ => unreachable!(),
    };
    let out = String::from_utf8_lossy(&out);
    let (escaped, mask) = json_escaped(value, random);
    secret_windows(value, random)
        .into_iter()
        .chain(secret_windows(&escaped, &mask))
        .any(|w| out.contains(&w))
}

#[test]
fn formats_are_redacted_on_every_channel() {
    let seed = seed();
    println!("REDACTION_SEED={seed}");
    let mut rng = Rng(seed);
    let r = Redactor::shapes_only();
    // [split][channel] = (redacted families, families)
    let mut per = std::collections::BTreeMap::<(&str, &str), (usize, usize)>::new();
    let (mut all_ok, mut all, mut held_ok, mut held) = (0, 0, 0, 0);
    let mut leaked = Vec::new();
    let rows: Vec<Value> = CORPUS
        .lines()
        .map(|l| serde_json::from_str(l).expect("corpus row"))
        .collect();
    assert!(rows.len() >= 100, "{} families in the corpus", rows.len());
    for row in &rows {
        let family = row["family"].as_str().unwrap();
        let split = row["split"].as_str().unwrap();
        let template = row["generator"].as_str().unwrap();
        let context = row["context"].as_str();
        let mut family_ok = true;
        for channel in CHANNELS {
            let mut ok = true;
            let mut values: Vec<(String, Vec<bool>)> =
                (0..ROUNDS).map(|_| generate(template, &mut rng)).collect();
            if let Some(example) = row["example"].as_str() {
                values.push((example.to_string(), vec![true; example.len()]));
            }
            for (value, random) in values {
                let shown = match context {
                    Some(name) => format!("{name}={value}"),
                    None => value.clone(),
                };
                if leaks(&r, channel, &shown, &value, &random, &mut rng) {
                    ok = false;
                    let after = r.redact(&shown);
                    leaked.push(format!("{family} [{split}] {channel}: {shown} -> {after}"));
                    break;
                }
            }
            let e = per.entry((split, channel)).or_default();
            e.0 += ok as usize;
            e.1 += 1;
            family_ok &= ok;
        }
        all += 1;
        all_ok += family_ok as usize;
        if split == "held-out" {
            held += 1;
            held_ok += family_ok as usize;
        }
    }
    println!("recall per channel (families redacted / families):");
    for ((split, channel), (ok, n)) in &per {
        println!(
            "  {split:9} {channel:14} {ok:3}/{n:3} = {:5.1}%",
            100.0 * *ok as f64 / *n as f64
        );
    }
    let (tun_ok, tun) = (all_ok - held_ok, all - held);
    println!("families redacted on every channel: tuning {tun_ok}/{tun}, held-out {held_ok}/{held}, all {all_ok}/{all} = {:.1}%", 100.0 * all_ok as f64 / all as f64);
    for l in &leaked {
        println!("  leaked: {l}");
    }
    assert!(
        all_ok as f64 >= 0.97 * all as f64,
        "only {all_ok}/{all} formats redacted on every channel (seed {seed}); leaked:\n{}",
        leaked.join("\n")
    );
}

#[test]
fn ordinary_output_is_left_alone() {
    let r = Redactor::shapes_only();
    let lines: Vec<&str> = ORDINARY.lines().collect();
    assert!(lines.len() >= 3000, "{} lines", lines.len());
    let touched: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| r.redact(l) != *l)
        .collect();
    let rate = touched.len() as f64 / lines.len() as f64;
    println!(
        "false positives: {} of {} ordinary lines = {:.2}%",
        touched.len(),
        lines.len(),
        100.0 * rate
    );
    for l in &touched {
        println!(
            "  touched: {}",
            r.redact(l).chars().take(160).collect::<String>()
        );
    }
    assert!(
        rate < 0.01,
        "redaction touched {:.2}% of ordinary lines",
        100.0 * rate
    );
}
