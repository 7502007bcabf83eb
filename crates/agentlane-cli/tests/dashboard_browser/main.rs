//! The dashboard in a real headless Chromium (issue 18): the real
//! `agentlane serve` over a real SQLite home, real workers run with
//! `worker --drain`, Debian's chromedriver driven over WebDriver. Proves
//! that a route whose CLI is missing turns red and its incident appears
//! without a reload, that the resolve button releases the jobs parked behind
//! an incident, that the login form lets a browser in, and that job labels
//! are rendered inert. Screenshots: `target/test-artifacts/dashboard/`.
//!
//! Without chromedriver the tests fail saying how to install it, unless
//! `AGENTLANE_SKIP_BROWSER=1`.

#[path = "../common/mod.rs"]
mod common;
mod harness;

use std::io::{Read, Write};

use common::write_exe;
use harness::*;
use serde_json::Value;

/// A lane whose one route's program does not exist.
const MISSING_CLI: &str = r#"
[routes.broken]
program = "$DIR/bin/missing-agent"
args = ["{prompt}"]
[kinds.k]
routes = ["broken"]
[lanes.main]
routes = ["broken"]
"#;

/// Claude Code as it answers with a key the API refuses (auth_unavailable:
/// a hard stop; its first job is parked, the others wait behind it).
const BAD_KEY: &str = r#"
[routes.review]
profile = "claude"
program = "$DIR/bin/claude"
args = ["-p", "{prompt}"]
env = { ANTHROPIC_API_KEY = "sk-ant-api03-not-a-real-key-000000000000" }
[kinds.k]
routes = ["review"]
[lanes.main]
routes = ["review"]
"#;
const BAD_KEY_CLI: &str = "#!/bin/sh\ncase \"$1\" in --version) echo 1.0; exit 0;; esac\necho 'Invalid API key · Please run /login'\nexit 1\n";

/// A label that would run script if it were not escaped.
const HOSTILE_LABEL: &str =
    "<img src=x onerror=\"window.__xss='img'\"><script>window.__xss='script'</script>";

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// The HTTP status of `GET path` (the status line only: a stream's body is
/// never read).
fn http_status(base: &str, path: &str) -> u16 {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the server");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Signs in through the login form.
async fn sign_in(b: &Browser, base: &str, token: &str) {
    b.client.goto(&format!("{base}/")).await.unwrap();
    wait_until(
        &b.client,
        "the login form",
        "location.pathname === '/login' && document.querySelector('input[name=token]')",
    )
    .await;
    let field = b
        .client
        .find(fantoccini::Locator::Css("input[name=token]"))
        .await
        .unwrap();
    field.send_keys(token).await.unwrap();
    b.client
        .find(fantoccini::Locator::Css("form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_cli_turns_its_route_red_and_its_incident_appears_without_a_reload() {
    let q = Queue::new(MISSING_CLI);
    let job = q.enqueue("review the change", Some(HOSTILE_LABEL));
    let serve = Serve::start(&q, &[]);
    let Some(b) = browser().await else { return };
    let c = &b.client;
    // With the event stream served, the page must follow it (not poll).
    let sse = http_status(&serve.base, "/api/v1/events") == 200;
    c.goto(&format!("{}/", serve.base)).await.unwrap();
    let following = if sse { "live" } else { "polling" };
    wait_until(
        c,
        "the script following the queue",
        &format!("document.getElementById('live').dataset.state === '{following}'"),
    )
    .await;
    if sse {
        // The refresh the stream's opening asks for is done: any later
        // change of the page comes from an event.
        wait_until(
            c,
            "the first refresh",
            "document.getElementById('f-incidents').dataset.refreshed",
        )
        .await;
    }
    c.execute("window.__samePage = 42; return null;", vec![])
        .await
        .unwrap();
    // Before any worker ran: no incident, the route not checked yet.
    assert_eq!(
        eval(c, "!!document.getElementById('no-incidents')").await,
        Value::Bool(true)
    );
    assert_eq!(
        eval(
            c,
            "document.querySelector('tr[data-route=\"broken\"]').dataset.ok"
        )
        .await,
        "unknown"
    );
    // The label is text: shown as written, and nothing of it ran.
    assert_eq!(
        eval(c, "window.__xss === undefined").await,
        Value::Bool(true),
        "the label's markup ran"
    );
    let shown = eval(
        c,
        &format!("document.querySelector('tr[data-job=\"{job}\"] td.label-text').textContent"),
    )
    .await;
    assert_eq!(shown, HOSTILE_LABEL);
    assert_eq!(
        eval(
            c,
            "document.querySelectorAll('main img, main script').length"
        )
        .await,
        0
    );

    assert_eq!(
        q.drain(),
        Some(101),
        "the route failed preflight: a drain says it needs repair"
    );

    // The page (not reloaded) shows the incident and the red route.
    wait_until(
        c,
        "the cli_missing incident",
        "document.querySelector('li.incident[data-class=\"cli_missing\"]')",
    )
    .await;
    wait_until(
        c,
        "the route red",
        "document.querySelector('tr[data-route=\"broken\"][data-ok=\"false\"] .light[data-check=\"cli_resolves\"][data-state=\"off\"]')",
    )
    .await;
    assert_eq!(
        eval(c, "window.__samePage").await,
        42,
        "the page was reloaded"
    );
    let dot = |check: &str| {
        format!("getComputedStyle(document.querySelector('tr[data-route=\"broken\"] .light[data-check=\"{check}\"] .dot')).backgroundColor")
    };
    assert_eq!(
        eval(c, &dot("cli_resolves")).await,
        "rgb(198, 40, 40)",
        "red"
    );
    assert_eq!(
        eval(c, &dot("route_allowed")).await,
        "rgb(26, 127, 55)",
        "green"
    );
    let incident = eval(
        c,
        "document.querySelector('li.incident[data-class=\"cli_missing\"]').textContent",
    )
    .await;
    let incident = incident.as_str().unwrap();
    assert!(
        incident.contains("repair: runtime") && incident.contains("missing-agent"),
        "{incident}"
    );
    if sse {
        assert!(
            eval(c, "window.agentlaneEvents || 0")
                .await
                .as_u64()
                .unwrap()
                > 0,
            "no event reached the page"
        );
    } else {
        eprintln!("no /api/v1/events on this server: the page fell back to polling");
    }
    // The job waits behind the incident, and says so.
    wait_until(
        c,
        "the job blocked",
        &format!("document.querySelector('tr[data-job=\"{job}\"][data-blocked]')"),
    )
    .await;
    screenshot(c, "overview-cli-missing").await;

    // The job's page: inert label, the reason it waits.
    c.goto(&format!("{}/jobs/{job}", serve.base)).await.unwrap();
    wait_until(
        c,
        "the job page",
        "document.querySelector('h1') && document.querySelector('h1').textContent.includes('Job')",
    )
    .await;
    assert_eq!(
        eval(c, "window.__xss === undefined").await,
        Value::Bool(true)
    );
    assert_eq!(
        eval(c, "document.querySelector('dd.label-text').textContent").await,
        HOSTILE_LABEL
    );
    let state = eval(c, "document.getElementById('job-state').textContent").await;
    assert_eq!(state, "queued blocked");
    screenshot(c, "job-blocked").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resolve_button_releases_the_jobs_parked_behind_an_incident() {
    let q = Queue::new(BAD_KEY);
    write_exe(&q.sb.path("bin/claude"), BAD_KEY_CLI, 0o755);
    for n in 0..3 {
        q.enqueue(&format!("review {n}"), None);
    }
    assert_eq!(q.drain(), Some(101));
    let jobs = q.json(&["jobs", "--limit", "0"]);
    let parked: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["state"] == "parked")
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(parked.len(), 1, "{jobs:#}");
    let incidents = q.json(&["incidents", "--open"]);
    assert_eq!(
        incidents[0]["classifier"], "auth_unavailable",
        "{incidents:#}"
    );
    let incident = incidents[0]["id"].as_str().unwrap().to_string();

    // With a token: the page and its resolve request ride the session cookie.
    let serve = Serve::start(&q, &[("AGENTLANE_TOKEN", TOKEN)]);
    let Some(b) = browser().await else { return };
    let c = &b.client;
    sign_in(&b, &serve.base, TOKEN).await;
    wait_until(
        c,
        "the overview after signing in",
        "location.pathname === '/' && document.querySelector('li.incident')",
    )
    .await;
    c.goto(&format!("{}/incidents/{incident}", serve.base))
        .await
        .unwrap();
    wait_until(
        c,
        "the incident's parked job",
        &format!(
            "document.querySelector('#incident-jobs tr[data-job=\"{}\"][data-state=\"parked\"]')",
            parked[0]
        ),
    )
    .await;
    wait_until(
        c,
        "the script running",
        "document.getElementById('live').dataset.state !== 'static'",
    )
    .await;
    screenshot(c, "incident-open").await;
    // Found and clicked in one step in the page: a live refresh may swap the
    // fragment (and the button) between a WebDriver find and its click.
    c.execute(
        "document.querySelector('button#resolve').click(); return true;",
        vec![],
    )
    .await
    .unwrap();
    wait_until(
        c,
        "the resolve answer",
        "document.getElementById('resolve-result').dataset.outcome",
    )
    .await;
    let outcome = eval(
        c,
        "document.getElementById('resolve-result').dataset.outcome",
    )
    .await;
    let said = eval(c, "document.getElementById('resolve-result').textContent").await;
    assert_eq!(outcome, "resolved", "{said}");
    // The page shows it resolved, without a reload.
    wait_until(
        c,
        "the incident resolved",
        "document.querySelector('#incident-facts[data-state=\"resolved\"]')",
    )
    .await;
    screenshot(c, "incident-resolved").await;

    // The store: the parked job is queued again, the incident resolved.
    let jobs = q.json(&["jobs", "--limit", "0"]);
    let parked_now = jobs
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["state"] == "parked")
        .count();
    assert_eq!(parked_now, 0, "{jobs:#}");
    let released = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == parked[0])
        .unwrap();
    assert_eq!(released["state"], "queued", "{released:#}");
    assert!(q
        .json(&["incidents", "--open"])
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_form_lets_a_browser_in_with_the_token_only() {
    let q = Queue::new(MISSING_CLI);
    let serve = Serve::start(&q, &[("AGENTLANE_TOKEN", TOKEN)]);
    let Some(b) = browser().await else { return };
    let c = &b.client;
    sign_in(&b, &serve.base, "not-the-token-not-the-token").await;
    wait_until(c, "the refusal", "document.querySelector('.error') && document.querySelector('.error').textContent.includes('not this server')").await;
    assert_eq!(
        eval(c, "document.cookie.includes('agentlane_session')").await,
        Value::Bool(false)
    );
    sign_in(&b, &serve.base, TOKEN).await;
    wait_until(c, "the overview", "location.pathname === '/' && document.querySelector('h1') && document.querySelector('h1').textContent === 'Overview'").await;
    // The session lets the page's script read its fragments too.
    c.goto(&format!("{}/fragments/routes", serve.base))
        .await
        .unwrap();
    wait_until(
        c,
        "a fragment",
        "document.querySelector('tr[data-route=\"broken\"]')",
    )
    .await;
    screenshot(c, "signed-in").await;
}
