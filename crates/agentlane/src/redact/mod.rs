//! Redaction: secrets never reach rest.
//!
//! Secrets are removed from everything agentlane writes (tails, argv,
//! reports, events, the full artifacts, refused or stored prompts) in layers:
//! (1, [`env`]) the credential-like values of the environments (the child's,
//! agentlane's own, env files) whatever their names, and their parts (URL
//! passwords and query tokens, connection-string keys, JSON secret fields,
//! lines of multi-line values, JSON-escaped and %-encoded forms), labelled
//! `[REDACTED:NAME]`; (2, 3, `shapes`) token formats and context rules,
//! labelled `[REDACTED]`.
//!
//! [`StreamRedactor`] applies the same rules to a byte stream without ever
//! cutting through a secret: complete lines are redacted and released at
//! once; a line longer than [`MAX_PENDING`] is released in pieces cut outside
//! any match.

pub mod env;
mod shapes;
mod stream;

pub use stream::{StreamRedactor, MAX_BLOCK};

pub use env::{entropy, is_allowed_name, is_credential_like, ALLOWED};

mod names;
mod redactor;

use names::url_has_password;
pub use names::{is_secret_name, is_secret_var};
use redactor::OVERLAP;
pub use redactor::{
    Redactor, Secrets, ANCHOR_LEN, ANCHOR_STEP, MAX_ANCHORS, MAX_LITERAL, MAX_PENDING,
    MIN_SECRET_LEN,
};

#[cfg(test)]
mod env_tests;

#[cfg(test)]
mod stream_props;
