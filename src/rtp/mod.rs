//! RTP media. Sans-IO, for one call: reading and writing packets (via
//! `rtp-rs`), a jitter buffer ([`jitter`]), 20 ms pacing from a monotonic
//! clock ([`pacer`]), RFC 4733 telephone-events ([`dtmf`]), the prompt
//! [`player`], and [`session::MediaSession`] which ties them to a call's
//! negotiated codec and the peer's address. Nothing of those owns a socket
//! or reads the clock.
//!
//! The IO, for every call: the media [`engine`], one thread that carries
//! every call's RTP, prompts and recording on a 0.5 ms slot grid and that
//! the calls' tasks steer with commands; and the RTP [`ports`] it sends
//! and receives on.

pub mod dtmf;
pub mod engine;
pub mod jitter;
pub mod pacer;
pub mod player;
pub mod ports;
pub mod session;

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// The frame length.
pub const FRAME: std::time::Duration = std::time::Duration::from_millis(20);
