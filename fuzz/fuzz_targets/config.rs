#![no_main]
// The body is agentlane::fuzzing::config, replayed over fuzz/corpus/config by tests/fuzz_corpus.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| agentlane::fuzzing::config(data));
