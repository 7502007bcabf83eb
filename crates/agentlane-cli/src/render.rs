//! How the binary prints for a person: one table style for every list,
//! colour where it helps, durations in words.
//!
//! On a terminal, tables are drawn with box characters and fit its width;
//! when stdout is a pipe or a file, or `TERM=dumb`, they are plain columns
//! aligned with spaces, never cut. Colour (classes and states) only on a
//! terminal, and never with `NO_COLOR` set (no-color.org).

use std::io::IsTerminal;

use comfy_table::presets::{NOTHING, UTF8_FULL_CONDENSED};
use comfy_table::{Cell, Color, ContentArrangement, Table};

/// Whether stdout gets plain columns: not a terminal, or `TERM=dumb`.
pub fn plain() -> bool {
    !std::io::stdout().is_terminal() || std::env::var("TERM").is_ok_and(|t| t == "dumb")
}

/// Whether `NO_COLOR` asks for no colour (set and not empty).
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Whether stdout gets colour.
pub fn colour() -> bool {
    !plain() && !no_color()
}

/// A table with this header, in the style stdout calls for.
pub fn table(header: &[&str]) -> Table {
    styled(header, plain())
}

/// [`table`] with the choice made: plain columns, or boxes that fit the
/// terminal. Pure but for comfy-table's own terminal width lookup.
pub fn styled(header: &[&str], plain: bool) -> Table {
    let mut t = Table::new();
    if plain {
        t.load_preset(NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled);
        // Left-aligned columns separated by two spaces, nothing around.
        t.set_style(comfy_table::TableComponent::VerticalLines, ' ');
    } else {
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
    }
    t.set_header(header.to_vec());
    t
}

/// The colour a state or class label wears on a terminal, if any. Pure.
pub fn tone(label: &str) -> Option<Color> {
    match label {
        "succeeded" | "done" | "ok" | "run" | "resolved" => Some(Color::Green),
        "failed" | "fail" => Some(Color::Red),
        "parked" | "park" | "blocked" | "cancelled" | "open" => Some(Color::Yellow),
        "running" => Some(Color::Cyan),
        "queued" | "scheduled" | "-" => None,
        // A class other than ok: a failure.
        _ => Some(Color::Red),
    }
}

/// A cell for a state or class label, coloured when stdout gets colour.
pub fn label_cell(label: &str) -> Cell {
    let cell = Cell::new(label);
    match tone(label) {
        Some(c) if colour() => cell.fg(c),
        _ => cell,
    }
}

/// A duration in words: `850ms`, `12.3s`, `4m05s`, `2h03m`. Pure.
pub fn duration_ms(ms: u64) -> String {
    match ms {
        ms if ms < 1_000 => format!("{ms}ms"),
        ms if ms < 60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        ms if ms < 3_600_000 => format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60),
        ms => format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// The footer under a list its limit cut: `50 of 74 shown; --limit 0 for all`.
pub fn cut_footer(shown: usize, total: Option<u64>) -> String {
    match total {
        Some(total) => format!("{shown} of {total} shown; --limit 0 for all"),
        None => format!("{shown} shown, more exist; --limit 0 for all"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_words() {
        for (ms, want) in [
            (0, "0ms"),
            (850, "850ms"),
            (1_000, "1.0s"),
            (12_345, "12.3s"),
            (59_999, "60.0s"),
            (60_000, "1m00s"),
            (245_000, "4m05s"),
            (3_600_000, "1h00m"),
            (7_380_000, "2h03m"),
        ] {
            assert_eq!(duration_ms(ms), want, "{ms}");
        }
    }

    #[test]
    fn plain_tables_have_no_box_characters_and_keep_long_cells_whole() {
        let mut t = styled(&["job", "reason"], true);
        let long = "x".repeat(400);
        t.add_row(vec!["01a2", long.as_str()]);
        let text = t.to_string();
        assert!(
            !text.chars().any(|c| ('\u{2500}'..='\u{257F}').contains(&c)),
            "{text}"
        );
        assert!(text.contains(&long), "not cut");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(
            lines[0].find("reason"),
            lines[1].find('x'),
            "columns aligned: {text}"
        );
        let boxed = styled(&["job"], false).to_string();
        assert!(boxed.contains('─') || boxed.contains('│'), "{boxed}");
    }

    #[test]
    fn states_and_classes_wear_their_tone_and_waiting_wears_none() {
        assert_eq!(tone("failed"), Some(Color::Red));
        assert_eq!(tone("rate_limited"), Some(Color::Red));
        assert_eq!(tone("succeeded"), Some(Color::Green));
        assert_eq!(tone("parked"), Some(Color::Yellow));
        assert_eq!(tone("queued"), None);
    }

    #[test]
    fn a_cut_list_says_how_to_see_all() {
        assert_eq!(
            cut_footer(50, Some(74)),
            "50 of 74 shown; --limit 0 for all"
        );
        assert_eq!(
            cut_footer(20, None),
            "20 shown, more exist; --limit 0 for all"
        );
    }
}
