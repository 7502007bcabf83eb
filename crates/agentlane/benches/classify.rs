//! The classifier over 64 KiB tails with the full built-in rule set (issue 14:
//! classification stays cheap; goal under 1 ms per tail).
//!
//! Run: `cargo bench -p agentlane --bench classify`.
//!
//! Cases: a failure no rule knows (the worst case: every layer reads the
//! whole tail and finds nothing), a failure whose cause is the last line (the
//! generic layer stops at once), a failure named by a CLI rule, and an exit
//! zero (the silent fast path is not taken: the tails are not empty).

use agentlane::classify::{classify, HintContext, Observed, RuleSet};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const TAIL: usize = 64 * 1024;

/// Build-log-like lines, as an agent's tool output looks, up to `TAIL` bytes.
fn log(last: &str) -> Vec<u8> {
    let mut out = String::new();
    let mut i = 0u64;
    while out.len() + last.len() < TAIL {
        i += 1;
        out.push_str(&format!(
            "2026-12-04T10:{:02}:{:02}Z  compiling crate_{i} v0.{i}.0 (/work/src/crate_{i}) in {}.{}s; 12 warnings, see target/debug/build/crate_{i}-{i:x}/output\n",
            (i / 60) % 60,
            i % 60,
            i % 7,
            i % 10
        ));
    }
    out.push_str(last);
    out.into_bytes()
}

fn run(rules: &RuleSet, stdout: &[u8], stderr: &[u8], exit_code: i32) {
    let observed = Observed {
        exit_code: Some(exit_code),
        signal: None,
        timed_out: false,
        stdout_tail: stdout,
        stderr_tail: stderr,
        stdout_truncated: true,
        stderr_truncated: true,
    };
    let c = classify(
        &observed,
        || rules,
        &HintContext {
            program: "agent",
            cwd: "/work/repo",
            ..HintContext::default()
        },
    );
    std::hint::black_box(c);
}

fn bench(c: &mut Criterion) {
    let rules = RuleSet::builtin();
    // Compile every lazily built pattern before measuring.
    run(rules, &log("warm\n"), &log("warm\n"), 1);
    let unknown = log("the frobnicator declined to frobnicate\n");
    let auth = log("Error: 401 Unauthorized: {\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid x-api-key\"}}\n");
    let claude = log("Not logged in · Please run /login\n");
    let mut group = c.benchmark_group("classify_64k_tails");
    group.throughput(Throughput::Bytes(2 * TAIL as u64));
    group.bench_function("unknown_failure", |b| {
        b.iter(|| run(rules, &unknown, &unknown, 1))
    });
    group.bench_function("generic_401_last_line", |b| {
        b.iter(|| run(rules, &unknown, &auth, 1))
    });
    group.bench_function("cli_rule", |b| b.iter(|| run(rules, &claude, &unknown, 1)));
    group.bench_function("exit_zero_with_output", |b| {
        b.iter(|| run(rules, &unknown, &unknown, 0))
    });
    group.finish();

    // The parts, to see where the time goes.
    let mut parts = c.benchmark_group("classify_parts_64k");
    parts.bench_function("split_and_normalize", |b| {
        b.iter(|| {
            let t =
                agentlane::classify::structured::StreamText::split(&unknown, true, &unknown, true);
            std::hint::black_box(t.normalized().stdout.len());
        })
    });
    parts.bench_function("generic_layer_no_signal", |b| {
        let t = agentlane::classify::structured::StreamText::split(&unknown, true, &unknown, true);
        b.iter(|| {
            std::hint::black_box(agentlane::classify::generic::detect(
                &t,
                "/work/repo",
                Some(1),
            ))
        })
    });
    parts.bench_function("rules_layer_no_match", |b| {
        let t = agentlane::classify::structured::StreamText::split(&unknown, true, &unknown, true);
        let _ = t.normalized();
        let observed = Observed {
            exit_code: Some(1),
            signal: None,
            timed_out: false,
            stdout_tail: &unknown,
            stderr_tail: &unknown,
            stdout_truncated: true,
            stderr_truncated: true,
        };
        b.iter(|| std::hint::black_box(rules.first_match(&observed, &t).is_some()))
    });
    parts.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
