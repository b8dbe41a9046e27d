//! One call's task, from its INVITE to its end: the async edge around the
//! call's machine ([`super::machine`]). Before the answer it decides alone,
//! in order (on file, from a trusted source, within `max_calls`, not
//! blocked, media agreed, a port free); from the answer on it feeds the
//! machine what the SIP core, the media engine, the queue service and the
//! IVR's lookups say, and carries out what the machine decides: SIP
//! commands, media commands, the queue service's calls, lookups in the
//! store and the call's steps on file. At the end it closes the media and
//! the recording and puts the call's end on file.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use rsip::Request;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span, warn};
use uuid::Uuid;

use super::machine::{
    Action, CallMachine, Ending, FromQueue, HOLD_MUSIC, Input, Lookup, MediaAction, Phase,
    QueueAction, RtpPort, Setup,
};
use super::monitor::{MonitorRefusal, MonitorRequest};
use super::{CODECS, CallContext, CallEvent, Command, Control, called_number, caller_number};
use crate::events::{CallSummary, Event as Published};
use crate::ids::CallId;
use crate::ivr::assets::IvrAssets;
use crate::ivr::{self, Clock, Ivr};
use crate::phone::Pii;
use crate::queue::service::ToCall;
use crate::recording::ActiveRecording;
use crate::rtp::engine::{Command as MediaCommand, MediaEvent, MediaHandle};
use crate::rtp::ports::{MediaSockets, PortPool};
use crate::rtp::session::{Latch, MediaParams};
use crate::sdp::{self, LocalMedia, SessionDescription};
use crate::sip::{Flow, msg};
use crate::store::{CallEnd, Disposition, EndedBy, FinishedRecording, NewCall, NewRecording};

impl RtpPort for MediaSockets {
    fn port(&self) -> u16 {
        MediaSockets::port(self)
    }
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
        log: None,
        blocked: false,
        latch: Latch::Symmetric {
            signalling: Some(source.remote.ip()),
        },
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
    ctx.monitors
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
    /// Events of the call (digits, IVR steps, hold…) are written in order
    /// by one task, off the media path.
    log: Option<mpsc::UnboundedSender<(chrono::DateTime<Utc>, &'static str, String)>>,
    /// A blocked (or withheld, by policy) caller being told so: the call
    /// only hears the blocked menu and never joins a queue.
    blocked: bool,
    /// Where the caller's media may come from: strict for a peer that
    /// says so, else symmetric from the signalling's address.
    latch: Latch,
}

/// What the block list says of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Screening {
    Pass,
    Reject,
    Prompt,
}

/// A call just answered: its media, and the task writing its rows.
struct Answered {
    media: AnsweredMedia,
    rows: tokio::task::JoinHandle<()>,
}

/// The answered call's media: the caller's session, our side of it, the
/// port and the recording.
struct AnsweredMedia {
    params: MediaParams,
    local: LocalMedia,
    media_ip: std::net::IpAddr,
    sockets: MediaSockets,
    recording: Option<ActiveRecording>,
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
        let Some(assets) = self.admit(&invite, source).await else {
            return;
        };
        let Some(answered) = self.answer(&invite, source).await else {
            return;
        };
        let rows = answered.rows;
        let log_writer = self.start_log();
        let mut driver = self.start_media(answered.media, assets);
        self.ctx
            .events
            .publish(Published::CallStarted { call: self.id });
        let ending = self.converse(&mut driver).await;
        let leftovers = driver.machine.finish(ending.by);
        self.carry_out(&mut driver, leftovers).await;
        self.close(ending, driver.handle, log_writer, rows).await;
    }

    /// The call's steps (digits, IVR steps, hold…) are written in order by
    /// one task, off the media path: [`Call::event`] feeds it.
    fn start_log(&mut self) -> tokio::task::JoinHandle<()> {
        let (log_tx, mut log_rx) =
            mpsc::unbounded_channel::<(chrono::DateTime<Utc>, &'static str, String)>();
        self.log = Some(log_tx);
        let (store, id) = (self.ctx.store.clone(), self.id.as_uuid());
        tokio::spawn(async move {
            // In order, one at a time: the path must read as it happened.
            while let Some((at, kind, detail)) = log_rx.recv().await {
                if let Err(e) = store.add_call_event(id, at, kind, &detail).await {
                    warn!(error = %e, kind, "cannot store a call event");
                }
            }
        })
    }

    /// The call's media starts in the engine, and its machine with the IVR
    /// it runs on (the blocked callers' menu for a caller told so).
    fn start_media(&self, media: AnsweredMedia, assets: Arc<IvrAssets>) -> Driver {
        let ctx = &self.ctx;
        let AnsweredMedia {
            params,
            local,
            media_ip,
            sockets,
            recording,
        } = media;
        let (handle, media_events) =
            ctx.media
                .start(self.id, params.clone(), self.latch, recording, sockets);
        let ivr = match assets.script.starts.get(&ctx.blocking.prompt_menu) {
            Some(start) if self.blocked => Ivr::starting_at(assets.script.clone(), start.clone()),
            _ => Ivr::new(assets.script.clone()),
        };
        let machine = CallMachine::new(Setup {
            id: self.id,
            ivr,
            params,
            local,
            blocked: self.blocked,
            summary: CallSummary {
                ivr_path: Vec::new(),
                caller: self.caller_shown.clone(),
                caller_e164: self.caller_e164.clone(),
                sip_call_id: self.sip_call_id.clone(),
            },
            queues: ctx.queues.queue_set(),
        });
        Driver {
            machine,
            handle,
            media_events,
            assets,
            media_ip,
            queue: None,
            lookups: mpsc::unbounded_channel(),
            monitor: None,
        }
    }

    /// The call is over: its media and recording closed, its steps and its
    /// end on file, our BYE sent (and briefly waited for) if it is ours.
    async fn close(
        &mut self,
        ending: Ending,
        handle: MediaHandle,
        log_writer: tokio::task::JoinHandle<()>,
        rows: tokio::task::JoinHandle<()>,
    ) {
        let ctx = self.ctx.clone();
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
            let (id, relative) = (rec.id, rec.relative_path.clone());
            match rec.finish().await {
                Ok(_) if ending.never_confirmed() => {
                    // A 2xx never acknowledged (a flood's): no file, no row,
                    // so a flood costs no disk.
                    let path = ctx.recorder.recordings_dir().join(relative);
                    if let Err(e) = tokio::fs::remove_file(&path).await {
                        warn!(error = %e, "cannot remove an unconfirmed call's recording");
                    }
                    if let Err(e) = ctx.store.discard_recording(id).await {
                        warn!(error = %e, "cannot remove an unconfirmed call's recording row");
                    }
                }
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

    /// The call's own checks before anything is answered: on file, from a
    /// known source, within `max_calls`, not blocked. The IVR the call runs
    /// on, or `None` if it was refused (and its end put on file).
    async fn admit(&mut self, invite: &Request, source: Flow) -> Option<Arc<IvrAssets>> {
        let ctx = self.ctx.clone();
        let peer = ctx.origin_of(source.remote.ip());
        if peer.is_some_and(|p| p.strict_media) {
            self.latch = Latch::Strict;
        }
        let origin = peer.map(|p| p.name.clone());
        let caller_raw = caller_number(invite, origin.is_some());
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
            called_number: called_number(invite),
            source: origin.clone().unwrap_or_else(|| "unknown".into()),
            source_addr: source.remote,
            transport: match source.transport {
                crate::sip::Transport::Udp => crate::store::Transport::Udp,
                crate::sip::Transport::Tcp => crate::store::Transport::Tcp,
            },
            arrived_at: Utc::now(),
            direction: crate::store::Direction::Inbound,
        };
        if let Err(e) = ctx.store.insert_call(&record).await {
            // Without a record we cannot keep the promise that every call is
            // on file; refuse rather than answer unrecorded.
            warn!(error = %e, "cannot store the call; refusing it");
            self.respond(500, None);
            return None;
        }
        if origin.is_none() && !ctx.open_access {
            info!(from = %source.remote, "call from an unknown source refused");
            self.reject(403, Disposition::Rejected).await;
            return None;
        }
        // Established calls only: those still being set up are limited by
        // admission control, so a flood of unconfirmed INVITEs cannot use up
        // max_calls.
        let established = ctx.established.load(Ordering::Relaxed);
        if ctx.max_calls > 0 && established >= ctx.max_calls {
            // At info, as the other refusals: under overload a warning for
            // each would flood the log; `/metrics` counts them for alerts.
            info!(
                established,
                max_calls = ctx.max_calls,
                "too many calls; refusing with 503"
            );
            crate::metrics::Metrics::add(&ctx.metrics.calls_overload_total, 1);
            self.reject(503, Disposition::Failed).await;
            return None;
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
            Screening::Reject => {
                self.reject(403, Disposition::Blocked).await;
                return None;
            }
            Screening::Prompt => self.blocked = true,
        }
        Some(assets)
    }

    /// Media agreed, a port taken, the 200 sent, the recording started and
    /// its rows on their way; `None` if the call was refused or cancelled
    /// first (and its end put on file).
    async fn answer(&mut self, invite: &Request, source: Flow) -> Option<Answered> {
        let ctx = self.ctx.clone();
        // Media: an offer in the INVITE, or none (we offer in the 2xx).
        let offer = if invite.body.is_empty() {
            None
        } else {
            match SessionDescription::parse(&invite.body) {
                Ok(sd) => Some(sd),
                Err(e) => {
                    info!(error = %e, "unreadable SDP offer");
                    self.reject(400, Disposition::Rejected).await;
                    return None;
                }
            }
        };
        let negotiated = match &offer {
            Some(sd) => match sdp::negotiate(sd, &CODECS) {
                Ok(n) => Some(n),
                Err(e) => {
                    info!(error = %e, "no acceptable media");
                    self.reject(488, Disposition::Rejected).await;
                    return None;
                }
            },
            None => None,
        };
        let sockets = match ctx.ports.allocate() {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "no RTP port for the call");
                self.reject(503, Disposition::Failed).await;
                return None;
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
                            self.end(Some(487), EndedBy::Caller, Disposition::Cancelled, None).await;
                            return None;
                        }
                        Some(CallEvent::Shutdown) => {
                            self.reject(503, Disposition::Failed).await;
                            return None;
                        }
                        Some(other) => debug!(?other, "ignored before answer"),
                    }
                }
            }
        }
        // Answered only once the 200 is out: a CANCEL that got to the SIP
        // side first leaves a cancelled call, with no answer time and no
        // recording.
        let (sent, answer_sent) = tokio::sync::oneshot::channel();
        let _ = self.commands.send(Command::Answer {
            call: self.id,
            body: answer_sdp.into_bytes(),
            sent,
        });
        if !answer_sent.await.unwrap_or(false) {
            info!("cancelled as it was answered");
            self.end(Some(487), EndedBy::Caller, Disposition::Cancelled, None)
                .await;
            return None;
        }
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
        Some(Answered {
            media: AnsweredMedia {
                params,
                local,
                media_ip,
                sockets,
                recording,
            },
            rows,
        })
    }

    /// Feeds the machine until the call ends.
    async fn converse(&mut self, driver: &mut Driver) -> Ending {
        let (end_tx, mut end_rx) = mpsc::unbounded_channel::<Control>();
        self.ctx
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(self.id, end_tx);
        let actions = driver.machine.start(clock(self.ctx.city_tz));
        if let Some(end) = self.carry_out(driver, actions).await {
            return end;
        }
        // One timer for the life of the call, moved rather than made anew.
        let ivr_timer = tokio::time::sleep_until(Instant::now());
        tokio::pin!(ivr_timer);
        loop {
            let ivr_deadline = driver.machine.poll_timeout().map(Instant::from_std);
            if let Some(at) = ivr_deadline.filter(|at| *at != ivr_timer.deadline()) {
                ivr_timer.as_mut().reset(at);
            }
            let input = tokio::select! {
                Some(event) = driver.media_events.recv() => Input::Media(event),
                Some(result) = driver.lookups.1.recv() => Input::Ivr(result),
                _ = &mut ivr_timer, if ivr_deadline.is_some() => {
                    let actions = driver.machine.handle_timeout(clock(self.ctx.city_tz));
                    if let Some(end) = self.carry_out(driver, actions).await {
                        return end;
                    }
                    continue;
                }
                // A closed channel: the SIP core dropped the call.
                event = self.events.recv() => Input::Sip(event.unwrap_or(CallEvent::Terminated)),
                Some(event) = next_message(driver.monitor.as_mut()) => Input::MonitorLeg(event),
                Some(control) = end_rx.recv() => match control {
                    Control::End => Input::EndFromConsole,
                    Control::Monitor { request, reply } => {
                        let (answer, end) = self.monitor(driver, request).await;
                        let _ = reply.send(answer);
                        if let Some(end) = end {
                            return end;
                        }
                        continue;
                    }
                },
                message = next_message(driver.queue.as_mut()) => match message {
                    Some(message) => Input::Queue(driver.queue_input(message, &self.ctx.ports)),
                    // The service has nothing more to say to us.
                    None => Input::Queue(FromQueue::Closed),
                },
            };
            let actions = driver.machine.handle(clock(self.ctx.city_tz), input);
            if let Some(end) = self.carry_out(driver, actions).await {
                return end;
            }
        }
    }

    /// Carries out the machine's actions in order (asking the queue
    /// service what the machine waits for, and feeding it the answer at
    /// once); the call's ending, if one of them ends it.
    async fn carry_out(
        &mut self,
        driver: &mut Driver,
        actions: Vec<Action<MediaSockets>>,
    ) -> Option<Ending> {
        // A stack, last action on top: what an answer leads to goes on top.
        let mut todo = actions;
        todo.reverse();
        while let Some(action) = todo.pop() {
            match action {
                Action::Sip(command) => {
                    let _ = self.commands.send(command);
                }
                Action::Media(action) => driver.media(action),
                Action::Log { kind, detail } => self.event(kind, detail),
                Action::Lookup(lookup) => self.lookup(lookup, driver.lookups.0.clone()),
                Action::End(ending) => return Some(ending),
                Action::DialMonitor {
                    extension,
                    caller,
                    sdp,
                } => {
                    let leg = self.dial_monitor(driver, extension, caller, sdp).await;
                    let more = driver.machine.monitor_dialled(leg);
                    todo.extend(more.into_iter().rev());
                }
                Action::Monitored { supervisor, state } => {
                    {
                        let mut monitors =
                            self.ctx.monitors.lock().unwrap_or_else(|e| e.into_inner());
                        match state {
                            super::monitor::Monitoring::Ended => monitors.remove(&self.id),
                            _ => monitors.insert(self.id, (supervisor.clone(), state.as_str())),
                        };
                    }
                    self.ctx.events.publish(Published::CallMonitored {
                        call: self.id,
                        supervisor,
                        state: state.as_str(),
                    });
                }
                Action::Queue(action) => {
                    let more = self.queue(driver, action).await;
                    // What the answer led to comes next, before the rest.
                    todo.extend(more.into_iter().rev());
                }
            }
            if !driver.machine.listens_to_queue() {
                driver.queue = None;
            }
            if driver.machine.monitored_by().is_none() {
                driver.monitor = None;
            }
        }
        None
    }

    /// A supervisor's request from the console, carried out: the answer
    /// for the console (a phone that cannot be rung refuses it), and the
    /// call's end if it came meanwhile.
    async fn monitor(
        &mut self,
        driver: &mut Driver,
        request: MonitorRequest,
    ) -> (Result<(), MonitorRefusal>, Option<Ending>) {
        let start = match &request {
            MonitorRequest::Start { supervisor, .. } => Some(supervisor.clone()),
            _ => None,
        };
        // A port only for a start the machine may accept.
        let media = start
            .as_ref()
            .filter(|_| driver.machine.phase() == Phase::Bridged)
            .filter(|_| driver.machine.monitored_by().is_none())
            .and_then(|_| match driver.leg_media(&self.ctx.ports) {
                Ok(media) => Some(media),
                Err(e) => {
                    warn!(error = %e, "no RTP port for the supervisor's phone");
                    None
                }
            });
        let actions = match driver.machine.monitor(request, media) {
            Ok(actions) => actions,
            Err(refusal) => return (Err(refusal), None),
        };
        let end = self.carry_out(driver, actions).await;
        let answer = match start {
            Some(s) if driver.machine.monitored_by() != Some(s.login.as_str()) => {
                Err(MonitorRefusal::NoPhone(s.extension))
            }
            _ => Ok(()),
        };
        (answer, end)
    }

    /// Rings the supervisor's phone: the leg's key (`None` when their
    /// extension has no registered phone); its events come on the driver's
    /// `monitor` channel.
    async fn dial_monitor(
        &self,
        driver: &mut Driver,
        extension: String,
        caller: String,
        sdp: Vec<u8>,
    ) -> Option<crate::sip::LegKey> {
        let dial = crate::sip::Dial {
            // The SIP core puts the registered contact here.
            target: String::new(),
            from_user: caller,
            from_host: None,
            display: Some("Прослуховування".into()),
            asserted: None,
            sdp,
            auth: None,
            call_id: None,
        };
        let (events_tx, events) = mpsc::unbounded_channel();
        let (leg_tx, leg_rx) = tokio::sync::oneshot::channel();
        let _ = self.commands.send(Command::DialExtension {
            call: self.id,
            extension,
            dial: Box::new(dial),
            events: events_tx,
            leg: leg_tx,
        });
        let leg = leg_rx.await.ok().flatten();
        driver.monitor = leg.is_some().then_some(events);
        leg
    }

    /// Tells (or asks) the queue service; what the machine makes of an
    /// answer.
    async fn queue(
        &mut self,
        driver: &mut Driver,
        action: QueueAction,
    ) -> Vec<Action<MediaSockets>> {
        let queues = &self.ctx.queues;
        match action {
            QueueAction::Join { queue, summary } => {
                let (tx, rx) = mpsc::unbounded_channel();
                driver.queue = Some(rx);
                queues.join(self.id, &queue, tx, summary);
                Vec::new()
            }
            QueueAction::Rejected { operator, why } => {
                queues.rejected(self.id, operator, why);
                Vec::new()
            }
            QueueAction::ConfirmAnswer { operator } => {
                let still_theirs = queues.answered(self.id, operator).await;
                driver.machine.answer_confirmed(still_theirs)
            }
            QueueAction::Transferred {
                queue,
                from,
                target,
            } => {
                queues.transferred(self.id, &queue, from, &target);
                Vec::new()
            }
            QueueAction::TransferToExtension {
                queue,
                from,
                extension,
                summary,
            } => {
                let (tx, rx) = mpsc::unbounded_channel();
                let joined = queues
                    .transfer_to_extension(self.id, &queue, from, &extension, tx, summary)
                    .await;
                if joined {
                    driver.queue = Some(rx);
                }
                driver.machine.extension_transfer(joined)
            }
            QueueAction::HangUp { abandoned } => {
                queues.hang_up(self.id, abandoned);
                Vec::new()
            }
            QueueAction::ConversationEnded { operator } => {
                queues.conversation_ended(operator);
                Vec::new()
            }
        }
    }

    /// Looks up what the IVR asked for, beside the call; the answer comes
    /// back on `answer`.
    fn lookup(&self, lookup: Lookup, answer: mpsc::UnboundedSender<ivr::Input>) {
        let store = self.ctx.store.clone();
        let tz = self.ctx.city_tz;
        match lookup {
            Lookup::Appeal { number } => {
                tokio::spawn(async move {
                    let found = match store.appeal_by_registration_number(&number).await {
                        Ok(Some(a)) => store.appeal_card(a.id).await.map(|card| {
                            Some(ivr::AppealSummary {
                                registration_number: a.registration_number.into(),
                                status: a.status.as_str().to_string(),
                                deadline: a.deadline.with_timezone(&tz).naive_local(),
                                planned: card.and_then(|c| c.card.planned),
                            })
                        }),
                        Ok(None) => Ok(None),
                        Err(e) => Err(e),
                    };
                    let input = match found {
                        Ok(found) => ivr::Input::Appeal(found),
                        Err(e) => {
                            warn!(error = %e, "appeal lookup failed");
                            ivr::Input::LookupFailed
                        }
                    };
                    let _ = answer.send(input);
                });
            }
            Lookup::Outages { at_caller_address } => {
                let phone = self.caller_e164.clone();
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
                                    expected_end: w.expected_end.with_timezone(&tz).naive_local(),
                                })
                                .collect(),
                        ),
                        Err(e) => {
                            warn!(error = %e, "repair works lookup failed");
                            ivr::Input::LookupFailed
                        }
                    };
                    let _ = answer.send(input);
                });
            }
        }
    }

    fn event(&self, kind: &'static str, detail: String) {
        if let Some(log) = &self.log {
            let _ = log.send((Utc::now(), kind, detail));
        }
    }
}

/// What the task holds while the call is answered: the machine, the call's
/// media in the engine, the queue service's channel and the lookups'.
struct Driver {
    machine: CallMachine<MediaSockets>,
    handle: MediaHandle,
    media_events: mpsc::UnboundedReceiver<MediaEvent>,
    assets: Arc<IvrAssets>,
    /// Our address facing the caller, for the SDP offered to operators.
    media_ip: std::net::IpAddr,
    /// The queue service's messages for the current join.
    queue: Option<mpsc::UnboundedReceiver<ToCall>>,
    lookups: (
        mpsc::UnboundedSender<ivr::Input>,
        mpsc::UnboundedReceiver<ivr::Input>,
    ),
    /// The supervisor's leg's events, while one listens in.
    monitor: Option<mpsc::UnboundedReceiver<CallEvent>>,
}

impl Driver {
    /// Carries out a media action: prompts found by name, the rest as is.
    fn media(&mut self, action: MediaAction<MediaSockets>) {
        let command = match action {
            MediaAction::Play(names) => MediaCommand::Play(self.prompts(&names)),
            MediaAction::StopPlayback => MediaCommand::StopPlayback,
            MediaAction::Digit(side, digit) => MediaCommand::Digit(side, digit),
            MediaAction::Update(side, params) => MediaCommand::Update(side, params),
            MediaAction::Bridge { params, port } => MediaCommand::Bridge {
                params,
                sockets: port,
                hold_music: self.assets.resolve(&[HOLD_MUSIC.to_string()]).0,
            },
            MediaAction::Hold(held) => MediaCommand::Hold(held),
            MediaAction::Unbridge => MediaCommand::Unbridge,
            MediaAction::Monitor { params, port, mode } => MediaCommand::Monitor {
                params,
                sockets: port,
                mode,
            },
            MediaAction::MonitorMode(mode) => MediaCommand::MonitorMode(mode),
            MediaAction::Unmonitor => MediaCommand::Unmonitor,
        };
        self.handle.send(command);
    }

    /// A port for a leg to a staff phone, and our side of its SDP.
    fn leg_media(&self, ports: &PortPool) -> Result<(MediaSockets, LocalMedia), String> {
        let sockets = ports.allocate().map_err(|e| e.to_string())?;
        let local = LocalMedia {
            address: self.media_ip,
            port: sockets.port(),
            session_id: rand::random::<u32>() as u64,
            version: 1,
        };
        Ok((sockets, local))
    }

    fn prompts(&self, names: &[String]) -> Vec<crate::media::Prompt> {
        self.assets.prompts_or_warn(names)
    }

    /// A queue service message for the machine; an offer gets its port
    /// here (a port is IO), if the call still waits for one.
    fn queue_input(&mut self, message: ToCall, ports: &PortPool) -> FromQueue<MediaSockets> {
        match message {
            ToCall::Joined { position } => FromQueue::Joined { position },
            ToCall::Refused { reason } => FromQueue::Refused { reason },
            ToCall::Ring {
                operator,
                extension,
            } => {
                let allocated = match self.machine.phase() {
                    // An offer the call no longer waits for takes no port.
                    Phase::Queued => self.leg_media(ports),
                    _ => Err("not queued".to_string()),
                };
                let media = allocated
                    .map_err(|e| debug!(error = %e, "no RTP port for an offer"))
                    .ok();
                FromQueue::Offer {
                    operator,
                    extension,
                    media,
                }
            }
            ToCall::CancelRing { operator } => FromQueue::CancelRing { operator },
            ToCall::Announce {
                position,
                expected_wait,
            } => FromQueue::Announce {
                position,
                expected_wait,
            },
            ToCall::Periodic { prompt } => FromQueue::Periodic { prompt },
        }
    }
}

/// A channel's next message, or never when there is none (not queued, no
/// supervisor's leg).
async fn next_message<T>(rx: Option<&mut mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Now, for the call's machine: the monotonic instant, and the wall clock
/// of the city (the IVR's time-of-day rules), whatever the machine's zone.
fn clock(city: chrono_tz::Tz) -> Clock {
    Clock {
        now: Instant::now().into_std(),
        wall: Utc::now().with_timezone(&city).naive_local(),
    }
}
