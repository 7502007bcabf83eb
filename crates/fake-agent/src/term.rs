//! The `--run-log` record of a SIGTERM: `{"event":"end",...,"signal":15}`.
//!
//! A worker that loses its lease stops its agent with SIGTERM, and the
//! chaos tests must see when that happened, so while a run log is active
//! SIGTERM is caught: the handler appends an `end` record with
//! `"signal":15` to every run log and exits with status 143 (128 + 15), as
//! a shell reports a process killed by SIGTERM. SIGKILL writes nothing.
//!
//! The handler is async-signal-safe: everything but the time is formatted
//! ahead (a prefix up to `"time_ms":` and the rest of the line), so it only
//! calls `clock_gettime`, `open`, `writev`, `close` and `_exit`, formats
//! the time into a stack buffer and allocates nothing. That also keeps
//! fake-agent single-threaded, which `--grandchild-*` relies on for `fork`.
//! One `writev` on an `O_APPEND` descriptor appends the line in one piece,
//! like [`crate::run`]'s other records.
//!
//! The records are published through an atomic pointer to a leaked,
//! immutable [`TermRecord`]; a later `--run-log` publishes a new one with
//! one more file (the old one stays leaked: a handler may be reading it).
//!
//! `--ignore-term` wins: it sets SIGTERM to SIG_IGN, replacing the handler,
//! and a `--run-log` after it does not install the handler again.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicPtr, Ordering};

/// Exit status after a SIGTERM that was recorded: 128 + 15.
pub const TERM_EXIT: i32 = 128 + libc::SIGTERM;

/// What the handler writes: for every file, `prefix`, the time in
/// milliseconds, `suffix`.
pub struct TermRecord {
    files: Vec<CString>,
    prefix: Vec<u8>,
    suffix: Vec<u8>,
}

static RECORD: AtomicPtr<TermRecord> = AtomicPtr::new(std::ptr::null_mut());

/// Adds `path` to the files that get the SIGTERM record (`prefix` TIME
/// `suffix`) and makes sure the handler is installed.
pub fn record_on_term(path: &Path, prefix: String, suffix: String) -> io::Result<()> {
    let path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // The handler is installed once, after the first record is published;
    // a handler running meanwhile sees the old record or the new one, both
    // complete.
    let mut files = current().map(|r| r.files.clone()).unwrap_or_default();
    files.push(path);
    let record = Box::new(TermRecord {
        files,
        prefix: prefix.into_bytes(),
        suffix: suffix.into_bytes(),
    });
    let first = RECORD.load(Ordering::Acquire).is_null();
    RECORD.store(Box::into_raw(record), Ordering::Release);
    if first {
        install()?;
    }
    Ok(())
}

fn current() -> Option<&'static TermRecord> {
    let ptr = RECORD.load(Ordering::Acquire);
    // SAFETY: a non-null pointer came from Box::into_raw and is never freed.
    (!ptr.is_null()).then(|| unsafe { &*ptr })
}

fn install() -> io::Result<()> {
    // SAFETY: a zeroed sigaction is a valid value (empty mask, no flags);
    // the handler is an extern "C" fn with the signature sa_handler expects
    // and only makes async-signal-safe calls.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_term as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut()) == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Blocks or unblocks SIGTERM for the (only) thread.
pub fn block_term(block: bool) {
    // SAFETY: the sets are initialised by sigemptyset/sigaddset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        let how = if block {
            libc::SIG_BLOCK
        } else {
            libc::SIG_UNBLOCK
        };
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// Formats `n` in decimal at the end of `buf`; returns the digits.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Milliseconds since the Unix epoch, async-signal-safely.
fn now_ms() -> u64 {
    // SAFETY: clock_gettime writes only into `ts`.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    (ts.tv_sec as u64) * 1000 + (ts.tv_nsec as u64) / 1_000_000
}

extern "C" fn on_term(_signal: libc::c_int) {
    if let Some(record) = current() {
        let mut buf = [0u8; 20];
        let time = decimal(now_ms(), &mut buf);
        let parts = [&record.prefix[..], time, &record.suffix[..]];
        let iov = parts.map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut libc::c_void,
            iov_len: p.len(),
        });
        for file in &record.files {
            // SAFETY: open, writev and close are async-signal-safe; the
            // path and buffers are live, immutable and NUL-terminated
            // (the path) for the whole call.
            unsafe {
                let fd = libc::open(
                    file.as_ptr(),
                    libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC,
                    0o644 as libc::c_uint,
                );
                if fd >= 0 {
                    libc::writev(fd, iov.as_ptr(), iov.len() as libc::c_int);
                    libc::close(fd);
                }
            }
        }
    }
    // SAFETY: _exit is async-signal-safe and runs no exit-time code.
    unsafe { libc::_exit(TERM_EXIT) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_formats_every_width() {
        let mut buf = [0u8; 20];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(7, &mut buf), b"7");
        assert_eq!(decimal(1_700_000_000_123, &mut buf), b"1700000000123");
        assert_eq!(decimal(u64::MAX, &mut buf), b"18446744073709551615");
    }

    #[test]
    fn now_ms_is_the_wall_clock() {
        let std_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(now_ms().abs_diff(std_ms) < 1000);
    }
}
