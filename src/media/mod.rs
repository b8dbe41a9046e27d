//! Media processing for calls: G.711 codecs, prompt decoding, signal analysis.
//!
//! Role: the sample-level building blocks used by the RTP/media path and the
//! IVR. Nothing in here knows about SIP, sessions, storage or configuration;
//! it may not depend on any other module of the crate.

pub mod analysis;
pub mod g711;
pub mod prompt;

pub use g711::Codec;
pub use prompt::{PROMPT_RATE, Prompt, PromptCache, PromptError, decode_file};
