//! Whether a delivery is tried again, and after how long: pure. A 5xx, a 429
//! and a request that got no answer (refused, reset, timed out) may pass; any
//! other 4xx will not (a wrong URL or a refused body stays wrong).

use std::time::Duration;

/// How one HTTP request ended, as the retry decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A 2xx: delivered.
    Delivered,
    /// Worth another try.
    Retry,
    /// Refused for good.
    GiveUp,
}

/// The verdict on one request: its status, or None when no answer came.
pub fn verdict(status: Option<u16>) -> Verdict {
    match status {
        Some(200..=299) => Verdict::Delivered,
        None | Some(429) | Some(500..=599) => Verdict::Retry,
        Some(_) => Verdict::GiveUp,
    }
}

/// The wait before try `next` (2 for the first retry): `base` doubled per
/// retry, capped at `max`, then scaled into [50%, 100%] by `jitter` (a sample
/// in [0, 1)) so many workers do not retry in step.
pub fn backoff(next: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let doublings = next.saturating_sub(2).min(30);
    let full = base.saturating_mul(1u32 << doublings).min(max);
    full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}
