//! The PostgreSQL server the integration tests share (`AGENTLANE_TEST_POSTGRES`,
//! else the local one that `.ci/run` starts): one probe per test binary. Where
//! no server answers, the tests that need it skip, saying so once on stderr;
//! with `AGENTLANE_REQUIRE_PG=1` (`.ci/run` sets it) they fail instead.
//!
//! `common/mod.rs` declares it; `tests/chaos` includes it by path.
#![allow(dead_code)]

use std::io::Write;
use std::process::Command;
use std::sync::OnceLock;

/// The server the tests use: `AGENTLANE_TEST_POSTGRES`, else the local one.
pub fn base() -> String {
    std::env::var("AGENTLANE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether `AGENTLANE_REQUIRE_PG` is set (to anything but `0`).
fn required() -> bool {
    std::env::var("AGENTLANE_REQUIRE_PG").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// [`base`] when the server answers. Else `None`, after one line on stderr
/// per test binary naming `suite`, the server and why (the real stderr: a
/// passing test's captured output is never shown) — or, under
/// `AGENTLANE_REQUIRE_PG=1`, a panic: there the server must be there.
pub fn server(suite: &str) -> Option<String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    let server = agentlane::store::postgres::redacted_url(&base());
    let probe = PROBE.get_or_init(|| {
        let probe = probe(&base());
        if let Err(why) = &probe {
            if !required() {
                let _ = writeln!(
                    std::io::stderr(),
                    "skipped: {suite} — no usable server at {server} ({why}); start one \
                     (README: Run the tests) or set AGENTLANE_TEST_POSTGRES; .ci/run starts \
                     one and sets AGENTLANE_REQUIRE_PG=1"
                );
            }
        }
        probe
    });
    match probe {
        Ok(()) => Some(base()),
        Err(why) if required() => panic!(
            "{suite}: no usable server at {server} ({why}), and AGENTLANE_REQUIRE_PG=1 makes \
             that a failure, not a skip; start one (README: Run the tests) or set \
             AGENTLANE_TEST_POSTGRES"
        ),
        Err(_) => None,
    }
}

/// `SELECT 1` through psql, which every PostgreSQL test runs anyway.
fn probe(url: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .args([url, "-qAtc", "SELECT 1"])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .map_err(|e| format!("psql does not run: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    Err(lines.join("; "))
}
