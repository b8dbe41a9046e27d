//! hotline: a call-centre server for municipal citizen hotlines.
//!
//! # Layout
//!
//! Protocol logic is sans-IO: it takes input and the time and returns what
//! to do. The tokio code around it is thin.
//!
//! - [`sip`]: SIP wire format, transactions, dialogs, the UA core
//!   ([`sip::Endpoint`]), trunk registration, and the UDP/TCP transport
//!   (the only IO in it).
//! - [`sdp`]: offer/answer for G.711 and telephone-events.
//! - [`rtp`]: jitter buffer, pacing, RFC 4733 digits and the per-call
//!   [`rtp::session::MediaSession`].
//! - [`media`]: G.711, prompt decoding (symphonia) and resampling, signal
//!   analysis.
//! - [`recording`]: the recorder thread writing stereo WAVs, and repair of
//!   files a crash left unfinished.
//! - [`store`]: calls, events and recordings in SQLite or PostgreSQL.
//! - [`queue`]: queues (config, the sans-IO router, and the service task
//!   around it); [`events`]: the internal event stream for live views.
//! - [`call`]: the async edge: the SIP core task, one task per call that
//!   decides (IVR, queue, bridging to the operator who answers), and the
//!   media engine, one thread that carries every call's RTP and recording.
//! - [`classifier`]: issue types, executors and deadlines, read from a file.
//! - [`api`]: the HTTP edge: the JSON API, the console's websocket and its
//!   pages (`web/`); [`attachments`]: files attached to appeal cards.
//! - [`server`]: assembling it all; [`config`]: settings; [`phone`]:
//!   numbers and personal-data redaction.

pub mod api;
pub mod appeal;
pub mod call;
pub mod config;
pub mod disk;
pub mod error;
pub mod events;
pub mod ids;
pub mod ivr;
pub mod media;
pub mod metrics;
pub mod phone;
pub mod queue;
pub mod recording;
pub mod retention;
pub mod rtp;
pub mod sdp;
pub mod secret;
pub mod server;
pub mod sip;
pub mod store;

pub use error::Error;
