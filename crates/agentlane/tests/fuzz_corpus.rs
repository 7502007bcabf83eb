//! Replays every file of `fuzz/corpus/<target>/` (seeds, the inputs the
//! fuzzer kept, and the regression inputs of bugs it found) through the same
//! target bodies the fuzz targets run (`agentlane::fuzzing`), on stable, in
//! every `cargo test`. A failing file is named; `scripts/fuzz.sh` runs the
//! coverage-guided fuzzer itself.

use std::path::PathBuf;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

#[test]
fn every_fuzz_corpus_file_replays_without_breaking_an_invariant() {
    let mut replayed = 0;
    for (name, target) in agentlane::fuzzing::TARGETS {
        let dir = corpus_dir().join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no corpus for the fuzz target {name}");
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(
                outcome.is_ok(),
                "fuzz target {name} fails on {}",
                file.display()
            );
            replayed += 1;
        }
    }
    assert!(replayed >= agentlane::fuzzing::TARGETS.len());
}
