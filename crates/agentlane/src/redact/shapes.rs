//! Layers 2 and 3 of redaction: known token formats and context rules.
//!
//! Pure: [`find`] reports the spans of `input` that hold a secret recognised
//! by its shape (`formats.rs`, from the table in `families.rs`) or by what
//! stands next to it (`context.rs`), whatever variable (if any) it came from.

use std::borrow::Cow;
use std::ops::Range;

#[path = "context.rs"]
mod context;
#[path = "families.rs"]
mod families;
#[path = "formats.rs"]
mod formats;

// For the stream layer (holding a private key block's lines).
pub use context::{pem_begin, pem_end};

/// Appends the spans of `input` that hold a token shape or a secret in
/// context, each with its replacement (`[REDACTED:<family>]`,
/// `[REDACTED:context]`, `[REDACTED:private-key]`). Spans may overlap.
pub(super) fn find(input: &[u8], spans: &mut Vec<(Range<usize>, Cow<'static, str>)>) {
    formats::find(input, spans);
    context::find(input, spans);
}

#[cfg(test)]
#[path = "shapes_props.rs"]
mod props;
