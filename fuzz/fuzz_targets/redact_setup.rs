#![no_main]
// The body is agentlane::fuzzing::redact_setup, replayed over fuzz/corpus/redact_setup by tests/fuzz_corpus.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| agentlane::fuzzing::redact_setup(data));
