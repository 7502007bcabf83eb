//! The live web dashboard: server-rendered HTML (maud: compile-time checked
//! templates, every interpolation escaped) with one small stylesheet and one
//! small script embedded in the binary and served under `/assets/`. Pages
//! work without JavaScript; the script only makes them live (it follows
//! `/api/v1/events` and swaps in the fragments an event touched) and posts
//! the resolve button's request.

mod blocks;
mod incident;
mod job;
mod layout;
mod matrix;
mod overview;
mod routes;

pub use job::{reproduce, shell_word};
pub use layout::age;
pub use routes::router;
