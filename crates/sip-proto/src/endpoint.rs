//! The SIP user-agent core: transactions, the calls we answer as UAS, and
//! the requests we send (BYE, REGISTER, OPTIONS).
//!
//! Sans-IO in the str0m style: feed it datagrams/stream frames with
//! [`Endpoint::handle_input`] and the time with [`Endpoint::handle_timeout`];
//! take what it wants sent and what it wants the TU (the call layer) to know
//! from [`Endpoint::poll_output`]; sleep until [`Endpoint::poll_timeout`].
//! The TU answers calls and hangs them up through methods that also take
//! the time. No clock, no socket, no async in here.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rsip::headers::UntypedHeader;
use rsip::{Method, Request, Response, SipMessage};
use tracing::{debug, warn};

use super::dialog::Dialog;
use super::legs::{Leg, LegKey};
use super::msg::{self, ViaInfo};
use super::timer::TimerConfig;
use super::transaction::{
    ClientTransaction, InviteClientTransaction, ServerState, ServerTransaction, TimerOutcome,
};
use super::{ALLOW, Flow, Transport, wire};

/// Identifies a call we answer: its Call-ID and the caller's From tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey(String);

impl CallKey {
    /// A call is known by its Call-ID and the caller's From tag.
    pub fn new(call_id: &str, from_tag: &str) -> Self {
        CallKey(format!("{call_id};{from_tag}"))
    }
}

impl std::fmt::Display for CallKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identifies a client transaction we started (its branch).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientTxId(pub String);

/// A server transaction the TU answers itself (REGISTER).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerTxId(TxKey);

/// RFC 3261 §17.2.3 server transaction key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct TxKey {
    branch: String,
    sent_by: String,
    /// rsip's Method is not Hash; its printed name serves.
    method: String,
}

#[derive(Debug, Clone)]
pub struct EndpointConfig {
    pub timers: TimerConfig,
    /// `host:port` we put in Via and Contact (the public address).
    pub advertised: String,
    /// Options in `Require` we support (none yet: no 100rel, no timer).
    pub supported: Vec<String>,
    /// How long the TU may take to answer an INVITE before the endpoint
    /// answers 500 itself (longer than any configured ringing time).
    pub answer_guard: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EndpointError {
    #[error("no such call")]
    UnknownCall,
    #[error("the call is not in a state that allows this ({0})")]
    WrongState(&'static str),
    #[error(transparent)]
    Message(#[from] msg::MessageError),
}

/// Something the TU must know.
#[derive(Debug, Clone)]
pub enum Event {
    /// A new INVITE. The endpoint has sent 100 Trying; the TU must answer
    /// with [`Endpoint::respond_to_call`].
    IncomingCall {
        key: CallKey,
        request: Box<Request>,
        source: Flow,
    },
    /// CANCEL arrived before we answered; 487 has been sent.
    CallCancelled { key: CallKey },
    /// The ACK for our 2xx arrived (with its body, if the offer was ours).
    /// For a re-INVITE, sent only when the ACK carries an answer.
    CallConfirmed { key: CallKey, body: Vec<u8> },
    /// A re-INVITE; answer with [`Endpoint::respond_to_reinvite`].
    ReInvite { key: CallKey, request: Box<Request> },
    /// An in-dialog INFO (DTMF relay from trunks); already answered 200.
    Info { key: CallKey, request: Box<Request> },
    /// The caller sent BYE; already answered 200. The call is over.
    RemoteHangup { key: CallKey },
    /// Our BYE finished (answered, or timed out): the dialog is gone.
    CallTerminated { key: CallKey },
    /// Our 2xx was never acknowledged; BYE has been sent (§13.3.1.4).
    AckTimeout { key: CallKey },
    /// A response to a request sent with [`Endpoint::send_request`].
    Response {
        id: ClientTxId,
        response: Box<Response>,
    },
    /// No final response arrived in time (Timer F).
    RequestTimedOut { id: ClientTxId },
    /// An outgoing leg got a provisional response (180, 183…), with its
    /// SDP if it brings early media.
    LegProgress {
        key: LegKey,
        code: u16,
        body: Vec<u8>,
    },
    /// An INFO on an answered leg (DTMF relay); already answered 200.
    LegInfo { key: LegKey, request: Box<Request> },
    /// An outgoing leg was answered (ACK sent); the SDP answer.
    LegAnswered { key: LegKey, body: Vec<u8> },
    /// An outgoing leg failed: a final error, a timeout (408), or our
    /// CANCEL (487).
    LegFailed { key: LegKey, code: u16 },
    /// The far end of a leg hung up (BYE, answered 200).
    LegEnded { key: LegKey },
    /// Our BYE on a leg finished.
    LegTerminated { key: LegKey },
    /// The far end of a leg asks to transfer the call there (REFER,
    /// answered 202); report the outcome with
    /// [`Endpoint::notify_transfer`].
    LegRefer { key: LegKey, target: String },
    /// The far end of a leg sent a re-INVITE (hold, resume); answer with
    /// [`Endpoint::respond_to_leg_reinvite`].
    LegReInvite { key: LegKey, request: Box<Request> },
    /// The ACK of our 2xx to an offer-less re-INVITE on a leg, with the
    /// answer to the offer we put in it.
    LegConfirmed { key: LegKey, body: Vec<u8> },
    /// A REGISTER; answer it with [`Endpoint::respond`].
    Register {
        id: ServerTxId,
        request: Box<Request>,
        source: Flow,
    },
}

/// Bytes for the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub flow: Flow,
    pub bytes: Vec<u8>,
}

#[derive(Debug)]
pub enum Output {
    Transmit(Transmit),
    Event(Event),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    /// INVITE received, no final response yet.
    Early,
    /// 2xx sent, ACK not yet received.
    Accepted,
    Confirmed,
    /// Our BYE is under way.
    Terminating,
}

#[derive(Debug)]
struct Call {
    invite_tx: TxKey,
    request: Request,
    source: SocketAddr,
    local_tag: String,
    state: CallState,
    dialog: Option<Dialog>,
    /// The INVITE transaction whose 2xx awaits its ACK, with its CSeq.
    awaiting_ack: Option<(TxKey, u32)>,
    /// A re-INVITE the TU has not answered yet.
    reinvite: Option<(TxKey, Request)>,
    /// Hang up as soon as the 2xx is acknowledged (BYE may not precede ACK).
    bye_when_acked: bool,
    /// `host:port` for this call's Contact and Via, when the TU chose one
    /// (the address facing this peer); else the configured one.
    local_host: Option<String>,
}

#[derive(Debug)]
pub(super) struct ServerEntry {
    pub(super) tx: ServerTransaction,
    call: Option<CallKey>,
}

#[derive(Debug)]
pub(super) enum ClientOwner {
    Bye(CallKey),
    Tu,
    /// Our BYE or CANCEL on an outgoing leg.
    Leg(LegKey),
    /// Nobody waits for the answer (NOTIFY of a transfer's outcome).
    Quiet,
}

#[derive(Debug)]
struct ClientEntry {
    tx: ClientTransaction,
    owner: ClientOwner,
}

pub struct Endpoint {
    pub(super) cfg: EndpointConfig,
    pub(super) server: HashMap<TxKey, ServerEntry>,
    client: HashMap<String, ClientEntry>,
    calls: HashMap<CallKey, Call>,
    /// (Call-ID, our tag) → call, to find the dialog of in-dialog requests.
    dialogs: HashMap<(String, String), CallKey>,
    /// Outgoing legs (ringing operators), their INVITE transactions by
    /// branch, and their dialogs by (Call-ID, our tag).
    pub(super) legs: HashMap<LegKey, Leg>,
    pub(super) invites: HashMap<String, (InviteClientTransaction, LegKey)>,
    pub(super) leg_dialogs: HashMap<(String, String), LegKey>,
    outputs: VecDeque<Output>,
    accepting: bool,
}

impl Endpoint {
    pub fn new(cfg: EndpointConfig) -> Self {
        Self {
            cfg,
            server: HashMap::new(),
            client: HashMap::new(),
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            legs: HashMap::new(),
            invites: HashMap::new(),
            leg_dialogs: HashMap::new(),
            outputs: VecDeque::new(),
            accepting: true,
        }
    }

    /// Stop taking new calls: further INVITEs get 503 (graceful shutdown).
    pub fn stop_accepting(&mut self) {
        self.accepting = false;
    }

    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Transactions in flight: zero once everything has settled.
    pub fn transaction_count(&self) -> usize {
        self.server.len() + self.client.len()
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let server = self.server.values().filter_map(|e| e.tx.next_timeout());
        let client = self.client.values().filter_map(|e| e.tx.next_timeout());
        let invites = self
            .invites
            .values()
            .filter_map(|(tx, _)| tx.next_timeout());
        server.chain(client).chain(invites).min()
    }

    /// Bytes arrived: a datagram, or one message framed off a stream.
    pub fn handle_input(&mut self, now: Instant, flow: Flow, bytes: &[u8]) {
        match wire::parse(bytes) {
            Ok(SipMessage::Request(req)) => self.on_request(now, flow, req),
            Ok(SipMessage::Response(resp)) => self.on_response(now, resp),
            Err(e) => {
                debug!(remote = %flow.remote, error = %e, "unparsable SIP message");
                if let Some(bytes) = wire::error_response(bytes, &e) {
                    self.transmit(flow, bytes);
                }
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<TxKey> = self
            .server
            .iter()
            .filter(|(_, e)| e.tx.next_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            while let Some(entry) = self.server.get_mut(&key) {
                let Some(timer) = entry.tx.take_expired(now) else {
                    break;
                };
                let outcome = entry.tx.on_timer(now, timer);
                let flow = entry.tx.flow;
                match outcome {
                    TimerOutcome::Retransmit(bytes) => self.transmit(flow, bytes),
                    TimerOutcome::Terminated => {
                        self.server.remove(&key);
                    }
                    TimerOutcome::AckTimeout => {
                        let call = self.server.remove(&key).and_then(|e| e.call);
                        if let Some(call) = call {
                            self.on_ack_timeout(now, call, &key);
                        }
                    }
                    TimerOutcome::Unanswered => {
                        let call = self.server.get(&key).and_then(|e| e.call.clone());
                        match call {
                            Some(call) => self.answer_overdue(now, call, &key),
                            None => self.leg_reinvite_overdue(now, &key),
                        }
                    }
                    TimerOutcome::Nothing | TimerOutcome::TimedOut => {}
                }
            }
        }
        self.leg_timeouts(now);
        let due: Vec<String> = self
            .client
            .iter()
            .filter(|(_, e)| e.tx.next_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for branch in due {
            while let Some(entry) = self.client.get_mut(&branch) {
                let Some(timer) = entry.tx.take_expired(now) else {
                    break;
                };
                let flow = entry.tx.flow;
                match entry.tx.on_timer(now, timer) {
                    TimerOutcome::Retransmit(bytes) => self.transmit(flow, bytes),
                    TimerOutcome::TimedOut => {
                        if let Some(entry) = self.client.remove(&branch) {
                            self.client_failed(entry.owner, branch.clone());
                        }
                    }
                    TimerOutcome::Terminated => {
                        self.client.remove(&branch);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Answers the initial INVITE of a call: provisional (1xx) or final.
    pub fn respond_to_call(
        &mut self,
        now: Instant,
        key: &CallKey,
        code: u16,
        extra: &[(&str, String)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(), EndpointError> {
        let call = self.calls.get(key).ok_or(EndpointError::UnknownCall)?;
        if call.state != CallState::Early {
            return Err(EndpointError::WrongState("the INVITE was already answered"));
        }
        let tx_key = call.invite_tx.clone();
        let mut resp = msg::response_to(&call.request, code, Some(&call.local_tag), call.source);
        let flow = self
            .server
            .get(&tx_key)
            .map(|e| e.tx.flow)
            .ok_or(EndpointError::UnknownCall)?;
        if (101..300).contains(&code) {
            for rr in msg::header_values(&call.request, "Record-Route") {
                msg::push_header(&mut resp, "Record-Route", rr);
            }
            msg::push_header(
                &mut resp,
                "Contact",
                contact_for(&self.host_of(key), flow.transport),
            );
        }
        if (200..300).contains(&code) {
            msg::push_header(&mut resp, "Allow", ALLOW);
        }
        finish_response(&mut resp, extra, body);
        let bytes = wire::serialize(&SipMessage::Response(resp));
        if let Some(entry) = self.server.get_mut(&tx_key) {
            entry.tx.send_response(now, code, bytes.clone());
        }
        self.transmit(flow, bytes);
        // `key` is known to exist: we looked it up above and nothing removed it.
        let call = self.calls.get_mut(key).ok_or(EndpointError::UnknownCall)?;
        if (200..300).contains(&code) {
            let dialog = Dialog::from_invite(&call.request, &call.local_tag, flow)?;
            self.dialogs.insert(
                (dialog.call_id.clone(), call.local_tag.clone()),
                key.clone(),
            );
            call.awaiting_ack = Some((tx_key, dialog.remote_seq));
            call.dialog = Some(dialog);
            call.state = CallState::Accepted;
        } else if code >= 300 {
            self.calls.remove(key);
        }
        Ok(())
    }

    /// Answers a request the TU was handed (REGISTER) with `code`, extra
    /// headers and no body. Returns false if the transaction is gone.
    pub fn respond(
        &mut self,
        now: Instant,
        id: &ServerTxId,
        request: &Request,
        source: Flow,
        code: u16,
        headers: &[(&str, String)],
    ) -> bool {
        let Some(entry) = self.server.get_mut(&id.0) else {
            return false;
        };
        let mut resp = msg::response_to(request, code, Some(&msg::random_token()), source.remote);
        finish_response(&mut resp, headers, None);
        let bytes = wire::serialize(&SipMessage::Response(resp));
        if !entry.tx.send_response(now, code, bytes.clone()) {
            return false;
        }
        let flow = entry.tx.flow;
        self.transmit(flow, bytes);
        true
    }

    /// Answers a pending re-INVITE.
    pub fn respond_to_reinvite(
        &mut self,
        now: Instant,
        key: &CallKey,
        code: u16,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(), EndpointError> {
        let host = self.host_of(key);
        let call = self.calls.get_mut(key).ok_or(EndpointError::UnknownCall)?;
        let (tx_key, request) = call
            .reinvite
            .take()
            .ok_or(EndpointError::WrongState("no re-INVITE pending"))?;
        let Some(entry) = self.server.get_mut(&tx_key) else {
            return Err(EndpointError::WrongState(
                "the re-INVITE transaction is gone",
            ));
        };
        let flow = entry.tx.flow;
        let mut resp = msg::response_to(&request, code, Some(&call.local_tag), call.source);
        if (200..300).contains(&code) {
            msg::push_header(&mut resp, "Contact", contact_for(&host, flow.transport));
            msg::push_header(&mut resp, "Allow", ALLOW);
        }
        finish_response(&mut resp, &[], body);
        let bytes = wire::serialize(&SipMessage::Response(resp));
        entry.tx.send_response(now, code, bytes.clone());
        if (200..300).contains(&code) {
            let (seq, _) = msg::cseq(&request)?;
            call.awaiting_ack = Some((tx_key, seq));
        }
        self.transmit(flow, bytes);
        Ok(())
    }

    /// Ends an answered call with BYE. Before the ACK, the BYE waits for it
    /// (or for Timer L). Calling it again, or on an ending call, is a no-op.
    pub fn hangup(&mut self, now: Instant, key: &CallKey) -> Result<(), EndpointError> {
        let call = self.calls.get_mut(key).ok_or(EndpointError::UnknownCall)?;
        match call.state {
            CallState::Early => Err(EndpointError::WrongState("not answered; reject it instead")),
            CallState::Accepted => {
                call.bye_when_acked = true;
                Ok(())
            }
            CallState::Confirmed => {
                self.send_bye(now, key);
                Ok(())
            }
            CallState::Terminating => Ok(()),
        }
    }

    /// Sends an out-of-dialog request (REGISTER, OPTIONS) in a new client
    /// transaction. Via, branch and Content-Length are filled in here.
    /// `via_host` is the `host:port` for our Via (the default when `None`).
    pub fn send_request(
        &mut self,
        now: Instant,
        flow: Flow,
        mut request: Request,
        via_host: Option<&str>,
    ) -> ClientTxId {
        let branch = msg::new_branch();
        let via = format!(
            "SIP/2.0/{} {};branch={branch};rport",
            flow.transport.via_name(),
            via_host.unwrap_or(&self.cfg.advertised)
        );
        let mut headers = rsip::Headers::default();
        headers.push(rsip::Header::Via(rsip::headers::Via::new(via)));
        for h in request
            .headers
            .iter()
            .filter(|h| !matches!(h, rsip::Header::Via(_)))
        {
            headers.push(h.clone());
        }
        request.headers = headers;
        self.start_client(now, flow, request, branch.clone(), ClientOwner::Tu);
        ClientTxId(branch)
    }

    /// The Contact we advertise by default.
    pub fn contact(&self, transport: Transport) -> String {
        contact_for(&self.cfg.advertised, transport)
    }

    /// Sets the `host:port` this call's Contact and Via carry: the address
    /// of ours that faces the caller, when we listen on every interface.
    pub fn set_local_host(&mut self, key: &CallKey, host: String) -> Result<(), EndpointError> {
        let call = self.calls.get_mut(key).ok_or(EndpointError::UnknownCall)?;
        call.local_host = Some(host);
        Ok(())
    }

    fn host_of(&self, key: &CallKey) -> String {
        self.calls
            .get(key)
            .and_then(|c| c.local_host.clone())
            .unwrap_or_else(|| self.cfg.advertised.clone())
    }

    pub fn advertised(&self) -> &str {
        &self.cfg.advertised
    }

    // ----- inbound requests -----

    fn on_request(&mut self, now: Instant, flow: Flow, req: Request) {
        let Ok(via) = msg::top_via(&req) else {
            debug!(remote = %flow.remote, "request without a usable Via dropped");
            return;
        };
        let resp_flow = response_flow(flow, &via);
        if let Err(reason) = validate(&req) {
            if req.method != Method::Ack {
                let mut resp = msg::response_to(&req, 400, Some(&msg::random_token()), flow.remote);
                msg::push_header(&mut resp, "Warning", format!("399 hotline \"{reason}\""));
                self.transmit(resp_flow, wire::serialize(&SipMessage::Response(resp)));
            }
            return;
        }
        let key = tx_key(&via, &req);
        match req.method {
            Method::Ack => return self.on_ack(now, req, key),
            Method::Cancel => return self.on_cancel(now, flow, resp_flow, req, key),
            _ => {}
        }
        if let Some(entry) = self.server.get(&key) {
            if let Some(bytes) = entry.tx.on_retransmission() {
                self.transmit(entry.tx.flow, bytes);
            }
            return;
        }
        if let Some((code, header)) = self.precheck(&req) {
            let mut resp = msg::response_to(&req, code, Some(&msg::random_token()), flow.remote);
            if let Some((name, value)) = header {
                msg::push_header(&mut resp, name, value);
            }
            return self.respond_new(now, key, resp_flow, resp, None);
        }
        // validate() checked that To parses, so to_tag() cannot fail here.
        if msg::to_tag(&req).ok().flatten().is_some() {
            self.on_in_dialog(now, flow, resp_flow, req, key);
        } else {
            self.on_out_of_dialog(now, flow, resp_flow, req, key);
        }
    }

    /// Checks that every request must pass before a transaction is made
    /// (§8.2.1–8.2.2): Max-Forwards, URI scheme, Require.
    fn precheck(&self, req: &Request) -> Option<(u16, Option<(&'static str, String)>)> {
        if let Some(mf) = msg::first_header(req, "Max-Forwards") {
            if mf.trim().parse::<u32>().ok() == Some(0) && req.method != Method::Options {
                return Some((483, None));
            }
        }
        let scheme = req
            .uri
            .to_string()
            .split(':')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if !matches!(scheme.as_str(), "sip" | "sips" | "tel") {
            return Some((416, None));
        }
        let unsupported: Vec<String> = msg::header_values(req, "Require")
            .into_iter()
            .filter(|opt| {
                !self
                    .cfg
                    .supported
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(opt))
            })
            .collect();
        if !unsupported.is_empty() {
            return Some((420, Some(("Unsupported", unsupported.join(", ")))));
        }
        unsupported_body(req)
    }

    fn on_out_of_dialog(
        &mut self,
        now: Instant,
        source: Flow,
        resp_flow: Flow,
        req: Request,
        key: TxKey,
    ) {
        let code = match req.method {
            Method::Invite => return self.on_new_invite(now, source, resp_flow, req, key),
            Method::Register => {
                // The TU answers once it has the credentials; until then
                // retransmissions are absorbed by the transaction (Trying).
                let tx = ServerTransaction::new(false, resp_flow, self.cfg.timers);
                self.server
                    .insert(key.clone(), ServerEntry { tx, call: None });
                return self.event(Event::Register {
                    id: ServerTxId(key),
                    request: Box::new(req),
                    source,
                });
            }
            Method::Options => 200,
            Method::Bye | Method::Info | Method::Update | Method::PRack | Method::Notify => 481,
            _ => 405,
        };
        let mut resp = msg::response_to(&req, code, Some(&msg::random_token()), source.remote);
        if code == 200 || code == 405 {
            msg::push_header(&mut resp, "Allow", ALLOW);
        }
        if code == 200 {
            msg::push_header(&mut resp, "Accept", "application/sdp");
        }
        self.respond_new(now, key, resp_flow, resp, None);
    }

    fn on_new_invite(
        &mut self,
        now: Instant,
        source: Flow,
        resp_flow: Flow,
        req: Request,
        key: TxKey,
    ) {
        // validate() guarantees Call-ID and From parse.
        let call_id = msg::call_id(&req).unwrap_or_default();
        let from_tag = msg::from_tag(&req).ok().flatten().unwrap_or_default();
        let call_key = CallKey::new(&call_id, &from_tag);
        if !self.accepting {
            let mut resp = msg::response_to(&req, 503, Some(&msg::random_token()), source.remote);
            msg::push_header(&mut resp, "Retry-After", "30");
            return self.respond_new(now, key, resp_flow, resp, None);
        }
        if self.calls.contains_key(&call_key) {
            // Same Call-ID and From tag on a new branch: a merged request
            // that forked and came back to us (§8.2.2.2).
            let resp = msg::response_to(&req, 482, Some(&msg::random_token()), source.remote);
            return self.respond_new(now, key, resp_flow, resp, None);
        }
        let local_tag = msg::random_token();
        let trying = msg::response_to(&req, 100, None, source.remote);
        self.respond_new(now, key.clone(), resp_flow, trying, Some(call_key.clone()));
        self.calls.insert(
            call_key.clone(),
            Call {
                invite_tx: key,
                request: req.clone(),
                source: source.remote,
                local_tag,
                state: CallState::Early,
                dialog: None,
                awaiting_ack: None,
                reinvite: None,
                bye_when_acked: false,
                local_host: None,
            },
        );
        self.event(Event::IncomingCall {
            key: call_key,
            request: Box::new(req),
            source,
        });
    }

    fn on_in_dialog(
        &mut self,
        now: Instant,
        source: Flow,
        resp_flow: Flow,
        req: Request,
        key: TxKey,
    ) {
        let call_id = msg::call_id(&req).unwrap_or_default();
        let local_tag = msg::to_tag(&req).ok().flatten().unwrap_or_default();
        let Some(call_key) = self
            .dialogs
            .get(&(call_id.clone(), local_tag.clone()))
            .cloned()
        else {
            if let Some(leg) = self.leg_dialogs.get(&(call_id, local_tag)).cloned() {
                return self.on_leg_request(now, source, resp_flow, req, key, leg);
            }
            let resp = msg::response_to(&req, 481, None, source.remote);
            return self.respond_new(now, key, resp_flow, resp, None);
        };
        // The dialog index only holds calls that exist and have a dialog.
        let Some(call) = self.calls.get_mut(&call_key) else {
            return;
        };
        let Some(dialog) = call.dialog.as_mut() else {
            return;
        };
        let seq = msg::cseq(&req).map(|(n, _)| n).unwrap_or(0);
        if seq <= dialog.remote_seq {
            // Lower CSeq than one already seen: out of order (§12.2.2).
            let resp = msg::response_to(&req, 500, None, source.remote);
            return self.respond_new(now, key, resp_flow, resp, None);
        }
        dialog.remote_seq = seq;
        let ok = |req: &Request| msg::response_to(req, 200, None, source.remote);
        match req.method {
            Method::Bye => {
                let resp = ok(&req);
                self.respond_new(now, key, resp_flow, resp, None);
                self.remove_call(&call_key);
                self.event(Event::RemoteHangup { key: call_key });
            }
            Method::Invite if call.state == CallState::Terminating => {
                // Our BYE is under way: the session is ending, not changing.
                let resp = msg::response_to(&req, 481, None, source.remote);
                self.respond_new(now, key, resp_flow, resp, None);
            }
            Method::Invite => {
                if call.reinvite.is_some() || call.awaiting_ack.is_some() {
                    // §14.2: an INVITE while another is pending gets 500
                    // with a Retry-After chosen at random in 0–10 s.
                    let mut resp = msg::response_to(&req, 500, None, source.remote);
                    msg::push_header(
                        &mut resp,
                        "Retry-After",
                        format!("{}", rand::random::<u8>() % 10),
                    );
                    return self.respond_new(now, key, resp_flow, resp, None);
                }
                dialog.refresh_target(&req);
                call.reinvite = Some((key.clone(), req.clone()));
                let trying = msg::response_to(&req, 100, None, source.remote);
                self.respond_new(now, key, resp_flow, trying, Some(call_key.clone()));
                self.event(Event::ReInvite {
                    key: call_key,
                    request: Box::new(req),
                });
            }
            Method::Info => {
                let resp = ok(&req);
                self.respond_new(now, key, resp_flow, resp, None);
                self.event(Event::Info {
                    key: call_key,
                    request: Box::new(req),
                });
            }
            Method::Options => {
                let mut resp = ok(&req);
                msg::push_header(&mut resp, "Allow", ALLOW);
                self.respond_new(now, key, resp_flow, resp, None);
            }
            _ => {
                let mut resp = msg::response_to(&req, 405, None, source.remote);
                msg::push_header(&mut resp, "Allow", ALLOW);
                self.respond_new(now, key, resp_flow, resp, None);
            }
        }
    }

    fn on_ack(&mut self, now: Instant, req: Request, key: TxKey) {
        let invite_key = TxKey {
            method: Method::Invite.to_string(),
            ..key
        };
        if let Some(entry) = self.server.get_mut(&invite_key) {
            if entry.tx.state == ServerState::Completed {
                // ACK to our non-2xx: part of the INVITE transaction.
                entry.tx.on_ack(now);
                return;
            }
        }
        let call_id = msg::call_id(&req).unwrap_or_default();
        let local_tag = msg::to_tag(&req).ok().flatten().unwrap_or_default();
        let Some(call_key) = self
            .dialogs
            .get(&(call_id.clone(), local_tag.clone()))
            .cloned()
        else {
            if !self.on_leg_ack(call_id, local_tag, &req) {
                debug!("stray ACK dropped");
            }
            return;
        };
        let Some(call) = self.calls.get_mut(&call_key) else {
            return;
        };
        let seq = msg::cseq(&req).map(|(n, _)| n).unwrap_or(0);
        let Some((tx, awaited)) = call.awaiting_ack.clone() else {
            return;
        };
        if awaited != seq {
            return;
        }
        call.awaiting_ack = None;
        if let Some(entry) = self.server.get_mut(&tx) {
            entry.tx.on_2xx_acked();
        }
        if call.state == CallState::Accepted {
            call.state = CallState::Confirmed;
            let bye = call.bye_when_acked;
            self.event(Event::CallConfirmed {
                key: call_key.clone(),
                body: req.body.clone(),
            });
            if bye {
                self.send_bye(now, &call_key);
            }
        } else if !req.body.is_empty() {
            // The answer to an offer we made in a re-INVITE's 2xx.
            self.event(Event::CallConfirmed {
                key: call_key,
                body: req.body.clone(),
            });
        }
    }

    fn on_cancel(&mut self, now: Instant, source: Flow, resp_flow: Flow, req: Request, key: TxKey) {
        if let Some(entry) = self.server.get(&key) {
            // A retransmitted CANCEL.
            if let Some(bytes) = entry.tx.on_retransmission() {
                self.transmit(entry.tx.flow, bytes);
            }
            return;
        }
        let invite_key = TxKey {
            method: Method::Invite.to_string(),
            ..key.clone()
        };
        let Some(invite) = self.server.get(&invite_key) else {
            let resp = msg::response_to(&req, 481, None, source.remote);
            return self.respond_new(now, key, resp_flow, resp, None);
        };
        let call_key = invite.call.clone();
        let pending = invite.tx.final_code.is_none();
        let local_tag = call_key
            .as_ref()
            .and_then(|k| self.calls.get(k))
            .map(|c| c.local_tag.clone());
        let resp = msg::response_to(&req, 200, local_tag.as_deref(), source.remote);
        self.respond_new(now, key, resp_flow, resp, None);
        if let (true, Some(call_key)) = (pending, call_key) {
            // §9.2: the INVITE gets 487 once CANCEL is accepted.
            if self.respond_to_call(now, &call_key, 487, &[], None).is_ok() {
                self.event(Event::CallCancelled { key: call_key });
            }
        }
    }

    // ----- inbound responses -----

    fn on_response(&mut self, now: Instant, resp: Response) {
        let Ok(via) = msg::top_via(&resp) else { return };
        let Some(branch) = via.branch else { return };
        let code = resp.status_code.code();
        // A CANCEL shares its INVITE's branch: tell them apart by CSeq.
        let method = msg::cseq(&resp).map(|(_, m)| m).ok();
        if method == Some(Method::Invite) && self.invites.contains_key(&branch) {
            return self.on_leg_response(now, &branch, resp);
        }
        let branch = if method == Some(Method::Cancel)
            && self.client.contains_key(&format!("{branch};cancel"))
        {
            format!("{branch};cancel")
        } else {
            branch
        };
        let Some(entry) = self.client.get_mut(&branch) else {
            debug!(code, "stray response dropped");
            return;
        };
        if !entry.tx.on_response(now, code) || code < 200 {
            return;
        }
        match &entry.owner {
            ClientOwner::Quiet => {}
            ClientOwner::Tu => self.event(Event::Response {
                id: ClientTxId(branch),
                response: Box::new(resp),
            }),
            ClientOwner::Bye(key) => {
                let key = key.clone();
                self.remove_call(&key);
                self.event(Event::CallTerminated { key });
            }
            ClientOwner::Leg(key) => {
                let key = key.clone();
                self.leg_request_done(key);
            }
        }
    }

    // ----- helpers -----

    /// Creates a server transaction for `req` and sends its first response.
    pub(super) fn respond_new(
        &mut self,
        now: Instant,
        key: TxKey,
        flow: Flow,
        resp: Response,
        call: Option<CallKey>,
    ) {
        let invite = key.method == Method::Invite.to_string();
        let code = resp.status_code.code();
        let bytes = wire::serialize(&SipMessage::Response(resp));
        let mut tx = ServerTransaction::new(invite, flow, self.cfg.timers);
        if invite && code < 200 {
            tx.guard_answer(now + self.cfg.answer_guard);
        }
        tx.send_response(now, code, bytes.clone());
        self.server.insert(key, ServerEntry { tx, call });
        self.transmit(flow, bytes);
    }

    pub(super) fn start_client(
        &mut self,
        now: Instant,
        flow: Flow,
        request: Request,
        branch: String,
        owner: ClientOwner,
    ) {
        let bytes = wire::serialize(&SipMessage::Request(request));
        let tx = ClientTransaction::start(now, flow, bytes.clone(), self.cfg.timers);
        self.client.insert(branch, ClientEntry { tx, owner });
        self.transmit(flow, bytes);
    }

    fn send_bye(&mut self, now: Instant, key: &CallKey) {
        let advertised = self.host_of(key);
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        let Some(dialog) = call.dialog.as_mut() else {
            return;
        };
        call.state = CallState::Terminating;
        let (bye, branch) = dialog.bye(&advertised);
        let flow = dialog.flow;
        self.start_client(now, flow, bye, branch, ClientOwner::Bye(key.clone()));
    }

    /// The TU never answered an INVITE: 500, so the caller is not left
    /// waiting, and the call (or the pending re-INVITE) is dropped.
    fn answer_overdue(&mut self, now: Instant, key: CallKey, tx: &TxKey) {
        warn!(call = %key, "INVITE not answered in time; answering 500");
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        if call.invite_tx == *tx && call.state == CallState::Early {
            let _ = self.respond_to_call(now, &key, 500, &[], None);
        } else if call.reinvite.as_ref().is_some_and(|(k, _)| k == tx) {
            let _ = self.respond_to_reinvite(now, &key, 500, None);
        }
    }

    /// Stops waiting for the ACK of our 2xx now, as if the wait had run out
    /// (BYE, then [`Event::AckTimeout`]): a short Timer H for a source that
    /// floods us with INVITEs it never acknowledges.
    pub fn give_up_ack(&mut self, now: Instant, key: &CallKey) {
        let Some(tx) = self
            .calls
            .get(key)
            .and_then(|c| c.awaiting_ack.as_ref())
            .map(|(tx, _)| tx.clone())
        else {
            return;
        };
        self.server.remove(&tx);
        self.on_ack_timeout(now, key.clone(), &tx);
    }

    fn on_ack_timeout(&mut self, now: Instant, key: CallKey, tx: &TxKey) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        if call.awaiting_ack.as_ref().is_some_and(|(k, _)| k == tx) {
            warn!(call = %key, "2xx never acknowledged; ending the call");
            call.awaiting_ack = None;
            call.state = CallState::Confirmed;
            self.send_bye(now, &key);
            self.event(Event::AckTimeout { key });
        }
    }

    fn client_failed(&mut self, owner: ClientOwner, branch: String) {
        match owner {
            ClientOwner::Quiet => {}
            ClientOwner::Tu => self.event(Event::RequestTimedOut {
                id: ClientTxId(branch),
            }),
            ClientOwner::Bye(key) => {
                self.remove_call(&key);
                self.event(Event::CallTerminated { key });
            }
            ClientOwner::Leg(key) => self.leg_request_done(key),
        }
    }

    fn remove_call(&mut self, key: &CallKey) {
        if let Some(call) = self.calls.remove(key) {
            if let Some(d) = call.dialog {
                self.dialogs.remove(&(d.call_id, d.local_tag));
            }
        }
    }

    pub(super) fn transmit(&mut self, flow: Flow, bytes: Vec<u8>) {
        self.outputs
            .push_back(Output::Transmit(Transmit { flow, bytes }));
    }

    pub(super) fn event(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }
}

pub(super) fn contact_for(host: &str, transport: Transport) -> String {
    match transport {
        Transport::Udp => format!("<sip:hotline@{host}>"),
        Transport::Tcp => format!("<sip:hotline@{host};transport=tcp>"),
    }
}

/// Adds extra headers and a body to a response.
pub(super) fn finish_response(
    resp: &mut Response,
    extra: &[(&str, String)],
    body: Option<(&str, Vec<u8>)>,
) {
    for (name, value) in extra {
        msg::push_header(resp, name, value.clone());
    }
    if let Some((content_type, body)) = body {
        msg::push_header(resp, "Content-Type", content_type);
        resp.body = body;
    }
}

/// The transaction key of §17.2.3; for RFC 2543 peers without the magic
/// cookie, the Call-ID, CSeq number and From tag stand in for the branch.
fn tx_key(via: &ViaInfo, req: &Request) -> TxKey {
    let branch = match &via.branch {
        Some(b) if b.starts_with(msg::MAGIC_COOKIE) => b.clone(),
        _ => {
            let call_id = msg::call_id(req).unwrap_or_default();
            let seq = msg::cseq(req).map(|(n, _)| n).unwrap_or(0);
            let tag = msg::from_tag(req).ok().flatten().unwrap_or_default();
            format!("2543;{call_id};{seq};{tag}")
        }
    };
    TxKey {
        branch,
        sent_by: via.sent_by(),
        method: req.method.to_string(),
    }
}

/// Where responses go (§18.2.2 with RFC 3581): over a stream, the same
/// connection; over UDP, the source address, with the source port when the
/// client asked for `rport`, else the port in Via.
fn response_flow(source: Flow, via: &ViaInfo) -> Flow {
    match source.transport {
        Transport::Tcp => source,
        Transport::Udp => {
            let port = if via.rport {
                source.remote.port()
            } else {
                via.port.unwrap_or(5060)
            };
            Flow {
                transport: Transport::Udp,
                remote: SocketAddr::new(source.remote.ip(), port),
            }
        }
    }
}

/// A body we cannot read gets 415 naming what we can (§8.2.3, §21.4.13):
/// an offer is `application/sdp`, not compressed. Only INVITE and ACK carry
/// offers or answers we read; other bodies (INFO's digits) are the TU's.
fn unsupported_body(req: &Request) -> Option<(u16, Option<(&'static str, String)>)> {
    if !matches!(req.method, Method::Invite) || req.body.is_empty() {
        return None;
    }
    let encoding = msg::header_values(req, "Content-Encoding");
    if encoding.iter().any(|e| !e.eq_ignore_ascii_case("identity")) {
        return Some((415, Some(("Accept-Encoding", "identity".into()))));
    }
    let kind = msg::first_header(req, "Content-Type").unwrap_or_default();
    let media = kind.split(';').next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/sdp") {
        return Some((415, Some(("Accept", "application/sdp".into()))));
    }
    // Our answer is SDP: a caller that accepts none cannot read it (§21.4.7,
    // RFC 4475 §3.3.15).
    let accept = msg::header_values(req, "Accept");
    let takes_sdp = |a: &String| {
        let media = a.split(';').next().unwrap_or_default().trim();
        ["application/sdp", "application/*", "*/*"]
            .iter()
            .any(|m| media.eq_ignore_ascii_case(m))
    };
    if !accept.is_empty() && !accept.iter().any(takes_sdp) {
        let warning = "399 hotline \"the answer would be application/sdp\"";
        return Some((406, Some(("Warning", warning.into()))));
    }
    None
}

/// Checks the mandatory headers (§8.1.1) and CSeq's method (§8.2.6).
fn validate(req: &Request) -> Result<(), String> {
    msg::call_id(req).map_err(|e| e.to_string())?;
    msg::from_tag(req).map_err(|e| e.to_string())?;
    msg::to_tag(req).map_err(|e| e.to_string())?;
    let (_, method) = msg::cseq(req).map_err(|e| e.to_string())?;
    if method != req.method {
        return Err("CSeq method does not match the request method".into());
    }
    let from = msg::first_header(req, "From").unwrap_or_default();
    if msg::addr_uri(&from).is_none() {
        return Err("malformed From header".into());
    }
    Ok(())
}

#[cfg(test)]
mod rfc4475;
#[cfg(test)]
mod tests;
