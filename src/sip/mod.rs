//! SIP. The protocol itself is the workspace crate `sip-proto`
//! (`crates/sip-proto`): the wire format, transactions, dialogs, the UA core,
//! the registrar and trunk registration, all sans-IO, which Cargo enforces
//! (that crate has no async runtime to reach for). It is re-exported here,
//! so `crate::sip::wire`, `crate::sip::Endpoint`… name it.
//!
//! Here is its IO: [`transport`], the UDP and TCP sockets, and [`core`],
//! the task that owns the endpoint and the trunks' registrations, feeds them
//! what the transport receives and the time, and hands each call to its
//! own task.

pub use sip_proto::*;

pub mod core;
pub mod transport;
