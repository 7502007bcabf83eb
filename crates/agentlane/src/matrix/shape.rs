//! What the rows mean: universal, lane-specific, payload-specific or healthy.
//!
//! The shape is judged **per route**: over the contexts of the route being
//! varied (baseline, worker kind, cwd, environment source, user, payload).
//! The cells of other routes are a comparison shown beside the verdict, never
//! the dimension that flips it — another route passing says nothing about the
//! contexts this route runs in. Control cells (the missing working directory)
//! prove a check works and are never evidence.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Dimension, Row};

/// The shape of a failure (the seed's vocabulary, plus `healthy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// The route's canary fails in every one of its contexts: below business
    /// logic, the route's own (its program, its auth, its network).
    Universal,
    /// The route's canary passes in one context (environment, user, worker
    /// kind, cwd) and fails in another.
    LaneSpecific,
    /// The route's canary passes everywhere but a real payload fails.
    PayloadSpecific,
    /// Everything passes.
    Healthy,
}

impl Shape {
    /// The contract's label (`lane_specific`, ...), as in `--json`.
    pub fn label(self) -> &'static str {
        match self {
            Shape::Universal => "universal",
            Shape::LaneSpecific => "lane_specific",
            Shape::PayloadSpecific => "payload_specific",
            Shape::Healthy => "healthy",
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Another route's canary, shown beside the verdict for comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// The other route.
    pub route: String,
    /// Its canary's class.
    pub classifier: String,
}

/// The matrix's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The shape.
    pub shape: Shape,
    /// The route the verdict is about.
    pub route: String,
    /// The dimension of the route's own contexts whose change flips the
    /// result, when one does (never `route`).
    pub dimension: Option<Dimension>,
    /// Where the repair belongs.
    pub repair_address: String,
    /// The other routes' canaries: a comparison, not evidence.
    pub comparison: Vec<Comparison>,
    /// Control cells that did not end as expected (the check they prove is
    /// not working); they do not change the shape.
    pub notes: Vec<String>,
}

/// The classes a set of rows ended with, deduplicated in order.
fn classes(rows: &[&Row]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for r in rows {
        if !seen.contains(&r.classifier.as_str()) {
            seen.push(&r.classifier);
        }
    }
    seen.join(", ")
}

fn comparison_text(comparison: &[Comparison]) -> String {
    let passing: Vec<&str> = comparison
        .iter()
        .filter(|c| c.classifier == "ok")
        .map(|c| c.route.as_str())
        .collect();
    if passing.is_empty() {
        String::new()
    } else {
        format!(
            " (other routes pass on this host: {} — so the host and the dispatcher work; this route does not)",
            passing.join(", ")
        )
    }
}

/// The repair of a route that fails in every context: the route's own
/// program, auth or network, named from the baseline's facts.
fn own_failure_repair(route: &str, canary: &[&Row], comparison: &[Comparison]) -> String {
    let first = canary
        .iter()
        .find(|r| r.dimension == Dimension::Baseline)
        .or_else(|| canary.first());
    let Some(first) = first else {
        return format!("runner preflight for route '{route}': `agentlane doctor --route {route}`");
    };
    let class = first.classifier.as_str();
    let resolved: Vec<&str> = canary
        .iter()
        .filter_map(|r| r.cli_path.as_deref())
        .collect();
    let resolution = match (class, resolved.first()) {
        ("cli_missing", None) => format!(
            " Its program '{}' resolved in none of its {} contexts",
            first.program,
            canary.len()
        ),
        (_, Some(path)) => format!(" Its program '{}' resolved to {path}", first.program),
        (_, None) => String::new(),
    };
    // The baseline's own hint names the facts (where the program was looked
    // for, whose HOME has no login); a generic step only when it has none.
    let what = if !first.repair_hint.is_empty() {
        let sep = if resolution.is_empty() { " " } else { ": " };
        format!("{sep}{}", first.repair_hint)
    } else {
        match class {
            "cli_missing" | "cli_not_executable" | "interpreter_missing" => {
                " — install it or set the route's `program` to its absolute path".to_string()
            }
            "auth_unavailable" => {
                " — log in as the worker's user with the route's HOME, or give the route its key (`env`/`env_file`)".to_string()
            }
            _ => format!(" — repair what {class} names (`agentlane explain {class}`)"),
        }
    };
    format!(
        "runner preflight and environment repair for route '{route}' itself: it fails with {} in every one of its contexts, so the failure is the route's own, not a difference between its contexts{}.{resolution}{what}; then `agentlane doctor --route {route}`",
        classes(canary),
        comparison_text(comparison),
    )
}

/// Names the shape of a set of rows, per route. Pure.
pub fn shape(rows: &[Row]) -> Verdict {
    let controls: Vec<&Row> = rows.iter().filter(|r| r.expected.is_some()).collect();
    let evidence: Vec<&Row> = rows.iter().filter(|r| r.expected.is_none()).collect();
    let comparison: Vec<Comparison> = evidence
        .iter()
        .filter(|r| r.dimension == Dimension::Route)
        .map(|r| Comparison {
            route: r.route.clone(),
            classifier: r.classifier.clone(),
        })
        .collect();
    let own: Vec<&Row> = evidence
        .iter()
        .copied()
        .filter(|r| r.dimension != Dimension::Route)
        .collect();
    let canary: Vec<&Row> = own
        .iter()
        .copied()
        .filter(|r| r.dimension != Dimension::Payload)
        .collect();
    let payload: Vec<&Row> = own
        .iter()
        .copied()
        .filter(|r| r.dimension == Dimension::Payload)
        .collect();
    let route = own
        .iter()
        .chain(controls.iter())
        .map(|r| r.route.clone())
        .next()
        .unwrap_or_default();
    let notes: Vec<String> = controls
        .iter()
        .filter(|r| !r.is_expected_control())
        .map(|r| {
            format!(
                "control cell {}={} ended {}, not {}: the check it proves did not answer as expected (a control, not evidence)",
                r.dimension.label(),
                r.value,
                r.classifier,
                r.expected.as_deref().unwrap_or_default()
            )
        })
        .collect();
    let verdict = |shape: Shape, dimension: Option<Dimension>, repair_address: String| Verdict {
        shape,
        route: route.clone(),
        dimension,
        repair_address,
        comparison: comparison.clone(),
        notes: notes.clone(),
    };
    let baseline = canary.iter().find(|r| r.dimension == Dimension::Baseline);
    let any_pass = canary.iter().any(|r| r.passed());
    let any_fail = canary.iter().any(|r| !r.passed());
    if !canary.is_empty() && !any_pass {
        // Nothing passes; but when one context changes *how* it fails (auth
        // everywhere, yet the thin service environment cannot even find
        // node), that context carries its own problem.
        let baseline_class = baseline.map(|r| r.classifier.as_str());
        if let Some(changed) = canary.iter().find(|r| {
            r.dimension != Dimension::Baseline && Some(r.classifier.as_str()) != baseline_class
        }) {
            let d = changed.dimension;
            return verdict(
                Shape::LaneSpecific,
                Some(d),
                format!(
                    "route '{route}' fails in every context, but {} changes how ({} instead of {}): repair that context first — environment inheritance, permissions, path resolution — then the common cause; compare with `agentlane env diff --route {route}`",
                    d.label(),
                    changed.classifier,
                    baseline_class.unwrap_or("the baseline's class")
                ),
            );
        }
        return verdict(
            Shape::Universal,
            None,
            own_failure_repair(&route, &canary, &comparison),
        );
    }
    if any_pass && any_fail {
        // The flip: a context of this route whose result differs from the baseline.
        let baseline_passed = baseline.map(|r| r.passed());
        let flip = canary
            .iter()
            .find(|r| r.dimension != Dimension::Baseline && Some(r.passed()) != baseline_passed);
        let dimension = flip.map(|r| r.dimension);
        let which = flip.map_or("a dimension".to_string(), |r| {
            format!("{} = {}", r.dimension.label(), r.value)
        });
        return verdict(
            Shape::LaneSpecific,
            dimension,
            format!("parity between the contexts of route '{route}' that pass and fail (they differ in {which}): environment inheritance, permissions, path resolution — compare with `agentlane env diff --route {route}`"),
        );
    }
    if let Some(failed) = payload.iter().find(|r| !r.passed()) {
        return verdict(
            Shape::PayloadSpecific,
            Some(Dimension::Payload),
            format!("the producer and the contract: route '{route}''s canary passes in every context but a payload fails ({}: {}) — prompt contract, serialisation, repo state or task policy; validate it before spawn ([kinds.K] max_prompt_bytes, required_fields, the route's prompt_via)", failed.value, failed.classifier),
        );
    }
    if canary.is_empty() {
        return verdict(
            Shape::Healthy,
            None,
            format!("nothing to judge: no cell of route '{route}' ran"),
        );
    }
    verdict(
        Shape::Healthy,
        None,
        format!("nothing to repair: every cell of route '{route}' passed"),
    )
}
