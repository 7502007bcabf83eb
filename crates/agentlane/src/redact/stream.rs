//! [`StreamRedactor`]: the [`Redactor`] over a stream delivered in arbitrary
//! chunks, never cutting through a secret.
//!
//! Complete lines are redacted and released at once; a line longer than
//! [`MAX_PENDING`] is released in pieces cut outside any match. The lines of
//! an open private-key block (`-----BEGIN … PRIVATE KEY-----` up to its
//! `-----END` line) are held until the block ends, so that a rule over the
//! whole block sees it whole even when the child writes it line by line; a
//! block longer than [`MAX_BLOCK`] is released (redacted) without waiting.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

use super::shapes::{pem_begin, pem_end};

use super::{Redactor, MAX_PENDING, OVERLAP};

/// The most a private-key block is held before it is released anyway.
pub const MAX_BLOCK: usize = 64 * 1024;

/// Applies a [`Redactor`] to a stream delivered in arbitrary chunks.
#[derive(Debug)]
pub struct StreamRedactor<'r> {
    redactor: &'r Redactor,
    pub(super) pending: Vec<u8>,
    /// Where the open private-key block starts in `pending`.
    block: Option<usize>,
    /// `pending[..scanned]` (complete lines) has been scanned for block markers.
    scanned: usize,
}

fn markers() -> &'static AhoCorasick {
    static MARKERS: OnceLock<Option<AhoCorasick>> = OnceLock::new();
    MARKERS
        .get_or_init(|| AhoCorasick::new(["-----BEGIN", "-----END"]).ok())
        .as_ref()
        .unwrap_or_else(|| unreachable!("two plain literals always build"))
}

impl<'r> StreamRedactor<'r> {
    /// A stream redactor with nothing held.
    pub fn new(redactor: &'r Redactor) -> Self {
        StreamRedactor {
            redactor,
            pending: Vec::new(),
            block: None,
            scanned: 0,
        }
    }

    /// Feeds a chunk; calls `emit` with redacted bytes that are final.
    pub fn push(&mut self, chunk: &[u8], emit: &mut dyn FnMut(&[u8])) {
        if self.pending.is_empty() && self.block.is_none() && !markers().is_match(chunk) {
            // Fast path: no copy for the complete lines of this chunk.
            match memchr_last_newline(chunk) {
                Some(end) => {
                    emit(&self.redactor.redact_bytes(&chunk[..=end]));
                    self.pending.extend_from_slice(&chunk[end + 1..]);
                }
                None => self.pending.extend_from_slice(chunk),
            }
        } else {
            self.pending.extend_from_slice(chunk);
            let complete = memchr_last_newline(&self.pending).map_or(0, |e| e + 1);
            if complete > self.scanned {
                self.scan(complete);
            }
            if self.block.is_some() && self.pending.len() > MAX_BLOCK {
                self.block = None; // too long to be a key: release it
            }
            let release = self.block.unwrap_or(self.scanned);
            if release > 0 {
                emit(&self.redactor.redact_bytes(&self.pending[..release]));
                self.pending.drain(..release);
                self.scanned -= release;
                self.block = self.block.map(|b| b - release);
            }
        }
        if self.block.is_none() && self.pending.len() > MAX_PENDING {
            let cut = self
                .redactor
                .safe_cut(&self.pending, self.pending.len() - OVERLAP);
            if cut > 0 {
                emit(&self.redactor.redact_bytes(&self.pending[..cut]));
                self.pending.drain(..cut);
                self.scanned = self.scanned.saturating_sub(cut);
            }
        }
    }

    /// Opens and closes private-key blocks on the complete lines up to `complete`.
    fn scan(&mut self, complete: usize) {
        let from = self.scanned;
        for m in markers().find_iter(&self.pending[from..complete]) {
            let at = from + m.start();
            let start = self.pending[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            let end = self.pending[at..complete]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(complete, |p| at + p + 1);
            let line = &self.pending[start..end];
            match (m.pattern().as_usize(), self.block) {
                (0, None) if pem_begin(line) => self.block = Some(start),
                (1, Some(_)) if pem_end(line) => self.block = None,
                _ => {}
            }
        }
        self.scanned = complete;
    }

    /// Releases whatever is held, redacted. Call once at end of stream.
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if !self.pending.is_empty() {
            emit(&self.redactor.redact_bytes(&self.pending));
            self.pending.clear();
        }
        self.block = None;
        self.scanned = 0;
    }
}

fn memchr_last_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::super::Secrets;
    use super::*;

    fn pushes(r: &Redactor, lines: &[&str]) -> Vec<Vec<u8>> {
        let mut emitted = Vec::new();
        let mut s = StreamRedactor::new(r);
        for line in lines {
            s.push(line.as_bytes(), &mut |b| emitted.push(b.to_vec()));
        }
        s.finish(&mut |b| emitted.push(b.to_vec()));
        emitted
    }

    #[test]
    fn a_private_key_block_written_line_by_line_is_released_in_one_piece() {
        let r = Redactor::new(&Secrets::default());
        let emitted = pushes(
            &r,
            &[
                "before\n",
                "-----BEGIN OPENSSH PRIVATE KEY-----\n",
                "b3BlbnNzaC1rZXktdjEAAAAA\n",
                "QyNTUxOQAAACDq7ZvX2mWp9T\n",
                "-----END OPENSSH PRIVATE KEY-----\n",
                "after\n",
            ],
        );
        let text: Vec<String> = emitted
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        assert_eq!(text[0], "before\n");
        // Held until its END line, the block reaches the context layer whole.
        assert_eq!(text[1], "[REDACTED:private-key]\n", "{text:?}");
        assert_eq!(text[2], "after\n");
    }

    #[test]
    fn a_certificate_is_not_held_and_an_unterminated_key_is_released_at_the_cap() {
        let r = Redactor::new(&Secrets::default());
        let emitted = pushes(&r, &["-----BEGIN CERTIFICATE-----\n", "MIIB\n"]);
        assert_eq!(emitted.len(), 2, "a certificate line is released at once");
        let mut s = StreamRedactor::new(&r);
        let mut out = 0;
        s.push(b"-----BEGIN PRIVATE KEY-----\n", &mut |b| out += b.len());
        for _ in 0..2000 {
            s.push(
                b"QyNTUxOQAAACDq7ZvX2mWp9TQyNTUxOQAAACDq7ZvX2mWp9T\n",
                &mut |b| out += b.len(),
            );
            assert!(s.pending.len() <= MAX_BLOCK + 64);
        }
        assert!(out > 0, "the block was released at the cap");
    }
}
