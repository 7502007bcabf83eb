//! The shape of the matrix, table-driven, and the plan's cells.

use std::path::Path;

use test_case::test_case;

use super::*;

fn row(dimension: Dimension, class: &str) -> Row {
    Row {
        dispatch_id: None,
        worker_kind: "local".into(),
        queue_id: "q".into(),
        route: "r".into(),
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

#[test_case(&[(Baseline, "ok"), (Cwd, "ok"), (EnvSource, "ok")], Shape::Healthy, None; "all pass")]
#[test_case(&[(Baseline, "cli_missing"), (Cwd, "cli_missing"), (EnvSource, "cli_missing")], Shape::Universal, None; "missing binary everywhere")]
#[test_case(&[(Baseline, "ok"), (Cwd, "ok"), (EnvSource, "cli_missing")], Shape::LaneSpecific, Some(EnvSource); "thin env loses the binary")]
#[test_case(&[(Baseline, "cli_missing"), (EnvSource, "ok"), (Cwd, "cli_missing")], Shape::LaneSpecific, Some(EnvSource); "only the login shell finds it")]
#[test_case(&[(Baseline, "ok"), (User, "cwd_missing")], Shape::LaneSpecific, Some(User); "the service user cannot read the repo")]
#[test_case(&[(Baseline, "ok"), (Cwd, "ok"), (Payload, "payload_invalid")], Shape::PayloadSpecific, Some(Payload); "a real payload fails")]
#[test_case(&[(Baseline, "auth_unavailable"), (Payload, "auth_unavailable")], Shape::Universal, None; "payload cells do not rescue a universal failure")]
#[test_case(&[(Baseline, "auth_unavailable"), (Cwd, "auth_unavailable"), (EnvSource, "interpreter_missing")], Shape::LaneSpecific, Some(EnvSource); "a thin env without node changes how it fails")]
fn shapes(rows: &[(Dimension, &str)], expected: Shape, dimension: Option<Dimension>) {
    let rows: Vec<Row> = rows.iter().map(|(d, c)| row(*d, c)).collect();
    let v = shape(&rows);
    assert_eq!(v.shape, expected);
    assert_eq!(v.dimension, dimension);
    assert!(!v.repair_address.is_empty());
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
    let cells = plan(&cfg, &cfg.routes["a"], &inputs);
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
    );
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
    );
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
    );
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
