//! The shape of the matrix, table-driven, and the plan's cells.

use std::path::Path;

use test_case::test_case;

use super::*;
use std::collections::BTreeMap;

fn row(dimension: Dimension, class: &str) -> Row {
    Row {
        dispatch_id: None,
        worker_kind: "local".into(),
        queue_id: "q".into(),
        route: "r".into(),
        program: "agent".into(),
        cwd: None,
        argv: vec![],
        cli_path: None,
        env_fingerprint: None,
        prompt_bytes: 0,
        exit_code: None,
        signal: None,
        duration_ms: None,
        stderr_tail: String::new(),
        classifier: class.into(),
        repair_hint: String::new(),
        dimension,
        value: String::new(),
        expected: None,
    }
}

#[test]
fn a_control_cell_that_fails_as_expected_does_not_decide_the_shape() {
    let mut control = row(Cwd, "cwd_missing");
    control.expected = Some("cwd_missing".into());
    let rows = vec![row(Baseline, "ok"), control.clone()];
    assert_eq!(shape(&rows).shape, Shape::Healthy);
    control.classifier = "ok".into(); // a route that ignores its cwd: not the control's class
    let rows = vec![row(Baseline, "ok"), control];
    assert_eq!(shape(&rows).shape, Shape::Healthy);
}

use Dimension::*;

/// A row from a table entry: `(dimension, class)`; a `Route` row runs another
/// route (`other`, or the name before `=` in `name=class`), and a class written
/// `control=CLASS` is the missing-cwd control cell that ended with CLASS.
fn table_row((dimension, spec): &(Dimension, &str)) -> Row {
    let mut r = row(*dimension, spec);
    r.value = dimension.label().to_string();
    if let Some(class) = spec.strip_prefix("control=") {
        r.classifier = class.into();
        r.value = "missing: /nonexistent".into();
        r.expected = Some("cwd_missing".into());
    } else if *dimension == Route {
        let (name, class) = spec.split_once('=').unwrap_or(("other", spec));
        r.route = name.into();
        r.program = format!("{name}-cli");
        r.classifier = class.into();
    }
    if r.classifier == "cli_missing" {
        r.repair_hint =
            "'agent' is not on this process's PATH (/usr/bin:/bin) nor in the usual install places"
                .into();
    } else if r.classifier == "ok" {
        r.cli_path = Some("/usr/bin/agent".into());
    }
    r
}

// Each case: the rows, the shape, the flipping dimension, words the repair
// must hold and words it must not.
#[test_case(&[(Baseline, "ok"), (Cwd, "ok"), (EnvSource, "ok")], Shape::Healthy, None, &["nothing to repair"], &[]; "all pass")]
#[test_case(&[(Baseline, "cli_missing"), (Cwd, "cli_missing"), (EnvSource, "cli_missing")], Shape::Universal, None, &["preflight", "'agent'", "resolved in none"], &["parity"]; "missing binary everywhere")]
#[test_case(&[(Baseline, "ok"), (Cwd, "ok"), (EnvSource, "cli_missing")], Shape::LaneSpecific, Some(EnvSource), &["parity", "env_source"], &[]; "thin env loses the binary")]
#[test_case(&[(Baseline, "cli_missing"), (EnvSource, "ok"), (Cwd, "cli_missing")], Shape::LaneSpecific, Some(EnvSource), &["parity"], &[]; "only the login shell finds it")]
#[test_case(&[(Baseline, "ok"), (User, "cwd_missing")], Shape::LaneSpecific, Some(User), &["parity", "user"], &[]; "the service user cannot read the repo")]
#[test_case(&[(Baseline, "ok"), (Cwd, "ok"), (Payload, "payload_invalid")], Shape::PayloadSpecific, Some(Payload), &["producer", "payload_invalid"], &[]; "a real payload fails")]
#[test_case(&[(Baseline, "auth_unavailable"), (Payload, "auth_unavailable")], Shape::Universal, None, &["preflight"], &[]; "payload cells do not rescue a universal failure")]
#[test_case(&[(Baseline, "auth_unavailable"), (Cwd, "auth_unavailable"), (EnvSource, "interpreter_missing")], Shape::LaneSpecific, Some(EnvSource), &["interpreter_missing instead of auth_unavailable"], &[]; "a thin env without node changes how it fails")]
// Issue 14: `matrix --route gone`, a program that exists nowhere, while
// another route passes: the route's own failure, not a flip on `route`.
#[test_case(&[(Baseline, "cli_missing"), (WorkerKind, "cli_missing"), (Cwd, "cli_missing"), (Cwd, "control=cwd_missing"), (EnvSource, "cli_missing"), (EnvSource, "cli_missing"), (Route, "echo=ok")], Shape::Universal, None, &["route 'r'", "the route's own", "Its program 'agent' resolved in none of its 5 contexts", "echo", "agentlane doctor --route r"], &["parity", "env diff"]; "a route missing everywhere is its own failure while another route passes")]
// Issue 14: `--route picky --job ID`: the job's prompt fails, the canary
// passes in every context, other routes differ — payload outranks them.
#[test_case(&[(Baseline, "ok"), (Cwd, "ok"), (Cwd, "control=cwd_missing"), (EnvSource, "ok"), (Payload, "payload_invalid"), (Route, "gone=cli_missing"), (Route, "echo=ok")], Shape::PayloadSpecific, Some(Payload), &["producer"], &["parity"]; "payload outranks a differing route")]
// Issue 14: no credentials on any agent route; the credential-free echo
// route passes. The agent route's own failure, not lane-specific.
#[test_case(&[(Baseline, "auth_unavailable"), (WorkerKind, "auth_unavailable"), (Cwd, "auth_unavailable"), (EnvSource, "auth_unavailable"), (Route, "echo=ok"), (Route, "codex=auth_unavailable")], Shape::Universal, None, &["auth_unavailable in every one of its contexts", "log in", "echo"], &["parity"]; "no credentials anywhere while a credential-free route passes")]
// A route that passes everywhere while another route fails: healthy for
// this route (the other is only a comparison).
#[test_case(&[(Baseline, "ok"), (EnvSource, "ok"), (Route, "gone=cli_missing")], Shape::Healthy, None, &["every cell of route 'r' passed"], &[]; "another route failing does not make this one lane-specific")]
// Controls are never evidence: not when they end as expected, not when a
// route that ignores its cwd passes there, not when they fail otherwise.
#[test_case(&[(Baseline, "ok"), (Cwd, "control=cwd_missing")], Shape::Healthy, None, &[], &[]; "an expected control does not fail a healthy route")]
#[test_case(&[(Baseline, "cli_missing"), (Cwd, "control=ok")], Shape::Universal, None, &["the route's own"], &[]; "a control that passes does not rescue a failing route")]
#[test_case(&[(Baseline, "ok"), (EnvSource, "ok"), (Cwd, "control=cli_missing")], Shape::Healthy, None, &[], &[]; "a control that fails otherwise does not make a lane-specific verdict")]
fn shapes(
    rows: &[(Dimension, &str)],
    expected: Shape,
    dimension: Option<Dimension>,
    contains: &[&str],
    absent: &[&str],
) {
    let rows: Vec<Row> = rows.iter().map(table_row).collect();
    let v = shape(&rows);
    assert_eq!(v.shape, expected, "{v:#?}");
    assert_eq!(v.dimension, dimension, "{v:#?}");
    assert_ne!(
        v.dimension,
        Some(Route),
        "another route never flips this route's verdict"
    );
    assert_eq!(v.route, "r");
    assert!(!v.repair_address.is_empty());
    for word in contains {
        assert!(
            v.repair_address.contains(word),
            "repair lacks {word:?}: {}",
            v.repair_address
        );
    }
    for word in absent {
        assert!(
            !v.repair_address.contains(word),
            "repair holds {word:?}: {}",
            v.repair_address
        );
    }
    let others: Vec<&str> = rows
        .iter()
        .filter(|r| r.dimension == Route)
        .map(|r| r.route.as_str())
        .collect();
    let compared: Vec<&str> = v.comparison.iter().map(|c| c.route.as_str()).collect();
    assert_eq!(
        compared, others,
        "other routes are shown beside the verdict"
    );
}

#[test]
fn a_control_that_does_not_answer_as_expected_is_a_note() {
    let rows: Vec<Row> = [(Baseline, "ok"), (Cwd, "control=cli_missing")]
        .iter()
        .map(table_row)
        .collect();
    let v = shape(&rows);
    assert_eq!(v.notes.len(), 1, "{v:#?}");
    assert!(
        v.notes[0].contains("ended cli_missing, not cwd_missing"),
        "{}",
        v.notes[0]
    );
}

#[test_case(Shape::Universal, "universal")]
#[test_case(Shape::LaneSpecific, "lane_specific")]
#[test_case(Shape::PayloadSpecific, "payload_specific")]
#[test_case(Shape::Healthy, "healthy")]
fn shapes_print_as_the_contract_labels(shape: Shape, label: &str) {
    assert_eq!(shape.label(), label);
    assert_eq!(shape.to_string(), label);
    assert_eq!(
        serde_json::to_value(shape).unwrap(),
        serde_json::json!(label)
    );
}

#[test]
fn the_plan_varies_one_dimension_at_a_time() {
    let cfg = crate::config::parse(
        Path::new("a.toml"),
        "[routes.a]\nprofile = \"claude\"\n[routes.b]\nprofile = \"codex\"\n[kinds.k]\nmax_prompt_bytes = 100\n",
    )
    .unwrap();
    let mut worker_env = BTreeMap::new();
    worker_env.insert("HOME".to_string(), "/home/w".to_string());
    let inputs = PlanInputs {
        login_env: Some(BTreeMap::new()),
        worker_env,
        temp_dir: "/tmp/x".into(),
        missing_dir: "/nonexistent".into(),
        job_payload: Some("real".into()),
        max_prompt_bytes: Some(100),
        ..PlanInputs::default()
    };
    let cells = plan(&cfg, &cfg.routes["a"], &inputs).expect("every user exists");
    let dims: Vec<&str> = cells.iter().map(|c| c.dimension.label()).collect();
    assert_eq!(
        dims,
        vec![
            "baseline",
            "cwd",
            "cwd",
            "env_source",
            "env_source",
            "payload",
            "payload",
            "route"
        ]
    );
    let thin = cells.iter().find(|c| c.value == "thin_service").unwrap();
    assert_eq!(
        thin.route.base_env.as_ref().unwrap()["PATH"],
        "/usr/bin:/bin"
    );
    assert_eq!(thin.route.base_env.as_ref().unwrap()["HOME"], "/home/w");
    let at_limit = cells
        .iter()
        .find(|c| c.value.starts_with("at the contract limit"))
        .unwrap();
    assert_eq!(at_limit.prompt.len(), 100);
    assert!(cells
        .iter()
        .all(|c| c.route.name.starts_with(&c.route.name[..1])));
    let names: std::collections::BTreeSet<&str> =
        cells.iter().map(|c| c.route.name.as_str()).collect();
    assert_eq!(
        names.len(),
        cells.len(),
        "every cell runs on its own derived route"
    );
    let other = cells
        .iter()
        .find(|c| c.dimension == Dimension::Route)
        .unwrap();
    assert_eq!(other.value, "b");
    assert!(other.route.name.starts_with("b#"), "{}", other.route.name);
    let only = plan(
        &cfg,
        &cfg.routes["a"],
        &PlanInputs {
            only: Some(Dimension::Cwd),
            ..inputs.clone()
        },
    )
    .expect("every user exists");
    assert!(only
        .iter()
        .all(|c| matches!(c.dimension, Dimension::Baseline | Dimension::Cwd)));
    let capped = plan(
        &cfg,
        &cfg.routes["a"],
        &PlanInputs {
            max_cells: Some(3),
            ..inputs
        },
    )
    .expect("every user exists");
    assert_eq!(capped.len(), 3);
}

#[test]
fn each_configured_worker_kind_is_a_cell_in_its_context() {
    let cfg = crate::config::parse(
        Path::new("a.toml"),
        "[routes.a]\nprofile = \"claude\"\n[workers.cron]\nenv_clear = true\nenv = { PATH = \"/usr/bin:/bin\" }\n",
    )
    .unwrap();
    let cells = plan(
        &cfg,
        &cfg.routes["a"],
        &PlanInputs {
            only: Some(Dimension::WorkerKind),
            ..PlanInputs::default()
        },
    )
    .expect("every user exists");
    let cron = cells
        .iter()
        .find(|c| c.dimension == Dimension::WorkerKind)
        .expect("a worker-kind cell");
    assert_eq!(cron.worker_kind, "cron");
    let base = cron
        .route
        .base_env
        .as_ref()
        .expect("the kind's environment");
    assert_eq!(base.get("PATH").map(String::as_str), Some("/usr/bin:/bin"));
    assert_eq!(
        base.len(),
        1,
        "env_clear: nothing of the matrix's own environment"
    );
}
