//! Admission: what a producer may enqueue. A payload that breaks its kind's
//! contract, a route policy forbids, or a prompt carrying a secret is refused
//! here, with the contract's message, and never reaches a worker.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::config::{Config, PromptSecrets};
use crate::policy::{check_contract, route_allowed, Load, Payload};
use crate::redact::{Redactor, Secrets};

use super::NewJob;
use crate::model::job::{check_key, check_label};

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
    /// An idempotency key: a job whose key is already stored is not added
    /// again (its enqueue answers with the stored job's id).
    #[serde(default)]
    pub key: Option<String>,
    /// A short label for people (`jobs` lists it).
    #[serde(default)]
    pub label: Option<String>,
}

/// Why a job was refused: a class label, the field at fault and the
/// contract's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `payload_invalid`, `route_not_allowed` or `config_invalid`.
    pub class: String,
    /// The request's field at fault: `kind`, `lane`, `route`, `prompt`,
    /// `key`, or `fields.NAME` (`fields` when no one field is).
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn refusal(class: &str, field: &str, message: impl Into<String>) -> Refusal {
    Refusal {
        class: class.to_string(),
        field: field.to_string(),
        message: message.into(),
    }
}

/// The field a contract's evidence names (`field 'NAME'`), else the prompt.
fn contract_field(evidence: &str) -> String {
    evidence
        .split_once("field '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(name, _)| format!("fields.{name}"))
        .unwrap_or_else(|| "prompt".to_string())
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

/// The engine prompts are checked with on enqueue: the token shapes and
/// context rules, plus the credential-like values (and their parts) of
/// agentlane's own environment and of every route's `env` and `env_file`.
/// Build it once per batch: it reads the process environment.
pub fn prompt_redactor(config: &Config) -> Redactor {
    let mut secrets = Secrets::default();
    secrets.add_process_env();
    for route in config.routes.values() {
        secrets.add_env(route.env.set.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some(base) = &route.base_env {
            secrets.add_env(base.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
    }
    Redactor::new(&secrets)
}

/// An admitted job, and whether its prompt was redacted on the way in.
#[derive(Debug, Clone, PartialEq)]
pub struct Admitted {
    /// The job to store (its prompt never holds a secret the engine knows).
    pub job: NewJob,
    /// True when secrets were replaced in the prompt or a payload field (`prompt_secrets = "redact"`).
    pub prompt_redacted: bool,
}

/// Admits a job with [`prompt_redactor`]; see [`admit_with`].
pub fn admit(config: &Config, req: JobRequest) -> Result<NewJob, Refusal> {
    admit_with(config, req, &prompt_redactor(config)).map(|a| a.job)
}

/// Admits a job: picks its route when none is given, checks contract and
/// policy, and refuses (or redacts, by `[queue] prompt_secrets`) a prompt
/// holding a secret `redactor` finds. Pure.
///
/// A refusal's message quotes the request (an unknown kind, lane or route,
/// a contract's evidence): it is redacted with the same engine, so a secret
/// pasted into any field never reaches the terminal or a log.
pub fn admit_with(
    config: &Config,
    req: JobRequest,
    redactor: &Redactor,
) -> Result<Admitted, Refusal> {
    admit_unredacted(config, req, redactor).map_err(|r| Refusal {
        message: redactor.redact(&r.message).into_owned(),
        ..r
    })
}

fn admit_unredacted(
    config: &Config,
    mut req: JobRequest,
    redactor: &Redactor,
) -> Result<Admitted, Refusal> {
    let kind = config.kinds.get(&req.kind).ok_or_else(|| {
        let known: Vec<&str> = config.kinds.keys().map(String::as_str).collect();
        refusal(
            "config_invalid",
            "kind",
            format!(
                "unknown kind '{}': define [kinds.{}] in {} or use one of [{}]",
                req.kind,
                req.kind,
                config.path.display(),
                known.join(", ")
            ),
        )
    })?;
    // The lane as the worker will resolve it (plan is the one owner).
    if let Err(e @ crate::plan::PlanError::UnknownLane { .. }) =
        crate::plan::lane_routes(config, &req.lane)
    {
        return Err(refusal("config_invalid", "lane", e.to_string()));
    }
    let lane = config.lanes.get(&req.lane);
    let payload = Payload {
        prompt: req.prompt.as_bytes(),
        fields: &req.fields,
    };
    check_contract(kind, &payload).map_err(|c| {
        let message = c.evidence.unwrap_or(c.repair_hint);
        refusal("payload_invalid", &contract_field(&message), message)
    })?;
    if let Some(key) = &req.key {
        check_key(key).map_err(|m| refusal("payload_invalid", "key", m))?;
        // A key is stored and printed as it is: it may not carry a secret.
        if redactor.redact(key) != key.as_str() {
            return Err(refusal(
                "payload_invalid",
                "key",
                "the key looks like a secret (an API key, token or password): use an id of the work (a ticket, a commit, a hash of the content), never a credential",
            ));
        }
    }
    if let Some(label) = &req.label {
        check_label(label).map_err(|m| refusal("payload_invalid", "label", m))?;
        // A label is listed as it is: it may not carry a secret.
        if redactor.redact(label) != label.as_str() {
            return Err(refusal(
                "payload_invalid",
                "label",
                "the label looks like it holds a secret (an API key, token or password): a label names the work for people, never a credential",
            ));
        }
    }
    let redacted = redactor.redact(&req.prompt).into_owned();
    let prompt_redacted = redacted != req.prompt;
    if prompt_redacted {
        match config.queue.prompt_secrets {
            PromptSecrets::Refuse => {
                let mut found: Vec<&str> = redacted
                    .match_indices("[REDACTED")
                    .filter_map(|(at, _)| redacted[at..].split_once(']').map(|(l, _)| &l[1..]))
                    .collect();
                found.sort_unstable();
                found.dedup();
                return Err(refusal(
                    "payload_invalid",
                    "prompt",
                    format!(
                        "the prompt contains what looks like a secret (an API key, token, password or private key; found: {}): secrets reach agents through the route's env or env_file, never through a payload stored in the queue; or set [queue] prompt_secrets = \"redact\" to store such prompts with the secret replaced",
                        found.join(", ")
                    ),
                ));
            }
            PromptSecrets::Redact => req.prompt = redacted,
        }
    }
    // Fields are stored with the job too: the same engine, the same policy.
    let mut fields = req.fields.clone();
    let secret_fields: Vec<String> = fields
        .iter_mut()
        .filter_map(|(name, value)| redact_json(value, redactor).then(|| name.clone()))
        .collect();
    let fields_redacted = !secret_fields.is_empty();
    if fields_redacted {
        match config.queue.prompt_secrets {
            PromptSecrets::Refuse => {
                return Err(refusal(
                    "payload_invalid",
                    &match secret_fields.as_slice() {
                        [one] => format!("fields.{one}"),
                        _ => "fields".to_string(),
                    },
                    format!(
                        "the payload field(s) {} hold what looks like a secret (an API key, token, password or private key): secrets reach agents through the route's env or env_file, never through a payload stored in the queue; or set [queue] prompt_secrets = \"redact\" to store such fields with the secret replaced",
                        secret_fields.join(", ")
                    ),
                ));
            }
            PromptSecrets::Redact => req.fields = fields,
        }
    }
    let prompt_redacted = prompt_redacted || fields_redacted;
    let candidates: Vec<&String> = match &req.route {
        Some(r) => {
            if !config.routes.contains_key(r) {
                return Err(refusal(
                    "route_not_allowed",
                    "route",
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
                return Ok(Admitted {
                    job: NewJob {
                        kind: req.kind,
                        lane: req.lane,
                        route: name.clone(),
                        prompt: req.prompt,
                        fields: req.fields,
                        priority: req.priority,
                        key: req.key,
                        label: req.label,
                    },
                    prompt_redacted,
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
        "route",
        format!(
            "no route may run this '{}' job in lane '{}': {why}",
            req.kind, req.lane
        ),
    ))
}

/// Redacts every string in a JSON value in place; true when one changed.
fn redact_json(value: &mut Value, redactor: &Redactor) -> bool {
    match value {
        Value::String(text) => {
            let redacted = redactor.redact(text);
            if redacted == text.as_str() {
                return false;
            }
            *text = redacted.into_owned();
            true
        }
        // Every element is redacted: no short-circuit at the first change.
        Value::Array(items) => {
            let mut changed = false;
            for v in items {
                changed |= redact_json(v, redactor);
            }
            changed
        }
        Value::Object(map) => {
            let mut changed = false;
            for v in map.values_mut() {
                changed |= redact_json(v, redactor);
            }
            changed
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
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
            key: None,
            label: None,
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

    const PEM_LINE: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";

    /// A route whose env holds the six secrets the issue found stored in
    /// clear (Stripe, a Postgres URL, PEM, hf_, an AWS secret key, a password).
    fn cfg_with_secrets(policy: &str) -> Config {
        let toml = format!(
            "{policy}[routes.b]\nprofile = \"codex\"\n[routes.b.env]\nSTRIPE = \"sk_live_51HqZq8vW3xY5tU7rS9pQ1oN2mL4\"\nDATABASE_URL = \"postgresql://app:Pw4xQ9zLk@db/app\"\nDEPLOY_KEY = \"-----BEGIN PRIVATE KEY-----\\n{PEM_LINE}\\n-----END PRIVATE KEY-----\\n\"\nHF = \"hf_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z\"\nAWS_SECRET_ACCESS_KEY = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"\nDB_PASSWORD = \"correct-horse-42\"\n[kinds.k]\nroutes = [\"b\"]\n[lanes.l]\nroutes = [\"b\"]\n"
        );
        crate::config::parse(Path::new("a.toml"), &toml).unwrap()
    }

    const LEAKED: &[&str] = &[
        "sk_live_51HqZq8vW3xY5tU7rS9pQ1oN2mL4",
        "postgresql://app:Pw4xQ9zLk@db/app",
        PEM_LINE,
        "hf_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "password=correct-horse-42",
        "Pw4xQ9zLk",
    ];

    #[test]
    fn a_prompt_holding_a_value_of_a_routes_env_is_refused_by_default() {
        let c = cfg_with_secrets("");
        for secret in LEAKED {
            let e = admit(&c, req(&format!("please use {secret} now"), None)).unwrap_err();
            assert_eq!(e.class, "payload_invalid", "{secret}");
            assert!(!e.message.contains(secret), "{e:?}");
        }
        assert!(admit(&c, req("fix the flaky test in ci", None)).is_ok());
    }

    /// Found by the `jsonl` fuzz target: "unknown lane '<the password>'"
    /// quoted a secret of a route's env back in the refusal.
    #[test]
    fn a_refusal_never_quotes_a_secret_in_the_kind_lane_or_route() {
        let c = cfg_with_secrets("");
        let r = prompt_redactor(&c);
        for secret in LEAKED {
            let requests = [
                JobRequest {
                    kind: format!("x{secret}"),
                    ..req("hello", None)
                },
                JobRequest {
                    lane: format!("ci{secret}"),
                    ..req("hello", None)
                },
                req("hello", Some(&format!("r-{secret}"))),
            ];
            for request in requests {
                let e = admit_with(&c, request.clone(), &r).unwrap_err();
                assert!(!e.message.contains(secret), "{request:?}: {e:?}");
                assert!(e.message.contains("[REDACTED"), "{e:?}");
            }
        }
    }

    /// Found by the `jsonl` fuzz target once it checked the whole stored job:
    /// a secret in a payload field was stored in clear.
    #[test]
    fn a_secret_in_a_payload_field_is_refused_or_stored_redacted() {
        for secret in LEAKED {
            let mut request = req("fix the build", None);
            request
                .fields
                .insert("note".into(), serde_json::json!(format!("see {secret}")));
            request.fields.insert("n".into(), serde_json::json!(1));
            let e = admit(&cfg_with_secrets(""), request.clone()).unwrap_err();
            assert_eq!(e.class, "payload_invalid", "{secret}");
            assert!(
                e.message.contains("note") && !e.message.contains(secret),
                "{e:?}"
            );

            let c = cfg_with_secrets("[queue]\nprompt_secrets = \"redact\"\n");
            let a = admit_with(&c, request, &prompt_redactor(&c)).unwrap();
            assert!(a.prompt_redacted, "{secret}");
            let stored = serde_json::to_string(&a.job.fields).unwrap();
            assert!(
                !stored.contains(secret) && stored.contains("[REDACTED"),
                "{stored}"
            );
            assert_eq!(a.job.fields["n"], 1);
        }
        let mut plain = req("fix the build", None);
        plain
            .fields
            .insert("ticket".into(), serde_json::json!("ABC-12"));
        assert!(admit(&cfg_with_secrets(""), plain).is_ok());
    }

    #[test]
    fn under_prompt_secrets_redact_the_prompt_is_stored_without_the_secret() {
        let c = cfg_with_secrets("[queue]\nprompt_secrets = \"redact\"\n");
        let r = prompt_redactor(&c);
        for secret in LEAKED {
            let a = admit_with(&c, req(&format!("use {secret} now"), None), &r).unwrap();
            assert!(a.prompt_redacted, "{secret}");
            assert!(!a.job.prompt.contains(secret), "{}", a.job.prompt);
            assert!(a.job.prompt.contains("[REDACTED"), "{}", a.job.prompt);
        }
        let a = admit_with(&c, req("ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5", None), &r).unwrap();
        assert_eq!(a.job.prompt, "[REDACTED:github-pat]");
        let a = admit_with(&c, req("plain words", None), &r).unwrap();
        assert!(!a.prompt_redacted);
        assert_eq!(a.job.prompt, "plain words");
    }

    #[test]
    fn each_refusal_names_the_field_at_fault() {
        let c = cfg();
        let field = |r: JobRequest| admit(&c, r).unwrap_err().field;
        let with_key = |k: &str| JobRequest {
            key: Some(k.into()),
            ..req("hello", None)
        };
        let mut needs_object = req("hello", None);
        needs_object
            .fields
            .insert("nested".into(), serde_json::json!({"a": 1}));
        let cases: Vec<(JobRequest, &str)> = vec![
            (
                JobRequest {
                    kind: "nope".into(),
                    ..req("hi", None)
                },
                "kind",
            ),
            (
                JobRequest {
                    lane: "nope".into(),
                    ..req("hi", None)
                },
                "lane",
            ),
            (req("hello", Some("missing")), "route"),
            (req("hello", Some("a")), "route"),
            (req(&"x".repeat(60), None), "prompt"),
            (req("   ", None), "prompt"),
            (needs_object, "fields.nested"),
            (with_key(""), "key"),
            (with_key(&"k".repeat(201)), "key"),
            (with_key("a\tb"), "key"),
            (with_key("sk-proj-abcdefghijklmnopqrstuvwx"), "key"),
        ];
        for (request, expected) in cases {
            assert_eq!(field(request.clone()), expected, "{request:?}");
        }
        let a = admit(&c, with_key("ticket-42")).unwrap();
        assert_eq!(a.key.as_deref(), Some("ticket-42"));
    }

    #[test]
    fn prompt_secrets_accepts_only_refuse_or_redact() {
        let e = crate::config::parse(Path::new("a.toml"), "[queue]\nprompt_secrets = \"store\"\n")
            .unwrap_err();
        assert_eq!((e.line, e.column), (2, 18), "{e}");
        assert!(
            e.message.contains("\"refuse\"") && e.message.contains("\"redact\""),
            "{e}"
        );
    }
}
