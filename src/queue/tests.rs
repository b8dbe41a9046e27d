//! The router in simulated time: a fake clock that jumps from one deadline
//! to the next, as the glue's sleep would, and never sleeps.

use std::time::{Duration, Instant};

use super::*;

/// A router and a clock. `t(s)` is `s` seconds after the start.
struct Sim {
    router: Router,
    start: Instant,
    now: Instant,
}

impl Sim {
    fn new(toml: &str) -> Self {
        let queues = QueueSet::parse(toml).expect("test queues");
        let start = Instant::now();
        Sim {
            router: Router::new(queues.queues()),
            start,
            now: start,
        }
    }

    fn t(&self, secs: u64) -> Instant {
        self.start + Duration::from_secs(secs)
    }

    fn secs(&self) -> u64 {
        (self.now - self.start).as_secs()
    }

    /// Moves the clock to `secs`, polling at every deadline on the way as
    /// the glue would, then at `secs` itself. Each action comes with the
    /// second it was produced at.
    fn run_to(&mut self, secs: u64) -> Vec<(u64, Action)> {
        let target = self.t(secs);
        assert!(target >= self.now, "time goes forward");
        let mut out = Vec::new();
        for _ in 0..10_000 {
            match self.router.next_timeout() {
                Some(deadline) if deadline <= target => {
                    // A deadline in the past would make the glue spin.
                    assert!(deadline >= self.now, "next_timeout went back in time");
                    self.now = deadline;
                    let s = self.secs();
                    out.extend(self.router.poll(self.now).into_iter().map(|a| (s, a)));
                    if self.router.next_timeout() == Some(deadline) {
                        panic!("poll at {s}s left its own deadline in place");
                    }
                }
                _ => {
                    self.now = target;
                    out.extend(self.router.poll(target).into_iter().map(|a| (secs, a)));
                    return out;
                }
            }
        }
        panic!("too many deadlines before {secs}s");
    }

    /// `run_to` without the times.
    fn at(&mut self, secs: u64) -> Vec<Action> {
        self.run_to(secs).into_iter().map(|(_, a)| a).collect()
    }

    fn log_in(&mut self, secs: u64, login: &str, queues: &[(&str, u32)]) {
        self.at(secs);
        let memberships = queues.iter().map(|(q, p)| Membership::new(q, *p)).collect();
        self.router.log_in(self.now, op(login), memberships);
    }

    fn join(&mut self, secs: u64, caller: CallId, queue: &str) -> JoinOutcome {
        self.at(secs);
        self.router.join(self.now, caller, queue).expect("join")
    }

    fn answer(&mut self, secs: u64, caller: CallId, login: &str) -> Answered {
        self.at(secs);
        self.router
            .answered(self.now, caller, &op(login))
            .expect("answer")
    }

    fn end(&mut self, secs: u64, login: &str) {
        self.at(secs);
        self.router.call_ended(self.now, &op(login)).expect("end");
    }

    fn state(&self, login: &str) -> OperatorState {
        self.router
            .operator_state(&op(login))
            .expect("known operator")
            .clone()
    }
}

fn op(login: &str) -> OperatorId {
    OperatorId::new(login)
}

fn call(n: u128) -> CallId {
    CallId::from_uuid(uuid::Uuid::from_u128(n))
}

/// One queue's TOML.
fn queue(name: &str, keys: &str) -> String {
    format!("[[queue]]\nname = \"{name}\"\n{keys}\n")
}

/// The rings in `actions`: (caller, operators).
fn rings(actions: &[Action]) -> Vec<(CallId, Vec<String>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Ring {
                caller, operators, ..
            } => Some((*caller, operators.iter().map(|o| o.0.clone()).collect())),
            _ => None,
        })
        .collect()
}

fn ring(caller: CallId, operators: &[&str]) -> (CallId, Vec<String>) {
    (caller, operators.iter().map(|s| s.to_string()).collect())
}

fn cancels(actions: &[Action]) -> Vec<(CallId, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::CancelRing { caller, operator } => Some((*caller, operator.0.clone())),
            _ => None,
        })
        .collect()
}

fn changed(login: &str, state: OperatorState) -> Action {
    Action::StateChanged {
        operator: op(login),
        state,
    }
}

const WRAPUP_0: &str = "wrapuptime = 0";

#[test]
fn longest_idle_rings_the_operator_idle_longest() {
    let mut sim = Sim::new(&queue("general", "timeout = 15"));
    sim.log_in(0, "clara", &[("general", 0)]);
    sim.log_in(5, "anna", &[("general", 0)]);
    sim.log_in(10, "boris", &[("general", 0)]);
    let a = sim.at(10);
    assert!(
        a.contains(&changed("boris", OperatorState::Available)),
        "{a:?}"
    );

    assert_eq!(
        sim.join(20, call(1), "general"),
        JoinOutcome::Joined { position: 1 }
    );
    let a = sim.at(20);
    assert_eq!(
        a,
        vec![
            Action::Ring {
                caller: call(1),
                queue: "general".into(),
                operators: vec![op("clara")],
                timeout: Duration::from_secs(15),
            },
            changed("clara", OperatorState::Ringing { caller: call(1) }),
        ]
    );
    let answered = sim.answer(25, call(1), "clara");
    assert_eq!(answered.waited, Duration::from_secs(5));
    assert_eq!(answered.queue, "general");
    assert_eq!(
        sim.state("clara"),
        OperatorState::OnCall { caller: call(1) }
    );

    // Then anna (idle since 5), then boris (since 10): the order of
    // logging in, not of names (clara sorts last but went first).
    sim.join(30, call(2), "general");
    assert_eq!(rings(&sim.at(30)), vec![ring(call(2), &["anna"])]);
    sim.join(31, call(3), "general");
    assert_eq!(rings(&sim.at(31)), vec![ring(call(3), &["boris"])]);
    assert!(sim.router.waiting("general").len() == 2);
}

#[test]
fn fewest_calls_rings_the_operator_with_fewest_answered_today() {
    let text = queue("roads", &format!("strategy = \"fewest-calls\"\n{WRAPUP_0}"));
    let mut sim = Sim::new(&text);
    sim.log_in(0, "anna", &[("roads", 0)]);
    sim.log_in(1, "boris", &[("roads", 0)]);
    // All at 0 calls: the longest idle breaks the tie.
    sim.join(2, call(1), "roads");
    assert_eq!(rings(&sim.at(2)), vec![ring(call(1), &["anna"])]);
    sim.answer(3, call(1), "anna");
    sim.end(5, "anna");
    sim.log_in(6, "clara", &[("roads", 0)]);
    sim.join(7, call(2), "roads");
    assert_eq!(rings(&sim.at(7)), vec![ring(call(2), &["boris"])]);
    sim.answer(8, call(2), "boris");
    sim.end(10, "boris");
    // anna (1 call) is idle the longest, but clara answered none.
    sim.join(11, call(3), "roads");
    assert_eq!(rings(&sim.at(11)), vec![ring(call(3), &["clara"])]);
    sim.answer(12, call(3), "clara");
    sim.end(13, "clara");
    // A new day: everyone at 0 again, and anna is idle the longest.
    sim.router.reset_daily_counts();
    sim.join(14, call(4), "roads");
    assert_eq!(rings(&sim.at(14)), vec![ring(call(4), &["anna"])]);
}

#[test]
fn ring_all_rings_every_free_member_and_cancels_the_rest_on_answer() {
    let text = queue("emergency", "strategy = \"ring-all\"\ntimeout = 10");
    let mut sim = Sim::new(&text);
    for (s, login) in [(0, "anna"), (1, "boris"), (2, "clara"), (3, "dmytro")] {
        sim.log_in(s, login, &[("emergency", 0)]);
    }
    sim.router
        .pause(sim.now, &op("dmytro"), "lunch")
        .expect("pause");
    sim.join(5, call(1), "emergency");
    let a = sim.at(5);
    assert_eq!(rings(&a), vec![ring(call(1), &["anna", "boris", "clara"])]);
    for login in ["anna", "boris", "clara"] {
        assert_eq!(sim.state(login), OperatorState::Ringing { caller: call(1) });
    }
    // One declines: the others keep ringing.
    sim.at(6);
    sim.router
        .rejected(sim.now, call(1), &op("clara"), Rejection::Declined)
        .expect("reject");
    assert_eq!(cancels(&sim.at(6)), vec![]);
    assert_eq!(sim.state("clara"), OperatorState::Available);

    sim.answer(7, call(1), "boris");
    let a = sim.at(7);
    assert_eq!(cancels(&a), vec![(call(1), "anna".to_string())]);
    assert!(
        a.contains(&changed("anna", OperatorState::Available)),
        "{a:?}"
    );
    assert!(a.contains(&changed("boris", OperatorState::OnCall { caller: call(1) })));
    // The offer is over: no timeout fires for it later.
    assert_eq!(cancels(&sim.at(30)), vec![]);

    // Nobody answers: at the timeout every phone stops ringing.
    sim.join(40, call(2), "emergency");
    assert_eq!(rings(&sim.at(40)), vec![ring(call(2), &["anna", "clara"])]);
    let a = sim.run_to(50);
    let cancelled: Vec<(u64, Action)> = a
        .into_iter()
        .filter(|(_, a)| matches!(a, Action::CancelRing { .. }))
        .collect();
    assert_eq!(
        cancelled,
        vec![
            (
                50,
                Action::CancelRing {
                    caller: call(2),
                    operator: op("anna")
                }
            ),
            (
                50,
                Action::CancelRing {
                    caller: call(2),
                    operator: op("clara")
                }
            ),
        ]
    );
}

#[test]
fn lower_penalty_is_offered_first() {
    let text = queue("general", WRAPUP_0);
    let mut sim = Sim::new(&text);
    // anna is idle longer, but serves general only as a back-up.
    sim.log_in(0, "anna", &[("general", 1)]);
    sim.log_in(1, "boris", &[("general", 0)]);
    sim.join(2, call(1), "general");
    assert_eq!(rings(&sim.at(2)), vec![ring(call(1), &["boris"])]);
    sim.answer(3, call(1), "boris");
    // boris is busy: the back-up tier takes the next caller.
    sim.join(4, call(2), "general");
    assert_eq!(rings(&sim.at(4)), vec![ring(call(2), &["anna"])]);

    // Ring-all rings only the best tier that is free.
    let text = queue("emergency", "strategy = \"ring-all\"");
    let mut sim = Sim::new(&text);
    sim.log_in(0, "anna", &[("emergency", 0)]);
    sim.log_in(0, "boris", &[("emergency", 0)]);
    sim.log_in(0, "clara", &[("emergency", 2)]);
    sim.join(1, call(1), "emergency");
    assert_eq!(rings(&sim.at(1)), vec![ring(call(1), &["anna", "boris"])]);
}

#[test]
fn emergency_callers_go_first_to_operators_of_both_queues() {
    let text = [
        queue("general", WRAPUP_0),
        queue("roads", WRAPUP_0),
        queue("emergency", &format!("weight = 10\n{WRAPUP_0}")),
    ]
    .concat();
    let mut sim = Sim::new(&text);
    sim.log_in(0, "anna", &[("general", 0), ("emergency", 0), ("roads", 0)]);
    sim.join(1, call(1), "general");
    sim.answer(1, call(1), "anna");
    // While anna talks, a general caller, a roads caller, then an emergency.
    sim.join(10, call(2), "general");
    sim.join(15, call(3), "roads");
    sim.join(20, call(4), "emergency");
    assert_eq!(rings(&sim.at(25)), vec![]);
    sim.end(30, "anna");
    // The emergency caller waited least but is offered first.
    assert_eq!(rings(&sim.at(30)), vec![ring(call(4), &["anna"])]);
    sim.answer(31, call(4), "anna");
    sim.end(40, "anna");
    // Then, among equal weights, the longest waiting.
    assert_eq!(rings(&sim.at(40)), vec![ring(call(2), &["anna"])]);
    sim.answer(41, call(2), "anna");
    sim.end(50, "anna");
    assert_eq!(rings(&sim.at(50)), vec![ring(call(3), &["anna"])]);

    // An operator of the general queue only is never offered emergencies.
    sim.log_in(60, "boris", &[("general", 0)]);
    sim.answer(61, call(3), "anna");
    sim.join(62, call(5), "emergency");
    assert_eq!(rings(&sim.at(62)), vec![]);
}

#[test]
fn an_unanswered_offer_moves_to_the_next_operator_after_retry() {
    let text = queue("general", "timeout = 15\nretry = 5");
    let mut sim = Sim::new(&text);
    sim.log_in(0, "anna", &[("general", 0)]);
    sim.log_in(1, "boris", &[("general", 0)]);
    sim.join(10, call(1), "general");
    assert_eq!(rings(&sim.at(10)), vec![ring(call(1), &["anna"])]);
    assert_eq!(sim.router.next_timeout(), Some(sim.t(25)));

    // Ring timeout at 25: anna's phone stops, nobody rings until 30.
    let a = sim.run_to(29);
    assert_eq!(
        a,
        vec![
            (
                25,
                Action::CancelRing {
                    caller: call(1),
                    operator: op("anna")
                }
            ),
            (25, changed("anna", OperatorState::Available)),
        ]
    );
    assert_eq!(sim.router.next_timeout(), Some(sim.t(30)));
    // After `retry`, the next operator, though anna is idle longer.
    let a = sim.run_to(30);
    assert_eq!(
        rings(&a.iter().map(|(_, a)| a.clone()).collect::<Vec<_>>()),
        vec![ring(call(1), &["boris"])]
    );
    assert!(a.iter().all(|(s, _)| *s == 30), "{a:?}");

    // boris is busy (486): after `retry`, a new round starts with anna.
    sim.at(32);
    sim.router
        .rejected(sim.now, call(1), &op("boris"), Rejection::Busy)
        .expect("reject");
    assert_eq!(rings(&sim.at(36)), vec![]);
    assert_eq!(rings(&sim.at(37)), vec![ring(call(1), &["anna"])]);
    // A caller of anna's who is not offered to her cannot be answered by her.
    assert_eq!(
        sim.router.answered(sim.now, call(1), &op("boris")),
        Err(RouterError::NotOffered {
            caller: call(1),
            operator: op("boris")
        })
    );
}

#[test]
fn two_offers_not_answered_in_a_row_pause_the_operator() {
    let text = queue("general", "timeout = 10\nretry = 5\nwrapuptime = 0");
    let mut sim = Sim::new(&text);
    sim.log_in(0, "anna", &[("general", 0)]);
    sim.join(1, call(1), "general");
    assert_eq!(rings(&sim.at(1)), vec![ring(call(1), &["anna"])]);
    // Missed (timeout at 11), rung again at 16 (she is the only one).
    let a = sim.at(16);
    assert_eq!(rings(&a), vec![ring(call(1), &["anna"])]);
    assert!(!a.iter().any(|a| matches!(a, Action::AutoPaused { .. })));
    // Missed again at 26: paused.
    let a = sim.run_to(26);
    let at_26: Vec<Action> = a.into_iter().map(|(_, a)| a).collect();
    assert_eq!(
        at_26,
        vec![
            Action::CancelRing {
                caller: call(1),
                operator: op("anna")
            },
            Action::AutoPaused {
                operator: op("anna")
            },
            changed(
                "anna",
                OperatorState::Paused {
                    reason: "no answer".into()
                }
            ),
        ]
    );
    // The caller waits on; nobody rings a paused operator.
    assert_eq!(rings(&sim.at(100)), vec![]);
    assert_eq!(sim.router.position(call(1)), Some(1));
    // Back at the desk: the count starts over.
    sim.router
        .set_available(sim.now, &op("anna"))
        .expect("back");
    assert_eq!(rings(&sim.at(100)), vec![ring(call(1), &["anna"])]);
    // Missed once, then an answer: the next miss does not pause.
    sim.at(110);
    assert_eq!(sim.state("anna"), OperatorState::Available);
    assert_eq!(rings(&sim.at(115)), vec![ring(call(1), &["anna"])]);
    sim.answer(116, call(1), "anna");
    sim.end(120, "anna");
    sim.join(121, call(2), "general");
    assert_eq!(rings(&sim.at(121)), vec![ring(call(2), &["anna"])]);
    let a = sim.at(131);
    assert_eq!(cancels(&a), vec![(call(2), "anna".to_string())]);
    assert_eq!(sim.state("anna"), OperatorState::Available);
}

#[test]
fn wrap_up_then_available() {
    let text = queue("housing", "wrapuptime = 30");
    let mut sim = Sim::new(&text);
    sim.log_in(0, "anna", &[("housing", 0)]);
    sim.join(1, call(1), "housing");
    sim.answer(2, call(1), "anna");
    sim.join(50, call(2), "housing");
    sim.end(60, "anna");
    let a = sim.at(60);
    assert_eq!(
        a,
        vec![changed("anna", OperatorState::WrapUp { until: sim.t(90) })]
    );
    assert_eq!(rings(&sim.at(89)), vec![]);
    assert_eq!(sim.router.next_timeout(), Some(sim.t(90)));
    // At the end of wrap-up, available and offered the waiting caller at once.
    let a = sim.run_to(95);
    assert_eq!(
        a[..3],
        [
            (90, changed("anna", OperatorState::Available)),
            (
                90,
                Action::Ring {
                    caller: call(2),
                    queue: "housing".into(),
                    operators: vec![op("anna")],
                    timeout: Duration::from_secs(15)
                }
            ),
            (
                90,
                changed("anna", OperatorState::Ringing { caller: call(2) })
            ),
        ]
    );
    // Ending wrap-up early.
    sim.answer(96, call(2), "anna");
    sim.end(100, "anna");
    sim.router
        .set_available(sim.t(105), &op("anna"))
        .expect("early");
    assert_eq!(sim.state("anna"), OperatorState::Available);
    assert_eq!(sim.router.next_timeout(), None);
    // Calls only end for operators on a call.
    assert_eq!(
        sim.router.call_ended(sim.now, &op("anna")),
        Err(RouterError::NotOnCall(op("anna")))
    );
}

#[test]
fn a_caller_who_hangs_up_is_abandoned_and_those_behind_move_up() {
    let text = queue("general", "");
    let mut sim = Sim::new(&text);
    for (s, n) in [(0, 1), (5, 2), (10, 3), (12, 4)] {
        sim.join(s, call(n), "general");
    }
    assert_eq!(sim.router.position(call(3)), Some(3));
    sim.at(40);
    let abandoned = sim.router.hang_up(sim.now, call(2)).expect("waiting");
    assert_eq!(
        abandoned,
        Abandoned {
            queue: "general".into(),
            waited: Duration::from_secs(35)
        }
    );
    // Those behind move up, without an action each.
    assert_eq!(sim.at(40), vec![]);
    assert_eq!(sim.router.position(call(3)), Some(2));
    assert_eq!(sim.router.position(call(4)), Some(3));
    assert_eq!(
        sim.router.waiting("general"),
        vec![call(1), call(3), call(4)]
    );
    assert_eq!(sim.router.position(call(2)), None);
    assert_eq!(
        sim.router.hang_up(sim.now, call(2)),
        Err(RouterError::NotWaiting(call(2)))
    );

    // Hanging up while an operator's phone rings: it stops, and the
    // operator is free, with no miss counted.
    sim.log_in(50, "anna", &[("general", 0)]);
    assert_eq!(rings(&sim.at(50)), vec![ring(call(1), &["anna"])]);
    sim.router.hang_up(sim.t(52), call(1)).expect("waiting");
    let a = sim.at(52);
    assert_eq!(cancels(&a), vec![(call(1), "anna".to_string())]);
    // The next caller is offered to her in the same poll.
    assert_eq!(rings(&a), vec![ring(call(3), &["anna"])]);
}

#[test]
fn maxlen_refuses_a_full_queue() {
    let mut sim = Sim::new(&queue("roads", "maxlen = 2"));
    assert_eq!(
        sim.join(0, call(1), "roads"),
        JoinOutcome::Joined { position: 1 }
    );
    assert_eq!(
        sim.join(1, call(2), "roads"),
        JoinOutcome::Joined { position: 2 }
    );
    assert_eq!(
        sim.join(2, call(3), "roads"),
        JoinOutcome::Refused(Refusal::Full)
    );
    assert_eq!(sim.router.waiting("roads"), vec![call(1), call(2)]);
    sim.router.hang_up(sim.t(3), call(1)).expect("waiting");
    assert_eq!(
        sim.join(4, call(3), "roads"),
        JoinOutcome::Joined { position: 2 }
    );
    assert_eq!(
        sim.router.join(sim.now, call(3), "roads"),
        Err(RouterError::AlreadyWaiting(call(3)))
    );
    assert_eq!(
        sim.router.join(sim.now, call(9), "nowhere"),
        Err(RouterError::UnknownQueue("nowhere".into()))
    );
}

#[test]
fn joinempty_variants() {
    let text = [
        queue("yes", "joinempty = \"yes\""),
        queue("no", "joinempty = \"no\""),
        queue("strict", "joinempty = \"strict\""),
    ]
    .concat();
    let mut sim = Sim::new(&text);
    let mut n = 0;
    let mut try_all = |sim: &mut Sim, secs| -> [bool; 3] {
        ["yes", "no", "strict"].map(|q| {
            n += 1;
            match sim.join(secs, call(n), q) {
                JoinOutcome::Joined { .. } => {
                    // Leave at once: only joining is under test.
                    sim.router.hang_up(sim.now, call(n)).expect("waiting");
                    true
                }
                JoinOutcome::Refused(r) => {
                    assert_eq!(r, Refusal::NoOperators);
                    false
                }
            }
        })
    };
    let all = [("yes", 0), ("no", 0), ("strict", 0)];
    // No member at all (boris serves another queue).
    sim.log_in(0, "boris", &[("elsewhere", 0)]);
    assert_eq!(try_all(&mut sim, 0), [true, false, false]);
    // A member logged in but paused.
    sim.log_in(1, "anna", &all);
    sim.router
        .pause(sim.now, &op("anna"), "training")
        .expect("pause");
    assert_eq!(try_all(&mut sim, 1), [true, true, false]);
    // On a call: present, so even strict lets callers join.
    sim.router
        .set_available(sim.now, &op("anna"))
        .expect("back");
    sim.join(2, call(100), "strict");
    sim.answer(2, call(100), "anna");
    assert_eq!(try_all(&mut sim, 3), [true, true, true]);
    // Logged out again: as if nobody were a member.
    sim.end(4, "anna");
    sim.router.log_out(sim.now, &op("anna")).expect("log out");
    assert_eq!(try_all(&mut sim, 5), [true, false, false]);
}

#[test]
fn announcements_at_the_configured_frequency_with_position() {
    let text = queue(
        "general",
        "announce-frequency = 30\nperiodic-announce = \"please-wait\"\nperiodic-announce-frequency = 45",
    );
    let mut sim = Sim::new(&text);
    // anna is on a call: one operator working the queue.
    sim.log_in(0, "anna", &[("general", 0)]);
    sim.join(0, call(9), "general");
    sim.answer(0, call(9), "anna");
    sim.join(10, call(1), "general");
    sim.join(20, call(2), "general");
    let a: Vec<(u64, Action)> = sim.run_to(75);
    let announce = |caller, position, wait| Action::Announce {
        caller,
        position: Some(Position::Exact(position)),
        expected_wait: Duration::from_secs(wait),
    };
    let periodic = |caller| Action::PeriodicAnnounce {
        caller,
        prompt: "please-wait".into(),
    };
    assert_eq!(
        a,
        vec![
            (40, announce(call(1), 1, 120)),
            (50, announce(call(2), 2, 240)),
            (55, periodic(call(1))),
            (65, periodic(call(2))),
            (70, announce(call(1), 1, 120)),
        ]
    );
    // A call of 75 s ended: the estimate follows the queue's handle time.
    // With anna paused nobody works the queue; it counts as one.
    sim.end(75, "anna");
    sim.router
        .pause(sim.now, &op("anna"), "break")
        .expect("pause");
    let a = sim.run_to(100);
    assert_eq!(
        a,
        vec![
            (
                80,
                changed("anna", OperatorState::WrapUp { until: sim.t(85) })
            ),
            (
                80,
                changed(
                    "anna",
                    OperatorState::Paused {
                        reason: "break".into()
                    }
                )
            ),
            (80, announce(call(2), 2, 150)),
            (100, announce(call(1), 1, 75)),
            (100, periodic(call(1))),
        ]
    );
}

#[test]
fn announcements_follow_announce_position_and_skip_while_ringing() {
    let text = [
        queue(
            "more",
            "announce-frequency = 30\nannounce-position = \"more\"\nannounce-position-limit = 1",
        ),
        queue("no", "announce-frequency = 30\nannounce-position = \"no\""),
    ]
    .concat();
    let mut sim = Sim::new(&text);
    sim.join(0, call(1), "more");
    sim.join(0, call(2), "more");
    sim.join(0, call(3), "no");
    let positions: Vec<(CallId, Option<Position>)> = sim
        .at(30)
        .into_iter()
        .filter_map(|a| match a {
            Action::Announce {
                caller, position, ..
            } => Some((caller, position)),
            _ => None,
        })
        .collect();
    assert_eq!(
        positions,
        vec![
            (call(1), Some(Position::Exact(1))),
            (call(2), Some(Position::MoreThan(1))),
            (call(3), None),
        ]
    );
    // While call 1's offer rings, its announcement is skipped.
    sim.log_in(50, "anna", &[("more", 0)]);
    assert_eq!(rings(&sim.at(50)), vec![ring(call(1), &["anna"])]);
    let announced: Vec<CallId> = sim
        .at(60)
        .into_iter()
        .filter_map(|a| match a {
            Action::Announce { caller, .. } => Some(caller),
            _ => None,
        })
        .collect();
    assert_eq!(announced, vec![call(2), call(3)]);
}

#[test]
fn pausing_or_leaving_while_rung_withdraws_the_offer() {
    let text = queue("general", "retry = 5");
    let mut sim = Sim::new(&text);
    sim.log_in(0, "anna", &[("general", 0)]);
    sim.log_in(1, "boris", &[("general", 0)]);
    sim.join(2, call(1), "general");
    assert_eq!(rings(&sim.at(2)), vec![ring(call(1), &["anna"])]);
    sim.router
        .pause(sim.t(3), &op("anna"), "coffee")
        .expect("pause");
    let a = sim.at(3);
    // Withdrawn without waiting for retry: boris rings at once.
    assert_eq!(cancels(&a), vec![(call(1), "anna".to_string())]);
    assert_eq!(rings(&a), vec![ring(call(1), &["boris"])]);
    sim.router.log_out(sim.t(4), &op("boris")).expect("log out");
    let a = sim.at(4);
    assert_eq!(cancels(&a), vec![(call(1), "boris".to_string())]);
    assert!(a.contains(&changed("boris", OperatorState::LoggedOut)));
    assert_eq!(rings(&a), vec![]);
    // On a call, an operator must end it before pausing or leaving.
    sim.router
        .set_available(sim.t(5), &op("anna"))
        .expect("back");
    sim.answer(6, call(1), "anna");
    for result in [
        sim.router.pause(sim.now, &op("anna"), "x"),
        sim.router.log_out(sim.now, &op("anna")),
    ] {
        assert_eq!(result, Err(RouterError::OnCall(op("anna"))));
    }
    assert_eq!(
        sim.router.set_available(sim.now, &op("nobody")),
        Err(RouterError::UnknownOperator(op("nobody")))
    );
}

#[test]
fn a_caller_transferred_to_an_extension_waits_for_that_operator_only() {
    let text = queue("general", "timeout = 15\nretry = 5\nwrapuptime = 0")
        + &queue("housing", "timeout = 15\nwrapuptime = 0");
    let mut sim = Sim::new(&text);
    sim.log_in(0, "anna", &[("general", 0)]);
    // boris does not serve general; the transfer reaches him anyway.
    sim.log_in(1, "boris", &[("housing", 0)]);
    sim.router
        .pause(sim.now, &op("boris"), "call-back")
        .unwrap();
    sim.at(10);
    assert_eq!(
        sim.router
            .join_for(sim.now, call(1), "general", &op("boris")),
        Ok(1)
    );
    // anna is free but not asked: the caller is boris's.
    assert_eq!(rings(&sim.at(20)), vec![]);
    assert_eq!(sim.router.position(call(1)), Some(1));
    sim.router.set_available(sim.now, &op("boris")).unwrap();
    assert_eq!(rings(&sim.at(20)), vec![ring(call(1), &["boris"])]);
    // boris lets it ring out: the caller goes to the queue's rules.
    let a: Vec<Action> = sim.at(40);
    assert_eq!(cancels(&a), vec![(call(1), "boris".to_string())]);
    assert_eq!(rings(&a), vec![ring(call(1), &["anna"])]);
    let answered = sim.answer(41, call(1), "anna");
    assert_eq!(answered.queue, "general");

    // An unknown operator, or a caller already waiting, is refused.
    assert_eq!(
        sim.router
            .join_for(sim.now, call(2), "general", &op("nobody")),
        Err(RouterError::UnknownOperator(op("nobody")))
    );
    sim.join(42, call(3), "general");
    assert_eq!(
        sim.router
            .join_for(sim.now, call(3), "general", &op("boris")),
        Err(RouterError::AlreadyWaiting(call(3)))
    );
}

#[test]
fn a_failure_on_our_side_is_not_held_against_the_operator() {
    let mut sim = Sim::new(&queue("general", "timeout = 15\nretry = 1"));
    sim.log_in(0, "anna", &[("general", 0)]);
    for (n, secs) in [(1, 10), (2, 20), (3, 30)] {
        sim.join(secs, call(n), "general");
        assert_eq!(rings(&sim.at(secs)), vec![ring(call(n), &["anna"])]);
        sim.router
            .rejected(sim.now, call(n), &op("anna"), Rejection::Ours)
            .unwrap();
        sim.router.hang_up(sim.now, call(n)).unwrap();
    }
    assert_eq!(
        sim.state("anna"),
        OperatorState::Available,
        "never auto-paused"
    );
}
