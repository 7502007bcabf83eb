//! `enqueue` through the real binary (issue 16): a `--jsonl` file is
//! checked whole and stored all or nothing, every bad line reported; an
//! idempotency key makes re-submission store each job once.

use super::*;

fn intake() -> Queue {
    Queue::new(
        r#"
[routes.r]
profile = "generic"
program = "$FAKE"
[kinds.k]
routes = ["r"]
max_prompt_bytes = 20
[lanes.main]
"#,
    )
}

fn submit(q: &Queue, body: &str, json: bool) -> std::process::Output {
    let file = q.sb.path("jobs.jsonl");
    std::fs::write(&file, body).unwrap();
    let mut args = vec!["enqueue", "--jsonl", file.to_str().unwrap()];
    if json {
        args.push("--json");
    }
    q.cli(&args)
}

#[test]
fn a_jsonl_file_with_good_and_bad_lines_stores_nothing_and_lists_every_bad_line() {
    let q = intake();
    let body = "{\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"fine\"}\n\
                {\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"this prompt is longer than twenty bytes\"}\n\
                not json\n\
                {\"kind\":\"k\",\"lane\":\"main\"}\n\
                \n\
                {\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"ok\",\"key\":\"a\\tb\"}\n\
                {\"kind\":\"k\",\"lane\":\"nowhere\",\"prompt\":\"ok\"}\n\
                {\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"also fine\",\"priority\":5}\n";
    let out = submit(&q, body, true);
    assert_eq!(out.status.code(), Some(65), "PAYLOAD_INVALID");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["enqueued"], serde_json::json!([]), "{v}");
    let refused: Vec<(u64, Value)> = v["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["field"].clone()))
        .collect();
    assert_eq!(
        refused,
        vec![
            (2, "prompt".into()),
            (3, Value::Null),
            (4, "prompt".into()),
            (6, "key".into()),
            (7, "lane".into()),
        ],
        "{v}"
    );
    assert!(v["refused"][0]["message"]
        .as_str()
        .unwrap()
        .contains("at most 20"));
    assert!(q.jobs().is_empty(), "one bad line stores nothing");

    // The text form lists every bad line on stderr, with its field.
    let out = submit(&q, body, false);
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "line 2 refused: payload_invalid: prompt: ",
        "line 3 refused: payload_invalid: not JSON",
        "line 4 refused: payload_invalid: prompt: missing field `prompt`",
        "line 6 refused: payload_invalid: key: ",
        "line 7 refused: config_invalid: lane: ",
        "nothing was enqueued: 5 of 7 lines refused",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in:\n{stderr}");
    }
    assert!(out.stdout.is_empty());
    assert!(q.jobs().is_empty());

    // Fixed, the same file stores every line in one go.
    let fixed = "{\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"fine\"}\n\
                 {\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"also fine\",\"priority\":5}\n";
    let out = submit(&q, fixed, false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(q.jobs().len(), 2);
}

#[test]
fn a_jsonl_file_submitted_twice_with_keys_stores_each_job_once() {
    let q = intake();
    let body = "{\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"one\",\"key\":\"T-1\"}\n\
                {\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"two\",\"key\":\"T-2\"}\n\
                {\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"one again\",\"key\":\"T-1\"}\n\
                {\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"no key\"}\n";
    let first = submit(&q, body, true);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let first: Value = serde_json::from_slice(&first.stdout).unwrap();
    let rows = first["enqueued"].as_array().unwrap();
    let existed: Vec<bool> = rows
        .iter()
        .map(|r| r["existed"].as_bool().unwrap())
        .collect();
    assert_eq!(existed, [false, false, true, false], "{first}");
    assert_eq!(
        rows[2]["id"], rows[0]["id"],
        "a key repeated in the file: the first line wins"
    );
    assert_eq!(q.jobs().len(), 3);

    let again = submit(&q, body, false);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let text = String::from_utf8_lossy(&again.stdout);
    let id = |i: usize| rows[i]["id"].as_str().unwrap().to_string();
    assert!(
        text.contains(&format!(
            "line 1: key \"T-1\" already enqueued as {}",
            id(0)
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "line 3: key \"T-1\" repeats line 1: job {}",
            id(0)
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "line 2: key \"T-2\" already enqueued as {}",
            id(1)
        )),
        "{text}"
    );
    // The keyed jobs are stored once; only the unkeyed line adds a job.
    assert_eq!(q.jobs().len(), 4);
    let stored = q.job(&id(0));
    assert_eq!(stored["key"], "T-1", "{stored}");
    assert_eq!(q.job(&id(1))["key"], "T-2");
    let unkeyed = q.job(rows[3]["id"].as_str().unwrap());
    assert!(unkeyed.get("key").is_none(), "no key, no field: {unkeyed}");
}

#[test]
fn enqueue_with_a_taken_key_prints_the_existing_id_and_adds_nothing() {
    let q = intake();
    let args = [
        "enqueue", "--kind", "k", "--lane", "main", "--prompt", "hello", "--key", "PR-7",
    ];
    let first = q.cli(&args);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let id = String::from_utf8_lossy(&first.stdout).trim().to_string();
    let second = q.cli(&args);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&second.stdout).trim(), id);
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already taken"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let mut json = args.to_vec();
    json.push("--json");
    let v: Value = serde_json::from_slice(&q.cli(&json).stdout).unwrap();
    assert_eq!(
        (v["id"].as_str(), v["existed"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    assert_eq!(q.jobs().len(), 1);

    let bad = q.cli(&[
        "enqueue", "--kind", "k", "--lane", "main", "--prompt", "hello", "--key", "",
    ]);
    assert_eq!(bad.status.code(), Some(65));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("refused: payload_invalid: key: the key is empty"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert_eq!(q.jobs().len(), 1);
}

/// Fifty rows of one kind looked alike: a label (`--label`, a line's
/// `label`) names each job in `jobs` and `job`; a label is refused when it
/// is too long or looks like a credential.
#[test]
fn a_label_names_the_job_in_the_lists_and_is_refused_when_it_holds_a_secret() {
    let q = intake();
    let out = q.cli(&[
        "enqueue",
        "--kind",
        "k",
        "--lane",
        "main",
        "--prompt",
        "one",
        "--label",
        "review PR 1234",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let out = submit(
        &q,
        "{\"kind\":\"k\",\"lane\":\"main\",\"prompt\":\"two\",\"label\":\"lead 42\"}\n",
        false,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&q.cli(&["jobs"]).stdout).into_owned();
    assert!(
        listed.contains("review PR 1234") && listed.contains("lead 42"),
        "{listed}"
    );
    assert_eq!(q.job(&id)["label"], "review PR 1234");
    let shown = String::from_utf8_lossy(&q.cli(&["job", &id]).stdout).into_owned();
    assert!(shown.contains("label      review PR 1234"), "{shown}");

    for (label, why) in [
        ("x".repeat(121), "over the limit"),
        (
            "sk-proj-abcdefghijklmnopqrstuvwxyz012345".to_string(),
            "secret",
        ),
    ] {
        let out = q.cli(&[
            "enqueue", "--kind", "k", "--lane", "main", "--prompt", "three", "--label", &label,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(65), "{stderr}");
        assert!(stderr.contains("label") && stderr.contains(why), "{stderr}");
        assert!(
            !stderr.contains("abcdefghijklmnopqrstuvwxyz012345"),
            "the secret is not echoed: {stderr}"
        );
    }
    assert_eq!(q.jobs().len(), 2, "nothing refused was stored");
}

#[test]
fn a_bad_file_is_refused_as_such_even_when_the_store_is_down() {
    let q = intake();
    let file = q.sb.path("jobs.jsonl");
    std::fs::write(
        &file,
        "{\"kind\":\"nope\",\"lane\":\"main\",\"prompt\":\"x\"}\n",
    )
    .unwrap();
    // Port 1: nothing listens; the refusal must not need the store.
    let out = q.cli(&[
        "--store",
        "postgres://nobody@127.0.0.1:1/none",
        "enqueue",
        "--jsonl",
        file.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(65),
        "a payload refusal, not a store error: {err}"
    );
    assert!(err.contains("line 1 refused"), "{err}");
}
