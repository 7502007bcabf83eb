//! The ordered classifier: facts and text in, one named class out.
//!
//! Pre-launch facts (missing cwd, unresolvable program) are classified by
//! [`crate::dispatch`] before anything runs and never reach this module.
//! After exit, [`classify`] looks at the exit code, the signal, the timeout
//! flag and both tails — some CLIs print auth errors on stdout — and at the
//! error messages of structured JSON events ([`structured`]). Rules are data
//! ([`rules`]), ordered, first match wins; an unmatched failure stays
//! `unknown_exit_N`, with its evidence kept for the next rule.
//!
//! **Architecture invariant:** this module knows nothing of processes, files
//! or the store. Everything it decides is a pure function of its inputs.

pub mod generic;
pub mod hint;
pub mod live;
pub mod normalize;
mod ordered;
pub mod reset;
pub mod rules;
pub mod structured;
pub mod success;

pub use hint::HintContext;
pub use rules::{RuleSet, RulesError, Stream};

pub use crate::class::Layer;
#[cfg(test)]
use ordered::exit_zero_failure;
pub use ordered::{classify, classify_by_rule, Classification, Observed};

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
