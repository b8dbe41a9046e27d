//! RTP media for one call, sans-IO: reading and writing packets (via
//! `rtp-rs`), a jitter buffer, 20 ms pacing from a monotonic clock, RFC 4733
//! telephone-events, and [`session::MediaSession`] which ties them to a
//! call's negotiated codec and the peer's address.
//!
//! Nothing here owns a socket or reads the clock; the call task does both.

pub mod dtmf;
pub mod jitter;
pub mod pacer;
pub mod session;

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// The frame length.
pub const FRAME: std::time::Duration = std::time::Duration::from_millis(20);
