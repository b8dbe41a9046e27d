//! The SIP core task: owns the sans-IO [`Endpoint`] and the trunk
//! registrations, feeds them what the transport receives and the time,
//! carries out what they emit, and hands each call to its own task.
//!
//! One task, so the endpoint needs no lock; it never waits on a database or
//! a call: calls talk to it through channels.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::call::admission::{Admission, SourceKey};
use crate::call::forks::{Forks, Step};
use crate::call::{CallContext, CallEvent, Command, RingRequest};
use crate::ids::CallId;
use crate::logtext::Untrusted;
use crate::phone::Pii;
use crate::queue::OperatorId;
use crate::sip::ServerTxId;
use crate::sip::endpoint::ClientTxId;
use crate::sip::registrar::{Answer, Begin, Credentials, Registrar};
use crate::sip::registration::Registration;
use crate::sip::transport::{Inbound, SipTransport};
use crate::sip::{CallKey, Endpoint, Event, Flow, Output, Transport};

/// A trunk registration and where its registrar is.
pub struct Trunk {
    pub registration: Registration,
    pub registrar: SocketAddr,
    pending: Option<ClientTxId>,
}

impl Trunk {
    pub fn new(registration: Registration, registrar: SocketAddr) -> Self {
        Self {
            registration,
            registrar,
            pending: None,
        }
    }
}

/// A REGISTER whose credentials were looked up.
pub struct RegisterStep {
    id: ServerTxId,
    request: Box<rsip::Request>,
    source: Flow,
    /// `Ok(None)`: no such operator (or disabled); `Err`: the database
    /// failed, which must not count against the phone.
    credentials: Result<Option<Credentials>, ()>,
}

/// Where operators without a registration are rung: a PBX trunk.
#[derive(Debug, Clone)]
pub struct MemberTrunk {
    /// The trunk's `host[:port]` for the Request-URI.
    pub host: String,
    pub address: SocketAddr,
}

/// The calls in progress: each call's task by our id, and the SIP core's
/// key of its dialog both ways (events come keyed by the dialog, commands
/// by our id).
#[derive(Default)]
struct Calls {
    by_id: HashMap<CallId, (CallKey, mpsc::UnboundedSender<CallEvent>)>,
    by_key: HashMap<CallKey, CallId>,
}

impl Calls {
    fn insert(&mut self, id: CallId, key: CallKey, tx: mpsc::UnboundedSender<CallEvent>) {
        self.by_key.insert(key.clone(), id);
        self.by_id.insert(id, (key, tx));
    }

    fn remove(&mut self, id: &CallId) {
        if let Some((key, _)) = self.by_id.remove(id) {
            self.by_key.remove(&key);
        }
    }

    fn key(&self, id: &CallId) -> Option<&CallKey> {
        self.by_id.get(id).map(|(key, _)| key)
    }

    /// Tells the call; `false` if it is gone.
    fn send(&self, id: &CallId, event: CallEvent) -> bool {
        self.by_id
            .get(id)
            .is_some_and(|(_, tx)| tx.send(event).is_ok())
    }

    fn send_by_key(&self, key: &CallKey, event: CallEvent) {
        if let Some(id) = self.by_key.get(key) {
            self.send(id, event);
        }
    }

    fn len(&self) -> usize {
        self.by_id.len()
    }

    fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

pub struct Core {
    pub registrar: Registrar,
    pub member_trunk: Option<MemberTrunk>,
    /// Extensions with a live registration, to notice the last one ending.
    pub registered: std::collections::HashSet<String>,
    pub legs: Forks,
    pub register_steps: (
        mpsc::UnboundedSender<RegisterStep>,
        mpsc::UnboundedReceiver<RegisterStep>,
    ),
    pub endpoint: Endpoint,
    pub transport: SipTransport,
    pub inbound: mpsc::Receiver<Inbound>,
    pub trunks: Vec<Trunk>,
    pub ctx: Arc<CallContext>,
    pub shutdown: watch::Receiver<bool>,
    pub grace: Duration,
    /// Whether a new INVITE may become a call ([`crate::call::admission`]).
    pub admission: Admission,
    /// What calls ask of the SIP side: every call task's, and the
    /// dialer's calls out ([`crate::call::outbound`]).
    pub commands: (
        mpsc::UnboundedSender<Command>,
        mpsc::UnboundedReceiver<Command>,
    ),
    /// Calls we placed: each leg's call, told what its leg does.
    pub outbound: HashMap<crate::sip::LegKey, (CallId, mpsc::UnboundedSender<CallEvent>)>,
}

impl Core {
    pub async fn run(mut self) {
        let cmd_tx = self.commands.0.clone();
        let mut calls = Calls::default();
        let mut stopping: Option<Instant> = None;
        loop {
            self.flush(&mut calls, &cmd_tx).await;
            if let Some(since) = stopping {
                let settled = calls.is_empty()
                    && self.endpoint.call_count() == 0
                    && self.trunks.iter().all(|t| t.pending.is_none());
                if settled || since.elapsed() > self.grace {
                    if !settled {
                        warn!(
                            calls = calls.len(),
                            "shutdown grace over with calls still open"
                        );
                    }
                    break;
                }
            }
            let now = Instant::now().into_std();
            let deadline = [
                self.endpoint.poll_timeout(),
                self.trunks
                    .iter()
                    .filter_map(|t| t.registration.poll_timeout())
                    .min(),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + Duration::from_secs(1))
            .min(now + Duration::from_secs(1));
            tokio::select! {
                inbound = self.inbound.recv() => {
                    let Some(inbound) = inbound else { break };
                    self.endpoint.handle_input(Instant::now().into_std(), inbound.flow, &inbound.bytes);
                }
                Some(cmd) = self.commands.1.recv() => self.command(cmd, &mut calls),
                Some(step) = self.register_steps.1.recv() => self.register_step(step),
                _ = tokio::time::sleep_until(Instant::from_std(deadline)) => {
                    let now = Instant::now().into_std();
                    self.give_up_overdue_acks(now, &calls);
                    self.endpoint.handle_timeout(now);
                    self.check_registrations(now);
                    for i in 0..self.trunks.len() {
                        if let Some(req) = self.trunks[i].registration.handle_timeout(now) {
                            self.send_register(i, req);
                        }
                    }
                }
                changed = self.shutdown.changed(), if stopping.is_none() => {
                    if changed.is_err() || *self.shutdown.borrow() {
                        info!(calls = calls.len(), "shutting down: no new calls, hanging up active ones");
                        stopping = Some(Instant::now());
                        self.endpoint.stop_accepting();
                        for (_, tx) in calls.by_id.values() {
                            let _ = tx.send(CallEvent::Shutdown);
                        }
                        for i in 0..self.trunks.len() {
                            if let Some(req) = self.trunks[i].registration.unregister() {
                                self.send_register(i, req);
                            }
                        }
                    }
                }
            }
        }
        self.flush(&mut calls, &cmd_tx).await;
    }

    fn on_register(&mut self, id: ServerTxId, request: Box<rsip::Request>, source: Flow) {
        let now = Instant::now().into_std();
        self.registrar.sweep(now);
        match self.registrar.begin(now, &request, source.remote.ip()) {
            Begin::Answer(answer) => self.answer_register(id, request, source, answer),
            Begin::NeedCredentials { username } => {
                let (store, tx) = (self.ctx.store.clone(), self.register_steps.0.clone());
                tokio::spawn(async move {
                    let credentials = match store.operator_by_extension(&username).await {
                        Ok(Some(op)) if op.disabled_at.is_none() => Ok(Some(Credentials {
                            ha1_md5: op.ha1_md5,
                            ha1_sha256: op.ha1_sha256,
                        })),
                        Ok(_) => Ok(None),
                        Err(e) => {
                            warn!(error = %e, "operator lookup failed");
                            Err(())
                        }
                    };
                    let _ = tx.send(RegisterStep {
                        id,
                        request,
                        source,
                        credentials,
                    });
                });
            }
        }
    }

    fn register_step(&mut self, step: RegisterStep) {
        let RegisterStep {
            id,
            request,
            source,
            credentials,
        } = step;
        let Ok(credentials) = credentials else {
            let answer = Answer {
                code: 503,
                headers: vec![("Retry-After", "5".into())],
                reason: "database unavailable",
            };
            return self.answer_register(id, request, source, answer);
        };
        let now = Instant::now().into_std();
        let answer = self
            .registrar
            .finish(now, &request, source, credentials.as_ref());
        let user = crate::sip::msg::first_header(request.as_ref(), "To")
            .as_deref()
            .and_then(crate::sip::msg::addr_uri)
            .and_then(crate::sip::msg::uri_user)
            .unwrap_or("")
            .to_string();
        if answer.code == 200 && !self.registrar.contacts(&user, now).is_empty() {
            if self.registered.insert(user.clone()) && self.ctx.login_on_register {
                self.ctx.queues.phone_registered(&user);
            }
        } else if answer.code == 200 {
            self.check_registrations(now);
        }
        if answer.code == 200 {
            info!(extension = %Untrusted(&user), from = %source.remote, contacts = self.registrar.contacts(&user, now).len(), "registered");
        } else if answer.code == 403 {
            warn!(extension = %Untrusted(&user), from = %source.remote, reason = answer.reason, failures = self.registrar.failures(source.remote.ip()), "registration refused");
        }
        self.answer_register(id, request, source, answer);
    }

    /// Logs out operators whose last registration ended (unregistered or
    /// expired).
    fn check_registrations(&mut self, now: std::time::Instant) {
        let gone: Vec<String> = self
            .registered
            .iter()
            .filter(|ext| self.registrar.contacts(ext, now).is_empty())
            .cloned()
            .collect();
        for ext in gone {
            self.registered.remove(&ext);
            info!(extension = %ext, "no registration left");
            if self.ctx.login_on_register {
                self.ctx.queues.phone_gone(&ext);
            }
        }
    }

    /// Rings every registered contact of the operator's extension.
    fn ring(&mut self, request: RingRequest, calls: &Calls) {
        let RingRequest {
            call,
            operator,
            extension,
            caller,
            display,
            sdp,
        } = request;
        let now = Instant::now().into_std();
        let contacts = self.contacts_of(&extension, now);
        if contacts.is_empty() {
            info!(%call, %operator, %extension, "no registered phone to ring");
            calls.send(
                &call,
                CallEvent::OperatorFailed {
                    operator,
                    code: 480,
                },
            );
            return;
        }
        let fork = contacts
            .into_iter()
            .map(|(contact, flow)| {
                self.endpoint.invite(
                    now,
                    flow,
                    &contact,
                    &caller,
                    display.as_deref(),
                    sdp.clone(),
                )
            })
            .collect();
        self.legs.rang(call, operator, fork);
    }

    /// Where an operator's extension is rung: its registered contacts,
    /// else (behind a PBX) the member trunk, whose dialplan rings it.
    fn contacts_of(&self, extension: &str, now: std::time::Instant) -> Vec<(String, Flow)> {
        let mut contacts: Vec<(String, Flow)> = self
            .registrar
            .contacts(extension, now)
            .into_iter()
            .map(|b| (b.contact.clone(), b.flow))
            .collect();
        if let (true, Some(trunk)) = (contacts.is_empty(), &self.member_trunk) {
            let flow = Flow {
                transport: Transport::Udp,
                remote: trunk.address,
            };
            contacts.push((format!("sip:{extension}@{}", trunk.host), flow));
        }
        contacts
    }

    /// Stops ringing the operator for the call (legs not yet answered).
    fn cancel_ring(&mut self, call: CallId, operator: OperatorId) {
        let now = Instant::now().into_std();
        for leg in self.legs.cancel(&call, &operator) {
            self.endpoint.end_leg(now, &leg);
        }
    }

    /// A leg event, to the call that owns the leg.
    fn leg_event(&mut self, event: Event, calls: &Calls) {
        let now = Instant::now().into_std();
        let event = match self.outbound_event(event) {
            Some(event) => event,
            None => return,
        };
        for step in self.legs.on_event(event) {
            match step {
                Step::Deliver { call, leg, event } => {
                    if !calls.send(&call, event) {
                        // The call is gone: end what it left behind.
                        self.endpoint.end_leg(now, &leg);
                    }
                }
                Step::EndLeg(leg) => self.endpoint.end_leg(now, &leg),
                Step::RefuseReInvite(leg) => {
                    self.endpoint.respond_to_leg_reinvite(now, &leg, 481, None)
                }
                Step::RefuseRefer(leg) => self.endpoint.notify_transfer(now, &leg, 481),
            }
        }
    }

    /// A leg event of a call we placed, to that call (`None` then); any
    /// other is given back.
    fn outbound_event(&mut self, event: Event) -> Option<Event> {
        let now = Instant::now().into_std();
        let key = match &event {
            Event::LegProgress { key, .. }
            | Event::LegAnswered { key, .. }
            | Event::LegFailed { key, .. }
            | Event::LegEnded { key }
            | Event::LegTerminated { key }
            | Event::LegInfo { key, .. }
            | Event::LegRefer { key, .. }
            | Event::LegReInvite { key, .. }
            | Event::LegConfirmed { key, .. } => key.clone(),
            _ => return Some(event),
        };
        let Some((_, tx)) = self.outbound.get(&key) else {
            return Some(event);
        };
        let told = match event {
            Event::LegProgress { code, body, .. } => Some(CallEvent::Progress { code, body }),
            Event::LegAnswered { body, .. } => Some(CallEvent::Answered { body }),
            Event::LegFailed { code, .. } => Some(CallEvent::Failed { code }),
            Event::LegEnded { .. } => Some(CallEvent::RemoteHangup),
            Event::LegTerminated { .. } => Some(CallEvent::Terminated),
            Event::LegInfo { request, .. } => Some(CallEvent::Info { request }),
            Event::LegReInvite { .. } => {
                // A citizen's phone has no business moving the media of a
                // short survey: refused, the call goes on as it was.
                self.endpoint.respond_to_leg_reinvite(now, &key, 488, None);
                None
            }
            Event::LegRefer { .. } => {
                self.endpoint.notify_transfer(now, &key, 603);
                None
            }
            _ => None,
        };
        if let Some(told) = told {
            let gone = matches!(
                told,
                CallEvent::Failed { .. } | CallEvent::RemoteHangup | CallEvent::Terminated
            );
            if tx.send(told).is_err() {
                self.endpoint.end_leg(now, &key);
            }
            if gone {
                self.outbound.remove(&key);
            }
        }
        None
    }

    /// The call is over: whatever it still rings or talks to ends too.
    fn end_legs_of(&mut self, call: &CallId) {
        let now = Instant::now().into_std();
        for leg in self.legs.call_over(call) {
            self.endpoint.end_leg(now, &leg);
        }
    }

    fn answer_register(
        &mut self,
        id: ServerTxId,
        request: Box<rsip::Request>,
        source: Flow,
        answer: Answer,
    ) {
        let headers: Vec<(&str, String)> = answer
            .headers
            .iter()
            .map(|(n, v)| (*n, v.clone()))
            .collect();
        self.endpoint.respond(
            Instant::now().into_std(),
            &id,
            &request,
            source,
            answer.code,
            &headers,
        );
    }

    fn send_register(&mut self, i: usize, req: rsip::Request) {
        let flow = Flow {
            transport: Transport::Udp,
            remote: self.trunks[i].registrar,
        };
        let host = self.trunks[i].registration.contact_host().to_string();
        let id = self
            .endpoint
            .send_request(Instant::now().into_std(), flow, req, Some(&host));
        self.trunks[i].pending = Some(id);
    }

    fn command(&mut self, cmd: Command, calls: &mut Calls) {
        let now = Instant::now().into_std();
        // The dialog of the call a command is for; a call whose dialog is
        // gone (it ended meanwhile) has nothing left to do at the SIP level.
        let key = |call: &CallId| {
            calls
                .key(call)
                .cloned()
                .ok_or(crate::sip::endpoint::EndpointError::UnknownCall)
        };
        let result = match cmd {
            Command::Respond { call, code, body } => key(&call).and_then(|key| {
                let body = body.map(|b| ("application/sdp", b));
                self.endpoint.respond_to_call(now, &key, code, &[], body)
            }),
            Command::Answer { call, body, sent } => {
                let result = key(&call).and_then(|key| {
                    let body = Some(("application/sdp", body));
                    self.endpoint.respond_to_call(now, &key, 200, &[], body)
                });
                if result.is_ok() {
                    self.admission.answered(now, call);
                }
                let _ = sent.send(result.is_ok());
                result
            }
            Command::RespondReInvite { call, code, body } => key(&call).and_then(|key| {
                let body = body.map(|b| ("application/sdp", b));
                self.endpoint.respond_to_reinvite(now, &key, code, body)
            }),
            Command::Hangup { call } => key(&call).and_then(|key| self.endpoint.hangup(now, &key)),
            Command::LocalHost { call, host } => {
                key(&call).and_then(|key| self.endpoint.set_local_host(&key, host))
            }
            Command::Done { call } => {
                let placed: Vec<_> = self
                    .outbound
                    .iter()
                    .filter(|(_, (id, _))| *id == call)
                    .map(|(leg, _)| leg.clone())
                    .collect();
                for leg in placed {
                    self.outbound.remove(&leg);
                    self.endpoint.end_leg(now, &leg);
                }
                self.admission.ended(call);
                self.publish_admission();
                calls.remove(&call);
                self.end_legs_of(&call);
                Ok(())
            }
            Command::Ring(request) => {
                self.ring(request, calls);
                Ok(())
            }
            Command::CancelRing { call, operator } => {
                self.cancel_ring(call, operator);
                Ok(())
            }
            Command::EndLeg { leg } => {
                self.endpoint.end_leg(now, &leg);
                Ok(())
            }
            Command::RespondLegReInvite { leg, code, body } => {
                let body = body.map(|b| ("application/sdp", b));
                self.endpoint.respond_to_leg_reinvite(now, &leg, code, body);
                Ok(())
            }
            Command::NotifyTransfer { leg, code } => {
                self.endpoint.notify_transfer(now, &leg, code);
                Ok(())
            }
            Command::DialExtension {
                call,
                extension,
                mut dial,
                events,
                leg,
            } => {
                let contact = self.contacts_of(&extension, now).into_iter().next();
                let key = contact.map(|(target, flow)| {
                    dial.target = target;
                    let key = self.endpoint.dial(now, flow, *dial);
                    self.outbound.insert(key.clone(), (call, events));
                    key
                });
                let _ = leg.send(key);
                Ok(())
            }
            Command::Dial {
                call,
                flow,
                dial,
                events,
                leg,
            } => {
                let key = self.endpoint.dial(now, flow, *dial);
                self.outbound.insert(key.clone(), (call, events));
                let _ = leg.send(key);
                Ok(())
            }
        };
        if let Err(e) = result {
            // Races are normal here (the caller hung up while we answered).
            tracing::debug!(error = %e, "call command not applied");
        }
    }

    /// Admission control for a new INVITE: `false` when it is refused, with
    /// 503 and no call task, row or file (a flood costs nothing to keep).
    fn admit(&mut self, id: CallId, key: &CallKey, request: &rsip::Request, source: Flow) -> bool {
        let now = Instant::now().into_std();
        let origin = self.ctx.origin_of(source.remote.ip());
        let (source_key, limits) = match origin {
            Some(peer) => (
                SourceKey::Caller {
                    peer: source.remote.ip(),
                    caller: crate::call::caller_number(request, true),
                },
                peer.admission.unwrap_or(self.admission.default_limits()),
            ),
            None => (
                SourceKey::Address(source.remote.ip()),
                self.admission.default_limits(),
            ),
        };
        let was_flooding = self.admission.flooding(now, &source_key);
        let Err(refusal) = self.admission.offer(now, id, source_key.clone(), &limits) else {
            return true;
        };
        crate::metrics::Metrics::add(&self.ctx.metrics.calls_flood_refused_total, 1);
        if !was_flooding && self.admission.flooding(now, &source_key) {
            let caller = match &source_key {
                SourceKey::Caller { caller, .. } => Pii(caller.clone()).to_string(),
                SourceKey::Address(_) => "-".into(),
            };
            warn!(from = %source.remote, %caller, limit = refusal.as_str(), "a source over its limits: its new calls get 503 for now");
        }
        let retry = [("Retry-After", "10".to_string())];
        let _ = self.endpoint.respond_to_call(now, key, 503, &retry, None);
        false
    }

    /// Tells the call context how many calls are established (`max_calls`).
    fn publish_admission(&self) {
        self.ctx.established.store(
            self.admission.established(),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// A flooding source's 2xx that has waited `quick_ack` for its ACK is
    /// given up on (BYE, and the call ends as if Timer H had run out).
    fn give_up_overdue_acks(&mut self, now: std::time::Instant, calls: &Calls) {
        for call in self.admission.overdue(now) {
            if let Some(key) = calls.key(&call) {
                self.endpoint.give_up_ack(now, key);
            }
            self.admission.ended(call);
        }
    }

    /// Carries out everything the endpoint has queued.
    async fn flush(&mut self, calls: &mut Calls, cmd_tx: &mpsc::UnboundedSender<Command>) {
        while let Some(output) = self.endpoint.poll_output() {
            match output {
                Output::Transmit(t) => self.transport.send(t).await,
                Output::Event(event) => self.dispatch(event, calls, cmd_tx),
            }
        }
    }

    fn dispatch(
        &mut self,
        event: Event,
        calls: &mut Calls,
        cmd_tx: &mpsc::UnboundedSender<Command>,
    ) {
        let (key, call_event) = match event {
            Event::IncomingCall {
                key,
                request,
                source,
            } => {
                // Our id for the call from here on, everywhere.
                let id = CallId::random();
                if !self.admit(id, &key, &request, source) {
                    return;
                }
                let (tx, rx) = mpsc::unbounded_channel();
                calls.insert(id, key, tx);
                tokio::spawn(crate::call::run(
                    self.ctx.clone(),
                    id,
                    request,
                    source,
                    rx,
                    cmd_tx.clone(),
                ));
                return;
            }
            Event::Register {
                id,
                request,
                source,
            } => return self.on_register(id, request, source),
            Event::LegProgress { .. }
            | Event::LegAnswered { .. }
            | Event::LegFailed { .. }
            | Event::LegEnded { .. }
            | Event::LegTerminated { .. }
            | Event::LegRefer { .. }
            | Event::LegReInvite { .. }
            | Event::LegInfo { .. }
            | Event::LegConfirmed { .. } => return self.leg_event(event, calls),
            Event::CallCancelled { key } => (key, CallEvent::Cancelled),
            Event::CallConfirmed { key, body } => {
                if let Some(id) = calls.by_key.get(&key) {
                    self.admission.confirmed(*id);
                    self.publish_admission();
                }
                (key, CallEvent::Confirmed { body })
            }
            Event::ReInvite { key, request } => (key, CallEvent::ReInvite { request }),
            Event::Info { key, request } => (key, CallEvent::Info { request }),
            Event::RemoteHangup { key } => (key, CallEvent::RemoteHangup),
            Event::CallTerminated { key } => (key, CallEvent::Terminated),
            Event::AckTimeout { key } => (key, CallEvent::AckTimeout),
            Event::Response { id, response } => {
                let now = Instant::now().into_std();
                if let Some(i) = self
                    .trunks
                    .iter()
                    .position(|t| t.pending.as_ref() == Some(&id))
                {
                    self.trunks[i].pending = None;
                    if let Some(req) = self.trunks[i].registration.on_response(now, &response) {
                        self.send_register(i, req);
                    }
                }
                return;
            }
            Event::RequestTimedOut { id } => {
                let now = Instant::now().into_std();
                if let Some(t) = self
                    .trunks
                    .iter_mut()
                    .find(|t| t.pending.as_ref() == Some(&id))
                {
                    t.pending = None;
                    t.registration.on_timeout(now);
                }
                return;
            }
        };
        calls.send_by_key(&key, call_event);
    }
}
