//! The matrix page (`/matrix`): the canary matrix runs kept under the home
//! (`agentlane::matrix::session::stored_reports`), the chosen run's rows
//! with the dimension that flips the result highlighted, and the shape
//! verdict.

use agentlane::matrix::{Comparison, Dimension, Row, Shape};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::label;

/// A run's `report.json` as the page reads it.
#[derive(Debug, Deserialize)]
struct Report {
    shape: Shape,
    dimension: Option<Dimension>,
    repair_address: String,
    route: String,
    #[serde(default)]
    comparison: Vec<Comparison>,
    #[serde(default)]
    notes: Vec<String>,
    rows: Vec<Row>,
}

/// The page's body over the stored reports (newest first, with their ids):
/// the run `run` (else the newest) in full, then every run.
pub fn body(has_home: bool, runs: &[(String, serde_json::Value)], run: Option<&str>) -> Markup {
    let runs: Vec<(&str, Result<Report, String>)> = runs
        .iter()
        .map(|(id, v)| {
            let r = Report::deserialize(v).map_err(|e| format!("not a matrix report: {e}"));
            (id.as_str(), r)
        })
        .collect();
    let chosen = match run {
        Some(id) => runs.iter().find(|r| r.0 == id),
        None => runs.first(),
    };
    html! {
        h1 { "Canary matrix" }
        @if !has_home {
            p.empty { "This server was started without an agentlane home, so it cannot read the matrix runs." }
        } @else if runs.is_empty() {
            p.empty { "No matrix run yet: " code { "agentlane matrix --route ROUTE" } " runs one and keeps its report here." }
        } @else {
            @if let (Some(id), None) = (run, chosen) { p.error { "No matrix run " code { (id) } "; the runs kept are listed below." } }
            @if let Some((id, r)) = chosen {
                section aria-labelledby="h-run" {
                    h2 #h-run { "Run " code { (id) } }
                    @match r { Err(e) => p.error { (e) }, Ok(rep) => (report(rep)) }
                }
            }
            section aria-labelledby="h-runs" {
                h2 #h-runs { "Runs kept (newest first)" }
                table.runs { thead { tr { th scope="col" { "run" } th scope="col" { "route" } th scope="col" { "shape" } th scope="col" { "dimension" } } }
                    tbody { @for (id, r) in &runs {
                        tr aria-current=[(chosen.is_some_and(|c| c.0 == *id)).then_some("true")] {
                            td { a href=(format!("/matrix?run={id}")) { (id) } }
                            @match r {
                                Ok(rep) => { td { code { (rep.route) } } td { (label(rep.shape.label())) } td { (rep.dimension.map(Dimension::label).unwrap_or("-")) } },
                                Err(e) => { td.error colspan="3" { (e) } },
                            }
                        }
                    } }
                }
            }
        }
    }
}

/// The verdict and the rows; the cells of the flipping dimension are marked.
fn report(rep: &Report) -> Markup {
    let flips = rep.dimension;
    html! {
        p.verdict #verdict data-shape=(rep.shape.label()) data-dimension=[flips.map(Dimension::label)] {
            "route " code { (rep.route) } " is " (label(rep.shape.label()))
            @if let Some(d) = flips { " — the result flips with " strong.flip { (d.label()) } }
            " — repair address " strong { (rep.repair_address) }
        }
        @if !rep.comparison.is_empty() {
            p { "Other routes (a comparison, not evidence): "
                @for (n, c) in rep.comparison.iter().enumerate() { @if n > 0 { ", " } code { (c.route) } " " (label(&c.classifier)) } }
        }
        @for n in &rep.notes { p.warn { (n) } }
        table.matrix {
            thead { tr {
                th scope="col" { "dimension" } th scope="col" { "value" } th scope="col" { "route" } th scope="col" { "class" }
                th scope="col" { "exit" } th scope="col" { "cli_path" } th scope="col" { "env" } th scope="col" { "repair hint" }
            } }
            tbody {
                @for r in &rep.rows {
                    @let flipping = Some(r.dimension) == flips;
                    tr.flip[flipping] data-dimension=(r.dimension.label()) {
                        td { (r.dimension.label()) @if flipping { " " span.label data-tone="warn" { "differs" } } }
                        td { code { (r.value) } }
                        td { code { (r.route) } }
                        td { (label(&r.classifier)) @if let Some(e) = &r.expected { " " span.small { "(control: expects " (e) ")" } } }
                        td { (r.exit_code.map(|c| c.to_string()).or_else(|| r.signal.map(|s| format!("signal {s}"))).unwrap_or_else(|| "-".into())) }
                        td { code { (r.cli_path.as_deref().unwrap_or("-")) } }
                        td { code { (r.env_fingerprint.as_deref().unwrap_or("-")) } }
                        td.hint { (r.repair_hint) }
                    }
                }
            }
        }
    }
}
