//! Calls: one task per call that takes the SIP core's events, negotiates
//! media, answers, drives the IVR and the queue, and writes the call
//! record. The SIP core itself lives in [`core`]; every call's RTP,
//! prompts and recording run in the media [`engine`], which the task steers
//! with commands and hears from through a few events.
//!
//! This is the async edge where protocol logic meets sockets, the database
//! and the recorder; the decisions are made by the sans-IO parts
//! (`sip::Endpoint`, `rtp::session::MediaSession`, `sdp`,
//! `engine::CallMedia`).

pub mod core;
pub mod engine;
pub mod forks;
pub mod player;
pub mod ports;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use ipnet::IpNet;
use rsip::Request;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span, warn};
use uuid::Uuid;

use crate::events::{CallSummary, Event as Published, EventBus};
use crate::ids::CallId;
use crate::ivr::assets::{CurrentIvr, IvrAssets};
use crate::ivr::{self, Clock, Ivr};
use crate::media::Codec;
use crate::phone::{NumberingPlan, Pii};
use crate::queue::service::{QueueService, ToCall};
use crate::queue::{OperatorId, Position, Refusal, Rejection};
use crate::recording::Recorder;
use crate::rtp::session::MediaParams;
use crate::sdp::{self, LocalMedia, SessionDescription};
use crate::sip::{Flow, LegKey, msg};
use crate::store::{
    CallEnd, Disposition, EndedBy, FinishedRecording, NewCall, NewRecording, Store,
};
use engine::{Command as MediaCommand, MediaEngine, MediaEvent, MediaHandle, Side};
use ports::PortPool;

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
}

/// What a call asks of the SIP core.
#[derive(Debug)]
pub enum Command {
    Respond {
        call: CallId,
        code: u16,
        body: Option<Vec<u8>>,
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
    /// Calls in progress by our id, with a way to end each from outside
    /// (the console's "end call and block caller").
    pub live: std::sync::Mutex<std::collections::HashMap<CallId, mpsc::UnboundedSender<()>>>,
    pub queues: QueueService,
    pub events: EventBus,
    /// A registered softphone logs its operator in.
    pub login_on_register: bool,
    /// What blocked and anonymous callers get.
    pub blocking: crate::config::BlockingSettings,
    pub metrics: crate::metrics::Metrics,
}

impl CallContext {
    /// Ends a call in progress (BYE to both sides); `false` if it is not
    /// in progress.
    pub fn end_call(&self, id: CallId) -> bool {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .is_some_and(|tx| tx.send(()).is_ok())
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
    pub fn origin_of(&self, ip: IpAddr) -> Option<&str> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.origins
            .iter()
            .find(|o| o.contains(ip))
            .map(|o| o.name.as_str())
    }
}

/// What the HTTP edge may do with calls in progress.
impl crate::api::CallControl for CallContext {
    fn end_call(&self, call: CallId) -> bool {
        CallContext::end_call(self, call)
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

type LookupSender = mpsc::UnboundedSender<ivr::Input>;

/// How a call ended, for its record.
struct Ending {
    by: EndedBy,
    disposition: Disposition,
    status: Option<u16>,
    /// Our BYE must be sent.
    hang_up: bool,
}

/// Runs one call from INVITE to its end.
/// `id` is ours, given by the SIP core; the call's log span names it and
/// the SIP Call-ID, so every line of the call is found by either.
pub async fn run(
    ctx: Arc<CallContext>,
    id: CallId,
    invite: Box<Request>,
    source: Flow,
    events: mpsc::UnboundedReceiver<CallEvent>,
    commands: mpsc::UnboundedSender<Command>,
) {
    let sip_call_id = msg::call_id(invite.as_ref()).unwrap_or_default();
    let span = info_span!("call", %id, sip_call_id = %sip_call_id);
    ctx.active.fetch_add(1, Ordering::Relaxed);
    let call = Call {
        ctx: ctx.clone(),
        id,
        sip_call_id,
        commands: commands.clone(),
        events,
        caller_e164: None,
        caller_shown: String::new(),
        path: Default::default(),
        log: None,
        blocked: false,
    };
    // The call runs in a task of its own so that a bug in it cannot leave
    // the SIP side hanging: if it panics, the INVITE gets a 500 or the
    // dialog a BYE.
    let outcome = tokio::spawn(call.run(invite, source).instrument(span)).await;
    if let Err(e) = outcome {
        warn!(call = %id, error = %e, "call task failed; ending the call");
        let _ = commands.send(Command::Respond {
            call: id,
            code: 500,
            body: None,
        });
        let _ = commands.send(Command::Hangup { call: id });
    }
    // Whatever the call left in the queues (after a failure, a ghost
    // caller or an operator "on call") is released.
    ctx.queues.call_gone(id);
    ctx.live
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    ctx.active.fetch_sub(1, Ordering::Relaxed);
    let _ = commands.send(Command::Done { call: id });
}

struct Call {
    ctx: Arc<CallContext>,
    id: CallId,
    /// The SIP Call-ID the caller's side chose, for the record and the card.
    sip_call_id: String,
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<CallEvent>,
    caller_e164: Option<String>,
    /// The caller's number as the operator's phone shows it.
    caller_shown: String,
    /// The steps through the IVR so far, for the operator's card.
    path: std::sync::Mutex<Vec<String>>,
    /// Events of the call (digits, IVR steps, hold…) are written in order
    /// by one task, off the media path.
    log: Option<mpsc::UnboundedSender<(chrono::DateTime<Utc>, &'static str, String)>>,
    /// A blocked (or withheld, by policy) caller being told so: the call
    /// only hears the blocked menu and never joins a queue.
    blocked: bool,
}

/// What the block list says of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Screening {
    Pass,
    Reject,
    Prompt,
}

impl Call {
    fn respond(&self, code: u16, body: Option<Vec<u8>>) {
        let _ = self.commands.send(Command::Respond {
            call: self.id,
            code,
            body,
        });
    }

    /// The call's end on file, with its recording's end if it had one
    /// (one transaction).
    async fn end(
        &self,
        status: Option<u16>,
        by: EndedBy,
        disposition: Disposition,
        recording: Option<FinishedRecording>,
    ) {
        let end = CallEnd {
            at: Utc::now(),
            ended_by: by,
            sip_status: status,
            disposition,
        };
        if let Err(e) = self
            .ctx
            .store
            .call_finished(self.id.as_uuid(), end, recording)
            .await
        {
            warn!(error = %e, "cannot store the end of the call");
        }
    }

    async fn reject(&self, code: u16, disposition: Disposition) {
        self.respond(code, None);
        self.end(Some(code), EndedBy::Server, disposition, None)
            .await;
    }

    /// Checks the caller against the block list (000 §2.5.2), and a caller
    /// with no usable number against the anonymous policy. Each call from a
    /// blocked number is counted. If the list cannot be read the call goes
    /// on: a hotline must not turn every citizen away because its database
    /// is slow (the failure is logged).
    async fn screen(&self, assets: &IvrAssets) -> Screening {
        use crate::config::{AnonymousPolicy, BlockAction};
        let ctx = &self.ctx;
        let now = Utc::now();
        // Told only if the menu that tells is there (it is checked at
        // every load; this is the version the call runs on).
        let has_menu = assets.script.starts.contains_key(&ctx.blocking.prompt_menu);
        let as_screening = |action: BlockAction| match action {
            BlockAction::Prompt if has_menu => Screening::Prompt,
            BlockAction::Prompt => {
                warn!(menu = %ctx.blocking.prompt_menu, "the blocked callers' menu is missing; refusing instead");
                Screening::Reject
            }
            BlockAction::Reject => Screening::Reject,
        };
        let (screening, what) = match &self.caller_e164 {
            Some(number) => match ctx.store.active_block(number, now).await {
                Ok(Some((block, _reason))) => {
                    let screening = as_screening(ctx.blocking.action);
                    let what = match screening {
                        Screening::Prompt => "prompt",
                        _ => "rejected",
                    };
                    if let Err(e) = ctx
                        .store
                        .record_block_attempt(block, Some(self.id.as_uuid()), now, what)
                        .await
                    {
                        warn!(error = %e, "cannot count a blocked call");
                    }
                    info!(caller = %Pii(number.clone()), action = what, "call from a blocked number");
                    (screening, format!("blocked {what}"))
                }
                Ok(None) => return Screening::Pass,
                Err(e) => {
                    warn!(error = %e, "cannot read the block list; the call goes on");
                    return Screening::Pass;
                }
            },
            None => match ctx.blocking.anonymous {
                AnonymousPolicy::Allow => return Screening::Pass,
                AnonymousPolicy::Reject => (Screening::Reject, "withheld rejected".to_owned()),
                AnonymousPolicy::Prompt => match as_screening(BlockAction::Prompt) {
                    Screening::Prompt => (Screening::Prompt, "withheld prompt".to_owned()),
                    other => (other, "withheld rejected".to_owned()),
                },
            },
        };
        if let Err(e) = ctx
            .store
            .add_call_event(self.id.as_uuid(), now, "screening", &what)
            .await
        {
            warn!(error = %e, "cannot store the call's screening");
        }
        screening
    }

    async fn run(mut self, invite: Box<Request>, source: Flow) {
        let ctx = self.ctx.clone();
        let origin = ctx.origin_of(source.remote.ip()).map(str::to_string);
        let caller_raw = caller_number(&invite, origin.is_some());
        let caller_e164 = ctx.numbering.normalise(&caller_raw);
        self.caller_e164 = caller_e164.as_ref().map(|n| n.to_string());
        self.caller_shown = self
            .caller_e164
            .clone()
            .unwrap_or_else(|| caller_raw.clone());
        info!(
            caller = %Pii(caller_e164.as_ref().map(|n| n.to_string()).unwrap_or_else(|| caller_raw.clone())),
            from = %source.remote,
            origin = origin.as_deref().unwrap_or("-"),
            "incoming call"
        );
        let record = NewCall {
            id: self.id.as_uuid(),
            sip_call_id: self.sip_call_id.clone(),
            caller_raw: caller_raw.clone(),
            caller_e164: caller_e164.map(|n| n.to_string()),
            called_number: called_number(&invite),
            source: origin.clone().unwrap_or_else(|| "unknown".into()),
            source_addr: source.remote,
            transport: match source.transport {
                crate::sip::Transport::Udp => crate::store::Transport::Udp,
                crate::sip::Transport::Tcp => crate::store::Transport::Tcp,
            },
            arrived_at: Utc::now(),
        };
        if let Err(e) = ctx.store.insert_call(&record).await {
            // Without a record we cannot keep the promise that every call is
            // on file; refuse rather than answer unrecorded.
            warn!(error = %e, "cannot store the call; refusing it");
            self.respond(500, None);
            return;
        }
        if origin.is_none() && !ctx.open_access {
            info!(from = %source.remote, "call from an unknown source refused");
            return self.reject(403, Disposition::Rejected).await;
        }
        // Counts this call too.
        let active = ctx.active.load(Ordering::Relaxed);
        if ctx.max_calls > 0 && active > ctx.max_calls {
            // At info, as the other refusals: under overload a warning for
            // each would flood the log; `/metrics` counts them for alerts.
            info!(
                active,
                max_calls = ctx.max_calls,
                "too many calls; refusing with 503"
            );
            crate::metrics::Metrics::add(&ctx.metrics.calls_overload_total, 1);
            return self.reject(503, Disposition::Failed).await;
        }
        // The IVR in force now is the one this call runs on, start to end
        // (a reload changes only later calls).
        let assets = ctx.ivr.get();
        crate::metrics::Metrics::add(&ctx.metrics.calls_total, 1);
        // A blocked caller never reaches the IVR or an operator.
        let screening = self.screen(&assets).await;
        if screening != Screening::Pass {
            crate::metrics::Metrics::add(&ctx.metrics.calls_blocked_total, 1);
        }
        match screening {
            Screening::Pass => {}
            Screening::Reject => return self.reject(403, Disposition::Blocked).await,
            Screening::Prompt => self.blocked = true,
        }

        // Media: an offer in the INVITE, or none (we offer in the 2xx).
        let offer = if invite.body.is_empty() {
            None
        } else {
            match SessionDescription::parse(&invite.body) {
                Ok(sd) => Some(sd),
                Err(e) => {
                    info!(error = %e, "unreadable SDP offer");
                    return self.reject(400, Disposition::Rejected).await;
                }
            }
        };
        let negotiated = match &offer {
            Some(sd) => match sdp::negotiate(sd, &CODECS) {
                Ok(n) => Some(n),
                Err(e) => {
                    info!(error = %e, "no acceptable media");
                    return self.reject(488, Disposition::Rejected).await;
                }
            },
            None => None,
        };
        let sockets = match ctx.ports.allocate() {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "no RTP port for the call");
                return self.reject(503, Disposition::Failed).await;
            }
        };
        let (local_host, media_ip) = ctx.local_address(source.remote.ip());
        if let Some(host) = local_host {
            let _ = self.commands.send(Command::LocalHost {
                call: self.id,
                host,
            });
        }
        let local = LocalMedia {
            address: media_ip,
            port: sockets.port(),
            session_id: rand::random::<u32>() as u64,
            version: 1,
        };
        let answer_sdp = match (&offer, &negotiated) {
            (Some(sd), Some(n)) => sdp::answer(sd, n, &local),
            _ => sdp::offer(&local, &CODECS),
        };

        if !ctx.answer_delay.is_zero() {
            self.respond(180, None);
            let deadline = Instant::now() + ctx.answer_delay;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    ev = self.events.recv() => match ev {
                        Some(CallEvent::Cancelled) | None => {
                            info!("cancelled before answer");
                            return self.end(Some(487), EndedBy::Caller, Disposition::Cancelled, None).await;
                        }
                        Some(CallEvent::Shutdown) => {
                            return self.reject(503, Disposition::Failed).await;
                        }
                        Some(other) => debug!(?other, "ignored before answer"),
                    }
                }
            }
        }
        self.respond(200, Some(answer_sdp.into_bytes()));
        let answered_at = Utc::now();
        let params = match &negotiated {
            Some(n) => MediaParams::from(n),
            // Until the ACK brings the answer we only listen.
            None => MediaParams {
                codec: CODECS[0],
                dtmf_payload_type: Some(101),
                remote: None,
                direction: sdp::Direction::SendRecv,
            },
        };
        let recording = match ctx.recorder.start(Uuid::new_v4(), answered_at) {
            Ok(r) => Some(r),
            Err(e) => {
                warn!(error = %e, "recorder unavailable; the call goes unrecorded");
                None
            }
        };
        // The rows are written beside the media, not before it: the prompt
        // and the recording start with the answer, whatever the database's
        // latency.
        let rows = {
            let store = ctx.store.clone();
            let (id, codec) = (self.id.as_uuid(), params.codec.name());
            let row = recording.as_ref().map(|r| NewRecording {
                id: r.id,
                call_id: id,
                path: r.relative_path.to_string_lossy().into_owned(),
                started_at: answered_at,
                sample_rate: 8000,
                channels: 2,
            });
            tokio::spawn(async move {
                // One transaction: at hundreds of answers a second, each
                // commit is an fsync the next call's row waits behind.
                if let Err(e) = store
                    .call_answered(id, answered_at, codec, row.as_ref())
                    .await
                {
                    warn!(error = %e, "cannot store the answer and the recording row");
                }
            })
        };
        info!(codec = params.codec.name(), port = local.port, "answered");

        let (log_tx, mut log_rx) =
            mpsc::unbounded_channel::<(chrono::DateTime<Utc>, &'static str, String)>();
        self.log = Some(log_tx);
        let log_writer = {
            let (store, id) = (ctx.store.clone(), self.id.as_uuid());
            tokio::spawn(async move {
                // In order, one at a time: the path must read as it happened.
                while let Some((at, kind, detail)) = log_rx.recv().await {
                    if let Err(e) = store.add_call_event(id, at, kind, &detail).await {
                        warn!(error = %e, kind, "cannot store a call event");
                    }
                }
            })
        };
        let (handle, media_events) = ctx.media.start(self.id, params.clone(), recording, sockets);
        let mut media = Media {
            handle,
            events: media_events,
            params,
            local,
            ivr: match assets.script.starts.get(&ctx.blocking.prompt_menu) {
                Some(start) if self.blocked => {
                    Ivr::starting_at(assets.script.clone(), start.clone())
                }
                _ => Ivr::new(assets.script.clone()),
            },
            assets,
            queue: None,
            bridge: None,
            hangup_after_playback: false,
        };
        ctx.events.publish(Published::CallStarted { call: self.id });
        let ending = self.media_loop(&mut media).await;
        self.leave_queue_or_bridge(&mut media, ending.by);
        let Media { handle, .. } = media;
        let (stats, recording, sockets) = match handle.finish().await {
            Some(f) => (f.stats, f.recording, Some(f.sockets)),
            None => {
                // Only when the engine died with the server.
                warn!("the media engine is gone; the call's media is lost");
                (Default::default(), None, None)
            }
        };
        ctx.events.publish(Published::CallEnded {
            call: self.id,
            ended_by: ending.by.as_str(),
        });
        // Every event of the call is on file before the call is closed.
        self.log = None;
        let _ = log_writer.await;
        {
            use crate::metrics::Metrics;
            let m = &ctx.metrics;
            Metrics::add(&m.rtp_packets_in_total, stats.packets_in);
            Metrics::add(&m.rtp_packets_out_total, stats.packets_out);
            Metrics::add(&m.rtp_frames_missing_total, stats.jitter.missing);
            Metrics::add(&m.rtp_packets_late_total, stats.jitter.late);
            Metrics::add(&m.rtp_packets_ignored_total, stats.ignored);
            Metrics::add(&m.dtmf_digits_total, stats.dtmf);
        }
        info!(
            packets_in = stats.packets_in,
            packets_out = stats.packets_out,
            lost = stats.jitter.missing,
            digits = stats.dtmf,
            "call ended"
        );
        if ending.hang_up {
            let _ = self.commands.send(Command::Hangup { call: self.id });
        }
        let ended_at = Utc::now();
        // The rows must exist before they are completed.
        let _ = rows.await;
        let mut finished_recording = None;
        if let Some(rec) = recording {
            let id = rec.id;
            match rec.finish().await {
                Ok(summary) => {
                    // Stored with the call's end, in one transaction.
                    finished_recording = Some(FinishedRecording {
                        id,
                        ended_at,
                        duration_ms: summary.duration.as_millis() as u64,
                        size_bytes: summary.bytes,
                    });
                    if let Some(err) = summary.write_error {
                        crate::metrics::Metrics::add(&ctx.metrics.recordings_incomplete_total, 1);
                        warn!(error = %err, "recording is incomplete");
                    }
                }
                Err(e @ crate::recording::RecordingError::Create { .. }) => {
                    crate::metrics::Metrics::add(&ctx.metrics.recordings_incomplete_total, 1);
                    // No file (the disk refused it): the row must not point
                    // at one.
                    warn!(error = %e, "recording could not be created; the call is unrecorded");
                    if let Err(e) = ctx.store.mark_recording_missing(id, ended_at).await {
                        warn!(error = %e, "cannot mark the missing recording");
                    }
                }
                // The file exists (the recorder stopped at shutdown, which
                // closes every file): the next start completes its row.
                Err(e) => warn!(error = %e, "recording failed"),
            }
        }
        let disposition = if self.blocked {
            Disposition::Blocked
        } else {
            ending.disposition
        };
        self.end(ending.status, ending.by, disposition, finished_recording)
            .await;
        drop(sockets);
        if ending.hang_up {
            // Wait (briefly) for the BYE to complete so shutdown can tell
            // when every dialog is really over.
            let wait = tokio::time::sleep(Duration::from_secs(2));
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    _ = &mut wait => break,
                    ev = self.events.recv() => match ev {
                        Some(CallEvent::Terminated) | None => break,
                        _ => {}
                    }
                }
            }
        }
    }

    async fn media_loop(&mut self, media: &mut Media) -> Ending {
        let ok = |by, disposition, hang_up| Ending {
            by,
            disposition,
            status: Some(200),
            hang_up,
        };
        let (lookups, mut results) = mpsc::unbounded_channel::<ivr::Input>();
        let (end_tx, mut end_rx) = mpsc::unbounded_channel::<()>();
        self.ctx
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(self.id, end_tx);
        let actions = media.ivr.start(clock());
        if let Some(end) = self.apply(media, actions, &lookups) {
            return end;
        }
        // One timer for the life of the call, moved rather than made anew.
        let ivr_timer = tokio::time::sleep_until(Instant::now());
        tokio::pin!(ivr_timer);
        loop {
            let ivr_deadline = media.ivr.poll_timeout().map(Instant::from_std);
            if let Some(at) = ivr_deadline.filter(|at| *at != ivr_timer.deadline()) {
                ivr_timer.as_mut().reset(at);
            }
            tokio::select! {
                Some(event) = media.events.recv() => {
                    if let Some(end) = self.on_media(media, event, &lookups) {
                        return end;
                    }
                }
                Some(result) = results.recv() => {
                    let actions = media.ivr.handle_input(clock(), result);
                    if let Some(end) = self.apply(media, actions, &lookups) {
                        return end;
                    }
                }
                _ = &mut ivr_timer, if ivr_deadline.is_some() => {
                    let actions = media.ivr.handle_timeout(clock());
                    if let Some(end) = self.apply(media, actions, &lookups) {
                        return end;
                    }
                }
                ev = self.events.recv() => match ev {
                    Some(CallEvent::RemoteHangup) => return ok(EndedBy::Caller, Disposition::Answered, false),
                    Some(CallEvent::Shutdown) => return ok(EndedBy::Shutdown, Disposition::Answered, true),
                    Some(CallEvent::AckTimeout) => return ok(EndedBy::Timeout, Disposition::Failed, false),
                    Some(CallEvent::Terminated) | None => return ok(EndedBy::Server, Disposition::Answered, false),
                    // An SDP answer in an ACK: to our offer in the 200 of an
                    // offer-less INVITE or re-INVITE.
                    Some(CallEvent::Confirmed { body }) if !body.is_empty() => self.apply_answer(media, &body),
                    // CANCEL crossed our 200: the caller is gone.
                    Some(CallEvent::Cancelled) => {
                        return Ending { by: EndedBy::Caller, disposition: Disposition::Cancelled, status: Some(487), hang_up: false };
                    }
                    Some(CallEvent::ReInvite { request }) => self.reinvite(media, &request),
                    Some(CallEvent::Info { request }) => {
                        if let Some(digit) = info_digit(&request) {
                            if let Some(end) = self.digit(media, digit, "info", &lookups) {
                                return end;
                            }
                        }
                    }
                    Some(CallEvent::Confirmed { .. }) => {}
                    Some(CallEvent::OperatorRinging { operator }) => self.event("operator-ringing", operator.0),
                    Some(CallEvent::OperatorAnswered { operator, leg, body }) => {
                        self.operator_answered(media, operator, leg, &body).await;
                    }
                    Some(CallEvent::OperatorFailed { operator, code }) => self.operator_failed(media, operator, code),
                    Some(CallEvent::OperatorHungUp { leg }) => {
                        if media.bridge.as_ref().is_some_and(|b| b.leg == leg) {
                            info!("the operator hung up");
                            return ok(EndedBy::Operator, Disposition::Answered, true);
                        }
                    }
                    Some(CallEvent::OperatorLegGone { .. }) => {}
                    Some(CallEvent::OperatorTransfer { leg, target }) => self.transfer(media, leg, &target).await,
                    Some(CallEvent::OperatorReInvite { leg, request }) => self.operator_reinvite(media, leg, &request),
                    Some(CallEvent::OperatorConfirmed { leg, body }) => self.operator_answer(media, leg, &body),
                },
                Some(()) = end_rx.recv() => {
                    info!("ended from the console");
                    self.event("ended-by-console", String::new());
                    return ok(EndedBy::Server, Disposition::Answered, true);
                }
                message = next_message(media.queue.as_mut().filter(|q| !q.closed).map(|q| &mut q.rx)) => {
                    match message {
                        Some(message) => self.on_queue(media, message).await,
                        // The service has nothing more to say to us.
                        None => if let Some(q) = media.queue.as_mut() { q.closed = true },
                    }
                }
            }
        }
    }

    /// What the media engine reports: keys, prompts played out, silence;
    /// `Some` when the call ends.
    fn on_media(
        &self,
        media: &mut Media,
        event: MediaEvent,
        lookups: &LookupSender,
    ) -> Option<Ending> {
        match event {
            MediaEvent::Digit(digit) => self.digit(media, digit, "rfc4733", lookups),
            MediaEvent::PlaybackDone if media.hangup_after_playback => Some(Ending {
                by: EndedBy::Server,
                disposition: Disposition::Answered,
                status: Some(200),
                hang_up: true,
            }),
            MediaEvent::PlaybackDone if media.bridge.is_none() => {
                let actions = media.ivr.handle_input(clock(), ivr::Input::PlaybackDone);
                self.apply(media, actions, lookups)
            }
            MediaEvent::PlaybackDone => None,
            MediaEvent::CallerSilent => {
                info!("no media for the timeout; hanging up");
                Some(Ending {
                    by: EndedBy::Timeout,
                    disposition: Disposition::MediaTimeout,
                    status: Some(200),
                    hang_up: true,
                })
            }
            MediaEvent::OperatorSilent => {
                if media.bridge.as_ref().is_some_and(|b| !b.held) {
                    self.operator_lost(media);
                }
                None
            }
        }
    }

    /// A key press: on file, and to the IVR.
    fn digit(
        &self,
        media: &mut Media,
        digit: char,
        how: &'static str,
        lookups: &LookupSender,
    ) -> Option<Ending> {
        info!(%digit, how, "DTMF");
        self.event("dtmf", digit.to_string());
        if media.bridge.is_some() {
            // The operator's system may want them (an extension to dial).
            media
                .handle
                .send(MediaCommand::Digit(Side::Operator, digit));
            return None;
        }
        if media.hangup_after_playback {
            return None;
        }
        let actions = media.ivr.handle_input(clock(), ivr::Input::Digit(digit));
        self.apply(media, actions, lookups)
    }

    fn event(&self, kind: &'static str, detail: String) {
        if let Some(log) = &self.log {
            let _ = log.send((Utc::now(), kind, detail));
        }
    }

    /// Carries out the IVR's actions; `Some` when the IVR ends the call.
    fn apply(
        &self,
        media: &mut Media,
        actions: Vec<ivr::Action>,
        lookups: &LookupSender,
    ) -> Option<Ending> {
        for action in actions {
            match action {
                ivr::Action::Play { prompts, .. } => self.say(media, &prompts),
                ivr::Action::StopPlayback => media.handle.send(MediaCommand::StopPlayback),
                ivr::Action::Step(step) => {
                    debug!(node = %step.node, what = %step.what, "IVR");
                    let step = format!("{} {}", step.node, step.what);
                    self.path
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(step.clone());
                    self.event("ivr", step);
                }
                ivr::Action::Queue { .. } if self.blocked => {
                    warn!("the blocked callers' menu leads to a queue; hanging up instead");
                    return Some(Ending {
                        by: EndedBy::Server,
                        disposition: Disposition::Blocked,
                        status: Some(200),
                        hang_up: true,
                    });
                }
                ivr::Action::Queue { queue } => {
                    info!(%queue, "caller queued");
                    self.event("queue", queue.clone());
                    self.join_queue(media, &queue);
                }
                ivr::Action::Hangup => {
                    return Some(Ending {
                        by: EndedBy::Server,
                        disposition: Disposition::Answered,
                        status: Some(200),
                        hang_up: true,
                    });
                }
                ivr::Action::LookupAppeal { number } => {
                    let (store, tx) = (self.ctx.store.clone(), lookups.clone());
                    tokio::spawn(async move {
                        let input = match store.appeal_by_registration_number(&number).await {
                            Ok(found) => ivr::Input::Appeal(found.map(|a| ivr::AppealSummary {
                                registration_number: a.registration_number.into(),
                                status: a.status.as_str().to_string(),
                                deadline: a.deadline.with_timezone(&chrono::Local).naive_local(),
                            })),
                            Err(e) => {
                                warn!(error = %e, "appeal lookup failed");
                                ivr::Input::LookupFailed
                            }
                        };
                        let _ = tx.send(input);
                    });
                }
                ivr::Action::FetchOutages { at_caller_address } => {
                    let (store, tx, phone) = (
                        self.ctx.store.clone(),
                        lookups.clone(),
                        self.caller_e164.clone(),
                    );
                    tokio::spawn(async move {
                        let now = Utc::now();
                        let works = if at_caller_address {
                            match phone {
                                Some(phone) => match store.latest_address_for_phone(&phone).await {
                                    Ok(Some(address)) => store.repair_works_at(&address, now).await,
                                    Ok(None) => Ok(Vec::new()),
                                    Err(e) => Err(e),
                                },
                                None => Ok(Vec::new()),
                            }
                        } else {
                            store.active_repair_works(now).await
                        };
                        let input = match works {
                            Ok(works) => ivr::Input::Outages(
                                works
                                    .into_iter()
                                    .map(|w| ivr::OutageSummary {
                                        kind: w.kind.as_str().to_string(),
                                        service: w.service.as_str().to_string(),
                                        expected_end: w
                                            .expected_end
                                            .with_timezone(&chrono::Local)
                                            .naive_local(),
                                    })
                                    .collect(),
                            ),
                            Err(e) => {
                                warn!(error = %e, "repair works lookup failed");
                                ivr::Input::LookupFailed
                            }
                        };
                        let _ = tx.send(input);
                    });
                }
            }
        }
        None
    }

    /// What the call knows of itself for the operator's card: the caller,
    /// the SIP Call-ID and the steps through the IVR.
    fn summary(&self) -> CallSummary {
        CallSummary {
            ivr_path: self.path.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            caller: self.caller_shown.clone(),
            caller_e164: self.caller_e164.clone(),
            sip_call_id: self.sip_call_id.clone(),
        }
    }

    /// Enters a queue (from the IVR, or again after a failed bridge).
    fn join_queue(&self, media: &mut Media, queue: &str) {
        let (tx, rx) = mpsc::unbounded_channel();
        media.queue = Some(Queued {
            name: queue.to_owned(),
            rx,
            closed: false,
            offers: Default::default(),
        });
        self.ctx.queues.join(self.id, queue, tx, self.summary());
    }

    /// A message of the queue service.
    async fn on_queue(&self, media: &mut Media, message: ToCall) {
        match message {
            ToCall::Joined { position } => self.event("queue-joined", position.to_string()),
            ToCall::Refused { reason } => {
                let reason = match reason {
                    Refusal::Full => "full",
                    Refusal::NoOperators => "no-operators",
                };
                info!(reason, "queue refused the caller");
                self.event("queue-refused", reason.to_string());
                media.queue = None;
                self.say(media, &["queue/unavailable".into(), "goodbye".into()]);
                media.hangup_after_playback = true;
            }
            ToCall::Ring {
                operator,
                extension,
            } => {
                let Some(queued) = media.queue.as_mut() else {
                    return;
                };
                let sockets = match self.ctx.ports.allocate() {
                    Ok(s) => s,
                    Err(e) => {
                        warn!(error = %e, "no RTP port to ring an operator");
                        return self
                            .ctx
                            .queues
                            .rejected(self.id, operator, Rejection::Unreachable);
                    }
                };
                let local = LocalMedia {
                    address: media.local.address,
                    port: sockets.port(),
                    session_id: rand::random::<u32>() as u64,
                    version: 1,
                };
                let _ = self.commands.send(Command::Ring(RingRequest {
                    call: self.id,
                    operator: operator.clone(),
                    extension,
                    caller: self.caller_shown.clone(),
                    display: Some(queued.name.clone()),
                    sdp: sdp::offer(&local, &CODECS).into_bytes(),
                }));
                queued.offers.insert(operator, (sockets, local));
            }
            ToCall::CancelRing { operator } => {
                if let Some(queued) = media.queue.as_mut() {
                    if queued.offers.remove(&operator).is_some() {
                        let _ = self.commands.send(Command::CancelRing {
                            call: self.id,
                            operator,
                        });
                    }
                }
            }
            ToCall::Announce {
                position,
                expected_wait,
            } => {
                let said = match position {
                    Some(Position::Exact(n)) => format!("position {n} "),
                    Some(Position::MoreThan(n)) => format!("more-than {n} "),
                    None => String::new(),
                };
                let minutes = expected_wait.as_secs().div_ceil(60).max(1);
                self.event("queue-announce", format!("{said}wait {minutes} min"));
                self.say(media, &announcement(position, expected_wait));
            }
            ToCall::Periodic { prompt } => self.say(media, &[prompt]),
        }
    }

    /// Plays prompts now (the IVR's queue loop picks up after them).
    fn say(&self, media: &mut Media, prompts: &[String]) {
        let (prompts, missing) = media.assets.resolve(prompts);
        if !missing.is_empty() {
            warn!(?missing, "prompts missing from the language; skipped");
        }
        media.handle.send(MediaCommand::Play(prompts));
    }

    async fn operator_answered(
        &self,
        media: &mut Media,
        operator: OperatorId,
        leg: LegKey,
        body: &[u8],
    ) {
        let end_leg = || {
            let _ = self.commands.send(Command::EndLeg { leg: leg.clone() });
        };
        let offered = media
            .queue
            .as_mut()
            .and_then(|q| q.offers.remove(&operator));
        let (Some((sockets, local)), None) = (offered, &media.bridge) else {
            return end_leg();
        };
        // Media first: a phone whose answer we cannot use has not taken
        // the call (and is not charged with it).
        let negotiated = SessionDescription::parse(body)
            .ok()
            .and_then(|sd| sdp::negotiate(&sd, &CODECS).ok());
        let Some(negotiated) = negotiated else {
            warn!(%operator, "the operator's phone answered without usable media");
            end_leg();
            return self
                .ctx
                .queues
                .rejected(self.id, operator, Rejection::Unreachable);
        };
        if !self.ctx.queues.answered(self.id, operator.clone()).await {
            return end_leg();
        }
        let queue = media.queue.take().map(|q| {
            // Other phones of a ring-all offer stop ringing.
            for other in q.offers.into_keys() {
                let _ = self.commands.send(Command::CancelRing {
                    call: self.id,
                    operator: other,
                });
            }
            q.name
        });
        let queue = queue.unwrap_or_default();
        info!(%operator, codec = negotiated.codec.name(), "bridged to the operator");
        self.event(
            "operator-answered",
            format!("{} {}", operator.0, negotiated.codec.name()),
        );
        let params = MediaParams::from(&negotiated);
        media.handle.send(MediaCommand::Bridge {
            params: params.clone(),
            sockets,
            hold_music: media.assets.resolve(&[HOLD_MUSIC.to_string()]).0,
        });
        media.bridge = Some(Bridge {
            operator,
            leg,
            queue,
            params,
            local,
            held: false,
        });
    }

    /// Blind transfer by the operator (REFER): to a queue, or to a
    /// colleague's extension, named by the user part of the Refer-To URI
    /// (`sip:emergency@…`, `sip:1002@…`). A colleague who is not logged in,
    /// or a name that is neither, is refused (NOTIFY 404/480) and the
    /// conversation goes on.
    async fn transfer(&self, media: &mut Media, leg: LegKey, target: &str) {
        let notify = |code| {
            let _ = self.commands.send(Command::NotifyTransfer {
                leg: leg.clone(),
                code,
            });
        };
        let Some(bridge) = media.bridge.as_ref().filter(|b| b.leg == leg) else {
            return notify(481);
        };
        let name = msg::uri_user(target).unwrap_or(target).to_ascii_lowercase();
        let (from, queue) = (bridge.operator.clone(), bridge.queue.clone());
        let (tx, rx) = mpsc::unbounded_channel();
        let waits_in = if self.ctx.queues.config(&name).is_some() {
            self.ctx
                .queues
                .transferred(self.id, &queue, from.clone(), &name);
            self.ctx.queues.join(self.id, &name, tx, self.summary());
            name.clone()
        } else if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            // Waits in the queue it came from, for that operator alone.
            let joined = self
                .ctx
                .queues
                .transfer_to_extension(self.id, &queue, from.clone(), &name, tx, self.summary())
                .await;
            if !joined {
                info!(%target, "transfer refused: no such operator logged in");
                return notify(480);
            }
            queue
        } else {
            info!(%target, "transfer to an unknown queue or extension refused");
            return notify(404);
        };
        notify(200);
        if self.end_conversation(media).is_none() {
            return;
        }
        info!(operator = %from, target = %name, "the operator transferred the caller");
        self.event("transferred", format!("{} {name}", from.0));
        media.queue = Some(Queued {
            name: waits_in,
            rx,
            closed: false,
            offers: Default::default(),
        });
        // "Transferring your call", then the queue's prompts again.
        self.say(media, &["transfer-operator".into()]);
    }

    fn operator_failed(&self, media: &mut Media, operator: OperatorId, code: u16) {
        let Some(queued) = media.queue.as_mut() else {
            return;
        };
        // Our own CANCEL (487) was asked for by the service: it knows.
        if queued.offers.remove(&operator).is_some() {
            info!(%operator, code, "the operator's phone did not take the call");
            self.event("operator-failed", format!("{} {code}", operator.0));
            self.ctx.queues.rejected(self.id, operator, rejection(code));
        }
    }

    /// The call is over: out of the queue (abandoned) or the operator's
    /// leg hung up and their wrap-up started.
    fn leave_queue_or_bridge(&self, media: &mut Media, by: EndedBy) {
        if let Some(queued) = media.queue.take() {
            // Phones ringing for this call stop now, not when the call's
            // records are written: the service frees their operators.
            for operator in queued.offers.into_keys() {
                let _ = self.commands.send(Command::CancelRing {
                    call: self.id,
                    operator,
                });
            }
            if !queued.closed {
                self.ctx.queues.hang_up(self.id, by == EndedBy::Caller);
                self.event("queue-left", queued.name);
            }
        }
        self.end_conversation(media);
    }

    /// The conversation with the operator is over: their leg ends (BYE),
    /// its media stops, and the service starts their wrap-up.
    fn end_conversation(&self, media: &mut Media) -> Option<Bridge> {
        let bridge = media.bridge.take()?;
        media.handle.send(MediaCommand::Unbridge);
        let _ = self.commands.send(Command::EndLeg {
            leg: bridge.leg.clone(),
        });
        self.ctx.queues.conversation_ended(bridge.operator.clone());
        Some(bridge)
    }

    fn apply_answer(&self, media: &mut Media, body: &[u8]) {
        let parsed = SessionDescription::parse(body)
            .ok()
            .and_then(|sd| sdp::negotiate(&sd, &CODECS).ok());
        match parsed {
            Some(n) => {
                media.params = MediaParams::from(&n);
                media
                    .handle
                    .send(MediaCommand::Update(Side::Caller, media.params.clone()));
            }
            None => warn!("ACK carried no usable SDP answer"),
        }
    }

    fn reinvite(&self, media: &mut Media, request: &Request) {
        let (code, body, held) = reoffer(&mut media.params, &mut media.local, request);
        if held.is_some() {
            media
                .handle
                .send(MediaCommand::Update(Side::Caller, media.params.clone()));
        }
        if let Some(held) = held {
            self.event(if held { "hold" } else { "resume" }, String::new());
            info!(held, "re-INVITE from the caller");
        }
        let _ = self.commands.send(Command::RespondReInvite {
            call: self.id,
            code,
            body,
        });
    }

    /// Hold and resume from the operator's phone: while the operator holds,
    /// the caller hears the music on hold.
    fn operator_reinvite(&self, media: &mut Media, leg: LegKey, request: &Request) {
        let Some(bridge) = media.bridge.as_mut().filter(|b| b.leg == leg) else {
            let _ = self.commands.send(Command::RespondLegReInvite {
                leg,
                code: 481,
                body: None,
            });
            return;
        };
        let (code, body, held) = reoffer(&mut bridge.params, &mut bridge.local, request);
        if held.is_some() {
            media
                .handle
                .send(MediaCommand::Update(Side::Operator, bridge.params.clone()));
        }
        if let Some(held) = held {
            info!(held, "re-INVITE from the operator");
            self.event(
                if held {
                    "operator-hold"
                } else {
                    "operator-resume"
                },
                bridge.operator.0.clone(),
            );
            bridge.held = held;
            media.handle.send(MediaCommand::Hold(held));
        }
        let _ = self
            .commands
            .send(Command::RespondLegReInvite { leg, code, body });
    }
}

impl Call {
    /// The answer to our offer, from the operator's ACK: the media, and
    /// hold or resume as it says.
    fn operator_answer(&self, media: &mut Media, leg: LegKey, body: &[u8]) {
        let Some(bridge) = media.bridge.as_mut().filter(|b| b.leg == leg) else {
            return;
        };
        let negotiated = SessionDescription::parse(body)
            .ok()
            .and_then(|sd| sdp::negotiate(&sd, &CODECS).ok());
        let Some(n) = negotiated else {
            return warn!("the operator's ACK carried no usable SDP answer");
        };
        let held = !n.direction.we_send() || n.remote.is_none();
        bridge.params = MediaParams::from(&n);
        media
            .handle
            .send(MediaCommand::Update(Side::Operator, bridge.params.clone()));
        self.set_operator_hold(media, held);
    }

    /// The operator's phone went silent for the media timeout (it died
    /// without a BYE): their leg is ended and the caller waits in the
    /// queue again rather than in silence.
    fn operator_lost(&self, media: &mut Media) {
        let Some(bridge) = self.end_conversation(media) else {
            return;
        };
        warn!(operator = %bridge.operator, "no media from the operator's phone; the caller goes back to the queue");
        self.event("operator-lost", bridge.operator.0.clone());
        self.say(media, &["transfer-operator".into()]);
        self.join_queue(media, &bridge.queue);
    }

    fn set_operator_hold(&self, media: &mut Media, held: bool) {
        let Some(bridge) = media.bridge.as_mut() else {
            return;
        };
        if bridge.held == held {
            return;
        }
        bridge.held = held;
        info!(held, "the operator's hold");
        let operator = bridge.operator.0.clone();
        self.event(
            if held {
                "operator-hold"
            } else {
                "operator-resume"
            },
            operator,
        );
        media.handle.send(MediaCommand::Hold(held));
    }
}

/// What the caller hears while the operator holds them.
const HOLD_MUSIC: &str = "hold-music";

/// Answers a re-INVITE's offer (or the lack of one) for a media session:
/// the status, the SDP to send, and whether it puts us on hold (`None` for
/// an offer-less re-INVITE, which changes nothing yet). `params` take the
/// new session when it is `Some`.
fn reoffer(
    params: &mut MediaParams,
    local: &mut LocalMedia,
    request: &Request,
) -> (u16, Option<Vec<u8>>, Option<bool>) {
    local.version += 1;
    if request.body.is_empty() {
        // Offer-less re-INVITE: offer again, same codec first.
        let codecs = preferring(params.codec);
        return (200, Some(sdp::offer(local, &codecs).into_bytes()), None);
    }
    let outcome = SessionDescription::parse(&request.body)
        .map_err(|_| 400)
        .and_then(|sd| {
            // Keep the codec in use if it is still offered (RFC 3264 §8.3.2).
            let current = params.codec;
            sdp::negotiate(&sd, &[current])
                .or_else(|_| sdp::negotiate(&sd, &CODECS))
                .map(|n| (sd, n))
                .map_err(|_| 488)
        });
    match outcome {
        Ok((sd, n)) => {
            let held = !n.direction.we_send() || n.remote.is_none();
            let answer = sdp::answer(&sd, &n, local);
            *params = MediaParams::from(&n);
            (200, Some(answer.into_bytes()), Some(held))
        }
        Err(code) => {
            local.version -= 1;
            (code, None, None)
        }
    }
}

/// The queue service's next message, or never when not queued.
async fn next_message(rx: Option<&mut mpsc::UnboundedReceiver<ToCall>>) -> Option<ToCall> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
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

/// Our codecs with the one in use first, for an offer in a re-INVITE's
/// answer: the peer takes our first codec it supports.
fn preferring(current: Codec) -> Vec<Codec> {
    let mut codecs = CODECS.to_vec();
    codecs.sort_by_key(|c| *c != current);
    codecs
}

/// Waiting in a queue.
struct Queued {
    name: String,
    rx: mpsc::UnboundedReceiver<ToCall>,
    /// The service dropped its side (the caller left the queue).
    closed: bool,
    /// Operators ringing, each with the RTP port offered to them.
    offers: std::collections::HashMap<OperatorId, (ports::MediaSockets, LocalMedia)>,
}

/// Talking to an operator.
struct Bridge {
    operator: OperatorId,
    leg: LegKey,
    queue: String,
    /// The leg's session as negotiated (the engine runs it).
    params: MediaParams,
    /// Our side of the leg's SDP.
    local: LocalMedia,
    /// The operator holds the caller (music on hold plays).
    held: bool,
}

/// The call's side of its media: the engine runs the RTP, the prompts and
/// the recording; the task decides what they do.
struct Media {
    handle: MediaHandle,
    events: mpsc::UnboundedReceiver<MediaEvent>,
    /// The caller's session as negotiated.
    params: MediaParams,
    queue: Option<Queued>,
    bridge: Option<Bridge>,
    /// Hang up once the prompt playing now is over.
    hangup_after_playback: bool,
    local: LocalMedia,
    ivr: Ivr,
    assets: Arc<IvrAssets>,
}

fn clock() -> Clock {
    Clock {
        now: Instant::now().into_std(),
        wall: chrono::Local::now().naive_local(),
    }
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

#[cfg(test)]
mod tests {
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
