//! The death guard: an agent's whole process group dies with its dispatcher.
//!
//! Spawning with a parent-death signal needs code between fork and exec, so
//! every launch paid for a full fork of the dispatcher (page tables copied,
//! copy-on-write faults in both processes, the copy torn down again by
//! exec): about a fifth of a trivial job's CPU. Instead, each dispatching
//! process starts one small guard process, once, and launches agents with
//! `posix_spawn` (a vfork: no copy). Every launched process group is
//! registered with the guard over a pipe, and forgotten once it is empty.
//! When the dispatcher dies, however it dies (SIGKILL included), the kernel
//! closes the pipe's write end; the guard reads end-of-file and SIGKILLs
//! every group still registered, then exits.
//!
//! This is stronger than the parent-death signal it replaces: that reached
//! the agent alone, so what the agent had started (a shell, a test runner,
//! an MCP server) survived it; the guard kills the whole group. Processes
//! that left the group (setsid) are what they were before: found and killed
//! by supervision while the dispatcher lives, out of reach once it is dead.
//!
//! The guard is forked twice before the dispatcher becomes a child subreaper
//! (so it is nobody's child here, and never counted as a leftover of a
//! dispatch), starts its own session (a Ctrl-C or a signal to the
//! dispatcher's process group does not reach it), ignores every catchable
//! signal, and closes every descriptor but its pipe. Between the forks and
//! its exit it only makes async-signal-safe system calls on the stack: it
//! was forked from a multi-threaded process.
//!
//! One window remains: a dispatcher killed after `posix_spawn` returned and
//! before the registration was written (a few microseconds per launch)
//! leaves that one agent running. Registrations are blocking writes: a
//! guard stopped by hand (SIGSTOP) holds up launches once its pipe is full
//! (about 8,000 registrations); a guard killed by hand is reported once,
//! and agents then run unguarded.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

/// How many process groups the guard can hold at once (64 KiB of its stack).
const CAPACITY: usize = 16 * 1024;
const WATCH: i32 = 1;
const FORGET: i32 = 2;

/// The write end of this process's guard pipe.
pub(crate) struct Guard {
    pipe: OwnedFd,
}

static GUARD: OnceLock<Option<Guard>> = OnceLock::new();

/// Starts this process's guard, once. Must run before the process becomes
/// a child subreaper (see the module documentation). None when it could not
/// be started (agents then run unguarded, and a warning says so once).
pub(crate) fn start() -> Option<&'static Guard> {
    GUARD
        .get_or_init(|| match spawn_guard() {
            Ok(guard) => Some(guard),
            Err(e) => {
                eprintln!(
                    "agentlane: cannot start the death guard ({e}): agents will not be killed if this process dies"
                );
                None
            }
        })
        .as_ref()
}

impl Guard {
    /// Registers a process group: killed if this process dies before [`Guard::forget`].
    pub(crate) fn watch(&self, pgid: i32) {
        self.send(WATCH, pgid);
    }

    /// Forgets a process group that is empty (its id may be reused).
    pub(crate) fn forget(&self, pgid: i32) {
        self.send(FORGET, pgid);
    }

    fn send(&self, op: i32, pgid: i32) {
        let mut msg = [0u8; 8];
        msg[..4].copy_from_slice(&op.to_ne_bytes());
        msg[4..].copy_from_slice(&pgid.to_ne_bytes());
        loop {
            // SAFETY: writes 8 bytes from a live buffer to a pipe we own;
            // writes up to PIPE_BUF are atomic, so records never interleave.
            let n = unsafe { libc::write(self.pipe.as_raw_fd(), msg.as_ptr().cast(), msg.len()) };
            if n == msg.len() as isize {
                return;
            }
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            // The guard is gone (killed by hand): say so once.
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                eprintln!("agentlane: the death guard stopped listening ({err}): agents will not be killed if this process dies");
            }
            return;
        }
    }
}

fn spawn_guard() -> std::io::Result<Guard> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills the two descriptors of a new pipe.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned here.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: the child only makes async-signal-safe system calls (see
    // guard_main) and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: in the forked child; guard_main never returns.
        unsafe { guard_main(read.as_raw_fd(), write.as_raw_fd()) }
    }
    drop(read);
    // The intermediate child exits at once, leaving the guard to init (or
    // to an outer subreaper): reap it.
    let mut status = 0;
    // SAFETY: waits for our own child. ECHILD (another dispatcher's reaper
    // took it first) leaves its status unknown: assume the guard started.
    let reaped = unsafe { libc::waitpid(pid, &mut status, 0) } == pid;
    if reaped && !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(std::io::Error::other("its second fork failed"));
    }
    Ok(Guard { pipe: write })
}

/// The guard process. Only async-signal-safe system calls, no allocation.
unsafe fn guard_main(read: RawFd, write: RawFd) -> ! {
    libc::close(write);
    match libc::fork() {
        0 => {}
        -1 => libc::_exit(1),
        _ => libc::_exit(0),
    }
    libc::setsid();
    for sig in 1..libc::SIGRTMAX() {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
    // Hold nothing but the pipe: no terminal, no sockets, no other pipes.
    let _ = libc::dup2(read, 0);
    libc::syscall(libc::SYS_close_range, 1u32, u32::MAX, 0u32);
    libc::prctl(
        libc::PR_SET_NAME,
        c"agentlane-guard".as_ptr() as libc::c_ulong,
        0,
        0,
        0,
    );
    let mut groups = [0i32; CAPACITY];
    let mut len = 0usize;
    let mut buf = [0u8; 4096];
    loop {
        let n = libc::read(0, buf.as_mut_ptr().cast(), buf.len());
        if n == 0 {
            break;
        }
        if n < 0 {
            if *libc::__errno_location() == libc::EINTR {
                continue;
            }
            break;
        }
        // Records are 8 bytes, written atomically; 4096 is a multiple of 8.
        for rec in buf[..n as usize].chunks_exact(8) {
            let op = i32::from_ne_bytes([rec[0], rec[1], rec[2], rec[3]]);
            let pgid = i32::from_ne_bytes([rec[4], rec[5], rec[6], rec[7]]);
            if pgid <= 1 {
                continue;
            }
            if op == WATCH && len < CAPACITY {
                groups[len] = pgid;
                len += 1;
            } else if op == FORGET {
                if let Some(i) = groups[..len].iter().position(|&g| g == pgid) {
                    len -= 1;
                    groups[i] = groups[len];
                }
            }
        }
    }
    for &pgid in &groups[..len] {
        libc::kill(-pgid, libc::SIGKILL);
    }
    libc::_exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(pid: i32) -> bool {
        // A zombie is dead for our purpose: read its state.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
    }

    /// A private guard (not this process's): a forked helper plays the
    /// dying dispatcher by closing its copy of the write end.
    #[test]
    fn a_closed_pipe_kills_watched_groups_and_spares_forgotten_ones() {
        let guard = spawn_guard().expect("start a guard");
        let spawn = || {
            let mut cmd = std::process::Command::new("sleep");
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            cmd.arg("30").spawn().expect("spawn sleep")
        };
        let (mut watched, mut forgotten) = (spawn(), spawn());
        guard.watch(watched.id() as i32);
        guard.watch(forgotten.id() as i32);
        guard.forget(forgotten.id() as i32);
        drop(guard); // the last write end: the guard sees end-of-file
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while watched.try_wait().expect("try_wait").is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "the watched group outlived its guard's pipe"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(alive(forgotten.id() as i32), "a forgotten group was killed");
        forgotten.kill().expect("kill");
        forgotten.wait().expect("wait");
        let _ = watched.wait();
    }
}
