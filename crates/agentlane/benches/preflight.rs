//! Cost of a preflight check: cached (the path every claim takes; goal under
//! 50 µs, no process spawned) and uncached (a version probe through the
//! dispatcher). Run: `cargo bench -p agentlane --bench preflight`.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use agentlane::config;
use agentlane::dispatch::Dispatcher;
use agentlane::home::Home;
use agentlane::preflight::{Options, Preflight};
use agentlane::store::sqlite::SqliteStore;
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let exe = bin.join("claude");
    std::fs::write(&exe, "#!/bin/sh\necho '2.1.0 (bench)'\n").unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = format!(
        "[routes.r]\nprofile = \"claude\"\nprogram = \"claude\"\nenv_clear = true\nenv = {{ PATH = \"{}:/usr/bin:/bin\", HOME = \"{}\", ANTHROPIC_API_KEY = \"sk-ant-bench-000000000000\" }}\n",
        bin.display(),
        dir.path().display()
    );
    let cfg = config::parse(&dir.path().join("agentlane.toml"), &text).unwrap();
    let home = Home::open(&dir.path().join("home")).unwrap();
    let store = Arc::new(SqliteStore::open(&home.database()).unwrap());
    let dispatcher = Dispatcher::new(home, store, None);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let route = &cfg.routes["r"];
    let key = *dispatcher.home().key();

    let warm = Preflight::new(cfg.preflight.clone());
    let first = rt
        .block_on(warm.check(&dispatcher, &cfg, route, None, Options::default()))
        .unwrap();
    assert!(first.passed(), "{first:?}");
    c.bench_function("preflight_cached", |b| {
        b.iter(|| {
            let hit = warm.cached(&cfg, route, None, &key).expect("cache hit");
            assert!(hit.cached);
            hit
        })
    });
    let mut group = c.benchmark_group("preflight_uncached");
    group.sample_size(20);
    group.bench_function("version_probe", |b| {
        b.iter(|| {
            let fresh = Preflight::new(cfg.preflight.clone());
            rt.block_on(fresh.check(&dispatcher, &cfg, route, None, Options::default()))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
