//! The queue on PostgreSQL, and `store copy` from SQLite to it.

use super::*;

/// The same queue on PostgreSQL (`--store`), in a fresh schema of the local
/// server's `test` database (`.ci/run` starts the server when needed).
#[test]
fn the_queue_runs_the_same_on_postgres() {
    let Some(pg) = PgSchema::new("al_cli_") else {
        return;
    };
    let url = pg.url.clone();
    let q = Queue::new(
        r#"
[routes.r]
profile = "generic"
program = "$FAKE"
args = ["--stdout", "{prompt}"]
[kinds.k]
routes = ["r"]
[lanes.main]
"#,
    );
    let with_store = |args: &[&str]| {
        let mut all = vec!["--store", url.as_str()];
        all.extend_from_slice(args);
        q.cli(&all)
    };
    assert!(with_store(&["migrate"]).status.success());
    for i in 0..5 {
        assert!(with_store(&[
            "enqueue",
            "--kind",
            "k",
            "--lane",
            "main",
            "--prompt",
            &format!("job {i}")
        ])
        .status
        .success());
    }
    assert!(
        with_store(&["worker", "--lane", "main", "--concurrency", "2", "--drain"])
            .status
            .success()
    );
    let jobs: Value = serde_json::from_slice(&with_store(&["jobs", "--json"]).stdout).unwrap();
    assert_eq!(states(jobs.as_array().unwrap()), vec!["succeeded"; 5]);
    assert!(q.jobs().is_empty(), "nothing went to the SQLite default");
}

/// `store copy` moves a queue from SQLite to PostgreSQL without losing a job,
/// an event or an incident.
#[test]
fn store_copy_moves_a_queue_to_postgres_without_losing_anything() {
    let Some(pg) = PgSchema::new("al_copy_") else {
        return;
    };
    let url = pg.url.clone();
    let q = login_queue();
    q.enqueue("k", "one");
    let keyed = q.cli(&[
        "enqueue", "--kind", "k", "--lane", "main", "--prompt", "two", "--key", "copy-me",
    ]);
    assert!(keyed.status.success());
    q.drain("2");
    let from = format!("sqlite://{}", q.sb.home().join("agentlane.db").display());
    let out = q.cli(&["store", "copy", "--from", &from, "--to", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("copied: every row is in the target"));
    let on_pg = |args: &[&str]| -> Value {
        let mut all = vec!["--store", url.as_str()];
        all.extend_from_slice(args);
        serde_json::from_slice(&q.cli(&all).stdout).unwrap()
    };
    let jobs = on_pg(&["jobs", "--json"]);
    let mut copied = states(jobs.as_array().unwrap());
    copied.sort();
    assert_eq!(
        copied,
        vec!["parked", "queued"],
        "one parked, one blocked behind it"
    );
    let keys: Vec<&Value> = jobs.as_array().unwrap().iter().map(|j| &j["key"]).collect();
    assert!(
        keys.contains(&&Value::from("copy-me")),
        "the key is copied: {jobs}"
    );
    // ...and still taken on the target: the same key adds nothing there.
    let again = q.cli(&[
        "--store", &url, "enqueue", "--kind", "k", "--lane", "main", "--prompt", "two", "--key",
        "copy-me",
    ]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already taken"));
    let incidents = on_pg(&["incidents", "--json"]);
    assert_eq!(incidents[0]["affected_jobs"], 1);
    let blocked = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["state"] == "queued")
        .unwrap();
    assert_eq!(
        blocked["blocked_by"], incidents[0]["id"],
        "the block is copied with its incident"
    );
    let parked = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["state"] == "parked")
        .unwrap();
    let dispatch = parked["id"]
        .as_str()
        .map(|id| {
            q.job(id)["attempts_detail"][0]["dispatch_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .unwrap();
    let shown = on_pg(&["show", &dispatch, "--json"]);
    assert_eq!(shown["report"]["classifier"], "auth_unavailable");
    // A second copy into the same (now full) store is refused.
    let again = q.cli(&["store", "copy", "--from", &from, "--to", &url]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

/// A fresh schema in the local PostgreSQL `test` database (`AGENTLANE_TEST_POSTGRES`
/// overrides the server; `common::pg`), dropped when the test ends.
struct PgSchema {
    base: String,
    name: String,
    url: String,
}

impl PgSchema {
    /// `None` (the test skips) where the server does not answer.
    fn new(tag: &str) -> Option<PgSchema> {
        let base = common::pg::server("PostgreSQL tests of tests/queue.rs")?;
        let name = format!("{tag}{}", std::process::id());
        let url = format!("{base}?options=-c%20search_path%3D{name}");
        let pg = PgSchema { base, name, url };
        pg.psql(&format!(
            "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}",
            pg.name
        ));
        Some(pg)
    }

    fn psql(&self, sql: &str) {
        let out = Command::new("psql")
            .args([self.base.as_str(), "-qc", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                self.base.as_str(),
                "-qc",
                &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
            ])
            .output();
    }
}
