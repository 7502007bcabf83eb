//! `serve --workers`: the server hosts the worker code `agentlane worker`
//! runs, on its own store, and stops it with itself.

use serde_json::json;

use crate::server::Server;

#[test]
fn hosted_workers_run_jobs_enqueued_through_the_api_and_stop_with_the_server() {
    let s = Server::start(&["--workers", "main=2"], &[]);
    let ids: Vec<String> = (0..3)
        .map(|i| {
            let a = s.post(
                "/api/v1/jobs",
                &json!({"kind": "k", "lane": "main", "prompt": format!("job {i}")}).to_string(),
            );
            assert_eq!(a.status, 201, "{}", a.body);
            a.json()["job"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    for id in &ids {
        s.until(60, "the hosted worker to finish the job", || {
            let j = s.ok(&format!("/api/v1/jobs/{id}"));
            (j["job"]["state"] == "succeeded").then_some(())
        });
    }
    // The hosted workers' counters are on the server's own /metrics.
    let m = s.get("/metrics").body;
    let ran = m
        .lines()
        .find(|l| {
            l.starts_with("agentlane_dispatches_total{")
                && l.contains("route=\"good\"")
                && l.contains("class=\"ok\"")
        })
        .unwrap_or_else(|| panic!("the hosted workers' dispatches: {m}"));
    assert!(ran.trim_end().ends_with(" 3"), "three runs counted: {ran}");
    let (code, err) = s.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("hosting a worker for lane main (2 at once)"),
        "{err}"
    );
    assert!(
        err.contains("worker for lane main stopped: claimed 3"),
        "{err}"
    );
}

#[test]
fn workers_for_a_lane_the_configuration_lacks_are_refused_before_serving() {
    let sb = crate::common::Sandbox::new();
    let config = sb.path("agentlane.toml");
    std::fs::write(
        &config,
        crate::server::config_body()
            .replace("$FAKE", "/bin/true")
            .replace("$DIR", "/tmp"),
    )
    .unwrap();
    let out = sb.run(&[
        "--config",
        config.to_str().unwrap(),
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--workers",
        "nowhere=1",
    ]);
    assert_eq!(
        out.status.code(),
        Some(78),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sb.run(&["serve", "--listen", "127.0.0.1:0", "--workers", "main=0"]);
    assert_eq!(
        out.status.code(),
        Some(64),
        "a usage error refuses N=0: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
