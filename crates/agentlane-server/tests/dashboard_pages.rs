//! The dashboard's pages over HTTP, from a real server on a loopback port
//! over a real SQLite store: user-controlled text (job labels, evidence) is
//! escaped everywhere, the matrix page marks the dimension that flips the
//! result, unknown ids and sections answer pages that say what to do, and
//! the assets are the binary's own (no CDN) and open without the token.

use std::collections::BTreeMap;
use std::sync::Arc;

use agentlane::class::Class;
use agentlane::home::Home;
use agentlane::model::{IncidentFacts, NewJob};
use agentlane::store::sqlite::SqliteStore;
use agentlane::store::Store;
use agentlane_server::auth::{Access, Token};
use agentlane_server::AppState;

const SCRIPT_LABEL: &str = "<script>alert(1)</script>";
const IMG_EVIDENCE: &str = "<img src=x onerror=alert(2)> Invalid API key";

/// A server over a fresh store and home; stops when dropped.
struct Server {
    base: String,
    store: Arc<dyn Store>,
    home: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn server(token: Option<&str>) -> Server {
    let home = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&home.path().join("agentlane.db")).expect("the store"));
    let access = Access {
        token: token.map(|t| Token::new(t, "test").unwrap()),
        open_metrics: false,
        loopback: true,
    };
    let state =
        AppState::new(store.clone(), None, access).with_home(Home::open(home.path()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(agentlane_server::serve(listener, state, async {
        let _ = rx.await;
    }));
    Server {
        base,
        store,
        home,
        stop: Some(tx),
    }
}

fn job(label: &str) -> NewJob {
    NewJob {
        kind: "k".into(),
        lane: "main".into(),
        route: "review".into(),
        prompt: "review it".into(),
        fields: BTreeMap::new(),
        priority: 0,
        key: None,
        label: Some(label.into()),
    }
}

/// `GET url` over a plain HTTP/1.1 connection (the server's answer as it
/// is: no redirect followed); the status, headers and body.
async fn fetch(url: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the server answers");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

async fn get(url: &str) -> (u16, String) {
    let (status, _, body) = fetch(url).await;
    (status, body)
}

/// No raw markup of the hostile strings, and their escaped text present.
fn assert_inert(page: &str, body: &str, raw: &str) {
    assert!(
        !body.contains(raw),
        "{page} carries {raw:?} unescaped:\n{body}"
    );
    let escaped = raw
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert!(
        body.contains(&escaped),
        "{page} does not show {raw:?} as text:\n{body}"
    );
}

#[tokio::test]
async fn labels_and_evidence_are_rendered_as_text_on_every_page() {
    let s = server(None).await;
    let id = s
        .store
        .enqueue(&[job(SCRIPT_LABEL)])
        .await
        .unwrap()
        .remove(0);
    let incident = s
        .store
        .open_incident(&IncidentFacts {
            fingerprint: "f00d".into(),
            class: Class::AuthUnavailable,
            route: Some("review".into()),
            lane: Some("main".into()),
            host: "h".into(),
            repair_hint: format!("fix it {SCRIPT_LABEL}"),
            evidence: Some(IMG_EVIDENCE.into()),
            reset_at: None,
            stamp: None,
        })
        .await
        .unwrap();
    for path in ["/", "/fragments/jobs", &format!("/jobs/{id}")] {
        let (status, body) = get(&format!("{}{path}", s.base)).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_inert(path, &body, SCRIPT_LABEL);
    }
    // The overview shows an incident's hint; its page shows the evidence too.
    for path in [
        "/",
        "/fragments/incidents",
        &format!("/incidents/{incident}"),
    ] {
        let (status, body) = get(&format!("{}{path}", s.base)).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_inert(path, &body, SCRIPT_LABEL);
    }
    let page = format!("/incidents/{incident}");
    let (_, body) = get(&format!("{}{page}", s.base)).await;
    assert_inert(&page, &body, "<img src=x onerror=alert(2)>");
    // The one script a page loads is the dashboard's own.
    let (_, body) = get(&format!("{}/", s.base)).await;
    assert_eq!(body.matches("<script").count(), 1, "{body}");
    assert!(body.contains("<script src=\"/assets/dashboard.js\" defer>"));
}

#[tokio::test]
async fn the_matrix_page_marks_the_dimension_that_flips_and_names_the_shape() {
    let s = server(None).await;
    let (status, body) = get(&format!("{}/matrix", s.base)).await;
    assert_eq!(status, 200);
    assert!(body.contains("No matrix run yet"), "{body}");

    let row = |dimension: &str, value: &str, class: &str| {
        serde_json::json!({"dispatch_id": null, "worker_kind": "local", "queue_id": "q", "route": "review",
            "program": "claude", "cwd": "/w", "argv": ["claude"], "cli_path": "/usr/bin/claude",
            "env_fingerprint": "e1", "prompt_bytes": 5, "exit_code": if class == "ok" { 0 } else { 1 },
            "signal": null, "duration_ms": 9, "stderr_tail": "", "classifier": class,
            "repair_hint": if class == "ok" { "" } else { "log in <as> the worker" },
            "dimension": dimension, "value": value, "expected": null})
    };
    let report = serde_json::json!({
        "id": "run-1", "shape": "lane_specific", "dimension": "env_source", "repair_address": "runtime",
        "route": "review", "comparison": [], "notes": [], "scratch_store": "sqlite:///x",
        "rows": [row("baseline", "", "ok"), row("env_source", "thin", "auth_unavailable"), row("cwd", "/tmp", "ok")],
    });
    let dir = s.home.path().join("matrix").join("run-1");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("report.json"), report.to_string()).unwrap();

    let (status, body) = get(&format!("{}/matrix", s.base)).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("data-shape=\"lane_specific\" data-dimension=\"env_source\""),
        "{body}"
    );
    assert_eq!(body.matches("<tr class=\"flip\"").count(), 1, "{body}");
    assert!(body.contains("<tr class=\"flip\" data-dimension=\"env_source\">"));
    assert!(body.contains("log in &lt;as&gt; the worker"), "{body}");

    // A run that is not there (or a path that would leave the directory).
    for q in ["run=nope", "run=../../etc", "run=%00"] {
        let (status, body) = get(&format!("{}/matrix?{q}", s.base)).await;
        assert_eq!(status, 200, "{q}");
        assert!(body.contains("No matrix run"), "{q}: {body}");
    }
}

#[tokio::test]
async fn unknown_ids_and_sections_answer_pages_that_say_what_to_do() {
    let s = server(None).await;
    for (path, status, says) in [
        ("/jobs/0123456789ab", 404, "no job &#39;0123456789ab&#39;"),
        (
            "/incidents/0123456789ab",
            404,
            "no incident &#39;0123456789ab&#39;",
        ),
        ("/fragments/jobs/0123456789ab", 404, "no job"),
        ("/jobs/01a2nothing", 400, "is not a job id"),
        ("/jobs/%00%ff", 400, "Invalid UTF-8"),
        ("/jobs/%00abcdef", 400, "is not a job id"),
        ("/jobs/abc", 400, "too short"),
        (
            "/fragments/nothing",
            404,
            "the overview&#39;s sections are lanes",
        ),
    ] {
        let (got, body) = get(&format!("{}{path}", s.base)).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body.contains(says) || body.contains(&says.replace("&#39;", "'")),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn assets_are_the_binarys_own_and_open_without_the_token() {
    let s = server(Some("0123456789abcdef0123456789abcdef")).await;
    for (path, kind) in [
        ("/assets/dashboard.css", "text/css"),
        ("/assets/dashboard.js", "text/javascript"),
    ] {
        let (status, head, body) = fetch(&format!("{}{path}", s.base)).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            head.contains(&format!("content-type: {kind}")),
            "{path}: {head}"
        );
        assert!(
            !body.contains("http://") && !body.contains("https://") && !body.contains("@import"),
            "{path} reaches outside the binary"
        );
    }
    // Pages need the session: the guard sends a browser to the login form.
    let (status, _) = get(&format!("{}/fragments/lanes", s.base)).await;
    assert_eq!(status, 303);
}
