//! Which waiting jobs sit behind a hard stop: a queued job of a route an
//! open incident blocks is not claimed, and its page should say so rather
//! than "queued" (the same reading `agentlane jobs` gives: `RouteBlock`).

use std::collections::BTreeMap;

use agentlane::model::{Job, JobState, RouteBlock};
use agentlane::store::StoreError;

use crate::state::AppState;

/// The hard stops of some lanes, by (lane, route), on any host.
#[derive(Default)]
pub struct Blocks(BTreeMap<(String, String), RouteBlock>);

impl Blocks {
    /// The blocks of these lanes.
    pub async fn of_lanes<'a>(
        state: &AppState,
        lanes: impl IntoIterator<Item = &'a str>,
    ) -> Result<Blocks, StoreError> {
        let mut lanes: Vec<&str> = lanes.into_iter().collect();
        lanes.sort_unstable();
        lanes.dedup();
        let mut out = BTreeMap::new();
        for lane in lanes {
            for b in state.store.route_blocks(lane, None).await? {
                out.insert((lane.to_string(), b.route.clone()), b);
            }
        }
        Ok(Blocks(out))
    }

    /// The blocks of the lanes where these jobs wait.
    pub async fn of_jobs(state: &AppState, jobs: &[Job]) -> Result<Blocks, StoreError> {
        Self::of_lanes(
            state,
            jobs.iter().filter(|j| waiting(j)).map(|j| j.lane.as_str()),
        )
        .await
    }

    /// The block a waiting job sits behind (the job whose own failure is the
    /// block keeps its own reason).
    pub fn of_job(&self, j: &Job) -> Option<&RouteBlock> {
        if !waiting(j) {
            return None;
        }
        self.0
            .get(&(j.lane.clone(), j.route.clone()))
            .filter(|b| j.incident_id.as_deref() != Some(b.incident_id.as_str()))
    }

    /// The routes an incident blocks.
    pub fn routes_of(&self, incident: &str) -> Vec<&str> {
        self.0
            .values()
            .filter(|b| b.incident_id == incident)
            .map(|b| b.route.as_str())
            .collect()
    }
}

fn waiting(j: &Job) -> bool {
    matches!(j.state(), JobState::Queued | JobState::Scheduled)
}
