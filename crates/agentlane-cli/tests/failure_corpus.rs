//! Replays the corpus of real failure messages
//! (crates/agentlane/tests/data/failures/corpus.jsonl, docs/failure-corpus.md)
//! through the real binary: for each entry a script named after its CLI
//! prints the message on its stream and exits with its code, and
//! `agentlane exec --json` must name the class a person gave it.
//!
//! The corpus is split before any rule is written: an entry whose source
//! address hashes (SHA-256, first byte) below 77 is held out, the rest is for
//! tuning. Accuracy is printed for both, per CLI and per class, with the
//! held-out confusion matrix; the precision set (outputs that must keep
//! their verdict) is replayed too. This test asserts only that the data is
//! well-formed: thresholds come with the rewritten classifier.
//! `FAILURE_CORPUS_MISSES=1` also prints every miss.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use common::*;
use serde_json::Value;

const CORPUS: &str = include_str!("../../agentlane/tests/data/failures/corpus.jsonl");
const PRECISION: &str = include_str!("../../agentlane/tests/data/failures/precision.jsonl");

/// The labels an entry may carry: every named class but `ok` (a failure is
/// never `ok`), plus `unknown` for a message no class fits.
const LABELS: &[&str] = &[
    "payload_invalid",
    "cwd_missing",
    "cli_missing",
    "cli_not_executable",
    "interpreter_missing",
    "route_not_allowed",
    "timeout",
    "auth_unavailable",
    "sandbox_or_policy_block",
    "rate_limited",
    "quota_exhausted",
    "network_unavailable",
    "transient_io",
    "config_invalid",
    "killed_by_signal",
    "worker_lost",
    "unknown",
];
const CLIS: &[&str] = &[
    "codex", "claude", "gemini", "qwen", "aider", "opencode", "generic",
];
const STREAMS: &[&str] = &["stdout", "stderr", "both"];

/// First byte of the source's SHA-256 below this: held out (~30%).
const HELDOUT_BELOW: u8 = 77;

#[derive(Clone)]
struct Entry {
    id: String,
    source: String,
    cli: String,
    stream: String,
    exit_code: i32,
    message: String,
    /// The class wanted (corpus) or the verdict to keep (precision).
    want: String,
}

impl Entry {
    fn heldout(&self) -> bool {
        sha256(self.source.as_bytes())[0] < HELDOUT_BELOW
    }

    fn right(&self, got: &str) -> bool {
        got == self.want || (self.want == "unknown" && got.starts_with("unknown_exit_"))
    }
}

fn parse(text: &str, want_key: &str) -> Vec<Entry> {
    let mut ids = HashSet::new();
    let mut messages = HashSet::new();
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            let row: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line {}: not JSON ({e})", n + 1));
            let s = |key: &str| -> String {
                row[key]
                    .as_str()
                    .unwrap_or_else(|| panic!("line {}: no string {key:?}", n + 1))
                    .to_string()
            };
            let entry = Entry {
                id: s("id"),
                source: s("source"),
                cli: s("cli"),
                stream: s("stream"),
                exit_code: match &row["exit_code"] {
                    Value::Null => 1,
                    v => v
                        .as_i64()
                        .and_then(|c| i32::try_from(c).ok())
                        .unwrap_or_else(|| panic!("line {}: exit_code {v}", n + 1)),
                },
                message: s("message"),
                want: s(want_key),
            };
            assert!(ids.insert(entry.id.clone()), "duplicate id {}", entry.id);
            assert!(
                messages.insert(entry.message.clone()),
                "{}: duplicate message",
                entry.id
            );
            assert!(
                CLIS.contains(&entry.cli.as_str()),
                "{}: cli {}",
                entry.id,
                entry.cli
            );
            assert!(
                STREAMS.contains(&entry.stream.as_str()),
                "{}: stream {}",
                entry.id,
                entry.stream
            );
            assert!(!entry.source.is_empty() && !entry.message.trim().is_empty());
            entry
        })
        .collect()
}

/// The executable's name: the CLI's own, so the profile that would run it is the real one.
fn program_name(cli: &str) -> &str {
    match cli {
        "generic" => "agent-runner",
        other => other,
    }
}

/// Writes `dir/<cli>` printing `dir/message` on the entry's stream(s).
fn write_script(dir: &Path, e: &Entry) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut message = e.message.clone();
    if !message.ends_with('\n') {
        message.push('\n');
    }
    std::fs::write(dir.join("message"), message).unwrap();
    let print = match e.stream.as_str() {
        "stdout" => "cat \"$d/message\"".to_string(),
        "stderr" => "cat \"$d/message\" >&2".to_string(),
        _ => "cat \"$d/message\"\ncat \"$d/message\" >&2".to_string(),
    };
    let path = dir.join(program_name(&e.cli));
    write_exe(
        &path,
        &format!(
            "#!/bin/sh\nd=$(dirname \"$0\")\n{print}\nexit {}\n",
            e.exit_code
        ),
        0o755,
    );
    path
}

/// Replays one entry with the worker's throwaway home; returns the class agentlane named.
fn replay(scratch: &Path, home: &Path, n: usize, e: &Entry) -> String {
    let dir = scratch.join(format!("e{n}"));
    let script = write_script(&dir.join("bin"), e);
    let out = Command::new(agentlane())
        .arg("--home")
        .arg(home)
        .args(["exec", "--json", "--timeout", "30s", "--"])
        .arg(&script)
        .current_dir(&dir)
        .env("HOME", &dir)
        .env_remove("AGENTLANE_CONFIG")
        .env_remove("AGENTLANE_RULES")
        .env_remove("AGENTLANE_STORE")
        .env_remove("AGENTLANE_HOME")
        .stdin(Stdio::null())
        .output()
        .expect("agentlane runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|err| {
        panic!(
            "{}: report is not JSON ({err}): {stdout}\nstderr: {}",
            e.id,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let _ = std::fs::remove_dir_all(&dir);
    report["classifier"]
        .as_str()
        .unwrap_or("<none>")
        .to_string()
}

/// Replays every entry on a few threads, each with its own throwaway store
/// (a store per entry would double the cost); results in entry order.
fn replay_all(entries: &[Entry]) -> Vec<String> {
    let scratch = tempfile::tempdir().expect("tempdir");
    let next = AtomicUsize::new(0);
    let results = Mutex::new(vec![String::new(); entries.len()]);
    // A replay spends more than half its wall time waiting (process start,
    // the store's writes), so run several per core.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() * 4)
        .unwrap_or(8)
        .clamp(8, 16);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (next, results, scratch) = (&next, &results, scratch.path());
            s.spawn(move || {
                let home = scratch.join(format!("home{t}"));
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(e) = entries.get(i) else { break };
                    let got = replay(scratch, &home, i, e);
                    results.lock().unwrap()[i] = got;
                }
            });
        }
    });
    results.into_inner().unwrap()
}

#[derive(Default)]
struct Tally {
    right: usize,
    total: usize,
}

impl Tally {
    fn add(&mut self, right: bool) {
        self.total += 1;
        self.right += usize::from(right);
    }

    fn show(&self) -> String {
        if self.total == 0 {
            return "-".into();
        }
        format!(
            "{}/{} ({:.0}%)",
            self.right,
            self.total,
            100.0 * self.right as f64 / self.total as f64
        )
    }
}

/// "unknown_exit_N" collapses to one column; `unknown` entries want it.
fn column(got: &str) -> String {
    if got.starts_with("unknown_exit_") {
        "unknown_exit_N".into()
    } else {
        got.into()
    }
}

fn print_report(entries: &[Entry], got: &[String]) {
    let mut split: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut per_cli: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
    let mut per_class: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
    let mut confusion: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut called_ok = 0;
    for (e, g) in entries.iter().zip(got) {
        let s = if e.heldout() { "heldout" } else { "tuning" };
        let right = e.right(g);
        split.entry(s).or_default().add(right);
        per_cli.entry((&e.cli, s)).or_default().add(right);
        per_class.entry((&e.want, s)).or_default().add(right);
        called_ok += usize::from(g == "ok");
        if s == "heldout" {
            let want = if e.want == "unknown" {
                "unknown_exit_N".into()
            } else {
                e.want.clone()
            };
            *confusion.entry((want, column(g))).or_default() += 1;
        }
        if !right && std::env::var_os("FAILURE_CORPUS_MISSES").is_some() {
            eprintln!("miss [{s}] {} ({}): want {} got {g}", e.id, e.cli, e.want);
        }
    }
    eprintln!("\n== failure corpus: {} entries ==", entries.len());
    for (s, t) in &split {
        eprintln!("{s:8} {}", t.show());
    }
    eprintln!("failures called ok: {called_ok}");
    eprintln!("\n{:22} {:>16} {:>16}", "cli", "tuning", "heldout");
    for cli in CLIS {
        let t = per_cli
            .get(&(cli, "tuning"))
            .map(Tally::show)
            .unwrap_or("-".into());
        let h = per_cli
            .get(&(cli, "heldout"))
            .map(Tally::show)
            .unwrap_or("-".into());
        eprintln!("{cli:22} {t:>16} {h:>16}");
    }
    eprintln!("\n{:22} {:>16} {:>16}", "class", "tuning", "heldout");
    for class in LABELS {
        let t = per_class.get(&(class, "tuning"));
        let h = per_class.get(&(class, "heldout"));
        if t.is_none() && h.is_none() {
            continue;
        }
        let t = t.map(Tally::show).unwrap_or("-".into());
        let h = h.map(Tally::show).unwrap_or("-".into());
        eprintln!("{class:22} {t:>16} {h:>16}");
    }
    print_confusion(&confusion);
}

/// Held-out confusion matrix, want (rows) × got (columns), as short codes.
fn print_confusion(confusion: &BTreeMap<(String, String), usize>) {
    let wants: BTreeSet<&str> = confusion.keys().map(|(w, _)| w.as_str()).collect();
    let gots: BTreeSet<&str> = confusion.keys().map(|(_, g)| g.as_str()).collect();
    let code = |label: &str| -> String { label.split('_').map(|w| &w[..1]).collect::<String>() };
    eprintln!("\nheld-out confusion (rows: want, columns: got)");
    for g in &gots {
        eprintln!("  {:>5} = {g}", code(g));
    }
    eprint!("{:24}", "");
    for g in &gots {
        eprint!("{:>6}", code(g));
    }
    eprintln!();
    for w in &wants {
        eprint!("{w:24}");
        for g in &gots {
            match confusion.get(&(w.to_string(), g.to_string())) {
                Some(n) => eprint!("{n:>6}"),
                None => eprint!("{:>6}", "."),
            }
        }
        eprintln!();
    }
}

#[test]
fn the_failure_corpus_replays_and_its_figures_are_printed() {
    let entries = parse(CORPUS, "class");
    assert!(entries.len() >= 400, "{} entries", entries.len());
    for e in &entries {
        assert!(
            LABELS.contains(&e.want.as_str()),
            "{}: class {}",
            e.id,
            e.want
        );
    }
    let heldout = entries.iter().filter(|e| e.heldout()).count();
    assert!(
        (0.2..0.4).contains(&(heldout as f64 / entries.len() as f64)),
        "{heldout} of {} held out",
        entries.len()
    );
    let got = replay_all(&entries);
    print_report(&entries, &got);

    let precision = parse(PRECISION, "expect");
    assert!(
        precision.len() >= 100,
        "{} precision entries",
        precision.len()
    );
    let got = replay_all(&precision);
    let changed: Vec<_> = precision
        .iter()
        .zip(&got)
        .filter(|(e, g)| !e.right(g))
        .collect();
    eprintln!(
        "\n== precision set: {} outputs, {} verdicts changed ==",
        precision.len(),
        changed.len()
    );
    for (e, g) in &changed {
        eprintln!("changed {} ({}): expect {} got {g}", e.id, e.cli, e.want);
    }
}

#[test]
fn the_split_hash_is_sha256() {
    let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(
        hex(sha256(b"")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex(sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let long = vec![b'a'; 1000];
    assert_eq!(
        hex(sha256(&long)),
        "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
    );
}

/// SHA-256 (FIPS 180-4), enough for the split; the workspace has no hash crate.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, word) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    out
}
