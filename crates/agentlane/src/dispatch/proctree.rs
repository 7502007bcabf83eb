//! The process tree of a dispatch, read from /proc (Linux).
//!
//! A dispatch owns: its child's process group, every descendant of its child,
//! and every orphan re-parented to agentlane (a child subreaper) whose
//! environment carries the dispatch's marker variable. That is what a timeout
//! kills, what a leaked pipe is traced to, and what must not survive the end
//! of a dispatch.

use std::collections::{HashMap, HashSet};
use std::fs;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

/// The variable that marks a dispatch's descendants.
pub const MARKER_VAR: &str = "AGENTLANE_DISPATCH_ID";

/// One process as /proc/PID/stat shows it.
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

/// Parses /proc/PID/stat. Pure. The command name may contain spaces and parentheses.
pub fn parse_stat(stat: &str) -> Option<ProcInfo> {
    let pid = stat.split_whitespace().next()?.parse().ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgid = fields.next()?.parse().ok()?;
    Some(ProcInfo {
        pid,
        ppid,
        pgid,
        state,
    })
}

/// Every process visible in /proc.
pub fn scan() -> Vec<ProcInfo> {
    scan_where(|_| true)
}

fn scan_where(keep: impl Fn(i32) -> bool) -> Vec<ProcInfo> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|&pid| keep(pid))
        .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|s| parse_stat(&s))
        .collect()
}

/// Forks per second no machine reaches: the bound that makes a short
/// dispatch's pid range trustworthy (see [`newer_than`]).
const MAX_FORKS_PER_SEC: f64 = 200_000.0;

/// Whether every process created since `first` was spawned, `elapsed` ago,
/// has a pid of at least `first`: pids are handed out in increasing order
/// until they wrap at pid_max. True when they have not wrapped since (the
/// last pid handed out is still at or above `first`) and could not have
/// gone all the way round (fewer than pid_max forks fit in `elapsed`).
/// Pure.
pub fn newer_than(first: i32, last_pid: i32, pid_max: i32, elapsed: std::time::Duration) -> bool {
    last_pid >= first && elapsed.as_secs_f64() * MAX_FORKS_PER_SEC < f64::from(pid_max)
}

fn read_i32(path: &str) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The processes that can belong to a dispatch whose child, `child`, was
/// spawned `elapsed` ago: its group, its descendants and their orphans were
/// all created after it. Reads only the /proc entries of newer pids when
/// that is sure to cover them (a short dispatch: [`newer_than`]), else
/// every process. Reading a process's stat is the expensive part of a scan.
pub fn scan_since(child: i32, elapsed: std::time::Duration) -> Vec<ProcInfo> {
    static PID_MAX: std::sync::OnceLock<Option<i32>> = std::sync::OnceLock::new();
    let pid_max = *PID_MAX.get_or_init(|| read_i32("/proc/sys/kernel/pid_max"));
    let me = std::process::id() as i32;
    match (read_i32("/proc/sys/kernel/ns_last_pid"), pid_max) {
        (Some(last), Some(max)) if newer_than(child, last, max, elapsed) => {
            // Our own entry too: dispatch_processes finds adopted orphans by parent.
            scan_where(|pid| pid >= child || pid == me)
        }
        _ => scan(),
    }
}

fn carries_marker(pid: i32, marker: &str) -> bool {
    let Ok(environ) = fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let needle = format!("{MARKER_VAR}={marker}");
    environ
        .split(|&b| b == 0)
        .any(|var| var == needle.as_bytes())
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

/// Which of `pids` hold a pipe with one of these inodes open.
pub fn pipe_holders(pids: &[i32], inodes: &[u64]) -> Vec<i32> {
    let targets: Vec<String> = inodes.iter().map(|i| format!("pipe:[{i}]")).collect();
    pids.iter()
        .copied()
        .filter(|pid| {
            let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
                return false;
            };
            fds.flatten().any(|fd| {
                fs::read_link(fd.path())
                    .map(|link| targets.iter().any(|t| link.as_os_str() == t.as_str()))
                    .unwrap_or(false)
            })
        })
        .collect()
}

/// True when nothing can be left of a dispatch: its process group is empty
/// and this process has no children at all (so no adopted orphans either).
/// Every descendant of the dispatch is in the group, adopted by us (we are a
/// subreaper), or below one of those, so this settles it without reading /proc.
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

/// A process's command line, space-joined (empty when gone).
pub fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
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

/// Makes this process a child subreaper, so orphaned descendants of a
/// dispatch re-parent to agentlane (and can be found and killed) instead of
/// to init. Idempotent.
pub fn become_subreaper() -> bool {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes a plain integer argument.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_and_parens_in_the_name() {
        let s = "1234 (my (weird) cmd) S 1 1234 1234 0 -1 4194560 ...";
        assert_eq!(
            parse_stat(s),
            Some(ProcInfo {
                pid: 1234,
                ppid: 1,
                pgid: 1234,
                state: 'S'
            })
        );
    }

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
    fn a_pid_range_is_trusted_only_without_a_wrap_and_for_a_short_dispatch() {
        use std::time::Duration;
        let short = Duration::from_millis(5);
        // (first, last handed out, pid_max, elapsed) → trusted
        let cases = [
            ((1000, 1200, 32768, short), true),
            ((1000, 1000, 32768, short), true),
            ((1000, 900, 32768, short), false), // wrapped: newer pids may be below
            ((30000, 12, 32768, short), false),
            ((1000, 1200, 32768, Duration::from_secs(1)), false), // could have gone round
            ((1000, 1200, 4_194_304, Duration::from_secs(1)), true),
            ((1000, 1200, 4_194_304, Duration::from_secs(60)), false),
        ];
        for ((first, last, max, elapsed), want) in cases {
            assert_eq!(
                newer_than(first, last, max, elapsed),
                want,
                "first {first}, last {last}, pid_max {max}, {elapsed:?}"
            );
        }
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
