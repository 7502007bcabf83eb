//! The mass-failure detector, pure over the instants it is given: N or more
//! failed attempts within a sliding window fire once; the episode ends when
//! the window holds fewer than N again, and the next crossing fires again.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use crate::class::Class;

/// One failed attempt, as the detector keeps it.
#[derive(Debug, Clone)]
struct Failed {
    at: jiff::Timestamp,
    class: Class,
    route: String,
    hint: String,
}

/// What the detector saw when it fired.
#[derive(Debug, Clone, PartialEq)]
pub struct MassFailureSeen {
    /// Failed attempts in the window.
    pub failed: u64,
    /// The most frequent class (ties: the latest of them).
    pub class: Class,
    /// That class's latest hint.
    pub hint: String,
    /// The routes that failed, sorted.
    pub routes: Vec<String>,
}

/// The detector.
#[derive(Debug, Clone)]
pub struct MassFailure {
    threshold: usize,
    window: Duration,
    failed: VecDeque<Failed>,
    firing: bool,
}

impl MassFailure {
    /// Fires at `threshold` failures within `window`.
    pub fn new(threshold: u32, window: Duration) -> MassFailure {
        MassFailure {
            threshold: threshold.max(1) as usize,
            window,
            failed: VecDeque::new(),
            firing: false,
        }
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Records a failed attempt at `now`; returns what to alert when this one
    /// starts an episode.
    pub fn failed(
        &mut self,
        now: jiff::Timestamp,
        class: Class,
        route: &str,
        hint: &str,
    ) -> Option<MassFailureSeen> {
        self.expire(now);
        self.failed.push_back(Failed {
            at: now,
            class,
            route: route.to_string(),
            hint: hint.to_string(),
        });
        // Bounded: only the newest `threshold` matter for firing, but the
        // count shown is the window's, so keep a generous cap.
        while self.failed.len() > self.threshold.max(1) * 64 {
            self.failed.pop_front();
        }
        if self.failed.len() < self.threshold || self.firing {
            return None;
        }
        self.firing = true;
        Some(self.seen())
    }

    /// Drops failures older than the window; the episode ends when fewer
    /// than the threshold remain.
    pub fn expire(&mut self, now: jiff::Timestamp) {
        let window = self.window.as_nanos() as i128;
        while let Some(f) = self.failed.front() {
            if now.as_nanosecond() - f.at.as_nanosecond() >= window {
                self.failed.pop_front();
            } else {
                break;
            }
        }
        if self.failed.len() < self.threshold {
            self.firing = false;
        }
    }

    fn seen(&self) -> MassFailureSeen {
        let mut counts: BTreeMap<Class, (usize, usize)> = BTreeMap::new();
        for (i, f) in self.failed.iter().enumerate() {
            let e = counts.entry(f.class).or_insert((0, 0));
            e.0 += 1;
            e.1 = i;
        }
        let (class, _) = counts
            .iter()
            .max_by_key(|(_, (n, last))| (*n, *last))
            .map(|(c, v)| (*c, *v))
            .unwrap_or((Class::Ok, (0, 0)));
        let hint = self
            .failed
            .iter()
            .rev()
            .find(|f| f.class == class)
            .map(|f| f.hint.clone())
            .unwrap_or_default();
        let routes: BTreeSet<String> = self.failed.iter().map(|f| f.route.clone()).collect();
        MassFailureSeen {
            failed: self.failed.len() as u64,
            class,
            hint,
            routes: routes.into_iter().collect(),
        }
    }
}
