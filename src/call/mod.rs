//! Calls: what happens to each one, from its INVITE to its end.
//!
//! - [`machine`]: an answered call's phases (menu, queued, bridged, held,
//!   closing) and what every input does in each, as plain code that returns
//!   actions; tested in simulated time.
//! - [`task`](run): one task per call, the thin driver: it decides what
//!   comes before the answer (on file, trusted source, capacity, block list,
//!   media), then feeds the machine and carries out its actions, then puts
//!   the call's end on file.
//! - [`admission`]: whether a new INVITE may become a call (each source's
//!   limits, calls being set up apart from established ones), plain code
//!   the SIP core asks before a call task exists.
//! - [`forks`]: which call and operator each outgoing leg rings for
//!   (sans-IO), for the SIP core.
//! - [`monitor`]: a supervisor listening in, whispering or barging in, as
//!   plain code the call's machine runs.
//! - here: what the SIP core and a call tell each other ([`CallEvent`],
//!   [`Command`]), and [`CallContext`], what every call shares.
//!
//! The SIP core task is [`crate::sip::core`]; every call's RTP, prompts and
//! recording run in the media engine ([`crate::rtp::engine`]), which the
//! task steers with commands and hears from through a few events.

pub mod admission;
pub mod forks;
pub mod machine;
#[cfg(test)]
mod machine_tests;
pub mod monitor;
pub mod outbound;
mod task;

pub use task::run;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ipnet::IpNet;
use rsip::Request;
use tokio::sync::mpsc;

use crate::events::EventBus;
use crate::ids::CallId;
use crate::ivr::assets::CurrentIvr;
use crate::media::Codec;
use crate::phone::NumberingPlan;
use crate::queue::OperatorId;
use crate::queue::service::QueueService;
use crate::recording::Recorder;
use crate::rtp::engine::MediaEngine;
use crate::rtp::ports::PortPool;
use crate::sip::{LegKey, msg};
use crate::store::Store;

/// Codecs we offer and accept, in our order of preference.
pub const CODECS: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

/// What the SIP core tells a call.
#[derive(Debug)]
pub enum CallEvent {
    Cancelled,
    Confirmed {
        body: Vec<u8>,
    },
    ReInvite {
        request: Box<Request>,
    },
    Info {
        request: Box<Request>,
    },
    RemoteHangup,
    /// Our BYE is done (or failed): the dialog is gone.
    Terminated,
    AckTimeout,
    /// The server is stopping: hang up.
    Shutdown,
    /// An operator's phone rings (180/183 on one of their legs).
    OperatorRinging {
        operator: OperatorId,
    },
    /// An operator answered on this leg (the others of the fork are
    /// cancelled); the body is their SDP answer.
    OperatorAnswered {
        operator: OperatorId,
        leg: LegKey,
        body: Vec<u8>,
    },
    /// None of the operator's phones took the call: the worst final status
    /// (486/603 before 480/408/487), or 480 when none is registered.
    OperatorFailed {
        operator: OperatorId,
        code: u16,
    },
    /// The operator hung up (BYE on their leg, answered).
    OperatorHungUp {
        leg: LegKey,
    },
    /// Our BYE on an operator's leg is done.
    OperatorLegGone {
        leg: LegKey,
    },
    /// The operator's phone re-INVITEs (hold, resume): answer with
    /// [`Command::RespondLegReInvite`].
    OperatorReInvite {
        leg: LegKey,
        request: Box<Request>,
    },
    /// The operator's phone answered (in its ACK) the offer we made for an
    /// offer-less re-INVITE.
    OperatorConfirmed {
        leg: LegKey,
        body: Vec<u8>,
    },
    /// The operator transfers the caller (REFER, accepted 202): answer
    /// with [`Command::NotifyTransfer`].
    OperatorTransfer {
        leg: LegKey,
        target: String,
    },
    /// A call we placed rings (180) or brings early media (183 with SDP).
    Progress {
        code: u16,
        body: Vec<u8>,
    },
    /// A call we placed was answered (ACK sent); the SDP answer.
    Answered {
        body: Vec<u8>,
    },
    /// A call we placed failed: busy (486), declined, not answered in
    /// time (our CANCEL: 487), unreachable (408)…
    Failed {
        code: u16,
    },
}

/// What a call asks of the SIP core.
#[derive(Debug)]
pub enum Command {
    Respond {
        call: CallId,
        code: u16,
        body: Option<Vec<u8>>,
    },
    /// Our 200 with this SDP; `sent` says whether it went out (not when a
    /// CANCEL or the caller's end got there first).
    Answer {
        call: CallId,
        body: Vec<u8>,
        sent: tokio::sync::oneshot::Sender<bool>,
    },
    RespondReInvite {
        call: CallId,
        code: u16,
        body: Option<Vec<u8>>,
    },
    Hangup {
        call: CallId,
    },
    /// Contact/Via host for this call (our address facing the caller).
    LocalHost {
        call: CallId,
        host: String,
    },
    /// The call task has finished (its legs are ended too).
    Done {
        call: CallId,
    },
    /// Ring every registered phone of an operator.
    Ring(RingRequest),
    /// Stop ringing the operator's phones (those not answered).
    CancelRing {
        call: CallId,
        operator: OperatorId,
    },
    /// Hang up a leg (CANCEL or BYE as far as it got).
    EndLeg {
        leg: LegKey,
    },
    RespondLegReInvite {
        leg: LegKey,
        code: u16,
        body: Option<Vec<u8>>,
    },
    /// Tell the operator's phone how its transfer went.
    NotifyTransfer {
        leg: LegKey,
        code: u16,
    },
    /// Place a call out ([`outbound`]): its leg's key comes back on
    /// `leg`, its events on `events`; end it with [`Command::EndLeg`] and
    /// [`Command::Done`].
    /// Ring an operator's registered softphone (its first contact, or
    /// through the PBX trunk), as [`Command::Dial`] does; `leg` gets
    /// `None` when the extension has no phone to ring.
    DialExtension {
        call: CallId,
        extension: String,
        dial: Box<crate::sip::Dial>,
        events: mpsc::UnboundedSender<CallEvent>,
        leg: tokio::sync::oneshot::Sender<Option<LegKey>>,
    },
    Dial {
        call: CallId,
        flow: crate::sip::Flow,
        dial: Box<crate::sip::Dial>,
        events: mpsc::UnboundedSender<CallEvent>,
        leg: tokio::sync::oneshot::Sender<LegKey>,
    },
}

/// Ring an operator's phones for a call: their extension, the caller's
/// number and a display name to show, our SDP offer.
#[derive(Debug)]
pub struct RingRequest {
    pub call: CallId,
    pub operator: OperatorId,
    pub extension: String,
    pub caller: String,
    pub display: Option<String>,
    pub sdp: Vec<u8>,
}

/// Where calls may come from.
#[derive(Debug, Clone)]
pub struct Origin {
    pub name: String,
    pub networks: Vec<IpNet>,
    /// Trust every address of this machine (`this-host`): a softphone on
    /// the server itself may send from its LAN address, not loopback.
    pub this_host: bool,
    /// Its calls' media only from and to the SDP's address
    /// ([`crate::rtp::session::Latch::Strict`]).
    pub strict_media: bool,
    /// Each of its callers' admission limits, if not `[sip.admission]`'s.
    pub admission: Option<admission::Limits>,
}

impl Origin {
    fn contains(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(&ip)) || (self.this_host && is_own_address(ip))
    }
}

/// Whether `ip` belongs to this machine: only an own address can be bound.
pub fn is_own_address(ip: IpAddr) -> bool {
    ip.is_loopback() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

/// Everything a call needs, shared by all calls.
pub struct CallContext {
    pub store: Store,
    /// The city's time zone (the working calendar's): dates and times told
    /// to callers are on its clock.
    pub city_tz: chrono_tz::Tz,
    pub recorder: Recorder,
    pub ports: PortPool,
    /// `host:port` and IP to advertise when fixed by configuration (a
    /// public address, or a specific listen address); `None` means "the
    /// address of ours that faces each caller".
    pub advertised: Option<(String, IpAddr)>,
    /// Our SIP port, for per-call Contact addresses.
    pub sip_port: u16,
    /// The IVR in force; new calls take the current one, so a reload never
    /// changes a call in progress.
    pub ivr: CurrentIvr,
    pub origins: Vec<Origin>,
    pub open_access: bool,
    pub numbering: NumberingPlan,
    pub answer_delay: Duration,
    /// Calls in progress beyond which new ones get 503; 0 = no limit.
    pub max_calls: usize,
    /// Carries every call's RTP, prompts and recording.
    pub media: MediaEngine,
    pub active: AtomicUsize,
    /// Calls confirmed by ACK and not yet ended, kept by the SIP core's
    /// admission control; `max_calls` limits these.
    pub established: AtomicUsize,
    /// Calls in progress by our id, with a way to reach each from outside
    /// (the console's "end call and block caller", a supervisor listening
    /// in).
    pub live: std::sync::Mutex<std::collections::HashMap<CallId, mpsc::UnboundedSender<Control>>>,
    pub queues: QueueService,
    /// Calls a supervisor listens in on: who, and the state
    /// ([`monitor::Monitoring`]).
    pub monitors: std::sync::Mutex<std::collections::HashMap<CallId, (String, &'static str)>>,
    pub events: EventBus,
    /// A registered softphone logs its operator in.
    pub login_on_register: bool,
    /// What blocked and anonymous callers get.
    pub blocking: crate::config::BlockingSettings,
    pub metrics: crate::metrics::Metrics,
}

/// What the console asks of a call in progress.
#[derive(Debug)]
pub enum Control {
    /// End it (BYE to both sides).
    End,
    /// Monitoring by a supervisor; the answer comes on `reply`.
    Monitor {
        request: monitor::MonitorRequest,
        reply: tokio::sync::oneshot::Sender<Result<(), monitor::MonitorRefusal>>,
    },
}

impl CallContext {
    /// Ends a call in progress (BYE to both sides); `false` if it is not
    /// in progress.
    pub fn end_call(&self, id: CallId) -> bool {
        self.control(id, Control::End)
    }

    /// Tells a call in progress; `false` if it is not in progress.
    fn control(&self, id: CallId, control: Control) -> bool {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .is_some_and(|tx| tx.send(control).is_ok())
    }

    /// Our address as the peer at `ip` sees it: the configured one, else
    /// the local address the system routes to that peer from.
    pub fn local_address(&self, peer: IpAddr) -> (Option<String>, IpAddr) {
        match &self.advertised {
            Some((_, ip)) => (None, *ip),
            None => {
                let ip = local_ip_towards(peer).unwrap_or(IpAddr::from([127, 0, 0, 1]));
                (
                    Some(std::net::SocketAddr::new(ip, self.sip_port).to_string()),
                    ip,
                )
            }
        }
    }

    /// The configured peer or trunk a source address belongs to.
    pub fn origin_of(&self, ip: IpAddr) -> Option<&Origin> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.origins.iter().find(|o| o.contains(ip))
    }
}

/// What the HTTP edge may do with calls in progress.
impl crate::api::CallControl for CallContext {
    fn end_call(&self, call: CallId) -> bool {
        CallContext::end_call(self, call)
    }

    fn monitor(
        &self,
        call: CallId,
        request: monitor::MonitorRequest,
    ) -> Option<tokio::sync::oneshot::Receiver<Result<(), monitor::MonitorRefusal>>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.control(call, Control::Monitor { request, reply })
            .then_some(answer)
    }

    fn monitors(&self) -> Vec<(CallId, String, &'static str)> {
        let monitors = self.monitors.lock().unwrap_or_else(|e| e.into_inner());
        monitors
            .iter()
            .map(|(call, (who, state))| (*call, who.clone(), *state))
            .collect()
    }

    fn active_calls(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    fn rtp_ports_in_use(&self) -> usize {
        self.ports.in_use()
    }

    fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }
}

/// The local address the system would send from to reach `peer`: a UDP
/// socket connected to it (which sends nothing) tells.
pub fn local_ip_towards(peer: IpAddr) -> Option<IpAddr> {
    let any: std::net::SocketAddr = if peer.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let socket = std::net::UdpSocket::bind(any).ok()?;
    socket.connect((peer, 9)).ok()?;
    socket.local_addr().ok().map(|a| a.ip())
}

/// The caller's number as signalled: P-Asserted-Identity, else
/// Remote-Party-ID (its older cousin, still sent by many PBXs), when the
/// call comes from a trusted peer or trunk (RFC 3325 trusts them only
/// there); else the From user part.
pub fn caller_number(invite: &Request, trusted: bool) -> String {
    let asserted = |name: &str| {
        msg::first_header(invite, name)
            .filter(|_| trusted)
            .as_deref()
            .and_then(msg::addr_uri)
            .and_then(msg::uri_user)
            .map(str::to_string)
    };
    asserted("P-Asserted-Identity")
        .or_else(|| asserted("Remote-Party-ID"))
        .or_else(|| {
            let from = msg::first_header(invite, "From")?;
            msg::addr_uri(&from)
                .and_then(msg::uri_user)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "anonymous".into())
}

/// The number dialled: the Request-URI's user part, else To's.
pub fn called_number(invite: &Request) -> String {
    let ruri = invite.uri.to_string();
    msg::uri_user(&ruri)
        .map(str::to_string)
        .or_else(|| {
            msg::first_header(invite, "To")
                .as_deref()
                .and_then(msg::addr_uri)
                .and_then(msg::uri_user)
                .map(str::to_string)
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::machine::info_digit;
    use super::*;
    use crate::sip::wire;

    fn req(extra: &str, body: &str) -> Request {
        let raw = format!(
            "INVITE sip:1580@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n\
             From: \"Citizen\" <sip:0611234567@127.0.0.1>;tag=a\r\nTo: <sip:15-80@127.0.0.1>\r\n\
             Call-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        match wire::parse(raw.as_bytes()).unwrap() {
            rsip::SipMessage::Request(r) => r,
            _ => unreachable!(),
        }
    }

    #[test]
    fn caller_from_pai_else_from() {
        assert_eq!(caller_number(&req("", ""), true), "0611234567");
        let pai = "P-Asserted-Identity: \"Trunk\" <sip:+380501112233@trunk.example>, <tel:+380501112233>\r\n";
        assert_eq!(caller_number(&req(pai, ""), true), "+380501112233");
        assert_eq!(
            caller_number(&req(pai, ""), false),
            "0611234567",
            "PAI only from trusted sources"
        );
        let rpid =
            "Remote-Party-ID: \"Caller\" <sip:0612223344@pbx.example>;party=calling;screen=yes\r\n";
        assert_eq!(caller_number(&req(rpid, ""), true), "0612223344");
        assert_eq!(
            caller_number(&req(&format!("{pai}{rpid}"), ""), true),
            "+380501112233",
            "PAI before Remote-Party-ID"
        );
        assert_eq!(caller_number(&req(rpid, ""), false), "0611234567");
        assert_eq!(called_number(&req("", "")), "1580");
    }

    #[test]
    fn own_addresses() {
        assert!(is_own_address("127.0.0.1".parse().unwrap()));
        assert!(
            is_own_address("127.0.0.9".parse().unwrap()),
            "all of 127/8 is ours"
        );
        assert!(
            !is_own_address("198.51.100.77".parse().unwrap()),
            "TEST-NET-2 is nobody's here"
        );
        let lan = local_ip_towards("198.51.100.77".parse().unwrap());
        if let Some(ip) = lan {
            assert!(
                is_own_address(ip),
                "the address we route from is ours: {ip}"
            );
        }
    }

    #[test]
    fn info_digits() {
        let relay = "Content-Type: application/dtmf-relay\r\n";
        assert_eq!(
            info_digit(&req(relay, "Signal=5\r\nDuration=160\r\n")),
            Some('5')
        );
        assert_eq!(info_digit(&req(relay, "Signal= #\r\n")), Some('#'));
        assert_eq!(info_digit(&req(relay, "Signal=11\r\n")), Some('#'));
        assert_eq!(
            info_digit(&req("Content-Type: application/dtmf\r\n", "7")),
            Some('7')
        );
        assert_eq!(info_digit(&req("Content-Type: text/plain\r\n", "7")), None);
        assert_eq!(info_digit(&req(relay, "Signal=X\r\n")), None);
    }
}
