//! Service units for a lane's worker: a systemd unit or a launchd plist that
//! carries the environment the worker really needs.
//!
//! A worker that runs from a shell and fails under systemd or launchd almost
//! always fails on its environment: the service manager's thin PATH (no
//! `~/.local/bin`, no nvm's `node`), a different HOME, no API key. So a unit
//! is rendered from facts, not from a template: an explicit PATH made of this
//! process's existing PATH entries plus the directories where each route's
//! program and shebang interpreter resolve, and the variables the routes need
//! (HOME, USER, LANG, their auth variables). Secret values are never written
//! into a unit: systemd reads them from an `EnvironmentFile` the operator
//! fills in; launchd has none, and the plist says where to put them instead.
//!
//! [`render_systemd`] and [`render_launchd`] are pure. [`build_spec`] reads
//! the filesystem (to resolve programs); [`unit_environment`],
//! [`write_unit`] and [`preflight_in_unit`] are the edges `service install`
//! uses — the last runs every route's preflight in exactly the environment
//! the unit gives, before anyone is told the unit works.

mod install;
mod spec;
mod types;

pub use install::*;
pub use spec::*;
pub use types::*;

mod render;

pub use render::{
    render, render_launchd, render_systemd, systemd_assignment, systemd_exec_word, xml_escape,
};

#[cfg(test)]
mod tests;
