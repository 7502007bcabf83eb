//! Property tests: the configuration parser never panics, and its errors
//! point inside the text they were given. `PROPTEST_CASES` raises the budget.

use std::path::Path;

use proptest::prelude::*;

use super::{parse, ConfigError};

/// Pieces of real configuration keys, sections and values, right and wrong,
/// so that generated documents reach deep into the loader, not only TOML's
/// syntax errors.
const FRAGMENTS: &[&str] = &[
    "[routes.a]\n",
    "[routes.b]\n",
    "[routes.a.retry.rate_limited]\n",
    "[routes.a.env]\n",
    "profile = \"claude\"\n",
    "profile = \"codex\"\n",
    "profile = \"nope\"\n",
    "program = \"/bin/true\"\n",
    "args = [\"-p\", \"{prompt}\"]\n",
    "prompt_via = \"stdin\"\n",
    "prompt_via = \"sideways\"\n",
    "timeout = \"20m\"\n",
    "timeout = \"0s\"\n",
    "timeout = \"soon\"\n",
    "env_file = \"missing.env\"\n",
    "rules_file = \"missing.toml\"\n",
    "concurrency = 0\n",
    "concurrency = 3\n",
    "json = true\n",
    "[kinds.k]\n",
    "routes = [\"a\"]\n",
    "routes = [\"ghost\"]\n",
    "max_prompt_bytes = 10\n",
    "[lanes.l]\n",
    "[queue]\n",
    "lease = \"30s\"\n",
    "lease = \"0s\"\n",
    "lease = \"999ms\"\n",
    "poll = \"0s\"\n",
    "retention = \"off\"\n",
    "retention = \"0s\"\n",
    "shutdown_grace = \"0s\"\n",
    "prompt_secrets = \"redact\"\n",
    "prompt_secrets = \"maybe\"\n",
    "[preflight]\n",
    "probe_timeout = \"0s\"\n",
    "ttl = \"60s\"\n",
    "[retry.rate_limited]\n",
    "[retry.not_a_class]\n",
    "action = \"retry\"\n",
    "action = \"dance\"\n",
    "max_attempts = 0\n",
    "max_timeout = \"0s\"\n",
    "factor = 2.5\n",
    "[workers.ci]\n",
    "env_clear = true\n",
    "[store]\n",
    "[alerts]\n",
    "[[alerts.webhook]]\n",
    "name = \"ops\"\n",
    "url = \"https://hooks.example.com/x\"\n",
    "url = \"ftp://h/x\"\n",
    "url = \"http://\"\n",
    "url_env = \"HOOK_URL\"\n",
    "format = \"slack\"\n",
    "format = \"teams\"\n",
    "on = [\"incident_opened\", \"nope\"]\n",
    "debounce = \"10m\"\n",
    "mass_failure_attempts = 1\n",
    "mass_failure_window = \"0s\"\n",
    "queue = 0\n",
    "url = \"sqlite:///tmp/x.db\"\n",
    "[artifacts]\n",
    "max_bytes_per_stream = \"64MiB\"\n",
    "max_bytes_per_stream = \"0\"\n",
    "max_bytes_per_stream = \"99999999999999TiB\"\n",
    "max_bytes_per_stream = 5\n",
    "unknown_key = 1\n",
    "KEY = \"vålue\"\n",
    "\"",
    "'",
    "=",
    "[",
    "]",
    "[[",
    "#",
    "\n",
    " ",
    "\t",
    "é",
    "日本",
    "\u{1F600}",
    "\r\n",
    "\\",
    "0",
    "{",
    "}",
];

/// The error's line and column lie inside `text` (a column may be one past
/// the end of its line: the position after the last character).
fn assert_inside(text: &str, e: &ConfigError) -> Result<(), TestCaseError> {
    let lines: Vec<&str> = text.split('\n').collect();
    prop_assert!(
        e.line >= 1 && e.line <= lines.len(),
        "line {} outside 1..={} for {e}",
        e.line,
        lines.len()
    );
    let width = lines[e.line - 1].chars().count();
    prop_assert!(
        e.column >= 1 && e.column <= width + 1,
        "column {} outside 1..={} on line {} for {e}",
        e.column,
        width + 1,
        e.line
    );
    prop_assert!(
        !e.message.trim().is_empty(),
        "an empty message for {text:?}"
    );
    Ok(())
}

fn check(text: &str) -> Result<(), TestCaseError> {
    // A directory that does not exist: files the text names are never found.
    let path = Path::new("/nonexistent-agentlane-props/agentlane.toml");
    match parse(path, text) {
        Ok(_) => Ok(()),
        Err(e) => assert_inside(text, &e),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics_and_errors_point_inside_it(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn documents_built_from_config_fragments_never_panic_and_errors_point_inside_them(
        parts in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40)
    ) {
        check(&parts.concat())?;
    }
}

/// Found by the property above: the TOML parser gives `0=` an empty message.
#[test]
fn a_value_missing_after_equals_gets_a_message() {
    let e = parse(Path::new("a.toml"), "0=").unwrap_err();
    assert_eq!((e.line, e.column), (1, 3));
    assert!(e.message.contains("a value is missing"), "{e}");
}
