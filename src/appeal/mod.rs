//! The appeal (звернення; the console's "картка"): what a citizen asks of
//! the city, from its registration on. One folder a reader can take in
//! alone, in three layers:
//!
//! - the rules, plain code with no IO: [`number`] (the registration number),
//!   [`registration`] (the fields a new appeal must have, checked one by
//!   one), [`record`] (an appeal as stored, its status and what is on it),
//!   [`classifier`] (issue types, executors and deadline classes, from the
//!   city's file), [`lifecycle`] (the card's life: who may do what in which
//!   state) and [`calendar`] (the city's working days and hours);
//! - storage: [`store`] (registering, looking up, linking calls and
//!   attachments), [`lifecycle_store`] (a card's steps and history, its
//!   executors' people and curators), [`classifier_store`] (the
//!   classifier's versions) and [`attachments`] (the attached files on
//!   disk); [`watcher`] applies what time does to cards (delivery,
//!   deadlines) the moment it is due;
//! - HTTP: [`routes`] (registering, reading, attaching) and
//!   [`lifecycle_routes`] (inboxes, the decisions queue, history, steps).
//!
//! In code it is an "appeal" everywhere; "card" is a word of the console
//! and its users.

pub mod attachments;
pub mod calendar;
pub mod classifier;
pub mod classifier_search;
pub mod classifier_store;
pub mod control;
pub mod demo;
pub mod lifecycle;
pub mod lifecycle_routes;
pub mod lifecycle_store;
pub mod number;
pub mod record;
pub mod registration;
pub mod routes;
pub mod store;
pub mod verification;
pub mod verification_calls;
pub mod verification_routes;
pub mod verification_store;
pub mod watcher;
pub mod works;

#[cfg(test)]
mod classifier_store_tests;
#[cfg(test)]
mod lifecycle_store_tests;
#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod verification_store_tests;

pub use classifier::{Classifier, DeadlineClass};
pub use classifier_store::{CategoryRecord, ClassifierVersion, ExecutorRecord, ImportOutcome};
pub use number::{REGISTRATION_PREFIX, RegistrationNumber};
pub use record::{AppealDetail, AppealRecord, AppealRow, AppealStatus, Attachment, LinkedCall};
pub use registration::{
    AnonymousAppeals, AppealKind, Channel, FieldError, NewAppeal, RegisterError,
};
