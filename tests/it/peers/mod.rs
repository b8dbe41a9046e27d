//! Real, independent SIP peers for integration tests: baresip 1.0.0 as a
//! caller / agent phone (RTP, tones, RFC 4733 DTMF, received-audio WAV) and
//! sipp 3.6.1 scenarios (`tests/sipp/*.xml`) for protocol edge cases; and
//! for the console's pages, Debian's Chromium driven by chromedriver.
//! Both need the Debian packages `baresip-core` and `sip-tester`, and use only
//! loopback addresses. See each module's header for what was learned about
//! the tools.

// Each test uses only part of the helpers' API.
#![allow(dead_code)]

pub mod baresip;
pub mod browser;
pub mod sipp;

#[cfg(test)]
mod selftest;
