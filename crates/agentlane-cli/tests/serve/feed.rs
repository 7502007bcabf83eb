//! The live feed: events arrive while they happen, filtered by lane and
//! kind, numbered by the store's sequence, and a client that reconnects with
//! `Last-Event-ID` gets what it missed.

use serde_json::{json, Value};

use crate::server::{next_event, Server, Sse};

fn until_kind(rx: &std::sync::mpsc::Receiver<String>, kind: &str, job: &str) -> Vec<Sse> {
    let mut seen = Vec::new();
    loop {
        let e = next_event(rx, 60)
            .unwrap_or_else(|| panic!("no {kind} event for job {job} within 60 s; saw {seen:?}"));
        let data: Value = serde_json::from_str(&e.data)
            .unwrap_or_else(|err| panic!("data is not JSON ({err}): {e:?}"));
        let done = e.event.as_deref() == Some(kind) && data["job_id"] == job;
        seen.push(e);
        if done {
            return seen;
        }
    }
}

#[test]
fn events_arrive_live_filtered_by_lane_and_resume_after_the_last_id() {
    let s = Server::start(&[], &[]);
    let (answer, main_rx) = s.stream("/api/v1/events?lane=main", &[]);
    assert_eq!(answer.status, 200);
    assert!(
        answer.content_type.starts_with("text/event-stream"),
        "{}",
        answer.content_type
    );
    let (_, broken_rx) = s.stream(
        "/api/v1/events?lane=broken&kinds=runner_classified_failure",
        &[],
    );
    // No wait here: the feed follows the store from the server's start, so
    // what is stored after a client connected reaches it.

    let enq = |lane: &str| {
        let a = s.post(
            "/api/v1/jobs",
            &json!({"kind": "k", "lane": lane, "prompt": "feed"}).to_string(),
        );
        assert_eq!(a.status, 201, "{}", a.body);
        a.json()["job"]["id"].as_str().unwrap().to_string()
    };
    let ok_job = enq("main");
    let bad_job = enq("broken");
    s.drain("main");
    s.drain("broken");

    let main_events = until_kind(&main_rx, "runner_exit", &ok_job);
    let kinds: Vec<&str> = main_events
        .iter()
        .filter_map(|e| e.event.as_deref())
        .collect();
    assert!(
        kinds.contains(&"runner_prepare"),
        "the prepare comes before the exit: {kinds:?}"
    );
    let ids: Vec<i64> = main_events
        .iter()
        .map(|e| e.id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids are the store's increasing sequence: {ids:?}"
    );
    for e in &main_events {
        let data: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(
            data["lane"], "main",
            "a lane's stream carries only its lane: {data}"
        );
        assert_eq!(data["seq"].to_string(), e.id.clone().unwrap());
    }

    let broken = until_kind(&broken_rx, "runner_classified_failure", &bad_job);
    for e in &broken {
        assert_eq!(
            e.event.as_deref(),
            Some("runner_classified_failure"),
            "kinds filter: {e:?}"
        );
    }
    let failure: Value = serde_json::from_str(&broken.last().unwrap().data).unwrap();
    assert_eq!(
        failure["body"]["classifier"], "auth_unavailable",
        "{failure}"
    );

    // Reconnect after the first event: the rest is replayed from the store.
    let first = ids[0];
    let (_, again) = s.stream(
        "/api/v1/events?lane=main",
        &[("Last-Event-ID", &first.to_string())],
    );
    let replay = until_kind(&again, "runner_exit", &ok_job);
    let replayed: Vec<i64> = replay
        .iter()
        .map(|e| e.id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(
        replayed.iter().all(|&i| i > first),
        "only what came after the last id: {replayed:?}"
    );
    assert_eq!(
        replayed,
        ids[1..].to_vec(),
        "the same events, in the same order"
    );

    let bad = s.call(
        "GET",
        "/api/v1/events",
        None,
        &[("Last-Event-ID", "yesterday")],
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
}

#[test]
fn an_event_stored_right_after_a_client_connects_reaches_it() {
    let s = Server::start(&[], &[]);
    // Let the server's poller take its head, as a running server has.
    std::thread::sleep(std::time::Duration::from_millis(600));
    let (_, rx) = s.stream("/api/v1/events?kinds=operator_action", &[]);
    // At once: a poller that took its head only after a client connected
    // (up to one interval later) would skip this event.
    let p = s.post(
        "/api/v1/lanes/main/pause",
        &json!({"why": "feed gap"}).to_string(),
    );
    assert_eq!(p.status, 200, "{}", p.body);
    let e = next_event(&rx, 20).expect("the operator_action stored right after connecting");
    assert_eq!(e.event.as_deref(), Some("operator_action"));
    let data: Value = serde_json::from_str(&e.data).unwrap();
    assert!(data["body"].to_string().contains("feed gap"), "{data}");
}
