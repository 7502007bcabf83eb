//! What every handler shares.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use agentlane::config::Config;
use agentlane::store::Store;

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
    /// The agentlane home (matrix runs are kept under it), once set.
    home: OnceLock<PathBuf>,
}

impl AppState {
    /// The state over a store.
    pub fn new(store: Arc<dyn Store>, config: Option<Arc<Config>>, access: Access) -> Self {
        AppState(Arc::new(Inner {
            store,
            config,
            access,
            home: OnceLock::new(),
        }))
    }

    /// Sets the agentlane home, where the matrix page reads the runs kept
    /// (`<home>/matrix/`). Set once; a second call changes nothing.
    pub fn set_home(&self, home: PathBuf) -> &Self {
        let _ = self.0.home.set(home);
        self
    }

    /// The agentlane home, when set.
    pub fn home(&self) -> Option<&Path> {
        self.0.home.get().map(PathBuf::as_path)
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
