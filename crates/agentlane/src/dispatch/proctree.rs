//! The process tree of a dispatch, from the OS's process table (`/proc` on
//! Linux: see `crate::os` for what stands in elsewhere). This module is the
//! portable part: which processes belong to a dispatch, signalling and
//! reaping them; the primitives it re-exports live in `crate::os`.
//!
//! A dispatch owns: its child's process group, every descendant of its child,
//! and every orphan re-parented to agentlane (a child subreaper, on Linux) whose
//! environment carries the dispatch's marker variable. That is what a timeout
//! kills, what a leaked pipe is traced to, and what must not survive the end
//! of a dispatch.

use std::collections::{HashMap, HashSet};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

pub use crate::os::{
    become_subreaper, cmdline, open_pipes, pipe_holders, scan, scan_since, wchan, ProcInfo,
};

/// The variable that marks a dispatch's descendants.
pub const MARKER_VAR: &str = "AGENTLANE_DISPATCH_ID";

fn carries_marker(pid: i32, marker: &str) -> bool {
    crate::os::carries_marker(pid, &format!("{MARKER_VAR}={marker}"))
}

/// The processes that belong to a dispatch whose child had pid (= pgid) `child`.
///
/// `others` are the direct children of other dispatches running in this
/// process (never ours to touch).
pub fn dispatch_processes(
    procs: &[ProcInfo],
    child: i32,
    marker: &str,
    others: &HashSet<i32>,
) -> Vec<ProcInfo> {
    let me = std::process::id() as i32;
    let mut by_parent: HashMap<i32, Vec<&ProcInfo>> = HashMap::new();
    for p in procs {
        by_parent.entry(p.ppid).or_default().push(p);
    }
    let mut ours: Vec<ProcInfo> = Vec::new();
    let mut seen = HashSet::new();
    let mut roots: Vec<i32> = vec![child];
    roots.extend(
        procs
            .iter()
            .filter(|p| p.pgid == child && p.pid != child)
            .map(|p| p.pid),
    );
    roots.extend(
        procs
            .iter()
            .filter(|p| p.ppid == me && p.pid != child && !others.contains(&p.pid))
            .filter(|p| carries_marker(p.pid, marker))
            .map(|p| p.pid),
    );
    while let Some(pid) = roots.pop() {
        if !seen.insert(pid) {
            continue;
        }
        if let Some(p) = procs.iter().find(|p| p.pid == pid) {
            ours.push(*p);
        }
        if let Some(children) = by_parent.get(&pid) {
            roots.extend(children.iter().map(|c| c.pid));
        }
    }
    ours
}

/// The inode of a pipe we hold, to find who else holds it.
pub fn pipe_inode(fd: std::os::fd::RawFd) -> Option<u64> {
    nix::sys::stat::fstat(fd).ok().map(|st| st.st_ino)
}

/// True when nothing can be left of a dispatch: its process group is empty
/// and this process has no children at all (so no adopted orphans either).
/// Every descendant of the dispatch is in the group, adopted by us (we are a
/// subreaper), or below one of those, so this settles it without reading /proc.
/// Where there is no subreaper (every OS but Linux), an orphan re-parents to
/// init instead: then true means nothing is left that could be found.
pub fn nothing_left(pgid: i32) -> bool {
    let group_empty = kill(Pid::from_raw(-pgid), None) == Err(nix::errno::Errno::ESRCH);
    if !group_empty {
        return false;
    }
    // SAFETY: waitid with WNOWAIT|WNOHANG only queries; it reaps nothing.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    rc == -1 && nix::errno::Errno::last() == nix::errno::Errno::ECHILD
}

/// Sends `sig` to each pid (errors for processes already gone are ignored).
pub fn signal_each(pids: &[i32], sig: Signal) {
    for &pid in pids {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// Sends `sig` to a process group.
pub fn signal_group(pgid: i32, sig: Signal) {
    let _ = kill(Pid::from_raw(-pgid), sig);
}

/// Reaps the zombies that are our children (adopted orphans), except `keep`.
pub fn reap_adopted(keep: &HashSet<i32>) {
    reap_zombies(&scan(), keep);
}

/// Reaps the zombies among `procs` that are our children, except `keep`
/// (the direct children of running dispatches: tokio waits for those).
pub fn reap_zombies(procs: &[ProcInfo], keep: &HashSet<i32>) {
    let me = std::process::id() as i32;
    for p in procs
        .iter()
        .filter(|p| p.ppid == me && p.state == 'Z' && !keep.contains(&p.pid))
    {
        let _ = waitpid(Pid::from_raw(p.pid), Some(WaitPidFlag::WNOHANG));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descendants_and_group_members_belong_to_the_dispatch() {
        let procs = [
            ProcInfo {
                pid: 10,
                ppid: 1,
                pgid: 10,
                state: 'S',
            },
            ProcInfo {
                pid: 11,
                ppid: 10,
                pgid: 10,
                state: 'S',
            },
            ProcInfo {
                pid: 12,
                ppid: 11,
                pgid: 12,
                state: 'S',
            }, // escaped the group
            ProcInfo {
                pid: 20,
                ppid: 1,
                pgid: 20,
                state: 'S',
            }, // unrelated
        ];
        let mut pids: Vec<i32> = dispatch_processes(&procs, 10, "x", &HashSet::new())
            .iter()
            .map(|p| p.pid)
            .collect();
        pids.sort();
        assert_eq!(pids, vec![10, 11, 12]);
    }

    #[test]
    fn scan_since_sees_a_child_spawned_after_the_first_pid() {
        let mut first = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let mut second = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let procs = scan_since(first.id() as i32, std::time::Duration::from_millis(1));
        let seen = |pid: u32| procs.iter().any(|p| p.pid == pid as i32);
        let me = std::process::id();
        assert!(
            seen(first.id()) && seen(second.id()) && seen(me),
            "{procs:?}"
        );
        for c in [&mut first, &mut second] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    #[test]
    fn scan_sees_this_process() {
        let me = std::process::id() as i32;
        assert!(scan().iter().any(|p| p.pid == me));
    }
}
