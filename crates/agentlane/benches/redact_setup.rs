//! Redactor set-up cost against the total size of the environment (issue 13:
//! it must be linear and bounded). Each environment holds half of its bytes in
//! two huge values and half in many 64-byte values, all random and
//! credential-like, so every value reaches the redactor.
//!
//! Run: `cargo bench -p agentlane --bench redact_setup`.
//! `AGENTLANE_BENCH_REDACT_SIZES` (default `1000,100000,1000000,10000000`,
//! in bytes) changes the sizes.

use std::time::Duration;

use agentlane::redact::{Redactor, Secrets};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// A deterministic pseudo-random token alphabet stream (xorshift).
fn random_token(seed: &mut u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            ALPHABET[(*seed % 64) as usize] as char
        })
        .collect()
}

fn environment(total: usize) -> Vec<(String, String)> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ total as u64;
    let mut env = Vec::new();
    let huge = total / 4;
    env.push(("BLOB_A_TOKEN".to_string(), random_token(&mut seed, huge)));
    env.push(("BLOB_B_TOKEN".to_string(), random_token(&mut seed, huge)));
    let small = (total - 2 * huge) / 64;
    for i in 0..small.max(1) {
        env.push((format!("SMALL_{i}_TOKEN"), random_token(&mut seed, 64)));
    }
    env
}

fn sizes() -> Vec<usize> {
    std::env::var("AGENTLANE_BENCH_REDACT_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 100_000, 1_000_000, 10_000_000])
}

fn setup(c: &mut Criterion) {
    let mut group = c.benchmark_group("redactor_setup");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for total in sizes() {
        let env = environment(total);
        group.throughput(Throughput::Bytes(total as u64));
        group.bench_with_input(BenchmarkId::from_parameter(total), &env, |b, env| {
            b.iter(|| {
                let secrets = Secrets::from_env(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                Redactor::new(&secrets)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, setup);
criterion_main!(benches);
