//! The life of an answered call as plain code: its phases and what every
//! input does in each, returned as [`Action`]s for the call's task to carry
//! out. No socket, no clock, no database: the task feeds it the SIP core's
//! events, the media engine's, the queue service's messages and the IVR's
//! lookups, with the time; it tells the task what to send, play, store and
//! ask. Tested in simulated time (`machine_tests.rs`), like the
//! router and the IVR.
//!
//! The phases ([`Phase`]):
//!
//! ```text
//!   Menu ──IVR queue node──▶ Queued ──operator answers──▶ Bridged
//!     │                      │  ▲  ▲                        │  │ hold/resume
//!     │                      │  │  └─operator's phone dies──┘  │
//!     │                      │  └──transfer to a queue or an extension
//!     │                      │
//!     └──────────────────────┴──queue refuses──▶ Closing ──prompt over──▶ end
//! ```
//!
//! The caller hanging up, the server stopping, a media timeout or the
//! console's "end call" end the call from any phase ([`Action::End`]);
//! [`CallMachine::finish`] then says what is left to undo (phones still
//! ringing, the queue's place, the operator's leg).
//!
//! The IVR's own machine ([`Ivr`]) runs inside: it has the caller in the
//! menu and, with the queue's prompts, while they wait.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rsip::Request;
use tracing::{debug, info, warn};

use super::monitor::{Monitor, MonitorRefusal, MonitorRequest, Monitoring};
use super::{CODECS, CallEvent, Command, RingRequest};
use crate::events::CallSummary;
use crate::ids::CallId;
use crate::ivr::{self, Clock, Ivr};
use crate::media::Codec;
use crate::queue::{OperatorId, Position, QueueSet, Refusal, Rejection};
use crate::rtp::engine::{MediaEvent, MonitorMode, Side};
use crate::rtp::session::MediaParams;
use crate::sdp::{self, LocalMedia, SessionDescription};
use crate::sip::{LegKey, msg};
use crate::store::{Disposition, EndedBy};

/// What the caller hears while the operator holds them.
pub const HOLD_MUSIC: &str = "hold-music";

/// An RTP port the task allocated for a leg to an operator's phone. The
/// machine only holds it and hands it back (to the media engine, or to be
/// dropped, which frees it).
pub trait RtpPort {
    fn port(&self) -> u16;
}

/// How a call ended, for its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ending {
    pub by: EndedBy,
    pub disposition: Disposition,
    pub status: Option<u16>,
    /// Our BYE must be sent.
    pub hang_up: bool,
}

impl Ending {
    /// Our 2xx was never acknowledged: the call never began (the caller's
    /// side never confirmed it), so nothing of it is worth keeping.
    pub fn never_confirmed(&self) -> bool {
        self.by == EndedBy::Timeout && self.disposition == Disposition::Failed
    }

    /// Answered, ended by `by`; `hang_up`: we send the BYE.
    fn answered(by: EndedBy, disposition: Disposition, hang_up: bool) -> Ending {
        Ending {
            by,
            disposition,
            status: Some(200),
            hang_up,
        }
    }
}

/// What the task must do.
#[derive(Debug)]
pub enum Action<P> {
    /// Ask the SIP core.
    Sip(Command),
    /// Steer the call's media in the engine.
    Media(MediaAction<P>),
    /// Tell or ask the queue service.
    Queue(QueueAction),
    /// Look something up for the IVR; the answer comes back as
    /// [`Input::Ivr`].
    Lookup(Lookup),
    /// A step of the call, on file (`call_events`).
    Log { kind: &'static str, detail: String },
    /// The call is over; then [`CallMachine::finish`].
    End(Ending),
    /// Ring the supervisor's phone (their extension's registered contact)
    /// with this SDP offer, showing the caller: the leg's key goes to
    /// [`CallMachine::monitor_dialled`] before any other input, its events
    /// come as [`Input::MonitorLeg`].
    DialMonitor {
        extension: String,
        caller: String,
        sdp: Vec<u8>,
    },
    /// The monitoring of the call changed, for the live views.
    Monitored {
        supervisor: String,
        state: Monitoring,
    },
}

/// What the media engine must do.
#[derive(Debug)]
pub enum MediaAction<P> {
    /// Play these prompts (by name) now, instead of whatever plays.
    Play(Vec<String>),
    StopPlayback,
    /// Send a key on one side.
    Digit(Side, char),
    /// One side's session changed.
    Update(Side, MediaParams),
    /// The operator answered: their stream starts on `port`; the music on
    /// hold is [`HOLD_MUSIC`].
    Bridge {
        params: MediaParams,
        port: P,
    },
    /// The operator holds (music on hold) or resumes.
    Hold(bool),
    /// The operator's leg is over.
    Unbridge,
    /// The supervisor's phone answered: it joins on `port` as `mode` says.
    Monitor {
        params: MediaParams,
        port: P,
        mode: MonitorMode,
    },
    /// The supervisor switches mode.
    MonitorMode(MonitorMode),
    /// The supervisor's leg is over.
    Unmonitor,
}

/// What the queue service must hear or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueAction {
    /// The caller enters `queue`; the service's messages come back as
    /// [`Input::Queue`] on a channel made for this join.
    Join { queue: String, summary: CallSummary },
    /// An offer failed: count it against the operator as `why` says.
    Rejected {
        operator: OperatorId,
        why: Rejection,
    },
    /// The operator's phone answered: is the offer still theirs? Answer
    /// with [`CallMachine::answer_confirmed`] before any other input.
    ConfirmAnswer { operator: OperatorId },
    /// `from` transferred the caller out of `queue` to the queue `target`
    /// (a [`QueueAction::Join`] follows).
    Transferred {
        queue: String,
        from: OperatorId,
        target: String,
    },
    /// `from` transfers the caller to a colleague's extension: they wait
    /// in `queue` for that operator alone (on a new channel, as a join).
    /// Answer with [`CallMachine::extension_transfer`] before any other
    /// input.
    TransferToExtension {
        queue: String,
        from: OperatorId,
        extension: String,
        summary: CallSummary,
    },
    /// The caller left the queue before an operator took them (hung up:
    /// `abandoned`; else the server ended the call).
    HangUp { abandoned: bool },
    /// The conversation with the operator is over: their wrap-up starts.
    ConversationEnded { operator: OperatorId },
}

/// What the IVR asked to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Appeal { number: String },
    Outages { at_caller_address: bool },
}

/// What the queue service says, with an offer's port already allocated
/// by the task.
#[derive(Debug)]
pub enum FromQueue<P> {
    Joined {
        position: usize,
    },
    Refused {
        reason: Refusal,
    },
    /// Ring this operator: `media` is the port allocated for their leg and
    /// our side of its SDP, `None` if no port was free.
    Offer {
        operator: OperatorId,
        extension: String,
        media: Option<(P, LocalMedia)>,
    },
    CancelRing {
        operator: OperatorId,
    },
    Announce {
        position: Option<Position>,
        expected_wait: Duration,
    },
    Periodic {
        prompt: String,
    },
    /// The service has nothing more to say on this join's channel.
    Closed,
}

/// Everything that can happen to an answered call.
#[derive(Debug)]
pub enum Input<P> {
    /// From the SIP core.
    Sip(CallEvent),
    /// From the media engine.
    Media(MediaEvent),
    /// From the queue service.
    Queue(FromQueue<P>),
    /// A lookup the IVR asked for.
    Ivr(ivr::Input),
    /// "End call" from the console.
    EndFromConsole,
    /// An event of the supervisor's leg ([`Action::DialMonitor`]).
    MonitorLeg(CallEvent),
}

/// Where the call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// In the voice menu.
    Menu,
    /// Waiting in a queue; operators' phones may ring.
    Queued,
    /// Talking to an operator (who may hold).
    Bridged,
    /// Hearing a last prompt; the call ends when it is over.
    Closing,
}

/// One side's media session: as negotiated, and our side of its SDP.
#[derive(Debug, Clone)]
struct Session {
    params: MediaParams,
    local: LocalMedia,
}

#[derive(Debug)]
struct Queued<P> {
    name: String,
    /// The service dropped its side (the caller left the queue).
    closed: bool,
    /// Operators ringing, each with the RTP port offered to them.
    offers: HashMap<OperatorId, (P, LocalMedia)>,
}

#[derive(Debug)]
struct Bridge {
    operator: OperatorId,
    leg: LegKey,
    /// The queue the operator took the caller from.
    queue: String,
    session: Session,
    /// The operator holds the caller (music on hold plays).
    held: bool,
}

#[derive(Debug)]
enum State<P> {
    Menu,
    Queued(Queued<P>),
    Bridged(Bridge),
    Closing,
}

/// An answer from the queue service the machine waits for.
#[derive(Debug)]
enum Pending<P> {
    Answer {
        operator: OperatorId,
        leg: LegKey,
        params: MediaParams,
        port: P,
        local: LocalMedia,
    },
    Transfer {
        leg: LegKey,
        from: OperatorId,
        extension: String,
        queue: String,
    },
}

/// One answered call.
pub struct CallMachine<P> {
    id: CallId,
    ivr: Ivr,
    caller: Session,
    state: State<P>,
    pending: Option<Pending<P>>,
    /// A blocked (or withheld, by policy) caller being told so: they only
    /// hear the blocked menu and never join a queue.
    blocked: bool,
    /// The caller, the SIP Call-ID and the IVR steps so far, for the
    /// operator's card.
    summary: CallSummary,
    /// The configured queues, which a transfer may name.
    queues: Arc<QueueSet>,
    /// A supervisor listening in, while bridged.
    monitor: Option<Monitor<P>>,
}

/// A new answered call: its id, the IVR it runs, the caller's session,
/// what it knows of itself and the queues there are.
pub struct Setup {
    pub id: CallId,
    pub ivr: Ivr,
    pub params: MediaParams,
    pub local: LocalMedia,
    pub blocked: bool,
    pub summary: CallSummary,
    pub queues: Arc<QueueSet>,
}

impl<P: RtpPort> CallMachine<P> {
    pub fn new(setup: Setup) -> CallMachine<P> {
        CallMachine {
            id: setup.id,
            ivr: setup.ivr,
            caller: Session {
                params: setup.params,
                local: setup.local,
            },
            state: State::Menu,
            pending: None,
            blocked: setup.blocked,
            summary: setup.summary,
            queues: setup.queues,
            monitor: None,
        }
    }

    pub fn phase(&self) -> Phase {
        match self.state {
            State::Menu => Phase::Menu,
            State::Queued(_) => Phase::Queued,
            State::Bridged(_) => Phase::Bridged,
            State::Closing => Phase::Closing,
        }
    }

    /// Whether the queue service's channel is to be read: queued, and the
    /// service has not closed it.
    pub fn listens_to_queue(&self) -> bool {
        matches!(&self.state, State::Queued(q) if !q.closed)
    }

    /// The operator talking to the caller, and whether they hold.
    pub fn operator(&self) -> Option<(&OperatorId, bool)> {
        match &self.state {
            State::Bridged(b) => Some((&b.operator, b.held)),
            _ => None,
        }
    }

    /// What the call knows of itself, with its IVR steps so far.
    pub fn summary(&self) -> CallSummary {
        self.summary.clone()
    }

    /// The caller's session (the one the engine runs).
    pub fn caller_params(&self) -> &MediaParams {
        &self.caller.params
    }

    /// When the IVR next wants [`CallMachine::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ivr.poll_timeout()
    }

    /// The call is answered: the IVR starts.
    pub fn start(&mut self, clock: Clock) -> Vec<Action<P>> {
        let mut out = Vec::new();
        let actions = self.ivr.start(clock);
        self.apply_ivr(actions, &mut out);
        out
    }

    pub fn handle_timeout(&mut self, clock: Clock) -> Vec<Action<P>> {
        let mut out = Vec::new();
        let actions = self.ivr.handle_timeout(clock);
        self.apply_ivr(actions, &mut out);
        out
    }

    pub fn handle(&mut self, clock: Clock, input: Input<P>) -> Vec<Action<P>> {
        debug_assert!(
            self.pending.is_none(),
            "a confirmation the machine waits for comes before any input"
        );
        let mut out = Vec::new();
        match input {
            Input::Sip(event) => self.on_sip(clock, event, &mut out),
            Input::Media(event) => self.on_media(clock, event, &mut out),
            Input::Queue(message) => self.on_queue(message, &mut out),
            Input::Ivr(result) => {
                let actions = self.ivr.handle_input(clock, result);
                self.apply_ivr(actions, &mut out);
            }
            Input::MonitorLeg(event) => {
                if let Some(monitor) = &mut self.monitor {
                    if !monitor.on_leg(event, &mut out) {
                        self.monitor = None;
                    }
                }
            }
            Input::EndFromConsole => {
                info!("ended from the console");
                log(&mut out, "ended-by-console", String::new());
                out.push(Action::End(Ending::answered(
                    EndedBy::Server,
                    Disposition::Answered,
                    true,
                )));
            }
        }
        out
    }

    /// The queue service's answer to [`QueueAction::ConfirmAnswer`]: the
    /// caller is bridged to the operator, or their leg ends.
    pub fn answer_confirmed(&mut self, still_theirs: bool) -> Vec<Action<P>> {
        let mut out = Vec::new();
        let Some(Pending::Answer {
            operator,
            leg,
            params,
            port,
            local,
        }) = self.pending.take()
        else {
            return out;
        };
        if !still_theirs {
            out.push(Action::Sip(Command::EndLeg { leg }));
            return out;
        }
        let queue = match std::mem::replace(&mut self.state, State::Menu) {
            State::Queued(q) => {
                // Other phones of a ring-all offer stop ringing.
                for other in q.offers.into_keys() {
                    out.push(self.cancel_ring(other));
                }
                q.name
            }
            _ => String::new(),
        };
        info!(%operator, codec = params.codec.name(), "bridged to the operator");
        log(
            &mut out,
            "operator-answered",
            format!("{} {}", operator.0, params.codec.name()),
        );
        out.push(Action::Media(MediaAction::Bridge {
            params: params.clone(),
            port,
        }));
        self.state = State::Bridged(Bridge {
            operator,
            leg,
            queue,
            session: Session { params, local },
            held: false,
        });
        out
    }

    /// Who monitors the call (their phone ringing or joined), if anyone.
    pub fn monitored_by(&self) -> Option<&str> {
        self.monitor.as_ref().map(|m| m.supervisor())
    }

    /// A supervisor's request from the console: to listen in (`media`: the
    /// port the task allocated for their phone, `None` if none was free),
    /// to switch mode, or to stop. Refused as [`MonitorRefusal`] says,
    /// with nothing changed.
    pub fn monitor(
        &mut self,
        request: MonitorRequest,
        media: Option<(P, LocalMedia)>,
    ) -> Result<Vec<Action<P>>, MonitorRefusal> {
        let mut out = Vec::new();
        match (request, &mut self.monitor) {
            (MonitorRequest::Start { .. }, Some(m)) => {
                return Err(MonitorRefusal::Taken {
                    by: m.supervisor().to_string(),
                });
            }
            (MonitorRequest::Start { supervisor, mode }, None) => {
                if !matches!(self.state, State::Bridged(_)) || self.pending.is_some() {
                    return Err(MonitorRefusal::NotTalking);
                }
                let (port, local) = media.ok_or(MonitorRefusal::NoPort)?;
                info!(supervisor = %supervisor.login, mode = mode.as_str(), "a supervisor listens in");
                let caller = self.summary.caller.clone();
                let monitor = Monitor::start(supervisor, mode, port, &local, &caller, &mut out);
                self.monitor = Some(monitor);
            }
            (MonitorRequest::Mode { .. } | MonitorRequest::Stop { .. }, None) => {
                return Err(MonitorRefusal::NotMonitored);
            }
            (MonitorRequest::Mode { by, mode }, Some(m)) => m.switch(&by, mode, &mut out)?,
            (MonitorRequest::Stop { by }, Some(m)) => {
                m.owned_by(&by)?;
                m.end(&mut out, "monitor-ended");
                self.monitor = None;
            }
        }
        Ok(out)
    }

    /// The SIP core placed the supervisor's leg (`None`: their extension
    /// has no registered phone).
    pub fn monitor_dialled(&mut self, leg: Option<LegKey>) -> Vec<Action<P>> {
        let mut out = Vec::new();
        if let Some(monitor) = &mut self.monitor {
            if !monitor.dialled(leg, &mut out) {
                self.monitor = None;
            }
        }
        out
    }

    /// The queue service's answer to [`QueueAction::TransferToExtension`]:
    /// `joined` if the colleague is logged in and the caller now waits for
    /// them.
    pub fn extension_transfer(&mut self, joined: bool) -> Vec<Action<P>> {
        let mut out = Vec::new();
        let Some(Pending::Transfer {
            leg,
            from,
            extension,
            queue,
        }) = self.pending.take()
        else {
            return out;
        };
        if !joined {
            info!(target = %extension, "transfer refused: no such operator logged in");
            out.push(Action::Sip(Command::NotifyTransfer { leg, code: 480 }));
            return out;
        }
        self.transferred(leg, from, &extension, queue, &mut out);
        out
    }

    /// The call is over (after [`Action::End`], or when the task stops for
    /// any reason): out of the queue (abandoned, if the caller hung up),
    /// phones that ring for it stop, the operator's leg ends.
    pub fn finish(&mut self, by: EndedBy) -> Vec<Action<P>> {
        let mut out = Vec::new();
        match std::mem::replace(&mut self.state, State::Closing) {
            State::Queued(q) => {
                // Phones ringing for this call stop now, not when the
                // call's records are written: the service frees their
                // operators.
                for operator in q.offers.into_keys() {
                    out.push(self.cancel_ring(operator));
                }
                if !q.closed {
                    out.push(Action::Queue(QueueAction::HangUp {
                        abandoned: by == EndedBy::Caller,
                    }));
                    log(&mut out, "queue-left", q.name);
                }
            }
            State::Bridged(bridge) => self.end_conversation(bridge, &mut out),
            State::Menu | State::Closing => {}
        }
        out
    }

    fn cancel_ring(&self, operator: OperatorId) -> Action<P> {
        Action::Sip(Command::CancelRing {
            call: self.id,
            operator,
        })
    }

    fn on_sip(&mut self, clock: Clock, event: CallEvent, out: &mut Vec<Action<P>>) {
        let end =
            |by, disposition, hang_up| Action::End(Ending::answered(by, disposition, hang_up));
        match event {
            CallEvent::RemoteHangup => out.push(end(EndedBy::Caller, Disposition::Answered, false)),
            CallEvent::Shutdown => out.push(end(EndedBy::Shutdown, Disposition::Answered, true)),
            CallEvent::AckTimeout => out.push(end(EndedBy::Timeout, Disposition::Failed, false)),
            CallEvent::Terminated => out.push(end(EndedBy::Server, Disposition::Answered, false)),
            // CANCEL crossed our 200: the caller is gone.
            CallEvent::Cancelled => out.push(Action::End(Ending {
                by: EndedBy::Caller,
                disposition: Disposition::Cancelled,
                status: Some(487),
                hang_up: false,
            })),
            // An SDP answer in an ACK: to our offer in the 200 of an
            // offer-less INVITE or re-INVITE.
            CallEvent::Confirmed { body } if !body.is_empty() => self.caller_answer(&body, out),
            CallEvent::Confirmed { .. } => {}
            CallEvent::ReInvite { request } => self.caller_reinvite(&request, out),
            CallEvent::Info { request } => {
                if let Some(digit) = info_digit(&request) {
                    self.digit(clock, digit, "info", out);
                }
            }
            CallEvent::OperatorRinging { operator } => {
                log(out, "operator-ringing", operator.0);
            }
            CallEvent::OperatorAnswered {
                operator,
                leg,
                body,
            } => self.operator_answered(operator, leg, &body, out),
            CallEvent::OperatorFailed { operator, code } => {
                self.operator_failed(operator, code, out)
            }
            CallEvent::OperatorHungUp { leg } => {
                if matches!(&self.state, State::Bridged(b) if b.leg == leg) {
                    info!("the operator hung up");
                    out.push(end(EndedBy::Operator, Disposition::Answered, true));
                }
            }
            CallEvent::OperatorLegGone { .. } => {}
            CallEvent::OperatorTransfer { leg, target } => self.transfer(leg, &target, out),
            CallEvent::OperatorReInvite { leg, request } => {
                self.operator_reinvite(leg, &request, out)
            }
            CallEvent::OperatorConfirmed { leg, body } => self.operator_answer(leg, &body, out),
            // Only calls we place hear of their own leg.
            CallEvent::Progress { .. } | CallEvent::Answered { .. } | CallEvent::Failed { .. } => {}
        }
    }

    /// What the media engine reports: keys, prompts played out, silence.
    fn on_media(&mut self, clock: Clock, event: MediaEvent, out: &mut Vec<Action<P>>) {
        match event {
            MediaEvent::Digit(digit) => self.digit(clock, digit, "rfc4733", out),
            MediaEvent::PlaybackDone => match self.state {
                State::Closing => out.push(Action::End(Ending::answered(
                    EndedBy::Server,
                    Disposition::Answered,
                    true,
                ))),
                State::Bridged(_) => {}
                State::Menu | State::Queued(_) => {
                    let actions = self.ivr.handle_input(clock, ivr::Input::PlaybackDone);
                    self.apply_ivr(actions, out);
                }
            },
            MediaEvent::CallerSilent => {
                info!("no media for the timeout; hanging up");
                out.push(Action::End(Ending::answered(
                    EndedBy::Timeout,
                    Disposition::MediaTimeout,
                    true,
                )));
            }
            MediaEvent::OperatorSilent => {
                if matches!(&self.state, State::Bridged(b) if !b.held) {
                    self.operator_lost(out);
                }
            }
            // A supervisor's phone gone quiet costs the conversation
            // nothing: their leg alone ends.
            MediaEvent::MonitorSilent => {
                if let Some(mut monitor) = self.monitor.take() {
                    warn!(
                        supervisor = monitor.supervisor(),
                        "the supervisor's phone sends nothing; their leg ends"
                    );
                    monitor.end(out, "monitor-lost");
                }
            }
        }
    }

    /// A key press: on file, and to the IVR (or to the operator's system,
    /// while bridged: it may want an extension to dial).
    fn digit(&mut self, clock: Clock, digit: char, how: &'static str, out: &mut Vec<Action<P>>) {
        info!(%digit, how, "DTMF");
        log(out, "dtmf", digit.to_string());
        match self.state {
            State::Bridged(_) => out.push(Action::Media(MediaAction::Digit(Side::Operator, digit))),
            State::Closing => {}
            State::Menu | State::Queued(_) => {
                let actions = self.ivr.handle_input(clock, ivr::Input::Digit(digit));
                self.apply_ivr(actions, out);
            }
        }
    }

    /// Carries out the IVR's actions.
    fn apply_ivr(&mut self, actions: Vec<ivr::Action>, out: &mut Vec<Action<P>>) {
        for action in actions {
            match action {
                ivr::Action::Play { prompts, .. } => {
                    out.push(Action::Media(MediaAction::Play(prompts)))
                }
                ivr::Action::StopPlayback => out.push(Action::Media(MediaAction::StopPlayback)),
                ivr::Action::Step(step) => {
                    debug!(node = %step.node, what = %step.what, "IVR");
                    let step = format!("{} {}", step.node, step.what);
                    self.summary.ivr_path.push(step.clone());
                    log(out, "ivr", step);
                }
                ivr::Action::Queue { .. } if self.blocked => {
                    warn!("the blocked callers' menu leads to a queue; hanging up instead");
                    out.push(Action::End(Ending::answered(
                        EndedBy::Server,
                        Disposition::Blocked,
                        true,
                    )));
                    return;
                }
                ivr::Action::Queue { queue } => {
                    info!(%queue, "caller queued");
                    log(out, "queue", queue.clone());
                    self.join(queue, out);
                }
                ivr::Action::Hangup => {
                    out.push(Action::End(Ending::answered(
                        EndedBy::Server,
                        Disposition::Answered,
                        true,
                    )));
                    return;
                }
                ivr::Action::LookupAppeal { number } => {
                    out.push(Action::Lookup(Lookup::Appeal { number }))
                }
                ivr::Action::FetchOutages { at_caller_address } => {
                    out.push(Action::Lookup(Lookup::Outages { at_caller_address }))
                }
            }
        }
    }

    /// Enters a queue (from the IVR, again after the operator's phone died,
    /// or transferred).
    fn join(&mut self, queue: String, out: &mut Vec<Action<P>>) {
        out.push(Action::Queue(QueueAction::Join {
            queue: queue.clone(),
            summary: self.summary(),
        }));
        self.state = State::Queued(Queued {
            name: queue,
            closed: false,
            offers: HashMap::new(),
        });
    }

    /// A message of the queue service.
    fn on_queue(&mut self, message: FromQueue<P>, out: &mut Vec<Action<P>>) {
        match message {
            FromQueue::Joined { position } => log(out, "queue-joined", position.to_string()),
            FromQueue::Refused { reason } => {
                let reason = match reason {
                    Refusal::Full => "full",
                    Refusal::NoOperators => "no-operators",
                };
                info!(reason, "queue refused the caller");
                log(out, "queue-refused", reason.to_string());
                self.state = State::Closing;
                out.push(play(&["queue/unavailable", "goodbye"]));
            }
            FromQueue::Offer {
                operator,
                extension,
                media,
            } => {
                let State::Queued(queued) = &mut self.state else {
                    // Not waiting any more: the port goes back.
                    return;
                };
                let Some((port, local)) = media else {
                    warn!(%operator, "no RTP port to ring an operator");
                    out.push(Action::Queue(QueueAction::Rejected {
                        operator,
                        why: Rejection::Unreachable,
                    }));
                    return;
                };
                out.push(Action::Sip(Command::Ring(RingRequest {
                    call: self.id,
                    operator: operator.clone(),
                    extension,
                    caller: self.summary.caller.clone(),
                    display: Some(queued.name.clone()),
                    sdp: sdp::offer(&local, &CODECS).into_bytes(),
                })));
                queued.offers.insert(operator, (port, local));
            }
            FromQueue::CancelRing { operator } => {
                if let State::Queued(queued) = &mut self.state {
                    if queued.offers.remove(&operator).is_some() {
                        out.push(self.cancel_ring(operator));
                    }
                }
            }
            FromQueue::Announce {
                position,
                expected_wait,
            } => {
                let said = match position {
                    Some(Position::Exact(n)) => format!("position {n} "),
                    Some(Position::MoreThan(n)) => format!("more-than {n} "),
                    None => String::new(),
                };
                let minutes = expected_wait.as_secs().div_ceil(60).max(1);
                log(out, "queue-announce", format!("{said}wait {minutes} min"));
                out.push(Action::Media(MediaAction::Play(announcement(
                    position,
                    expected_wait,
                ))));
            }
            FromQueue::Periodic { prompt } => {
                out.push(Action::Media(MediaAction::Play(vec![prompt])))
            }
            FromQueue::Closed => {
                if let State::Queued(queued) = &mut self.state {
                    queued.closed = true;
                }
            }
        }
    }

    fn operator_answered(
        &mut self,
        operator: OperatorId,
        leg: LegKey,
        body: &[u8],
        out: &mut Vec<Action<P>>,
    ) {
        let offered = match &mut self.state {
            State::Queued(queued) => queued.offers.remove(&operator),
            _ => None,
        };
        let Some((port, local)) = offered else {
            out.push(Action::Sip(Command::EndLeg { leg }));
            return;
        };
        // Media first: a phone whose answer we cannot use has not taken the
        // call (and is not charged with it).
        let Some(negotiated) = negotiate(body) else {
            warn!(%operator, "the operator's phone answered without usable media");
            out.push(Action::Sip(Command::EndLeg { leg }));
            out.push(Action::Queue(QueueAction::Rejected {
                operator,
                why: Rejection::Unreachable,
            }));
            return;
        };
        out.push(Action::Queue(QueueAction::ConfirmAnswer {
            operator: operator.clone(),
        }));
        self.pending = Some(Pending::Answer {
            operator,
            leg,
            params: MediaParams::from(&negotiated),
            port,
            local,
        });
    }

    fn operator_failed(&mut self, operator: OperatorId, code: u16, out: &mut Vec<Action<P>>) {
        let State::Queued(queued) = &mut self.state else {
            return;
        };
        // Our own CANCEL (487) was asked for by the service: it knows.
        if queued.offers.remove(&operator).is_some() {
            info!(%operator, code, "the operator's phone did not take the call");
            log(out, "operator-failed", format!("{} {code}", operator.0));
            out.push(Action::Queue(QueueAction::Rejected {
                operator,
                why: rejection(code),
            }));
        }
    }

    /// Blind transfer by the operator (REFER): to a queue, or to a
    /// colleague's extension, named by the user part of the Refer-To URI
    /// (`sip:emergency@…`, `sip:1002@…`). A colleague who is not logged in,
    /// or a name that is neither, is refused (NOTIFY 404/480) and the
    /// conversation goes on.
    fn transfer(&mut self, leg: LegKey, target: &str, out: &mut Vec<Action<P>>) {
        let State::Bridged(bridge) = &self.state else {
            out.push(Action::Sip(Command::NotifyTransfer { leg, code: 481 }));
            return;
        };
        if bridge.leg != leg {
            out.push(Action::Sip(Command::NotifyTransfer { leg, code: 481 }));
            return;
        }
        let name = msg::uri_user(target).unwrap_or(target).to_ascii_lowercase();
        let (from, queue) = (bridge.operator.clone(), bridge.queue.clone());
        if self.queues.get(&name).is_some() {
            out.push(Action::Queue(QueueAction::Transferred {
                queue,
                from: from.clone(),
                target: name.clone(),
            }));
            out.push(Action::Queue(QueueAction::Join {
                queue: name.clone(),
                summary: self.summary(),
            }));
            self.transferred(leg, from, &name, name.clone(), out);
        } else if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            // Waits in the queue it came from, for that operator alone.
            out.push(Action::Queue(QueueAction::TransferToExtension {
                queue: queue.clone(),
                from: from.clone(),
                extension: name.clone(),
                summary: self.summary(),
            }));
            self.pending = Some(Pending::Transfer {
                leg,
                from,
                extension: name,
                queue,
            });
        } else {
            info!(%target, "transfer to an unknown queue or extension refused");
            out.push(Action::Sip(Command::NotifyTransfer { leg, code: 404 }));
        }
    }

    /// The transfer is done: the operator hears 200, their leg ends and the
    /// caller waits in `waits_in` ("transferring your call", then the
    /// queue's prompts again).
    fn transferred(
        &mut self,
        leg: LegKey,
        from: OperatorId,
        target: &str,
        waits_in: String,
        out: &mut Vec<Action<P>>,
    ) {
        out.push(Action::Sip(Command::NotifyTransfer { leg, code: 200 }));
        let Some(bridge) = self.take_bridge() else {
            return;
        };
        self.end_conversation(bridge, out);
        info!(operator = %from, %target, "the operator transferred the caller");
        log(out, "transferred", format!("{} {target}", from.0));
        self.state = State::Queued(Queued {
            name: waits_in,
            closed: false,
            offers: HashMap::new(),
        });
        out.push(play(&["transfer-operator"]));
    }

    /// The bridge, leaving the call in the menu phase until the caller
    /// goes somewhere else; `None` (and nothing changed) when not bridged.
    fn take_bridge(&mut self) -> Option<Bridge> {
        if !matches!(self.state, State::Bridged(_)) {
            return None;
        }
        match std::mem::replace(&mut self.state, State::Menu) {
            State::Bridged(bridge) => Some(bridge),
            _ => None,
        }
    }

    /// The conversation with the operator is over: their leg ends (BYE),
    /// its media stops, and the service starts their wrap-up.
    fn end_conversation(&mut self, bridge: Bridge, out: &mut Vec<Action<P>>) {
        // A supervisor never stays alone with the caller.
        if let Some(mut monitor) = self.monitor.take() {
            monitor.end(out, "monitor-ended");
        }
        out.push(Action::Media(MediaAction::Unbridge));
        out.push(Action::Sip(Command::EndLeg { leg: bridge.leg }));
        out.push(Action::Queue(QueueAction::ConversationEnded {
            operator: bridge.operator,
        }));
    }

    /// The operator's phone went silent for the media timeout (it died
    /// without a BYE): their leg is ended and the caller waits in the
    /// queue again rather than in silence.
    fn operator_lost(&mut self, out: &mut Vec<Action<P>>) {
        let Some(bridge) = self.take_bridge() else {
            return;
        };
        let (operator, queue) = (bridge.operator.clone(), bridge.queue.clone());
        self.end_conversation(bridge, out);
        warn!(%operator, "no media from the operator's phone; the caller goes back to the queue");
        log(out, "operator-lost", operator.0);
        out.push(play(&["transfer-operator"]));
        self.join(queue, out);
    }

    /// The SDP answer in the caller's ACK.
    fn caller_answer(&mut self, body: &[u8], out: &mut Vec<Action<P>>) {
        match negotiate(body) {
            Some(n) => {
                self.caller.params = MediaParams::from(&n);
                out.push(Action::Media(MediaAction::Update(
                    Side::Caller,
                    self.caller.params.clone(),
                )));
            }
            None => warn!("ACK carried no usable SDP answer"),
        }
    }

    fn caller_reinvite(&mut self, request: &Request, out: &mut Vec<Action<P>>) {
        let (code, body, held) = reoffer(&mut self.caller, request);
        if let Some(held) = held {
            out.push(Action::Media(MediaAction::Update(
                Side::Caller,
                self.caller.params.clone(),
            )));
            log(out, if held { "hold" } else { "resume" }, String::new());
            info!(held, "re-INVITE from the caller");
        }
        out.push(Action::Sip(Command::RespondReInvite {
            call: self.id,
            code,
            body,
        }));
    }

    /// Hold and resume from the operator's phone: while the operator holds,
    /// the caller hears the music on hold.
    fn operator_reinvite(&mut self, leg: LegKey, request: &Request, out: &mut Vec<Action<P>>) {
        let bridge = match &mut self.state {
            State::Bridged(b) if b.leg == leg => b,
            _ => {
                out.push(Action::Sip(Command::RespondLegReInvite {
                    leg,
                    code: 481,
                    body: None,
                }));
                return;
            }
        };
        let (code, body, held) = reoffer(&mut bridge.session, request);
        if let Some(held) = held {
            out.push(Action::Media(MediaAction::Update(
                Side::Operator,
                bridge.session.params.clone(),
            )));
            info!(held, "re-INVITE from the operator");
            operator_holds(bridge, held, out);
        }
        out.push(Action::Sip(Command::RespondLegReInvite { leg, code, body }));
    }

    /// The answer to our offer, from the operator's ACK: the media, and
    /// hold or resume as it says.
    fn operator_answer(&mut self, leg: LegKey, body: &[u8], out: &mut Vec<Action<P>>) {
        let State::Bridged(bridge) = &mut self.state else {
            return;
        };
        if bridge.leg != leg {
            return;
        }
        let Some(n) = negotiate(body) else {
            return warn!("the operator's ACK carried no usable SDP answer");
        };
        let held = !n.direction.we_send() || n.remote.is_none();
        bridge.session.params = MediaParams::from(&n);
        out.push(Action::Media(MediaAction::Update(
            Side::Operator,
            bridge.session.params.clone(),
        )));
        if bridge.held != held {
            info!(held, "the operator's hold");
            operator_holds(bridge, held, out);
        }
    }
}

/// The operator holds the caller (the music on hold plays) or resumes: on
/// file and to the engine.
fn operator_holds<P>(bridge: &mut Bridge, held: bool, out: &mut Vec<Action<P>>) {
    bridge.held = held;
    let kind = if held {
        "operator-hold"
    } else {
        "operator-resume"
    };
    log(out, kind, bridge.operator.0.clone());
    out.push(Action::Media(MediaAction::Hold(held)));
}

fn log<P>(out: &mut Vec<Action<P>>, kind: &'static str, detail: String) {
    out.push(Action::Log { kind, detail });
}

fn play<P>(prompts: &[&str]) -> Action<P> {
    Action::Media(MediaAction::Play(
        prompts.iter().map(|p| p.to_string()).collect(),
    ))
}

/// An SDP body we can use: parsed, and a codec of ours in it.
fn negotiate(body: &[u8]) -> Option<sdp::Negotiated> {
    SessionDescription::parse(body)
        .ok()
        .and_then(|sd| sdp::negotiate(&sd, &CODECS).ok())
}

/// Answers a re-INVITE's offer (or the lack of one) for a media session:
/// the status, the SDP to send, and whether it puts us on hold (`None` for
/// an offer-less re-INVITE, which changes nothing yet). The session takes
/// the new parameters when it is `Some`.
fn reoffer(session: &mut Session, request: &Request) -> (u16, Option<Vec<u8>>, Option<bool>) {
    let local = &mut session.local;
    local.version += 1;
    if request.body.is_empty() {
        // Offer-less re-INVITE: offer again, same codec first.
        let codecs = preferring(session.params.codec);
        return (200, Some(sdp::offer(local, &codecs).into_bytes()), None);
    }
    let outcome = SessionDescription::parse(&request.body)
        .map_err(|_| 400)
        .and_then(|sd| {
            // Keep the codec in use if it is still offered (RFC 3264 §8.3.2).
            let current = session.params.codec;
            sdp::negotiate(&sd, &[current])
                .or_else(|_| sdp::negotiate(&sd, &CODECS))
                .map(|n| (sd, n))
                .map_err(|_| 488)
        });
    match outcome {
        Ok((sd, n)) => {
            let held = !n.direction.we_send() || n.remote.is_none();
            let answer = sdp::answer(&sd, &n, local);
            session.params = MediaParams::from(&n);
            (200, Some(answer.into_bytes()), Some(held))
        }
        Err(code) => {
            local.version -= 1;
            (code, None, None)
        }
    }
}

/// Our codecs with the one in use first, for an offer in a re-INVITE's
/// answer: the peer takes our first codec it supports.
fn preferring(current: Codec) -> Vec<Codec> {
    let mut codecs = CODECS.to_vec();
    codecs.sort_by_key(|c| *c != current);
    codecs
}

/// How a refused or failed ring counts against the operator.
fn rejection(code: u16) -> Rejection {
    match code {
        486 | 600 => Rejection::Busy,
        603 => Rejection::Declined,
        _ => Rejection::Unreachable,
    }
}

/// What the caller hears of their place in the queue: the position (if
/// the queue says it) and the expected wait in whole minutes (at least 1).
pub fn announcement(position: Option<Position>, expected_wait: Duration) -> Vec<String> {
    let mut prompts = Vec::new();
    match position {
        Some(Position::Exact(n)) => {
            prompts.push("queue/position".to_string());
            prompts.extend(ivr::say::number(n as u32));
        }
        Some(Position::MoreThan(n)) => {
            prompts.push("queue/more-than".to_string());
            prompts.extend(ivr::say::number(n as u32));
        }
        None => {}
    }
    let minutes = expected_wait.as_secs().div_ceil(60).max(1);
    prompts.push("queue/wait".to_string());
    prompts.extend(ivr::say::minutes(minutes as u32));
    prompts
}

/// A digit from SIP INFO: `application/dtmf-relay` (`Signal=5`) or
/// `application/dtmf` (`5`), as Asterisk and trunks send them.
pub fn info_digit(request: &Request) -> Option<char> {
    let content_type = msg::first_header(request, "Content-Type")?.to_ascii_lowercase();
    let body = std::str::from_utf8(&request.body).ok()?;
    let signal = if content_type.starts_with("application/dtmf-relay") {
        body.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("signal")
                .then(|| v.trim().to_string())
        })?
    } else if content_type.starts_with("application/dtmf") {
        body.trim().to_string()
    } else {
        return None;
    };
    let c = signal.chars().next()?;
    match signal.as_str() {
        "10" => Some('*'),
        "11" => Some('#'),
        _ if signal.len() == 1 && (c.is_ascii_digit() || "*#ABCDabcd".contains(c)) => {
            Some(c.to_ascii_uppercase())
        }
        _ => None,
    }
}
