#![no_main]
// The body is agentlane::fuzzing::redact, replayed over fuzz/corpus/redact by tests/fuzz_corpus.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| agentlane::fuzzing::redact(data));
