//! Safe wrappers around the few libc calls std does not offer.
//!
//! fake-agent is single-threaded, which is what makes `fork` (and doing
//! ordinary work in the child afterwards) sound.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::AsRawFd;

/// Signals `--ignore-term` (and the grandchildren) ignore.
pub const TERM_SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn set_disposition(signal: libc::c_int, handler: libc::sighandler_t) -> io::Result<()> {
    // SAFETY: SIG_IGN and SIG_DFL are not function pointers, so no handler
    // code can run; an invalid signal number just yields SIG_ERR/EINVAL.
    let previous = unsafe { libc::signal(signal, handler) };
    if previous == libc::SIG_ERR {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Sets the signal to SIG_IGN (inherited across fork and exec).
pub fn ignore_signal(signal: libc::c_int) -> io::Result<()> {
    set_disposition(signal, libc::SIG_IGN)
}

/// Restores the signal's default disposition.
pub fn default_signal(signal: libc::c_int) -> io::Result<()> {
    set_disposition(signal, libc::SIG_DFL)
}

/// Sends the signal to the calling thread; an unblocked signal is delivered
/// before this returns.
pub fn raise(signal: libc::c_int) -> io::Result<()> {
    // SAFETY: raise takes a plain integer and touches no memory of ours.
    check(unsafe { libc::raise(signal) }).map(drop)
}

/// The parent's pid (for an agent, the worker that launched it).
pub fn parent_pid() -> libc::pid_t {
    // SAFETY: getppid takes no arguments and cannot fail.
    unsafe { libc::getppid() }
}

/// Which side of a fork we are on.
pub enum Fork {
    Child,
    Parent,
}

/// Forks the (single-threaded) process.
pub fn fork() -> io::Result<Fork> {
    // SAFETY: the process has only one thread, so the child gets a
    // consistent copy of all memory (no lock can be held by a thread that
    // does not exist in the child).
    match check(unsafe { libc::fork() })? {
        0 => Ok(Fork::Child),
        _ => Ok(Fork::Parent),
    }
}

/// Starts a new session (and process group) with us as leader.
pub fn setsid() -> io::Result<()> {
    // SAFETY: setsid takes no arguments and touches no memory of ours.
    check(unsafe { libc::setsid() }).map(drop)
}

/// Points fds 0, 1 and 2 at /dev/null.
pub fn stdio_to_dev_null() -> io::Result<()> {
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in 0..=2 {
        // SAFETY: `null` is an open descriptor that outlives the call; dup2
        // atomically replaces fds 0-2, which std's handles only refer to by
        // number, so no Rust object ends up owning a stale descriptor.
        check(unsafe { libc::dup2(null.as_raw_fd(), fd) })?;
    }
    Ok(())
}

/// Exits at once without running any exit-time code (for forked children,
/// which must not flush or record anything on behalf of the parent).
pub fn exit_immediately(code: libc::c_int) -> ! {
    // SAFETY: _exit only terminates the process.
    unsafe { libc::_exit(code) }
}
