//! Who may talk to the server: loopback without a token, anything else only
//! with one; 401 without or with the wrong token; the login form's session;
//! foreign Host headers and cross-site writes refused.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use serde_json::json;

use crate::common::*;
use crate::server::Server;

const TOKEN: &str = "t0k3n-for-tests-3c1f9a7e5b2d4c6e8f0a";

fn serve_refuses(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let sb = Sandbox::new();
    let mut cmd = Command::new(agentlane());
    cmd.arg("--home")
        .arg(sb.home())
        .arg("serve")
        .args(args)
        .env_remove("AGENTLANE_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("serve runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_non_loopback_address_without_a_token_refuses_to_start() {
    let (code, err) = serve_refuses(&["--listen", "0.0.0.0:0"], &[]);
    assert_eq!(code, 78, "a configuration error: {err}");
    assert!(
        err.contains("without a token") && err.contains("--token-file"),
        "{err}"
    );
    let (code, err) = serve_refuses(&["--listen", "0.0.0.0:0"], &[("AGENTLANE_TOKEN", "short")]);
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("at least 16"), "{err}");
}

#[test]
fn a_token_file_others_can_read_is_refused() {
    let sb = Sandbox::new();
    let f = sb.path("token");
    std::fs::write(&f, TOKEN).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, err) = serve_refuses(
        &[
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            f.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn with_a_token_every_request_but_healthz_needs_it() {
    let mut s = Server::start(&[], &[("AGENTLANE_TOKEN", TOKEN)]);
    assert_eq!(s.get("/api/v1/jobs").status, 200, "with the token");
    let token = s.token.take();
    let none = s.get("/api/v1/jobs");
    assert_eq!(none.status, 401, "{}", none.body);
    assert_eq!(none.json()["code"], "unauthorized");
    let wrong = s.call(
        "GET",
        "/api/v1/jobs",
        None,
        &[(
            "Authorization",
            "Bearer t0k3n-for-tests-3c1f9a7e5b2d4c6e8f0b",
        )],
    );
    assert_eq!(wrong.status, 401, "one character off: {}", wrong.body);
    let prefix = s.call(
        "GET",
        "/api/v1/jobs",
        None,
        &[("Authorization", &format!("Bearer {}", &TOKEN[..20]))],
    );
    assert_eq!(prefix.status, 401, "a prefix of the token");
    let write = s.post("/api/v1/lanes/main/pause", "{}");
    assert_eq!(write.status, 401, "writes need it too: {}", write.body);
    assert_eq!(s.get("/api/v1/events").status, 401, "the feed needs it");
    assert_eq!(s.get("/api/v1/openapi.json").status, 401);
    assert_eq!(s.get("/healthz").status, 200, "liveness is open");
    for a in s.answers.lock().unwrap().iter() {
        assert!(
            !a.body.contains(TOKEN),
            "the token is never echoed: {}",
            a.body
        );
    }

    // The login form: a wrong token is refused, the right one sets a session
    // cookie (not the token) that the API accepts.
    let bad = s.call(
        "POST",
        "/login",
        None,
        &[("Content-Type", "application/x-www-form-urlencoded")],
    );
    assert!(bad.status >= 400, "an empty form is refused");
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let login = |t: &str| match agent
        .post(&format!("{}/login", s.base))
        .send_form(&[("token", t), ("next", "/api/v1/status")])
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(login("not-the-token-at-all-no").status(), 401);
    let ok = login(TOKEN);
    assert_eq!(ok.status(), 303, "a redirect to where the user was going");
    assert_eq!(ok.header("location"), Some("/api/v1/status"));
    let cookie = ok.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains(TOKEN), "the cookie is not the token");
    let pair = cookie.split(';').next().unwrap();
    assert_eq!(
        s.call("GET", "/api/v1/status", None, &[("Cookie", pair)])
            .status,
        200,
        "the session works"
    );
    assert_eq!(
        s.call(
            "GET",
            "/api/v1/status",
            None,
            &[("Cookie", "agentlane_session=0000")]
        )
        .status,
        401
    );
    let offsite = login_next(&s, "https://evil.example/");
    assert_eq!(offsite, "/", "login never redirects off the server");
    s.token = token;
}

fn login_next(s: &Server, next: &str) -> String {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let r = match agent
        .post(&format!("{}/login", s.base))
        .send_form(&[("token", TOKEN), ("next", next)])
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    r.header("location").unwrap_or_default().to_string()
}

#[test]
fn a_foreign_host_and_a_cross_site_write_are_refused() {
    let s = Server::start(&[], &[]);
    let rebound = s.call(
        "GET",
        "/api/v1/jobs",
        None,
        &[("Host", "evil.example:7878")],
    );
    assert_eq!(rebound.status, 403, "DNS rebinding: {}", rebound.body);
    assert_eq!(rebound.json()["code"], "foreign_host");
    let csrf = s.call(
        "POST",
        "/api/v1/lanes/main/pause",
        Some("{}"),
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(csrf.status, 403, "{}", csrf.body);
    assert_eq!(csrf.json()["code"], "cross_site");
    assert!(
        s.ok("/api/v1/lanes")["lanes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["paused"].is_null()),
        "nothing was paused"
    );
    let host = s.base.trim_start_matches("http://").to_string();
    let same = s.call(
        "POST",
        "/api/v1/lanes/main/pause",
        Some(&json!({"why": "same origin"}).to_string()),
        &[("Origin", &format!("http://{host}"))],
    );
    assert_eq!(
        same.status, 200,
        "the server's own pages may write: {}",
        same.body
    );
}
