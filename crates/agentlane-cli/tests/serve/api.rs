//! Every documented operation against a real server, every answer checked
//! against the OpenAPI document's schema for its status, and no secret in
//! any answer.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::server::{Answer, Server, SECRET};

/// `{param}` templates match any one segment.
fn template_of<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
    let path = path.split('?').next().unwrap_or(path);
    let segs: Vec<&str> = path.split('/').collect();
    doc["paths"]
        .as_object()?
        .keys()
        .map(String::as_str)
        .find(|t| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segs.len()
                && ts
                    .iter()
                    .zip(&segs)
                    .all(|(t, s)| (t.starts_with('{') && t.ends_with('}')) || t == s)
        })
}

/// A JSON pointer segment, as a URI fragment (braces percent-encoded).
fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0")
        .replace('/', "~1")
        .replace('{', "%7B")
        .replace('}', "%7D")
}

/// Checks every answer against the document; returns the operations seen.
fn check_answers(doc: &Value, answers: &[Answer]) -> BTreeSet<(String, String)> {
    let mut seen = BTreeSet::new();
    let mut validators: BTreeMap<String, jsonschema::Validator> = BTreeMap::new();
    for a in answers {
        let Some(template) = template_of(doc, &a.path) else {
            panic!(
                "{} {} answered {} but the path is not in the OpenAPI document",
                a.method, a.path, a.status
            );
        };
        let method = a.method.to_ascii_lowercase();
        let op = &doc["paths"][template][&method];
        assert!(op.is_object(), "{} {template} is not documented", a.method);
        let status = a.status.to_string();
        let response = &op["responses"][&status];
        assert!(
            response.is_object(),
            "{} {} answered {status}, which the document does not list for it: {}",
            a.method,
            a.path,
            a.body
        );
        seen.insert((method.clone(), template.to_string()));
        // A shared response ($ref) or an inline one.
        let (base, resp) = match response["$ref"].as_str() {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap();
                (
                    format!("/components/responses/{}", pointer_escape(name)),
                    &doc["components"]["responses"][name],
                )
            }
            None => (
                format!(
                    "/paths/{}/{method}/responses/{status}",
                    pointer_escape(template)
                ),
                response,
            ),
        };
        let Some((media, _)) = resp["content"].as_object().and_then(|c| c.iter().next()) else {
            continue;
        };
        let declared = media.split(';').next().unwrap();
        assert!(
            a.content_type.starts_with(declared),
            "{} {} answered {status} as {:?}, the document says {declared}",
            a.method,
            a.path,
            a.content_type
        );
        if !declared.contains("json") {
            continue;
        }
        let pointer = format!("#{base}/content/{}/schema", pointer_escape(media));
        let validator = validators.entry(pointer.clone()).or_insert_with(|| {
            let mut root = doc.clone();
            root["$ref"] = json!(pointer);
            jsonschema::validator_for(&root)
                .unwrap_or_else(|e| panic!("the schema at {pointer} does not compile: {e}"))
        });
        let body: Value = serde_json::from_str(&a.body)
            .unwrap_or_else(|e| panic!("{} {}: not JSON ({e}): {}", a.method, a.path, a.body));
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "{} {} ({status}) does not match {pointer}: {errors:?}\n{}",
            a.method,
            a.path,
            a.body
        );
    }
    seen
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut all = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            all.insert((method.clone(), path.clone()));
        }
    }
    all
}

fn enqueue(s: &Server, lane: &str, prompt: &str) -> String {
    let a = s.post(
        "/api/v1/jobs",
        &json!({"kind": "k", "lane": lane, "prompt": prompt}).to_string(),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    a.json()["job"]["id"].as_str().unwrap().to_string()
}

#[test]
fn every_documented_operation_answers_as_documented_and_serves_no_secret() {
    let s = Server::start(&[], &[]);
    let doc = s.ok("/api/v1/openapi.json");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(s.ok("/healthz")["status"], "ok");

    // Enqueue: one, a batch with a repeated key, a refused batch, a bad body.
    let good = enqueue(&s, "main", "write the release notes");
    let batch = s.post(
        "/api/v1/jobs",
        &json!({"jobs": [
            {"kind": "k", "lane": "main", "prompt": "one", "key": "nightly-1"},
            {"kind": "k", "lane": "main", "prompt": "two", "key": "nightly-1"},
            {"kind": "k", "lane": "broken", "prompt": "three", "label": "<script>alert(1)</script>"},
            {"kind": "k", "lane": "broken", "prompt": "four"}
        ]})
        .to_string(),
    );
    assert_eq!(batch.status, 201, "{}", batch.body);
    let jobs = batch.json()["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 4);
    assert_eq!(jobs[1]["existed"], true, "a repeated key adds nothing");
    assert_eq!(jobs[1]["repeats_line"], 1);
    assert_eq!(jobs[0]["id"], jobs[1]["id"]);
    let again = s.post(
        "/api/v1/jobs",
        &json!({"kind": "k", "lane": "main", "prompt": "one", "key": "nightly-1"}).to_string(),
    );
    assert_eq!(
        again.status, 200,
        "a taken key answers 200, nothing added: {}",
        again.body
    );
    assert_eq!(again.json()["job"]["id"], jobs[0]["id"]);
    let refused = s.post(
        "/api/v1/jobs",
        &json!({"jobs": [{"kind": "k", "lane": "main", "prompt": "fine"}, {"kind": "nope", "lane": "main", "prompt": "x"}, {"lane": "main"}]}).to_string(),
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    let r = refused.json();
    assert_eq!(r["code"], "payload_invalid");
    let lines: Vec<u64> = r["extra"]["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["line"].as_u64().unwrap())
        .collect();
    assert_eq!(
        lines,
        [2, 3],
        "every refused job is named, by position: {r}"
    );
    let before = s.ok("/api/v1/jobs?lane=main&limit=500")["jobs"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, 2, "a refused batch stores nothing");
    let leaked = s.post(
        "/api/v1/jobs",
        &json!({"kind": "k", "lane": "main", "prompt": format!("use the key {SECRET} please")})
            .to_string(),
    );
    assert!(
        leaked.status == 422 || leaked.status == 201,
        "{}",
        leaked.body
    );
    for bad in ["not json", "[1,2]", "{\"jobs\": 3}", "{\"jobs\": []}"] {
        let a = s.post("/api/v1/jobs", bad);
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
        assert_eq!(a.json()["code"], "bad_request");
    }

    // Run them: main succeeds; broken fails auth_unavailable and opens an incident.
    s.drain("main");
    s.drain("broken");

    let page = s.ok("/api/v1/jobs?limit=1");
    assert_eq!(page["jobs"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("more than one job: a next page")
        .to_string();
    let next = s.ok(&format!("/api/v1/jobs?limit=1&cursor={cursor}"));
    assert_ne!(
        next["jobs"][0]["id"], page["jobs"][0]["id"],
        "the next page starts after the cursor"
    );
    let failed = s.ok("/api/v1/jobs?class=auth_unavailable&lane=broken&kind=k");
    let failed_ids: Vec<&str> = failed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert!(
        !failed_ids.is_empty(),
        "the broken lane's job failed auth_unavailable: {failed}"
    );
    for bad in [
        "state=done",
        "class=nonsense",
        "limit=0",
        "limit=501",
        "colour=red",
    ] {
        let a = s.get(&format!("/api/v1/jobs?{bad}"));
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
    }

    let detail = s.ok(&format!("/api/v1/jobs/{}", &good[good.len() - 8..]));
    assert_eq!(
        detail["job"]["id"],
        good.as_str(),
        "a suffix of the id names the job"
    );
    assert_eq!(detail["job"]["state"], "succeeded");
    let attempt = &detail["attempts"][0];
    assert_eq!(attempt["report"]["classifier"], "ok", "{attempt}");
    assert!(
        !detail["decisions"].as_array().unwrap().is_empty(),
        "the job's decisions are listed"
    );
    assert_eq!(
        s.get("/api/v1/jobs/ffffffffffff").status,
        404,
        "no such job"
    );
    assert_eq!(
        s.get("/api/v1/jobs/zzzzzzzzzzzz").status,
        400,
        "not an id at all"
    );
    let failed_detail = s.ok(&format!("/api/v1/jobs/{}", failed_ids[0]));
    assert_eq!(
        failed_detail["attempts"][0]["report"]["classifier"],
        "auth_unavailable"
    );

    let dispatches = s.ok("/api/v1/dispatches?limit=5")["dispatches"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!dispatches.is_empty());
    let d = dispatches[0]["dispatch_id"].as_str().unwrap();
    assert_eq!(
        s.ok(&format!("/api/v1/dispatches/{d}"))["dispatch"]["dispatch_id"],
        d
    );

    let incidents = s.ok("/api/v1/incidents?open=true");
    let open = incidents["incidents"].as_array().unwrap();
    let incident = open
        .iter()
        .find(|i| i["classifier"] == "auth_unavailable")
        .unwrap_or_else(|| panic!("an open auth_unavailable incident: {incidents}"));
    let iid = incident["id"].as_str().unwrap().to_string();
    let one = s.ok(&format!("/api/v1/incidents/{iid}"));
    assert!(
        one["affected_jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j == failed_ids[0]),
        "{one}"
    );
    assert!(!one["explain"]["repair"].as_array().unwrap().is_empty());
    assert!(
        s.ok("/api/v1/incidents")["incidents"]
            .as_array()
            .unwrap()
            .len()
            >= open.len()
    );

    let routes = s.ok("/api/v1/routes")["routes"].as_array().unwrap().clone();
    assert!(
        routes
            .iter()
            .any(|r| r["route"] == "good" && r["configured"] == true),
        "{routes:?}"
    );

    // Doctor: the missing CLI is red, recorded, and now in /routes.
    let doctor = s.post("/api/v1/doctor", &json!({"route": "gone"}).to_string());
    assert_eq!(doctor.status, 200, "{}", doctor.body);
    assert_eq!(doctor.json()["results"][0]["cli_resolves"], false);
    let gone = s.ok("/api/v1/routes")["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == "gone")
        .cloned()
        .unwrap();
    assert_eq!(gone["preflight"]["cli_resolves"], false, "{gone}");
    assert_eq!(
        s.post("/api/v1/doctor", &json!({"route": "nope"}).to_string())
            .status,
        404
    );
    assert_eq!(
        s.post(
            "/api/v1/doctor",
            &json!({"route": "gone", "colour": 1}).to_string()
        )
        .status,
        400
    );

    // Resolve the incident with retry_failed: its failed jobs are queued again.
    let resolved = s.post(
        &format!("/api/v1/incidents/{iid}/resolve"),
        &json!({"why": "installed it", "retry_failed": true}).to_string(),
    );
    assert_eq!(resolved.status, 200, "{}", resolved.body);
    let rj = resolved.json();
    assert!(
        rj["released"].as_u64().unwrap() + rj["retried"].as_u64().unwrap() >= 1,
        "{rj}"
    );
    let twice = s.post(&format!("/api/v1/incidents/{iid}/resolve"), "{}");
    assert_eq!(twice.status, 409, "{}", twice.body);
    assert_eq!(twice.json()["code"], "not_open");

    // Controls.
    let waiting = enqueue(&s, "main", "to cancel");
    let c = s.post(
        &format!("/api/v1/jobs/{waiting}/cancel"),
        &json!({"why": "not needed", "by": "alice"}).to_string(),
    );
    assert_eq!(c.status, 200, "{}", c.body);
    assert!(c.json()["by"]
        .as_str()
        .unwrap()
        .starts_with("alice via api@"));
    assert_eq!(
        s.ok(&format!("/api/v1/jobs/{waiting}"))["job"]["state"],
        "cancelled"
    );
    let again = s.call("POST", &format!("/api/v1/jobs/{waiting}/cancel"), None, &[]);
    assert_eq!(
        again.status, 409,
        "cancelling a finished job is a conflict: {}",
        again.body
    );
    let retried = s.call("POST", &format!("/api/v1/jobs/{waiting}/retry"), None, &[]);
    assert_eq!(retried.status, 200, "{}", retried.body);
    assert_eq!(
        s.ok(&format!("/api/v1/jobs/{waiting}"))["job"]["state"],
        "queued"
    );
    let not = s.call("POST", &format!("/api/v1/jobs/{waiting}/retry"), None, &[]);
    assert_eq!(
        not.status, 409,
        "a queued job is not retryable: {}",
        not.body
    );
    assert_eq!(not.json()["code"], "not_retryable");
    let bulk = s.post(
        "/api/v1/jobs/retry",
        &json!({"lane": "broken", "states": ["failed", "cancelled"], "since": "1h"}).to_string(),
    );
    assert_eq!(bulk.status, 200, "{}", bulk.body);
    let unbounded = s.post("/api/v1/jobs/retry", "{}");
    assert_eq!(
        unbounded.status, 400,
        "a bulk retry names its jobs: {}",
        unbounded.body
    );
    let p = s.post(
        "/api/v1/lanes/main/pause",
        &json!({"why": "deploy"}).to_string(),
    );
    assert_eq!(p.status, 200, "{}", p.body);
    let lanes = s.ok("/api/v1/lanes")["lanes"].as_array().unwrap().clone();
    let main = lanes.iter().find(|l| l["lane"] == "main").unwrap();
    assert_eq!(main["paused"]["why"], "deploy");
    assert!(main["counts"]["succeeded"].as_u64().unwrap() >= 1, "{main}");
    assert!(lanes.iter().any(|l| l["lane"] == "broken"));
    assert_eq!(
        s.call("POST", "/api/v1/lanes/main/resume", None, &[])
            .json()["changed"],
        true
    );

    let status = s.ok("/api/v1/status");
    assert!(status["lanes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["lane"] == "main"));
    let usage = s.ok("/api/v1/usage?by=lane&since=24h");
    assert_eq!(usage["by"], "lane");
    assert_eq!(s.get("/api/v1/usage?by=planet").status, 400);

    // A matrix run of the working route, to the end.
    let started = s.post(
        "/api/v1/matrix",
        &json!({"route": "good", "max_cells": 2, "cell_timeout": "30s", "parallel": 1}).to_string(),
    );
    assert_eq!(started.status, 202, "{}", started.body);
    let run = started.json()["id"].as_str().unwrap().to_string();
    let report = s.until(180, "the matrix run to finish", || {
        let r = s.ok(&format!("/api/v1/matrix/{run}"));
        match r["status"]["state"].as_str() {
            Some("finished") => Some(r),
            Some("failed") => panic!("the matrix run failed: {r}"),
            _ => None,
        }
    });
    assert!(
        report["report"]["rows"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{report}"
    );
    assert!(s.ok("/api/v1/matrix")["runs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == run.as_str()));
    assert_eq!(
        s.get("/api/v1/matrix/..").status,
        404,
        "a run id is never a path"
    );
    assert_eq!(s.get("/api/v1/matrix/not-a-run").status, 404);

    // The feed answers (its content is tested in feed.rs).
    let (sse, rx) = s.stream(
        "/api/v1/events?kinds=runner_exit",
        &[("Last-Event-ID", "0")],
    );
    assert_eq!(sse.status, 200);
    let first = crate::server::next_event(&rx, 30)
        .expect("a resumed feed replays the stored runner_exit events");
    assert_eq!(first.event.as_deref(), Some("runner_exit"));

    let answers = s.answers.lock().unwrap().clone();
    let seen = check_answers(&doc, &answers);
    let missing: Vec<_> = documented(&doc).difference(&seen).cloned().collect();
    assert!(
        missing.is_empty(),
        "documented operations never exercised: {missing:?}"
    );
    for a in &answers {
        assert!(
            !a.body.contains(SECRET) && !a.body.contains(&SECRET[..24]),
            "{} {} served the secret: {}",
            a.method,
            a.path,
            a.body
        );
    }
}
