//! SIP (RFC 3261) as plain code: the wire format, transactions with their
//! timers, dialogs, the UA core ([`Endpoint`]) with the calls it places to
//! operators' phones, the registrar operators' phones register to, and our
//! own registrations to trunks. Sans-IO: every part takes bytes or a
//! message and an `Instant`, and returns what to send and when it next
//! wants the time. This crate has no async runtime and no socket; hotline's
//! `sip::transport` and `sip::core` do the IO around it.
//!
//! Layers, bottom up: [`wire`] (framing and parsing) → [`msg`] (header
//! helpers) → [`transaction`] with [`timer`] → [`dialog`] → [`endpoint`]
//! (the UA core that the call layer drives; its outgoing legs, the calls
//! it places to operators' phones, in [`legs`]), [`registrar`] (operators'
//! phones registering to us) and [`registration`] (our REGISTER to trunks,
//! with [`digest`] authentication).

pub mod dialog;
pub mod digest;
pub mod endpoint;
pub mod legs;
pub mod msg;
pub mod registrar;
pub mod registration;
pub mod timer;
pub mod transaction;
pub mod wire;

use std::net::SocketAddr;

pub use endpoint::{
    CallKey, ClientTxId, Endpoint, EndpointConfig, Event, Output, ServerTxId, Transmit,
};
pub use legs::{Dial, LegAuth, LegKey};

/// What we call ourselves in Server and User-Agent headers.
pub const USER_AGENT: &str = concat!("hotline/", env!("CARGO_PKG_VERSION"));

/// Methods we accept, for Allow headers.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER";

/// Methods an operator's phone may send on the leg we place to it: REFER
/// too (blind transfer).
pub const LEG_ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// Reliable transports need no retransmission timers (§17).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }

    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// Where a message came from or goes to: a transport and the peer's
/// address (for TCP, the connection to that address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    pub transport: Transport,
    pub remote: SocketAddr,
}
