//! Tests of the parent module.
use super::*;
use crate::envprint::keyed_hash;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
use test_case::test_case;

const KEY: [u8; 32] = [9; 32];
const SECRET_A: &str = "sk-ant-api03-SHELLSECRETVALUE-0123456789";
const SECRET_B: &str = "sk-ant-api03-WORKERSECRETVALUE-987654321";

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn side(label: &str, pairs: &[(&str, &str)]) -> Side {
    Side {
        label: label.into(),
        env: env(pairs),
        resolution: None,
        credential_files: BTreeMap::new(),
    }
}

fn names(v: &[VarPresence]) -> Vec<&str> {
    v.iter().map(|p| p.name.as_str()).collect()
}

#[test_case(&[("A", "1")], &[("A", "1")], &[], &[], &[]; "identical")]
#[test_case(&[("A", "1"), ("B", "2")], &[("A", "1")], &["B"], &[], &[]; "only in a")]
#[test_case(&[("A", "1")], &[("A", "1"), ("C", "3")], &[], &["C"], &[]; "only in b")]
#[test_case(&[("A", "1")], &[("A", "2")], &[], &[], &["A"]; "differs")]
#[test_case(&[("SHLVL", "2"), ("_", "/usr/bin/env"), ("PWD", "/x")], &[], &[], &[], &[]; "shell noise ignored")]
#[test_case(&[("HOME", "/a"), ("PATH", "/bin")], &[("HOME", "/b")], &[], &[], &[]; "identity and PATH reported apart")]
fn variable_differences(
    a: &[(&str, &str)],
    b: &[(&str, &str)],
    only_a: &[&str],
    only_b: &[&str],
    differs: &[&str],
) {
    let d = diff(&side("a", a), &side("b", b), &KEY);
    assert_eq!(names(&d.only_in_a), only_a);
    assert_eq!(names(&d.only_in_b), only_b);
    let changed: Vec<&str> = d.differs.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(changed, differs);
}

#[test]
fn identity_values_are_shown_and_compared() {
    let d = diff(
        &side("shell", &[("HOME", "/root"), ("USER", "root")]),
        &side(
            "worker",
            &[("HOME", "/srv/svc"), ("USER", "root"), ("TMPDIR", "/t")],
        ),
        &KEY,
    );
    let home = &d.identity[0];
    assert_eq!(
        (home.a.as_deref(), home.b.as_deref(), home.same),
        (Some("/root"), Some("/srv/svc"), false)
    );
    assert!(d.identity[1].same);
    assert_eq!(d.identity[2].a, None);
    assert!(d.has_differences());
}

#[test]
fn secret_values_never_appear_only_their_hashes() {
    let a = side(
        "shell",
        &[
            ("ANTHROPIC_API_KEY", SECRET_A),
            ("OPENAI_API_KEY", SECRET_A),
            ("GH_TOKEN", SECRET_A),
        ],
    );
    let b = side(
        "worker",
        &[("ANTHROPIC_API_KEY", SECRET_B), ("DB_PASSWORD", SECRET_B)],
    );
    let d = diff(&a, &b, &KEY);
    let json = serde_json::to_string(&d).unwrap();
    for secret in [SECRET_A, SECRET_B, "SHELLSECRET", "WORKERSECRET"] {
        assert!(!json.contains(secret), "{json}");
    }
    assert_eq!(names(&d.only_in_a), ["GH_TOKEN", "OPENAI_API_KEY"]);
    assert!(d.only_in_a.iter().all(|p| p.secret && p.hash.len() == 16));
    let change = &d.differs[0];
    assert_eq!(change.name, "ANTHROPIC_API_KEY");
    assert_ne!(change.hash_a, change.hash_b);
    assert_eq!(change.hash_a, keyed_hash(&KEY, SECRET_A.as_bytes()));
}

#[test]
fn every_differing_value_is_hashed_not_shown_even_without_a_secret_name() {
    let d = diff(
        &side("a", &[("HTTPS_PROXY", "http://u:hunter2pass@proxy:8080")]),
        &side("b", &[("HTTPS_PROXY", "http://proxy:8080")]),
        &KEY,
    );
    let json = serde_json::to_string(&d).unwrap();
    assert!(
        !json.contains("hunter2pass") && !json.contains("proxy:8080"),
        "{json}"
    );
}

#[test]
fn path_entries_missing_from_each_side() {
    let d = diff(
        &side(
            "shell",
            &[("PATH", "/home/u/.nvm/bin:/home/u/.local/bin:/usr/bin:/bin")],
        ),
        &side("worker", &[("PATH", "/usr/bin:/bin:/opt/only-worker")]),
        &KEY,
    );
    assert_eq!(
        d.path.missing_from_b,
        ["/home/u/.nvm/bin", "/home/u/.local/bin"]
    );
    assert_eq!(d.path.missing_from_a, ["/opt/only-worker"]);
    assert!(!d.path.same);
    let unset = diff(&side("a", &[("PATH", "/bin")]), &side("b", &[]), &KEY);
    assert_eq!(unset.path.missing_from_b, ["/bin"]);
}

fn exe(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn resolution_differs_where_the_interpreter_is_only_on_one_path() {
    let t = tempfile::tempdir().unwrap();
    let bin = t.path().join("bin");
    let node = t.path().join("node/bin");
    exe(&bin.join("cli"), "#!/usr/bin/env fakenode-xyz\n");
    exe(&node.join("fakenode-xyz"), "#!/bin/sh\n");
    let shell_env = env(&[(
        "PATH",
        &format!("{}:{}:/usr/bin:/bin", bin.display(), node.display()),
    )]);
    let worker_env = env(&[("PATH", &format!("{}:/usr/bin:/bin", bin.display()))]);
    let service_env = env(&[("PATH", "/usr/bin:/bin")]);
    let r_shell = resolution("cli", &shell_env, t.path());
    let r_worker = resolution("cli", &worker_env, t.path());
    let r_service = resolution("cli", &service_env, t.path());
    assert_eq!(r_shell.interpreter_path, Some(node.join("fakenode-xyz")));
    assert!(r_shell.error.is_none());
    assert_eq!(r_worker.path, Some(bin.join("cli")), "the script is found");
    assert!(r_worker
        .error
        .as_deref()
        .unwrap()
        .contains("needs 'fakenode-xyz'"));
    assert_eq!(
        r_service.error.as_deref(),
        Some("'cli' is not on this PATH")
    );
    let mut a = side("shell", &[]);
    a.resolution = Some(r_shell.clone());
    let mut b = side("worker", &[]);
    b.resolution = Some(r_worker);
    let d = diff(&a, &b, &KEY);
    assert!(!d.resolution.unwrap().same);
    let mut c = side("again", &[]);
    c.resolution = Some(r_shell);
    assert!(diff(&a, &c, &KEY).resolution.unwrap().same);
}

#[test]
fn credential_files_are_looked_for_under_each_home() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("a/.claude")).unwrap();
    std::fs::write(t.path().join("a/.claude/.credentials.json"), "{}").unwrap();
    let files = [".claude/.credentials.json"];
    let a = credential_files(
        &files,
        &env(&[("HOME", t.path().join("a").to_str().unwrap())]),
    );
    let b = credential_files(
        &files,
        &env(&[("HOME", t.path().join("b").to_str().unwrap())]),
    );
    let mut sa = side("a", &[]);
    sa.credential_files = a;
    let mut sb = side("b", &[]);
    sb.credential_files = b;
    let d = diff(&sa, &sb, &KEY);
    assert_eq!(
        d.credential_files,
        vec![FileVisibility {
            file: "~/.claude/.credentials.json".into(),
            a: true,
            b: false
        }]
    );
}

#[test_case(b"junk\n__AGENTLANE_ENV_BEGIN__\nA=1\0B=two\nlines\0\n__AGENTLANE_ENV_END__\nbye\n", &[("A", "1"), ("B", "two\nlines")]; "nul separated with noise around")]
#[test_case(b"__AGENTLANE_ENV_BEGIN__\nA=1\nB=two\nlines\nC=x=y\n\n__AGENTLANE_ENV_END__\n", &[("A", "1"), ("B", "two\nlines"), ("C", "x=y")]; "line fallback with continuation")]
#[test_case(b"__AGENTLANE_ENV_BEGIN__\nA=1\0", &[("A", "1")]; "missing end marker")]
fn parses_captured_environments(out: &[u8], expected: &[(&str, &str)]) {
    assert_eq!(parse_capture(out).unwrap(), env(expected));
}

#[test]
fn no_marker_no_environment() {
    assert_eq!(parse_capture(b"sh: env: not found\n"), None);
}

#[tokio::test]
async fn captures_a_real_login_shell() {
    let env = capture_shell_env("/bin/sh", CAPTURE_TIMEOUT).await.unwrap();
    assert!(env.contains_key("PATH"), "{env:?}");
}

#[tokio::test]
async fn a_hanging_login_shell_times_out() {
    let t = tempfile::tempdir().unwrap();
    let shell = t.path().join("slowsh");
    exe(&shell, "#!/bin/sh\nsleep 30\n");
    let started = std::time::Instant::now();
    let err = capture_shell_env(shell.to_str().unwrap(), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(err, EnvDiffError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_shell_that_prints_nothing_says_so() {
    let err = capture_shell_env("/bin/false", CAPTURE_TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(err, EnvDiffError::NoOutput { .. }), "{err}");
}
