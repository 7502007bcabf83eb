//! Route policy and payload contracts: may this job run on this route, and is
//! its payload well formed? Pure functions of the configuration and the job.
//!
//! A payload that breaks its kind's contract is `payload_invalid` before any
//! process is spawned; a job its policy forbids is `route_not_allowed`, and a
//! worker never claims it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::class::Class;
use crate::classify::Classification;
use crate::config::{Kind, Lane, Route};

/// A job's payload: the prompt and its named fields.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    /// The prompt bytes.
    pub prompt: &'a [u8],
    /// Named fields (strings, numbers, booleans).
    pub fields: &'a BTreeMap<String, Value>,
}

/// How much is running now, for concurrency ceilings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Load {
    /// Jobs running on the route.
    pub on_route: u32,
    /// Jobs running in the lane.
    pub in_lane: u32,
}

fn refusal(class: Class, rule: &str, evidence: String, hint: String) -> Classification {
    Classification {
        layer: crate::classify::Layer::Fact,
        class,
        rule: rule.to_string(),
        evidence: Some(evidence),
        repair_hint: hint,
        retry_after_secs: None,
        reset_at: None,
    }
}

/// Checks a payload against its kind's contract.
pub fn check_contract(kind: &Kind, payload: &Payload<'_>) -> Result<(), Classification> {
    let invalid = |evidence: String, hint: String| {
        Err(refusal(
            Class::PayloadInvalid,
            "policy.contract",
            evidence,
            hint,
        ))
    };
    let Ok(text) = std::str::from_utf8(payload.prompt) else {
        return invalid(
            format!(
                "the prompt of a '{}' job is not valid UTF-8 text",
                kind.name
            ),
            "the payload must be text: fix the producer's encoding".into(),
        );
    };
    if text.contains('\0') {
        return invalid(
            format!("the prompt of a '{}' job contains a NUL byte", kind.name),
            "remove the NUL byte in the producer".into(),
        );
    }
    if text.trim().is_empty() {
        return invalid(
            format!("the prompt of a '{}' job is empty", kind.name),
            "the producer sent an empty prompt: fix the job's payload".into(),
        );
    }
    if let Some(max) = kind.max_prompt_bytes {
        if payload.prompt.len() as u64 > max {
            return invalid(
                format!(
                    "the prompt is {} bytes; kind '{}' allows at most {max}",
                    payload.prompt.len(),
                    kind.name
                ),
                format!(
                    "shorten the payload in its producer, or raise max_prompt_bytes for [kinds.{}]",
                    kind.name
                ),
            );
        }
    }
    for field in &kind.required_fields {
        let present = match payload.fields.get(field) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(_) => true,
        };
        if !present {
            return invalid(
                format!(
                    "a '{}' job needs the field '{field}' and it is missing or empty",
                    kind.name
                ),
                format!("add '{field}' to the job's payload in its producer"),
            );
        }
    }
    for (name, value) in payload.fields {
        if matches!(value, Value::Object(_) | Value::Array(_)) {
            return invalid(
                format!(
                    "field '{name}' is a JSON {}: payload fields must be text, numbers or booleans",
                    if value.is_array() { "array" } else { "object" }
                ),
                format!("flatten '{name}' into text in the producer"),
            );
        }
    }
    Ok(())
}

/// Whether policy allows a job of `kind` (when known) on `route` in `lane` now.
/// `fields` are the job's payload fields (None when judging a route without a
/// job, as `doctor` does: per-job gates are then not judged).
pub fn route_allowed(
    kind: Option<&Kind>,
    route: &Route,
    lane: Option<&Lane>,
    fields: Option<&BTreeMap<String, Value>>,
    load: Load,
) -> Result<(), Classification> {
    let deny = |evidence: String, hint: String| {
        Err(refusal(
            Class::RouteNotAllowed,
            "policy.route",
            evidence,
            hint,
        ))
    };
    if let Some(kind) = kind {
        if !kind.routes.is_empty() && !kind.routes.contains(&route.name) {
            return deny(
                format!(
                    "kind '{}' may use routes [{}], not '{}'",
                    kind.name,
                    kind.routes.join(", "),
                    route.name
                ),
                format!(
                    "send '{}' jobs to one of [{}], or add '{}' to [kinds.{}].routes",
                    kind.name,
                    kind.routes.join(", "),
                    route.name,
                    kind.name
                ),
            );
        }
        if !kind.models.is_empty() {
            let model = route.model.as_deref().unwrap_or("<the CLI's default>");
            if !kind.models.iter().any(|m| m == model) {
                return deny(
                    format!("kind '{}' may use models [{}]; route '{}' selects {model}", kind.name, kind.models.join(", "), route.name),
                    format!("set model in [routes.{}] to an allowed one, or add it to [kinds.{}].models", route.name, kind.name),
                );
            }
        }
        if kind.requires_subagents && !route.subagents {
            return deny(
                format!(
                    "kind '{}' needs subagents and route '{}' has them disabled",
                    kind.name, route.name
                ),
                format!(
                    "set subagents = true in [routes.{}] if that route may spawn subagents",
                    route.name
                ),
            );
        }
        // Without a job (doctor), per-job gates are not judged.
        if let (Some(flag), Some(fields)) = (&kind.requires_flag, fields) {
            if fields.get(flag) != Some(&Value::Bool(true)) {
                return deny(
                    format!(
                        "kind '{}' is gated on the payload flag '{flag}', which is not true",
                        kind.name
                    ),
                    format!("a human must set \"{flag}\": true on the job before it may run"),
                );
            }
        }
    }
    if let Some(lane) = lane {
        if !lane.routes.is_empty() && !lane.routes.contains(&route.name) {
            return deny(
                format!(
                    "lane '{}' runs routes [{}], not '{}'",
                    lane.name,
                    lane.routes.join(", "),
                    route.name
                ),
                format!(
                    "add '{}' to [lanes.{}].routes or send the job to another lane",
                    route.name, lane.name
                ),
            );
        }
        if let Some(limit) = lane.concurrency {
            if load.in_lane >= limit {
                return deny(
                    format!(
                        "lane '{}' is at its concurrency ceiling ({limit})",
                        lane.name
                    ),
                    "wait for a running job to finish (the job stays queued)".into(),
                );
            }
        }
    }
    if let Some(limit) = route.concurrency {
        if load.on_route >= limit {
            return deny(
                format!(
                    "route '{}' is at its concurrency ceiling ({limit})",
                    route.name
                ),
                "wait for a running job to finish (the job stays queued)".into(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use std::path::Path;
    use test_case::test_case;

    fn cfg() -> config::Config {
        config::parse(
            Path::new("a.toml"),
            r#"
[routes.review]
profile = "claude"
model = "sonnet"
concurrency = 2
[routes.bulk]
profile = "codex"
subagents = true
[kinds.lead_review]
routes = ["review"]
models = ["sonnet"]
max_prompt_bytes = 20
required_fields = ["lead_id"]
[kinds.deploy]
requires_flag = "human_approved"
requires_subagents = true
[lanes.revenue]
routes = ["review"]
concurrency = 1
"#,
        )
        .unwrap()
    }

    fn fields(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test_case(b"review lead 7", &[("lead_id", Value::from("7"))], None; "valid")]
    #[test_case(b"", &[("lead_id", Value::from("7"))], Some("is empty"); "empty prompt")]
    #[test_case(b"a prompt that is far too long for this kind", &[("lead_id", Value::from("7"))], Some("at most 20"); "over the limit")]
    #[test_case(b"ok", &[], Some("needs the field 'lead_id'"); "missing field")]
    #[test_case(b"ok", &[("lead_id", Value::from(" "))], Some("needs the field 'lead_id'"); "blank field")]
    #[test_case(b"\xff\xfe", &[("lead_id", Value::from("7"))], Some("not valid UTF-8"); "not text")]
    #[test_case(b"ok", &[("lead_id", Value::from("7")), ("blob", serde_json::json!({"a": 1}))], Some("must be text"); "nested field")]
    fn contracts(prompt: &[u8], f: &[(&str, Value)], expected: Option<&str>) {
        let cfg = cfg();
        let fields = fields(f);
        let got = check_contract(
            &cfg.kinds["lead_review"],
            &Payload {
                prompt,
                fields: &fields,
            },
        );
        match (got, expected) {
            (Ok(()), None) => {}
            (Err(c), Some(text)) => {
                assert_eq!(c.class, Class::PayloadInvalid);
                assert!(c.evidence.as_deref().unwrap().contains(text), "{c:?}");
            }
            (got, expected) => panic!("got {got:?}, expected {expected:?}"),
        }
    }

    #[test_case("lead_review", "review", None, &[], Load::default(), None; "allowed")]
    #[test_case("lead_review", "bulk", None, &[], Load::default(), Some("may use routes [review]"); "route not in kind")]
    #[test_case("deploy", "review", None, &[], Load::default(), Some("needs subagents"); "subagents required")]
    #[test_case("deploy", "bulk", None, &[], Load::default(), Some("gated on the payload flag"); "safety gate closed")]
    #[test_case("deploy", "bulk", None, &[("human_approved", Value::Bool(true))], Load::default(), None; "safety gate open")]
    #[test_case("lead_review", "review", Some("revenue"), &[], Load { on_route: 0, in_lane: 1 }, Some("lane 'revenue' is at its concurrency ceiling"); "lane full")]
    #[test_case("lead_review", "review", None, &[], Load { on_route: 2, in_lane: 0 }, Some("route 'review' is at its concurrency ceiling"); "route full")]
    fn policy(
        kind: &str,
        route: &str,
        lane: Option<&str>,
        f: &[(&str, Value)],
        load: Load,
        expected: Option<&str>,
    ) {
        let cfg = cfg();
        let fields = fields(f);
        let got = route_allowed(
            Some(&cfg.kinds[kind]),
            &cfg.routes[route],
            lane.map(|l| &cfg.lanes[l]),
            Some(&fields),
            load,
        );
        match (got, expected) {
            (Ok(()), None) => {}
            (Err(c), Some(text)) => {
                assert_eq!(c.class, Class::RouteNotAllowed);
                assert!(c.evidence.as_deref().unwrap().contains(text), "{c:?}");
            }
            (got, expected) => panic!("got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn a_model_outside_the_kind_is_refused() {
        let cfg = config::parse(
            Path::new("a.toml"),
            "[routes.r]\nprofile = \"claude\"\nmodel = \"opus\"\n[kinds.k]\nmodels = [\"sonnet\"]\n",
        )
        .unwrap();
        let got = route_allowed(
            Some(&cfg.kinds["k"]),
            &cfg.routes["r"],
            None,
            None,
            Load::default(),
        )
        .unwrap_err();
        assert!(got.evidence.unwrap().contains("selects opus"));
    }
}
