//! Records the store writes and reads, in the domain's words.
//!
//! These are plain data: the SIP side fills them in from what it saw, and the
//! store neither checks numbers nor interprets SIP.

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Declares a fieldless enum stored as text, with `as_str`/`parse` so the
/// text in the database is spelled out once, next to the variant.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The text stored in the database (and shown to people).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// The variant whose text is `text`, or `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// Transport the call's signalling arrived on.
    Transport {
        Udp => "udp",
        Tcp => "tcp",
    }
}

text_enum! {
    /// Who or what ended a call.
    EndedBy {
        /// The caller hung up (BYE or CANCEL from the caller's side).
        Caller => "caller",
        /// We ended it on purpose (IVR finished, rejected, transfer done...).
        Server => "server",
        /// A timer ended it (no media, no ACK, maximum duration...).
        Timeout => "timeout",
        /// The server stopped, or restarted after a crash, with the call up.
        Shutdown => "shutdown",
    }
}

text_enum! {
    /// How a call turned out.
    Disposition {
        /// It was answered (whatever happened afterwards).
        Answered => "answered",
        /// The caller gave up before it was answered.
        Cancelled => "cancelled",
        /// We refused it with a final error status.
        Rejected => "rejected",
        /// It broke on our side or the network's before it was answered.
        Failed => "failed",
        /// It was answered, then media stopped arriving and we ended it.
        MediaTimeout => "media_timeout",
    }
}

/// A call as it is first recorded, when its INVITE arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall {
    /// Our own id for the call (not the SIP Call-ID).
    pub id: Uuid,
    /// The SIP Call-ID header, as received.
    pub sip_call_id: String,
    /// The caller as received (From user part or whole URI), before any
    /// normalisation.
    pub caller_raw: String,
    /// The caller normalised to E.164, when that was possible.
    pub caller_e164: Option<String>,
    /// The number that was dialled.
    pub called_number: String,
    /// Name of the configured peer or trunk the call came from.
    pub source: String,
    /// Address the INVITE came from.
    pub source_addr: SocketAddr,
    pub transport: Transport,
    pub arrived_at: DateTime<Utc>,
}

/// How a call ended; see [`Store::mark_call_ended`](super::Store::mark_call_ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallEnd {
    pub at: DateTime<Utc>,
    pub ended_by: EndedBy,
    /// Final SIP status we sent for the INVITE, when we know it.
    pub sip_status: Option<u16>,
    pub disposition: Disposition,
}

/// A call as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub id: Uuid,
    pub sip_call_id: String,
    pub caller_raw: String,
    pub caller_e164: Option<String>,
    pub called_number: String,
    pub source: String,
    pub source_addr: SocketAddr,
    pub transport: Transport,
    pub arrived_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<EndedBy>,
    pub sip_status: Option<u16>,
    pub disposition: Option<Disposition>,
    /// Codec agreed at answer time (e.g. "PCMA/8000").
    pub codec: Option<String>,
}

/// Something that happened during a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEvent {
    /// Increases with every event stored, so it orders events that share a
    /// timestamp.
    pub id: i64,
    pub call_id: Uuid,
    pub at: DateTime<Utc>,
    /// What happened: "dtmf", "reinvite", "hold", "unhold", "ivr"... Free
    /// text, so new kinds need no migration.
    pub kind: String,
    /// Details for the kind (the digit, the new SDP summary...).
    pub detail: String,
}

/// A recording as first recorded, when its file is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecording {
    pub id: Uuid,
    pub call_id: Uuid,
    /// File path relative to the recordings directory.
    pub path: String,
    pub started_at: DateTime<Utc>,
    pub sample_rate: u32,
    pub channels: u16,
}

/// A recording as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRecord {
    pub id: Uuid,
    pub call_id: Uuid,
    /// File path relative to the recordings directory.
    pub path: String,
    pub started_at: DateTime<Utc>,
    /// `None` until [`Store::finish_recording`](super::Store::finish_recording).
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    pub size_bytes: Option<u64>,
    pub sample_rate: u32,
    pub channels: u16,
}
