//! Environment parity: why does the agent run in my shell but not in the worker?
//!
//! The answer is nearly always a difference between two environments — the
//! login shell's (`$SHELL -lc env`, where nvm and `~/.local/bin` were added
//! to PATH and the API key was exported) and the worker's or a service
//! unit's. [`diff`] names those differences: variables present in one and not
//! the other, PATH entries missing from each, where the route's program and
//! its interpreter resolve in each, HOME/USER/TMPDIR, and the credential
//! files visible under each HOME.
//!
//! Values are never shown except HOME, USER, TMPDIR and PATH entries (which
//! are not secret and are what an operator needs): every other variable is
//! reported by name, presence and a keyed hash (the per-install key of
//! [`crate::home::Home`]), so two hashes say "same" or "different" without
//! saying what.
//!
//! [`diff`] is pure; [`observe`] (filesystem) and [`capture_shell_env`] (a
//! process) are the edges.

mod capture;
mod compare;
mod group;
mod observe;
mod types;

pub use capture::{
    capture_script, capture_shell_env, login_shell, parse_capture, parse_env0, parse_env_lines,
};
pub use compare::diff;
pub use group::{
    group, is_harmless, is_network, path_side_by_side, Differing, Groups, Presence, NETWORK_VARS,
};
pub use observe::{credential_files, describe_failure, observe, resolution};
pub use types::{
    Env, EnvDiff, EnvDiffError, FileVisibility, IdentityVar, PathDiff, Resolution, ResolutionDiff,
    Side, VarChange, VarPresence, CAPTURE_TIMEOUT, IDENTITY_VARS, SHELL_NOISE,
};

#[cfg(test)]
mod tests;
