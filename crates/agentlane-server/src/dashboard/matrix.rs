//! The matrix page (`/matrix`): the canary matrix runs kept under the home
//! (`agentlane::matrix::stored_runs`), each run's rows with the dimension
//! that flips the result highlighted, and the shape verdict.

use agentlane::matrix::{Dimension, StoredReport, StoredRun};
use maud::{html, Markup};

use super::layout::label;

/// The page's body: the runs, and the chosen one (`run`, else the newest).
pub fn body(home: Option<&std::path::Path>, runs: &[StoredRun], run: Option<&str>) -> Markup {
    let chosen = match run {
        Some(id) => runs.iter().find(|r| r.id == id),
        None => runs.first(),
    };
    html! {
        h1 { "Canary matrix" }
        @if home.is_none() {
            p.empty { "This server was started without an agentlane home, so it cannot read the matrix runs." }
        } @else if runs.is_empty() {
            p.empty { "No matrix run yet: " code { "agentlane matrix --route ROUTE" } " runs one and keeps its report here." }
        } @else {
            @if let (Some(id), None) = (run, chosen) { p.error { "No matrix run " code { (id) } "; the runs kept are listed below." } }
            @if let Some(r) = chosen { (one_run(r)) }
            section aria-labelledby="h-runs" {
                h2 #h-runs { "Runs kept" }
                table.runs { thead { tr { th scope="col" { "run" } th scope="col" { "written" } th scope="col" { "route" } th scope="col" { "shape" } th scope="col" { "dimension" } } }
                    tbody { @for r in runs {
                        tr aria-current=[(chosen.is_some_and(|c| c.id == r.id)).then_some("true")] {
                            td { a href=(format!("/matrix?run={}", r.id)) { (r.id) } }
                            td { (super::layout::when(&jiff::Timestamp::try_from(r.written).map(|t| t.to_string()).unwrap_or_default())) }
                            @match &r.report {
                                Ok(rep) => { td { code { (rep.route) } } td { (label(rep.shape.label())) } td { (rep.dimension.map(Dimension::label).unwrap_or("-")) } },
                                Err(e) => { td colspan="3" .error { (e) } },
                            }
                        }
                    } }
                }
            }
        }
    }
}

fn one_run(run: &StoredRun) -> Markup {
    html! {
        section aria-labelledby="h-run" {
            h2 #h-run { "Run " code { (run.id) } }
            @match &run.report {
                Err(e) => p.error { (e) },
                Ok(rep) => (report(rep)),
            }
        }
    }
}

/// The verdict and the rows; the cells of the flipping dimension are marked.
fn report(rep: &StoredReport) -> Markup {
    let flips = rep.dimension;
    html! {
        div.verdict data-shape=(rep.shape.label()) {
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
