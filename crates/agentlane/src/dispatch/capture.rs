//! Capture: pipe → redacted artifact file + bounded tail (+ live echo).
//!
//! Memory is bounded whatever the child prints: one read buffer, the
//! redactor's bounded pending line, and a tail of at most `2 × tail_cap`
//! bytes. The pipe is always drained — a failed artifact write stops the file,
//! never the reading — so the child can never block on a full pipe.
//!
//! Disk is bounded too: an artifact holds at most its cap of (redacted)
//! bytes, then one marker line of agentlane's own saying where it was cut and
//! how many bytes were not written. A write error (ENOSPC, EIO) stops the
//! file the same way, with the error kept for the report; either way the
//! tail and the classifier still see the whole stream.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use std::sync::Mutex;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{watch, Notify};

use super::watch::Watch;
use crate::classify::live::Origin;
use crate::redact::{Redactor, StreamRedactor};

/// Longest line handed to the watchdog; the rest of a longer line is
/// activity only (memory stays bounded whatever the child prints).
const LINE_CAP: usize = 64 * 1024;

/// Where a stream's complete lines go while the child runs: the watchdog.
pub(super) struct Live<'a, 'r> {
    /// The watchdog's state, shared by both streams.
    pub watch: &'a Mutex<Watch<'r>>,
    /// Woken when a line moves a deadline.
    pub notify: &'a Notify,
    /// Which stream this is.
    pub origin: Origin,
}

/// Cuts redacted bytes into lines for the watchdog, bounded by [`LINE_CAP`].
struct Lines<'a, 'r> {
    live: Live<'a, 'r>,
    partial: Vec<u8>,
    overflowed: bool,
}

impl Lines<'_, '_> {
    fn push(&mut self, mut bytes: &[u8]) {
        while let Some(i) = bytes.iter().position(|&b| b == b'\n') {
            self.take(&bytes[..i]);
            self.flush();
            bytes = &bytes[i + 1..];
        }
        self.take(bytes);
    }

    fn take(&mut self, bytes: &[u8]) {
        let room = LINE_CAP.saturating_sub(self.partial.len());
        if bytes.len() > room {
            self.overflowed = true;
        }
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn flush(&mut self) {
        let line = String::from_utf8_lossy(&self.partial);
        // An overflowed line is read only for what it starts with.
        let changed = {
            let mut w = self.live.watch.lock().unwrap_or_else(|p| p.into_inner());
            if self.overflowed {
                w.long_line(&line, Instant::now())
            } else {
                w.line(
                    self.live.origin,
                    line.trim_end_matches('\r'),
                    Instant::now(),
                )
            }
        };
        if changed {
            self.live.notify.notify_one();
        }
        self.partial.clear();
        self.overflowed = false;
    }

    fn activity(&self) {
        self.live
            .watch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .activity(Instant::now());
    }
}

/// The read buffer grows to this once a read fills it (a chatty child).
const READ_BUF: usize = 256 * 1024;
/// A quiet child (most agents, every trivial job) never needs more than this:
/// no 256 KiB allocation, page faults and zeroing per stream per dispatch.
const FIRST_READ_BUF: usize = 16 * 1024;

/// The last bytes of a stream.
#[derive(Debug, Default)]
pub struct Tail {
    buf: Vec<u8>,
    cap: usize,
    truncated: bool,
}

impl Tail {
    /// A tail keeping the last `cap` bytes.
    pub fn new(cap: usize) -> Tail {
        Tail {
            buf: Vec::with_capacity(cap.min(64 * 1024)),
            cap,
            truncated: false,
        }
    }

    /// Appends bytes, forgetting the oldest beyond the cap (amortised O(1)).
    pub fn push(&mut self, bytes: &[u8]) {
        if bytes.len() >= self.cap {
            self.truncated |= !self.buf.is_empty() || bytes.len() > self.cap;
            self.buf.clear();
            self.buf.extend_from_slice(&bytes[bytes.len() - self.cap..]);
            return;
        }
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > 2 * self.cap {
            let excess = self.buf.len() - self.cap;
            self.buf.drain(..excess);
            self.truncated = true;
        }
    }

    /// The last `cap` bytes and whether earlier bytes were dropped.
    pub fn finish(mut self) -> (Vec<u8>, bool) {
        if self.buf.len() > self.cap {
            let excess = self.buf.len() - self.cap;
            self.buf.drain(..excess);
            self.truncated = true;
        }
        (self.buf, self.truncated)
    }
}

/// Where to echo a stream live (without `--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Not echoed.
    Off,
    /// To agentlane's stdout.
    Stdout,
    /// To agentlane's stderr.
    Stderr,
}

/// What one stream produced.
#[derive(Debug, Default)]
pub struct Captured {
    /// Bytes the child wrote (before redaction).
    pub bytes: u64,
    /// The redacted tail.
    pub tail: Vec<u8>,
    /// Whether the tail lost earlier bytes.
    pub tail_truncated: bool,
    /// Why the artifact file is incomplete, if a write failed.
    pub artifact_error: Option<String>,
    /// The artifact file, if the stream printed anything (it was created).
    pub artifact: Option<PathBuf>,
    /// Whether the artifact holds less than the stream (the cap, or an error).
    pub artifact_truncated: bool,
    /// Redacted bytes of the stream that are not in the artifact.
    pub dropped_bytes: u64,
}

/// The line that ends an artifact cut at its cap: agentlane's own text.
pub fn cut_marker(cap: u64, dropped: u64) -> String {
    format!("\n[agentlane: artifact cut at {cap} bytes; {dropped} more bytes not written]\n")
}

/// The line that ends an artifact whose writing failed (written if the
/// file still takes it: a disk that filled up may not).
pub fn failed_marker(written: u64, dropped: u64) -> String {
    format!("\n[agentlane: artifact write failed after {written} bytes; {dropped} more bytes not written]\n")
}

/// Writes `bytes`, retrying interrupted writes; how many were written and the error that stopped it.
fn write_counted<W: Write>(out: &mut W, mut bytes: &[u8]) -> (usize, Option<std::io::Error>) {
    let mut done = 0;
    while !bytes.is_empty() {
        match out.write(bytes) {
            Ok(0) => return (done, Some(std::io::ErrorKind::WriteZero.into())),
            Ok(n) => {
                done += n;
                bytes = &bytes[n..];
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (done, Some(e)),
        }
    }
    (done, None)
}

/// A writer that stops at `cap` bytes and at its first error, counting what
/// it did not write. It never fails its caller: the stream goes on.
#[derive(Debug)]
pub(super) struct Capped<W> {
    out: W,
    cap: u64,
    written: u64,
    dropped: u64,
    cut: bool,
    error: Option<std::io::Error>,
}

/// What a [`Capped`] writer did.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct CappedOutcome {
    /// Bytes written, the end marker excluded.
    pub written: u64,
    /// Bytes not written.
    pub dropped: u64,
    /// Whether the cap cut the output.
    pub cut: bool,
    /// The write error that stopped it, if one did.
    pub error: Option<String>,
}

impl<W: Write> Capped<W> {
    pub fn new(out: W, cap: u64) -> Capped<W> {
        Capped {
            out,
            cap,
            written: 0,
            dropped: 0,
            cut: false,
            error: None,
        }
    }

    pub fn write(&mut self, bytes: &[u8]) {
        if self.cut || self.error.is_some() {
            self.dropped += bytes.len() as u64;
            return;
        }
        let room = self.cap.saturating_sub(self.written);
        let take = usize::try_from(room).map_or(bytes.len(), |r| r.min(bytes.len()));
        let (n, error) = write_counted(&mut self.out, &bytes[..take]);
        self.written += n as u64;
        self.dropped += (bytes.len() - n) as u64;
        if error.is_some() {
            self.error = error;
        } else if take < bytes.len() {
            self.cut = true;
        }
    }

    /// Flushes and ends the output with a marker if it is incomplete.
    pub fn finish(mut self) -> CappedOutcome {
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(e);
            }
        }
        let marker = match (&self.error, self.cut) {
            (None, true) => Some(cut_marker(self.cap, self.dropped)),
            (Some(_), _) => Some(failed_marker(self.written, self.dropped)),
            (None, false) => None,
        };
        if let Some(marker) = marker {
            // Best effort after a write error (the file may take nothing
            // more); a cut whose marker fails is reported as that error.
            let (_, e) = write_counted(&mut self.out, marker.as_bytes());
            match e {
                Some(e) => {
                    self.error.get_or_insert(e);
                }
                None => {
                    let _ = self.out.flush();
                }
            }
        }
        CappedOutcome {
            written: self.written,
            dropped: self.dropped,
            cut: self.cut,
            error: self.error.map(|e| e.to_string()),
        }
    }
}

/// A stream's artifact file, created 0600 in a 0700 directory on the
/// stream's first byte: a stream that prints nothing leaves no file (and a
/// trivial job costs no directory and no inodes). At most `cap` bytes are
/// written; the rest is counted, and a marker line says where it was cut.
pub(super) enum ArtifactFile {
    /// Not created yet: nothing was printed.
    Pending(PathBuf, u64),
    /// Created and being written (or done writing: cut, or failed).
    Open(PathBuf, Capped<File>),
    /// Never to be written (creation failed): what it would have held.
    Off {
        /// Bytes not written.
        dropped: u64,
        /// Why, if it was to be created.
        error: Option<String>,
    },
}

/// What became of an artifact file.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct ArtifactOutcome {
    /// The file, if it was created.
    pub path: Option<PathBuf>,
    /// Why it is incomplete, if a write (or its creation) failed.
    pub error: Option<String>,
    /// Whether it holds less than the stream.
    pub truncated: bool,
    /// Bytes of the (redacted) stream it does not hold.
    pub dropped: u64,
}

impl ArtifactFile {
    /// The file is `path`, created on first write, holding at most `cap` bytes.
    pub fn lazy(path: PathBuf, cap: u64) -> ArtifactFile {
        ArtifactFile::Pending(path, cap)
    }

    fn create(path: &Path) -> std::io::Result<File> {
        if let Some(dir) = path.parent() {
            crate::home::private_dir(dir).map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
    }

    /// Writes `bytes`, creating the file first if needed. Never fails: a
    /// failure is kept for [`ArtifactFile::finish`] and the stream goes on.
    fn write(&mut self, bytes: &[u8]) {
        if let ArtifactFile::Pending(path, cap) = self {
            let (path, cap) = (std::mem::take(path), *cap);
            *self = match Self::create(&path) {
                Ok(f) => ArtifactFile::Open(path, Capped::new(f, cap)),
                Err(e) => ArtifactFile::Off {
                    dropped: 0,
                    error: Some(format!("cannot create {}: {e}", path.display())),
                },
            };
        }
        match self {
            ArtifactFile::Open(_, out) => out.write(bytes),
            ArtifactFile::Off { dropped, .. } => *dropped += bytes.len() as u64,
            ArtifactFile::Pending(..) => {}
        }
    }

    /// Ends the file: its path, and what it lacks.
    fn finish(self) -> ArtifactOutcome {
        match self {
            ArtifactFile::Open(path, out) => {
                let done = out.finish();
                let error = done
                    .error
                    .map(|e| format!("cannot write {}: {e}", path.display()));
                ArtifactOutcome {
                    truncated: done.dropped > 0 || done.cut || error.is_some(),
                    path: Some(path),
                    error,
                    dropped: done.dropped,
                }
            }
            ArtifactFile::Off { dropped, error } => ArtifactOutcome {
                path: None,
                truncated: error.is_some(),
                error,
                dropped,
            },
            ArtifactFile::Pending(..) => ArtifactOutcome::default(),
        }
    }
}

struct Sinks<'a, 'l, 'r> {
    file: ArtifactFile,
    echo: Echo,
    tail: &'a mut Tail,
    lines: Option<Lines<'l, 'r>>,
}

impl Sinks<'_, '_, '_> {
    fn emit(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.file.write(bytes);
        if let Some(lines) = &mut self.lines {
            lines.push(bytes);
        }
        let echoed = match self.echo {
            Echo::Off => Ok(()),
            Echo::Stdout => std::io::stdout()
                .lock()
                .write_all(bytes)
                .and_then(|_| std::io::stdout().flush()),
            Echo::Stderr => std::io::stderr().lock().write_all(bytes),
        };
        if echoed.is_err() {
            // Nobody is reading our output any more; keep capturing.
            self.echo = Echo::Off;
        }
        self.tail.push(bytes);
    }
}

/// Drains `pipe` until EOF or until `cancel` turns true.
pub async fn capture<R: AsyncRead + Unpin>(
    mut pipe: R,
    file: ArtifactFile,
    echo: Echo,
    redactor: &Redactor,
    tail_cap: usize,
    mut cancel: watch::Receiver<bool>,
    live: Option<Live<'_, '_>>,
) -> Captured {
    let mut tail = Tail::new(tail_cap);
    let mut sinks = Sinks {
        file,
        echo,
        tail: &mut tail,
        lines: live.map(|live| Lines {
            live,
            partial: Vec::new(),
            overflowed: false,
        }),
    };
    let mut stream = StreamRedactor::new(redactor);
    // Read into spare capacity: nothing is zeroed, and the buffer only grows
    // when the child fills it.
    let mut buf: Vec<u8> = Vec::with_capacity(FIRST_READ_BUF);
    let mut bytes = 0u64;
    loop {
        buf.clear();
        tokio::select! {
            biased;
            read = pipe.read_buf(&mut buf) => match read {
                Ok(0) => break,
                Ok(n) => {
                    bytes += n as u64;
                    if let Some(lines) = &sinks.lines {
                        lines.activity();
                    }
                    stream.push(&buf[..n], &mut |b| sinks.emit(b));
                    if n == buf.capacity() && n < READ_BUF {
                        buf.clear();
                        buf.reserve_exact(READ_BUF);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            },
            changed = cancel.changed() => {
                if changed.is_err() || *cancel.borrow() { break; }
            }
        }
    }
    stream.finish(&mut |b| sinks.emit(b));
    if let Some(lines) = &mut sinks.lines {
        if !lines.partial.is_empty() {
            lines.flush();
        }
    }
    let artifact = sinks.file.finish();
    let (tail, tail_truncated) = tail.finish();
    Captured {
        bytes,
        tail,
        tail_truncated,
        artifact_error: artifact.error,
        artifact: artifact.path,
        artifact_truncated: artifact.truncated,
        dropped_bytes: artifact.dropped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_case::test_case;

    /// A disk with `room` bytes free: takes what fits, then fails with ENOSPC
    /// (a short write first, as write(2) does on a filling disk).
    struct Disk {
        data: Vec<u8>,
        room: usize,
    }

    impl Write for Disk {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let free = self.room - self.data.len();
            if free == 0 && !bytes.is_empty() {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
            }
            let n = free.min(bytes.len());
            self.data.extend_from_slice(&bytes[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Writes `chunks` through a cap of `cap` onto a disk with `room` bytes free.
    fn run(cap: u64, room: usize, chunks: &[&str]) -> (String, CappedOutcome) {
        let mut disk = Disk {
            data: Vec::new(),
            room,
        };
        let mut out = Capped::new(&mut disk, cap);
        for chunk in chunks {
            out.write(chunk.as_bytes());
        }
        let outcome = out.finish();
        (String::from_utf8(disk.data).unwrap(), outcome)
    }

    const ENOSPC: &str = "No space left on device (os error 28)";

    #[test_case(10, 1000, &["abc", "def"], "abcdef", 0, false, None; "under the cap")]
    #[test_case(6, 1000, &["abc", "def"], "abcdef", 0, false, None; "exactly the cap is not a cut")]
    #[test_case(4, 1000, &["abc", "def"], "abcd\n[agentlane: artifact cut at 4 bytes; 2 more bytes not written]\n", 2, true, None; "cut inside a write")]
    #[test_case(3, 1000, &["abc", "def", "gh"], "abc\n[agentlane: artifact cut at 3 bytes; 5 more bytes not written]\n", 5, true, None; "cut at a write boundary counts every later byte")]
    #[test_case(1, 1000, &["", "xyz"], "x\n[agentlane: artifact cut at 1 bytes; 2 more bytes not written]\n", 2, true, None; "empty writes change nothing")]
    #[test_case(100, 4, &["abc", "def"], "abcd", 2, false, Some(ENOSPC); "a full disk stops the file and counts the rest")]
    #[test_case(100, 3, &["abc", "def", "g"], "abc", 4, false, Some(ENOSPC); "a full disk at a write boundary")]
    #[test_case(100, 0, &["abc"], "", 3, false, Some(ENOSPC); "no room at all")]
    #[test_case(4, 10, &["abcdef"], "abcd\n[agen", 2, true, Some(ENOSPC); "a cut whose marker does not fit reports the error")]
    #[test_case(100, 60, &["abcdef"], "abcdef", 0, false, None; "room to spare")]
    fn capped_writer(
        cap: u64,
        room: usize,
        chunks: &[&str],
        file: &str,
        dropped: u64,
        cut: bool,
        error: Option<&str>,
    ) {
        let (data, outcome) = run(cap, room, chunks);
        assert_eq!(data, file);
        assert_eq!(outcome.dropped, dropped, "{outcome:?}");
        assert_eq!(outcome.cut, cut, "{outcome:?}");
        assert_eq!(outcome.error.as_deref(), error, "{outcome:?}");
        let all: usize = chunks.iter().map(|c| c.len()).sum();
        assert_eq!(
            outcome.written + outcome.dropped,
            all as u64,
            "every byte is counted once"
        );
    }

    #[test]
    fn a_failed_file_ends_with_the_marker_when_it_takes_one() {
        // One write fails with EIO; the file takes writes again by the end.
        struct Flaky(Vec<u8>, std::rc::Rc<std::cell::Cell<bool>>);
        impl Write for Flaky {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                if self.1.replace(false) {
                    return Err(std::io::Error::from_raw_os_error(libc::EIO));
                }
                self.0.extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let fail = std::rc::Rc::new(std::cell::Cell::new(false));
        let mut f = Flaky(Vec::new(), fail.clone());
        let mut out = Capped::new(&mut f, 100);
        out.write(b"ok ");
        fail.set(true);
        out.write(b"lost");
        out.write(b" also lost");
        let outcome = out.finish();
        assert_eq!(outcome.written, 3);
        assert_eq!(outcome.dropped, 14);
        assert!(!outcome.cut);
        assert_eq!(
            outcome.error.as_deref(),
            Some("Input/output error (os error 5)")
        );
        assert_eq!(
            String::from_utf8(f.0).unwrap(),
            "ok \n[agentlane: artifact write failed after 3 bytes; 14 more bytes not written]\n"
        );
    }

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut t = Tail::new(4);
        for chunk in [&b"ab"[..], b"cd", b"ef", b"g"] {
            t.push(chunk);
        }
        assert_eq!(t.finish(), (b"defg".to_vec(), true));
        let mut t = Tail::new(10);
        t.push(b"short");
        assert_eq!(t.finish(), (b"short".to_vec(), false));
        let mut t = Tail::new(3);
        t.push(b"abcdef");
        assert_eq!(t.finish(), (b"def".to_vec(), true));
    }
}
