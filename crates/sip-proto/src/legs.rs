//! Outgoing call legs: the UA core as a UAC, ringing an operator's phone.
//!
//! Part of [`super::Endpoint`] (a second `impl Endpoint`, sharing its tables):
//! INVITE in an INVITE client transaction, CANCEL while it rings (sent as
//! soon as a provisional allows it), the ACK for a 2xx, the UAC dialog, BYE
//! either way. Sans-IO like the rest of the endpoint.

use std::time::Instant;

use rsip::headers::UntypedHeader;
use rsip::{Header, Method, Request, Response};
use tracing::debug;

use super::Flow;
use super::endpoint::{ClientOwner, Endpoint, Event, TxKey, contact_for, finish_response};
use crate::dialog::Dialog;
use crate::digest::{self, Challenge};
use crate::transaction::{InviteClientTransaction, TimerOutcome};
use crate::{USER_AGENT, msg, wire};

/// Credentials a leg answers a digest challenge with (a trunk's account).
#[derive(Clone)]
pub struct LegAuth {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for LegAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegAuth")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A call out: whom, as whom, with what media.
#[derive(Debug, Clone)]
pub struct Dial {
    /// The Request-URI and To (`sip:0671234567@trunk.example`).
    pub target: String,
    /// From's user part: the number the callee sees.
    pub from_user: String,
    /// From's host; our advertised address when `None`.
    pub from_host: Option<String>,
    pub display: Option<String>,
    /// Asserted identity for a trunk (RFC 3325), as a URI.
    pub asserted: Option<String>,
    pub sdp: Vec<u8>,
    /// Answer one digest challenge (401/407) with these.
    pub auth: Option<LegAuth>,
    /// The Call-ID to use (unique; one is made when `None`).
    pub call_id: Option<String>,
}

/// Identifies an outgoing leg: its Call-ID (ours, unique).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegKey(pub(super) String);

impl LegKey {
    /// A leg by its Call-ID (ours: [`Endpoint::invite`] makes a unique one).
    pub fn new(call_id: impl Into<String>) -> Self {
        LegKey(call_id.into())
    }
}

impl std::fmt::Display for LegKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LegState {
    /// INVITE sent, nothing heard yet.
    Calling,
    /// A provisional came: CANCEL is allowed.
    Early,
    Confirmed,
    /// Our BYE or CANCEL is under way.
    Ending,
}

#[derive(Debug)]
pub(super) struct Leg {
    branch: String,
    state: LegState,
    dialog: Option<Dialog>,
    /// The ACK for the 2xx, to send again if the 2xx is retransmitted.
    ack: Option<Vec<u8>>,
    flow: Flow,
    /// CANCEL asked for before any provisional arrived.
    cancel_wanted: bool,
    /// A re-INVITE from the phone (hold, resume) the TU has to answer.
    reinvite: Option<(TxKey, Request)>,
    /// Our 2xx to a re-INVITE, until its ACK (transaction, CSeq).
    awaiting_ack: Option<(TxKey, u32)>,
    /// Credentials for a challenge, and whether one was answered already.
    auth: Option<LegAuth>,
    challenged: bool,
}

impl Endpoint {
    /// Places a call to `target` (an operator's registered contact) along
    /// `flow`, offering `sdp`. `from_user`/`display` show who calls (the
    /// citizen's number, so the operator's phone shows it).
    pub fn invite(
        &mut self,
        now: Instant,
        flow: Flow,
        target: &str,
        from_user: &str,
        display: Option<&str>,
        sdp: Vec<u8>,
    ) -> LegKey {
        let dial = Dial {
            target: target.to_string(),
            from_user: from_user.to_string(),
            from_host: None,
            display: display.map(str::to_string),
            asserted: None,
            sdp,
            auth: None,
            call_id: None,
        };
        self.dial(now, flow, dial)
    }

    /// Places a call out (through a trunk): as [`Endpoint::invite`], with
    /// the caller ID and asserted identity to send and the credentials to
    /// answer the trunk's digest challenge (RFC 3261 §22.2) with, once.
    pub fn dial(&mut self, now: Instant, flow: Flow, dial: Dial) -> LegKey {
        let call_id = dial
            .call_id
            .clone()
            .unwrap_or_else(|| format!("{}@hotline", msg::random_token()));
        let key = LegKey(call_id.clone());
        let branch = msg::new_branch();
        let local_tag = msg::random_token();
        let host = self.cfg.advertised.clone();
        let from_host = dial.from_host.clone().unwrap_or_else(|| host.clone());
        // A quoted display name may not carry quotes, backslashes or controls.
        let display = dial
            .display
            .as_deref()
            .map(|d| {
                let clean: String = d
                    .chars()
                    .filter(|c| !matches!(c, '"' | '\\') && !c.is_control())
                    .collect();
                format!("\"{clean}\" ")
            })
            .unwrap_or_default();
        let mut headers = rsip::Headers::default();
        headers.push(Header::Via(rsip::headers::Via::new(format!(
            "SIP/2.0/{} {host};branch={branch};rport",
            flow.transport.via_name()
        ))));
        headers.push(Header::MaxForwards(rsip::headers::MaxForwards::new("70")));
        headers.push(Header::From(rsip::headers::From::new(format!(
            "{display}<sip:{}@{from_host}>;tag={local_tag}",
            dial.from_user
        ))));
        headers.push(Header::To(rsip::headers::To::new(format!(
            "<{}>",
            dial.target
        ))));
        headers.push(Header::CallId(rsip::headers::CallId::new(call_id)));
        headers.push(Header::CSeq(rsip::headers::CSeq::new("1 INVITE")));
        headers.push(Header::Contact(rsip::headers::Contact::new(contact_for(
            &host,
            flow.transport,
        ))));
        if let Some(asserted) = &dial.asserted {
            headers.push(Header::Other(
                "P-Asserted-Identity".into(),
                format!("<{asserted}>"),
            ));
        }
        headers.push(Header::Allow(rsip::headers::Allow::new(crate::LEG_ALLOW)));
        headers.push(Header::UserAgent(rsip::headers::UserAgent::new(USER_AGENT)));
        headers.push(Header::ContentType(rsip::headers::ContentType::new(
            "application/sdp",
        )));
        let request = Request {
            method: Method::Invite,
            // A contact we cannot parse still gets a request the phone will refuse.
            uri: rsip::Uri::try_from(dial.target.as_str()).unwrap_or_default(),
            version: rsip::Version::V2,
            headers,
            body: dial.sdp,
        };
        let (tx, bytes) = InviteClientTransaction::start(now, flow, request, self.cfg.timers);
        self.invites.insert(branch.clone(), (tx, key.clone()));
        self.legs.insert(
            key.clone(),
            Leg {
                branch,
                state: LegState::Calling,
                dialog: None,
                ack: None,
                flow,
                cancel_wanted: false,
                reinvite: None,
                awaiting_ack: None,
                auth: dial.auth,
                challenged: false,
            },
        );
        self.transmit(flow, bytes);
        key
    }

    /// Sends the INVITE again with the answer to a 401/407 challenge (new
    /// branch, next CSeq, same dialog identifiers); `false` if the leg has
    /// no credentials, answered one already, or the challenge is unusable.
    fn answer_challenge(
        &mut self,
        now: Instant,
        key: &LegKey,
        invite: &Request,
        resp: &Response,
    ) -> bool {
        let code = resp.status_code.code();
        let Some(leg) = self.legs.get_mut(key) else {
            return false;
        };
        let Some(auth) = leg.auth.clone().filter(|_| !leg.challenged) else {
            return false;
        };
        let (header, answer) = if code == 401 {
            ("WWW-Authenticate", "Authorization")
        } else {
            ("Proxy-Authenticate", "Proxy-Authorization")
        };
        let Some(challenge) = msg::first_header(resp, header).and_then(|v| {
            Challenge::parse(&v)
                .map_err(|e| debug!(error = %e, "unusable challenge"))
                .ok()
        }) else {
            return false;
        };
        leg.challenged = true;
        let uri = invite.uri.to_string();
        let value = digest::authorization(
            &challenge,
            &digest::Credentials {
                username: &auth.username,
                password: &auth.password,
                method: "INVITE",
                uri: &uri,
                cnonce: &msg::random_token(),
                nc: 1,
            },
        );
        let branch = msg::new_branch();
        let host = self.cfg.advertised.clone();
        let seq = msg::cseq(invite).map(|(n, _)| n).unwrap_or(1) + 1;
        let mut headers = rsip::Headers::default();
        headers.push(Header::Via(rsip::headers::Via::new(format!(
            "SIP/2.0/{} {host};branch={branch};rport",
            leg.flow.transport.via_name()
        ))));
        for h in invite.headers.iter() {
            if !matches!(
                h,
                Header::Via(_) | Header::CSeq(_) | Header::ContentLength(_)
            ) {
                headers.push(h.clone());
            }
        }
        headers.push(Header::CSeq(rsip::headers::CSeq::new(format!(
            "{seq} INVITE"
        ))));
        headers.push(Header::Other(answer.into(), value));
        let request = Request {
            headers,
            ..invite.clone()
        };
        let flow = leg.flow;
        leg.branch = branch.clone();
        leg.state = LegState::Calling;
        let (tx, bytes) = InviteClientTransaction::start(now, flow, request, self.cfg.timers);
        self.invites.insert(branch, (tx, key.clone()));
        self.transmit(flow, bytes);
        true
    }

    /// Ends a leg however far it got: CANCEL while it rings (or as soon
    /// as it may), BYE once answered. Ending an ended leg is a no-op.
    pub fn end_leg(&mut self, now: Instant, key: &LegKey) {
        let Some(leg) = self.legs.get_mut(key) else {
            return;
        };
        match leg.state {
            LegState::Calling => leg.cancel_wanted = true,
            LegState::Early => self.send_cancel(now, key),
            LegState::Confirmed => self.send_leg_bye(now, key),
            LegState::Ending => {}
        }
    }

    fn send_cancel(&mut self, now: Instant, key: &LegKey) {
        let give_up = now + self.cfg.timers.timeout();
        let Some(leg) = self.legs.get_mut(key) else {
            return;
        };
        let Some((tx, _)) = self.invites.get_mut(&leg.branch) else {
            return;
        };
        let Some(cancel) = tx.cancel() else { return };
        // If no final response follows, the INVITE is over anyway (§9.1).
        tx.give_up_at(give_up);
        leg.state = LegState::Ending;
        leg.cancel_wanted = false;
        let (flow, branch) = (leg.flow, leg.branch.clone());
        // CANCEL shares the INVITE's branch, so its client transaction is
        // keyed apart from the INVITE's.
        self.start_client(
            now,
            flow,
            cancel,
            format!("{branch};cancel"),
            ClientOwner::Leg(key.clone()),
        );
    }

    fn send_leg_bye(&mut self, now: Instant, key: &LegKey) {
        let host = self.cfg.advertised.clone();
        let Some(leg) = self.legs.get_mut(key) else {
            return;
        };
        let Some(dialog) = leg.dialog.as_mut() else {
            return;
        };
        leg.state = LegState::Ending;
        let (bye, branch) = dialog.bye(&host);
        let flow = dialog.flow;
        self.start_client(now, flow, bye, branch, ClientOwner::Leg(key.clone()));
    }

    pub(super) fn on_leg_response(&mut self, now: Instant, branch: &str, resp: Response) {
        let code = resp.status_code.code();
        let Some((tx, key)) = self.invites.get_mut(branch) else {
            return;
        };
        let key = key.clone();
        let outcome = tx.on_response(now, &resp);
        let invite = tx.request().clone();
        let flow = tx.flow;
        if let Some(ack) = outcome.send {
            self.transmit(flow, ack);
        }
        let Some(leg) = self.legs.get(&key) else {
            return;
        };
        let (answered, state, cancel_wanted, leg_flow) =
            (leg.dialog.is_some(), leg.state, leg.cancel_wanted, leg.flow);
        if (200..300).contains(&code) && answered {
            // A retransmitted 2xx: our ACK was lost.
            if let Some(ack) = leg.ack.clone() {
                self.transmit(leg_flow, ack);
            }
            return;
        }
        if !outcome.deliver {
            return;
        }
        match code {
            100..=199 if state == LegState::Ending => {}
            100..=199 => {
                if state == LegState::Calling {
                    if let Some(leg) = self.legs.get_mut(&key) {
                        leg.state = LegState::Early;
                    }
                }
                if cancel_wanted {
                    self.send_cancel(now, &key);
                } else if code > 100 {
                    // A 183's SDP: early media (ringback, the network's
                    // announcements) flows before the answer.
                    let body = resp.body.clone();
                    self.event(Event::LegProgress { key, code, body });
                }
            }
            200..=299 => {
                let mut dialog = match Dialog::from_response(&invite, &resp, leg_flow) {
                    Ok(d) => d,
                    Err(e) => {
                        // Without a dialog we cannot ACK; the phone gives
                        // up on its own. The leg is over for us.
                        debug!(error = %e, "2xx without a usable dialog");
                        self.remove_leg(&key);
                        return self.event(Event::LegFailed { key, code: 500 });
                    }
                };
                let ack = ack_for_2xx(&mut dialog, &self.cfg.advertised);
                let ack = wire::serialize(&rsip::SipMessage::Request(ack));
                self.transmit(dialog.flow, ack.clone());
                self.leg_dialogs.insert(
                    (dialog.call_id.clone(), dialog.local_tag.clone()),
                    key.clone(),
                );
                let cancelled = cancel_wanted || state == LegState::Ending;
                if let Some(leg) = self.legs.get_mut(&key) {
                    leg.ack = Some(ack);
                    leg.dialog = Some(dialog);
                    leg.state = LegState::Confirmed;
                }
                if cancelled {
                    // Our CANCEL crossed the 200: end the call at once.
                    self.send_leg_bye(now, &key);
                } else {
                    self.event(Event::LegAnswered {
                        key,
                        body: resp.body.clone(),
                    });
                }
            }
            401 | 407
                if state != LegState::Ending
                    && self.answer_challenge(now, &key, &invite, &resp) => {}
            _ => {
                self.remove_leg(&key);
                self.event(Event::LegFailed { key, code });
            }
        }
    }

    /// Requests from the far end of a leg: BYE, re-INVITE (hold), REFER
    /// (transfer), INFO and OPTIONS; anything else is refused with 488.
    pub(super) fn on_leg_request(
        &mut self,
        now: Instant,
        source: Flow,
        resp_flow: Flow,
        req: Request,
        key: TxKey,
        leg: LegKey,
    ) {
        if req.method == Method::Invite {
            return self.on_leg_reinvite(now, source, resp_flow, req, key, leg);
        }
        // Blind transfer (RFC 3515): the target, by URI.
        let refer_to = (req.method == Method::Refer)
            .then(|| msg::first_header(&req, "Refer-To"))
            .flatten()
            .and_then(|v| msg::addr_uri(&v).map(str::to_string));
        let code = match req.method {
            Method::Bye => 200,
            Method::Info | Method::Options => 200,
            Method::Refer if refer_to.is_some() => 202,
            Method::Refer => 400,
            _ => 488,
        };
        let resp = msg::response_to(&req, code, None, source.remote);
        self.respond_new(now, key, resp_flow, resp, None);
        if req.method == Method::Bye {
            self.remove_leg(&leg);
            self.event(Event::LegEnded { key: leg });
        } else if req.method == Method::Info {
            // DTMF relayed by a trunk on a call we placed.
            self.event(Event::LegInfo {
                key: leg,
                request: Box::new(req),
            });
        } else if let Some(target) = refer_to {
            self.event(Event::LegRefer { key: leg, target });
        }
    }

    /// A re-INVITE from the phone (hold or resume, a new address): 100
    /// now, and the TU answers with [`Endpoint::respond_to_leg_reinvite`];
    /// one at a time (491 while one is open, §14.2).
    fn on_leg_reinvite(
        &mut self,
        now: Instant,
        source: Flow,
        resp_flow: Flow,
        req: Request,
        key: TxKey,
        leg: LegKey,
    ) {
        // §14.2: one re-INVITE at a time (500 with Retry-After while one
        // is open); none on a leg that is ending or gone (481).
        let (code, retry_after) = match self.legs.get(&leg) {
            Some(l) if l.state != LegState::Confirmed => (481, None),
            Some(l) if l.reinvite.is_some() => (500, Some(rand::random::<u8>() % 10 + 1)),
            Some(_) => (100, None),
            None => (481, None),
        };
        let mut resp = msg::response_to(&req, code, None, source.remote);
        if let Some(secs) = retry_after {
            msg::push_header(&mut resp, "Retry-After", secs.to_string());
        }
        self.respond_new(now, key.clone(), resp_flow, resp, None);
        if code != 100 {
            return;
        }
        if let Some(l) = self.legs.get_mut(&leg) {
            l.reinvite = Some((key, req.clone()));
        }
        self.event(Event::LegReInvite {
            key: leg,
            request: Box::new(req),
        });
    }

    /// Answers the phone's pending re-INVITE on a leg; a 2xx is
    /// retransmitted until its ACK.
    pub fn respond_to_leg_reinvite(
        &mut self,
        now: Instant,
        key: &LegKey,
        code: u16,
        body: Option<(&str, Vec<u8>)>,
    ) {
        let host = self.cfg.advertised.clone();
        let Some(leg) = self.legs.get_mut(key) else {
            return;
        };
        let Some((tx_key, request)) = leg.reinvite.take() else {
            return;
        };
        let Some(entry) = self.server.get_mut(&tx_key) else {
            return;
        };
        let flow = entry.tx.flow;
        let mut resp = msg::response_to(&request, code, None, flow.remote);
        if (200..300).contains(&code) {
            msg::push_header(&mut resp, "Contact", contact_for(&host, flow.transport));
            msg::push_header(&mut resp, "Allow", crate::LEG_ALLOW);
        }
        finish_response(&mut resp, &[], body);
        let bytes = wire::serialize(&rsip::SipMessage::Response(resp));
        if !entry.tx.send_response(now, code, bytes.clone()) {
            return;
        }
        if (200..300).contains(&code) {
            let seq = msg::cseq(&request).map(|(n, _)| n).unwrap_or(0);
            leg.awaiting_ack = Some((tx_key, seq));
            // The target changes with the accepted re-INVITE only (RFC
            // 6141 §3.4).
            if let Some(dialog) = leg.dialog.as_mut() {
                dialog.refresh_target(&request);
            }
        }
        self.transmit(flow, bytes);
    }

    /// The ACK for our 2xx to a leg's re-INVITE; `false` if no leg
    /// dialog matches.
    pub(super) fn on_leg_ack(&mut self, call_id: String, local_tag: String, req: &Request) -> bool {
        let Some(key) = self.leg_dialogs.get(&(call_id, local_tag)).cloned() else {
            return false;
        };
        let Some(leg) = self.legs.get_mut(&key) else {
            return true;
        };
        let seq = msg::cseq(req).map(|(n, _)| n).unwrap_or(0);
        let Some((tx, awaited)) = leg.awaiting_ack.clone() else {
            return true;
        };
        if awaited != seq {
            return true;
        }
        leg.awaiting_ack = None;
        if let Some(entry) = self.server.get_mut(&tx) {
            entry.tx.on_2xx_acked();
        }
        // Our offer went in the 2xx of an offer-less re-INVITE: the
        // answer is here.
        if !req.body.is_empty() {
            self.event(Event::LegConfirmed {
                key,
                body: req.body.clone(),
            });
        }
        true
    }

    /// The TU never answered a leg's re-INVITE: 500, so the phone is not
    /// left waiting.
    pub(super) fn leg_reinvite_overdue(&mut self, now: Instant, tx: &TxKey) {
        let overdue = self
            .legs
            .iter()
            .find(|(_, l)| l.reinvite.as_ref().is_some_and(|(k, _)| k == tx))
            .map(|(k, _)| k.clone());
        if let Some(key) = overdue {
            self.respond_to_leg_reinvite(now, &key, 500, None);
        }
    }

    /// Tells the phone that sent REFER how the transfer went (a NOTIFY
    /// with a `message/sipfrag` status line, ending the implicit
    /// subscription, RFC 3515 §2.4.5). The phone hangs up after a 2xx.
    pub fn notify_transfer(&mut self, now: Instant, key: &LegKey, code: u16) {
        let host = self.cfg.advertised.clone();
        let Some(dialog) = self.legs.get_mut(key).and_then(|l| l.dialog.as_mut()) else {
            return;
        };
        let branch = msg::new_branch();
        let mut notify = dialog.request(Method::Notify, &host, &branch);
        msg::push_header(
            &mut notify,
            "Contact",
            contact_for(&host, dialog.flow.transport),
        );
        msg::push_header(&mut notify, "Event", "refer");
        msg::push_header(
            &mut notify,
            "Subscription-State",
            "terminated;reason=noresource",
        );
        msg::push_header(&mut notify, "Content-Type", "message/sipfrag;version=2.0");
        notify.body = format!("SIP/2.0 {code} {}", wire::reason_phrase(code)).into_bytes();
        let flow = dialog.flow;
        self.start_client(now, flow, notify, branch, ClientOwner::Quiet);
    }

    /// Our BYE or CANCEL on a leg got its final answer (or timed out).
    pub(super) fn leg_request_done(&mut self, key: LegKey) {
        let Some(leg) = self.legs.get(&key) else {
            return;
        };
        if leg.dialog.is_some() {
            self.remove_leg(&key);
            self.event(Event::LegTerminated { key });
        }
        // For a CANCEL the INVITE's own 487 ends the leg.
    }

    pub(super) fn leg_timeouts(&mut self, now: Instant) {
        let due: Vec<String> = self
            .invites
            .iter()
            .filter(|(_, (tx, _))| tx.next_timeout().is_some_and(|t| t <= now))
            .map(|(b, _)| b.clone())
            .collect();
        for branch in due {
            while let Some((tx, key)) = self.invites.get_mut(&branch) {
                let Some(timer) = tx.take_expired(now) else {
                    break;
                };
                let (flow, key) = (tx.flow, key.clone());
                match tx.on_timer(now, timer) {
                    TimerOutcome::Retransmit(bytes) => self.transmit(flow, bytes),
                    TimerOutcome::TimedOut => {
                        self.invites.remove(&branch);
                        if self.legs.contains_key(&key) {
                            self.remove_leg(&key);
                            self.event(Event::LegFailed { key, code: 408 });
                        }
                    }
                    TimerOutcome::Terminated => {
                        self.invites.remove(&branch);
                    }
                    _ => {}
                }
            }
        }
    }

    fn remove_leg(&mut self, key: &LegKey) {
        if let Some(leg) = self.legs.remove(key) {
            if let Some(d) = leg.dialog {
                self.leg_dialogs.remove(&(d.call_id, d.local_tag));
            }
        }
    }

    pub fn leg_count(&self) -> usize {
        self.legs.len()
    }
}

/// The ACK for a 2xx (§13.2.2.4): in the dialog, with the INVITE's CSeq
/// number and a new branch.
fn ack_for_2xx(dialog: &mut Dialog, host: &str) -> Request {
    let seq = dialog.local_seq;
    dialog.local_seq = seq.saturating_sub(1);
    let ack = dialog.request(Method::Ack, host, &msg::new_branch());
    // request() advanced the sequence back to the INVITE's number.
    debug_assert_eq!(dialog.local_seq, seq);
    ack
}
