//! Property tests for `parse_env_file` (kept beside `env.rs`, not in it):
//! it never panics, errors point inside the input, and generated
//! `KEY=VALUE` lines with safe values parse back to the same pairs.

use proptest::prelude::*;

use super::env::{parse_env_file, EnvFileError};

fn assert_inside(text: &str, e: &EnvFileError) -> Result<(), TestCaseError> {
    let lines: Vec<&str> = text.lines().collect();
    prop_assert!(
        e.line >= 1 && e.line <= lines.len(),
        "line {} outside 1..={} for {e}",
        e.line,
        lines.len()
    );
    // Columns count bytes here; one past the end is the position after the line.
    prop_assert!(
        e.column >= 1 && e.column <= lines[e.line - 1].len() + 1,
        "column {} outside 1..={} for {e}",
        e.column,
        lines[e.line - 1].len() + 1
    );
    Ok(())
}

/// A variable name the parser must accept.
fn key() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,20}"
}

/// A value that needs no escaping: no quote at either end, no surrounding space.
fn safe_value() -> impl Strategy<Value = String> {
    "([A-Za-z0-9_./:@+,=%-]([A-Za-z0-9_./:@+,=% #-]{0,38}[A-Za-z0-9_./:@+,=%-])?)?"
}

/// How a line is written: bare, `export `, double or single quotes, indented.
#[derive(Debug, Clone, Copy)]
enum Form {
    Bare,
    Export,
    Double,
    Single,
    Indented,
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![
        Just(Form::Bare),
        Just(Form::Export),
        Just(Form::Double),
        Just(Form::Single),
        Just(Form::Indented),
    ]
}

fn render(k: &str, v: &str, f: Form) -> String {
    match f {
        Form::Bare => format!("{k}={v}"),
        Form::Export => format!("export {k}={v}"),
        Form::Double => format!("{k}=\"{v}\""),
        Form::Single => format!("{k}='{v}'"),
        Form::Indented => format!("  {k} = {v}  "),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics_and_errors_point_inside_it(text in any::<String>()) {
        if let Err(e) = parse_env_file("props.env", &text) {
            assert_inside(&text, &e)?;
        }
    }

    #[test]
    fn env_shaped_text_never_panics_and_errors_point_inside_it(
        parts in prop::collection::vec(
            prop::sample::select(&[
                "KEY", "export ", "=", "\"", "'", "#", " ", "\t", "\n", "\r\n",
                "1X", "é", "\u{1F600}", "value", "A_B", "export", "==",
            ][..]),
            0..30,
        )
    ) {
        let text = parts.concat();
        if let Err(e) = parse_env_file("props.env", &text) {
            assert_inside(&text, &e)?;
        }
    }

    #[test]
    fn generated_assignments_parse_back_to_the_same_pairs(
        lines in prop::collection::vec((key(), safe_value(), form()), 0..12),
        comments in prop::collection::vec(prop::sample::select(&["", "# a comment", "   "][..]), 0..12),
    ) {
        let mut text = String::new();
        for (i, (k, v, f)) in lines.iter().enumerate() {
            if let Some(c) = comments.get(i) {
                text.push_str(c);
                text.push('\n');
            }
            text.push_str(&render(k, v, *f));
            text.push('\n');
        }
        let parsed = parse_env_file("props.env", &text)
            .map_err(|e| TestCaseError::fail(format!("{e} in {text:?}")))?;
        let want: Vec<(String, String)> =
            lines.iter().map(|(k, v, _)| (k.clone(), v.clone())).collect();
        prop_assert_eq!(parsed, want, "{:?}", text);
    }
}
