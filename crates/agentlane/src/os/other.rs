//! The portable fallback for Unixes other than Linux (macOS, the BSDs).
//! Compiled only for `not(target_os = "linux")`. No `/proc`, no subreaper:
//! each function says what it cannot do here, and the callers' degradations
//! are listed in the README's "Platforms" section.

use std::os::fd::RawFd;
use std::process::{Command, Stdio};

use super::{parse_ps_line, ProcInfo};

/// Every process, from `ps -A`. Empty, with a warning once on stderr, when
/// `ps` cannot be run: then nothing outside a dispatch's process group can
/// be found, killed or reported as leaked, and the warning says so.
pub(super) fn scan() -> Vec<ProcInfo> {
    let out = Command::new("ps")
        .args(["-A", "-o", "pid=,ppid=,pgid=,state="])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let me = std::process::id() as i32;
    match out {
        // Our own zombie children are left out: with no subreaper none is an
        // adopted orphan for the dispatcher to reap; each is a child (a
        // dispatch's, or another scan's `ps`) whose owner waits for it.
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(parse_ps_line)
            .filter(|p| !(p.ppid == me && p.state == 'Z'))
            .collect(),
        Ok(out) => {
            cannot_list(&format!("ps exited with {}", out.status));
            Vec::new()
        }
        Err(e) => {
            cannot_list(&format!("cannot run ps: {e}"));
            Vec::new()
        }
    }
}

fn cannot_list(why: &str) {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!(
            "agentlane: cannot list processes ({why}): descendants of a dispatch outside its process group will be neither killed nor reported as leaked"
        );
    }
}

/// No cheaper partial read than `ps -A` here.
pub(super) fn scan_since(_child: i32, _elapsed: std::time::Duration) -> Vec<ProcInfo> {
    scan()
}

/// Another process's environment is not readable here. Without a
/// subreaper no orphan re-parents to us anyway, so the marker only matters
/// on Linux.
pub(super) fn carries_marker(_pid: i32, _needle: &str) -> bool {
    false
}

/// Another process's descriptors are not readable here: leaked processes
/// are still reported, never as holding the dispatch's pipes.
pub(super) fn pipe_holders(_pids: &[i32], _inodes: &[u64]) -> Vec<i32> {
    Vec::new()
}

pub(super) fn cmdline(pid: i32) -> String {
    Command::new("ps")
        .args(["-o", "command=", "-p", &pid.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Not readable here.
pub(super) fn wchan(_pid: i32) -> Option<String> {
    None
}

/// Not readable here.
pub(super) fn open_pipes(_pid: i32) -> Vec<u64> {
    Vec::new()
}

/// No child subreaper here (FreeBSD's `procctl(PROC_REAP_ACQUIRE)` is not
/// used yet): a descendant whose parent exits re-parents to init, out of
/// reach of the process-tree kill unless it stayed in the dispatch's group.
pub(super) fn become_subreaper() -> bool {
    false
}

/// The pipe keeps the OS's default buffer.
pub(super) fn widen_pipe(_fd: RawFd) {}

/// `pipe`, then close-on-exec on each end: not atomic, so a process spawned
/// by another thread in between may inherit them.
pub(super) fn cloexec_pipe() -> std::io::Result<[RawFd; 2]> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe fills the two descriptors of a new pipe; fcntl sets a
    // flag on descriptors we own.
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        for fd in fds {
            if libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) != 0 {
                let err = std::io::Error::last_os_error();
                libc::close(fds[0]);
                libc::close(fds[1]);
                return Err(err);
            }
        }
    }
    Ok(fds)
}

pub(super) const GUARD_FINDS_MARKED: bool = false;

/// The classic signals (no real-time range is assumed).
pub(super) unsafe fn guard_ignore_signals() {
    for sig in 1..32 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
}

/// No close_range: close each descriptor below the limit (capped, so a
/// huge limit does not cost seconds).
pub(super) unsafe fn guard_close_from_1() {
    let max = libc::sysconf(libc::_SC_OPEN_MAX);
    let max = if max <= 0 { 1024 } else { max.min(65_536) };
    for fd in 1..max as libc::c_int {
        libc::close(fd);
    }
}

/// The guard keeps its parent's name.
pub(super) unsafe fn guard_set_name() {}

pub(super) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// No /proc: a dispatch is found only by its registered process group.
pub(super) unsafe fn guard_kill_carrying(_needle: &[u8]) {}
