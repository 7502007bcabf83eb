//! The watchdog's cost per line of a running child (issue 17): every line a
//! child prints is read by `Watch::line` (its kind, the terminal rules of
//! its stream, the last line kept). Goal: well under a microsecond for a
//! plain line, so capturing a chatty child stays dominated by the pipe.
//!
//! Run: `cargo bench -p agentlane --bench watch`.
//!
//! Cases: a plain build-log line on stdout and on stderr (stderr is where
//! Codex's terminal rules read), a Codex `--json` progress event, and a
//! Claude `stream-json` assistant event of 2 KiB.

use std::time::Instant;

use agentlane::classify::live::{self, Origin};
use agentlane::classify::RuleSet;
use agentlane::dispatch::watch::{Watch, WatchSettings};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let rules = live::terminal_rules(RuleSet::builtin());
    let settings = WatchSettings {
        idle_timeout: Some(std::time::Duration::from_secs(600)),
        ..WatchSettings::default()
    };
    let plain = "2026-12-04T10:11:12Z  compiling crate_42 v0.42.0 (/work/src/crate_42) in 3.2s; 12 warnings";
    let codex = r#"{"type":"item.completed","item":{"id":"item_7","type":"command_execution","command":"cargo test","aggregated_output":"test result: ok. 12 passed","exit_code":0,"status":"completed"}}"#;
    let claude = format!(
        r#"{{"type":"assistant","message":{{"id":"msg_1","type":"message","role":"assistant","content":[{{"type":"text","text":"{}"}}]}},"session_id":"s"}}"#,
        "lorem ipsum ".repeat(170)
    );
    let mut group = c.benchmark_group("watch_line");
    group.throughput(Throughput::Elements(1));
    for (name, origin, line) in [
        ("plain_stdout", Origin::Stdout, plain),
        ("plain_stderr", Origin::Stderr, plain),
        ("codex_event", Origin::Stdout, codex),
        ("claude_event_2k", Origin::Stdout, claude.as_str()),
    ] {
        let mut watch = Watch::new(settings, rules.clone(), Instant::now());
        group.bench_function(name, |b| {
            b.iter(|| {
                let changed = watch.line(origin, std::hint::black_box(line), Instant::now());
                std::hint::black_box(changed)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
