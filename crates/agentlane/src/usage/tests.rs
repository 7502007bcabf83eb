//! The extractor on the real CLIs' formats (fixtures under
//! `tests/data/agent-formats/`, each with the source it was read from).

use super::extract;
use crate::model::Usage;
use test_case::test_case;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/agent-formats")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn usage(
    i: u64,
    o: u64,
    c: u64,
    cost: Option<f64>,
    model: Option<&str>,
    turns: Option<u64>,
) -> Usage {
    Usage {
        input_tokens: i,
        output_tokens: o,
        cached_tokens: c,
        cost_usd: cost,
        model: model.map(str::to_string),
        turns,
    }
}

#[test_case("claude-stream-json.jsonl",
    usage(12 + 1200 + 28000, 245, 28000, Some(0.0421875), Some("claude-sonnet-4-5-20250929"), Some(3))
    ; "claude stream-json: the result event, cache inputs added, the biggest model")]
#[test_case("claude-json.json",
    usage(40, 1500, 0, Some(0.31), Some("claude-opus-4-1-20250805"), Some(10))
    ; "claude json: a failed run still reports what it cost")]
#[test_case("codex-exec-json.jsonl",
    usage(24763 + 1000, 122 + 30, 24448 + 512, None, None, Some(2))
    ; "codex exec json: turns summed, no cost invented, the answer's quoted usage ignored")]
#[test_case("gemini-json.json",
    usage(9180 + 800, 310 + 400 + 40, 2060, None, Some("gemini-2.5-pro"), None)
    ; "gemini json: summed across models, the response text ignored")]
#[test_case("gemini-stream-json.jsonl",
    usage(9180, 310, 2060, None, Some("gemini-2.5-pro"), None)
    ; "gemini stream-json: the result event's stats")]
#[test_case("qwen-json.json",
    usage(5100, 12, 4096, None, Some("qwen3-coder-plus"), Some(2))
    ; "qwen json: the array's result, input already counting the cache, model from init")]
fn each_cli_format_gives_its_usage(file: &str, expected: Usage) {
    assert_eq!(extract(&fixture(file), b""), Some(expected));
}

#[test_case(b"ok\n" ; "plain text")]
#[test_case(b"The run used 12000 input tokens and cost $3.20\n" ; "numbers in the model's words")]
#[test_case(b"{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"usage\"}]}}\n" ; "an event without usage")]
#[test_case(b"{\n  \"session_id\": \"x\",\n  \"error\": {\"type\": \"FatalAuthenticationError\", \"message\": \"no key\"}\n}\n" ; "a gemini error document has no stats")]
#[test_case(b"" ; "nothing")]
fn no_structured_usage_is_none(stdout: &[u8]) {
    assert_eq!(extract(stdout, b""), None);
}

#[test]
fn text_before_gemini_s_document_is_skipped() {
    let mut out = b"Loaded cached credentials.\n{\"not\":\"this\"}\n".to_vec();
    out.extend(fixture("gemini-json.json"));
    assert_eq!(extract(&out, b"").unwrap().input_tokens, 9980);
}

#[test]
fn a_cut_tail_loses_no_later_event() {
    // The tail kept the end of the stream: a partial first line, then events.
    let whole = fixture("codex-exec-json.jsonl");
    let cut = &whole[30..];
    assert_eq!(extract(cut, b"").unwrap().turns, Some(2));
}

#[test]
fn a_negative_or_invalid_cost_is_no_cost() {
    let line = br#"{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":-1,"usage":{"input_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":2}}"#;
    let u = extract(line, b"").unwrap();
    assert_eq!((u.cost_usd, u.output_tokens), (None, 2));
}

#[test]
fn the_last_result_wins_over_codex_turns() {
    let mut out = fixture("codex-exec-json.jsonl");
    out.extend(fixture("claude-json.json"));
    assert_eq!(extract(&out, b"").unwrap().cost_usd, Some(0.31));
}

#[test]
fn a_huge_count_is_capped() {
    let line = br#"{"type":"turn.completed","usage":{"input_tokens":18446744073709551615,"cached_input_tokens":0,"output_tokens":1}}"#;
    let u = extract(line, b"").unwrap();
    assert_eq!(u.input_tokens, super::extract::MAX_TOKENS);
}

#[test]
fn the_rest_of_a_cut_line_is_never_read() {
    // Cut inside the first turn's line, right at its nested usage object.
    let whole = fixture("codex-exec-json.jsonl");
    let at = whole.windows(8).position(|w| w == b"\"usage\":").unwrap();
    let u = extract(&whole[at + 8..], b"").unwrap();
    assert_eq!(
        (u.turns, u.input_tokens),
        (Some(1), 1000),
        "only the whole second turn"
    );
}
