//! RFC 3261 §17 transactions as plain state machines.
//!
//! A transaction is told what happened (a retransmitted request, a response
//! the TU wants sent, an ACK, a timer that fired) together with the time, and
//! answers with what to put on the wire. It never reads a clock and never
//! touches a socket; the endpoint owns the tables and the IO layer the wire.
//!
//! All four kinds: INVITE server (with RFC 6026's Accepted state),
//! non-INVITE server, non-INVITE client, and INVITE client (with its
//! Accepted state and the ACK for non-2xx finals), which rings operators.

use std::time::{Duration, Instant};

use super::Flow;
use super::timer::{Timer, TimerConfig, TimerTable};

/// States of both server transaction kinds; the non-INVITE one uses
/// Trying, Proceeding, Completed and Terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    Trying,
    Proceeding,
    Completed,
    /// INVITE only: a 2xx was sent (RFC 6026 §7.1).
    Accepted,
    /// INVITE only: the ACK to a non-2xx arrived.
    Confirmed,
    Terminated,
}

/// What a fired timer asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum TimerOutcome {
    Nothing,
    /// Put these bytes on the wire again.
    Retransmit(Vec<u8>),
    /// The transaction is over; drop it.
    Terminated,
    /// INVITE server: a 2xx was never acknowledged (§13.3.1.4): the TU
    /// should end the dialog with BYE.
    AckTimeout,
    /// Client: no final response arrived (Timer F).
    TimedOut,
    /// INVITE server: the TU sent no final response within the guard time.
    Unanswered,
}

#[derive(Debug)]
pub struct ServerTransaction {
    pub invite: bool,
    pub state: ServerState,
    pub flow: Flow,
    pub final_code: Option<u16>,
    last_response: Option<Vec<u8>>,
    timers: TimerTable,
    interval: Duration,
    cfg: TimerConfig,
    acked: bool,
}

impl ServerTransaction {
    pub fn new(invite: bool, flow: Flow, cfg: TimerConfig) -> Self {
        Self {
            invite,
            state: if invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            flow,
            final_code: None,
            last_response: None,
            timers: TimerTable::default(),
            interval: cfg.t1,
            cfg,
            acked: false,
        }
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    /// Arms the guard that reports an INVITE the TU never answers.
    pub fn guard_answer(&mut self, at: Instant) {
        self.timers.set(Timer::AnswerGuard, at);
    }

    /// The request came again: resend the last response, if any (§17.2.1,
    /// §17.2.2). In Trying nothing has been sent yet, so nothing is resent.
    pub fn on_retransmission(&self) -> Option<Vec<u8>> {
        match self.state {
            ServerState::Proceeding | ServerState::Completed | ServerState::Accepted => {
                self.last_response.clone()
            }
            _ => None,
        }
    }

    /// Records a response the TU sends and arms the timers its class needs.
    /// Returns false if the transaction can no longer send (a final was
    /// already sent), in which case nothing changes.
    pub fn send_response(&mut self, now: Instant, code: u16, bytes: Vec<u8>) -> bool {
        let provisional = code < 200;
        match self.state {
            ServerState::Trying | ServerState::Proceeding => {}
            _ => return false,
        }
        self.last_response = Some(bytes);
        let reliable = self.flow.transport.is_reliable();
        if provisional {
            self.state = ServerState::Proceeding;
            return true;
        }
        self.final_code = Some(code);
        self.timers.stop(Timer::AnswerGuard);
        if self.invite && code < 300 {
            self.state = ServerState::Accepted;
            self.timers.set(Timer::L, now + self.cfg.timeout());
            // §13.3.1.4: the 2xx is retransmitted until ACK, but only over
            // unreliable transports.
            if !reliable {
                self.interval = self.cfg.t1;
                self.timers.set(Timer::Retransmit2xx, now + self.interval);
            }
        } else if self.invite {
            self.state = ServerState::Completed;
            self.timers.set(Timer::H, now + self.cfg.timeout());
            if !reliable {
                self.interval = self.cfg.t1;
                self.timers.set(Timer::G, now + self.interval);
            }
        } else {
            self.state = ServerState::Completed;
            let wait = if reliable {
                Duration::ZERO
            } else {
                self.cfg.timeout()
            };
            self.timers.set(Timer::J, now + wait);
        }
        true
    }

    /// ACK for a non-2xx final (same transaction, §17.2.1).
    pub fn on_ack(&mut self, now: Instant) {
        if self.state == ServerState::Completed && self.invite {
            self.state = ServerState::Confirmed;
            self.timers.stop(Timer::G);
            self.timers.stop(Timer::H);
            let wait = if self.flow.transport.is_reliable() {
                Duration::ZERO
            } else {
                self.cfg.t4
            };
            self.timers.set(Timer::I, now + wait);
        }
    }

    /// ACK for the 2xx, matched by the dialog: stop retransmitting. The
    /// transaction stays until L to absorb INVITE retransmissions.
    pub fn on_2xx_acked(&mut self) {
        self.acked = true;
        self.timers.stop(Timer::Retransmit2xx);
    }

    pub fn is_acked(&self) -> bool {
        self.acked
    }

    pub fn on_timer(&mut self, now: Instant, timer: Timer) -> TimerOutcome {
        match (timer, self.state) {
            (Timer::G, ServerState::Completed) | (Timer::Retransmit2xx, ServerState::Accepted) => {
                self.interval = (self.interval * 2).min(self.cfg.t2);
                self.timers.set(timer, now + self.interval);
                match &self.last_response {
                    Some(bytes) => TimerOutcome::Retransmit(bytes.clone()),
                    None => TimerOutcome::Nothing,
                }
            }
            (Timer::AnswerGuard, ServerState::Trying | ServerState::Proceeding) => {
                TimerOutcome::Unanswered
            }
            (Timer::H, ServerState::Completed) => {
                self.terminate();
                TimerOutcome::Terminated
            }
            (Timer::L, ServerState::Accepted) => {
                let acked = self.acked;
                self.terminate();
                if acked {
                    TimerOutcome::Terminated
                } else {
                    TimerOutcome::AckTimeout
                }
            }
            (Timer::I, ServerState::Confirmed) | (Timer::J, ServerState::Completed) => {
                self.terminate();
                TimerOutcome::Terminated
            }
            _ => TimerOutcome::Nothing,
        }
    }

    /// Takes the earliest due timer, if any.
    pub fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        self.timers.take_expired(now)
    }

    fn terminate(&mut self) {
        self.state = ServerState::Terminated;
        self.timers.stop_all();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// Non-INVITE client transaction (§17.1.2).
#[derive(Debug)]
pub struct ClientTransaction {
    pub state: ClientState,
    pub flow: Flow,
    request: Vec<u8>,
    timers: TimerTable,
    interval: Duration,
    cfg: TimerConfig,
}

impl ClientTransaction {
    /// Starts the transaction; the caller sends `request` once now.
    pub fn start(now: Instant, flow: Flow, request: Vec<u8>, cfg: TimerConfig) -> Self {
        let mut timers = TimerTable::default();
        timers.set(Timer::F, now + cfg.timeout());
        if !flow.transport.is_reliable() {
            timers.set(Timer::E, now + cfg.t1);
        }
        Self {
            state: ClientState::Trying,
            flow,
            request,
            timers,
            interval: cfg.t1,
            cfg,
        }
    }

    pub fn request_bytes(&self) -> &[u8] {
        &self.request
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    pub fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        self.timers.take_expired(now)
    }

    /// A response arrived. Returns true when the TU should see it (the
    /// first of each final; every provisional).
    pub fn on_response(&mut self, now: Instant, code: u16) -> bool {
        match self.state {
            ClientState::Trying | ClientState::Proceeding if code < 200 => {
                self.state = ClientState::Proceeding;
                true
            }
            ClientState::Trying | ClientState::Proceeding => {
                self.state = ClientState::Completed;
                self.timers.stop_all();
                let wait = if self.flow.transport.is_reliable() {
                    Duration::ZERO
                } else {
                    self.cfg.t4
                };
                self.timers.set(Timer::K, now + wait);
                true
            }
            _ => false,
        }
    }

    pub fn on_timer(&mut self, now: Instant, timer: Timer) -> TimerOutcome {
        match (timer, self.state) {
            (Timer::E, ClientState::Trying | ClientState::Proceeding) => {
                // In Proceeding the interval is T2 at once (§17.1.2.2).
                self.interval = if self.state == ClientState::Proceeding {
                    self.cfg.t2
                } else {
                    (self.interval * 2).min(self.cfg.t2)
                };
                self.timers.set(Timer::E, now + self.interval);
                TimerOutcome::Retransmit(self.request.clone())
            }
            (Timer::F, ClientState::Trying | ClientState::Proceeding) => {
                self.state = ClientState::Terminated;
                self.timers.stop_all();
                TimerOutcome::TimedOut
            }
            (Timer::K, ClientState::Completed) => {
                self.state = ClientState::Terminated;
                TimerOutcome::Terminated
            }
            _ => TimerOutcome::Nothing,
        }
    }
}

/// States of the INVITE client transaction (§17.1.1, RFC 6026 §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteClientState {
    Calling,
    Proceeding,
    /// A non-2xx final arrived and was acknowledged.
    Completed,
    /// A 2xx arrived; the TU acknowledges it (in the dialog).
    Accepted,
    Terminated,
}

/// What a response did to an INVITE client transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteResponse {
    /// The TU should see it (every provisional; each 2xx, even
    /// retransmitted, so it can re-ACK; a non-2xx final once).
    pub deliver: bool,
    /// Bytes to send now: the ACK for a non-2xx final.
    pub send: Option<Vec<u8>>,
}

/// INVITE client transaction (§17.1.1): we ring an operator's phone.
#[derive(Debug)]
pub struct InviteClientTransaction {
    pub state: InviteClientState,
    pub flow: Flow,
    request: rsip::Request,
    bytes: Vec<u8>,
    ack: Option<Vec<u8>>,
    timers: TimerTable,
    interval: Duration,
    cfg: TimerConfig,
}

impl InviteClientTransaction {
    /// Starts the transaction; the caller sends the returned bytes now.
    pub fn start(
        now: Instant,
        flow: Flow,
        request: rsip::Request,
        cfg: TimerConfig,
    ) -> (Self, Vec<u8>) {
        let bytes = super::wire::serialize(&rsip::SipMessage::Request(request.clone()));
        let mut timers = TimerTable::default();
        timers.set(Timer::B, now + cfg.timeout());
        if !flow.transport.is_reliable() {
            timers.set(Timer::A, now + cfg.t1);
        }
        let tx = Self {
            state: InviteClientState::Calling,
            flow,
            request,
            bytes: bytes.clone(),
            ack: None,
            timers,
            interval: cfg.t1,
            cfg,
        };
        (tx, bytes)
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    pub fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        self.timers.take_expired(now)
    }

    /// After a CANCEL: give up on a final response by `at` (§9.1 — a UAC
    /// whose CANCEL brings no 487 within 64·T1 considers the INVITE done).
    pub fn give_up_at(&mut self, at: Instant) {
        if matches!(
            self.state,
            InviteClientState::Calling | InviteClientState::Proceeding
        ) {
            self.timers.set(Timer::B, at);
        }
    }

    /// The INVITE this transaction carries.
    pub fn request(&self) -> &rsip::Request {
        &self.request
    }

    pub fn on_response(&mut self, now: Instant, resp: &rsip::Response) -> InviteResponse {
        use InviteClientState::*;
        let code = resp.status_code.code();
        let reliable = self.flow.transport.is_reliable();
        match (self.state, code) {
            (Calling | Proceeding, 100..=199) => {
                if self.state == Calling {
                    self.timers.stop(Timer::A);
                    // Timer B guards Calling only (§17.1.1.2); ringing has no
                    // transaction limit: the TU cancels when it has waited enough.
                    // (A give-up set after a CANCEL, in Proceeding, stays.)
                    self.timers.stop(Timer::B);
                }
                self.state = Proceeding;
                InviteResponse {
                    deliver: true,
                    send: None,
                }
            }
            (Calling | Proceeding, 200..=299) => {
                self.state = Accepted;
                self.timers.stop_all();
                self.timers.set(Timer::M, now + self.cfg.timeout());
                InviteResponse {
                    deliver: true,
                    send: None,
                }
            }
            (Accepted, 200..=299) => InviteResponse {
                deliver: true,
                send: None,
            },
            (Calling | Proceeding, 300..) => {
                self.state = Completed;
                self.timers.stop_all();
                let wait = if reliable {
                    Duration::ZERO
                } else {
                    Duration::from_secs(32)
                };
                self.timers.set(Timer::D, now + wait);
                let ack = self.ack_for(resp);
                self.ack = Some(ack.clone());
                InviteResponse {
                    deliver: true,
                    send: Some(ack),
                }
            }
            // A retransmitted final: ACK again, tell nobody (§17.1.1.2).
            (Completed, 300..) => InviteResponse {
                deliver: false,
                send: self.ack.clone(),
            },
            _ => InviteResponse {
                deliver: false,
                send: None,
            },
        }
    }

    pub fn on_timer(&mut self, now: Instant, timer: Timer) -> TimerOutcome {
        use InviteClientState::*;
        match (timer, self.state) {
            (Timer::A, Calling) => {
                // Timer A doubles without the T2 cap (§17.1.1.2).
                self.interval *= 2;
                self.timers.set(Timer::A, now + self.interval);
                TimerOutcome::Retransmit(self.bytes.clone())
            }
            (Timer::B, Calling | Proceeding) => {
                self.state = Terminated;
                self.timers.stop_all();
                TimerOutcome::TimedOut
            }
            (Timer::D, Completed) | (Timer::M, Accepted) => {
                self.state = Terminated;
                TimerOutcome::Terminated
            }
            _ => TimerOutcome::Nothing,
        }
    }

    /// The CANCEL for this INVITE (§9.1): same Request-URI, Call-ID, From,
    /// To, top Via and Route, CSeq number with method CANCEL. `None` until
    /// a provisional response has arrived (§9.1 forbids it before).
    pub fn cancel(&self) -> Option<rsip::Request> {
        if self.state != InviteClientState::Proceeding {
            return None;
        }
        Some(self.derived(rsip::Method::Cancel, None))
    }

    /// The ACK of §17.1.1.3: like the INVITE, To from the response.
    fn ack_for(&self, resp: &rsip::Response) -> Vec<u8> {
        use rsip::message::HasHeaders;
        let to = resp.headers().iter().find_map(|h| match h {
            rsip::Header::To(t) => Some(t.clone()),
            _ => None,
        });
        let ack = self.derived(rsip::Method::Ack, to);
        super::wire::serialize(&rsip::SipMessage::Request(ack))
    }

    fn derived(&self, method: rsip::Method, to: Option<rsip::headers::To>) -> rsip::Request {
        use rsip::headers::UntypedHeader;
        use rsip::message::HasHeaders;
        let seq = super::msg::cseq(&self.request).map(|(n, _)| n).unwrap_or(1);
        let mut headers = rsip::Headers::default();
        let mut first_via = true;
        for h in self.request.headers().iter() {
            match h {
                rsip::Header::Via(_) if first_via => {
                    first_via = false;
                    headers.push(h.clone());
                }
                rsip::Header::To(_) => headers.push(
                    to.clone()
                        .map(rsip::Header::To)
                        .unwrap_or_else(|| h.clone()),
                ),
                rsip::Header::From(_)
                | rsip::Header::CallId(_)
                | rsip::Header::Route(_)
                | rsip::Header::MaxForwards(_) => headers.push(h.clone()),
                _ => {}
            }
        }
        headers.push(rsip::Header::CSeq(rsip::headers::CSeq::new(format!(
            "{seq} {method}"
        ))));
        rsip::Request {
            method,
            uri: self.request.uri.clone(),
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Transport;

    fn udp() -> Flow {
        Flow {
            transport: Transport::Udp,
            remote: "127.0.0.1:5070".parse().unwrap(),
        }
    }
    fn tcp() -> Flow {
        Flow {
            transport: Transport::Tcp,
            remote: "127.0.0.1:5070".parse().unwrap(),
        }
    }
    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Fires every timer due up to `until`, returning (time, outcome) pairs.
    fn run_server(
        tx: &mut ServerTransaction,
        start: Instant,
        until: Duration,
    ) -> Vec<(Duration, TimerOutcome)> {
        let mut out = vec![];
        while let Some(at) = tx.next_timeout() {
            if at > start + until {
                break;
            }
            let timer = tx.take_expired(at).unwrap();
            out.push((at - start, tx.on_timer(at, timer)));
        }
        out
    }

    #[test]
    fn non_2xx_final_is_retransmitted_with_backoff_until_h() {
        let t0 = Instant::now();
        let mut tx = ServerTransaction::new(true, udp(), TimerConfig::default());
        assert!(tx.send_response(t0, 486, b"486".to_vec()));
        let fired = run_server(&mut tx, t0, Duration::from_secs(40));
        let retransmits: Vec<_> = fired
            .iter()
            .filter(|(_, o)| matches!(o, TimerOutcome::Retransmit(_)))
            .map(|(t, _)| t.as_millis())
            .collect();
        // 0.5, 1.5, 3.5, 7.5, then every 4 s (T2) until H at 32 s.
        assert_eq!(&retransmits[..5], &[500, 1500, 3500, 7500, 11500]);
        assert_eq!(
            fired.last().unwrap(),
            &(Duration::from_secs(32), TimerOutcome::Terminated)
        );
        assert_eq!(tx.state, ServerState::Terminated);
    }

    #[test]
    fn ack_stops_g_and_i_ends_it() {
        let t0 = Instant::now();
        let mut tx = ServerTransaction::new(true, udp(), TimerConfig::default());
        tx.send_response(t0, 487, vec![]);
        tx.on_ack(t0 + ms(100));
        assert_eq!(tx.state, ServerState::Confirmed);
        let fired = run_server(&mut tx, t0, Duration::from_secs(10));
        assert_eq!(fired, vec![(ms(5100), TimerOutcome::Terminated)]);
    }

    #[test]
    fn unacked_2xx_is_retransmitted_then_reported() {
        let t0 = Instant::now();
        let mut tx = ServerTransaction::new(true, udp(), TimerConfig::default());
        tx.send_response(t0, 100, vec![]);
        assert_eq!(tx.on_retransmission(), Some(vec![]));
        tx.send_response(t0, 200, b"200".to_vec());
        assert!(!tx.send_response(t0, 500, vec![]), "no second final");
        let fired = run_server(&mut tx, t0, Duration::from_secs(40));
        assert!(fired.len() > 8);
        assert_eq!(
            fired.last().unwrap(),
            &(Duration::from_secs(32), TimerOutcome::AckTimeout)
        );
    }

    #[test]
    fn acked_2xx_stops_retransmitting_and_absorbs_until_l() {
        let t0 = Instant::now();
        let mut tx = ServerTransaction::new(true, udp(), TimerConfig::default());
        tx.send_response(t0, 200, b"200".to_vec());
        tx.on_2xx_acked();
        assert_eq!(tx.on_retransmission(), Some(b"200".to_vec()));
        let fired = run_server(&mut tx, t0, Duration::from_secs(40));
        assert_eq!(
            fired,
            vec![(Duration::from_secs(32), TimerOutcome::Terminated)]
        );
    }

    #[test]
    fn reliable_transports_do_not_retransmit() {
        let t0 = Instant::now();
        let mut tx = ServerTransaction::new(false, tcp(), TimerConfig::default());
        tx.send_response(t0, 200, vec![]);
        assert_eq!(
            run_server(&mut tx, t0, Duration::from_secs(1)),
            vec![(ms(0), TimerOutcome::Terminated)]
        );
        let mut c = ClientTransaction::start(t0, tcp(), vec![1], TimerConfig::default());
        assert_eq!(c.next_timeout(), Some(t0 + Duration::from_secs(32)));
        assert!(c.on_response(t0, 200));
        assert_eq!(c.take_expired(t0), Some(Timer::K));
    }

    #[test]
    fn non_invite_client_backs_off_to_t2_and_times_out() {
        let t0 = Instant::now();
        let mut c = ClientTransaction::start(t0, udp(), b"BYE".to_vec(), TimerConfig::default());
        let mut at = vec![];
        let outcome = loop {
            let when = c.next_timeout().unwrap();
            let timer = c.take_expired(when).unwrap();
            match c.on_timer(when, timer) {
                TimerOutcome::Retransmit(_) => at.push((when - t0).as_millis()),
                other => break (when - t0, other),
            }
        };
        assert_eq!(&at[..5], &[500, 1500, 3500, 7500, 11500]);
        assert_eq!(outcome, (Duration::from_secs(32), TimerOutcome::TimedOut));
    }

    #[test]
    fn client_delivers_final_once() {
        let t0 = Instant::now();
        let mut c = ClientTransaction::start(t0, udp(), vec![], TimerConfig::default());
        assert!(c.on_response(t0, 100));
        assert!(c.on_response(t0, 200));
        assert!(!c.on_response(t0, 200), "a retransmitted final is absorbed");
        let when = c.next_timeout().unwrap();
        assert_eq!(when, t0 + Duration::from_secs(5));
        let timer = c.take_expired(when).unwrap();
        assert_eq!(c.on_timer(when, timer), TimerOutcome::Terminated);
    }

    fn invite() -> rsip::Request {
        let raw = "INVITE sip:1001@127.0.0.1:5062 SIP/2.0\r\n\
            Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKop1;rport\r\n\
            Max-Forwards: 70\r\nRoute: <sip:proxy.example;lr>\r\n\
            From: <sip:hotline@127.0.0.1>;tag=ours\r\nTo: <sip:1001@127.0.0.1>\r\n\
            Call-ID: leg2\r\nCSeq: 7 INVITE\r\nContact: <sip:hotline@127.0.0.1:5060>\r\n\
            Content-Length: 0\r\n\r\n";
        match crate::wire::parse(raw.as_bytes()).unwrap() {
            rsip::SipMessage::Request(r) => r,
            _ => unreachable!(),
        }
    }

    fn response(code: u16) -> rsip::Response {
        let raw = format!(
            "SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKop1\r\n\
             From: <sip:hotline@127.0.0.1>;tag=ours\r\nTo: <sip:1001@127.0.0.1>;tag=phone\r\n\
             Call-ID: leg2\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n"
        );
        match crate::wire::parse(raw.as_bytes()).unwrap() {
            rsip::SipMessage::Response(r) => r,
            _ => unreachable!(),
        }
    }

    #[test]
    fn invite_is_retransmitted_doubling_until_b() {
        let t0 = Instant::now();
        let (mut tx, _) =
            InviteClientTransaction::start(t0, udp(), invite(), TimerConfig::default());
        let mut at = vec![];
        let outcome = loop {
            let when = tx.next_timeout().unwrap();
            let timer = tx.take_expired(when).unwrap();
            match tx.on_timer(when, timer) {
                TimerOutcome::Retransmit(_) => at.push((when - t0).as_millis()),
                other => break (when - t0, other),
            }
        };
        // No T2 cap for INVITE: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s.
        assert_eq!(at, vec![500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(outcome, (Duration::from_secs(32), TimerOutcome::TimedOut));
    }

    #[test]
    fn ringing_stops_retransmission_and_a_busy_is_acked() {
        let t0 = Instant::now();
        let (mut tx, _) =
            InviteClientTransaction::start(t0, udp(), invite(), TimerConfig::default());
        assert_eq!(tx.cancel(), None, "no CANCEL before a provisional");
        assert!(tx.on_response(t0, &response(180)).deliver);
        assert_eq!(
            tx.next_timeout(),
            None,
            "ringing may last as long as the TU wants"
        );
        let cancel = tx.cancel().expect("CANCEL after 180");
        let text =
            String::from_utf8(crate::wire::serialize(&rsip::SipMessage::Request(cancel))).unwrap();
        assert!(text.starts_with("CANCEL sip:1001@127.0.0.1:5062 SIP/2.0"));
        assert!(
            text.contains("branch=z9hG4bKop1")
                && text.contains("CSeq: 7 CANCEL")
                && text.contains("Route: <sip:proxy.example;lr>")
        );
        let busy = tx.on_response(t0, &response(486));
        assert!(busy.deliver);
        let ack = String::from_utf8(busy.send.unwrap()).unwrap();
        assert!(
            ack.starts_with("ACK sip:1001@127.0.0.1:5062 SIP/2.0"),
            "{ack}"
        );
        assert!(
            ack.contains("To: <sip:1001@127.0.0.1>;tag=phone")
                && ack.contains("CSeq: 7 ACK")
                && ack.contains("branch=z9hG4bKop1")
        );
        let again = tx.on_response(t0, &response(486));
        assert_eq!(
            (again.deliver, again.send.is_some()),
            (false, true),
            "re-ACKed, not re-delivered"
        );
        let when = tx.next_timeout().unwrap();
        assert_eq!(when, t0 + Duration::from_secs(32));
        let timer = tx.take_expired(when).unwrap();
        assert_eq!(tx.on_timer(when, timer), TimerOutcome::Terminated);
    }

    #[test]
    fn answered_invite_passes_every_2xx_up_until_m() {
        let t0 = Instant::now();
        let (mut tx, _) =
            InviteClientTransaction::start(t0, tcp(), invite(), TimerConfig::default());
        assert_eq!(
            tx.next_timeout(),
            Some(t0 + Duration::from_secs(32)),
            "TCP: Timer B only"
        );
        let ok = tx.on_response(t0, &response(200));
        assert_eq!((ok.deliver, ok.send), (true, None), "the TU ACKs a 2xx");
        assert_eq!(tx.state, InviteClientState::Accepted);
        assert!(
            tx.on_response(t0, &response(200)).deliver,
            "retransmitted 2xx: the TU re-ACKs"
        );
        let when = tx.next_timeout().unwrap();
        let timer = tx.take_expired(when).unwrap();
        assert_eq!(tx.on_timer(when, timer), TimerOutcome::Terminated);
    }
}
