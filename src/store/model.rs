//! Records the store writes and reads, in the domain's words.
//!
//! These are plain data: the SIP side fills them in from what it saw, and the
//! store neither checks numbers nor interprets SIP. Caller phones and
//! addresses are personal data: the appeal records print them redacted in
//! `Debug`, so logging a record does not leak them.

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

// For the other record modules of the store (operators).
pub(super) use text_enum;

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
        /// The operator the caller talked to hung up.
        Operator => "operator",
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
        /// The caller's number is blocked (or withheld, by policy): refused
        /// with 403, or told so and hung up.
        Blocked => "blocked",
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

/// A recording's end, stored with its call's
/// ([`Store::call_finished`](super::Store::call_finished)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinishedRecording {
    pub id: Uuid,
    pub ended_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub size_bytes: u64,
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
    /// When the pruner removed the file (the row stays); `None` while the
    /// file is kept.
    pub purged_at: Option<DateTime<Utc>>,
}

text_enum! {
    /// Where an appeal is in its life (see the domain notes, "Life of a card").
    AppealStatus {
        /// Registered by the contact centre, not yet sent to an executor.
        Registered => "registered",
        /// Sent to an executor, not yet accepted.
        Assigned => "assigned",
        /// Accepted by the executor, work under way.
        InProgress => "in_progress",
        /// The executor proposes closure: says the issue is resolved.
        Resolved => "resolved",
        /// Closed by the contact centre.
        Closed => "closed",
        /// Not registered or not taken: missing mandatory data, abuse...
        Rejected => "rejected",
        /// Sent back to the executor (closure refused or not confirmed).
        Rework => "rework",
        /// Staff are asking the citizen whether the work was done.
        Verification => "verification",
    }
}

text_enum! {
    /// Whether a repair work was planned or answers a failure.
    WorkKind {
        /// Registered at least a day before it starts.
        Planned => "planned",
        /// Registered online when the failure happened.
        Emergency => "emergency",
    }
}

text_enum! {
    /// The utility a repair work interrupts.
    Service {
        Water => "water",
        Heating => "heating",
        Power => "power",
        Gas => "gas",
        Other => "other",
    }
}

text_enum! {
    /// Where a repair work record is. Whether a work is in progress is
    /// decided by its times (see `Store::active_repair_works`), so an
    /// `announced` work whose start has passed counts as active.
    WorkStatus {
        Announced => "announced",
        Active => "active",
        Closed => "closed",
    }
}

/// Personal data in `Debug` output: "***" and the last `keep` characters,
/// like the server's `Pii` wrapper (which the store, built on its own in
/// tests, cannot name).
struct Redacted<'a> {
    text: &'a str,
    keep: usize,
}

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let skip = self.text.chars().count().saturating_sub(self.keep);
        let tail: String = self.text.chars().skip(skip).collect();
        write!(f, "\"***{tail}\"")
    }
}

/// An appeal as the operator card registers it.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAppeal {
    pub id: Uuid,
    /// The number told to the citizen, e.g. "1580-2026-000123". It must
    /// contain digits, and its digits alone must differ from every other
    /// appeal's: callers type them on the keypad.
    pub registration_number: String,
    pub status: AppealStatus,
    /// The classifier's path or name (free text for now).
    pub category: String,
    /// The executing organisation's name (free text for now).
    pub executor: String,
    pub deadline: DateTime<Utc>,
    /// The caller's number in E.164.
    pub caller_phone: String,
    /// Place of residence, as written by the operator.
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The call it was registered on, if any.
    pub call_id: Option<Uuid>,
}

/// An appeal as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct AppealRecord {
    pub id: Uuid,
    pub registration_number: String,
    pub status: AppealStatus,
    pub category: String,
    pub executor: String,
    pub deadline: DateTime<Utc>,
    pub caller_phone: String,
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
    /// `None` also once the call has been purged.
    pub call_id: Option<Uuid>,
}

/// `Debug` for the appeal types with the phone and address redacted.
macro_rules! appeal_debug {
    ($name:ident) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("id", &self.id)
                    .field("registration_number", &self.registration_number)
                    .field("status", &self.status)
                    .field("category", &self.category)
                    .field("executor", &self.executor)
                    .field("deadline", &self.deadline)
                    // The tail tells calls apart; an address's tail would
                    // name the house, so none of it is shown.
                    .field(
                        "caller_phone",
                        &Redacted {
                            text: &self.caller_phone,
                            keep: 2,
                        },
                    )
                    .field(
                        "address",
                        &self
                            .address
                            .as_deref()
                            .map(|text| Redacted { text, keep: 0 }),
                    )
                    .field("created_at", &self.created_at)
                    .field("call_id", &self.call_id)
                    .finish()
            }
        }
    };
}

appeal_debug!(NewAppeal);
appeal_debug!(AppealRecord);

/// One street, or one house on it, that a repair work affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkAddress {
    /// Street name as the executor wrote it ("вул. Соборна", "Соборна").
    /// Must not be blank.
    pub street: String,
    /// House number ("12", "12-А", "12/1"); `None` for the whole street.
    /// Must not be blank when given.
    pub house: Option<String>,
}

/// A repair work as the executor registers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRepairWork {
    pub id: Uuid,
    pub kind: WorkKind,
    pub service: Service,
    /// What is done and what is cut off, for operators and announcements.
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub expected_end: DateTime<Utc>,
    pub status: WorkStatus,
    pub created_at: DateTime<Utc>,
    /// Affected addresses, in the executor's order. May be empty (a work
    /// described only in words), but then no address matches it.
    pub addresses: Vec<WorkAddress>,
}

/// A repair work as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairWork {
    pub id: Uuid,
    pub kind: WorkKind,
    pub service: Service,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub expected_end: DateTime<Utc>,
    /// `None` until the record is closed.
    pub ended_at: Option<DateTime<Utc>>,
    pub status: WorkStatus,
    pub created_at: DateTime<Utc>,
    pub addresses: Vec<WorkAddress>,
}

impl RepairWork {
    /// Whether any of the work's addresses matches the caller's free-text
    /// `address` (see [`WorkAddress::matches`]).
    pub fn affects(&self, address: &str) -> bool {
        self.addresses.iter().any(|a| a.matches(address))
    }
}
