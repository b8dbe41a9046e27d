//! Identities that cross modules, each a type of its own so one cannot be
//! passed for another: [`CallId`].
//!
//! Plain values: no IO, nothing but parsing and printing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Our id of a call, given when its INVITE arrives and carried everywhere
/// after: the SIP core's table of calls, the call's task and its log span,
/// the queue router, the event stream, the store (`calls.id`) and the
/// console's websocket. Not the SIP Call-ID, which the caller's side chose
/// (the call's log span names both).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct CallId(Uuid);

impl CallId {
    /// A new, random id (UUID v4).
    pub fn random() -> CallId {
        CallId(Uuid::new_v4())
    }

    pub const fn from_uuid(id: Uuid) -> CallId {
        CallId(id)
    }

    pub const fn as_uuid(self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for CallId {
    fn from(id: Uuid) -> CallId {
        CallId(id)
    }
}

impl From<CallId> for Uuid {
    fn from(id: CallId) -> Uuid {
        id.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for CallId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<CallId, uuid::Error> {
        Uuid::parse_str(s.trim()).map(CallId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_and_parses_as_a_uuid() {
        let id = CallId::random();
        assert_eq!(id.to_string().parse::<CallId>().unwrap(), id);
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            format!("\"{}\"", id.as_uuid())
        );
        assert!("not-a-call".parse::<CallId>().is_err());
        assert_ne!(CallId::random(), CallId::random());
    }
}
