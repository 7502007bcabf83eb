//! `agentlane serve` through the real binary (issue 18): a real server on a
//! random loopback port over a real SQLite home, real workers running the
//! fake agent, every documented operation exercised and its answer checked
//! against the OpenAPI document, the access rules, the live feed, and no
//! secret in any response.

#[path = "../common/mod.rs"]
mod common;

mod api;
mod auth;
mod feed;
mod server;
