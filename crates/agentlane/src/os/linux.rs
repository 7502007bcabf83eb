//! The Linux primitives: `/proc`, `prctl`, raw syscalls. Compiled only for
//! `target_os = "linux"` (see mod.rs for what stands in elsewhere).

use std::fs;
use std::os::fd::RawFd;

use super::ProcInfo;

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
pub(super) fn scan() -> Vec<ProcInfo> {
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
pub(super) fn scan_since(child: i32, elapsed: std::time::Duration) -> Vec<ProcInfo> {
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

pub(super) fn carries_marker(pid: i32, needle: &str) -> bool {
    let Ok(environ) = fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    environ
        .split(|&b| b == 0)
        .any(|var| var == needle.as_bytes())
}

pub(super) fn pipe_holders(pids: &[i32], inodes: &[u64]) -> Vec<i32> {
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

pub(super) fn cmdline(pid: i32) -> String {
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

pub(super) fn wchan(pid: i32) -> Option<String> {
    let w = fs::read_to_string(format!("/proc/{pid}/wchan")).ok()?;
    let w = w.trim();
    (!w.is_empty() && w != "0").then(|| w.to_string())
}

pub(super) fn open_pipes(pid: i32) -> Vec<u64> {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut inodes: Vec<u64> = fds
        .flatten()
        .filter_map(|fd| {
            let link = fs::read_link(fd.path()).ok()?;
            let link = link.to_str()?;
            link.strip_prefix("pipe:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect();
    inodes.sort_unstable();
    inodes.dedup();
    inodes
}

pub(super) fn become_subreaper() -> bool {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes a plain integer argument.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) == 0 }
}

pub(super) fn widen_pipe(fd: RawFd) {
    // SAFETY: fcntl(F_SETPIPE_SZ) on a pipe fd we own; failure is harmless.
    unsafe {
        libc::fcntl(fd, libc::F_SETPIPE_SZ, 1024 * 1024);
    }
}

pub(super) fn cloexec_pipe() -> std::io::Result<[RawFd; 2]> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills the two descriptors of a new pipe.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fds)
}

pub(super) const GUARD_FINDS_MARKED: bool = true;

pub(super) unsafe fn guard_ignore_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
}

pub(super) unsafe fn guard_close_from_1() {
    libc::syscall(libc::SYS_close_range, 1u32, u32::MAX, 0u32);
}

pub(super) unsafe fn guard_set_name() {
    libc::prctl(
        libc::PR_SET_NAME,
        c"agentlane-guard".as_ptr() as libc::c_ulong,
        0,
        0,
        0,
    );
}

pub(super) fn errno() -> i32 {
    // SAFETY: reads this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Walks /proc with getdents64 (no allocation) and SIGKILLs each process
/// whose environ holds `needle`, and its group.
pub(super) unsafe fn guard_kill_carrying(needle: &[u8]) {
    let dir = libc::open(c"/proc".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
    if dir < 0 {
        return;
    }
    let mut entries = [0u8; 8192];
    loop {
        let n = libc::syscall(
            libc::SYS_getdents64,
            dir,
            entries.as_mut_ptr(),
            entries.len(),
        );
        if n <= 0 {
            break;
        }
        let mut off = 0usize;
        while off < n as usize {
            // struct linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name.
            let reclen = u16::from_ne_bytes([entries[off + 16], entries[off + 17]]) as usize;
            let name = &entries[off + 19..off + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if let Some(pid) = parse_pid(name) {
                if environ_contains(name, needle) {
                    libc::kill(-pid, libc::SIGKILL);
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            off += reclen;
        }
    }
    libc::close(dir);
}

fn parse_pid(name: &[u8]) -> Option<i32> {
    if name.is_empty() || name.len() > 9 || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(name.iter().fold(0i32, |n, d| n * 10 + i32::from(d - b'0')))
}

/// Whether /proc/`pid`/environ holds `needle` (which starts and ends with a
/// NUL: the start of the file counts as one). Reads in chunks, keeping the
/// tail of each so a match across two reads is found.
unsafe fn environ_contains(pid: &[u8], needle: &[u8]) -> bool {
    let mut path = [0u8; 32];
    let parts: [&[u8]; 3] = [b"/proc/", pid, b"/environ\0"];
    let mut at = 0;
    for part in parts {
        path[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY);
    if fd < 0 {
        return false;
    }
    let mut window = [0u8; 4096 + 128];
    let mut carry = 1; // the virtual NUL before the first variable
    let mut found = false;
    loop {
        let n = libc::read(fd, window[carry..].as_mut_ptr().cast(), 4096);
        if n <= 0 {
            break;
        }
        let total = carry + n as usize;
        if window[..total].windows(needle.len()).any(|w| w == needle) {
            found = true;
            break;
        }
        let keep = (needle.len() - 1).min(total);
        window.copy_within(total - keep..total, 0);
        carry = keep;
    }
    libc::close(fd);
    found
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
}
