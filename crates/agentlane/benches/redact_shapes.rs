//! The cost of the shape layers (2 and 3) on ordinary output: 1 MiB built from
//! the false-positive fixture (lock files, git log, minified JS, base64 PNG,
//! licences, dpkg status), through `Redactor::shapes_only().redact_bytes`,
//! next to the pre-table matcher (main at abb8df9: 21 prefixes, 7 shapes)
//! kept inline here as the "before".
//!
//! `cargo bench -p agentlane --bench redact_shapes`

use std::hint::black_box;

use agentlane::redact::Redactor;
use aho_corasick::{AhoCorasick, MatchKind};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use regex::bytes::Regex;

const ORDINARY: &str = include_str!("../tests/data/secrets/ordinary.txt");

fn one_mib() -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 20);
    while out.len() < 1 << 20 {
        out.extend_from_slice(ORDINARY.as_bytes());
    }
    out.truncate(1 << 20);
    out
}

/// The matcher as it was before the family table (abb8df9's shapes.rs).
struct Before {
    prefixes: AhoCorasick,
    shapes: Regex,
}

impl Before {
    fn new() -> Self {
        let prefixes = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build([
                "sk-",
                "ghp_",
                "gho_",
                "ghu_",
                "ghs_",
                "ghr_",
                "github_pat_",
                "AKIA",
                "ASIA",
                "AIza",
                "xoxa-",
                "xoxb-",
                "xoxp-",
                "xoxo-",
                "xoxs-",
                "xoxr-",
                "xoxe-",
                "eyJ",
                "Bearer",
                "bearer",
                "BEARER",
            ])
            .expect("literals");
        let shapes = [
            r"sk-[A-Za-z0-9_\-]{16,512}",
            r"gh[pousr]_[A-Za-z0-9]{20,255}",
            r"github_pat_[A-Za-z0-9_]{20,255}",
            r"(?:AKIA|ASIA)[0-9A-Z]{16}",
            r"AIza[0-9A-Za-z_\-]{30,64}",
            r"xox[abposre]-[A-Za-z0-9\-]{10,255}",
            r"eyJ[A-Za-z0-9_\-]{8,2048}\.eyJ[A-Za-z0-9_\-]{8,4096}\.[A-Za-z0-9_\-]{8,2048}",
        ];
        let pattern = format!(
            r"(?-u:\b)(?:{})|(?i:bearer)[ \t]+[A-Za-z0-9._~+/\-]{{8,2048}}=*",
            shapes.join("|")
        );
        Before {
            prefixes,
            shapes: Regex::new(&pattern).expect("shapes"),
        }
    }

    fn count(&self, input: &[u8]) -> usize {
        if self.prefixes.is_match(input) {
            self.shapes.find_iter(input).count()
        } else {
            0
        }
    }
}

fn bench(c: &mut Criterion) {
    let input = one_mib();
    let mut g = c.benchmark_group("redact_shapes_1MiB");
    g.throughput(Throughput::Bytes(input.len() as u64));
    let before = Before::new();
    g.bench_function("before_abb8df9", |b| {
        b.iter(|| black_box(before.count(black_box(&input))))
    });
    let r = Redactor::shapes_only();
    g.bench_function("after_table_and_context", |b| {
        b.iter(|| black_box(r.redact_bytes(black_box(&input)).len()))
    });
    // Streaming hands the redactor lines in read-sized batches: same input,
    // 64 KiB at a time.
    g.bench_function("after_64KiB_chunks", |b| {
        b.iter(|| {
            input
                .chunks(64 * 1024)
                .map(|c| r.redact_bytes(black_box(c)).len())
                .sum::<usize>()
        })
    });
    g.finish();

    // The capture benchmark's shape of output (fake-agent --spew): plain
    // 100-byte ASCII lines, where the anchors never hit.
    let plain: Vec<u8> = (0..(1 << 20) / 100)
        .flat_map(|i| format!("{i:08} the quick brown fox jumps over the lazy dog, again and again and again, ok\n").into_bytes())
        .collect();
    let mut g = c.benchmark_group("redact_shapes_1MiB_plain_lines");
    g.throughput(Throughput::Bytes(plain.len() as u64));
    g.bench_function("before_abb8df9", |b| {
        b.iter(|| black_box(before.count(black_box(&plain))))
    });
    g.bench_function("after_table_and_context", |b| {
        b.iter(|| black_box(r.redact_bytes(black_box(&plain)).len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
