//! The rule loop: an unknown exit becomes a rule in one step.
//!
//! `agentlane rules suggest` turns a stored dispatch's evidence line into a
//! `[[rule]]` block ([`suggest`], [`generalize`]); `rules test` re-runs the
//! classifier over stored dispatches with and without a rule file and lists
//! the verdicts that change ([`replay`]); `rules add` appends a rule to the
//! operator's rules file after that replay ([`appended`]).
//!
//! Everything here is pure: the CLI reads the store and the files and hands
//! over their contents. A replay is [`crate::classify::classify`] re-run on
//! what the store keeps of a dispatch ([`Replayable::from_report`]): its exit
//! code, signal, timeout flag and stored tails. The store does not keep
//! everything the classifier saw when the dispatch ran: the tails it keeps
//! are the report's (the last `tail_bytes`, 4 KiB by default, of each
//! stream, where the classifier read up to 64 KiB), and the child's HOME and
//! PATH are not kept (they only fill in hint text, which a replay does not
//! compare). A verdict decided by a line older than the stored tail cannot
//! be reproduced; [`STORED_FACTS_NOTE`] says so to the operator.

mod pattern;
mod replay;
mod spec;

pub use pattern::{generalize, rule_id, slug, stable_line};
pub use replay::{
    replay, whole_artifacts, ArtifactStream, Change, Replay, Replayable, Skip, STORED_FACTS_NOTE,
};
pub use spec::{appended, rule_ids, RuleSpec};

mod suggest;

pub use suggest::{matches_dispatch, suggest, ClassFrom, SuggestError, Suggestion, HEADER};

#[cfg(test)]
mod tests;
