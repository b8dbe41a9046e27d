//! An appeal as stored: its status, its record ([`AppealRecord`]), and
//! everything on it for the console ([`AppealDetail`]: its calls with their
//! recordings, its attachments). The caller's phone and address are
//! personal data: these types print them redacted in `Debug`, so logging a
//! record does not leak them.
//!
//! Plain data: no IO.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::number::RegistrationNumber;
use super::registration::Channel;
use crate::store::text_enum;

text_enum! {
    /// Where an appeal is in its life: the states of
    /// [`lifecycle`](super::lifecycle), drawn in `docs/lifecycle.md`.
    AppealStatus {
        /// Registered; waits for the executor's working hours to be
        /// delivered (in its inbox already, marked as such).
        Registered => "registered",
        /// Delivered to the executor, not yet accepted.
        Delivered => "delivered",
        /// Accepted by the lead executor (responsible person named): work
        /// under way.
        InProgress => "in_progress",
        /// The executor proposes closure; the contact centre decides.
        ClosureProposed => "closure_proposed",
        /// Sent back to the executor: closure refused (or, next, not
        /// confirmed by the citizen).
        Rework => "rework",
        /// In the socio-economic development plan: long-term control until
        /// the planned date.
        LongTerm => "long_term",
        /// Closed by the contact centre.
        Closed => "closed",
        /// Not to be considered (000 §2.5.2): hatred, no mandatory data.
        Rejected => "rejected",
        /// Staff are asking the citizen whether the work was done (the
        /// verification issue's states build on this one).
        Verification => "verification",
    }
}

impl AppealStatus {
    /// Whether the card's life is over: not counted as open, overdue or
    /// due soon, and its retention runs from its closure.
    pub fn is_final(self) -> bool {
        matches!(self, AppealStatus::Closed | AppealStatus::Rejected)
    }
}

/// Personal data in `Debug` output: "***" and the last `keep` characters,
/// like [`crate::phone::Pii`] but keeping
/// only `keep` characters, whatever `[logging] reveal_personal_data` says.
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

/// An appeal row as written directly (demonstration data, imports,
/// tests); the console, web and bots register through
/// [`Store::register_appeal`](crate::store::Store::register_appeal).
#[derive(Clone, PartialEq, Eq)]
pub struct AppealRow {
    pub id: Uuid,
    /// The number told to the citizen, e.g. "1580-2026-000123". It must
    /// contain digits, and its digits alone must differ from every other
    /// appeal's: callers type them on the keypad.
    pub registration_number: RegistrationNumber,
    pub status: AppealStatus,
    /// The classifier's path or name (free text for now).
    pub category: String,
    /// The lead executor's code in the classifier ("vodokanal"); its
    /// executors and their parts are in the card's lifecycle
    /// ([`Store::appeal_card`](crate::store::Store::appeal_card)).
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
    pub registration_number: RegistrationNumber,
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

appeal_debug!(AppealRow);
appeal_debug!(AppealRecord);

/// A call linked to an appeal: the one it was registered on, or one attached
/// later, with the recordings of that call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedCall {
    pub call_id: Uuid,
    /// `None` for the call the card was registered on.
    pub attached_at: Option<DateTime<Utc>>,
    pub recordings: Vec<Uuid>,
}

/// A file attached to an appeal, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: Uuid,
    pub appeal_id: Uuid,
    /// The name it had on the operator's computer; never a path.
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    /// Relative to `[storage] attachments_dir`, chosen by the server.
    pub path: String,
    pub uploaded_at: DateTime<Utc>,
}

/// An appeal with everything on it, for the console.
#[derive(Clone, PartialEq)]
pub struct AppealDetail {
    pub record: AppealRecord,
    pub surname: Option<String>,
    pub first_name: Option<String>,
    pub patronymic: Option<String>,
    pub other_contact: Option<String>,
    pub essence: Option<String>,
    pub email: Option<String>,
    pub channel: Option<Channel>,
    pub category_id: Option<Uuid>,
    /// The registration number of the appeal this one repeats.
    pub repeat_of: Option<String>,
    /// The login of the user who registered it.
    pub registered_by: Option<String>,
    pub kind: super::AppealKind,
    /// No name, no contact, no callback (003 §10).
    pub anonymous: bool,
    /// Where the problem is on the map (WGS 84 degrees), if given.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The call it was registered on first, then attached calls in order.
    pub calls: Vec<LinkedCall>,
    pub attachments: Vec<Attachment>,
    /// Filed through Open311: the application (its key's name) and the
    /// photo address it sent.
    pub open311: Option<Open311Origin>,
}

/// Where an Open311 card came from, as the card shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Open311Origin {
    pub application: String,
    pub media_url: Option<String>,
}

/// Personal data stays out of logs: only the record's redacted form.
impl std::fmt::Debug for AppealDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppealDetail")
            .field("record", &self.record)
            .field("channel", &self.channel)
            .field("calls", &self.calls.len())
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}
