//! Facts about the host this process runs on, and every primitive that
//! depends on the operating system. Kept apart so the dispatcher (which
//! stamps the host on every prepare event) needs neither preflight nor
//! anything above it, and so no other module names an OS.
//!
//! Invariant: OS-specific code lives only here. Linux-only mechanisms
//! (`/proc`, `prctl`, raw syscalls, `F_SETPIPE_SZ`) are in `linux.rs`,
//! compiled only for `target_os = "linux"`; `other.rs` is the portable
//! fallback for the other Unixes (macOS, the BSDs), and says in each
//! function what it cannot do there. Everything above this module calls the
//! same names on every platform.
//!
//! | primitive | Linux | other Unix |
//! |---|---|---|
//! | [`become_subreaper`] | `PR_SET_CHILD_SUBREAPER` | none: returns false, orphans go to init |
//! | [`scan`], [`scan_since`] | `/proc/PID/stat` | `ps -A` (a warning, once, if `ps` fails) |
//! | [`carries_marker`] | `/proc/PID/environ` | always false (see [`become_subreaper`]) |
//! | [`pipe_holders`] | `/proc/PID/fd` | none found |
//! | [`cmdline`] | `/proc/PID/cmdline` | `ps -o command=` |
//! | [`wchan`], [`open_pipes`] | `/proc/PID/wchan`, `/proc/PID/fd` | none |
//! | [`widen_pipe`] | `F_SETPIPE_SZ` to 1 MiB | the default pipe buffer |
//! | [`cloexec_pipe`] | `pipe2(O_CLOEXEC)` | `pipe` then `FD_CLOEXEC` |
//! | [`guard`] (the death guard's) | `/proc` marker sweep, `close_range`, named `agentlane-guard` | groups only, `close` loop, unnamed |

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as imp;
#[cfg(not(target_os = "linux"))]
mod other;
#[cfg(not(target_os = "linux"))]
use other as imp;

#[cfg(target_os = "linux")]
pub use linux::{newer_than, parse_stat};

/// One process as the OS's process table shows it (`/proc/PID/stat` on Linux).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcInfo {
    /// Process id.
    pub pid: i32,
    /// Parent pid.
    pub ppid: i32,
    /// Process group.
    pub pgid: i32,
    /// State letter (`Z` for zombie).
    pub state: char,
}

/// Every process visible to this one.
pub fn scan() -> Vec<ProcInfo> {
    imp::scan()
}

/// The processes that can belong to a dispatch whose child, `child`, was
/// spawned `elapsed` ago (on Linux, only the newer pids when that is sure
/// to cover them; elsewhere every process).
pub fn scan_since(child: i32, elapsed: std::time::Duration) -> Vec<ProcInfo> {
    imp::scan_since(child, elapsed)
}

/// Whether the environment of `pid` holds exactly `needle` (`NAME=value`).
/// False where environments cannot be read (every OS but Linux).
pub fn carries_marker(pid: i32, needle: &str) -> bool {
    imp::carries_marker(pid, needle)
}

/// Which of `pids` hold a pipe with one of these inodes open. Empty where
/// descriptors of other processes cannot be read (every OS but Linux).
pub fn pipe_holders(pids: &[i32], inodes: &[u64]) -> Vec<i32> {
    imp::pipe_holders(pids, inodes)
}

/// A process's command line, space-joined (empty when gone).
pub fn cmdline(pid: i32) -> String {
    imp::cmdline(pid)
}

/// The kernel function a sleeping process waits in (`/proc/PID/wchan`), for
/// a hung agent's snapshot. `None` where it cannot be read (every OS but
/// Linux, or a kernel that hides it).
pub fn wchan(pid: i32) -> Option<String> {
    imp::wchan(pid)
}

/// The inodes of the pipes a process holds open. Empty where descriptors of
/// other processes cannot be read (every OS but Linux).
pub fn open_pipes(pid: i32) -> Vec<u64> {
    imp::open_pipes(pid)
}

/// Makes this process a child subreaper, so orphaned descendants of a
/// dispatch re-parent to agentlane (and can be found and killed) instead of
/// to init. Idempotent. False where the OS has no such thing (every OS but
/// Linux): there, a descendant whose parent died before it escapes the
/// process-tree kill unless it stayed in the dispatch's process group.
pub fn become_subreaper() -> bool {
    imp::become_subreaper()
}

/// Enlarges a pipe's buffer so a fast writer makes fewer, larger writes.
/// Failure is harmless; a no-op where the OS cannot (every OS but Linux).
pub fn widen_pipe(fd: RawFd) {
    imp::widen_pipe(fd);
}

/// A new pipe, (read end, write end), both close-on-exec.
pub fn cloexec_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let fds = imp::cloexec_pipe()?;
    // SAFETY: both descriptors were just created and are owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// What the death guard (`dispatch/guard.rs`) needs from the OS, between a
/// fork and its exit: only async-signal-safe calls, nothing allocated.
pub mod guard {
    use super::imp;

    /// Ignores every catchable signal.
    ///
    /// # Safety
    /// Only for the guard process (changes its dispositions).
    pub unsafe fn ignore_signals() {
        imp::guard_ignore_signals();
    }

    /// Closes every descriptor from 1 up.
    ///
    /// # Safety
    /// Only for the guard process, which holds nothing but fd 0.
    pub unsafe fn close_from_1() {
        imp::guard_close_from_1();
    }

    /// Names the process `agentlane-guard` where the OS allows it (Linux).
    ///
    /// # Safety
    /// Only for the guard process.
    pub unsafe fn set_name() {
        imp::guard_set_name();
    }

    /// Whether [`kill_carrying`] can find processes by their environment
    /// (Linux): else only registered process groups die with the dispatcher.
    pub const FINDS_MARKED: bool = imp::GUARD_FINDS_MARKED;

    /// This thread's errno.
    pub fn errno() -> i32 {
        imp::errno()
    }

    /// SIGKILLs every process whose environment holds `needle` (a whole
    /// variable between NULs: `\0NAME=value\0`), and the group of each
    /// where it leads one. Async-signal-safe. Does nothing where
    /// environments cannot be read (every OS but Linux): there only the
    /// registered process groups die with the dispatcher.
    ///
    /// # Safety
    /// Raw system calls only; safe to call after a fork.
    pub unsafe fn kill_carrying(needle: &[u8]) {
        imp::guard_kill_carrying(needle);
    }
}

/// One line of `ps -o pid=,ppid=,pgid=,state=`. Pure.
#[cfg(any(not(target_os = "linux"), test))]
fn parse_ps_line(line: &str) -> Option<ProcInfo> {
    let mut f = line.split_whitespace();
    let pid = f.next()?.parse().ok()?;
    let ppid = f.next()?.parse().ok()?;
    let pgid = f.next()?.parse().ok()?;
    let state = f.next()?.chars().next()?;
    Some(ProcInfo {
        pid,
        ppid,
        pgid,
        state,
    })
}

/// The host name, for per-host results: `AGENTLANE_HOST` when set (a stable
/// name for containers whose hostname is random), else the kernel's.
pub fn host_name() -> String {
    if let Some(name) = std::env::var("AGENTLANE_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty())
    {
        return name.trim().to_string();
    }
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_ps_line() {
        assert_eq!(
            parse_ps_line("  812   1  812 Ss+"),
            Some(ProcInfo {
                pid: 812,
                ppid: 1,
                pgid: 812,
                state: 'S'
            })
        );
        assert_eq!(parse_ps_line("  PID  PPID"), None);
        assert_eq!(parse_ps_line(""), None);
    }
}
