#![no_main]
// The body is agentlane::fuzzing::live, replayed over fuzz/corpus/live by tests/fuzz_corpus.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| agentlane::fuzzing::live(data));
