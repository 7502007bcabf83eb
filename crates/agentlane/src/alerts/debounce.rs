//! The debounce, pure over the instants it is given: the first alert of a key
//! is sent; the same key again within the window after it is suppressed and
//! counted; the next one sent after the window says how many were held back.

use std::collections::HashMap;
use std::time::Duration;

/// What to do with one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Send it; `suppressed` alerts of its key were held back since the last one sent.
    Send {
        /// Held back since the last one sent.
        suppressed: u64,
    },
    /// Suppressed: one of its key was sent within the window.
    Suppressed,
}

/// Keys beyond which expired entries are swept (memory stays bounded by the
/// keys seen within one window).
const SWEEP_AT: usize = 1024;

/// The debounce of one webhook.
#[derive(Debug, Clone)]
pub struct Debouncer {
    window: Duration,
    /// Per key: when one was last sent, and how many were suppressed since.
    keys: HashMap<String, (jiff::Timestamp, u64)>,
}

impl Debouncer {
    /// A debounce of `window` (zero: every alert is sent).
    pub fn new(window: Duration) -> Debouncer {
        Debouncer {
            window,
            keys: HashMap::new(),
        }
    }

    /// Whether the alert of `key` raised at `now` is sent.
    pub fn admit(&mut self, key: &str, now: jiff::Timestamp) -> Admit {
        if self.keys.len() >= SWEEP_AT {
            let window = self.window;
            self.keys
                .retain(|_, (sent, n)| !expired(*sent, now, window) || *n > 0);
        }
        match self.keys.get_mut(key) {
            Some((sent, suppressed)) if !expired(*sent, now, self.window) => {
                *suppressed += 1;
                Admit::Suppressed
            }
            Some((sent, suppressed)) => {
                let held = std::mem::take(suppressed);
                *sent = now;
                Admit::Send { suppressed: held }
            }
            None => {
                self.keys.insert(key.to_string(), (now, 0));
                Admit::Send { suppressed: 0 }
            }
        }
    }
}

/// Whether `now` is at or past the end of the window opened at `sent` (a
/// clock that went back counts as within it).
fn expired(sent: jiff::Timestamp, now: jiff::Timestamp, window: Duration) -> bool {
    let elapsed = now.as_nanosecond() - sent.as_nanosecond();
    elapsed >= 0 && elapsed as u128 >= window.as_nanos()
}
