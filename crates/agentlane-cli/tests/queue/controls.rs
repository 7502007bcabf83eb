//! The operator's hands through the real binary (issue 16): `job cancel`
//! stops a running job's process tree within a heartbeat, `job retry` and
//! `jobs retry` run failed jobs again with their attempts kept, `lane
//! pause` stops claims while running jobs finish, `incident resolve
//! --retry-failed` re-queues what the incident failed, and ids can be
//! typed as a unique prefix or suffix.

use super::*;

/// A tool that fails (exit 3, an unknown class the table fails for good)
/// while `$DIR/broken` exists or its prompt says "fail", and succeeds
/// otherwise.
const FLAKY: &str = "#!/bin/sh\nif [ -f \"$BROKEN\" ]; then echo 'something broke' >&2; exit 3; fi\ncase \"$1\" in *fail*) echo 'something broke' >&2; exit 3;; esac\necho done\n";

fn flaky_queue() -> Queue {
    let q = Queue::new(
        r#"
[routes.tool]
profile = "generic"
program = "$DIR/bin/tool"
args = ["{prompt}"]
env = { BROKEN = "$DIR/broken" }
[kinds.k]
routes = ["tool"]
[lanes.main]
routes = ["tool"]
[retry.unknown_exit]
action = "fail"
"#,
    );
    write_exe(&q.sb.path("bin/tool"), FLAKY, 0o755);
    q
}

fn status_of(out: &std::process::Output) -> (Option<i32>, String, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn state(q: &Queue, id: &str) -> String {
    q.job(id)["state"].as_str().unwrap().to_string()
}

/// The operator actions recorded for a job, from `job --json`.
fn actions(q: &Queue, id: &str) -> Vec<String> {
    q.job(id)["operator_actions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["action"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn cancelling_a_running_job_stops_its_process_tree_within_a_heartbeat() {
    let q = Queue::new(
        r#"
[routes.slow]
profile = "generic"
program = "$FAKE"
args = ["--pid-file", "$DIR/pid", "--grandchild-pid-file", "$DIR/gpid", "--grandchild-hold", "300", "--hang"]
timeout = "10m"
[kinds.k]
routes = ["slow"]
[lanes.main]
routes = ["slow"]
"#,
    );
    let id = q.enqueue("k", "long task");
    let worker = Command::new(agentlane())
        .args([
            "--home",
            q.sb.home().to_str().unwrap(),
            "--config",
            q.config.to_str().unwrap(),
        ])
        .args(["worker", "--lane", "main", "--drain"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = read_pid_patiently(&q.sb.path("pid"));
    let gpid = read_pid_patiently(&q.sb.path("gpid"));
    assert!(alive(pid) && alive(gpid));
    assert_eq!(state(&q, &id), "running");

    // By the random end of its id, as an operator would copy it.
    let suffix = &id[id.len() - 8..];
    let asked = Instant::now();
    let (code, stdout, stderr) =
        status_of(&q.cli(&["job", "cancel", suffix, "--why", "runaway agent"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("cancelling") && stdout.contains(&id),
        "{stdout}"
    );

    q.wait_until("the job to be cancelled", |jobs| {
        jobs[0]["state"] == "cancelled"
    });
    // The lease is 2 s, so a heartbeat comes every ~0.7 s: the stop must
    // not wait for the 10-minute timeout, nor for a lease to expire.
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "cancelled {took:?} after the request"
    );
    assert!(!alive(pid), "the agent {pid} is gone");
    assert!(!alive(gpid), "its setsid'd grandchild {gpid} is gone");

    let out = worker.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(100),
        "a cancelled job is not a success: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = q.job(&id);
    assert_eq!(job["state"], "cancelled");
    assert_eq!(job["next_action"], "cancelled");
    let reason = job["reason"].as_str().unwrap();
    assert!(reason.contains("runaway agent"), "{reason}");
    let attempts = job["attempts_detail"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert!(
        !attempts[0]["finished_at"].is_null(),
        "no attempt is left running: {attempts:?}"
    );
    assert_eq!(actions(&q, &id), vec!["cancel_requested"]);
    let (code, stdout, _) = status_of(&q.cli(&["job", "cancel", &id]));
    assert_eq!(code, Some(102), "nothing left to cancel: {stdout}");
}

/// Reads a pid file, waiting for it as long as a worker needs to start.
fn read_pid_patiently(path: &std::path::Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        assert!(Instant::now() < deadline, "no {}", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    read_pid(path)
}

#[test]
fn failed_jobs_run_again_by_hand_one_by_one_or_in_bulk_with_their_attempts_kept() {
    let q = flaky_queue();
    let a = q.enqueue("k", "a will fail");
    let b = q.enqueue("k", "b will fail");
    let c = q.enqueue("k", "c is fine");
    let d = q.enqueue("k", "d will fail");
    assert_eq!(q.drain("1").status.code(), Some(100));
    for id in [&a, &b, &d] {
        assert_eq!(state(&q, id), "failed");
    }
    // The prompts are fixed upstream: from now on everything succeeds.
    write_exe(&q.sb.path("bin/tool"), "#!/bin/sh\necho done\n", 0o755);

    let (code, stdout, stderr) = status_of(&q.cli(&["job", "retry", &a, "--why", "fixed"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("queued") && stdout.contains("attempts are kept"),
        "{stdout}"
    );
    assert_eq!(state(&q, &a), "queued");
    assert_eq!(q.job(&a)["attempts"], 1);
    let (code, stdout, _) = status_of(&q.cli(&["job", "retry", &c]));
    assert_eq!(code, Some(102), "a success is not retried: {stdout}");
    assert!(stdout.contains("succeeded"), "{stdout}");

    // A waiting job can be cancelled, and a cancelled one retried.
    let (code, _, stderr) = status_of(&q.cli(&["job", "cancel", &a]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(state(&q, &a), "cancelled");

    let (code, _, stderr) = status_of(&q.cli(&["jobs", "retry"]));
    assert_eq!(code, Some(64), "a bulk retry says which jobs: {stderr}");
    assert!(stderr.contains("--class"), "{stderr}");
    let (code, _, stderr) = status_of(&q.cli(&["jobs", "retry", "--class", "nonsense"]));
    assert_eq!(code, Some(64), "{stderr}");

    let out = q.cli(&[
        "jobs",
        "retry",
        "--lane",
        "main",
        "--class",
        "unknown_exit_3",
        "--since",
        "1h",
        "--json",
    ]);
    let (code, stdout, stderr) = status_of(&out);
    assert_eq!(code, Some(0), "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let mut retried: Vec<&str> = v["retried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    retried.sort();
    let mut want = vec![b.as_str(), d.as_str()];
    want.sort();
    assert_eq!(retried, want, "the failed ones, not the cancelled one");
    assert_eq!(state(&q, &a), "cancelled");
    let out = q.cli(&["jobs", "retry", "--lane", "main", "--state", "cancelled"]);
    assert_eq!(out.status.code(), Some(0));

    assert_eq!(q.drain("2").status.code(), Some(0));
    for id in [&a, &b, &c, &d] {
        assert_eq!(state(&q, id), "succeeded", "{id}");
    }
    assert_eq!(q.job(&b)["attempts"], 2, "the retry was attempt 2");
    assert_eq!(actions(&q, &a), vec!["retry", "cancel", "retry"]);
}

#[test]
fn a_paused_lane_claims_nothing_until_it_is_resumed() {
    let q = flaky_queue();
    let a = q.enqueue("k", "one");
    let b = q.enqueue("k", "two");
    let (code, stdout, stderr) =
        status_of(&q.cli(&["lane", "pause", "main", "--why", "deploy in progress"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("paused lane 'main'"), "{stdout}");
    let (_, stdout, _) = status_of(&q.cli(&["lane", "list"]));
    assert!(
        stdout.starts_with("main") && stdout.contains("deploy in progress"),
        "{stdout}"
    );

    let (_, stdout, _) = status_of(&q.cli(&["status"]));
    assert!(
        stdout.contains("lane main paused by") && stdout.contains("deploy in progress"),
        "{stdout}"
    );
    let v = q.json(&["status", "--json"]);
    assert_eq!(v["paused_lanes"][0]["lane"], "main", "{v}");

    let out = q.drain("2");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("paused by") && stderr.contains("deploy in progress"),
        "{stderr}"
    );
    assert_eq!(state(&q, &a), "queued", "nothing ran in the paused lane");
    assert_eq!(state(&q, &b), "queued");

    let (code, stdout, _) = status_of(&q.cli(&["lane", "resume", "main"]));
    assert_eq!(code, Some(0));
    assert!(stdout.contains("resumed"), "{stdout}");
    assert!(q.json(&["status", "--json"]).get("paused_lanes").is_none());
    assert_eq!(q.drain("2").status.code(), Some(0));
    assert_eq!(state(&q, &a), "succeeded");
    assert_eq!(state(&q, &b), "succeeded");
}

#[test]
fn resolving_an_incident_with_retry_failed_requeues_the_jobs_it_failed() {
    let q = flaky_queue();
    std::fs::write(q.sb.path("broken"), "").unwrap();
    let jobs: Vec<String> = (0..3)
        .map(|i| q.enqueue("k", &format!("job {i}")))
        .collect();
    assert_eq!(q.drain("1").status.code(), Some(100));
    let incidents = q.incidents();
    assert_eq!(
        incidents.len(),
        1,
        "one cause, one incident: {incidents:#?}"
    );
    let incident = incidents[0]["id"].as_str().unwrap().to_string();
    std::fs::remove_file(q.sb.path("broken")).unwrap();

    // Resolving alone releases parked jobs; these failed, so none move.
    let prefix_and_suffix = &incident[incident.len() - 10..];
    let out = q.cli(&[
        "incident",
        "resolve",
        prefix_and_suffix,
        "--retry-failed",
        "--why",
        "disk freed",
    ]);
    let (code, stdout, stderr) = status_of(&out);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("queued 3 failed job(s) again"), "{stdout}");
    assert_eq!(q.drain("2").status.code(), Some(0));
    for id in &jobs {
        assert_eq!(state(&q, id), "succeeded");
        assert_eq!(q.job(id)["attempts"], 2);
    }
    let resolved = q.json(&["incident", &incident, "--json"]);
    let resolution = resolved["resolution"].as_str().unwrap();
    assert!(resolution.contains("disk freed"), "{resolution}");
}

#[test]
fn ids_are_typed_as_a_unique_prefix_or_suffix_and_refused_when_they_name_several() {
    let q = flaky_queue();
    let a = q.enqueue("k", "one");
    let b = q.enqueue("k", "two");
    let job = q.json(&["job", &a[a.len() - 6..], "--json"]);
    assert_eq!(job["id"], a.as_str());
    let job = q.json(&["job", &b[..b.len() - 2], "--json"]);
    assert_eq!(job["id"], b.as_str());
    // Enqueued within the same second: their first 6 characters are shared.
    let (code, _, stderr) = status_of(&q.cli(&["job", &a[..6]]));
    assert_eq!(code, Some(64), "{stderr}");
    assert!(
        stderr.contains("matches more than one job") && stderr.contains(&a),
        "{stderr}"
    );
    let (code, _, stderr) = status_of(&q.cli(&["job", "01a2"]));
    assert_eq!(code, Some(64));
    assert!(stderr.contains("at least 6 characters"), "{stderr}");
    let (code, _, stderr) = status_of(&q.cli(&["job", "cancel", "ffffffffffff"]));
    assert_eq!(code, Some(64));
    assert!(stderr.contains("no job 'ffffffffffff'"), "{stderr}");
}

#[test]
fn a_job_shows_its_prompt_size_attempt_timings_and_its_last_output() {
    let q = flaky_queue();
    let id = q.enqueue("k", "this will fail, with a secret-free prompt");
    assert_eq!(q.drain("1").status.code(), Some(100));
    let (code, stdout, stderr) = status_of(&q.cli(&["job", &id]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("prompt     41 bytes"), "{stdout}");
    assert!(
        !stdout.contains("secret-free prompt"),
        "the prompt stays hidden unless asked: {stdout}"
    );
    assert!(stdout.contains("took "), "timings per attempt: {stdout}");
    assert!(
        stdout.contains("last attempt's stderr (tail):\n  something broke"),
        "{stdout}"
    );
    let (_, stdout, _) = status_of(&q.cli(&["job", &id, "--show-prompt"]));
    assert!(
        stdout.contains("this will fail, with a secret-free prompt"),
        "{stdout}"
    );
    let v = q.json(&["job", &id, "--json"]);
    assert_eq!(v["prompt_bytes"], 41);
    assert_eq!(v["last_attempt_tails"]["stderr"], "something broke\n");
    assert!(v["attempts_detail"][0]["duration_ms"].is_u64(), "{v}");
    assert!(v.get("prompt_excerpt").is_none());
}
