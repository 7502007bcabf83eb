//! How the binary prints for a person: one table style for every list,
//! colour where it helps, durations in words.
//!
//! On a terminal, tables are drawn with box characters and fit its width
//! (a long cell wraps; a row past a few lines is cut with a visible `…`);
//! when stdout is a pipe or a file, or `TERM=dumb`, they are plain columns
//! aligned with spaces, no border, no trailing blanks, never cut. Colour
//! (classes and states) only on a terminal, and never with `NO_COLOR` set
//! (no-color.org).

use std::fmt;
use std::io::IsTerminal;
use std::ops::{Deref, DerefMut};

use comfy_table::presets::{NOTHING, UTF8_FULL_CONDENSED};
use comfy_table::{Cell, Color, ColumnConstraint, ContentArrangement, Width};

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

/// On a terminal, a column whose cells are all this wide or narrower is
/// never wrapped ("auth_unavailable" is 16).
const WHOLE_UP_TO: u16 = 16;

/// On a terminal, the most lines one row takes before it is cut with `…`.
const ROW_LINES: usize = 4;

/// On a terminal, the narrowest a wrapped column gets.
const WRAP_NO_NARROWER: u16 = 20;

/// A table in the style stdout calls for: rows are added through
/// comfy-table's own API (it derefs to [`comfy_table::Table`]), and it
/// prints with `{}`.
pub struct Table {
    inner: comfy_table::Table,
    plain: bool,
}

impl Deref for Table {
    type Target = comfy_table::Table;
    fn deref(&self) -> &comfy_table::Table {
        &self.inner
    }
}

impl DerefMut for Table {
    fn deref_mut(&mut self) -> &mut comfy_table::Table {
        &mut self.inner
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.plain {
            // No border: the last column's padding is only blanks.
            return f.write_str(&self.inner.trim_fmt());
        }
        // On a terminal, the first column (an id, a route, a lane: what one
        // copies) and the short ones (states, classes, counts) stay whole;
        // the long ones (reasons, hints, paths) wrap to fit, never narrower
        // than a few words, and a row longer than a few lines is cut with
        // `…` (piped, or in the command that shows one item, it is whole).
        let mut t = self.inner.clone();
        if t.width().is_some() {
            t.set_truncation_indicator("…");
            for row in t.row_iter_mut() {
                row.max_height(ROW_LINES);
            }
        }
        let widths = t.column_max_content_widths();
        for (i, c) in t.column_iter_mut().enumerate() {
            let width = widths.get(i).copied().unwrap_or(0);
            c.set_constraint(if i == 0 || width <= WHOLE_UP_TO {
                ColumnConstraint::ContentWidth
            } else {
                ColumnConstraint::LowerBoundary(Width::Fixed(WRAP_NO_NARROWER))
            });
        }
        t.fmt(f)
    }
}

/// A table with this header, in the style stdout calls for.
pub fn table(header: &[&str]) -> Table {
    styled(header, plain())
}

/// [`table`] with the choice made: plain columns, or boxes that fit the
/// terminal. Pure but for comfy-table's own terminal width lookup.
pub fn styled(header: &[&str], plain: bool) -> Table {
    let mut t = comfy_table::Table::new();
    if plain {
        t.load_preset(NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled);
        t.set_header(header.to_vec());
        // Left-aligned columns two blanks apart (a blank of padding, a
        // blank for the rule), nothing before the first.
        t.set_style(comfy_table::TableComponent::VerticalLines, ' ');
        for c in t.column_iter_mut() {
            c.set_padding((0, 1));
        }
    } else {
        t.load_preset(UTF8_FULL_CONDENSED);
        // Fit the terminal (the rules are in `Display`). A terminal of unknown width (a pseudo-terminal nobody sized
        // reports 0 columns) gets its table unconstrained rather than one
        // character per column.
        match terminal_width(std::env::var("COLUMNS").ok().as_deref(), t.width()) {
            Some(w) => {
                t.set_width(w)
                    .set_content_arrangement(ContentArrangement::Dynamic);
            }
            None => {
                t.set_content_arrangement(ContentArrangement::Disabled);
            }
        }
        t.set_header(header.to_vec());
    }
    Table { inner: t, plain }
}

/// The width a terminal table fits: `COLUMNS` when it holds a number (as
/// `ls` reads it), else the width the terminal reports; none when neither
/// is a plausible width. Pure.
fn terminal_width(columns: Option<&str>, reported: Option<u16>) -> Option<u16> {
    const NARROWEST: u16 = 20;
    columns
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|w| *w >= NARROWEST)
        .or(reported.filter(|w| *w >= NARROWEST))
}

/// The colour a state or class label wears on a terminal, if any. Pure.
pub fn tone(label: &str) -> Option<Color> {
    match label {
        "succeeded" | "done" | "ok" | "run" | "resolved" | "yes" => Some(Color::Green),
        "failed" | "fail" | "NO" => Some(Color::Red),
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
        for l in &lines {
            assert_eq!(*l, l.trim(), "no blanks around a line: {text:?}");
        }
        assert!(
            lines[1].starts_with("01a2  x"),
            "two blanks apart: {text:?}"
        );
        let boxed = styled(&["job"], false).to_string();
        assert!(boxed.contains('─') || boxed.contains('│'), "{boxed}");
    }

    #[test]
    fn a_terminal_table_fits_columns_else_the_reported_width_else_nothing() {
        for (columns, reported, want) in [
            (Some("132"), Some(80), Some(132)),
            (None, Some(80), Some(80)),
            (Some("wide"), Some(80), Some(80)),
            (Some("0"), Some(100), Some(100)),
            // An unsized pseudo-terminal reports 0 columns.
            (None, Some(0), None),
            (None, None, None),
        ] {
            assert_eq!(
                terminal_width(columns, reported),
                want,
                "{columns:?} {reported:?}"
            );
        }
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
