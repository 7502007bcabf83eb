#![no_main]
// The body is agentlane::fuzzing::rules, replayed over fuzz/corpus/rules by tests/fuzz_corpus.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| agentlane::fuzzing::rules(data));
