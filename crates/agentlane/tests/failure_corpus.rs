//! The failure corpus (tests/data/failures, docs/failure-corpus.md) through
//! the classifier in process: the same pure function every dispatch calls,
//! over 713 real failure messages of the six CLIs and of the tools that spawn
//! them, and 124 outputs that must keep their verdict. The end-to-end replay
//! through the binary is agentlane-cli's tests/failure_corpus.rs; this one is
//! quick enough to gate every `cargo test`.
//!
//! The split is fixed by the source address (SHA-256, first byte below 77 is
//! held out) and was made before any rule was written from the corpus. Rules
//! are tuned on the tuning set only: `FAILURE_CORPUS_MISSES=1` prints the
//! tuning set's misses, never the held-out set's. Round one's held-out set
//! was measured blind (119/143) and then read; it tunes now and is reported
//! as `read-r1`. Round two's held-out set is the unseen one.

use std::collections::BTreeMap;

use agentlane::classify::{classify, HintContext, Observed, RuleSet};
use serde_json::Value;

const CORPUS: &str = include_str!("data/failures/corpus.jsonl");
const PRECISION: &str = include_str!("data/failures/precision.jsonl");
const HELDOUT_BELOW: u8 = 77;

/// The figures this classifier reaches; a change that lowers one fails here.
/// Issue 14's goals are 0.98 (tuning) and 0.95 (held-out). Measured
/// (docs/failure-corpus.md): tuning 475/492, round one's held-out set 119/143
/// blind and 134/143 once read, round two's held-out set 68/78 blind — six of
/// its ten misses carry their collector's "doubtful" note (the class depends
/// on context the text does not hold).
const MIN_TUNING: f64 = 0.96;
const MIN_READ_R1: f64 = 0.93;
const MIN_HELDOUT: f64 = 0.87;

struct Entry {
    id: String,
    source: String,
    cli: String,
    stream: String,
    exit_code: i32,
    message: String,
    want: String,
    /// 1 for the first corpus (its held-out set was read after its blind
    /// measurement, so it now tunes), 2 for the second.
    round: i64,
}

fn entries(text: &str, want_key: &str) -> Vec<Entry> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            Entry {
                id: s("id"),
                source: s("source"),
                cli: s("cli"),
                stream: s("stream"),
                exit_code: v["exit_code"]
                    .as_i64()
                    .and_then(|c| i32::try_from(c).ok())
                    .unwrap_or(1),
                message: s("message"),
                want: s(want_key),
                round: v["round"].as_i64().unwrap_or(1),
            }
        })
        .collect()
}

fn hashed_out(e: &Entry) -> bool {
    use sha2::Digest;
    sha2::Sha256::digest(e.source.as_bytes())[0] < HELDOUT_BELOW
}

/// Where an entry counts. The hash puts ~30% of each round aside; the first
/// round's held-out set was measured blind (119/143) and then read, so it
/// tunes now and is reported on its own line (`read-r1`); only the second
/// round's held-out set is unseen.
fn split(e: &Entry) -> &'static str {
    match (hashed_out(e), e.round) {
        (false, _) => "tuning",
        (true, 1) => "read-r1",
        (true, _) => "heldout",
    }
}

/// The class the classifier names for an entry replayed as the harness does:
/// the message on its stream (both when the thread did not say), its exit code.
fn verdict(e: &Entry) -> (String, String) {
    let mut message = e.message.clone();
    if !message.ends_with('\n') {
        message.push('\n');
    }
    let (out, err): (&[u8], &[u8]) = match e.stream.as_str() {
        "stdout" => (message.as_bytes(), b""),
        "stderr" => (b"", message.as_bytes()),
        _ => (message.as_bytes(), message.as_bytes()),
    };
    let observed = Observed {
        exit_code: Some(e.exit_code),
        signal: None,
        timed_out: false,
        stdout_tail: out,
        stderr_tail: err,
        stdout_truncated: false,
        stderr_truncated: false,
    };
    let ctx = HintContext {
        program: &e.cli,
        cwd: "/srv/replay/cwd",
        ..HintContext::default()
    };
    let c = classify(&observed, RuleSet::builtin, &ctx);
    (c.class.to_string(), c.rule)
}

fn right(want: &str, got: &str) -> bool {
    got == want || (want == "unknown" && got.starts_with("unknown_exit_"))
}

#[test]
fn the_classifier_names_real_failures_it_was_not_written_from() {
    let corpus = entries(CORPUS, "class");
    assert!(corpus.len() >= 400, "{} entries", corpus.len());
    let show_misses = std::env::var_os("FAILURE_CORPUS_MISSES").is_some();
    let mut totals: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut per_class: BTreeMap<(String, &str), (usize, usize)> = BTreeMap::new();
    let mut called_ok = Vec::new();
    for e in &corpus {
        let split = split(e);
        let (got, rule) = verdict(e);
        let ok = right(&e.want, &got);
        let t = totals.entry(split).or_default();
        t.0 += usize::from(ok);
        t.1 += 1;
        let c = per_class.entry((e.want.clone(), split)).or_default();
        c.0 += usize::from(ok);
        c.1 += 1;
        if got == "ok" {
            called_ok.push(e.id.clone());
        }
        if !ok && split != "heldout" && show_misses {
            eprintln!(
                "miss {} ({}, {}, exit {}): want {} got {got} [{rule}]\n    {}",
                e.id,
                e.cli,
                e.stream,
                e.exit_code,
                e.want,
                e.message.replace('\n', "\n    ")
            );
        }
    }
    let rate = |(r, n): (usize, usize)| r as f64 / n.max(1) as f64;
    for (split, t) in &totals {
        eprintln!("{split:8} {}/{} ({:.1}%)", t.0, t.1, 100.0 * rate(*t));
    }
    for ((class, split), t) in &per_class {
        eprintln!("  {class:24} {split:8} {}/{}", t.0, t.1);
    }
    assert!(called_ok.is_empty(), "failures called ok: {called_ok:?}");
    let of = |split: &str| rate(totals.get(split).copied().unwrap_or_default());
    let (tuning, read, held) = (of("tuning"), of("read-r1"), of("heldout"));
    assert!(
        tuning >= MIN_TUNING,
        "tuning accuracy {tuning:.3} < {MIN_TUNING}"
    );
    assert!(
        read >= MIN_READ_R1,
        "read-r1 accuracy {read:.3} < {MIN_READ_R1}"
    );
    assert!(
        totals.contains_key("heldout"),
        "no round-two entries: the unseen held-out set is gone"
    );
    assert!(
        held >= MIN_HELDOUT,
        "held-out accuracy {held:.3} < {MIN_HELDOUT}"
    );
}

#[test]
fn outputs_that_merely_quote_errors_keep_their_verdict() {
    let precision = entries(PRECISION, "expect");
    assert!(precision.len() >= 100, "{} outputs", precision.len());
    let changed: Vec<String> = precision
        .iter()
        .filter_map(|e| {
            let (got, rule) = verdict(e);
            (got != e.want).then(|| format!("{}: expect {} got {got} [{rule}]", e.id, e.want))
        })
        .collect();
    assert!(changed.is_empty(), "{changed:#?}");
}
