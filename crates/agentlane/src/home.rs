//! The state directory: database, artifacts and the fingerprint key.
//!
//! Resolved from `--home`, then `$AGENTLANE_HOME`, then the XDG data directory
//! (`$XDG_DATA_HOME/agentlane`, else `~/.local/share/agentlane`). Everything
//! under it is private to the user: directories 0700, files 0600.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A failure to set up the home directory.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// No home could be chosen.
    #[error("cannot choose a home directory: set --home or AGENTLANE_HOME (HOME is unset)")]
    NoDefault,
    /// A directory or file could not be created or read.
    #[error("cannot use the home directory {path}: {source}; choose a writable one with --home or AGENTLANE_HOME")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// An opened home directory.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
    key: [u8; 32],
}

/// The default home when neither `--home` nor `AGENTLANE_HOME` is given.
pub fn default_home(env: impl Fn(&str) -> Option<String>) -> Result<PathBuf, HomeError> {
    if let Some(h) = env("AGENTLANE_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    if let Some(x) = env("XDG_DATA_HOME").filter(|h| h.starts_with('/')) {
        return Ok(PathBuf::from(x).join("agentlane"));
    }
    let home = env("HOME")
        .filter(|h| !h.is_empty())
        .ok_or(HomeError::NoDefault)?;
    Ok(PathBuf::from(home).join(".local/share/agentlane"))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> HomeError + '_ {
    move |source| HomeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (and parents) with mode 0700 if missing.
pub fn private_dir(dir: &Path) -> Result<(), HomeError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))
}

impl Home {
    /// Opens (creating if needed) the home at `root`, and its key.
    pub fn open(root: &Path) -> Result<Home, HomeError> {
        private_dir(root)?;
        private_dir(&root.join("artifacts"))?;
        let key = load_or_create_key(&root.join("key"))?;
        Ok(Home {
            root: root.to_path_buf(),
            key,
        })
    }

    /// A scratch home at `root` (created) that keeps this home's key: what a
    /// dispatch writes under its home (artifacts, prompt files) goes there,
    /// while its environment fingerprints stay comparable with this home's.
    /// The canary matrix runs its cells in one, next to its scratch store.
    pub fn scratch(&self, root: &Path) -> Result<Home, HomeError> {
        private_dir(root)?;
        private_dir(&root.join("artifacts"))?;
        Ok(Home {
            root: root.to_path_buf(),
            key: self.key,
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SQLite database path.
    pub fn database(&self) -> PathBuf {
        self.root.join("agentlane.db")
    }

    /// The artifact directory of a dispatch (not created).
    pub fn artifact_dir(&self, dispatch_id: &str) -> PathBuf {
        self.root.join("artifacts").join(dispatch_id)
    }

    /// The per-install key for keyed hashes.
    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }
}

fn load_or_create_key(path: &Path) -> Result<[u8; 32], HomeError> {
    match OpenOptions::new().read(true).open(path) {
        Ok(mut f) => {
            let mut key = [0u8; 32];
            f.read_exact(&mut key).map_err(io_err(path))?;
            let mode = f.metadata().map_err(io_err(path))?.permissions().mode();
            if mode & 0o077 != 0 {
                fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                    .map_err(io_err(path))?;
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            getrandom::getrandom(&mut key).map_err(|e| HomeError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })?;
            // create_new: when two processes race, one wins and the other reads it.
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(mut f) => {
                    f.write_all(&key).map_err(io_err(path))?;
                    f.sync_all().map_err(io_err(path))?;
                    Ok(key)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    load_or_create_key(path)
                }
                Err(e) => Err(io_err(path)(e)),
            }
        }
        Err(e) => Err(io_err(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_private_dirs_and_a_stable_key() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("h");
        let a = Home::open(&root).unwrap();
        let b = Home::open(&root).unwrap();
        assert_eq!(a.key(), b.key());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("key")), 0o600);
    }

    #[test]
    fn a_scratch_home_keeps_the_key_and_writes_under_its_own_root() {
        let t = tempfile::tempdir().unwrap();
        let live = Home::open(&t.path().join("h")).unwrap();
        let root = t.path().join("h/matrix/run");
        let scratch = live.scratch(&root).unwrap();
        assert_eq!(scratch.key(), live.key(), "fingerprints stay comparable");
        assert_eq!(scratch.root(), root);
        assert!(scratch.artifact_dir("d").starts_with(&root));
        assert!(root.join("artifacts").is_dir());
        assert!(!root.join("key").exists(), "no second key");
    }

    #[test]
    fn default_home_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            default_home(env(&[("AGENTLANE_HOME", "/a"), ("HOME", "/h")])).unwrap(),
            PathBuf::from("/a")
        );
        assert_eq!(
            default_home(env(&[("XDG_DATA_HOME", "/x"), ("HOME", "/h")])).unwrap(),
            PathBuf::from("/x/agentlane")
        );
        assert_eq!(
            default_home(env(&[("HOME", "/h")])).unwrap(),
            PathBuf::from("/h/.local/share/agentlane")
        );
        assert!(default_home(env(&[])).is_err());
    }
}
