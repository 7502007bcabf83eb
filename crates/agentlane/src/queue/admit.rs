//! Admission: what a producer may enqueue. A payload that breaks its kind's
//! contract, a route policy forbids, or a prompt carrying a secret is refused
//! here, with the contract's message, and never reaches a worker.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::config::Config;
use crate::policy::{check_contract, route_allowed, Load, Payload};
use crate::redact::Redactor;

use super::NewJob;

/// A job as a producer describes it (one JSONL line, or the enqueue flags).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// Kind.
    pub kind: String,
    /// Lane.
    pub lane: String,
    /// Route; chosen by policy when absent.
    #[serde(default)]
    pub route: Option<String>,
    /// The prompt.
    pub prompt: String,
    /// Higher runs first.
    #[serde(default)]
    pub priority: i64,
    /// Named payload fields.
    #[serde(default)]
    pub fields: BTreeMap<String, Value>,
}

/// Why a job was refused: a class label and the contract's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `payload_invalid`, `route_not_allowed` or `config_invalid`.
    pub class: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn refusal(class: &str, message: impl Into<String>) -> Refusal {
    Refusal {
        class: class.to_string(),
        message: message.into(),
    }
}

/// A payload field given on a command line (`KEY=VALUE`): `true`/`false`
/// and integers are typed, the rest is text.
pub fn field_value(raw: &str) -> Value {
    match raw {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => raw
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(raw)),
    }
}

/// Admits a job: picks its route when none is given, checks contract and policy. Pure.
pub fn admit(config: &Config, req: JobRequest) -> Result<NewJob, Refusal> {
    let kind = config.kinds.get(&req.kind).ok_or_else(|| {
        let known: Vec<&str> = config.kinds.keys().map(String::as_str).collect();
        refusal(
            "config_invalid",
            format!(
                "unknown kind '{}': define [kinds.{}] in {} or use one of [{}]",
                req.kind,
                req.kind,
                config.path.display(),
                known.join(", ")
            ),
        )
    })?;
    let lane = config.lanes.get(&req.lane);
    if lane.is_none() && !config.lanes.is_empty() {
        let known: Vec<&str> = config.lanes.keys().map(String::as_str).collect();
        return Err(refusal(
            "config_invalid",
            format!(
                "unknown lane '{}': use one of [{}]",
                req.lane,
                known.join(", ")
            ),
        ));
    }
    let payload = Payload {
        prompt: req.prompt.as_bytes(),
        fields: &req.fields,
    };
    check_contract(kind, &payload)
        .map_err(|c| refusal("payload_invalid", c.evidence.unwrap_or(c.repair_hint)))?;
    if Redactor::shapes_only().redact(&req.prompt) != req.prompt {
        return Err(refusal(
            "payload_invalid",
            "the prompt contains what looks like a secret (an API key or token): secrets reach agents through the route's env or env_file, never through a payload stored in the queue",
        ));
    }
    let candidates: Vec<&String> = match &req.route {
        Some(r) => {
            if !config.routes.contains_key(r) {
                return Err(refusal(
                    "route_not_allowed",
                    format!("route '{r}' is not defined in {}", config.path.display()),
                ));
            }
            vec![r]
        }
        None => config.routes.keys().collect(),
    };
    let mut last = None;
    for name in candidates {
        let route = &config.routes[name];
        match route_allowed(Some(kind), route, lane, Some(&req.fields), Load::default()) {
            Ok(()) => {
                return Ok(NewJob {
                    kind: req.kind,
                    lane: req.lane,
                    route: name.clone(),
                    prompt: req.prompt,
                    fields: req.fields,
                    priority: req.priority,
                })
            }
            Err(c) => last = Some(c),
        }
    }
    let why = last
        .and_then(|c| c.evidence)
        .unwrap_or_else(|| "no route is defined".into());
    Err(refusal(
        "route_not_allowed",
        format!(
            "no route may run this '{}' job in lane '{}': {why}",
            req.kind, req.lane
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg() -> Config {
        crate::config::parse(
            Path::new("a.toml"),
            "[routes.a]\nprofile = \"claude\"\n[routes.b]\nprofile = \"codex\"\n[kinds.k]\nroutes = [\"b\"]\nmax_prompt_bytes = 50\n[lanes.l]\nroutes = [\"a\", \"b\"]\n",
        )
        .unwrap()
    }

    fn req(prompt: &str, route: Option<&str>) -> JobRequest {
        JobRequest {
            kind: "k".into(),
            lane: "l".into(),
            route: route.map(str::to_string),
            prompt: prompt.into(),
            priority: 0,
            fields: BTreeMap::new(),
        }
    }

    #[test]
    fn a_route_is_chosen_by_policy_when_none_is_given() {
        assert_eq!(admit(&cfg(), req("hello", None)).unwrap().route, "b");
    }

    #[test]
    fn refusals_carry_the_contract_message() {
        let c = cfg();
        assert_eq!(
            admit(&c, req("hello", Some("a"))).unwrap_err().class,
            "route_not_allowed"
        );
        let long = "x".repeat(60);
        let e = admit(&c, req(&long, None)).unwrap_err();
        assert_eq!(e.class, "payload_invalid");
        assert!(e.message.contains("at most 50"), "{e:?}");
        let e = admit(&c, req("use key sk-proj-abcdefghijklmnopqrstuvwx", None)).unwrap_err();
        assert!(e.message.contains("looks like a secret"), "{e:?}");
        let e = admit(
            &c,
            JobRequest {
                kind: "nope".into(),
                ..req("hi", None)
            },
        )
        .unwrap_err();
        assert_eq!(e.class, "config_invalid");
        let e = admit(
            &c,
            JobRequest {
                lane: "nope".into(),
                ..req("hi", None)
            },
        )
        .unwrap_err();
        assert!(e.message.contains("unknown lane"), "{e:?}");
    }
}
