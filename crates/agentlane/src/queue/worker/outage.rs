//! A store outage as the worker lives through it: said once when it starts
//! and once when it ends, with waits that double from 100 ms up to 5 s, each
//! drawn from its upper half so a fleet that lost its server (or found every
//! connection slot taken) does not come back in step.

use std::time::Duration;

use tokio::sync::watch;

/// The first wait of an outage.
const FIRST_WAIT: Duration = Duration::from_millis(100);
/// The longest wait.
const MAX_WAIT: Duration = Duration::from_secs(5);

pub(super) struct Outage {
    owner: String,
    since: Option<std::time::Instant>,
    wait: Duration,
    /// Outages lived through.
    pub(super) count: u64,
}

impl Outage {
    pub(super) fn new(owner: &str) -> Self {
        Outage {
            owner: owner.to_string(),
            since: None,
            wait: FIRST_WAIT,
            count: 0,
        }
    }

    /// Says the outage started (the first time), then waits (or until stopped).
    pub(super) async fn wait(
        &mut self,
        e: &(dyn std::fmt::Display + Sync),
        stop: &mut watch::Receiver<bool>,
    ) {
        if self.since.is_none() {
            self.since = Some(std::time::Instant::now());
            self.count += 1;
            tracing::error!(owner = %self.owner, "{e}; retrying until it answers");
        }
        tokio::select! {
            _ = tokio::time::sleep(crate::store::postgres::jittered(self.wait)) => {}
            Ok(()) = stop.changed() => {}
        }
        self.wait = (self.wait * 2).min(MAX_WAIT);
    }

    /// The store answered: says so if it had not.
    pub(super) fn over(&mut self) {
        if let Some(since) = self.since.take() {
            tracing::info!(
                owner = %self.owner,
                "the store answers again after {:.1} s",
                since.elapsed().as_secs_f64()
            );
        }
        self.wait = FIRST_WAIT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_outage_is_counted_once_and_its_waits_double_up_to_a_ceiling() {
        let (_tx, mut stop) = watch::channel(false);
        let mut o = Outage::new("w");
        let mut waits = Vec::new();
        for _ in 0..8 {
            let before = tokio::time::Instant::now();
            o.wait(&"down", &mut stop).await;
            waits.push(before.elapsed().as_millis());
        }
        assert_eq!(o.count, 1, "one outage, however many waits");
        let ceilings = [100, 200, 400, 800, 1600, 3200, 5000, 5000];
        for (w, c) in waits.iter().zip(ceilings) {
            assert!(
                (c / 2..=c).contains(w),
                "waits {waits:?} against ceilings {ceilings:?}"
            );
        }
        o.over();
        o.wait(&"down again", &mut stop).await;
        assert_eq!(o.count, 2, "a new outage after it was over");
    }
}
