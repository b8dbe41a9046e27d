//! Per-operator figures for a period, as a supervisor reads them at the
//! end of a shift: calls answered, time talking, in wrap-up and paused,
//! time signed in, the average handle time, and offers let ring out.
//!
//! Role: plain code over what the store keeps (each operator's state
//! changes and the queue's ringing and answered steps); no IO, no clock:
//! the period's end is handed in (for today: now). The store reads the
//! rows, the HTTP edge names the operators.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::store::OperatorState;

/// An operator's state change as the figures need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub operator: Uuid,
    pub at: DateTime<Utc>,
    pub state: OperatorState,
}

/// A queue's step with an operator: their phone rang with a call, or they
/// answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub call: Uuid,
    pub operator: Uuid,
    pub queue: String,
    pub answered: bool,
}

/// One operator's figures for the period, durations in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Figures {
    pub answered: u32,
    pub talk_ms: u64,
    pub wrap_up_ms: u64,
    pub paused_ms: u64,
    /// Any state but logged out.
    pub signed_in_ms: u64,
    /// (talk + wrap-up) / answered; `None` with no call answered.
    pub average_handle_ms: Option<u64>,
    /// Offers that rang out on this operator's phone: the call was not
    /// answered by them (nor, in a ring-all queue, by a colleague who was
    /// rung at the same time, which is no fault of theirs).
    pub missed_offers: u32,
}

/// Each operator's figures over `[from, to)`. `before`: each operator's
/// state as the period starts (their last change before `from`; one
/// without is logged out); `changes`: the changes within, in order;
/// `offers`: the queue's ringing and answered steps within;
/// `ring_all`: whether a queue rings every operator at once.
pub fn figures(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    before: &HashMap<Uuid, OperatorState>,
    changes: &[Change],
    offers: &[Offer],
    ring_all: impl Fn(&str) -> bool,
) -> BTreeMap<Uuid, Figures> {
    let mut out: BTreeMap<Uuid, Figures> = BTreeMap::new();
    // Time in each state: walk each operator's changes from the state
    // they started the period in.
    let mut current: HashMap<Uuid, (DateTime<Utc>, OperatorState)> = before
        .iter()
        .map(|(op, state)| (*op, (from, *state)))
        .collect();
    let add = |out: &mut BTreeMap<Uuid, Figures>, op: Uuid, state, start, end| {
        let ms = span_ms(start, end, from, to);
        let f = out.entry(op).or_default();
        match state {
            OperatorState::OnCall => f.talk_ms += ms,
            OperatorState::WrapUp => f.wrap_up_ms += ms,
            OperatorState::Paused => f.paused_ms += ms,
            _ => {}
        }
        if state != OperatorState::LoggedOut {
            f.signed_in_ms += ms;
        }
    };
    for c in changes {
        if let Some((start, state)) = current.insert(c.operator, (c.at, c.state)) {
            add(&mut out, c.operator, state, start, c.at);
        } else {
            out.entry(c.operator).or_default();
        }
    }
    for (op, (start, state)) in current {
        add(&mut out, op, state, start, to);
    }
    // Calls answered, and offers missed.
    let mut answered_by: HashMap<Uuid, Uuid> = HashMap::new();
    for o in offers.iter().filter(|o| o.answered) {
        answered_by.insert(o.call, o.operator);
        out.entry(o.operator).or_default().answered += 1;
    }
    let mut rung: Vec<(&Uuid, &Uuid, &str)> = offers
        .iter()
        .filter(|o| !o.answered)
        .map(|o| (&o.call, &o.operator, o.queue.as_str()))
        .collect();
    // One miss per call and operator, however often it rang again.
    rung.sort_unstable();
    rung.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    for (call, op, queue) in rung {
        let missed = match answered_by.get(call) {
            Some(by) if by == op => false,
            Some(_) => !ring_all(queue),
            None => true,
        };
        if missed {
            out.entry(*op).or_default().missed_offers += 1;
        }
    }
    for f in out.values_mut() {
        f.average_handle_ms =
            (f.answered > 0).then(|| (f.talk_ms + f.wrap_up_ms) / u64::from(f.answered));
    }
    out
}

/// The part of `[start, end)` inside `[from, to)`, in milliseconds.
fn span_ms(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> u64 {
    let (start, end) = (start.max(from), end.min(to));
    u64::try_from((end - start).num_milliseconds()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).unwrap()
    }

    const MIN: u64 = 60_000;

    #[test]
    fn time_in_each_state_within_the_period() {
        let olena = Uuid::from_u128(1);
        let ivan = Uuid::from_u128(2);
        let before = HashMap::from([(olena, OperatorState::Paused)]);
        let c = |operator, h, m, state| Change {
            operator,
            at: at(h, m),
            state,
        };
        let changes = [
            c(olena, 8, 10, OperatorState::Available),
            c(olena, 8, 20, OperatorState::Ringing),
            c(olena, 8, 21, OperatorState::OnCall),
            c(olena, 8, 31, OperatorState::WrapUp),
            c(olena, 8, 33, OperatorState::Available),
            c(ivan, 9, 0, OperatorState::Available),
            c(ivan, 9, 30, OperatorState::LoggedOut),
        ];
        let offers = [Offer {
            call: Uuid::from_u128(10),
            operator: olena,
            queue: "general".into(),
            answered: true,
        }];
        let f = figures(at(8, 0), at(10, 0), &before, &changes, &offers, |_| false);
        let o = f[&olena];
        assert_eq!(o.paused_ms, 10 * MIN, "paused from the period's start");
        assert_eq!(o.talk_ms, 10 * MIN);
        assert_eq!(o.wrap_up_ms, 2 * MIN);
        assert_eq!(o.signed_in_ms, 120 * MIN, "signed in the whole period");
        assert_eq!(o.answered, 1);
        assert_eq!(o.average_handle_ms, Some(12 * MIN));
        let i = f[&ivan];
        assert_eq!(
            i.signed_in_ms,
            30 * MIN,
            "logged out before: nothing before 9:00"
        );
        assert_eq!((i.answered, i.average_handle_ms), (0, None));
    }

    #[test]
    fn a_state_before_the_period_counts_from_its_start_and_to_its_end() {
        let op = Uuid::from_u128(1);
        let before = HashMap::from([(op, OperatorState::OnCall)]);
        let f = figures(at(8, 0), at(8, 30), &before, &[], &[], |_| false);
        assert_eq!(f[&op].talk_ms, 30 * MIN);
    }

    #[test]
    fn offers_let_ring_out_are_missed_but_a_lost_ring_all_race_is_not() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let offer = |call: u128, operator, queue: &str, answered| Offer {
            call: Uuid::from_u128(call),
            operator,
            queue: queue.into(),
            answered,
        };
        let offers = [
            // Rang a twice, then b answered (one queue rings in turn).
            offer(1, a, "general", false),
            offer(1, a, "general", false),
            offer(1, b, "general", false),
            offer(1, b, "general", true),
            // A ring-all queue rang both; a answered first.
            offer(2, a, "emergency", false),
            offer(2, b, "emergency", false),
            offer(2, a, "emergency", true),
            // Nobody answered.
            offer(3, b, "emergency", false),
        ];
        let f = figures(at(8, 0), at(9, 0), &HashMap::new(), &[], &offers, |q| {
            q == "emergency"
        });
        assert_eq!((f[&a].answered, f[&a].missed_offers), (1, 1));
        assert_eq!((f[&b].answered, f[&b].missed_offers), (1, 1));
    }
}
