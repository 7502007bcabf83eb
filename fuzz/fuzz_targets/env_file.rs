#![no_main]
// The body is agentlane::fuzzing::env_file, replayed over fuzz/corpus/env_file by tests/fuzz_corpus.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| agentlane::fuzzing::env_file(data));
