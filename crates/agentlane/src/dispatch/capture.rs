//! Capture: pipe → redacted artifact file + bounded tail (+ live echo).
//!
//! Memory is bounded whatever the child prints: one read buffer, the
//! redactor's bounded pending line, and a tail of at most `2 × tail_cap`
//! bytes. The pipe is always drained — a failed artifact write stops the file,
//! never the reading — so the child can never block on a full pipe.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

use crate::redact::{Redactor, StreamRedactor};

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
    /// Why the artifact file is incomplete, if it is.
    pub artifact_error: Option<String>,
    /// The artifact file, if the stream printed anything (it was created).
    pub artifact: Option<PathBuf>,
}

/// A stream's artifact file, created 0600 in a 0700 directory on the
/// stream's first byte: a stream that prints nothing leaves no file (and a
/// trivial job costs no directory and no inodes).
pub(super) enum ArtifactFile {
    /// Not created yet: nothing was printed.
    Pending(PathBuf),
    /// Created and being written.
    Open(PathBuf, File),
    /// Created, then a write failed: the file is incomplete.
    Broken(PathBuf),
    /// Never to be written (creation failed).
    Off,
}

impl ArtifactFile {
    /// The file is `path`, created on first write.
    pub fn lazy(path: PathBuf) -> ArtifactFile {
        ArtifactFile::Pending(path)
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

    /// Writes `bytes`, creating the file first if needed; the error says what failed.
    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        if let ArtifactFile::Pending(path) = self {
            let path = std::mem::take(path);
            match Self::create(&path) {
                Ok(f) => *self = ArtifactFile::Open(path, f),
                Err(e) => {
                    *self = ArtifactFile::Off;
                    return Err(format!("cannot create {}: {e}", path.display()));
                }
            }
        }
        if let ArtifactFile::Open(path, f) = self {
            if let Err(e) = f.write_all(bytes) {
                *self = ArtifactFile::Broken(std::mem::take(path));
                return Err(e.to_string());
            }
        }
        Ok(())
    }

    /// Flushes; the path of the file if one was created.
    fn finish(self) -> (Option<PathBuf>, Option<String>) {
        match self {
            ArtifactFile::Open(path, mut f) => {
                let err = f.flush().err().map(|e| e.to_string());
                (Some(path), err)
            }
            ArtifactFile::Broken(path) => (Some(path), None),
            ArtifactFile::Pending(_) | ArtifactFile::Off => (None, None),
        }
    }
}

struct Sinks<'a> {
    file: ArtifactFile,
    echo: Echo,
    tail: &'a mut Tail,
    artifact_error: Option<String>,
}

impl Sinks<'_> {
    fn emit(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Err(e) = self.file.write(bytes) {
            self.artifact_error.get_or_insert(e);
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
) -> Captured {
    let mut tail = Tail::new(tail_cap);
    let mut sinks = Sinks {
        file,
        echo,
        tail: &mut tail,
        artifact_error: None,
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
    let file = std::mem::replace(&mut sinks.file, ArtifactFile::Off);
    let (artifact, flush_error) = file.finish();
    let artifact_error = sinks.artifact_error.take().or(flush_error);
    let (tail, tail_truncated) = tail.finish();
    Captured {
        bytes,
        tail,
        tail_truncated,
        artifact_error,
        artifact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
