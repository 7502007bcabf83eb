//! What the `agentlane` command prints, as JSON, about a database written by
//! the previous release: `jobs`, `job`, `incidents`, `incident`, `status`,
//! `runs` and `show` with `--json`, byte for byte.
//!
//! The database is the SQLite fixture of the library's previous-release test
//! (`crates/agentlane/tests/data/db/release-5.sqlite`, see
//! `crates/agentlane/tests/previous_release/`); the expected outputs are
//! under `crates/agentlane/tests/data/snapshots/cli/`, next to the library's
//! snapshots. Issue 15 refactors the model these outputs are made from; they
//! must not move. A change made on purpose is rewritten with
//! `UPDATE_SNAPSHOTS=1 cargo test -p agentlane-cli --test previous_release_cli`
//! (review the diff: a changed byte is a changed format). After
//! `REGENERATE_DB_FIXTURE=1` of the library's test, rewrite these too.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn lib_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../agentlane/tests/data")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1")
}

/// `agentlane --home HOME --store sqlite://DB ARGS...`: its stdout.
fn run(home: &Path, db: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_agentlane"))
        .arg("--home")
        .arg(home)
        .arg("--store")
        .arg(format!("sqlite://{}", db.display()))
        .args(args)
        .env_remove("AGENTLANE_STORE")
        .stdin(Stdio::null())
        .output()
        .expect("agentlane runs");
    assert!(
        out.status.success(),
        "agentlane {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn compare(name: &str, actual: &str) {
    let path = lib_data().join(format!("snapshots/cli/{name}.json"));
    if updating() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "snapshot {} is missing ({e}): write it with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if actual != expected {
        let (a, e): (Vec<_>, Vec<_>) = (actual.lines().collect(), expected.lines().collect());
        let i = (0..a.len().max(e.len()))
            .find(|&i| a.get(i) != e.get(i))
            .unwrap_or(0);
        panic!(
            "`agentlane {name}` prints other bytes than {} at line {}:\n  expected: {}\n  actual:   {}",
            path.display(),
            i + 1,
            e.get(i).unwrap_or(&"<end>"),
            a.get(i).unwrap_or(&"<end>")
        );
    }
}

fn job_id(jobs: &Value, case: &str) -> String {
    jobs.as_array()
        .unwrap()
        .iter()
        .find(|j| j["fields"]["case"] == case)
        .unwrap_or_else(|| panic!("no job '{case}'"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn json_outputs_about_a_previous_release_database() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let db = dir.path().join("agentlane.sqlite");
    std::fs::copy(lib_data().join("db/release-5.sqlite"), &db).unwrap();

    let jobs = run(&home, &db, &["jobs", "--json", "--limit", "0"]);
    compare("jobs", &jobs);
    let jobs: Value = serde_json::from_str(&jobs).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 9);
    for case in [
        "failed_after_retry",
        "parked_a",
        "lost_then_scheduled",
        "running",
        "queued",
    ] {
        let id = job_id(&jobs, case);
        compare(
            &format!("job-{case}"),
            &run(&home, &db, &["job", &id, "--json"]),
        );
    }

    let incidents = run(&home, &db, &["incidents", "--json"]);
    compare("incidents", &incidents);
    let incidents: Value = serde_json::from_str(&incidents).unwrap();
    assert_eq!(incidents.as_array().unwrap().len(), 4);
    for i in incidents.as_array().unwrap() {
        let fingerprint = i["failure_fingerprint"].as_str().unwrap();
        let id = i["id"].as_str().unwrap();
        compare(
            &format!("incident-{fingerprint}"),
            &run(&home, &db, &["incident", id, "--json"]),
        );
    }

    compare("status", &run(&home, &db, &["status", "--json"]));
    compare(
        "runs",
        &run(&home, &db, &["runs", "--json", "--limit", "50"]),
    );
    for n in [2, 5, 8, 9, 11] {
        let id = format!("0193a000-0000-7000-8000-{n:012}");
        compare(
            &format!("show-{n}"),
            &run(&home, &db, &["show", &id, "--json"]),
        );
    }
}
