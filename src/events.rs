//! The internal event stream: every call and queue step and every change of
//! an operator's state, published as it happens for live views (the
//! operator console and the supervisors' pages subscribe to it).
//!
//! A broadcast channel: publishing never waits, a subscriber that falls
//! behind by more than [`CAPACITY`] events is told how many it missed
//! (`RecvError::Lagged`) and carries on. The stream is not the record:
//! what reports need is stored (calls, call events, queue events, operator
//! state changes) before or as it is published.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::ids::CallId;

/// Events kept for slow subscribers.
pub const CAPACITY: usize = 4096;

/// One step, as published.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A call was answered by the server (the IVR starts).
    CallStarted { call: CallId },
    /// The caller entered a queue at this position (from 1).
    QueueJoined {
        call: CallId,
        queue: String,
        position: usize,
    },
    /// The queue would not take the caller (`full`, `no-operators`).
    QueueRefused {
        call: CallId,
        queue: String,
        reason: &'static str,
    },
    /// An operator's phone rings with the caller, who has waited this
    /// long in the queue.
    OperatorRinging {
        call: CallId,
        queue: String,
        operator: String,
        waited_ms: u64,
        /// The caller's steps through the IVR (and, kept out of the JSON,
        /// the caller and the SIP Call-ID).
        #[serde(flatten)]
        summary: CallSummary,
    },
    /// An operator took the caller after `waited_ms` in the queue.
    QueueAnswered {
        call: CallId,
        queue: String,
        operator: String,
        waited_ms: u64,
    },
    /// The caller hung up while waiting.
    QueueAbandoned {
        call: CallId,
        queue: String,
        waited_ms: u64,
    },
    /// The operator handed the caller on (blind transfer).
    CallTransferred {
        call: CallId,
        operator: String,
        target: String,
    },
    /// The call is over.
    CallEnded {
        call: CallId,
        ended_by: &'static str,
    },
    /// The recordings volume's free space crossed a threshold (`ok`,
    /// `low`, `critical`, `unknown`).
    Storage {
        level: &'static str,
        free_bytes: u64,
    },
    /// A supervisor's monitoring of a call changed: their phone is
    /// `ringing`, they `listen`, `whisper` or `barge`, or it `ended`.
    CallMonitored {
        call: CallId,
        supervisor: String,
        state: &'static str,
    },
    /// An operator's state changed (`available`, `ringing`, `on_call`,
    /// `wrap_up`, `paused`, `logged_out`).
    OperatorState {
        operator: String,
        state: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// What a call knows of itself for the operator's card, carried with it
/// into the queue and out on [`Event::OperatorRinging`], so the screen-pop
/// needs no database round trip. Only the path through the menu is in the
/// stream's JSON (the supervisors' live view): the caller's number is
/// personal data, and the SIP Call-ID travels with it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CallSummary {
    /// The caller's steps through the IVR.
    pub ivr_path: Vec<String>,
    /// The caller's number: E.164 when it could be normalised, else as
    /// received.
    #[serde(skip)]
    pub caller: String,
    #[serde(skip)]
    pub caller_e164: Option<String>,
    #[serde(skip)]
    pub sip_call_id: String,
}

/// An event with when it happened and its place in the stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Published {
    /// Increases by one per event since start-up: a gap tells a
    /// subscriber it missed some.
    pub seq: u64,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: Event,
}

/// The stream's sending side; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Published>,
    seq: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
            seq: Default::default(),
        }
    }

    /// Publishes `event` now. Nobody listening is not an error.
    pub fn publish(&self, event: Event) {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(?event, "event");
        let _ = self.tx.send(Published {
            seq,
            at: Utc::now(),
            event,
        });
    }

    /// The number the next event will carry: a snapshot taken after
    /// reading it includes at least the events before it.
    pub fn next_seq(&self) -> u64 {
        self.seq.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A new subscriber sees what is published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_numbered_and_serialised_with_their_type() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe();
        let call = CallId::from_uuid(uuid::Uuid::nil());
        bus.publish(Event::QueueJoined {
            call,
            queue: "general".into(),
            position: 2,
        });
        bus.publish(Event::OperatorState {
            operator: "olena".into(),
            state: "paused",
            reason: Some("lunch".into()),
        });
        let first = rx.try_recv().unwrap();
        let second = rx.try_recv().unwrap();
        assert_eq!((first.seq, second.seq), (0, 1));
        let json = serde_json::to_value(&first).unwrap();
        assert_eq!(json["type"], "queue_joined");
        assert_eq!(json["queue"], "general");
        assert_eq!(json["position"], 2);
        assert!(json["at"].is_string());
        let json = serde_json::to_value(&second).unwrap();
        assert_eq!(json["reason"], "lunch");
    }

    #[test]
    fn the_stream_carries_the_path_but_not_the_caller() {
        let ringing = Event::OperatorRinging {
            call: CallId::random(),
            queue: "general".into(),
            operator: "olena".into(),
            waited_ms: 5210,
            summary: CallSummary {
                ivr_path: vec!["main:greeting enter".into()],
                caller: "+380611234567".into(),
                caller_e164: Some("+380611234567".into()),
                sip_call_id: "a84b4c76e66710@192.0.2.4".into(),
            },
        };
        let json = serde_json::to_value(&ringing).unwrap();
        assert_eq!(json["ivr_path"][0], "main:greeting enter");
        let text = json.to_string();
        assert!(!text.contains("1234567"), "{text}");
        assert!(!text.contains("a84b4c76e66710"), "{text}");
    }

    #[test]
    fn a_slow_subscriber_learns_what_it_missed() {
        let bus = EventBus::new();
        let mut rx = bus.subscribe();
        for _ in 0..CAPACITY + 5 {
            bus.publish(Event::CallStarted {
                call: CallId::from_uuid(uuid::Uuid::nil()),
            });
        }
        assert!(matches!(
            rx.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(5))
        ));
        assert_eq!(rx.try_recv().unwrap().seq, 5);
    }
}
