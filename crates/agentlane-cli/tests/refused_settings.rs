//! Settings that cannot work are refused at once, with the fix: each case
//! was accepted silently on an earlier main (a zero lease lost jobs, a lane
//! typo waited forever, a newer schema was used, a corrupt database got a
//! hint about permissions).

mod common;

use common::*;

const ROUTES: &str = "[routes.t]\nprofile = \"generic\"\nprogram = \"/bin/true\"\n[kinds.k]\nroutes = [\"t\"]\n[lanes.main]\nroutes = [\"t\"]\n[lanes.other]\nroutes = [\"t\"]\n";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `agentlane --config FILE worker --lane LANE --drain` over `config`.
fn worker(sb: &Sandbox, config: &str, lane: &str) -> std::process::Output {
    let path = sb.path("agentlane.toml");
    std::fs::write(&path, config).unwrap();
    sb.run(&[
        "--config",
        path.to_str().unwrap(),
        "worker",
        "--lane",
        lane,
        "--drain",
    ])
}

fn assert_config_refused(out: &std::process::Output, position: &str, words: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains(&format!("agentlane.toml:{position}: ")),
        "{err}"
    );
    for w in words {
        assert!(err.contains(w), "missing {w:?} in {err}");
    }
}

#[test]
fn a_zero_lease_is_refused_with_the_minimum_and_its_position() {
    let sb = Sandbox::new();
    let out = worker(&sb, &format!("[queue]\nlease = \"0s\"\n{ROUTES}"), "main");
    assert_config_refused(&out, "2:9", &["queue.lease", "at least \"1s\"", "lease/3"]);
}

#[test]
fn a_lease_just_under_the_minimum_is_refused_and_the_minimum_is_accepted() {
    let sb = Sandbox::new();
    let out = worker(
        &sb,
        &format!("[queue]\nlease = \"999ms\"\n{ROUTES}"),
        "main",
    );
    assert_config_refused(&out, "2:9", &["queue.lease"]);
    let out = worker(&sb, &format!("[queue]\nlease = \"1s\"\n{ROUTES}"), "main");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_zero_route_timeout_is_refused_with_the_route_and_the_fix() {
    let sb = Sandbox::new();
    let config = ROUTES.replace(
        "program = \"/bin/true\"\n",
        "program = \"/bin/true\"\ntimeout = \"0s\"\n",
    );
    let out = worker(&sb, &config, "main");
    assert_config_refused(&out, "4:11", &["routes.t.timeout", "remove the key"]);
}

#[test]
fn zero_poll_retention_probe_timeout_and_retry_cap_are_refused() {
    for (section, key, fix) in [
        ("[queue]\npoll = \"0s\"\n", "queue.poll", "250ms"),
        (
            "[queue]\nretention = \"0s\"\n",
            "queue.retention",
            "\"off\"",
        ),
        (
            "[preflight]\nprobe_timeout = \"0s\"\n",
            "preflight.probe_timeout",
            "15s",
        ),
        (
            "[retry.rate_limited]\nmax_timeout = \"0s\"\n",
            "retry.rate_limited.max_timeout",
            "no cap",
        ),
    ] {
        let sb = Sandbox::new();
        let out = worker(&sb, &format!("{section}{ROUTES}"), "main");
        let column = section.lines().nth(1).unwrap().find('"').unwrap() + 1;
        assert_config_refused(&out, &format!("2:{column}"), &[key, "is zero", fix]);
    }
}

#[test]
fn retention_off_and_a_zero_shutdown_grace_stay_accepted() {
    let sb = Sandbox::new();
    let out = worker(
        &sb,
        &format!("[queue]\nretention = \"off\"\nshutdown_grace = \"0s\"\n{ROUTES}"),
        "main",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_worker_on_an_unknown_lane_is_refused_with_the_configured_lanes() {
    let sb = Sandbox::new();
    let out = worker(&sb, ROUTES, "mian");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("unknown lane 'mian'"), "{err}");
    assert!(err.contains("[main, other]"), "{err}");
    // A configured lane drains and exits 0.
    let out = worker(&sb, ROUTES, "main");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn without_any_configured_lane_every_lane_name_is_served() {
    // Enqueue accepts any lane when none is configured: the worker must too.
    let sb = Sandbox::new();
    let config = "[routes.t]\nprofile = \"generic\"\nprogram = \"/bin/true\"\n";
    let out = worker(&sb, config, "anything");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn database(sb: &Sandbox) -> std::path::PathBuf {
    sb.home().join("agentlane.db")
}

#[test]
fn a_schema_newer_than_the_binary_is_refused_with_both_versions() {
    let sb = Sandbox::new();
    let out = sb.run(&["runs"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let db = database(&sb);
    assert!(db.exists(), "the store is at {}", db.display());
    let conn = rusqlite::Connection::open(&db).unwrap();
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let out = sb.run(&["runs"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(74), "{err}");
    assert!(
        err.contains(&format!(
            "schema version 999, newer than this agentlane knows ({current})"
        )),
        "{err}"
    );
    assert!(err.contains("upgrade agentlane"), "{err}");
    assert!(err.contains("--store"), "{err}");
    assert!(!err.contains("writable"), "{err}");
    // Nothing was written over the newer database.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let after: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(after, 999);
}

#[test]
fn a_corrupt_database_gets_an_integrity_check_and_restore_hint() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.home()).unwrap();
    let db = database(&sb);
    let garbage: Vec<u8> = (0..16384u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&db, &garbage).unwrap();
    let out = sb.run(&["runs"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(74), "{err}");
    assert!(err.contains("file is not a database"), "{err}");
    assert!(
        err.contains(&format!(
            "sqlite3 {} 'PRAGMA integrity_check'",
            db.display()
        )),
        "{err}"
    );
    assert!(err.contains("restore it from a backup"), "{err}");
    assert!(err.contains("move it aside"), "{err}");
    assert!(!err.contains("writable"), "{err}");
    // The file is left as it was, for the user to inspect.
    assert_eq!(std::fs::read(&db).unwrap(), garbage);
}

#[test]
fn a_malformed_database_gets_the_same_hint_as_a_foreign_file() {
    // A real store whose pages after the header are overwritten: SQLite opens
    // it and reports "database disk image is malformed" on the first query.
    let sb = Sandbox::new();
    let out = sb.run(&["exec", "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let db = database(&sb);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 8192, "the store has more than one page");
    for (i, b) in bytes.iter_mut().enumerate().skip(4096) {
        *b = (i.wrapping_mul(7919) % 251) as u8;
    }
    std::fs::write(&db, &bytes).unwrap();
    let out = sb.run(&["runs"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(74), "{err}");
    assert!(err.contains("database disk image is malformed"), "{err}");
    assert!(err.contains("PRAGMA integrity_check"), "{err}");
    assert!(err.contains("move it aside"), "{err}");
    assert!(!err.contains("writable"), "{err}");
}

fn psql(url: &str, sql: &str) {
    let out = std::process::Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])
        .output()
        .expect("psql runs");
    assert!(out.status.success(), "psql {sql}: {}", stderr(&out));
}

#[test]
fn a_postgres_schema_newer_than_the_binary_is_refused_with_both_versions() {
    let schema = format!("al_refused_{}", std::process::id());
    // The test server (`AGENTLANE_TEST_POSTGRES`, else the local one); the
    // test skips where it does not answer.
    let Some(base) = common::pg::server("PostgreSQL test of tests/refused_settings.rs") else {
        return;
    };
    psql(
        &base,
        &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
    );
    let url = format!("{base}?options=-c%20search_path%3D{schema}");
    let sb = Sandbox::new();
    let out = sb.run(&["--store", &url, "migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The version this binary migrated to: the one the refusal must name.
    let current = {
        let out = std::process::Command::new("psql")
            .args([
                base.as_str(),
                "-qAtc",
                &format!("SELECT max(version) FROM {schema}.agentlane_migrations"),
            ])
            .output()
            .expect("psql runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert!(
        current.parse::<u32>().is_ok(),
        "current version {current:?}"
    );
    psql(
        &base,
        &format!("INSERT INTO {schema}.agentlane_migrations (version) VALUES (999)"),
    );
    let out = sb.run(&["--store", &url, "runs"]);
    psql(&base, &format!("DROP SCHEMA {schema} CASCADE"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(74), "{err}");
    assert!(
        err.contains(&format!(
            "schema version 999, newer than this agentlane knows ({current})"
        )),
        "{err}"
    );
    assert!(err.contains("upgrade agentlane"), "{err}");
    assert!(!err.contains("check the URL"), "{err}");
}

/// A store URL that cannot be used as written is a configuration error
/// (exit 78) that names the option and the fix, not an I/O failure (74):
/// nothing is tried against the server.
#[test]
fn a_store_url_that_cannot_be_used_is_a_configuration_error_with_the_fix() {
    let sb = Sandbox::new();
    let cases = [
        (
            "postgres://al@127.0.0.1:1/db?pool_mode=statement",
            "pool_mode=statement",
        ),
        ("postgres://al@127.0.0.1:1/db?sslmode=sometimes", "sslmode"),
    ];
    for (url, says) in cases {
        let out = sb.run(&["--store", url, "status"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(78), "{url}: {err}");
        assert!(err.contains(says), "{url}: {err}");
        assert!(err.contains("fix the URL"), "{url}: {err}");
    }
}
