#![no_main]
// The body is agentlane::fuzzing::jsonl, replayed over fuzz/corpus/jsonl by tests/fuzz_corpus.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| agentlane::fuzzing::jsonl(data));
