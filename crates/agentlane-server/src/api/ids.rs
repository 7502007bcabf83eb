//! Ids people paste (a whole id, or a unique prefix or suffix of 6+
//! characters), resolved the way the command line resolves them.

use agentlane::store::{IdKind, IdMatch, StoreError, ID_CANDIDATES};
use serde_json::json;

use crate::problem::Problem;
use crate::state::AppState;

/// The full id `fragment` names, or a problem that says what to send.
pub async fn full_id(state: &AppState, kind: IdKind, fragment: &str) -> Result<String, Problem> {
    let noun = kind.noun();
    let list = match kind {
        IdKind::Job => "/api/v1/jobs",
        IdKind::Dispatch => "/api/v1/dispatches",
        IdKind::Incident => "/api/v1/incidents",
    };
    match state.store.resolve_id(kind, fragment).await {
        Ok(IdMatch::One(id)) => Ok(id),
        Ok(IdMatch::None) => Err(Problem::not_found(format!("no {noun} '{fragment}': list them at {list}"))),
        Ok(IdMatch::Many(ids)) => Err(Problem::conflict(
            "ambiguous_id",
            format!(
                "'{fragment}' matches more than one {noun}{}: send more characters of its start or its end",
                if ids.len() >= ID_CANDIDATES { " (the first few are listed)" } else { "" }
            ),
        )
        .with_extra(json!({ "candidates": ids }))),
        Err(StoreError::InvalidId(m)) => Err(Problem::bad_request(m)),
        Err(e) => Err(Problem::store(e)),
    }
}
