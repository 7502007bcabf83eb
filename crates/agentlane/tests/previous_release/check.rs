//! The values that matter, asserted one by one, and the old rows still
//! working (a queued job runs, an incident resolves).

use super::*;

pub(crate) fn count(v: &Value, table: &str) -> u64 {
    v["row_counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == table)
        .unwrap_or_else(|| panic!("no count of {table}"))[1]
        .as_u64()
        .unwrap()
}

pub(crate) fn by_case<'a>(v: &'a Value, case: &str) -> &'a Value {
    v["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["fields"]["case"] == case)
        .unwrap_or_else(|| panic!("no job '{case}'"))
}

pub(crate) fn dispatch(v: &Value, n: u32) -> &Value {
    let id = dispatch_id(n);
    v["dispatches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dispatch_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no dispatch {id}"))
}

pub(crate) fn incident_of<'a>(v: &'a Value, fingerprint: &str) -> &'a Value {
    v["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["failure_fingerprint"] == fingerprint)
        .unwrap_or_else(|| panic!("no incident {fingerprint}"))
}

/// The values the scenario wrote, one by one.
pub(crate) fn check_scenario(v: &Value) {
    // Every row is read back: the events by kind add up to the table.
    assert_eq!(count(v, "jobs"), 9);
    assert_eq!(count(v, "dispatches"), 11);
    assert_eq!(count(v, "incidents"), 4);
    assert_eq!(count(v, "incident_jobs"), 4);
    assert_eq!(
        count(v, "events"),
        v["events"].as_array().unwrap().len() as u64
    );
    assert_eq!(v["jobs"].as_array().unwrap().len(), 9);
    assert_eq!(v["dispatches"].as_array().unwrap().len(), 11);
    assert_eq!(v["incidents"].as_array().unwrap().len(), 4);
    let kinds = |kind: &str| {
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == kind)
            .count()
    };
    assert_eq!(kinds("runner_prepare"), 11);
    assert_eq!(kinds("runner_exit"), 8);
    // 7 failures classified by the dispatcher, 1 worker_lost by the store.
    assert_eq!(kinds("runner_classified_failure"), 8);
    assert_eq!(kinds("job_decided"), 9);
    assert_eq!(kinds("job_decision_rejected"), 1);
    assert_eq!(kinds("job_admitted"), 1);
    assert_eq!(kinds("preflight_checked"), 1);
    assert_eq!(v["status"]["open_incidents"], 3);

    let job = |case: &str,
               state: &str,
               attempts: u32,
               class: Option<&str>,
               next: Option<&str>,
               dispatches: &[u32]| {
        let j = by_case(v, case);
        assert_eq!(j["state"], state, "{case}");
        assert_eq!(j["attempts"], attempts, "{case}");
        assert_eq!(j["classifier"], json!(class), "{case}");
        assert_eq!(j["next_action"], json!(next), "{case}");
        assert_eq!(
            j["prompt"],
            format!("fix the failing test ({case})"),
            "{case}"
        );
        assert_eq!(
            j["fields"]["labels"],
            json!(["model", "refactor"]),
            "{case}"
        );
        let ids: Vec<String> = dispatches.iter().map(|n| dispatch_id(*n)).collect();
        assert_eq!(j["dispatches"], json!(ids), "{case}");
        j
    };
    let j = job("succeeded", "succeeded", 1, Some("ok"), Some("done"), &[1]);
    assert!(j["finished_at"].is_string());
    let j = job(
        "retried_then_succeeded",
        "succeeded",
        2,
        Some("ok"),
        Some("done"),
        &[2, 3],
    );
    assert_eq!(j["timeout_ms"], 2_400_000);
    assert_eq!(j["last_dispatch_id"], dispatch_id(3));
    let j = job(
        "failed_after_retry",
        "failed",
        2,
        Some("unknown_exit_3"),
        Some("fail"),
        &[4, 5],
    );
    assert_eq!(
        j["incident_id"],
        incident_of(v, "fp-unknown-3-aa11bb22")["id"]
    );
    let a = job(
        "parked_a",
        "parked",
        1,
        Some("quota_exhausted"),
        Some("park"),
        &[6],
    );
    let b = job(
        "parked_b",
        "parked",
        1,
        Some("quota_exhausted"),
        Some("park"),
        &[7],
    );
    let quota = incident_of(v, "fp-quota-9c1d7e20");
    assert_eq!(a["incident_id"], quota["id"]);
    assert_eq!(b["incident_id"], quota["id"]);
    let j = job(
        "released_by_resolve",
        "queued",
        1,
        Some("cli_missing"),
        Some("run"),
        &[8],
    );
    assert!(j["reason"]
        .as_str()
        .unwrap()
        .starts_with("released: incident "));
    let j = job(
        "lost_then_scheduled",
        "scheduled",
        1,
        Some("worker_lost"),
        Some("retry"),
        &[9],
    );
    assert!(
        j["run_at"].as_str().unwrap() > j["updated_at"].as_str().unwrap(),
        "an hour later"
    );
    assert!(j["lease_owner"].is_null());
    let j = job("running", "running", 1, None, Some("run"), &[10]);
    assert_eq!(j["lease_owner"], OWNER);
    assert!(j["lease_expires_at"].is_string());
    let j = job("queued", "queued", 0, None, Some("run"), &[]);
    assert_eq!(j["lane"], "review");
    assert_eq!(
        j["event_seqs"].as_array().unwrap().len(),
        1,
        "its admission"
    );

    // Reports: every outcome's fields as written.
    let r = |n: u32| &dispatch(v, n)["report"];
    assert_eq!(r(1)["classifier"], "ok");
    assert_eq!(r(1)["exit_code"], 0);
    assert_eq!(
        r(1)["env_fingerprint"]["id"],
        "e3b0c44298fc1c14",
        "restored from runner_prepare"
    );
    assert_eq!(r(2)["classifier"], "timeout");
    assert_eq!(r(2)["timed_out"], true);
    assert_eq!(r(2)["signal"], 9);
    assert_eq!(r(2)["exit_status"], 124);
    assert_eq!(r(4)["classifier"], "killed_by_signal");
    assert_eq!(r(4)["exit_code"], Value::Null);
    assert_eq!(r(5)["artifact_errors"].as_array().unwrap().len(), 2);
    assert_eq!(r(5)["stdout_artifact_truncated"], true);
    assert_eq!(r(5)["stdout_dropped_bytes"], 2_891_136);
    assert_eq!(r(5)["leaked_processes"].as_array().unwrap().len(), 2);
    assert_eq!(
        r(5)["env_names"],
        json!(["ANTHROPIC_API_KEY", "HOME", "PATH"])
    );
    assert_eq!(r(6)["classifier"], "quota_exhausted");
    assert_eq!(r(6)["reset_at"], reset_at().to_string());
    assert_eq!(r(6)["retry_after_secs"], 3_600);
    assert_eq!(r(7)["reset_at"], later_reset_at().to_string());
    assert_eq!(r(8)["classifier"], "cli_missing");
    assert_eq!(r(8)["duration_ms"], 0);
    assert_eq!(r(8)["cli_path"], Value::Null);
    assert_eq!(dispatch(v, 9)["classifier"], "worker_lost");
    assert_eq!(
        r(9),
        &Value::Null,
        "the lost worker's late report is not recorded"
    );
    assert!(dispatch(v, 10)["finished_at"].is_null(), "still running");
    assert_eq!(r(10), &Value::Null);
    assert_eq!(r(11)["interrupted_by"], 2);
    assert_eq!(r(11)["job_id"], Value::Null);
    assert_eq!(r(11)["exit_status"], 130);
    for n in [1, 2, 3, 4, 5, 6, 7, 8, 11] {
        assert_eq!(r(n)["dispatch_id"], dispatch_id(n));
        assert_eq!(r(n)["program"], "claude");
        assert_eq!(r(n)["cwd"], "/srv/repo/sub");
    }
    // The late outcome of dispatch 9 left only its prepare and the rescue.
    assert_eq!(dispatch(v, 9)["event_seqs"].as_array().unwrap().len(), 2);
    // A refusal before launch has no runner_exit.
    assert_eq!(dispatch(v, 8)["event_seqs"].as_array().unwrap().len(), 2);
    assert_eq!(dispatch(v, 1)["event_seqs"].as_array().unwrap().len(), 2);
    assert_eq!(dispatch(v, 2)["event_seqs"].as_array().unwrap().len(), 3);

    // Incidents.
    assert_eq!(quota["state"], "open");
    assert_eq!(quota["affected_jobs"], 2);
    assert_eq!(quota["occurrences"], 2);
    assert_eq!(quota["priority"], 80);
    assert_eq!(
        quota["reset_at"],
        later_reset_at().to_string(),
        "the latest reset"
    );
    assert_eq!(quota["jobs"].as_array().unwrap().len(), 2);
    let failed = incident_of(v, "fp-unknown-3-aa11bb22");
    assert_eq!(
        (failed["state"].as_str(), failed["affected_jobs"].as_u64()),
        (Some("open"), Some(1))
    );
    let cli = incident_of(v, "fp-cli-missing-0d9e8f7a");
    assert_eq!(cli["state"], "resolved");
    assert_eq!(cli["resolution"], "resolved by an operator");
    assert!(cli["resolved_at"].is_string());
    assert_eq!(
        cli["jobs"],
        json!([by_case(v, "released_by_resolve")["id"]])
    );
    let pre = incident_of(v, "fp-preflight-codex-1234");
    assert_eq!(pre["state"], "open");
    assert_eq!(
        (pre["affected_jobs"].as_u64(), pre["occurrences"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(pre["jobs"], json!([]));
    assert_eq!(pre["lane"], Value::Null);
    assert_eq!(pre["priority"], 100);

    // Events read back as the typed events they were written from.
    for e in v["events"].as_array().unwrap() {
        let body = &e["body"];
        if e["kind"] == "runner_classified_failure" && body["classifier"] == "worker_lost" {
            continue; // written by the store itself, as JSON
        }
        if e["kind"] == "preflight_checked" {
            // The body holds "kind" twice: the event's tag, then the job
            // kind the route was judged for; a JSON reader keeps the last.
            // So it does not read back as an Event (as written, unchanged).
            assert_eq!(body["kind"], "fix");
            assert_eq!(body["route"], "codex-default");
            continue;
        }
        let typed: Event = serde_json::from_value(body.clone())
            .unwrap_or_else(|err| panic!("event {}: {err}", e["seq"]));
        assert_eq!(typed.kind(), e["kind"]);
    }
}

/// The migrated store keeps working on the old rows: the queued job runs
/// and succeeds, and the open quota incident resolves, releasing its two
/// parked jobs.
pub(crate) async fn keeps_working(store: &dyn Store, v: &Value) {
    let queued = by_case(v, "queued")["id"].as_str().unwrap().to_string();
    let routes = vec!["claude-sonnet".to_string()];
    let got = store
        .claim("review", &routes, OWNER, Duration::from_secs(60), 1)
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].id.as_str(), got[0].attempts), (queued.as_str(), 1));
    let id = dispatch_id(12);
    store
        .record_prepare(&prepare(&id, Some((&queued, 1))))
        .await
        .unwrap();
    let r = report(&id, Outcome::Ok, Some((&queued, 1)));
    let c = completion(
        &queued,
        1,
        OWNER,
        Some(&id),
        Class::Ok,
        Next::Done,
        "ok: done",
        None,
    );
    assert!(store
        .finish_and_settle(&r, &finish_events(&r, true), &c)
        .await
        .unwrap());
    let job = store.job(&queued).await.unwrap().unwrap();
    assert_eq!(job.state().label(), "succeeded");
    assert_eq!(job.last_dispatch_id.as_deref(), Some(id.as_str()));
    let quota = incident_of(v, "fp-quota-9c1d7e20")["id"].as_str().unwrap();
    let released = store
        .resolve_incident(
            quota,
            &agentlane::model::Actor {
                by: "tester@host".into(),
                why: "resolved after the move".into(),
            },
            false,
        )
        .await
        .unwrap();
    assert_eq!(released.map(|r| r.released), Some(2));
    let status = store.status().await.unwrap();
    assert_eq!(status.open_incidents, 2);
}

// ---------------------------------------------------------------- files
