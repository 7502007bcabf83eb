//! The store's facts that `/metrics` exposes as gauges: one read of the
//! shared store ([`crate::store::Reader::metrics_snapshot`]), the same from
//! every scrape target, and the worker's heartbeat row that feeds its
//! last-seen gauge. Every label here is drawn from a bounded set (lanes,
//! states, routes, classes, hosts, worker kinds): never a job id or a
//! fingerprint.

use serde::{Deserialize, Serialize};

/// What the store knows now, for the gauges.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// Jobs per lane and state (states with no job are left out).
    pub jobs: Vec<LaneStateCount>,
    /// Open incidents per class and repair address.
    pub open_incidents: Vec<IncidentCount>,
    /// Parked jobs per lane and the class that parked them (`none` when
    /// the job has no class: parked before any attempt).
    pub parked: Vec<ParkedCount>,
    /// The latest `preflight_checked` of each route.
    pub preflight: Vec<PreflightLatest>,
    /// Workers seen within the last day, by host, kind and lane.
    pub workers: Vec<WorkerSeen>,
}

/// Jobs of one lane in one state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaneStateCount {
    /// The lane.
    pub lane: String,
    /// The state's label (`queued`, `running`, ...).
    pub state: String,
    /// How many.
    pub count: u64,
}

/// Open incidents of one class and repair address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentCount {
    /// The class label.
    pub class: String,
    /// `runtime`, `router` or `producer`.
    pub repair_address: String,
    /// How many are open.
    pub count: u64,
}

/// Parked jobs of one lane that one class parked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParkedCount {
    /// The lane.
    pub lane: String,
    /// The class of the attempt that parked them (`none`: no attempt).
    pub reason: String,
    /// How many.
    pub count: u64,
}

/// A route's latest preflight: its three checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreflightLatest {
    /// The route.
    pub route: String,
    /// The executable resolves.
    pub cli_resolves: bool,
    /// The CLI can run here.
    pub cli_ready: bool,
    /// Policy allows the route.
    pub route_allowed: bool,
}

/// A worker's heartbeat row: who (bounded: host, kind, lane — never the
/// pid-unique lease owner), and when it was last seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerSeen {
    /// The host it runs on.
    pub host: String,
    /// Its worker kind.
    pub kind: String,
    /// The lane it serves.
    pub lane: String,
    /// When it was last seen, in seconds since the Unix epoch (database clock).
    pub last_seen: f64,
}

/// A grouped count's row, (key, key, count), read by each backend.
type CountRow = (String, String, u64);

impl From<CountRow> for LaneStateCount {
    fn from((lane, state, count): CountRow) -> Self {
        LaneStateCount { lane, state, count }
    }
}

impl From<CountRow> for IncidentCount {
    fn from((class, repair_address, count): CountRow) -> Self {
        IncidentCount {
            class,
            repair_address,
            count,
        }
    }
}

impl From<CountRow> for ParkedCount {
    fn from((lane, reason, count): CountRow) -> Self {
        ParkedCount {
            lane,
            reason,
            count,
        }
    }
}

/// What a worker's heartbeat writes ([`crate::store::QueueStore::worker_seen`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerBeat {
    /// The host it runs on.
    pub host: String,
    /// Its worker kind.
    pub kind: String,
    /// The lane it serves.
    pub lane: String,
}

/// How long a worker's heartbeat row is kept after it was last seen: each
/// heartbeat deletes the rows older than this, so hosts that are gone fall
/// off the gauge.
pub const WORKER_SEEN_KEPT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
