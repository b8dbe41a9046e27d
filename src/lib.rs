//! hotline: a call-centre server for municipal citizen hotlines.
//!
//! # Layout
//!
//! Protocol and domain logic is plain code: it takes input and the time and
//! returns what to do. The tokio code around it is thin.
//!
//! - SIP: the protocol is the workspace crate `sip-proto`, sans-IO, which
//!   [`sip`] re-exports; [`sip`] adds its IO: the UDP/TCP transport and
//!   the core task that drives the endpoint and hands each call to its
//!   task. [`sdp`]: offer/answer for G.711 and telephone-events.
//! - [`rtp`]: jitter buffer, pacing, RFC 4733 digits, the prompt player and
//!   the per-call [`rtp::session::MediaSession`] (sans-IO), and the media
//!   engine, one thread that carries every call's RTP, prompts and
//!   recording, with its port pool.
//! - [`media`]: G.711, prompt decoding (symphonia) and resampling, signal
//!   analysis. [`recording`]: the recorder thread writing stereo WAVs, and
//!   repair of files a crash left unfinished.
//! - [`ivr`]: menu files, the IVR machine, saying numbers and dates, and the
//!   version in force ([`ivr::assets`]).
//! - [`call`]: an answered call's state machine ([`call::machine`], plain
//!   code) and the task per call that drives it; [`queue`]: queues (config,
//!   the sans-IO router, and the service task around it); [`events`]: the
//!   internal event stream for live views.
//! - [`appeal`]: the appeal (the console's card), one folder: registration
//!   number, rules, records, the classifier, attachments, their queries and
//!   routes.
//! - [`report`]: the regulation's reports and the call figures: periods
//!   on the city's clock, the indicators and figures counted by plain code,
//!   the report set drawn as documents, written as XLSX, PDF and CSV, and
//!   e-mailed on schedule. [`mail`]: outgoing e-mail (SMTP with STARTTLS
//!   or TLS and authentication).
//! - [`store`]: the database (SQLite or PostgreSQL): connection, migrations
//!   and errors, and the queries of calls, recordings, repair works,
//!   operators, queues, users, the block list and retention.
//! - [`api`]: the HTTP edge: [`api::ApiError`], the state handlers take parts
//!   of ([`api::AppState`]), the JSON API, the console's websocket and pages.
//! - [`retention`]: periods and the pruner; [`disk`]: the recordings
//!   volume watched; [`metrics`]: the counters.
//! - [`server`]: assembling it all; [`config`]: settings; [`phone`]:
//!   numbers and personal-data redaction; [`contact`]: a phone, e-mail or
//!   messenger account as the block list keys it; [`ids`]: typed identities
//!   ([`ids::CallId`]); [`secret`]: secrets that never print; [`error`]: the
//!   crate error gathering every module's; [`logtext`]: clients' text made
//!   safe for the log.
//!
//! The `hotline` command (`src/bin/hotline/`) parses the command line and
//! dispatches to the library.

pub mod api;
pub mod appeal;
pub mod call;
pub mod chatbot;
pub mod config;
pub mod contact;
pub mod disk;
pub mod error;
pub mod events;
pub mod ids;
pub mod ivr;
pub mod logtext;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod open311;
pub mod phone;
pub mod public;
pub mod queue;
pub mod recording;
pub mod report;
pub mod retention;
pub mod rtp;
pub mod sdp;
pub mod secret;
pub mod server;
pub mod sip;
pub mod store;

pub use error::Error;
