//! What the rows mean: universal, lane-specific, payload-specific or healthy.

use serde::{Deserialize, Serialize};

use super::{Dimension, Row};

/// The shape of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// The canary fails everywhere: below business logic.
    Universal,
    /// The canary passes in one environment, user or worker kind and fails in another.
    LaneSpecific,
    /// The canary passes but a real payload fails.
    PayloadSpecific,
    /// Everything passes.
    Healthy,
}

/// The matrix's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The shape.
    pub shape: Shape,
    /// The dimension whose change flips the result, when one does.
    pub dimension: Option<Dimension>,
    /// Where the repair belongs.
    pub repair_address: String,
}

fn is_canary(r: &Row) -> bool {
    r.dimension != Dimension::Payload
}

/// Names the shape of a set of rows. Pure.
pub fn shape(rows: &[Row]) -> Verdict {
    let rows: Vec<Row> = rows
        .iter()
        .filter(|r| !r.is_expected_control())
        .cloned()
        .collect();
    let rows = rows.as_slice();
    let canary: Vec<&Row> = rows.iter().filter(|r| is_canary(r)).collect();
    let baseline_passed = rows
        .iter()
        .find(|r| r.dimension == Dimension::Baseline)
        .map(Row::passed);
    let any_canary_pass = canary.iter().any(|r| r.passed());
    let any_canary_fail = canary.iter().any(|r| !r.passed());
    if !canary.is_empty() && !any_canary_pass {
        // Nothing passes; but when one dimension changes *how* it fails (auth
        // everywhere, yet the thin service environment cannot even find node),
        // that dimension carries its own problem.
        let baseline_class = rows
            .iter()
            .find(|r| r.dimension == Dimension::Baseline)
            .map(|r| r.classifier.as_str());
        if let Some(changed) = canary.iter().find(|r| {
            r.dimension != Dimension::Baseline && Some(r.classifier.as_str()) != baseline_class
        }) {
            let d = changed.dimension;
            return Verdict {
                shape: Shape::LaneSpecific,
                dimension: Some(d),
                repair_address: format!(
                    "the canary fails everywhere, but {} changes how ({} instead of {}): repair that context first — environment inheritance, permissions, path resolution — then the common cause; compare with `agentlane env diff`",
                    d.label(),
                    changed.classifier,
                    baseline_class.unwrap_or("the baseline's class")
                ),
            };
        }
        return Verdict {
            shape: Shape::Universal,
            dimension: None,
            repair_address: "runner preflight and environment repair: the canary fails in every environment, user and worker kind, so the cause is below business logic (executable, interpreter, auth, network) — start with `agentlane doctor`".into(),
        };
    }
    if any_canary_pass && any_canary_fail {
        // The flip: a varied cell whose result differs from the baseline.
        let flips =
            |r: &&&Row| r.dimension != Dimension::Baseline && Some(r.passed()) != baseline_passed;
        let dimension = canary.iter().find(flips).map(|r| r.dimension);
        let which = dimension.map_or("a dimension".to_string(), |d| d.label().to_string());
        return Verdict {
            shape: Shape::LaneSpecific,
            dimension,
            repair_address: format!("parity between the contexts that pass and fail (they differ in {which}): environment inheritance, permissions, path resolution — compare with `agentlane env diff`"),
        };
    }
    if rows.iter().any(|r| !is_canary(r) && !r.passed()) {
        return Verdict {
            shape: Shape::PayloadSpecific,
            dimension: Some(Dimension::Payload),
            repair_address: "the producer and the contract: the canary passes but a real payload fails — prompt contract, serialisation, repo state or task policy; validate it before spawn ([kinds.K] max_prompt_bytes, required_fields)".into(),
        };
    }
    Verdict {
        shape: Shape::Healthy,
        dimension: None,
        repair_address: "nothing to repair: every cell passed".into(),
    }
}
