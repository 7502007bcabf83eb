//! Preflight: can this worker run this route, here, now?
//!
//! Three explicit booleans, judged in the environment that will really run
//! the job (the route's environment built from this process's, never a login
//! shell's):
//! - `cli_resolves`: the executable and its shebang interpreter resolve and
//!   are executable (the same checks a dispatch makes before launch);
//! - `cli_ready`: config files parse, the temp and working directories are
//!   usable, the version command succeeds through the dispatcher, auth
//!   material is present, the CLI's own auth-status command agrees, and
//!   (opt-in) a canary prompt returns `ok`;
//! - `route_allowed`: policy allows the route (for a job kind, when given).
//!
//! Probes run through the one dispatcher, with short timeouts and the CLI's
//! retry knobs turned down; they never spend tokens unless the canary is
//! asked for. Results are cached per (route, kind) and reused while the
//! stamp — config, executable, environment fingerprint, credential files,
//! working directory — is unchanged and the TTL has not passed.

mod checks;
mod stamp;

pub use stamp::Stamp;

mod engine;

pub use engine::{Options, Preflight};

#[cfg(test)]
mod tests;
