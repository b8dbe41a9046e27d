//! Call queues: where callers wait after the IVR until an operator takes
//! them.
//!
//! - [`config`]: the queues of `sip-config/queues.toml` (Asterisk
//!   `queues.conf` key names), read and checked.
//! - [`router`]: the routing decision, sans-IO: operators' states, waiting
//!   callers, offers, retries, wrap-up and announcements, driven by inputs
//!   that carry an `Instant` and answered with [`Action`]s.
//!
//! - [`figures`]: each operator's figures for a period (calls, talk,
//!   wrap-up, pause, handle time, offers missed), sans-IO over stored rows.
//! - [`service`]: the task around the router: inputs from calls, the
//!   SIP core and the API; the router's actions carried out, stored and
//!   published.
//!
//! Nothing in `config` and `router` sends SIP, plays audio, reads the clock or writes to the
//! store: the call tasks do that with what the router returns.

pub mod config;
pub mod figures;
pub mod router;
pub mod service;

pub use config::{
    AnnouncePosition, ConfigError, JoinEmpty, PeriodicAnnounce, QueueConfig, QueueSet, Strategy,
};
pub use router::{
    Abandoned, Action, Answered, CallId, JoinOutcome, Membership, OperatorId, OperatorState,
    Position, Refusal, Rejection, Router, RouterError,
};

/// The queue module's errors, for the crate's error.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Router(#[from] RouterError),
}

#[cfg(test)]
mod tests;
