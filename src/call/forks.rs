//! Which call and operator each outgoing leg rings for, sans-IO.
//!
//! An operator may have several phones registered (a desk phone and a
//! softphone): every one rings, as a fork of legs for that call and
//! operator. The first to answer wins and the others are cancelled; the
//! operator has failed only when every leg has (with the most telling
//! status: a person's busy or decline before an unreachable phone). Leg
//! events become the owning call's [`CallEvent`]s.
//!
//! The SIP core feeds the endpoint's leg events to [`Forks::on_event`] and
//! carries out the [`Step`]s; nothing here touches a socket.

use std::collections::HashMap;

use super::CallEvent;
use crate::ids::CallId;
use crate::queue::OperatorId;
use crate::sip::{Event, LegKey};

/// What the SIP core must do with a leg event.
#[derive(Debug)]
pub enum Step {
    /// Tell the call; if the call is gone, end the leg instead.
    Deliver {
        call: CallId,
        leg: LegKey,
        event: CallEvent,
    },
    /// Hang up this leg (another phone of the fork answered, or nobody
    /// owns it any more).
    EndLeg(LegKey),
    /// A re-INVITE on a leg nobody owns: 481.
    RefuseReInvite(LegKey),
    /// A REFER on a leg nobody owns: NOTIFY 481.
    RefuseRefer(LegKey),
}

#[derive(Debug, Clone)]
struct Owner {
    call: CallId,
    operator: OperatorId,
}

type ForkKey = (CallId, OperatorId);

#[derive(Default)]
pub struct Forks {
    owners: HashMap<LegKey, Owner>,
    /// Legs still ringing, per call and operator.
    ringing: HashMap<ForkKey, Vec<LegKey>>,
    /// The most telling failure of a fork so far.
    worst: HashMap<ForkKey, u16>,
}

impl Forks {
    /// The call rings the operator on these legs (one per contact).
    pub fn rang(&mut self, call: CallId, operator: OperatorId, legs: Vec<LegKey>) {
        for leg in &legs {
            self.owners.insert(
                leg.clone(),
                Owner {
                    call,
                    operator: operator.clone(),
                },
            );
        }
        self.ringing.insert((call, operator), legs);
    }

    /// Stops the ring: the legs still ringing the operator for the call,
    /// to cancel. Their final answers (487) are no news to anyone and are
    /// dropped, so they cannot touch a later ring of the same operator.
    pub fn cancel(&mut self, call: &CallId, operator: &OperatorId) -> Vec<LegKey> {
        let fork = (*call, operator.clone());
        self.worst.remove(&fork);
        self.ringing.remove(&fork).unwrap_or_default()
    }

    /// The call is over: the legs it still owns, to end. Their final
    /// events still come and are dropped here.
    pub fn call_over(&mut self, call: &CallId) -> Vec<LegKey> {
        self.ringing.retain(|(c, _), _| c != call);
        self.worst.retain(|(c, _), _| c != call);
        self.owners
            .iter()
            .filter(|(_, o)| o.call == *call)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Legs known (ringing or talking).
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// A leg event of the endpoint; anything else is ignored.
    pub fn on_event(&mut self, event: Event) -> Vec<Step> {
        match event {
            Event::LegProgress { key, code, .. } if code == 180 || code == 183 => {
                let Some(owner) = self.owners.get(&key).cloned() else {
                    return Vec::new();
                };
                let event = CallEvent::OperatorRinging {
                    operator: owner.operator,
                };
                vec![deliver(owner.call, key, event)]
            }
            Event::LegAnswered { key, body } => {
                let Some(owner) = self.owners.get(&key).cloned() else {
                    return vec![Step::EndLeg(key)];
                };
                let fork = (owner.call, owner.operator.clone());
                self.worst.remove(&fork);
                let mut steps: Vec<Step> = self
                    .ringing
                    .remove(&fork)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|l| *l != key)
                    .map(Step::EndLeg)
                    .collect();
                let event = CallEvent::OperatorAnswered {
                    operator: owner.operator,
                    leg: key.clone(),
                    body,
                };
                steps.push(deliver(owner.call, key, event));
                steps
            }
            Event::LegFailed { key, code } => {
                let Some(owner) = self.owners.remove(&key) else {
                    return Vec::new();
                };
                let fork = (owner.call, owner.operator.clone());
                // Not (or no longer) ringing: answered elsewhere, cancelled,
                // or the call is over.
                let Some(legs) = self.ringing.get_mut(&fork).filter(|l| l.contains(&key)) else {
                    return Vec::new();
                };
                legs.retain(|l| *l != key);
                let worst = self.worst.entry(fork.clone()).or_insert(code);
                if matches!(code, 486 | 600 | 603) {
                    *worst = code;
                }
                let worst = *worst;
                if !legs.is_empty() {
                    return Vec::new();
                }
                self.ringing.remove(&fork);
                self.worst.remove(&fork);
                let event = CallEvent::OperatorFailed {
                    operator: owner.operator,
                    code: worst,
                };
                vec![deliver(owner.call, key, event)]
            }
            Event::LegEnded { key } => match self.owners.remove(&key) {
                Some(owner) => {
                    let event = CallEvent::OperatorHungUp { leg: key.clone() };
                    vec![deliver(owner.call, key, event)]
                }
                None => Vec::new(),
            },
            Event::LegTerminated { key } => match self.owners.remove(&key) {
                Some(owner) => {
                    let event = CallEvent::OperatorLegGone { leg: key.clone() };
                    vec![deliver(owner.call, key, event)]
                }
                None => Vec::new(),
            },
            Event::LegReInvite { key, request } => match self.owners.get(&key) {
                Some(owner) => {
                    let call = owner.call;
                    let event = CallEvent::OperatorReInvite {
                        leg: key.clone(),
                        request,
                    };
                    vec![deliver(call, key, event)]
                }
                None => vec![Step::RefuseReInvite(key)],
            },
            Event::LegConfirmed { key, body } => match self.owners.get(&key) {
                Some(owner) => {
                    let call = owner.call;
                    let event = CallEvent::OperatorConfirmed {
                        leg: key.clone(),
                        body,
                    };
                    vec![deliver(call, key, event)]
                }
                None => Vec::new(),
            },
            Event::LegRefer { key, target } => match self.owners.get(&key) {
                Some(owner) => {
                    let call = owner.call;
                    let event = CallEvent::OperatorTransfer {
                        leg: key.clone(),
                        target,
                    };
                    vec![deliver(call, key, event)]
                }
                None => vec![Step::RefuseRefer(key)],
            },
            _ => Vec::new(),
        }
    }
}

fn deliver(call: CallId, leg: LegKey, event: CallEvent) -> Step {
    Step::Deliver { call, leg, event }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(n: u32) -> LegKey {
        LegKey::new(format!("leg{n}@hotline"))
    }

    fn call(n: u32) -> CallId {
        CallId::from_uuid(uuid::Uuid::from_u128(n.into()))
    }

    fn olena() -> OperatorId {
        OperatorId::new("olena")
    }

    fn failed(n: u32, code: u16) -> Event {
        Event::LegFailed { key: leg(n), code }
    }

    /// The steps as short text, for comparing.
    fn brief(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Deliver { call, leg, event } => {
                    let what = match event {
                        CallEvent::OperatorRinging { .. } => "ringing".to_string(),
                        CallEvent::OperatorAnswered { .. } => "answered".to_string(),
                        CallEvent::OperatorFailed { code, .. } => format!("failed {code}"),
                        CallEvent::OperatorHungUp { .. } => "hung up".to_string(),
                        CallEvent::OperatorLegGone { .. } => "gone".to_string(),
                        CallEvent::OperatorTransfer { target, .. } => format!("transfer {target}"),
                        other => format!("{other:?}"),
                    };
                    // Named as the calls' SIP keys were before calls had
                    // an id of their own.
                    let n = call.as_uuid().as_u128();
                    format!("call{n};tag {leg}: {what}")
                }
                Step::EndLeg(l) => format!("end {l}"),
                Step::RefuseReInvite(l) => format!("481 {l}"),
                Step::RefuseRefer(l) => format!("notify 481 {l}"),
            })
            .collect()
    }

    #[test]
    fn the_first_phone_to_answer_wins_and_the_others_stop() {
        let mut forks = Forks::default();
        forks.rang(call(1), olena(), vec![leg(1), leg(2), leg(3)]);
        let ringing = forks.on_event(Event::LegProgress {
            key: leg(2),
            code: 180,
            body: Vec::new(),
        });
        assert_eq!(brief(&ringing), ["call1;tag leg2@hotline: ringing"]);
        assert!(
            forks
                .on_event(Event::LegProgress {
                    key: leg(2),
                    code: 100,
                    body: Vec::new(),
                })
                .is_empty(),
            "100 Trying is not ringing"
        );
        let steps = forks.on_event(Event::LegAnswered {
            key: leg(2),
            body: b"v=0".to_vec(),
        });
        assert_eq!(
            brief(&steps),
            [
                "end leg1@hotline",
                "end leg3@hotline",
                "call1;tag leg2@hotline: answered"
            ]
        );
        assert!(forks.cancel(&call(1), &olena()).is_empty(), "nothing rings");
        // The cancelled phones' 487s are not failures of the operator.
        assert!(forks.on_event(failed(1, 487)).is_empty());
        assert!(forks.on_event(failed(3, 487)).is_empty());
        // The winner hangs up later.
        let steps = forks.on_event(Event::LegEnded { key: leg(2) });
        assert_eq!(brief(&steps), ["call1;tag leg2@hotline: hung up"]);
        assert!(forks.is_empty());
    }

    #[test]
    fn the_operator_fails_when_every_phone_has_with_the_most_telling_status() {
        let mut forks = Forks::default();
        forks.rang(call(1), olena(), vec![leg(1), leg(2), leg(3)]);
        assert!(forks.on_event(failed(1, 408)).is_empty());
        assert!(forks.on_event(failed(2, 486)).is_empty());
        let steps = forks.on_event(failed(3, 480));
        assert_eq!(brief(&steps), ["call1;tag leg3@hotline: failed 486"]);
        assert!(forks.is_empty());

        // A fork's worst status does not leak into the next ring.
        forks.rang(call(1), olena(), vec![leg(4)]);
        assert_eq!(
            brief(&forks.on_event(failed(4, 408))),
            ["call1;tag leg4@hotline: failed 408"]
        );
    }

    #[test]
    fn a_cancelled_ring_does_not_touch_the_next_one() {
        let mut forks = Forks::default();
        forks.rang(call(1), olena(), vec![leg(1), leg(2)]);
        assert_eq!(forks.cancel(&call(1), &olena()), vec![leg(1), leg(2)]);
        // Rung again before the first ring's 487s arrive.
        forks.rang(call(1), olena(), vec![leg(3)]);
        assert!(forks.on_event(failed(1, 487)).is_empty());
        assert!(forks.on_event(failed(2, 603)).is_empty());
        assert_eq!(
            brief(&forks.on_event(failed(3, 408))),
            ["call1;tag leg3@hotline: failed 408"],
            "only the new ring's own status counts"
        );
    }

    #[test]
    fn legs_of_a_call_that_is_over_are_ended_and_their_events_dropped() {
        let mut forks = Forks::default();
        forks.rang(call(1), olena(), vec![leg(1)]);
        forks.rang(call(2), OperatorId::new("petro"), vec![leg(2)]);
        assert_eq!(forks.call_over(&call(1)), vec![leg(1)]);
        assert!(forks.on_event(failed(1, 487)).is_empty());
        // Answered after all (the 200 crossed our CANCEL): hang it up.
        forks.rang(call(3), olena(), vec![leg(3)]);
        forks.call_over(&call(3));
        let steps = forks.on_event(Event::LegAnswered {
            key: leg(3),
            body: Vec::new(),
        });
        assert_eq!(brief(&steps), ["call3;tag leg3@hotline: answered"]);
        assert_eq!(forks.len(), 2, "call 2's leg is untouched");
        // A leg nobody knows.
        let steps = forks.on_event(Event::LegAnswered {
            key: leg(9),
            body: Vec::new(),
        });
        assert_eq!(brief(&steps), ["end leg9@hotline"]);
    }

    #[test]
    fn requests_on_unknown_legs_are_refused() {
        let mut forks = Forks::default();
        let refer = forks.on_event(Event::LegRefer {
            key: leg(1),
            target: "sip:emergency@h".into(),
        });
        assert_eq!(brief(&refer), ["notify 481 leg1@hotline"]);
        forks.rang(call(1), olena(), vec![leg(1)]);
        let refer = forks.on_event(Event::LegRefer {
            key: leg(1),
            target: "sip:emergency@h".into(),
        });
        assert_eq!(
            brief(&refer),
            ["call1;tag leg1@hotline: transfer sip:emergency@h"]
        );
    }
}
