//! Running the cells: as jobs in a private lane, through the worker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::class::{Class, NAMED_CLASSES};
use crate::config::{Config, Kind, Lane};
use crate::dispatch::Dispatcher;
use crate::queue::worker::{run_worker, WorkerError, WorkerOptions};
use crate::queue::{JobFilter, NewJob};
use crate::retry::{default_policy, Action, Policy, RetryTable};

use super::{Cell, Row};

/// One attempt per cell: the matrix wants each cell's first answer, so every
/// class fails at once instead of retrying or parking.
fn one_attempt() -> RetryTable {
    let fail = Policy {
        action: Action::Fail,
        ..default_policy(Class::Ok)
    };
    let mut table = RetryTable::default();
    for class in NAMED_CLASSES {
        table.classes.insert(class.label(), fail.clone());
    }
    table.classes.insert("unknown_exit".into(), fail);
    table
}

/// The configuration the matrix's worker runs with: the cells' routes, one
/// permissive kind, one lane, one attempt per cell.
fn matrix_config(
    config: &Config,
    cells: &[Cell],
    lane: &str,
    parallel: usize,
    cell_timeout: Option<Duration>,
) -> Config {
    let mut derived = config.clone();
    derived.routes = cells
        .iter()
        .map(|c| {
            let mut route = c.route.clone();
            if cell_timeout.is_some() {
                route.timeout = cell_timeout;
            }
            (route.name.clone(), route)
        })
        .collect();
    derived.kinds = BTreeMap::from([(
        "matrix".to_string(),
        Kind {
            name: "matrix".into(),
            ..Kind::default()
        },
    )]);
    derived.lanes = BTreeMap::from([(
        lane.to_string(),
        Lane {
            name: lane.to_string(),
            routes: derived.routes.keys().cloned().collect(),
            concurrency: Some(parallel.max(1) as u32),
            budget_usd_per_day: None,
        },
    )]);
    derived.retry = one_attempt();
    // The cells fail on purpose: they are evidence, not alerts.
    derived.alerts = Default::default();
    derived
}

fn str_field(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key).and_then(|x| x.as_str()).map(str::to_string)
}

/// Runs the cells through the worker and returns one row per cell, in plan order.
/// `progress(done, total)` is called as cells finish.
pub async fn run_matrix(
    dispatcher: Arc<Dispatcher>,
    store: Arc<dyn crate::store::Store>,
    config: &Config,
    cells: &[Cell],
    parallel: usize,
    cell_timeout: Option<Duration>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vec<Row>, WorkerError> {
    let lane = format!(
        "matrix-{}",
        &uuid::Uuid::now_v7().simple().to_string()[..16]
    );
    let derived = Arc::new(matrix_config(config, cells, &lane, parallel, cell_timeout));
    let total = cells.len();
    let jobs: Vec<NewJob> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| NewJob {
            kind: "matrix".into(),
            lane: lane.clone(),
            route: c.route.name.clone(),
            prompt: c.prompt.clone(),
            fields: BTreeMap::new(),
            // Plan order: the baseline first.
            priority: (total - i) as i64,
            key: None,
            label: None,
        })
        .collect();
    let ids = store.enqueue(&jobs).await?;
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let options = WorkerOptions {
        lane: lane.clone(),
        concurrency: parallel.max(1),
        drain: true,
        kind: "matrix".into(),
        ungated: true,
        clock: crate::queue::worker::Clock::system(),
        metrics: None,
    };
    let worker = run_worker(dispatcher.clone(), store.clone(), derived, options, stop);
    tokio::pin!(worker);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            done = &mut worker => { done?; break; }
            _ = tick.tick() => {
                let finished = store
                    .jobs(&JobFilter { lane: Some(lane.clone()), limit: 0, ..Default::default() })
                    .await?
                    .iter()
                    .filter(|j| j.finished_at().is_some())
                    .count();
                progress(finished as u64, total as u64);
            }
        }
    }
    progress(total as u64, total as u64);
    let mut rows = Vec::with_capacity(total);
    for (cell, id) in cells.iter().zip(&ids) {
        let job = store.job(id).await?;
        let dispatch_id = job.as_ref().and_then(|j| j.last_dispatch_id.clone());
        let record = match &dispatch_id {
            Some(d) => store.dispatch(d).await?,
            None => None,
        };
        let report = record
            .as_ref()
            .and_then(|r| r.report.clone())
            .unwrap_or_default();
        rows.push(Row {
            dispatch_id,
            worker_kind: cell.worker_kind.clone(),
            queue_id: id.clone(),
            route: cell
                .route
                .name
                .split('#')
                .next()
                .unwrap_or_default()
                .to_string(),
            program: cell.route.program.clone(),
            cwd: str_field(&report, "cwd"),
            argv: report
                .get("argv")
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            cli_path: str_field(&report, "cli_path"),
            env_fingerprint: report
                .get("env_fingerprint")
                .and_then(|f| str_field(f, "id")),
            prompt_bytes: report
                .get("prompt_bytes")
                .and_then(|x| x.as_u64())
                .unwrap_or(cell.prompt.len() as u64),
            exit_code: report
                .get("exit_code")
                .and_then(|x| x.as_i64())
                .map(|x| x as i32),
            signal: report
                .get("signal")
                .and_then(|x| x.as_i64())
                .map(|x| x as i32),
            duration_ms: report.get("duration_ms").and_then(|x| x.as_u64()),
            stderr_tail: str_field(&report, "stderr_tail").unwrap_or_default(),
            classifier: job
                .and_then(|j| j.classifier)
                .unwrap_or_else(|| "not_run".into()),
            repair_hint: str_field(&report, "repair_hint").unwrap_or_default(),
            dimension: cell.dimension,
            value: cell.value.clone(),
            expected: cell.expected.clone(),
        });
    }
    Ok(rows)
}
