//! The IVR: menus written as files ([`script`]), the pure per-call machine
//! that runs them ([`machine`]), and the builder that speaks numbers, dates
//! and times from prompt pieces ([`say`]).
//!
//! Nothing here does IO at call time: scripts are read and validated once
//! (at start-up and on reload), and the machine only returns actions.

pub mod machine;
pub mod say;
pub mod script;

pub use machine::{Action, AppealSummary, Clock, Input, Ivr, OutageSummary, Step};
pub use script::{Diagnostic, NodeId, ScriptSet};
#[cfg(test)]
mod tests;
