//! Capture: pipe → redacted artifact file + bounded tail (+ live echo).
//!
//! Memory is bounded whatever the child prints: one read buffer, the
//! redactor's bounded pending line, and a tail of at most `2 × tail_cap`
//! bytes. The pipe is always drained — a failed artifact write stops the file,
//! never the reading — so the child can never block on a full pipe.

use std::fs::File;
use std::io::Write;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

use crate::redact::{Redactor, StreamRedactor};

const READ_BUF: usize = 256 * 1024;

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
}

struct Sinks<'a> {
    file: Option<File>,
    echo: Echo,
    tail: &'a mut Tail,
    artifact_error: Option<String>,
}

impl Sinks<'_> {
    fn emit(&mut self, bytes: &[u8]) {
        if let Some(f) = &mut self.file {
            if let Err(e) = f.write_all(bytes) {
                self.artifact_error = Some(e.to_string());
                self.file = None;
            }
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
    file: Option<File>,
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
    let mut buf = vec![0u8; READ_BUF];
    let mut bytes = 0u64;
    loop {
        tokio::select! {
            biased;
            read = pipe.read(&mut buf) => match read {
                Ok(0) => break,
                Ok(n) => {
                    bytes += n as u64;
                    stream.push(&buf[..n], &mut |b| sinks.emit(b));
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
    if let Some(f) = &mut sinks.file {
        if let Err(e) = f.flush() {
            sinks.artifact_error.get_or_insert(e.to_string());
        }
    }
    let artifact_error = sinks.artifact_error.take();
    let (tail, tail_truncated) = tail.finish();
    Captured {
        bytes,
        tail,
        tail_truncated,
        artifact_error,
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
