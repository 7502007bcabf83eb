//! What a cached preflight result depends on. Equal stamps, same answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::config::{Config, Route};
use crate::dispatch::build_env;
use crate::envprint::env_fingerprint;
use crate::resolve::resolve_program;

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

fn file_stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        path: path.to_path_buf(),
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// The inputs of a preflight result: the config, the executable and its
/// interpreter (path, size, mtime), the environment fingerprint, the CLI's
/// credential and config files (presence, size, mtime) and the working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    config: String,
    exe: Option<FileStamp>,
    interpreter: Option<FileStamp>,
    env_id: String,
    files: Vec<Option<FileStamp>>,
    cwd: Option<(PathBuf, bool)>,
}

impl Stamp {
    /// Computes the stamp of a route now. Spawns nothing.
    pub fn of(config: &Config, route: &Route, key: &[u8; 32]) -> Stamp {
        let env = match &route.base_env {
            Some(base) => build_env(&route.env, base.clone()),
            None => build_env(&route.env, crate::input::parent_env()),
        };
        let parent_cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let cwd = route
            .cwd
            .as_ref()
            .map_or(parent_cwd.clone(), |c| parent_cwd.join(c));
        let resolved =
            resolve_program(&route.program, env.get("PATH").map(String::as_str), &cwd).ok();
        let home = env.get("HOME").map(PathBuf::from);
        let profile = route.profile;
        let files = home
            .iter()
            .flat_map(|h| {
                profile
                    .credential_files
                    .iter()
                    .chain(profile.config_files.iter().map(|(f, _)| f))
                    .map(move |rel| file_stamp(&h.join(rel)))
            })
            .collect();
        let no_files = BTreeMap::new();
        Stamp {
            config: config.fingerprint.clone(),
            exe: resolved.as_ref().and_then(|r| file_stamp(&r.path)),
            interpreter: resolved
                .as_ref()
                .and_then(|r| r.interpreter.as_ref())
                .and_then(|i| file_stamp(&i.path)),
            env_id: env_fingerprint(&env, &no_files, key).id,
            files,
            cwd: route.cwd.as_ref().map(|_| (cwd.clone(), cwd.is_dir())),
        }
    }

    /// A keyed digest of the whole stamp, to store beside a hard stop: equal
    /// stamps give equal digests on one host, and the digest reveals none
    /// of the environment.
    pub fn digest(&self, key: &[u8; 32]) -> String {
        crate::envprint::keyed_hash(key, format!("{self:?}").as_bytes())
    }

    /// The environment fingerprint id in the stamp.
    pub fn env_id(&self) -> &str {
        &self.env_id
    }
}
