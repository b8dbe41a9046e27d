//! Calls we place: the verification survey's call-backs (docs/lifecycle.md,
//! "Verification"). The SIP client side is the endpoint's
//! ([`crate::sip::Endpoint::dial`]: the INVITE toward the `[outbound]`
//! trunk with the hotline's caller ID, the digest challenge answered once,
//! early media, CANCEL when it rings too long); here is the rest of a call
//! out: its row (`direction = outbound`) and its link to the card before
//! it rings, its media and recording from the first media on (early media
//! included), the survey menu played by the IVR machine once answered, and
//! its end on file like an inbound call's.
//!
//! [`Dialer::line`] keeps to `[outbound] max_calls`; what a call came to
//! is a [`Reached`], which the verification caller
//! ([`crate::appeal::verification_calls`]) turns into the card's step.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use tracing::{Instrument, info, info_span, warn};
use uuid::Uuid;

use super::machine::info_digit;
use super::{CODECS, CallContext, CallEvent, Command};
use crate::config::OutboundSettings;
use crate::ids::CallId;
use crate::ivr::script::{PRESET_NUMBER, PRESET_SUBJECT};
use crate::ivr::{self, Clock, Ivr};
use crate::phone::Pii;
use crate::rtp::engine::{Command as MediaCommand, MediaEvent, MediaHandle, Side};
use crate::rtp::ports::MediaSockets;
use crate::rtp::session::{Latch, MediaParams};
use crate::sdp::{self, LocalMedia, SessionDescription};
use crate::sip::{Dial, Flow, LegAuth, LegKey, Transport};
use crate::store::{
    CallEnd, Direction, Disposition, EndedBy, FinishedRecording, NewCall, NewRecording,
};

/// The trunk calls go out through, resolved at start-up.
#[derive(Clone)]
pub struct OutboundTrunk {
    pub name: String,
    pub address: SocketAddr,
    /// The Request-URI's host.
    pub domain: String,
    pub auth: Option<LegAuth>,
}

/// The appeal a survey call is about, and whom it calls.
#[derive(Debug, Clone)]
pub struct SurveyCall {
    pub appeal: Uuid,
    pub registration_number: String,
    /// The citizen's number, E.164.
    pub number: String,
    /// The classifier section (its subject is read out if a prompt
    /// `subject/<section>` exists).
    pub section: Option<String>,
}

/// What came of a call out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reached {
    /// 486 or 600.
    Busy,
    /// Rang out (our CANCEL), declined (603), or nobody there (480, 408).
    NoAnswer,
    /// It could not be placed (another final status; the trunk refused).
    Failed(u16),
    /// Answered; the survey menu's variables when the call ended.
    Answered(HashMap<String, String>),
}

impl Reached {
    fn from_status(code: u16, rang_out: bool) -> Reached {
        match code {
            486 | 600 => Reached::Busy,
            480 | 408 | 603 => Reached::NoAnswer,
            487 if rang_out => Reached::NoAnswer,
            code => Reached::Failed(code),
        }
    }
}

/// Click-to-call: the operator whose softphone rings first, the card and
/// the citizen called once they answer.
#[derive(Debug)]
pub struct Bridged {
    /// The call's id, told to the operator's console before it rings.
    pub call: CallId,
    pub appeal: Uuid,
    pub registration_number: String,
    /// The citizen's number, E.164.
    pub number: String,
    /// The operator's login and extension.
    pub operator: String,
    pub extension: String,
    /// Told whether the operator's softphone rings (`false`: none is
    /// registered), so the console can say so at once.
    pub ringing: Option<oneshot::Sender<bool>>,
}

/// A call placed: its id (its row, its recording) and what it came to.
#[derive(Debug, Clone)]
pub struct Placed {
    pub call: CallId,
    pub reached: Reached,
}

/// Places calls out through the `[outbound]` trunk.
#[derive(Clone)]
pub struct Dialer {
    ctx: Arc<CallContext>,
    commands: mpsc::UnboundedSender<Command>,
    trunk: OutboundTrunk,
    settings: OutboundSettings,
    country_code: String,
    lines: Arc<Semaphore>,
}

impl Dialer {
    pub fn new(
        ctx: Arc<CallContext>,
        commands: mpsc::UnboundedSender<Command>,
        trunk: OutboundTrunk,
        settings: OutboundSettings,
        country_code: String,
    ) -> Dialer {
        let lines = Arc::new(Semaphore::new(settings.max_calls));
        Dialer {
            ctx,
            commands,
            trunk,
            settings,
            country_code,
            lines,
        }
    }

    /// A free line, or `None` while `max_calls` calls are out.
    pub fn line(&self) -> Option<OwnedSemaphorePermit> {
        self.lines.clone().try_acquire_owned().ok()
    }

    /// Lines free now.
    pub fn free_lines(&self) -> usize {
        self.lines.available_permits()
    }

    /// Whether the survey menu is in the IVR in force.
    pub fn has_survey(&self) -> bool {
        self.ctx
            .ivr
            .get()
            .script
            .starts
            .contains_key(&self.settings.survey_menu)
    }

    /// Click-to-call on `line`: rings the operator's softphone; once they
    /// answer, calls the citizen and bridges the two (recorded, both
    /// sides) until either hangs up. What came of the citizen's side.
    pub async fn bridge(&self, line: OwnedSemaphorePermit, request: Bridged) -> Reached {
        let id = request.call;
        let span = info_span!("call", %id, direction = "outbound", operator = %request.operator);
        let survey = SurveyCall {
            appeal: request.appeal,
            registration_number: request.registration_number,
            number: request.number,
            section: None,
        };
        let operator = Some((request.operator, request.extension));
        let mut call = OutCall::new(self.clone(), id, survey, operator);
        call.ringing = request.ringing;
        let reached = call.run().instrument(span).await;
        drop(line);
        let _ = self.commands.send(Command::Done { call: id });
        reached.unwrap_or(Reached::Failed(500))
    }

    /// Calls the citizen on `line` and plays the survey menu; what came of
    /// it. `Err` only when the call could not be put on file (then it was
    /// not placed).
    pub async fn survey(
        &self,
        line: OwnedSemaphorePermit,
        survey: SurveyCall,
    ) -> Result<Placed, crate::store::StoreError> {
        let id = CallId::random();
        let span = info_span!("call", %id, direction = "outbound");
        let placed = OutCall::new(self.clone(), id, survey, None)
            .run()
            .instrument(span)
            .await;
        drop(line);
        // The core forgets the call (and ends its leg if it still lives).
        let _ = self.commands.send(Command::Done { call: id });
        placed.map(|reached| Placed { call: id, reached })
    }
}

/// One call out while it lasts.
struct OutCall {
    dialer: Dialer,
    id: CallId,
    survey: SurveyCall,
    leg: Option<LegKey>,
    events: Option<mpsc::UnboundedReceiver<CallEvent>>,
    /// Media began before the answer (183 with SDP).
    early: bool,
    /// Click-to-call: the operator (login, extension) to ring first.
    operator: Option<(String, String)>,
    /// Their answered leg.
    op: Option<OperatorSide>,
    /// Told whether the operator's phone rings.
    ringing: Option<oneshot::Sender<bool>>,
    /// The call's events, written in order by one task (as an inbound
    /// call's are): the path must read as it happened.
    log: Option<(EventLog, tokio::task::JoinHandle<()>)>,
}

type EventLog = mpsc::UnboundedSender<(chrono::DateTime<Utc>, &'static str, String)>;

/// The operator's answered leg in click-to-call.
struct OperatorSide {
    leg: LegKey,
    events: mpsc::UnboundedReceiver<CallEvent>,
    params: MediaParams,
    sockets: MediaSockets,
}

/// The operator's leg's next event, or never without one.
async fn operator_event(op: Option<&mut OperatorSide>) -> Option<CallEvent> {
    match op {
        Some(op) => op.events.recv().await,
        None => std::future::pending().await,
    }
}

/// The call's media once it has begun.
struct Media {
    handle: MediaHandle,
    events: mpsc::UnboundedReceiver<MediaEvent>,
    recording: Option<(Uuid, String)>,
}

/// How a call out ended.
struct End {
    by: EndedBy,
    status: Option<u16>,
    disposition: Disposition,
    reached: Reached,
}

impl End {
    /// Ended before any answer, with this status.
    fn failed(by: EndedBy, code: u16) -> End {
        End {
            by,
            status: Some(code),
            disposition: Disposition::Failed,
            reached: Reached::Failed(code),
        }
    }
}

impl OutCall {
    fn new(
        dialer: Dialer,
        id: CallId,
        survey: SurveyCall,
        operator: Option<(String, String)>,
    ) -> OutCall {
        OutCall {
            dialer,
            id,
            survey,
            leg: None,
            events: None,
            early: false,
            operator,
            op: None,
            ringing: None,
            log: None,
        }
    }

    fn ctx(&self) -> &CallContext {
        &self.dialer.ctx
    }

    async fn run(mut self) -> Result<Reached, crate::store::StoreError> {
        let ctx = self.dialer.ctx.clone();
        let settings = self.dialer.settings.clone();
        let dialled = settings
            .dial_format
            .dial(&self.survey.number, &self.dialer.country_code);
        let trunk = self.dialer.trunk.clone();
        let sockets = match ctx.ports.allocate() {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "no RTP port for a call out");
                return Ok(Reached::Failed(503));
            }
        };
        let (_, media_ip) = ctx.local_address(trunk.address.ip());
        let local = LocalMedia {
            address: media_ip,
            port: sockets.port(),
            session_id: rand::random::<u32>() as u64,
            version: 1,
        };
        let sip_call_id = format!("{}@hotline", Uuid::new_v4().simple());
        let arrived_at = Utc::now();
        let record = NewCall {
            id: self.id.as_uuid(),
            sip_call_id: sip_call_id.clone(),
            caller_raw: settings.caller_id.clone(),
            caller_e164: None,
            called_number: self.survey.number.clone(),
            source: trunk.name.clone(),
            source_addr: trunk.address,
            transport: crate::store::Transport::Udp,
            arrived_at,
            direction: Direction::Outbound,
        };
        // Not on file, not placed: every call is on file.
        if let Err(e) = ctx.store.insert_call(&record).await {
            warn!(error = %e, "cannot store a call out; not placing it");
            return Err(e);
        }
        if let Err(e) = ctx
            .store
            .attach_call(self.survey.appeal, self.id.as_uuid(), None, arrived_at)
            .await
        {
            warn!(error = %e, "cannot link a call out to its card");
        }
        if let Some((login, _)) = &self.operator {
            self.event("click-to-call", login.clone());
            if let Err(end) = self.ring_operator(media_ip).await {
                return self.close(end, None, Some(sockets)).await;
            }
        }
        let dial = Dial {
            target: format!("sip:{dialled}@{}", trunk.domain),
            from_user: settings.caller_id.clone(),
            from_host: Some(trunk.domain.clone()),
            display: Some(settings.display.clone()),
            asserted: Some(format!("sip:{}@{}", settings.caller_id, trunk.domain)),
            sdp: sdp::offer(&local, &CODECS).into_bytes(),
            auth: trunk.auth.clone(),
            call_id: Some(sip_call_id),
        };
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (leg_tx, leg_rx) = oneshot::channel();
        let flow = Flow {
            transport: Transport::Udp,
            remote: trunk.address,
        };
        let _ = self.dialer.commands.send(Command::Dial {
            call: self.id,
            flow,
            dial: Box::new(dial),
            events: events_tx,
            leg: leg_tx,
        });
        let Ok(leg) = leg_rx.await else {
            warn!("the SIP core is gone; no call out");
            let end = End::failed(EndedBy::Shutdown, 503);
            return self.close(end, None, Some(sockets)).await;
        };
        self.leg = Some(leg);
        self.events = Some(events_rx);
        info!(callee = %Pii(self.survey.number.clone()), appeal = %self.survey.registration_number, trunk = %trunk.name, "calling out");
        let (answered, mut media, sockets) = self.ring(sockets).await;
        let end = match answered {
            Err(end) => end,
            Ok(()) => match media.as_mut() {
                Some(media) if self.op.is_some() => self.talk(media).await,
                Some(media) => self.converse(media).await,
                None => End {
                    by: EndedBy::Server,
                    status: None,
                    disposition: Disposition::Failed,
                    reached: Reached::Failed(500),
                },
            },
        };
        self.close(end, media, sockets).await
    }

    fn end_leg(&self) {
        if let Some(leg) = &self.leg {
            let _ = self
                .dialer
                .commands
                .send(Command::EndLeg { leg: leg.clone() });
        }
    }

    fn event(&mut self, kind: &'static str, detail: String) {
        let (store, id) = (self.ctx().store.clone(), self.id.as_uuid());
        let (log, _) = self.log.get_or_insert_with(|| {
            let (tx, mut rx) =
                mpsc::unbounded_channel::<(chrono::DateTime<Utc>, &'static str, String)>();
            let writer = tokio::spawn(async move {
                while let Some((at, kind, detail)) = rx.recv().await {
                    if let Err(e) = store.add_call_event(id, at, kind, &detail).await {
                        warn!(error = %e, kind, "cannot store a call event");
                    }
                }
            });
            (tx, writer)
        });
        let _ = log.send((Utc::now(), kind, detail));
    }

    /// Starts the call's media toward the far end's SDP (early media or
    /// the answer), with its recording; `None` if the SDP is unusable.
    async fn start_media(
        &self,
        body: &[u8],
        sockets: &mut Option<MediaSockets>,
    ) -> Option<(Media, MediaParams)> {
        let ctx = self.ctx();
        let params = match SessionDescription::parse(body)
            .map_err(|e| e.to_string())
            .and_then(|sd| sdp::negotiate(&sd, &CODECS).map_err(|e| e.to_string()))
        {
            Ok(n) => MediaParams::from(&n),
            Err(e) => {
                info!(error = %e, "unusable SDP from the far end");
                return None;
            }
        };
        let sockets = sockets.take()?;
        let started_at = Utc::now();
        let recording = match ctx.recorder.start(Uuid::new_v4(), started_at) {
            Ok(r) => Some(r),
            Err(e) => {
                warn!(error = %e, "recorder unavailable; the call out goes unrecorded");
                None
            }
        };
        let row = recording.as_ref().map(|r| NewRecording {
            id: r.id,
            call_id: self.id.as_uuid(),
            path: r.relative_path.to_string_lossy().into_owned(),
            started_at,
            sample_rate: 8000,
            channels: 2,
        });
        if let Some(row) = &row {
            if let Err(e) = ctx.store.insert_recording(row).await {
                warn!(error = %e, "cannot store the recording's row");
            }
        }
        let (handle, events) =
            ctx.media
                .start(self.id, params.clone(), Latch::Strict, recording, sockets);
        let media = Media {
            handle,
            events,
            recording: row.map(|r| (r.id, r.path)),
        };
        Some((media, params))
    }

    /// Until the answer (`Ok`) or the call's end before it (`Err`); the
    /// media if it began, or the port it did not use.
    async fn ring(
        &mut self,
        sockets: MediaSockets,
    ) -> (Result<(), End>, Option<Media>, Option<MediaSockets>) {
        let mut sockets = Some(sockets);
        let mut media: Option<Media> = None;
        let ring_for = Duration::from_secs(self.dialer.settings.ring_secs);
        let deadline = tokio::time::sleep(ring_for);
        tokio::pin!(deadline);
        let mut rang_out = false;
        let mut codec = None;
        let mut events = self.events.take().expect("the leg's events");
        let result = loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(CallEvent::Progress { code, body }) => {
                        self.event("progress", code.to_string());
                        if media.is_none() && !body.is_empty() {
                            if let Some((m, params)) = self.start_media(&body, &mut sockets).await {
                                self.early = true;
                                codec = Some(params.codec.name());
                                media = Some(m);
                            }
                        }
                    }
                    Some(CallEvent::Answered { body }) => {
                        let started = match media.as_ref() {
                            Some(m) => {
                                let params = SessionDescription::parse(&body)
                                    .ok()
                                    .and_then(|sd| sdp::negotiate(&sd, &CODECS).ok());
                                if let Some(n) = params {
                                    codec = Some(n.codec.name());
                                    m.handle.send(MediaCommand::Update(Side::Caller, MediaParams::from(&n)));
                                }
                                true
                            }
                            None => match self.start_media(&body, &mut sockets).await {
                                Some((m, params)) => {
                                    codec = Some(params.codec.name());
                                    media = Some(m);
                                    true
                                }
                                None => false,
                            },
                        };
                        if !started {
                            // Answered with media we cannot use: say so and go.
                            self.end_leg();
                            break Err(End {
                                by: EndedBy::Server,
                                status: Some(488),
                                disposition: Disposition::Failed,
                                reached: Reached::Failed(488),
                            });
                        }
                        let at = Utc::now();
                        if let Err(e) = self
                            .ctx()
                            .store
                            .mark_call_answered(self.id.as_uuid(), at, codec.unwrap_or("-"))
                            .await
                        {
                            warn!(error = %e, "cannot store the answer of a call out");
                        }
                        info!("answered");
                        break Ok(());
                    }
                    Some(CallEvent::Failed { code }) => {
                        let reached = Reached::from_status(code, rang_out);
                        info!(code, ?reached, "call out not answered");
                        let disposition = match reached {
                            Reached::Busy => Disposition::Busy,
                            Reached::NoAnswer => Disposition::NoAnswer,
                            _ => Disposition::Failed,
                        };
                        break Err(End {
                            by: if rang_out { EndedBy::Timeout } else { EndedBy::Caller },
                            status: Some(code),
                            disposition,
                            reached,
                        });
                    }
                    Some(_) => {}
                    None => break Err(End {
                        by: EndedBy::Shutdown,
                        status: None,
                        disposition: Disposition::Failed,
                        reached: Reached::Failed(503),
                    }),
                },
                event = operator_event(self.op.as_mut()) => {
                    if matches!(event, Some(CallEvent::RemoteHangup | CallEvent::Terminated) | None) {
                        // The operator gave up before the citizen answered.
                        self.event("operator-hung-up", String::new());
                        self.end_leg();
                        self.op = None;
                        rang_out = true;
                    }
                }
                _ = &mut deadline, if !rang_out => {
                    // CANCEL; its 487 ends the wait.
                    rang_out = true;
                    self.event("ring-timeout", format!("{} s", ring_for.as_secs()));
                    self.end_leg();
                }
            }
        };
        self.events = Some(events);
        (result, media, sockets)
    }

    /// Rings the operator's softphone with an offer on a port of its own;
    /// their answered leg, or how the call ended.
    async fn ring_operator(&mut self, media_ip: std::net::IpAddr) -> Result<(), End> {
        let ctx = self.dialer.ctx.clone();
        let Some((login, extension)) = self.operator.clone() else {
            return Ok(());
        };
        let sockets = ctx.ports.allocate().map_err(|e| {
            warn!(error = %e, "no RTP port for the operator's leg");
            End::failed(EndedBy::Server, 503)
        })?;
        let local = LocalMedia {
            address: media_ip,
            port: sockets.port(),
            session_id: rand::random::<u32>() as u64,
            version: 1,
        };
        let dial = Dial {
            // The core puts the registered contact here.
            target: String::new(),
            // The softphone shows whom it is about to be connected to.
            from_user: self.survey.number.clone(),
            from_host: None,
            display: Some(format!("Перевірка {}", self.survey.registration_number)),
            asserted: None,
            sdp: sdp::offer(&local, &CODECS).into_bytes(),
            auth: None,
            call_id: None,
        };
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let (leg_tx, leg_rx) = oneshot::channel();
        let _ = self.dialer.commands.send(Command::DialExtension {
            call: self.id,
            extension: extension.clone(),
            dial: Box::new(dial),
            events: events_tx,
            leg: leg_tx,
        });
        let leg = leg_rx.await.ok().flatten();
        if let Some(ringing) = self.ringing.take() {
            let _ = ringing.send(leg.is_some());
        }
        let Some(leg) = leg else {
            info!(operator = %login, %extension, "no registered softphone to ring");
            self.event("operator-unreachable", "480".into());
            return Err(End::failed(EndedBy::Server, 480));
        };
        let deadline = tokio::time::sleep(Duration::from_secs(self.dialer.settings.ring_secs));
        tokio::pin!(deadline);
        let mut gave_up = false;
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(CallEvent::Answered { body }) => {
                        let negotiated = SessionDescription::parse(&body)
                            .ok()
                            .and_then(|sd| sdp::negotiate(&sd, &CODECS).ok());
                        let Some(n) = negotiated else {
                            let _ = self.dialer.commands.send(Command::EndLeg { leg });
                            return Err(End::failed(EndedBy::Server, 488));
                        };
                        self.event("operator-answered", login.clone());
                        self.op = Some(OperatorSide {
                            leg,
                            events,
                            params: MediaParams::from(&n),
                            sockets,
                        });
                        return Ok(());
                    }
                    Some(CallEvent::Failed { code }) => {
                        self.event("operator-failed", code.to_string());
                        return Err(End::failed(EndedBy::Operator, code));
                    }
                    Some(_) => {}
                    None => return Err(End::failed(EndedBy::Shutdown, 503)),
                },
                _ = &mut deadline, if !gave_up => {
                    gave_up = true;
                    let _ = self.dialer.commands.send(Command::EndLeg { leg: leg.clone() });
                }
            }
        }
    }

    /// Click-to-call: the operator and the citizen talk, recorded, until
    /// either hangs up.
    async fn talk(&mut self, media: &mut Media) -> End {
        let Some(op) = self.op.take() else {
            return End::failed(EndedBy::Server, 500);
        };
        let OperatorSide {
            leg: op_leg,
            events: mut op_events,
            params,
            sockets,
        } = op;
        media.handle.send(MediaCommand::Bridge {
            params,
            sockets,
            hold_music: Vec::new(),
        });
        self.event("bridged", String::new());
        let mut events = self.events.take().expect("the leg's events");
        let longest = tokio::time::sleep(Duration::from_secs(self.dialer.settings.max_call_secs));
        tokio::pin!(longest);
        let end_operator = |commands: &mpsc::UnboundedSender<Command>| {
            let _ = commands.send(Command::EndLeg {
                leg: op_leg.clone(),
            });
        };
        let by = loop {
            tokio::select! {
                event = events.recv() => match event {
                    Some(CallEvent::RemoteHangup) => {
                        end_operator(&self.dialer.commands);
                        break EndedBy::Caller;
                    }
                    Some(CallEvent::Terminated) | None => {
                        end_operator(&self.dialer.commands);
                        break EndedBy::Server;
                    }
                    Some(_) => {}
                },
                event = op_events.recv() => match event {
                    Some(CallEvent::RemoteHangup | CallEvent::Terminated) | None => {
                        self.end_leg();
                        break EndedBy::Operator;
                    }
                    Some(_) => {}
                },
                Some(event) = media.events.recv() => {
                    if event == MediaEvent::CallerSilent {
                        self.end_leg();
                        end_operator(&self.dialer.commands);
                        break EndedBy::Timeout;
                    }
                }
                _ = &mut longest => {
                    self.end_leg();
                    end_operator(&self.dialer.commands);
                    break EndedBy::Timeout;
                }
            }
        };
        self.events = Some(events);
        End {
            by,
            status: None,
            disposition: Disposition::Answered,
            reached: Reached::Answered(HashMap::new()),
        }
    }

    /// The survey menu, from the answer to its hang-up (or the citizen's).
    async fn converse(&mut self, media: &mut Media) -> End {
        let ctx = self.dialer.ctx.clone();
        let assets = ctx.ivr.get();
        let Some(start) = assets
            .script
            .starts
            .get(&self.dialer.settings.survey_menu)
            .cloned()
        else {
            warn!(menu = %self.dialer.settings.survey_menu, "the survey menu is missing; hanging up");
            self.end_leg();
            return End {
                by: EndedBy::Server,
                status: None,
                disposition: Disposition::Answered,
                reached: Reached::Failed(500),
            };
        };
        let mut vars = vec![(
            PRESET_NUMBER.to_string(),
            self.survey.registration_number.clone(),
        )];
        if let Some(section) = &self.survey.section {
            let prompt = format!("subject/{section}");
            if assets.has_prompt(&prompt) {
                vars.push((PRESET_SUBJECT.to_string(), prompt));
            }
        }
        let mut ivr = Ivr::starting_at(assets.script.clone(), start).with_variables(vars);
        let tz = ctx.city_tz;
        let clock = move || Clock {
            now: Instant::now().into_std(),
            wall: Utc::now().with_timezone(&tz).naive_local(),
        };
        let mut events = self.events.take().expect("the leg's events");
        let longest = tokio::time::sleep(Duration::from_secs(self.dialer.settings.max_call_secs));
        tokio::pin!(longest);
        let ivr_timer = tokio::time::sleep_until(Instant::now());
        tokio::pin!(ivr_timer);
        let mut actions = ivr.start(clock());
        let (by, disposition) = 'call: loop {
            // Carry out what the menu decided (lookups have no place in a
            // survey: they are answered as failed).
            while !actions.is_empty() {
                let mut more = Vec::new();
                for action in actions.drain(..) {
                    match action {
                        ivr::Action::Play { prompts, .. } => {
                            media
                                .handle
                                .send(MediaCommand::Play(assets.prompts_or_warn(&prompts)));
                        }
                        ivr::Action::StopPlayback => media.handle.send(MediaCommand::StopPlayback),
                        ivr::Action::Step(step) => {
                            self.event("ivr", format!("{} {}", step.node, step.what))
                        }
                        ivr::Action::Hangup | ivr::Action::Queue { .. } => {
                            self.end_leg();
                            break 'call (EndedBy::Server, Disposition::Answered);
                        }
                        ivr::Action::LookupAppeal { .. } | ivr::Action::FetchOutages { .. } => {
                            more.extend(ivr.handle_input(clock(), ivr::Input::LookupFailed));
                        }
                    }
                }
                actions = more;
            }
            let deadline = ivr.poll_timeout().map(Instant::from_std);
            if let Some(at) = deadline.filter(|at| *at != ivr_timer.deadline()) {
                ivr_timer.as_mut().reset(at);
            }
            tokio::select! {
                Some(event) = media.events.recv() => match event {
                    MediaEvent::Digit(d) => {
                        self.event("dtmf", d.to_string());
                        actions = ivr.handle_input(clock(), ivr::Input::Digit(d));
                    }
                    MediaEvent::PlaybackDone => {
                        actions = ivr.handle_input(clock(), ivr::Input::PlaybackDone);
                    }
                    MediaEvent::CallerSilent => {
                        self.end_leg();
                        break (EndedBy::Timeout, Disposition::MediaTimeout);
                    }
                    MediaEvent::OperatorSilent | MediaEvent::MonitorSilent => {}
                },
                event = events.recv() => match event {
                    Some(CallEvent::Info { request }) => {
                        if let Some(d) = info_digit(&request) {
                            self.event("dtmf", format!("{d} (INFO)"));
                            actions = ivr.handle_input(clock(), ivr::Input::Digit(d));
                        }
                    }
                    Some(CallEvent::RemoteHangup) => break (EndedBy::Caller, Disposition::Answered),
                    Some(CallEvent::Terminated) | None => break (EndedBy::Server, Disposition::Answered),
                    Some(_) => {}
                },
                _ = &mut ivr_timer, if deadline.is_some() => {
                    actions = ivr.handle_timeout(clock());
                }
                _ = &mut longest => {
                    self.end_leg();
                    break (EndedBy::Timeout, Disposition::Answered);
                }
            }
        };
        let answers = ["solved", "rating"]
            .into_iter()
            .filter_map(|v| {
                ivr.variable(v)
                    .map(|value| (v.to_string(), value.to_string()))
            })
            .collect();
        self.events = Some(events);
        End {
            by,
            status: None,
            disposition,
            reached: Reached::Answered(answers),
        }
    }

    /// The media and recording closed, the call's end on file, our BYE
    /// (if ours) briefly waited for.
    async fn close(
        mut self,
        end: End,
        media: Option<Media>,
        sockets: Option<MediaSockets>,
    ) -> Result<Reached, crate::store::StoreError> {
        let ctx = self.dialer.ctx.clone();
        drop(sockets);
        let mut finished = None;
        if let Some(media) = media {
            if let Some(f) = media.handle.finish().await {
                if let (Some(rec), Some((id, _))) = (f.recording, media.recording) {
                    match rec.finish().await {
                        Ok(summary) => {
                            finished = Some(FinishedRecording {
                                id,
                                ended_at: Utc::now(),
                                duration_ms: summary.duration.as_millis() as u64,
                                size_bytes: summary.bytes,
                            })
                        }
                        Err(e) => warn!(error = %e, "the recording of a call out failed"),
                    }
                }
            }
        }
        // Every event of the call is on file before the call is closed.
        if let Some((log, writer)) = self.log.take() {
            drop(log);
            let _ = writer.await;
        }
        let call_end = CallEnd {
            at: Utc::now(),
            ended_by: end.by,
            sip_status: end.status,
            disposition: end.disposition,
        };
        if let Err(e) = ctx
            .store
            .call_finished(self.id.as_uuid(), call_end, finished)
            .await
        {
            warn!(error = %e, "cannot store the end of a call out");
        }
        // Our BYE, briefly waited for so a stop can tell the call is over.
        if end.by != EndedBy::Caller && matches!(end.reached, Reached::Answered(_)) {
            if let Some(mut events) = self.events.take() {
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    while let Some(e) = events.recv().await {
                        if matches!(e, CallEvent::Terminated) {
                            break;
                        }
                    }
                })
                .await;
            }
        }
        info!(reached = ?end.reached, early_media = self.early, "call out ended");
        Ok(end.reached)
    }
}

#[cfg(test)]
mod tests {
    use super::Reached;

    #[test]
    fn final_statuses_say_what_came_of_a_call_out() {
        assert_eq!(Reached::from_status(486, false), Reached::Busy);
        assert_eq!(Reached::from_status(600, false), Reached::Busy);
        assert_eq!(Reached::from_status(480, false), Reached::NoAnswer);
        assert_eq!(Reached::from_status(603, false), Reached::NoAnswer);
        assert_eq!(Reached::from_status(408, false), Reached::NoAnswer);
        // Our CANCEL after the ring time: nobody answered.
        assert_eq!(Reached::from_status(487, true), Reached::NoAnswer);
        // Cancelled by someone else, or refused: the call failed.
        assert_eq!(Reached::from_status(487, false), Reached::Failed(487));
        assert_eq!(Reached::from_status(403, false), Reached::Failed(403));
        assert_eq!(Reached::from_status(503, false), Reached::Failed(503));
    }
}
