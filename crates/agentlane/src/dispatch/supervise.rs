//! Stage 3, supervise: wait, time out, reap, and never hang or leave survivors.
//!
//! ```text
//! spawned ──exit──────────────▶ drain pipes ──EOF──────────────▶ sweep ─▶ Exited
//!    │                              │ leak timeout: pipes still open
//!    │                              └▶ find pipe holders, kill the tree, drain the rest
//!    └─timeout / interrupt─▶ SIGTERM group + escaped descendants ─grace─▶ SIGKILL ─▶ drain
//! ```
//! The child runs in its own process group; descendants that left the group
//! (setsid) are found through the process tree and the dispatch marker, since
//! agentlane is a child subreaper. After every dispatch, whatever is left of
//! the tree is killed and reported as leaked: no survivors, no zombies.

use std::collections::HashSet;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::io::AsyncWriteExt;
use tokio::process::Child;
use tokio::sync::{watch, Notify};

use super::capture::{capture, Captured, Echo, Live};
use super::guard::Guard;
use super::launch::Running;
use super::proctree::{self, ProcInfo};
use super::watch::{Stop, Watch};
use super::{DispatchRequest, Interrupt};
use crate::classify::live::Origin;
use crate::classify::RuleSet;
use crate::events::{Artifacts, LeakedProcess};
use crate::model::termination::{Status, Termination};
use crate::redact::Redactor;

/// Bytes of each stream kept for the classifier (the report keeps fewer).
pub const CLASSIFY_TAIL: usize = 64 * 1024;
/// Grace for processes left behind after the agent exited.
const LEAK_GRACE: Duration = Duration::from_millis(250);
/// How often the tree is re-read while waiting for it to die.
const POLL: Duration = Duration::from_millis(20);

/// One stream's result.
pub(super) struct StreamResult {
    pub bytes: u64,
    pub tail: Vec<u8>,
    pub tail_truncated: bool,
    pub report_tail: Vec<u8>,
    pub artifact_error: Option<String>,
    pub artifact_truncated: bool,
    pub dropped_bytes: u64,
}

/// What supervision observed.
pub(super) struct Exited {
    pub termination: Termination,
    pub duration: Duration,
    pub stdout: StreamResult,
    pub stderr: StreamResult,
    pub artifacts: Artifacts,
    pub leaked: Vec<LeakedProcess>,
    pub child_home: Option<String>,
    pub child_path: Option<String>,
    pub child_tz: Option<String>,
    /// Why the watchdog stopped the run, when it did.
    pub watchdog: Option<Stop>,
    /// The process-tree snapshot taken before an idle stop.
    pub snapshot: Option<std::path::PathBuf>,
}

enum End {
    /// The child exited; `None` if its status was lost (reaped elsewhere:
    /// never expected, and reported as no status rather than a made-up code).
    Exited(Option<std::process::ExitStatus>),
    TimedOut,
    Interrupted(i32),
    /// The watchdog stopped it.
    Stopped(Stop),
}

/// Identifies the dispatch's processes.
struct Tree<'a> {
    pid: i32,
    marker: &'a str,
    running: &'a Arc<Mutex<HashSet<i32>>>,
}

impl Tree<'_> {
    fn others(&self) -> HashSet<i32> {
        let mut set = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        set.remove(&self.pid);
        set
    }

    /// Live (non-zombie) processes of the dispatch.
    fn live(&self) -> Vec<ProcInfo> {
        proctree::dispatch_processes(&proctree::scan(), self.pid, self.marker, &self.others())
            .into_iter()
            .filter(|p| p.state != 'Z')
            .collect()
    }

    /// Reaps adopted zombies; never a direct child of a running dispatch
    /// (this one's included): tokio waits for those itself.
    fn reap(&self) {
        // The lock is held while reaping, so no child can be spawned (and
        // exit) unregistered in between: see launch.rs.
        let keep = self.running.lock().unwrap_or_else(|p| p.into_inner());
        proctree::reap_adopted(&keep);
    }

    /// SIGTERM everything, wait up to `grace`, SIGKILL what is left, wait for it to go.
    async fn kill(&self, grace: Duration) {
        proctree::signal_group(self.pid, Signal::SIGTERM);
        proctree::signal_each(&pids(&self.live()), Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            self.reap();
            if self.live().is_empty() {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
        for _ in 0..50 {
            proctree::signal_group(self.pid, Signal::SIGKILL);
            let left = self.live();
            proctree::signal_each(&pids(&left), Signal::SIGKILL);
            self.reap();
            if left.is_empty() {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

fn pids(procs: &[ProcInfo]) -> Vec<i32> {
    procs.iter().map(|p| p.pid).collect()
}

fn leaked(procs: &[ProcInfo], holders: &[i32], redactor: &Redactor) -> Vec<LeakedProcess> {
    procs
        .iter()
        .map(|p| LeakedProcess {
            pid: p.pid,
            cmdline: redactor.redact(&proctree::cmdline(p.pid)).into_owned(),
            held_pipes: holders.contains(&p.pid),
        })
        .collect()
}

async fn wait_or_stop(
    child: &mut Child,
    timeout: Option<Duration>,
    interrupt: &mut Interrupt,
    watchdog: impl std::future::Future<Output = Stop>,
) -> End {
    let timer = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        status = child.wait() => match status {
            Ok(status) => End::Exited(Some(status)),
            Err(_) => End::Exited(None),
        },
        _ = timer => End::TimedOut,
        sig = interrupt.fired() => End::Interrupted(sig),
        stop = watchdog => End::Stopped(stop),
    }
}

/// Resolves when the watchdog says the run should stop.
async fn watchdog(watch: &std::sync::Mutex<Watch<'_>>, notify: &Notify) -> Stop {
    loop {
        let polled = watch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .poll(Instant::now());
        match polled {
            Ok(stop) => return stop,
            Err(Some(at)) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = notify.notified() => {}
                }
            }
            Err(None) => notify.notified().await,
        }
    }
}

/// Writes the process tree's snapshot (pid, state, wchan, command line,
/// open pipes) next to the artifacts; its path, when it could be written.
fn write_snapshot(
    dir: &std::path::Path,
    procs: &[ProcInfo],
    pipe_inodes: &[u64],
    redactor: &Redactor,
) -> Option<std::path::PathBuf> {
    let rows: Vec<serde_json::Value> = procs
        .iter()
        .map(|p| {
            let pipes = proctree::open_pipes(p.pid);
            serde_json::json!({
                "pid": p.pid,
                "ppid": p.ppid,
                "state": p.state.to_string(),
                "wchan": proctree::wchan(p.pid),
                "cmdline": redactor.redact(&proctree::cmdline(p.pid)).into_owned(),
                "pipes": pipes,
                "holds_agent_pipes": pipes.iter().any(|i| pipe_inodes.contains(i)),
            })
        })
        .collect();
    let body = serde_json::to_vec_pretty(&serde_json::json!({ "processes": rows })).ok()?;
    crate::home::private_dir(dir).ok()?;
    let path = dir.join("process-tree.json");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .ok()?;
    std::io::Write::write_all(&mut f, &body).ok()?;
    Some(path)
}

fn result(c: Captured, report_bytes: usize) -> StreamResult {
    let start = c.tail.len().saturating_sub(report_bytes);
    StreamResult {
        bytes: c.bytes,
        report_tail: c.tail[start..].to_vec(),
        tail: c.tail,
        tail_truncated: c.tail_truncated,
        artifact_error: c.artifact_error,
        artifact_truncated: c.artifact_truncated,
        dropped_bytes: c.dropped_bytes,
    }
}

pub(super) async fn supervise<'r>(
    r: Running,
    req: &DispatchRequest,
    mut interrupt: Interrupt,
    running: &Arc<Mutex<HashSet<i32>>>,
    guard: Option<&Guard>,
    rules: &'r (dyn Fn() -> &'r RuleSet + Sync),
) -> Exited {
    let Running {
        mut child,
        pid,
        stdin,
        stdout,
        stderr,
        pipe_inodes,
        stdout_file,
        stderr_file,
        redactor,
        started,
        run_dir,
        marker,
        child_home,
        child_path,
        child_tz,
        artifact_dir,
    } = r;
    let watch = std::sync::Mutex::new(Watch::lazy(req.watch, Some(rules), started));
    let notify = Notify::new();
    let live = |origin| Live {
        watch: &watch,
        notify: &notify,
        origin,
    };
    let tree = Tree {
        pid,
        marker: &marker,
        running,
    };
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let (closed_tx, mut closed_rx) = watch::channel(0u8);
    let tail_cap = CLASSIFY_TAIL.max(req.tail_bytes);
    let (echo_out, echo_err) = if req.echo {
        (Echo::Stdout, Echo::Stderr)
    } else {
        (Echo::Off, Echo::Off)
    };

    let out = async {
        let c = capture(
            stdout,
            stdout_file,
            echo_out,
            &redactor,
            tail_cap,
            cancel_rx.clone(),
            Some(live(Origin::Stdout)),
        )
        .await;
        closed_tx.send_modify(|n| *n += 1);
        c
    };
    let err = async {
        let c = capture(
            stderr,
            stderr_file,
            echo_err,
            &redactor,
            tail_cap,
            cancel_rx.clone(),
            Some(live(Origin::Stderr)),
        )
        .await;
        closed_tx.send_modify(|n| *n += 1);
        c
    };
    let feed = async {
        let Some((mut pipe, bytes)) = stdin else {
            return;
        };
        let mut cancel = cancel_rx.clone();
        tokio::select! {
            // EPIPE when the child exits without reading: not an error of the dispatch.
            _ = pipe.write_all(&bytes) => {}
            _ = cancel.wait_for(|c| *c) => {}
        }
    };
    let control = async {
        let end = wait_or_stop(
            &mut child,
            req.timeout,
            &mut interrupt,
            watchdog(&watch, &notify),
        )
        .await;
        let mut snapshot = None;
        let status = match &end {
            End::Exited(status) => *status,
            End::TimedOut | End::Interrupted(_) | End::Stopped(_) => {
                if let End::Stopped(Stop::Idle { .. }) = &end {
                    // What a hung agent was waiting on, before it is gone.
                    let mut procs = tree.live();
                    if let Some(me) = proctree::scan().into_iter().find(|p| p.pid == pid) {
                        if !procs.iter().any(|p| p.pid == pid) {
                            procs.insert(0, me);
                        }
                    }
                    snapshot = write_snapshot(&artifact_dir, &procs, &pipe_inodes, &redactor);
                }
                tree.kill(req.kill_grace).await;
                child.wait().await.ok()
            }
        };
        let mut leaks = Vec::new();
        let drained = tokio::time::timeout(req.leak_timeout, closed_rx.wait_for(|n| *n == 2))
            .await
            .is_ok();
        if !drained {
            // The agent is gone but someone still holds its pipes.
            let left = tree.live();
            let holders = proctree::pipe_holders(&pids(&left), &pipe_inodes);
            leaks = leaked(&left, &holders, &redactor);
            tree.kill(LEAK_GRACE).await;
            let _ =
                tokio::time::timeout(Duration::from_secs(1), closed_rx.wait_for(|n| *n == 2)).await;
        }
        let _ = cancel_tx.send(true);
        (end, status, leaks, snapshot)
    };
    let (stdout, stderr, (), (end, status, mut leaks, snapshot)) =
        tokio::join!(out, err, feed, control);

    // Whatever outlived the agent without holding its pipes is leaked too.
    if !proctree::nothing_left(pid) {
        // One read of the process table (/proc on Linux) answers both
        // questions: what is left alive, and which adopted orphans are
        // zombies to reap.
        let procs = proctree::scan_since(pid, started.elapsed());
        let survivors: Vec<ProcInfo> =
            proctree::dispatch_processes(&procs, pid, &marker, &tree.others())
                .into_iter()
                .filter(|p| p.state != 'Z')
                .collect();
        if survivors.is_empty() {
            let keep = running.lock().unwrap_or_else(|p| p.into_inner());
            proctree::reap_zombies(&procs, &keep);
        } else {
            leaks.extend(leaked(&survivors, &[], &redactor));
            tree.kill(LEAK_GRACE).await;
            tree.reap();
        }
    }
    running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&pid);
    if let Some(guard) = guard {
        guard.forget(&marker);
    }
    if let Some(dir) = run_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    let duration = started.elapsed();
    Exited {
        termination: {
            let status = Status::of(
                status.and_then(|s| s.code()),
                status.and_then(|s| s.signal()),
            );
            match &end {
                End::Exited(_) => Termination::Ended(status),
                End::TimedOut | End::Stopped(Stop::Idle { .. }) => Termination::TimedOut(status),
                End::Stopped(_) => Termination::Stopped(status),
                End::Interrupted(by) => Termination::Interrupted { by: *by, status },
            }
        },
        watchdog: match end {
            End::Stopped(stop) => Some(stop),
            _ => None,
        },
        snapshot,
        duration,
        artifacts: Artifacts {
            stdout: stdout.artifact.clone(),
            stderr: stderr.artifact.clone(),
        },
        stdout: result(stdout, req.tail_bytes),
        stderr: result(stderr, req.tail_bytes),
        leaked: leaks,
        child_home,
        child_path,
        child_tz,
    }
}
