#![no_main]
// The body is agentlane::fuzzing::classify, replayed over fuzz/corpus/classify by tests/fuzz_corpus.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| agentlane::fuzzing::classify(data));
