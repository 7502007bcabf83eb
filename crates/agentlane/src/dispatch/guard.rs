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
//! Each registration names the dispatch's marker (`AGENTLANE_DISPATCH_ID`,
//! in the environment of everything the dispatch starts) and is armed
//! before the spawn: a dispatcher killed between the spawn and the
//! registration of its process group still has its marker armed, and the
//! guard finds what carries it in /proc. It does that for every dispatch it
//! holds, so descendants that left the group (setsid) die too. Registrations
//! are blocking writes: a
//! guard stopped by hand (SIGSTOP) holds up launches once its pipe is full
//! (about 8,000 registrations); a guard killed by hand is reported once,
//! and agents then run unguarded.
//!
//! The system calls that differ by OS are in `crate::os::guard`. Off Linux
//! there is no /proc to search, so the guard kills the registered process
//! groups only: a process that left its group (setsid), or an agent whose
//! dispatcher died between its spawn and the registration of its group,
//! survives the dispatcher.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use crate::os;

/// How many dispatches the guard can hold at once (about 240 KiB of its stack).
const CAPACITY: usize = 4096;
/// A dispatch's marker (a UUID) fits in this many bytes.
const MARKER: usize = 56;
/// One record on the pipe: op, process group, marker. Writes of up to
/// PIPE_BUF bytes are atomic, and 4096 is a multiple of 64.
const RECORD: usize = 64;
const ARM: i32 = 1;
const WATCH: i32 = 2;
const FORGET: i32 = 3;
/// What marks a dispatch's processes (see proctree.rs).
const MARKER_PREFIX: &[u8] = b"AGENTLANE_DISPATCH_ID=";

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
    /// Before a spawn: the dispatch `marker` is about to start a process.
    /// If this process dies from here on, whatever carries the marker dies.
    pub(crate) fn arm(&self, marker: &str) {
        self.send(ARM, 0, marker);
    }

    /// After the spawn: the dispatch's process group, killed as a whole.
    pub(crate) fn watch(&self, marker: &str, pgid: i32) {
        self.send(WATCH, pgid, marker);
    }

    /// The dispatch is over (its group is empty and its id may be reused),
    /// or its spawn failed.
    pub(crate) fn forget(&self, marker: &str) {
        self.send(FORGET, 0, marker);
    }

    fn send(&self, op: i32, pgid: i32, marker: &str) {
        let mut msg = [0u8; RECORD];
        msg[..4].copy_from_slice(&op.to_ne_bytes());
        msg[4..8].copy_from_slice(&pgid.to_ne_bytes());
        let m = marker.as_bytes();
        let m = &m[..m.len().min(MARKER)];
        msg[8..8 + m.len()].copy_from_slice(m);
        loop {
            // SAFETY: writes a live buffer to a pipe we own; writes up to
            // PIPE_BUF are atomic, so records never interleave.
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
    let (read, write) = os::cloexec_pipe()?;
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
    os::guard::ignore_signals();
    // Hold nothing but the pipe: no terminal, no sockets, no other pipes.
    let _ = libc::dup2(read, 0);
    os::guard::close_from_1();
    os::guard::set_name();
    let mut held = [(0i32, [0u8; MARKER]); CAPACITY];
    let mut len = 0usize;
    let mut buf = [0u8; 4096];
    loop {
        let n = libc::read(0, buf.as_mut_ptr().cast(), buf.len());
        if n == 0 {
            break;
        }
        if n < 0 {
            if os::guard::errno() == libc::EINTR {
                continue;
            }
            break;
        }
        for rec in buf[..n as usize].chunks_exact(RECORD) {
            let op = i32::from_ne_bytes([rec[0], rec[1], rec[2], rec[3]]);
            let pgid = i32::from_ne_bytes([rec[4], rec[5], rec[6], rec[7]]);
            let mut marker = [0u8; MARKER];
            marker.copy_from_slice(&rec[8..8 + MARKER]);
            let at = held[..len].iter().position(|(_, m)| *m == marker);
            match (op, at) {
                (ARM | WATCH, Some(i)) => held[i].0 = held[i].0.max(pgid),
                (ARM | WATCH, None) if len < CAPACITY => {
                    held[len] = (pgid, marker);
                    len += 1;
                }
                (FORGET, Some(i)) => {
                    len -= 1;
                    held[i] = held[len];
                }
                _ => {}
            }
        }
    }
    for (pgid, marker) in &held[..len] {
        if *pgid > 1 {
            libc::kill(-*pgid, libc::SIGKILL);
        }
        kill_marked(marker);
    }
    libc::_exit(0)
}

/// SIGKILLs every process whose environment carries `marker` (and the group
/// of each, where it leads one). Async-signal-safe: raw system calls and
/// stack buffers only. Linux only in effect: see `os::guard::kill_carrying`.
unsafe fn kill_marked(marker: &[u8; MARKER]) {
    let m = marker.iter().position(|&b| b == 0).unwrap_or(MARKER);
    if m == 0 {
        return;
    }
    // "\0AGENTLANE_DISPATCH_ID=<marker>\0": one whole variable.
    let mut needle = [0u8; 1 + 22 + MARKER + 1];
    let len = 1 + MARKER_PREFIX.len() + m + 1;
    needle[1..1 + MARKER_PREFIX.len()].copy_from_slice(MARKER_PREFIX);
    needle[1 + MARKER_PREFIX.len()..len - 1].copy_from_slice(&marker[..m]);
    os::guard::kill_carrying(&needle[..len]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(child: &mut std::process::Child) -> bool {
        // A zombie is dead for our purpose: try_wait reaps it.
        child.try_wait().expect("try_wait").is_none()
    }

    fn sleeper(marker: &str) -> std::process::Child {
        let mut cmd = std::process::Command::new("sleep");
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.arg("30")
            .env("AGENTLANE_DISPATCH_ID", marker)
            .spawn()
            .expect("spawn sleep")
    }

    fn dies(child: &mut std::process::Child, what: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while child.try_wait().expect("try_wait").is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "{what} outlived its guard's pipe"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// A private guard (not this process's), and this test plays the dying
    /// dispatcher by closing the pipe's write end.
    #[test]
    fn a_closed_pipe_kills_what_it_holds_and_spares_what_it_forgot() {
        let guard = spawn_guard().expect("start a guard");
        // Watched: a registered group.
        let mut watched = sleeper("11111111-1111-7111-8111-111111111111");
        guard.arm("11111111-1111-7111-8111-111111111111");
        guard.watch("11111111-1111-7111-8111-111111111111", watched.id() as i32);
        // Armed only: the dispatcher died between the spawn and the
        // registration of the group; the guard finds it by its marker.
        let mut armed = sleeper("22222222-2222-7222-8222-222222222222");
        guard.arm("22222222-2222-7222-8222-222222222222");
        // Forgotten: a finished dispatch, whatever runs with its marker now.
        let mut forgotten = sleeper("33333333-3333-7333-8333-333333333333");
        guard.arm("33333333-3333-7333-8333-333333333333");
        guard.watch(
            "33333333-3333-7333-8333-333333333333",
            forgotten.id() as i32,
        );
        guard.forget("33333333-3333-7333-8333-333333333333");
        drop(guard); // the last write end: the guard sees end-of-file
        dies(&mut watched, "a watched group");
        // Found by its marker in /proc: Linux only.
        if os::guard::FINDS_MARKED {
            dies(&mut armed, "an armed dispatch's process");
        } else {
            let _ = armed.kill();
            let _ = armed.wait();
        }
        assert!(alive(&mut forgotten), "a forgotten dispatch was killed");
        forgotten.kill().expect("kill");
        forgotten.wait().expect("wait");
    }
}
