//! The load generator's calls on the SIP side, sans-IO: each call is told
//! the time and the responses and requests that concern it, and answers
//! with the datagrams to send. INVITE (retransmitted on UDP as RFC 3261
//! §17.1.1 says), ACK, BYE (retransmitted), 200 to the server's BYE.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hotline::sip::msg;
use rsip::SipMessage;

const T1: Duration = Duration::from_millis(500);
/// Timer B: give up on an INVITE with no final answer.
const INVITE_TIMEOUT: Duration = Duration::from_secs(32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not started yet.
    Waiting,
    Inviting,
    /// Answered: media flows.
    Talking,
    /// Our BYE is out.
    Ending,
    Done,
}

/// How a call came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered, held and hung up by us.
    Completed,
    /// Answered, then the server hung up before we did.
    EndedByServer,
    /// A final error response (the status).
    Refused(u16),
    /// No final response in time.
    TimedOut,
}

/// What the media side needs of an answered call.
#[derive(Debug, Clone, Copy)]
pub struct Answered {
    /// Where the server wants our RTP.
    pub rtp_to: SocketAddr,
    pub at: Instant,
}

pub struct Call {
    pub index: usize,
    pub call_id: String,
    caller: String,
    tag: String,
    local: SocketAddr,
    target: SocketAddr,
    rtp_port: u16,
    pub phase: Phase,
    invite: Vec<u8>,
    invite_branch: String,
    pub invited_at: Option<Instant>,
    next_retransmit: Option<Instant>,
    interval: Duration,
    remote_tag: Option<String>,
    remote_target: Option<String>,
    pub answered: Option<Answered>,
    bye: Option<Vec<u8>>,
    bye_tries: u32,
    pub outcome: Option<Outcome>,
}

impl Call {
    pub fn new(
        index: usize,
        caller: String,
        local: SocketAddr,
        target: SocketAddr,
        rtp_port: u16,
    ) -> Call {
        Call {
            index,
            call_id: format!("load-{index}-{}", msg::random_token()),
            caller,
            tag: msg::random_token(),
            local,
            target,
            rtp_port,
            phase: Phase::Waiting,
            invite: Vec::new(),
            invite_branch: msg::new_branch(),
            invited_at: None,
            next_retransmit: None,
            interval: T1,
            remote_tag: None,
            remote_target: None,
            answered: None,
            bye: None,
            bye_tries: 0,
            outcome: None,
        }
    }

    fn from(&self) -> String {
        format!("<sip:{}@{}>;tag={}", self.caller, self.local.ip(), self.tag)
    }

    fn to(&self) -> String {
        match &self.remote_tag {
            Some(t) => format!("<sip:1580@{}>;tag={t}", self.target.ip()),
            None => format!("<sip:1580@{}>", self.target.ip()),
        }
    }

    /// Starts the call: the INVITE.
    pub fn start(&mut self, now: Instant) -> Vec<u8> {
        let ip = self.local.ip();
        let sdp = format!(
            "v=0\r\no=- {n} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
            n = self.index + 1,
            port = self.rtp_port
        );
        self.invite = format!(
            "INVITE sip:1580@{target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {cid}\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:{caller}@{local}>\r\nUser-Agent: hotline-load\r\n\
             Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            target = self.target,
            local = self.local,
            branch = self.invite_branch,
            from = self.from(),
            to = self.to(),
            cid = self.call_id,
            caller = self.caller,
            len = sdp.len(),
        )
        .into_bytes();
        self.phase = Phase::Inviting;
        self.invited_at = Some(now);
        self.next_retransmit = Some(now + T1);
        self.invite.clone()
    }

    /// Hangs up an answered call: the BYE.
    pub fn hang_up(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.phase != Phase::Talking {
            return None;
        }
        let uri = self
            .remote_target
            .clone()
            .unwrap_or_else(|| format!("sip:1580@{}", self.target));
        let bye = format!(
            "BYE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {cid}\r\nCSeq: 2 BYE\r\n\
             Content-Length: 0\r\n\r\n",
            local = self.local,
            branch = msg::new_branch(),
            from = self.from(),
            to = self.to(),
            cid = self.call_id,
        )
        .into_bytes();
        self.bye = Some(bye.clone());
        self.bye_tries = 1;
        self.phase = Phase::Ending;
        self.next_retransmit = Some(now + T1);
        Some(bye)
    }

    /// When [`Call::on_timer`] wants to run.
    pub fn deadline(&self) -> Option<Instant> {
        self.next_retransmit
    }

    /// Retransmissions and giving up.
    pub fn on_timer(&mut self, now: Instant) -> Option<Vec<u8>> {
        let due = self.next_retransmit.filter(|t| *t <= now)?;
        match self.phase {
            Phase::Inviting => {
                if self.invited_at.is_some_and(|t| now - t >= INVITE_TIMEOUT) {
                    self.finish(Outcome::TimedOut);
                    return None;
                }
                self.interval = (self.interval * 2).min(Duration::from_secs(4));
                self.next_retransmit = Some(due + self.interval);
                Some(self.invite.clone())
            }
            Phase::Ending if self.bye_tries < 7 => {
                self.bye_tries += 1;
                self.next_retransmit = Some(now + T1 * 2u32.pow(self.bye_tries.min(3)));
                self.bye.clone()
            }
            Phase::Ending => {
                // The BYE went unanswered: the call is over for us anyway.
                self.finish(Outcome::Completed);
                None
            }
            _ => {
                self.next_retransmit = None;
                None
            }
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        self.phase = Phase::Done;
        self.next_retransmit = None;
        self.outcome.get_or_insert(outcome);
    }

    /// A message for this call (same Call-ID); returns what to send back.
    pub fn on_message(&mut self, now: Instant, message: &SipMessage) -> Vec<Vec<u8>> {
        match message {
            SipMessage::Response(r) => self.on_response(now, r),
            SipMessage::Request(req) => self.on_request(req),
        }
    }

    fn on_response(&mut self, now: Instant, r: &rsip::Response) -> Vec<Vec<u8>> {
        let code = u16::from(r.status_code.clone());
        let Ok((_, method)) = msg::cseq(r) else {
            return Vec::new();
        };
        match method {
            rsip::Method::Invite if code < 200 => {
                // Provisional: stop retransmitting, wait for the final.
                if self.phase == Phase::Inviting {
                    self.next_retransmit = self.invited_at.map(|t| t + INVITE_TIMEOUT);
                }
                Vec::new()
            }
            rsip::Method::Invite if code < 300 => {
                let first = self.phase == Phase::Inviting;
                if first {
                    self.remote_tag = msg::to_tag(r).ok().flatten();
                    self.remote_target = msg::first_header(r, "Contact")
                        .as_deref()
                        .and_then(msg::addr_uri)
                        .map(str::to_owned);
                    let rtp_to = hotline::sdp::SessionDescription::parse(&r.body)
                        .ok()
                        .and_then(|sd| {
                            let media = sd.media.first()?;
                            let ip = media.connection.or(sd.connection)?;
                            Some(SocketAddr::new(ip, media.port))
                        });
                    match rtp_to {
                        Some(rtp_to) => {
                            self.answered = Some(Answered { rtp_to, at: now });
                            self.phase = Phase::Talking;
                            self.next_retransmit = None;
                        }
                        None => {
                            self.finish(Outcome::Refused(code));
                        }
                    }
                }
                // Every 2xx (also a retransmitted one) gets its ACK.
                vec![self.ack(None)]
            }
            rsip::Method::Invite => {
                let ack = self.ack(Some(self.invite_branch.clone()));
                if self.phase == Phase::Inviting {
                    self.finish(Outcome::Refused(code));
                }
                vec![ack]
            }
            rsip::Method::Bye if self.phase == Phase::Ending => {
                self.finish(Outcome::Completed);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// ACK: for a 2xx a new transaction to the remote target; for an error
    /// the INVITE's own branch (RFC 3261 §17.1.1.3).
    fn ack(&self, branch: Option<String>) -> Vec<u8> {
        let uri = match &branch {
            Some(_) => format!("sip:1580@{}", self.target),
            None => self
                .remote_target
                .clone()
                .unwrap_or_else(|| format!("sip:1580@{}", self.target)),
        };
        format!(
            "ACK {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {cid}\r\nCSeq: 1 ACK\r\n\
             Content-Length: 0\r\n\r\n",
            local = self.local,
            branch = branch.unwrap_or_else(msg::new_branch),
            from = self.from(),
            to = self.to(),
            cid = self.call_id,
        )
        .into_bytes()
    }

    fn on_request(&mut self, req: &rsip::Request) -> Vec<Vec<u8>> {
        let ok = || {
            let headers: String = ["Via", "From", "To", "Call-ID", "CSeq"]
                .iter()
                .flat_map(|name| {
                    msg::header_values(req, name)
                        .into_iter()
                        .map(move |v| format!("{name}: {v}\r\n"))
                })
                .collect();
            format!("SIP/2.0 200 OK\r\n{headers}Content-Length: 0\r\n\r\n").into_bytes()
        };
        match req.method {
            rsip::Method::Bye => {
                if matches!(self.phase, Phase::Talking | Phase::Inviting) {
                    self.finish(Outcome::EndedByServer);
                } else {
                    self.finish(Outcome::Completed);
                }
                vec![ok()]
            }
            // Re-INVITEs, INFO, OPTIONS: fine by us.
            rsip::Method::Ack => Vec::new(),
            _ => vec![ok()],
        }
    }
}

/// The Call-ID of a message, to find its call.
pub fn call_id_of(message: &SipMessage) -> Option<String> {
    msg::call_id(message).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SipMessage {
        hotline::sip::wire::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn a_call_invites_acks_and_hangs_up() {
        let t0 = Instant::now();
        let local: SocketAddr = "127.0.0.1:6000".parse().unwrap();
        let target: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let mut call = Call::new(0, "0671000000".into(), local, target, 7000);
        let invite = String::from_utf8(call.start(t0)).unwrap();
        assert!(invite.starts_with("INVITE sip:1580@127.0.0.1:5060 SIP/2.0\r\n"));
        assert!(invite.contains("m=audio 7000 RTP/AVP 0 101"));
        let invite = parse(&invite);
        assert_eq!(call_id_of(&invite).as_deref(), Some(call.call_id.as_str()));
        // Nothing heard: retransmitted after T1.
        assert!(call.on_timer(t0 + Duration::from_millis(499)).is_none());
        assert!(call.on_timer(t0 + T1).is_some());
        let ok = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:6000;branch=x\r\nFrom: <sip:a@b>;tag=1\r\n\
             To: <sip:1580@127.0.0.1>;tag=srv\r\nCall-ID: {}\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:1580@127.0.0.1:5060>\r\nContent-Type: application/sdp\r\n\
             Content-Length: 80\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\n",
            call.call_id
        );
        let out = call.on_message(t0 + T1, &parse(&ok));
        assert_eq!(out.len(), 1);
        assert!(String::from_utf8_lossy(&out[0]).starts_with("ACK sip:1580@127.0.0.1:5060"));
        assert_eq!(call.phase, Phase::Talking);
        assert_eq!(
            call.answered.unwrap().rtp_to,
            "127.0.0.1:20000".parse().unwrap()
        );
        let bye = String::from_utf8(call.hang_up(t0 + Duration::from_secs(5)).unwrap()).unwrap();
        assert!(bye.contains("To: <sip:1580@127.0.0.1>;tag=srv"), "{bye}");
        let done = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:6000;branch=y\r\nFrom: <sip:a@b>;tag=1\r\n\
             To: <sip:1580@127.0.0.1>;tag=srv\r\nCall-ID: {}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
            call.call_id
        );
        call.on_message(t0 + Duration::from_secs(5), &parse(&done));
        assert_eq!(call.outcome, Some(Outcome::Completed));
    }
}
