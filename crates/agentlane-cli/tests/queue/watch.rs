//! Watching the queue live (issue 16): `jobs --follow` prints each job's
//! transitions as the store shows them; `status --watch` prints a new block
//! when the counts change. Both read only the store, so they work from any
//! host; both end with status 0 on Ctrl-C (SIGINT).

use std::io::{BufRead, BufReader};
use std::sync::mpsc;

use super::*;

/// A watcher that is killed if the test ends without interrupting it.
struct Watcher(Option<Child>);

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Spawns a watcher; its stdout lines arrive on the channel.
fn watcher(q: &Queue, args: &[&str]) -> (Watcher, mpsc::Receiver<String>) {
    let mut child = Command::new(agentlane())
        .args(["--home", q.sb.home().to_str().unwrap()])
        .args(["--config", q.config.to_str().unwrap()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Watcher(Some(child)), rx)
}

/// Lines until one satisfies `ok` (or a minute passes).
fn until(rx: &mpsc::Receiver<String>, what: &str, ok: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let done = ok(&line);
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(_) => panic!("no line with {what}; saw {seen:#?}"),
        }
    }
}

fn interrupt(mut w: Watcher) -> Option<i32> {
    let mut child = w.0.take().unwrap();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait().unwrap().code()
}

fn ok_queue() -> Queue {
    Queue::new(
        r#"
[routes.ok]
profile = "generic"
program = "$FAKE"
args = ["--stdout", "done"]
[kinds.k]
routes = ["ok"]
[lanes.main]
routes = ["ok"]
"#,
    )
}

#[test]
fn jobs_follow_prints_each_transition_as_the_store_shows_it() {
    let q = ok_queue();
    let old = q.enqueue("k", "before the watch");
    let (child, rx) = watcher(&q, &["jobs", "--follow", "--interval", "0.5", "--json"]);
    std::thread::sleep(Duration::from_millis(800));
    let id = q.enqueue("k", "during the watch");
    let lines = until(&rx, "the new job", |l| l.contains(&id));
    let first: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(first["from"], Value::Null, "a new job: {first}");
    assert_eq!(first["to"], "queued");
    assert_eq!(q.drain("1").status.code(), Some(0));
    let succeeded = |l: &str, id: &str| l.contains(id) && l.contains("\"to\":\"succeeded\"");
    let mut lines = Vec::new();
    while !(lines.iter().any(|l: &String| succeeded(l, &id))
        && lines.iter().any(|l: &String| succeeded(l, &old)))
    {
        // The job enqueued before the watch began is followed too.
        lines.extend(until(&rx, "both successes", |l| {
            succeeded(l, &id) || succeeded(l, &old)
        }));
    }
    let done: Value =
        serde_json::from_str(lines.iter().find(|l| succeeded(l, &id)).unwrap()).unwrap();
    assert_eq!(done["attempt"], 1);
    assert_eq!(interrupt(child), Some(0), "Ctrl-C ends it cleanly");
}

#[test]
fn status_watch_prints_a_new_block_when_the_counts_change() {
    let q = ok_queue();
    let (child, rx) = watcher(&q, &["status", "--watch", "0.5", "--json"]);
    let lines = until(&rx, "a first block", |l| l.starts_with('{'));
    assert!(lines.last().unwrap().contains("\"lanes\":[]"), "{lines:?}");
    q.enqueue("k", "one");
    let lines = until(&rx, "the queued job", |l| {
        l.contains("\"state\":\"queued\"")
    });
    assert!(
        lines.iter().any(|l| l.starts_with("--- ")),
        "a piped block is stamped: {lines:?}"
    );
    assert_eq!(interrupt(child), Some(0));
    let out = q.cli(&["status", "--watch", "100ms"]);
    assert_eq!(
        out.status.code(),
        Some(64),
        "too fast an interval is refused"
    );
}
