//! The call's machine in simulated time: a menu, a queue, operators'
//! phones ringing and answering, hold, transfers, a dead phone, refusals
//! and every way a call ends, with no socket, engine or database. Ports
//! are plain numbers; SDP bodies are what phones send.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rsip::SipMessage;

use super::machine::*;
use super::{CallEvent, Command};
use crate::events::CallSummary;
use crate::ids::CallId;
use crate::ivr::{self, Clock, Ivr};
use crate::media::Codec;
use crate::queue::{OperatorId, Position, QueueSet, Refusal, Rejection};
use crate::rtp::engine::{MediaEvent, Side};
use crate::rtp::session::MediaParams;
use crate::sdp::{Direction, LocalMedia};
use crate::sip::{LegKey, wire};
use crate::store::{Disposition, EndedBy};

/// A port is its number here.
impl RtpPort for u16 {
    fn port(&self) -> u16 {
        *self
    }
}

/// Greeting, then a menu: 0 → the general queue, 9 → hang up.
const MAIN: &str = r#"
start = "greeting"

[nodes.greeting]
type = "play"
prompt = "greeting"
next = "menu"

[nodes.menu]
type = "menu"
greet-long = "main-menu"
invalid-sound = "invalid"
timeout-sound = "no-input"
timeout = 5000
max-failures = 2
max-timeouts = 2
on-failure = "operator"
keys = { "0" = "operator", "9" = "bye" }

[nodes.operator]
type = "queue"
queue = "general"
prompt = ["please-wait"]

[nodes.bye]
type = "hangup"
prompt = "goodbye"
"#;

struct Sim {
    machine: CallMachine<u16>,
    t0: Instant,
    now: Instant,
    _dir: tempfile::TempDir,
}

fn olena() -> OperatorId {
    OperatorId::new("olena")
}

fn petro() -> OperatorId {
    OperatorId::new("petro")
}

fn leg(n: u32) -> LegKey {
    LegKey::new(format!("leg{n}@hotline"))
}

fn local(port: u16) -> LocalMedia {
    LocalMedia {
        address: "192.0.2.1".parse().unwrap(),
        port,
        session_id: 1,
        version: 1,
    }
}

/// A phone's SDP: PCMA from `port`, `sendrecv` or another direction.
fn phone_sdp(port: u16, direction: &str) -> Vec<u8> {
    format!(
        "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
    )
    .into_bytes()
}

/// A re-INVITE with `body` as an rsip request.
fn reinvite(body: &[u8]) -> Box<rsip::Request> {
    let raw = format!(
        "INVITE sip:hotline@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK9\r\n\
         From: <sip:1001@198.51.100.7>;tag=a\r\nTo: <sip:hotline@192.0.2.1>;tag=b\r\n\
         Call-ID: x\r\nCSeq: 2 INVITE\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut bytes = raw.into_bytes();
    bytes.extend_from_slice(body);
    match wire::parse(&bytes).unwrap() {
        SipMessage::Request(r) => Box::new(r),
        _ => unreachable!(),
    }
}

impl Sim {
    fn new(blocked: bool) -> Sim {
        let (dir, script) = crate::ivr::testing::scripts(&[("main.toml", MAIN)]);
        let script = script.expect("the menu loads");
        let t0 = Instant::now();
        let machine = CallMachine::new(Setup {
            id: CallId::random(),
            ivr: Ivr::new(Arc::new(script)),
            params: MediaParams {
                codec: Codec::Pcmu,
                dtmf_payload_type: Some(101),
                remote: Some("198.51.100.9:4000".parse().unwrap()),
                direction: Direction::SendRecv,
            },
            local: local(20000),
            blocked,
            summary: CallSummary {
                ivr_path: Vec::new(),
                caller: "+380611234567".into(),
                caller_e164: Some("+380611234567".into()),
                sip_call_id: "abc@198.51.100.9".into(),
            },
            queues: Arc::new(
                QueueSet::parse("[[queue]]\nname = \"general\"\n[[queue]]\nname = \"emergency\"\n")
                    .expect("two queues"),
            ),
        });
        Sim {
            machine,
            t0,
            now: t0,
            _dir: dir,
        }
    }

    fn clock(&self) -> Clock {
        let wall = NaiveDate::from_ymd_opt(2026, 12, 4)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        Clock {
            now: self.now,
            wall: wall + chrono::Duration::from_std(self.now - self.t0).unwrap(),
        }
    }

    fn start(&mut self) -> Vec<Action<u16>> {
        let clock = self.clock();
        self.machine.start(clock)
    }

    fn input(&mut self, input: Input<u16>) -> Vec<Action<u16>> {
        let clock = self.clock();
        self.machine.handle(clock, input)
    }

    fn sip(&mut self, event: CallEvent) -> Vec<Action<u16>> {
        self.input(Input::Sip(event))
    }

    fn media(&mut self, event: MediaEvent) -> Vec<Action<u16>> {
        self.input(Input::Media(event))
    }

    fn queue(&mut self, message: FromQueue<u16>) -> Vec<Action<u16>> {
        self.input(Input::Queue(message))
    }

    /// Moves the clock to the machine's next deadline and fires it.
    fn timeout(&mut self) -> Vec<Action<u16>> {
        self.now = self.machine.poll_timeout().expect("a deadline");
        let clock = self.clock();
        self.machine.handle_timeout(clock)
    }

    /// Menu → 0 → queued in "general".
    fn queued(&mut self) {
        self.start();
        self.media(MediaEvent::PlaybackDone);
        let actions = self.media(MediaEvent::Digit('0'));
        assert!(
            actions.iter().any(|a| matches!(a,
                Action::Queue(QueueAction::Join { queue, .. }) if queue == "general")),
            "{actions:?}"
        );
        assert_eq!(self.machine.phase(), Phase::Queued);
    }

    fn offer(&mut self, operator: OperatorId, port: u16) -> Vec<Action<u16>> {
        self.queue(FromQueue::Offer {
            operator,
            extension: "1001".into(),
            media: Some((port, local(port))),
        })
    }

    /// `operator`'s phone answers on leg `n`, sending RTP from `port`.
    fn answers(&mut self, operator: OperatorId, n: u32, port: u16) -> Vec<Action<u16>> {
        self.sip(CallEvent::OperatorAnswered {
            operator,
            leg: leg(n),
            body: phone_sdp(port, "sendrecv"),
        })
    }

    /// Queued, olena's phone rings on port 30000 and answers on leg 1.
    fn bridged(&mut self) {
        self.queued();
        self.offer(olena(), 30000);
        let actions = self.answers(olena(), 1, 7000);
        assert_eq!(
            queue_actions(&actions),
            [QueueAction::ConfirmAnswer { operator: olena() }]
        );
        let actions = self.machine.answer_confirmed(true);
        assert!(
            actions
                .iter()
                .any(|a| matches!(a, Action::Media(MediaAction::Bridge { port: 30000, .. }))),
            "{actions:?}"
        );
        assert_eq!(self.machine.phase(), Phase::Bridged);
    }
}

fn queue_actions(actions: &[Action<u16>]) -> Vec<QueueAction> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Queue(q) => Some(without_summary(q.clone())),
            _ => None,
        })
        .collect()
}

/// Queue actions compared without the card's summary.
fn without_summary(action: QueueAction) -> QueueAction {
    match action {
        QueueAction::Join { queue, .. } => QueueAction::Join {
            queue,
            summary: CallSummary::default(),
        },
        QueueAction::TransferToExtension {
            queue,
            from,
            extension,
            ..
        } => QueueAction::TransferToExtension {
            queue,
            from,
            extension,
            summary: CallSummary::default(),
        },
        other => other,
    }
}

fn logs(actions: &[Action<u16>]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Log { kind, detail } if detail.is_empty() => Some(kind.to_string()),
            Action::Log { kind, detail } => Some(format!("{kind} {detail}")),
            _ => None,
        })
        .collect()
}

fn played(actions: &[Action<u16>]) -> Vec<Vec<String>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Media(MediaAction::Play(p)) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn ending(actions: &[Action<u16>]) -> Option<Ending> {
    actions.iter().find_map(|a| match a {
        Action::End(e) => Some(*e),
        _ => None,
    })
}

fn sip(actions: &[Action<u16>]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Sip(Command::Ring(r)) => Some(format!("ring {} {}", r.operator, r.extension)),
            Action::Sip(Command::CancelRing { operator, .. }) => Some(format!("cancel {operator}")),
            Action::Sip(Command::EndLeg { leg }) => Some(format!("end {leg}")),
            Action::Sip(Command::NotifyTransfer { code, .. }) => Some(format!("notify {code}")),
            Action::Sip(Command::RespondLegReInvite { code, .. }) => {
                Some(format!("leg reinvite {code}"))
            }
            Action::Sip(Command::RespondReInvite { code, .. }) => Some(format!("reinvite {code}")),
            Action::Sip(other) => Some(format!("{other:?}")),
            _ => None,
        })
        .collect()
}

#[test]
fn the_menu_greets_steps_are_kept_for_the_card_and_nine_hangs_up() {
    let mut sim = Sim::new(false);
    let actions = sim.start();
    assert_eq!(played(&actions), [vec!["greeting".to_string()]]);
    assert_eq!(logs(&actions), ["ivr main:greeting enter"]);
    assert_eq!(sim.machine.phase(), Phase::Menu);
    let actions = sim.media(MediaEvent::PlaybackDone);
    assert_eq!(played(&actions), [vec!["main-menu".to_string()]]);
    let actions = sim.media(MediaEvent::Digit('9'));
    assert_eq!(logs(&actions)[0], "dtmf 9");
    let end = ending(&sim.media(MediaEvent::PlaybackDone)).expect("the call ends");
    assert_eq!(
        (end.by, end.disposition, end.hang_up),
        (EndedBy::Server, Disposition::Answered, true)
    );
    let path = sim.machine.summary().ivr_path;
    assert_eq!(
        path.first().map(String::as_str),
        Some("main:greeting enter")
    );
    assert!(path.iter().any(|s| s.starts_with("main:bye")), "{path:?}");
}

#[test]
fn a_silent_caller_is_asked_again_then_queued_by_the_menus_timeouts() {
    let mut sim = Sim::new(false);
    sim.start();
    sim.media(MediaEvent::PlaybackDone);
    sim.media(MediaEvent::PlaybackDone);
    let t = sim.timeout();
    assert_eq!(sim.now - sim.t0, Duration::from_millis(5000));
    assert!(
        played(&t).iter().flatten().any(|p| p == "no-input"),
        "{t:?}"
    );
    sim.media(MediaEvent::PlaybackDone);
    sim.media(MediaEvent::PlaybackDone);
    let t = sim.timeout();
    assert!(
        queue_actions(&t).contains(&QueueAction::Join {
            queue: "general".into(),
            summary: CallSummary::default()
        }),
        "two timeouts: on-failure is the operator's queue {t:?}"
    );
}

#[test]
fn a_queued_caller_rings_an_operator_who_answers_and_is_bridged() {
    let mut sim = Sim::new(false);
    sim.queued();
    let actions = sim.queue(FromQueue::Joined { position: 1 });
    assert_eq!(logs(&actions), ["queue-joined 1"]);
    let actions = sim.offer(olena(), 30000);
    assert_eq!(sip(&actions), ["ring olena 1001"]);
    let Some(Action::Sip(Command::Ring(ring))) = actions.first() else {
        panic!("{actions:?}")
    };
    assert_eq!(ring.caller, "+380611234567", "the phone shows the caller");
    assert_eq!(ring.display.as_deref(), Some("general"));
    let offer = String::from_utf8(ring.sdp.clone()).unwrap();
    assert!(offer.contains("m=audio 30000 "), "{offer}");
    let actions = sim.sip(CallEvent::OperatorRinging { operator: olena() });
    assert_eq!(logs(&actions), ["operator-ringing olena"]);
    let actions = sim.answers(olena(), 1, 7000);
    assert_eq!(
        queue_actions(&actions),
        [QueueAction::ConfirmAnswer { operator: olena() }]
    );
    let actions = sim.machine.answer_confirmed(true);
    assert_eq!(logs(&actions), ["operator-answered olena PCMA"]);
    assert_eq!(sim.machine.phase(), Phase::Bridged);
    assert!(!sim.machine.listens_to_queue());
    // While bridged, the caller's keys go to the operator's side.
    let actions = sim.media(MediaEvent::Digit('5'));
    assert!(
        matches!(
            actions.last(),
            Some(Action::Media(MediaAction::Digit(Side::Operator, '5')))
        ),
        "{actions:?}"
    );
    // The music on hold loops without ending anything.
    assert!(sim.media(MediaEvent::PlaybackDone).is_empty());
}

#[test]
fn the_first_of_two_operators_to_answer_takes_the_call() {
    let mut sim = Sim::new(false);
    sim.queued();
    sim.offer(olena(), 30000);
    sim.offer(petro(), 30002);
    sim.answers(petro(), 2, 7000);
    let actions = sim.machine.answer_confirmed(true);
    assert_eq!(sip(&actions), ["cancel olena"], "the other phone stops");
    // Olena's phone answering late is hung up.
    let late = sim.answers(olena(), 1, 7002);
    assert_eq!(sip(&late), [format!("end {}", leg(1))]);
    assert!(queue_actions(&late).is_empty());
}

#[test]
fn an_offer_the_service_took_back_ends_the_phones_leg_and_the_caller_waits_on() {
    let mut sim = Sim::new(false);
    sim.queued();
    sim.offer(olena(), 30000);
    sim.answers(olena(), 1, 7000);
    let actions = sim.machine.answer_confirmed(false);
    assert_eq!(sip(&actions), [format!("end {}", leg(1))]);
    assert_eq!(sim.machine.phase(), Phase::Queued);
    assert!(sim.machine.listens_to_queue());
}

#[test]
fn a_phone_that_answers_without_usable_media_has_not_taken_the_call() {
    let mut sim = Sim::new(false);
    sim.queued();
    sim.offer(olena(), 30000);
    let actions = sim.sip(CallEvent::OperatorAnswered {
        operator: olena(),
        leg: leg(1),
        body: b"v=0\r\n".to_vec(),
    });
    assert_eq!(sip(&actions), [format!("end {}", leg(1))]);
    assert_eq!(
        queue_actions(&actions),
        [QueueAction::Rejected {
            operator: olena(),
            why: Rejection::Unreachable
        }]
    );
    assert_eq!(sim.machine.phase(), Phase::Queued);
}

#[test]
fn failed_and_withdrawn_rings_and_offers_without_a_port() {
    let mut sim = Sim::new(false);
    sim.queued();
    sim.offer(olena(), 30000);
    let actions = sim.sip(CallEvent::OperatorFailed {
        operator: olena(),
        code: 486,
    });
    assert_eq!(logs(&actions), ["operator-failed olena 486"]);
    assert_eq!(
        queue_actions(&actions),
        [QueueAction::Rejected {
            operator: olena(),
            why: Rejection::Busy
        }]
    );
    // A failure after the service withdrew the offer is its own cancel.
    sim.offer(petro(), 30002);
    let actions = sim.queue(FromQueue::CancelRing { operator: petro() });
    assert_eq!(sip(&actions), ["cancel petro"]);
    let actions = sim.sip(CallEvent::OperatorFailed {
        operator: petro(),
        code: 487,
    });
    assert!(actions.is_empty(), "{actions:?}");
    let actions = sim.queue(FromQueue::Offer {
        operator: olena(),
        extension: "1001".into(),
        media: None,
    });
    assert!(sip(&actions).is_empty());
    assert_eq!(
        queue_actions(&actions),
        [QueueAction::Rejected {
            operator: olena(),
            why: Rejection::Unreachable
        }]
    );
}

#[test]
fn the_operator_holds_and_resumes_and_the_caller_hears_music_meanwhile() {
    let mut sim = Sim::new(false);
    sim.bridged();
    let actions = sim.sip(CallEvent::OperatorReInvite {
        leg: leg(1),
        request: reinvite(&phone_sdp(7000, "sendonly")),
    });
    assert_eq!(logs(&actions), ["operator-hold olena"]);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Media(MediaAction::Hold(true))))
    );
    assert_eq!(sip(&actions), ["leg reinvite 200"]);
    assert_eq!(sim.machine.operator(), Some((&olena(), true)));
    // A held phone is silent: that is no reason to take the caller back.
    assert!(logs(&sim.media(MediaEvent::OperatorSilent)).is_empty());
    let actions = sim.sip(CallEvent::OperatorReInvite {
        leg: leg(1),
        request: reinvite(&phone_sdp(7000, "sendrecv")),
    });
    assert_eq!(logs(&actions), ["operator-resume olena"]);
    assert_eq!(sim.machine.operator(), Some((&olena(), false)));
    // A re-INVITE on another leg is not ours.
    let actions = sim.sip(CallEvent::OperatorReInvite {
        leg: leg(9),
        request: reinvite(&phone_sdp(7000, "sendonly")),
    });
    assert_eq!(sip(&actions), ["leg reinvite 481"]);
}

#[test]
fn the_callers_own_hold_is_answered_and_on_file() {
    let mut sim = Sim::new(false);
    sim.start();
    let actions = sim.sip(CallEvent::ReInvite {
        request: reinvite(&phone_sdp(4000, "sendonly")),
    });
    assert_eq!(logs(&actions), ["hold"]);
    assert_eq!(sip(&actions), ["reinvite 200"]);
    assert_eq!(sim.machine.caller_params().direction, Direction::RecvOnly);
    // An offer with no codec of ours: 488, and the session stays.
    let g729 = String::from_utf8(phone_sdp(4000, "sendrecv"))
        .unwrap()
        .replace("RTP/AVP 8 101", "RTP/AVP 18")
        .replace("a=rtpmap:8 PCMA/8000\r\n", "");
    let actions = sim.sip(CallEvent::ReInvite {
        request: reinvite(g729.as_bytes()),
    });
    assert_eq!(sip(&actions), ["reinvite 488"]);
    assert!(logs(&actions).is_empty());
    assert_eq!(sim.machine.caller_params().direction, Direction::RecvOnly);
}

#[test]
fn a_transfer_to_a_queue_puts_the_caller_there() {
    let mut sim = Sim::new(false);
    sim.bridged();
    let actions = sim.sip(CallEvent::OperatorTransfer {
        leg: leg(1),
        target: "sip:emergency@192.0.2.1".into(),
    });
    assert_eq!(
        queue_actions(&actions),
        [
            QueueAction::Transferred {
                queue: "general".into(),
                from: olena(),
                target: "emergency".into()
            },
            QueueAction::Join {
                queue: "emergency".into(),
                summary: CallSummary::default()
            },
            QueueAction::ConversationEnded { operator: olena() },
        ]
    );
    assert_eq!(sip(&actions), ["notify 200", &format!("end {}", leg(1))]);
    assert_eq!(logs(&actions), ["transferred olena emergency"]);
    assert_eq!(played(&actions), [vec!["transfer-operator".to_string()]]);
    assert_eq!(sim.machine.phase(), Phase::Queued);
}

#[test]
fn a_transfer_to_an_extension_waits_for_the_service_and_may_be_refused() {
    let mut sim = Sim::new(false);
    sim.bridged();
    let actions = sim.sip(CallEvent::OperatorTransfer {
        leg: leg(1),
        target: "sip:1002@192.0.2.1".into(),
    });
    assert_eq!(
        queue_actions(&actions),
        [QueueAction::TransferToExtension {
            queue: "general".into(),
            from: olena(),
            extension: "1002".into(),
            summary: CallSummary::default()
        }]
    );
    let refused = sim.machine.extension_transfer(false);
    assert_eq!(sip(&refused), ["notify 480"]);
    assert_eq!(
        sim.machine.phase(),
        Phase::Bridged,
        "the conversation goes on"
    );

    sim.sip(CallEvent::OperatorTransfer {
        leg: leg(1),
        target: "sip:1002@192.0.2.1".into(),
    });
    let done = sim.machine.extension_transfer(true);
    assert_eq!(sip(&done), ["notify 200", &format!("end {}", leg(1))]);
    assert_eq!(sim.machine.phase(), Phase::Queued);
    // It waits in the queue it came from.
    let finish = sim.machine.finish(EndedBy::Caller);
    assert_eq!(logs(&finish), ["queue-left general"]);

    let mut sim = Sim::new(false);
    sim.bridged();
    let actions = sim.sip(CallEvent::OperatorTransfer {
        leg: leg(1),
        target: "sip:nowhere@192.0.2.1".into(),
    });
    assert_eq!(sip(&actions), ["notify 404"]);
    let actions = sim.sip(CallEvent::OperatorTransfer {
        leg: leg(7),
        target: "sip:emergency@192.0.2.1".into(),
    });
    assert_eq!(sip(&actions), ["notify 481"]);
}

#[test]
fn a_dead_operator_phone_sends_the_caller_back_to_the_queue() {
    let mut sim = Sim::new(false);
    sim.bridged();
    let actions = sim.media(MediaEvent::OperatorSilent);
    assert_eq!(logs(&actions), ["operator-lost olena"]);
    assert_eq!(
        queue_actions(&actions),
        [
            QueueAction::ConversationEnded { operator: olena() },
            QueueAction::Join {
                queue: "general".into(),
                summary: CallSummary::default()
            },
        ]
    );
    assert_eq!(sim.machine.phase(), Phase::Queued);
    // The summary that goes with the join still tells the whole path.
    let Some(Action::Queue(QueueAction::Join { summary, .. })) = actions.last() else {
        panic!("{actions:?}")
    };
    assert!(summary.ivr_path.len() >= 3, "{:?}", summary.ivr_path);
    assert_eq!(summary.sip_call_id, "abc@198.51.100.9");
}

#[test]
fn a_refusing_queue_says_goodbye_and_the_call_ends_after_it() {
    let mut sim = Sim::new(false);
    sim.queued();
    let actions = sim.queue(FromQueue::Refused {
        reason: Refusal::NoOperators,
    });
    assert_eq!(logs(&actions), ["queue-refused no-operators"]);
    assert_eq!(
        played(&actions),
        [vec!["queue/unavailable".to_string(), "goodbye".to_string()]]
    );
    assert_eq!(sim.machine.phase(), Phase::Closing);
    assert!(
        ending(&sim.media(MediaEvent::Digit('0'))).is_none(),
        "keys do nothing now"
    );
    let end = ending(&sim.media(MediaEvent::PlaybackDone)).expect("ends");
    assert_eq!((end.by, end.hang_up), (EndedBy::Server, true));
    assert!(
        sim.machine.finish(end.by).is_empty(),
        "nothing left to undo"
    );
}

#[test]
fn announcements_say_the_place_and_the_wait() {
    let mut sim = Sim::new(false);
    sim.queued();
    let actions = sim.queue(FromQueue::Announce {
        position: Some(Position::Exact(3)),
        expected_wait: Duration::from_secs(130),
    });
    assert_eq!(logs(&actions), ["queue-announce position 3 wait 3 min"]);
    assert_eq!(
        played(&actions),
        [announcement(
            Some(Position::Exact(3)),
            Duration::from_secs(130)
        )]
    );
    let actions = sim.queue(FromQueue::Periodic {
        prompt: "queue/thanks".into(),
    });
    assert_eq!(played(&actions), [vec!["queue/thanks".to_string()]]);
}

#[test]
fn a_caller_who_hangs_up_while_waiting_abandons_and_ringing_phones_stop() {
    let mut sim = Sim::new(false);
    sim.queued();
    sim.offer(olena(), 30000);
    let end = ending(&sim.sip(CallEvent::RemoteHangup)).expect("ends");
    assert_eq!(
        (end.by, end.disposition, end.hang_up),
        (EndedBy::Caller, Disposition::Answered, false)
    );
    let finish = sim.machine.finish(end.by);
    assert_eq!(sip(&finish), ["cancel olena"]);
    assert_eq!(
        queue_actions(&finish),
        [QueueAction::HangUp { abandoned: true }]
    );

    // The server ending it is not the caller abandoning; a queue the
    // service closed is not left again.
    let mut sim = Sim::new(false);
    sim.queued();
    sim.queue(FromQueue::Closed);
    assert!(!sim.machine.listens_to_queue());
    let end = ending(&sim.sip(CallEvent::Shutdown)).expect("ends");
    assert_eq!((end.by, end.hang_up), (EndedBy::Shutdown, true));
    assert!(queue_actions(&sim.machine.finish(end.by)).is_empty());
}

#[test]
fn every_way_a_bridged_call_ends_releases_the_operator() {
    for (event, by, disposition, hang_up) in [
        (
            Input::Sip(CallEvent::RemoteHangup),
            EndedBy::Caller,
            Disposition::Answered,
            false,
        ),
        (
            Input::Sip(CallEvent::OperatorHungUp { leg: leg(1) }),
            EndedBy::Operator,
            Disposition::Answered,
            true,
        ),
        (
            Input::Media(MediaEvent::CallerSilent),
            EndedBy::Timeout,
            Disposition::MediaTimeout,
            true,
        ),
        (
            Input::EndFromConsole,
            EndedBy::Server,
            Disposition::Answered,
            true,
        ),
        (
            Input::Sip(CallEvent::AckTimeout),
            EndedBy::Timeout,
            Disposition::Failed,
            false,
        ),
        (
            Input::Sip(CallEvent::Terminated),
            EndedBy::Server,
            Disposition::Answered,
            false,
        ),
    ] {
        let mut sim = Sim::new(false);
        sim.bridged();
        let actions = sim.input(event);
        let end = ending(&actions).expect("the call ends");
        assert_eq!(
            (end.by, end.disposition, end.hang_up),
            (by, disposition, hang_up)
        );
        let finish = sim.machine.finish(end.by);
        assert_eq!(
            queue_actions(&finish),
            [QueueAction::ConversationEnded { operator: olena() }],
            "{by:?}"
        );
        assert_eq!(sip(&finish), [format!("end {}", leg(1))]);
    }
    // The operator's BYE on a leg that is not the bridge's ends nothing.
    let mut sim = Sim::new(false);
    sim.bridged();
    assert!(ending(&sim.sip(CallEvent::OperatorHungUp { leg: leg(5) })).is_none());
}

#[test]
fn a_blocked_caller_never_reaches_a_queue() {
    let mut sim = Sim::new(true);
    sim.start();
    sim.media(MediaEvent::PlaybackDone);
    let actions = sim.media(MediaEvent::Digit('0'));
    let end = ending(&actions).expect("ends instead of queueing");
    assert_eq!(end.disposition, Disposition::Blocked);
    assert!(queue_actions(&actions).is_empty());
}

#[test]
fn keys_by_sip_info_count_like_rfc4733_ones() {
    let mut sim = Sim::new(false);
    sim.start();
    sim.media(MediaEvent::PlaybackDone);
    let raw = "INFO sip:hotline@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK7\r\n\
               From: <sip:1@198.51.100.7>;tag=a\r\nTo: <sip:hotline@192.0.2.1>;tag=b\r\n\
               Call-ID: x\r\nCSeq: 3 INFO\r\nContent-Type: application/dtmf-relay\r\n\
               Content-Length: 10\r\n\r\nSignal=0\r\n";
    let SipMessage::Request(info) = wire::parse(raw.as_bytes()).unwrap() else {
        unreachable!()
    };
    let actions = sim.sip(CallEvent::Info {
        request: Box::new(info),
    });
    assert_eq!(logs(&actions)[0], "dtmf 0");
    assert_eq!(sim.machine.phase(), Phase::Queued);
}

#[test]
fn lookups_go_out_and_their_answers_come_back_to_the_ivr() {
    // The shipped menu looks up outages at the caller's address first.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ivr-scripts");
    let script = crate::ivr::script::load(&dir, "main", "uk").expect("the shipped menu");
    let mut sim = Sim::new(false);
    sim.machine = CallMachine::new(Setup {
        id: CallId::random(),
        ivr: Ivr::new(Arc::new(script)),
        params: sim.machine.caller_params().clone(),
        local: local(20000),
        blocked: false,
        summary: CallSummary::default(),
        queues: Arc::new(QueueSet::parse("[[queue]]\nname = \"general\"\n").expect("a queue")),
    });
    sim.start();
    let actions = sim.media(MediaEvent::PlaybackDone);
    assert!(
        actions.iter().any(|a| matches!(
            a,
            Action::Lookup(Lookup::Outages {
                at_caller_address: true
            })
        )),
        "{actions:?}"
    );
    let actions = sim.input(Input::Ivr(ivr::Input::Outages(Vec::new())));
    assert!(
        !played(&actions).is_empty(),
        "no outages: on to the menu {actions:?}"
    );
}

mod monitoring {
    use super::*;
    use crate::call::monitor::{MonitorRefusal, MonitorRequest, Monitoring, Supervisor};
    use crate::rtp::engine::MonitorMode;

    fn sveta() -> Supervisor {
        Supervisor {
            login: "sveta".into(),
            extension: "1090".into(),
        }
    }

    fn start(mode: MonitorMode) -> MonitorRequest {
        MonitorRequest::Start {
            supervisor: sveta(),
            mode,
        }
    }

    fn states(actions: &[Action<u16>]) -> Vec<(String, Monitoring)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Monitored { supervisor, state } => Some((supervisor.clone(), *state)),
                _ => None,
            })
            .collect()
    }

    /// Bridged, and sveta's phone (leg 9, port 31000) answered in `mode`.
    fn joined(sim: &mut Sim, mode: MonitorMode) {
        sim.bridged();
        let actions = sim
            .machine
            .monitor(start(mode), Some((31000, local(31000))))
            .expect("accepted");
        let dial = actions.iter().find_map(|a| match a {
            Action::DialMonitor {
                extension,
                caller,
                sdp,
            } => Some((extension.clone(), caller.clone(), sdp.clone())),
            _ => None,
        });
        let (extension, caller, sdp) = dial.expect("the supervisor's phone is rung");
        assert_eq!(
            (extension.as_str(), caller.as_str()),
            ("1090", "+380611234567")
        );
        assert!(String::from_utf8(sdp).unwrap().contains("m=audio 31000 "));
        assert!(
            states(&actions).is_empty(),
            "ringing once the leg is placed"
        );
        let placed = sim.machine.monitor_dialled(Some(leg(9)));
        assert_eq!(states(&placed), [("sveta".into(), Monitoring::Ringing)]);
        let actions = sim.input(Input::MonitorLeg(CallEvent::Answered {
            body: phone_sdp(7090, "sendrecv"),
        }));
        assert!(
            actions.iter().any(|a| matches!(a,
                Action::Media(MediaAction::Monitor { port: 31000, mode: m, params })
                    if *m == mode && params.remote == Some("198.51.100.7:7090".parse().unwrap()))),
            "{actions:?}"
        );
        assert_eq!(
            logs(&actions),
            [format!("monitor-joined sveta {}", mode.as_str())]
        );
        assert_eq!(sim.machine.monitored_by(), Some("sveta"));
    }

    #[test]
    fn only_a_conversation_is_monitored_and_by_one_supervisor_at_a_time() {
        let mut sim = Sim::new(false);
        sim.queued();
        assert_eq!(
            sim.machine
                .monitor(start(MonitorMode::Listen), Some((31000, local(31000))))
                .unwrap_err(),
            MonitorRefusal::NotTalking
        );
        let mut sim = Sim::new(false);
        sim.bridged();
        assert_eq!(
            sim.machine
                .monitor(start(MonitorMode::Listen), None)
                .unwrap_err(),
            MonitorRefusal::NoPort
        );
        let stop = MonitorRequest::Stop { by: "sveta".into() };
        assert_eq!(
            sim.machine.monitor(stop, None).unwrap_err(),
            MonitorRefusal::NotMonitored
        );
        sim.machine
            .monitor(start(MonitorMode::Listen), Some((31000, local(31000))))
            .unwrap();
        let other = MonitorRequest::Start {
            supervisor: Supervisor {
                login: "ivan".into(),
                extension: "1091".into(),
            },
            mode: MonitorMode::Barge,
        };
        assert_eq!(
            sim.machine
                .monitor(other, Some((31002, local(31002))))
                .unwrap_err(),
            MonitorRefusal::Taken { by: "sveta".into() }
        );
        for request in [
            MonitorRequest::Mode {
                by: "ivan".into(),
                mode: MonitorMode::Barge,
            },
            MonitorRequest::Stop { by: "ivan".into() },
        ] {
            assert_eq!(
                sim.machine.monitor(request, None).unwrap_err(),
                MonitorRefusal::NotYours { by: "sveta".into() }
            );
        }
    }

    #[test]
    fn a_supervisor_without_a_registered_phone_or_who_declines_is_not_joined() {
        let mut sim = Sim::new(false);
        sim.bridged();
        sim.machine
            .monitor(start(MonitorMode::Listen), Some((31000, local(31000))))
            .unwrap();
        let actions = sim.machine.monitor_dialled(None);
        assert_eq!(logs(&actions), ["monitor-failed sveta 480"]);
        assert_eq!(states(&actions), [("sveta".into(), Monitoring::Ended)]);
        assert_eq!(sim.machine.monitored_by(), None);

        sim.machine
            .monitor(start(MonitorMode::Listen), Some((31000, local(31000))))
            .unwrap();
        sim.machine.monitor_dialled(Some(leg(9)));
        let actions = sim.input(Input::MonitorLeg(CallEvent::Failed { code: 486 }));
        assert_eq!(logs(&actions), ["monitor-failed sveta 486"]);
        assert_eq!(sim.machine.monitored_by(), None);
        assert_eq!(
            sim.machine.phase(),
            Phase::Bridged,
            "the conversation goes on"
        );
    }

    #[test]
    fn the_supervisor_switches_mode_then_hangs_up_from_the_console() {
        let mut sim = Sim::new(false);
        joined(&mut sim, MonitorMode::Listen);
        let whisper = MonitorRequest::Mode {
            by: "sveta".into(),
            mode: MonitorMode::Whisper,
        };
        let actions = sim.machine.monitor(whisper, None).unwrap();
        assert!(matches!(
            actions.as_slice(),
            [
                Action::Media(MediaAction::MonitorMode(MonitorMode::Whisper)),
                ..
            ]
        ));
        assert_eq!(logs(&actions), ["monitor-mode sveta whisper"]);
        assert_eq!(
            states(&actions),
            [("sveta".into(), Monitoring::Joined(MonitorMode::Whisper))]
        );
        let actions = sim
            .machine
            .monitor(MonitorRequest::Stop { by: "sveta".into() }, None)
            .unwrap();
        assert!(matches!(
            actions.first(),
            Some(Action::Media(MediaAction::Unmonitor))
        ));
        assert_eq!(sip(&actions), ["end leg9@hotline"]);
        assert_eq!(logs(&actions), ["monitor-ended sveta"]);
        assert_eq!(sim.machine.monitored_by(), None);
        assert_eq!(sim.machine.phase(), Phase::Bridged);
    }

    #[test]
    fn the_supervisors_phone_hanging_up_or_going_silent_ends_only_their_leg() {
        let mut sim = Sim::new(false);
        joined(&mut sim, MonitorMode::Barge);
        let actions = sim.input(Input::MonitorLeg(CallEvent::RemoteHangup));
        assert!(
            sip(&actions).is_empty(),
            "their BYE ended the leg: {actions:?}"
        );
        assert_eq!(logs(&actions), ["monitor-ended sveta"]);
        assert_eq!(sim.machine.phase(), Phase::Bridged);

        sim.machine
            .monitor(start(MonitorMode::Listen), Some((31002, local(31002))))
            .unwrap();
        sim.machine.monitor_dialled(Some(leg(10)));
        sim.input(Input::MonitorLeg(CallEvent::Answered {
            body: phone_sdp(7092, "sendrecv"),
        }));
        let actions = sim.media(MediaEvent::MonitorSilent);
        assert_eq!(sip(&actions), ["end leg10@hotline"]);
        assert_eq!(logs(&actions), ["monitor-lost sveta"]);
        assert!(ending(&actions).is_none(), "the call goes on");
    }

    #[test]
    fn the_conversation_ending_ends_the_monitoring_first() {
        // The operator's phone dies: the caller goes back to the queue and
        // the supervisor is not left alone with them.
        let mut sim = Sim::new(false);
        joined(&mut sim, MonitorMode::Listen);
        let actions = sim.media(MediaEvent::OperatorSilent);
        let media: Vec<String> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Media(MediaAction::Unmonitor) => Some("unmonitor".into()),
                Action::Media(MediaAction::Unbridge) => Some("unbridge".into()),
                _ => None,
            })
            .collect();
        assert_eq!(media, ["unmonitor", "unbridge"]);
        assert_eq!(sip(&actions), ["end leg9@hotline", "end leg1@hotline"]);
        assert_eq!(
            logs(&actions),
            ["monitor-ended sveta", "operator-lost olena"]
        );
        assert_eq!(sim.machine.monitored_by(), None);

        // The call's end: the same, from finish.
        let mut sim = Sim::new(false);
        joined(&mut sim, MonitorMode::Whisper);
        let actions = sim.sip(CallEvent::RemoteHangup);
        assert!(ending(&actions).is_some());
        let actions = sim.machine.finish(EndedBy::Caller);
        assert_eq!(sip(&actions)[0], "end leg9@hotline");
        assert_eq!(logs(&actions), ["monitor-ended sveta"]);
    }
}
