//! The IVR: menus written as files ([`script`]), the pure per-call machine
//! that runs them ([`machine`]), the builder that speaks numbers, dates
//! and times from prompt pieces ([`say`]), and the version in force with
//! its prompts decoded, loaded, checked and reloaded ([`assets`]).
//!
//! Nothing here does IO at call time: scripts are read and validated once
//! (at start-up and on reload, in [`script`] and [`assets`]), and the
//! machine only returns actions.

pub mod assets;
pub mod machine;
pub mod path;
pub mod say;
pub mod script;

pub use machine::{Action, AppealSummary, Clock, Input, Ivr, OutageSummary, Step};
pub use script::{Diagnostic, NodeId, ScriptSet};
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
