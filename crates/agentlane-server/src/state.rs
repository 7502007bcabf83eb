//! What every handler shares.

use std::sync::Arc;

use agentlane::config::Config;
use agentlane::home::Home;
use agentlane::store::Store;

use crate::api::Feed;
use crate::auth::Access;

/// The server's shared state: cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The shared parts.
pub struct Inner {
    /// The store the workers use.
    pub store: Arc<dyn Store>,
    /// The configuration (routes, kinds, lanes), when the server has one:
    /// enqueue, doctor and matrix need it; reads do not.
    pub config: Option<Arc<Config>>,
    /// Who may do what.
    pub access: Access,
    /// The live feed every SSE client shares.
    pub feed: Arc<Feed>,
    /// The agentlane home (artifacts, matrix runs): doctor and matrix need it.
    pub home: Option<Home>,
    /// Matrix runs this server started, by id.
    pub matrix: crate::api::MatrixRuns,
}

impl AppState {
    /// The state over a store.
    pub fn new(store: Arc<dyn Store>, config: Option<Arc<Config>>, access: Access) -> Self {
        AppState(Arc::new(Inner {
            store,
            config,
            access,
            feed: Arc::new(Feed::new(std::time::Duration::from_millis(250))),
            home: None,
            matrix: Default::default(),
        }))
    }

    /// With the home doctor and matrix work in (set before the state is shared).
    pub fn with_home(mut self, home: Home) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.home = Some(home);
        }
        self
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
