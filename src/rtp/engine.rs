//! The media engine: one thread that carries the RTP of every call.
//!
//! A call's media (its RTP session with the caller, the operator's leg once
//! bridged, the prompt player and the recording) lives here, not in the
//! call's task. The engine serves every call from one clock, in 0.5 ms
//! slots: a call gets the least busy slot when it starts and is served in
//! that slot every 20 ms (read what its sockets hold, produce its frame,
//! send it, record it). Its packets leave on a fixed 20 ms grid however many
//! calls there are, and no call needs a timer, a task wake-up or a channel
//! message per packet: at thousands of calls those, not the audio, were the
//! cost (`docs/BENCHMARKS.md`).
//!
//! The call's task keeps every decision (IVR, queue, SIP). It talks to the
//! engine through a [`MediaHandle`]: [`Command`]s in, a few
//! [`MediaEvent`]s out (a key pressed, a prompt over, media gone silent).
//!
//! The per-call work ([`CallMedia`]) and the timing ([`Wheel`]) are plain
//! code that takes packets and time; the thread in [`run`] is the IO edge.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::io;
use std::io::IoSliceMut;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::ids::CallId;
use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info};

use super::player::Player;
use super::ports::MediaSockets;
use crate::media::Prompt;
use crate::recording::ActiveRecording;
use crate::rtp::session::{Latch, MediaParams, MediaSession, MediaStats};
use crate::rtp::{FRAME, FRAME_SAMPLES};

/// The engine's time grid: a call is served at one of `SLOTS` points
/// every 20 ms.
pub const SLOT: Duration = Duration::from_micros(500);
const SLOTS: usize = (FRAME.as_micros() / SLOT.as_micros()) as usize;

/// After a stall, frames older than this many are recorded but not sent:
/// they would arrive too late to be played and only flood the peer's
/// buffer.
const SEND_AT_MOST: u64 = 3;

/// Which RTP stream of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Caller,
    Operator,
    /// A supervisor's phone joined to the conversation ([`MonitorMode`]).
    Monitor,
}

/// How a supervisor is joined to a conversation (Asterisk's ChanSpy
/// options, FreeSWITCH's eavesdrop): they always hear both sides; who
/// hears them depends on the mode.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum MonitorMode {
    /// Nobody hears the supervisor.
    Listen,
    /// The operator hears the supervisor; the caller does not.
    Whisper,
    /// Both hear the supervisor: a conference of three. The recording
    /// keeps what the caller heard, so it has the supervisor too.
    Barge,
}

impl MonitorMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
        }
    }
}

/// What the engine tells a call's task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// An RFC 4733 key from the caller (keys from the operator's phone go
    /// straight to the caller).
    Digit(char),
    /// The prompts loaded last have played out (not reported while
    /// bridged: the music on hold loops).
    PlaybackDone,
    /// The caller has sent nothing for the media timeout.
    CallerSilent,
    /// The operator's phone has sent nothing for the media timeout (and
    /// does not hold the call).
    OperatorSilent,
    /// The supervisor's phone has sent nothing for the media timeout.
    MonitorSilent,
}

/// What a call's task asks of its media.
pub enum Command {
    /// Play these prompts now, instead of whatever plays.
    Play(Vec<Prompt>),
    StopPlayback,
    /// Send a key as an RFC 4733 event on one side.
    Digit(Side, char),
    /// A re-INVITE or an ACK changed one side's session.
    Update(Side, MediaParams),
    /// The operator answered: their stream starts, the caller hears them.
    Bridge {
        params: MediaParams,
        sockets: MediaSockets,
        /// Looped while the operator holds the call.
        hold_music: Vec<Prompt>,
    },
    /// The operator holds (music plays to the caller) or resumes.
    Hold(bool),
    /// The operator's leg is over; its port is released.
    Unbridge,
    /// A supervisor's phone answered: it hears the conversation, and is
    /// heard as `mode` says.
    Monitor {
        params: MediaParams,
        sockets: MediaSockets,
        mode: MonitorMode,
    },
    /// The supervisor switches mode during the call.
    MonitorMode(MonitorMode),
    /// The supervisor's leg is over; its port is released.
    Unmonitor,
    /// The call is over: the engine lets go of it and hands back what the
    /// task must finish (the recording, the port).
    Finish(Option<oneshot::Sender<Finished>>),
}

/// A call's media, handed back at its end.
pub struct Finished {
    pub stats: MediaStats,
    pub recording: Option<ActiveRecording>,
    pub sockets: MediaSockets,
}

/// Settings of every call's media.
#[derive(Debug, Clone, Copy)]
pub struct MediaSettings {
    pub jitter_frames: usize,
    pub media_timeout: Duration,
    /// SCHED_FIFO priority of the engine's thread; 0 for none.
    pub realtime_priority: u8,
}

/// One call's media as the engine holds it: its sessions, player and
/// recording, driven by packets and frame times (no sockets, no clock).
pub struct CallMedia {
    caller: MediaSession,
    leg: Option<Leg>,
    monitor: Option<Monitor>,
    player: Player,
    recording: Option<ActiveRecording>,
    settings: MediaSettings,
    /// The caller's last frame: what the operator hears next.
    to_operator: [i16; FRAME_SAMPLES],
    caller_frame: [i16; FRAME_SAMPLES],
    heard: [i16; FRAME_SAMPLES],
    leg_packet: Vec<u8>,
    /// The conversation's last frame (the caller and what the caller
    /// heard but the supervisor): what the supervisor hears next.
    to_monitor: [i16; FRAME_SAMPLES],
    /// The supervisor's frame, mixed into the others' as the mode says.
    monitor_frame: [i16; FRAME_SAMPLES],
    monitor_packet: Vec<u8>,
    silent_reported: bool,
}

struct Monitor {
    session: MediaSession,
    mode: MonitorMode,
    silent_reported: bool,
}

/// `into` plus `other`, sample by sample, clipped rather than wrapped.
fn mix_into(into: &mut [i16; FRAME_SAMPLES], other: &[i16; FRAME_SAMPLES]) {
    for (a, b) in into.iter_mut().zip(other) {
        *a = a.saturating_add(*b);
    }
}

struct Leg {
    session: MediaSession,
    held: bool,
    hold_music: Vec<Prompt>,
    silent_reported: bool,
}

impl CallMedia {
    /// The media of a call answered with `params`, its first frame due at
    /// `start`.
    pub fn new(
        start: Instant,
        params: MediaParams,
        latch: Latch,
        settings: MediaSettings,
        recording: Option<ActiveRecording>,
    ) -> Self {
        Self {
            caller: MediaSession::new(
                start,
                params,
                latch,
                settings.jitter_frames,
                settings.media_timeout,
            ),
            leg: None,
            monitor: None,
            player: Player::default(),
            recording,
            settings,
            to_operator: [0; FRAME_SAMPLES],
            caller_frame: [0; FRAME_SAMPLES],
            heard: [0; FRAME_SAMPLES],
            leg_packet: Vec::with_capacity(256),
            to_monitor: [0; FRAME_SAMPLES],
            monitor_frame: [0; FRAME_SAMPLES],
            monitor_packet: Vec::with_capacity(256),
            silent_reported: false,
        }
    }

    pub fn stats(&self) -> MediaStats {
        self.caller.stats()
    }

    /// Carries out a command of the task (other than bridging, [`Self::bridge`],
    /// and finishing, which the engine does).
    pub fn command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Play(prompts) => self.player.load(prompts),
            Command::StopPlayback => self.player.stop(),
            Command::Digit(Side::Caller, digit) => {
                self.caller.send_digit(digit);
            }
            Command::Digit(Side::Operator, digit) => {
                let taken = self
                    .leg
                    .as_mut()
                    .is_some_and(|leg| leg.session.send_digit(digit));
                if !taken {
                    debug!(%digit, "the operator's phone takes no telephone-events");
                }
            }
            Command::Digit(Side::Monitor, _) => {}
            Command::Update(Side::Caller, params) => self.caller.update(now, params),
            Command::Update(Side::Operator, params) => {
                if let Some(leg) = self.leg.as_mut() {
                    leg.session.update(now, params);
                }
            }
            Command::Update(Side::Monitor, params) => {
                if let Some(m) = self.monitor.as_mut() {
                    m.session.update(now, params);
                }
            }
            Command::MonitorMode(mode) => {
                if let Some(m) = self.monitor.as_mut() {
                    m.mode = mode;
                    self.monitor_frame.fill(0);
                }
            }
            Command::Unmonitor => {
                if self.monitor.take().is_some() {
                    self.monitor_frame.fill(0);
                    info!("supervisor's leg ended");
                }
            }
            Command::Hold(held) => {
                let Some(leg) = self.leg.as_mut() else {
                    return;
                };
                leg.held = held;
                if held {
                    self.player.load(leg.hold_music.clone());
                } else {
                    self.player.stop();
                }
            }
            Command::Unbridge => {
                if let Some(leg) = self.leg.take() {
                    let stats = leg.session.stats();
                    info!(
                        operator_packets_in = stats.packets_in,
                        operator_packets_out = stats.packets_out,
                        "conversation ended"
                    );
                }
            }
            Command::Bridge { .. } | Command::Monitor { .. } | Command::Finish(_) => {}
        }
    }

    /// A staff phone's stream (the operator's, a supervisor's). Such a
    /// phone may sit behind NAT, its SDP address a private one: it latches
    /// symmetrically and moves only by the rule.
    fn phone_session(&self, now: Instant, params: MediaParams) -> MediaSession {
        MediaSession::new(
            now,
            params,
            Latch::Symmetric { signalling: None },
            self.settings.jitter_frames,
            self.settings.media_timeout,
        )
    }

    /// A supervisor's phone answered: it hears the conversation from the
    /// next frame, and is heard as `mode` says.
    pub fn monitor(&mut self, now: Instant, params: MediaParams, mode: MonitorMode) {
        self.monitor_frame.fill(0);
        self.monitor = Some(Monitor {
            session: self.phone_session(now, params),
            mode,
            silent_reported: false,
        });
    }

    /// The operator answered: what plays stops, their stream starts.
    pub fn bridge(&mut self, now: Instant, params: MediaParams, hold_music: Vec<Prompt>) {
        self.player.stop();
        self.leg = Some(Leg {
            session: self.phone_session(now, params),
            held: false,
            hold_music,
            silent_reported: false,
        });
    }

    /// A datagram arrived on one side's RTP port.
    pub fn on_packet(
        &mut self,
        side: Side,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
        events: &mut Vec<MediaEvent>,
    ) {
        match side {
            Side::Caller => {
                if let Some(event) = self.caller.on_packet(now, from, bytes) {
                    events.push(MediaEvent::Digit(event.digit));
                }
            }
            Side::Operator => {
                let Some(leg) = self.leg.as_mut() else {
                    return;
                };
                if let Some(event) = leg.session.on_packet(now, from, bytes) {
                    // Passed through to the caller's side.
                    debug!(digit = %event.digit, "DTMF from the operator");
                    self.caller.send_digit(event.digit);
                }
            }
            Side::Monitor => {
                // The supervisor's keys go nowhere: their phone is not in
                // the menu.
                if let Some(m) = self.monitor.as_mut() {
                    let _ = m.session.on_packet(now, from, bytes);
                }
            }
        }
    }

    /// Every frame due at `now`: played (or passed from the operator),
    /// sent through `send`, recorded. `packet` is scratch space.
    pub fn frames(
        &mut self,
        now: Instant,
        packet: &mut Vec<u8>,
        send: &mut impl FnMut(Side, &[u8], SocketAddr),
        events: &mut Vec<MediaEvent>,
    ) {
        let due = self.caller.frames_due(now);
        for i in 0..due {
            let fresh = due - i <= SEND_AT_MOST;
            // A supervisor first: they hear the conversation's last frame,
            // and what they say goes into the others' as the mode says.
            let mode = match self.monitor.as_mut() {
                Some(m) => {
                    let dest = m.session.tick(
                        &self.to_monitor,
                        &mut self.monitor_frame,
                        &mut self.monitor_packet,
                    );
                    if let (Some(dest), true) = (dest, fresh) {
                        send(Side::Monitor, &self.monitor_packet, dest);
                    }
                    Some(m.mode)
                }
                None => None,
            };
            let to_operator_hears = matches!(mode, Some(MonitorMode::Whisper | MonitorMode::Barge));
            // The prompts run on while the caller holds us: what was not
            // sent was not heard.
            let finished = match self.leg.as_mut() {
                // Bridged: the caller hears the operator, the operator the
                // caller's last frame.
                Some(leg) => {
                    if to_operator_hears {
                        mix_into(&mut self.to_operator, &self.monitor_frame);
                    }
                    let dest =
                        leg.session
                            .tick(&self.to_operator, &mut self.heard, &mut self.leg_packet);
                    if let (Some(dest), true) = (dest, fresh) {
                        send(Side::Operator, &self.leg_packet, dest);
                    }
                    // On hold: the music, round and round.
                    if leg.held && self.player.next_frame(&mut self.heard) {
                        self.player.load(leg.hold_music.clone());
                    }
                    false
                }
                None => self.player.next_frame(&mut self.heard),
            };
            if !self.caller.params().direction.we_send() {
                self.heard.fill(0);
            }
            // What the supervisor hears next: the caller (below) and what
            // the caller hears, without their own voice.
            if mode.is_some() {
                self.to_monitor = self.heard;
            }
            if mode == Some(MonitorMode::Barge) {
                mix_into(&mut self.heard, &self.monitor_frame);
            }
            let dest = self
                .caller
                .tick(&self.heard, &mut self.caller_frame, packet);
            if let (Some(dest), true) = (dest, fresh) {
                send(Side::Caller, packet, dest);
            }
            if let Some(rec) = self.recording.as_mut() {
                rec.push_frame(&self.caller_frame, &self.heard);
            }
            self.to_operator = self.caller_frame;
            if mode.is_some() {
                mix_into(&mut self.to_monitor, &self.caller_frame);
            }
            if finished {
                events.push(MediaEvent::PlaybackDone);
            }
        }
        if !self.silent_reported && self.caller.timed_out(now) {
            self.silent_reported = true;
            events.push(MediaEvent::CallerSilent);
        }
        if let Some(leg) = self.leg.as_mut() {
            if !leg.held && !leg.silent_reported && leg.session.timed_out(now) {
                leg.silent_reported = true;
                events.push(MediaEvent::OperatorSilent);
            }
        }
        if let Some(m) = self.monitor.as_mut()
            && !m.silent_reported
            && m.session.timed_out(now)
        {
            m.silent_reported = true;
            events.push(MediaEvent::MonitorSilent);
        }
    }
}

/// The engine's timing: which calls to serve when. Slot `n` (counted from
/// `origin`) comes at `origin + n·SLOT`; a call lives in one of the `SLOTS`
/// slots of the 20 ms cycle, so it is served every 20 ms.
pub struct Wheel {
    origin: Instant,
    slots: Vec<Vec<u64>>,
    /// The next slot number to serve.
    cursor: u64,
    calls: usize,
}

impl Wheel {
    pub fn new(origin: Instant) -> Self {
        Self {
            origin,
            slots: vec![Vec::new(); SLOTS],
            cursor: 0,
            calls: 0,
        }
    }

    fn at(&self, slot: u64) -> Instant {
        self.origin + SLOT * slot as u32
    }

    /// The slot number whose time is the first at or after `t`.
    fn slot_at_or_after(&self, t: Instant) -> u64 {
        let since = t.saturating_duration_since(self.origin).as_nanos();
        since.div_ceil(SLOT.as_nanos()) as u64
    }

    /// Adds a call to the least busy slot; returns the time of its first
    /// frame (not before `now`, nor before the next slot to serve).
    pub fn add(&mut self, key: u64, now: Instant) -> Instant {
        if self.calls == 0 {
            // Idle until now: start the cycle afresh.
            self.cursor = self.slot_at_or_after(now);
        }
        let index = (0..SLOTS)
            .min_by_key(|&i| (self.slots[i].len(), i))
            .unwrap_or(0);
        self.slots[index].push(key);
        self.calls += 1;
        let mut slot = self.slot_at_or_after(now).max(self.cursor);
        slot += (index as u64 + SLOTS as u64 - slot % SLOTS as u64) % SLOTS as u64;
        self.at(slot)
    }

    pub fn remove(&mut self, key: u64) {
        for slot in &mut self.slots {
            if let Some(i) = slot.iter().position(|k| *k == key) {
                slot.swap_remove(i);
                self.calls -= 1;
                return;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.calls
    }

    pub fn is_empty(&self) -> bool {
        self.calls == 0
    }

    /// When the next slot with calls in it is due; `None` without calls.
    pub fn next_due(&mut self) -> Option<Instant> {
        if self.calls == 0 {
            return None;
        }
        while self.slots[(self.cursor % SLOTS as u64) as usize].is_empty() {
            self.cursor += 1;
        }
        Some(self.at(self.cursor))
    }

    /// The calls of the next slot if it is due at `now` (the cursor moves
    /// past it). After a stall longer than a cycle the cursor skips whole
    /// cycles: no call is served twice for one stall, and each is served
    /// within the next cycle, with all its frames due.
    pub fn take_due(&mut self, now: Instant) -> Option<&[u64]> {
        let at = self.next_due()?;
        if at > now {
            return None;
        }
        let last = (now.saturating_duration_since(self.origin).as_nanos() / SLOT.as_nanos()) as u64;
        let due = last + 1 - self.cursor;
        if due > SLOTS as u64 {
            let cycles = (due - SLOTS as u64).div_ceil(SLOTS as u64);
            self.cursor += cycles * SLOTS as u64;
            self.next_due()?;
            if self.at(self.cursor) > now {
                return None;
            }
        }
        let index = (self.cursor % SLOTS as u64) as usize;
        self.cursor += 1;
        Some(&self.slots[index])
    }
}

/// The engine: cheap to clone, all clones feed one thread.
#[derive(Clone)]
pub struct MediaEngine {
    mailbox: Arc<Mailbox>,
    next_key: Arc<AtomicU64>,
}

/// The engine thread's commands: a queue under a mutex, and a condition
/// variable that wakes the thread. Not `std::sync::mpsc`: its receiver
/// spins while a sender is between claiming a slot and filling it, and a
/// real-time thread spinning on the core that sender shares with it
/// starves the sender until the kernel's real-time throttling steps in, a
/// second later (measured: 1 s gaps in every call's audio). A mutex makes
/// the waiter sleep, so the sender runs and finishes.
#[derive(Default)]
struct Mailbox {
    state: Mutex<Posted>,
    wake: Condvar,
}

#[derive(Default)]
struct Posted {
    queue: VecDeque<Message>,
    /// The engine thread is gone.
    closed: bool,
}

impl Mailbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Posted> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn post(&self, message: Message) {
        let mut state = self.lock();
        if state.closed {
            // Dropped: a `finish` waiting for its reply gets `None`.
            return;
        }
        state.queue.push_back(message);
        drop(state);
        self.wake.notify_one();
    }

    /// The engine thread has ended (or panicked): what waits is dropped,
    /// and so is what comes later, so no call waits for it for ever.
    fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        let dropped = std::mem::take(&mut state.queue);
        drop(state);
        drop(dropped);
    }

    /// Moves every waiting message into `into`, first waiting for one
    /// until `deadline` (`None`: a second) if there is none.
    fn take(&self, deadline: Option<Instant>, into: &mut VecDeque<Message>) {
        let mut state = self.lock();
        if state.queue.is_empty() {
            let wait = match deadline {
                Some(at) => at.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(1),
            };
            if !wait.is_zero() {
                state = self
                    .wake
                    .wait_timeout(state, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        std::mem::swap(&mut state.queue, into);
    }
}

enum Message {
    Start {
        key: u64,
        call: CallId,
        params: MediaParams,
        latch: Latch,
        recording: Option<ActiveRecording>,
        sockets: MediaSockets,
        events: mpsc::UnboundedSender<MediaEvent>,
    },
    Command(u64, Command),
}

impl MediaEngine {
    /// Starts the engine's thread.
    pub fn spawn(settings: MediaSettings) -> io::Result<MediaEngine> {
        let mailbox = Arc::new(Mailbox::default());
        let inbox = mailbox.clone();
        std::thread::Builder::new()
            .name("media".into())
            .spawn(move || run(inbox, settings))?;
        Ok(MediaEngine {
            mailbox,
            next_key: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Hands a call's media to the engine: its RTP starts with the next
    /// free slot. Events come back on the returned receiver.
    pub fn start(
        &self,
        call: CallId,
        params: MediaParams,
        latch: Latch,
        recording: Option<ActiveRecording>,
        sockets: MediaSockets,
    ) -> (MediaHandle, mpsc::UnboundedReceiver<MediaEvent>) {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let (events, rx) = mpsc::unbounded_channel();
        self.mailbox.post(Message::Start {
            key,
            call,
            params,
            latch,
            recording,
            sockets,
            events,
        });
        let handle = MediaHandle {
            key,
            mailbox: self.mailbox.clone(),
            finished: false,
        };
        (handle, rx)
    }
}

/// A call's way to its media in the engine.
pub struct MediaHandle {
    key: u64,
    mailbox: Arc<Mailbox>,
    finished: bool,
}

impl MediaHandle {
    pub fn send(&self, command: Command) {
        self.mailbox.post(Message::Command(self.key, command));
    }

    /// Ends the call's media and takes back what is left of it; `None`
    /// only if the engine is gone.
    pub async fn finish(mut self) -> Option<Finished> {
        self.finished = true;
        let (reply, finished) = oneshot::channel();
        self.send(Command::Finish(Some(reply)));
        finished.await.ok()
    }
}

impl Drop for MediaHandle {
    fn drop(&mut self) {
        // A task that ends without `finish` (a panic) must not leave its
        // media running; dropping the recording closes its file.
        if !self.finished {
            self.send(Command::Finish(None));
        }
    }
}

/// A call in the engine: its media and its sockets.
struct Entry {
    call: CallId,
    media: CallMedia,
    sockets: MediaSockets,
    leg: Option<MediaSockets>,
    monitor: Option<MediaSockets>,
    events: mpsc::UnboundedSender<MediaEvent>,
}

/// Datagrams read at once: a call's socket holds one most of the time, so
/// one `recvmmsg` takes all that waits without a second, empty read.
const BATCH: usize = 4;

/// The engine's receive buffers, reused for every socket.
struct Inbox {
    buffers: Box<[[u8; 2048]; BATCH]>,
    headers: MultiHeaders<SockaddrStorage>,
    got: [(usize, Option<SocketAddr>); BATCH],
}

impl Inbox {
    fn new() -> Self {
        Self {
            buffers: Box::new([[0; 2048]; BATCH]),
            headers: MultiHeaders::preallocate(BATCH, None),
            got: [(0, None); BATCH],
        }
    }

    /// Reads up to `BATCH` datagrams waiting on `socket`; how many.
    fn read(&mut self, socket: &UdpSocket) -> usize {
        // ICMP errors queued on the socket (a peer's port closed) come
        // first, one per read; the datagrams behind them are still there.
        for _ in 0..BATCH {
            let mut slices = self.buffers.each_mut().map(|b| [IoSliceMut::new(b)]);
            let results = recvmmsg(
                socket.as_raw_fd(),
                &mut self.headers,
                slices.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            );
            match results {
                Ok(results) => {
                    let mut n = 0;
                    for r in results {
                        self.got[n] = (r.bytes, r.address.and_then(socket_addr));
                        n += 1;
                    }
                    return n;
                }
                Err(Errno::ECONNREFUSED | Errno::EINTR) => continue,
                Err(_) => return 0,
            }
        }
        0
    }
}

fn socket_addr(a: SockaddrStorage) -> Option<SocketAddr> {
    a.as_sockaddr_in()
        .map(|v4| SocketAddr::from(*v4))
        .or_else(|| a.as_sockaddr_in6().map(|v6| SocketAddr::from(*v6)))
}

/// Every datagram waiting on `socket`, to `media`.
fn drain(
    inbox: &mut Inbox,
    socket: &UdpSocket,
    side: Side,
    media: &mut CallMedia,
    now: Instant,
    events: &mut Vec<MediaEvent>,
) {
    loop {
        let n = inbox.read(socket);
        for (i, (len, from)) in inbox.got[..n].iter().enumerate() {
            if let Some(from) = from {
                let bytes = &inbox.buffers[i][..(*len).min(2048)];
                media.on_packet(side, now, *from, bytes, events);
            }
        }
        if n < BATCH {
            return;
        }
    }
}

/// Serves one call at its slot: what arrived, then the frames due.
fn serve(entry: &mut Entry, now: Instant, inbox: &mut Inbox, packet: &mut Vec<u8>) {
    let mut events = Vec::new();
    let media = &mut entry.media;
    let caller = &entry.sockets.rtp;
    drain(inbox, caller, Side::Caller, media, now, &mut events);
    if let Some(leg) = &entry.leg {
        drain(inbox, &leg.rtp, Side::Operator, media, now, &mut events);
    }
    if let Some(monitor) = &entry.monitor {
        drain(inbox, &monitor.rtp, Side::Monitor, media, now, &mut events);
    }
    let (caller, leg, monitor) = (
        &entry.sockets.rtp,
        entry.leg.as_ref(),
        entry.monitor.as_ref(),
    );
    let mut send = |side: Side, bytes: &[u8], dest: SocketAddr| {
        let socket = match side {
            Side::Caller => Some(caller),
            Side::Operator => leg.map(|l| &l.rtp),
            Side::Monitor => monitor.map(|m| &m.rtp),
        };
        if let Some(socket) = socket {
            // A full socket buffer drops the frame, as the network would.
            let _ = socket.send_to(bytes, dest);
        }
    };
    media.frames(now, packet, &mut send, &mut events);
    for event in events {
        let _ = entry.events.send(event);
    }
}

/// The engine thread: waits for the next slot (or a command), serves it.
/// Closes the mailbox when the engine thread ends, however it ends.
struct Closing(Arc<Mailbox>);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.close();
    }
}

fn run(mailbox: Arc<Mailbox>, settings: MediaSettings) {
    let closing = Closing(mailbox);
    let mailbox = &closing.0;
    // Wake-ups on time to the microsecond, not the default 50 µs slack.
    if let Err(e) = nix::sys::prctl::set_timerslack(1_000) {
        debug!(error = %e, "cannot tighten the media thread's timer slack");
    }
    if settings.realtime_priority > 0 {
        realtime(settings.realtime_priority);
    }
    let mut wheel = Wheel::new(Instant::now());
    let mut calls: HashMap<u64, Entry> = HashMap::new();
    let mut inbox = Inbox::new();
    let mut packet = Vec::with_capacity(256);
    let mut messages = VecDeque::new();
    loop {
        // Commands first; a wait only when nothing is due.
        mailbox.take(wheel.next_due(), &mut messages);
        if messages.is_empty() && wheel.is_empty() && Arc::strong_count(mailbox) == 1 {
            // Idle, and no engine or call handle is left to send anything.
            break;
        }
        for message in messages.drain(..) {
            handle(message, &mut wheel, &mut calls, settings, &mut inbox);
        }
        let now = Instant::now();
        while let Some(keys) = wheel.take_due(now) {
            for key in keys {
                if let Some(entry) = calls.get_mut(key) {
                    serve(entry, now, &mut inbox, &mut packet);
                }
            }
        }
    }
    debug!(calls = calls.len(), "media engine stopped");
}

/// Makes the calling thread a SCHED_FIFO one: it runs as soon as its slot
/// is due, ahead of the SIP, database and recorder threads.
fn realtime(priority: u8) {
    let param = libc::sched_param {
        sched_priority: i32::from(priority.min(99)),
    };
    // SAFETY: sched_setscheduler reads `param` and changes only the
    // scheduling of this thread (pid 0).
    let result = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if result == 0 {
        info!(priority, "media thread runs with real-time priority");
    } else {
        tracing::warn!(
            priority,
            error = %io::Error::last_os_error(),
            "cannot give the media thread real-time priority (needs CAP_SYS_NICE); it runs as an ordinary thread"
        );
    }
}

fn handle(
    message: Message,
    wheel: &mut Wheel,
    calls: &mut HashMap<u64, Entry>,
    settings: MediaSettings,
    inbox: &mut Inbox,
) {
    let now = Instant::now();
    match message {
        Message::Start {
            key,
            call,
            params,
            latch,
            recording,
            sockets,
            events,
        } => {
            // The first frame one frame from now: the task posts the
            // greeting right after the start, and a frame served between
            // the two would open the call (and its recording) with 20 ms
            // of silence.
            let start = wheel.add(key, now + FRAME);
            calls.insert(
                key,
                Entry {
                    call,
                    media: CallMedia::new(start, params, latch, settings, recording),
                    sockets,
                    leg: None,
                    monitor: None,
                    events,
                },
            );
        }
        Message::Command(key, command) => {
            let Some(entry) = calls.get_mut(&key) else {
                return;
            };
            match command {
                Command::Bridge {
                    params,
                    sockets,
                    hold_music,
                } => {
                    entry.media.bridge(now, params, hold_music);
                    entry.leg = Some(sockets);
                }
                Command::Unbridge => {
                    let _span = tracing::info_span!("call", id = %entry.call).entered();
                    entry.media.command(now, Command::Unbridge);
                    entry.leg = None;
                }
                Command::Monitor {
                    params,
                    sockets,
                    mode,
                } => {
                    entry.media.monitor(now, params, mode);
                    entry.monitor = Some(sockets);
                }
                Command::Unmonitor => {
                    let _span = tracing::info_span!("call", id = %entry.call).entered();
                    entry.media.command(now, Command::Unmonitor);
                    entry.monitor = None;
                }
                Command::Finish(reply) => {
                    wheel.remove(key);
                    if let Some(mut entry) = calls.remove(&key) {
                        // What came since the call's last slot counts too.
                        let (media, mut ignored) = (&mut entry.media, Vec::new());
                        let caller = &entry.sockets.rtp;
                        drain(inbox, caller, Side::Caller, media, now, &mut ignored);
                        let finished = Finished {
                            stats: entry.media.stats(),
                            recording: entry.media.recording,
                            sockets: entry.sockets,
                        };
                        if let Some(reply) = reply {
                            let _ = reply.send(finished);
                        }
                    }
                }
                command => entry.media.command(now, command),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::Codec;
    use crate::sdp::Direction;
    use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};

    const CALLER: &str = "127.0.0.1:40000";
    const OPERATOR: &str = "127.0.0.1:41000";

    fn params(remote: &str) -> MediaParams {
        MediaParams {
            codec: Codec::Pcmu,
            dtmf_payload_type: Some(101),
            remote: Some(remote.parse().unwrap()),
            direction: Direction::SendRecv,
        }
    }

    fn settings() -> MediaSettings {
        MediaSettings {
            jitter_frames: 1,
            media_timeout: Duration::from_secs(2),
            realtime_priority: 0,
        }
    }

    fn audio(seq: u16, sample: i16) -> Vec<u8> {
        let mut payload = Vec::new();
        Codec::Pcmu.encode(&[sample; FRAME_SAMPLES], &mut payload);
        RtpPacketBuilder::new()
            .payload_type(0)
            .ssrc(7)
            .sequence(Seq::from(seq))
            .timestamp(u32::from(seq) * 160)
            .payload(&payload)
            .build()
            .unwrap()
    }

    fn key(seq: u16, event: u8, end: bool) -> Vec<u8> {
        let flags = if end { 0x80 } else { 0 } | 10;
        RtpPacketBuilder::new()
            .payload_type(101)
            .ssrc(7)
            .sequence(Seq::from(seq))
            .timestamp(4000)
            .payload(&[event, flags, 0, 160])
            .build()
            .unwrap()
    }

    /// Packets sent: side, destination, payload type, first decoded sample.
    type Sent = Vec<(Side, SocketAddr, u8, i16)>;

    fn run_frames(media: &mut CallMedia, now: Instant, events: &mut Vec<MediaEvent>) -> Sent {
        let mut sent = Vec::new();
        let mut packet = Vec::new();
        media.frames(
            now,
            &mut packet,
            &mut |side, bytes, dest| {
                let rtp = RtpReader::new(bytes).unwrap();
                let mut decoded = Vec::new();
                Codec::Pcmu.decode(rtp.payload(), &mut decoded);
                let first = if rtp.payload_type() == 0 {
                    decoded[0]
                } else {
                    0
                };
                sent.push((side, dest, rtp.payload_type(), first));
            },
            events,
        );
        sent
    }

    fn prompt(samples: usize, value: i16) -> Vec<Prompt> {
        vec![Prompt::new("p", vec![value; samples])]
    }

    fn near(a: i16, b: i16) -> bool {
        (i32::from(a) - i32::from(b)).abs() < i32::from(b.abs() / 16 + 8)
    }

    #[test]
    fn a_closed_mailbox_drops_what_waits_and_what_comes() {
        let mailbox = Mailbox::default();
        let (reply, waiting) = oneshot::channel();
        mailbox.post(Message::Command(1, Command::Finish(Some(reply))));
        mailbox.close();
        let (late, after) = oneshot::channel();
        mailbox.post(Message::Command(2, Command::Finish(Some(late))));
        // Both replies are gone: a call's `finish` gets `None`, not a hang.
        assert!(waiting.blocking_recv().is_err());
        assert!(after.blocking_recv().is_err());
        let mut taken = VecDeque::new();
        mailbox.take(Some(Instant::now()), &mut taken);
        assert!(taken.is_empty());
    }

    #[test]
    fn calls_are_spread_over_the_slots_and_served_every_twenty_ms() {
        let t0 = Instant::now();
        let mut wheel = Wheel::new(t0);
        assert_eq!(wheel.next_due(), None, "nothing to wait for without calls");
        let starts: Vec<Instant> = (0..2 * SLOTS as u64).map(|k| wheel.add(k, t0)).collect();
        assert_eq!(wheel.len(), 2 * SLOTS);
        // Two calls in every slot, each starting on the grid within 20 ms.
        let mut offsets: Vec<u128> = starts.iter().map(|s| (*s - t0).as_micros()).collect();
        offsets.sort();
        let expected: Vec<u128> = (0..SLOTS as u128)
            .flat_map(|i| [i * 500, i * 500])
            .collect();
        assert_eq!(offsets, expected);

        // Over one cycle every call is served once, at its own time.
        let mut served: HashMap<u64, Vec<Instant>> = HashMap::new();
        let mut now = t0;
        while now < t0 + FRAME * 3 {
            while let Some(keys) = wheel.take_due(now) {
                for k in keys {
                    served.entry(*k).or_default().push(now);
                }
            }
            now += Duration::from_micros(100);
        }
        for (k, times) in &served {
            assert_eq!(times.len(), 3, "call {k} served once a cycle");
            assert_eq!(times[0], starts[*k as usize], "call {k} first at its start");
            assert!(times.windows(2).all(|w| w[1] - w[0] == FRAME));
        }
        assert_eq!(served.len(), 2 * SLOTS);

        // A new call goes to the emptiest slot, not before the cursor.
        wheel.remove(5);
        wheel.remove(45);
        let start = wheel.add(100, now);
        assert!(start >= now && start < now + FRAME);
        assert_eq!(
            (start - t0).as_micros() % 20_000,
            5 * 500,
            "slot 5 was emptied"
        );
    }

    #[test]
    fn a_stalled_engine_serves_every_call_once_then_keeps_the_grid() {
        let t0 = Instant::now();
        let mut wheel = Wheel::new(t0);
        for k in 0..10 {
            wheel.add(k, t0);
        }
        let late = t0 + Duration::from_millis(1_000) + Duration::from_micros(250);
        let mut served: HashMap<u64, usize> = HashMap::new();
        let mut now = late;
        while now < late + FRAME - SLOT {
            while let Some(keys) = wheel.take_due(now) {
                for k in keys {
                    *served.entry(*k).or_default() += 1;
                }
                let slot_time = wheel.at(wheel.cursor - 1);
                assert!(
                    now == late || slot_time + SLOT > now,
                    "on time after the stall"
                );
            }
            now += Duration::from_micros(50);
        }
        assert_eq!(
            served.len(),
            10,
            "every call served within a cycle of the stall"
        );
        assert!(served.values().all(|n| *n == 1), "none twice: {served:?}");
        let next = wheel.next_due().unwrap();
        assert!(next > late && next <= late + FRAME);
        assert_eq!(
            (next - t0).as_nanos() % SLOT.as_nanos(),
            0,
            "still on the grid"
        );
        for k in 0..10 {
            wheel.remove(k);
        }
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_due(), None);
    }

    /// A call's media, unrecorded, its caller at [`CALLER`].
    fn caller_media(t0: Instant) -> CallMedia {
        let latch = Latch::Symmetric { signalling: None };
        CallMedia::new(t0, params(CALLER), latch, settings(), None)
    }

    #[test]
    fn prompts_play_to_the_caller_and_their_end_is_reported_once() {
        let t0 = Instant::now();
        let mut media = caller_media(t0);
        let mut events = Vec::new();
        media.command(t0, Command::Play(prompt(400, 1000)));
        // Nothing is due before the start; three frames 40 ms after it.
        assert!(run_frames(&mut media, t0 - FRAME, &mut events).is_empty());
        let sent = run_frames(&mut media, t0 + FRAME * 2, &mut events);
        let caller: SocketAddr = CALLER.parse().unwrap();
        assert_eq!(sent.len(), 3);
        assert!(
            sent.iter()
                .all(|(side, dest, pt, _)| *side == Side::Caller && *dest == caller && *pt == 0)
        );
        assert!(near(sent[0].3, 1000) && near(sent[2].3, 1000));
        assert_eq!(events, vec![MediaEvent::PlaybackDone]);
        events.clear();
        let sent = run_frames(&mut media, t0 + FRAME * 3, &mut events);
        assert_eq!(sent.len(), 1);
        assert!(near(sent[0].3, 0), "silence after the prompt");
        assert!(events.is_empty(), "the end is reported once");

        // A stall: every frame is produced, only the last three are sent.
        let sent = run_frames(&mut media, t0 + FRAME * 13, &mut events);
        assert_eq!(sent.len(), 3);
        assert_eq!(media.stats().packets_out, 4 + 10);
    }

    #[test]
    fn the_callers_keys_are_reported_and_silence_ends_the_call() {
        let t0 = Instant::now();
        let mut media = caller_media(t0);
        let mut events = Vec::new();
        let from: SocketAddr = "127.0.0.1:40002".parse().unwrap();
        media.on_packet(Side::Caller, t0, from, &audio(1, 500), &mut events);
        media.on_packet(Side::Caller, t0, from, &key(2, 5, false), &mut events);
        media.on_packet(Side::Caller, t0, from, &key(3, 5, true), &mut events);
        media.on_packet(Side::Caller, t0, from, &key(4, 5, true), &mut events);
        assert_eq!(events, vec![MediaEvent::Digit('5')]);
        events.clear();
        // Symmetric RTP: we answer where the packets come from.
        let sent = run_frames(&mut media, t0, &mut events);
        assert_eq!(sent[0].1, from);
        // Two seconds of nothing from the caller: reported once.
        assert!(run_frames(&mut media, t0 + Duration::from_millis(1_900), &mut events).len() <= 3);
        assert!(events.is_empty());
        run_frames(&mut media, t0 + Duration::from_millis(2_100), &mut events);
        run_frames(&mut media, t0 + Duration::from_millis(2_200), &mut events);
        assert_eq!(events, vec![MediaEvent::CallerSilent]);
    }

    #[test]
    fn bridged_the_caller_and_the_operator_hear_each_other_and_hold_loops_music() {
        let t0 = Instant::now();
        let mut media = caller_media(t0);
        let mut events = Vec::new();
        let (caller, operator): (SocketAddr, SocketAddr) =
            (CALLER.parse().unwrap(), OPERATOR.parse().unwrap());
        media.command(t0, Command::Play(prompt(16_000, 3000)));
        media.bridge(t0, params(OPERATOR), prompt(200, -2000));
        for n in 0..4u16 {
            let at = t0 + FRAME * u32::from(n);
            media.on_packet(Side::Caller, at, caller, &audio(10 + n, 1200), &mut events);
            media.on_packet(
                Side::Operator,
                at,
                operator,
                &audio(90 + n, -700),
                &mut events,
            );
            let sent = run_frames(&mut media, at, &mut events);
            assert_eq!(sent.len(), 2, "one packet each way every frame");
            let to_operator = sent.iter().find(|s| s.0 == Side::Operator).unwrap();
            let to_caller = sent.iter().find(|s| s.0 == Side::Caller).unwrap();
            assert_eq!((to_operator.1, to_caller.1), (operator, caller));
            assert!(
                near(to_caller.3, -700),
                "the caller hears the operator, not the prompt"
            );
            if n > 0 {
                // The operator hears the caller's previous frame.
                assert!(near(to_operator.3, 1200), "{to_operator:?}");
            }
        }
        // An operator's key goes to the caller as a telephone-event.
        media.on_packet(
            Side::Operator,
            t0 + FRAME * 4,
            operator,
            &key(94, 9, false),
            &mut events,
        );
        let sent = run_frames(&mut media, t0 + FRAME * 4, &mut events);
        assert!(sent.iter().any(|s| s.0 == Side::Caller && s.2 == 101));

        // On hold the 200-sample music loops, and its ends are not reported.
        media.command(t0, Command::Hold(true));
        let mut heard = Vec::new();
        for n in 5..25u32 {
            for s in run_frames(&mut media, t0 + FRAME * n, &mut events) {
                if s.0 == Side::Caller && s.2 == 0 {
                    heard.push(s.3);
                }
            }
        }
        assert!(
            heard.iter().filter(|s| near(**s, -2000)).count() >= 10,
            "{heard:?}"
        );
        assert!(events.is_empty(), "{events:?}");

        // The leg ends: only the caller's stream goes on.
        media.command(t0, Command::Unbridge);
        let sent = run_frames(&mut media, t0 + FRAME * 25, &mut events);
        assert!(sent.iter().all(|s| s.0 == Side::Caller));
        assert!(!sent.is_empty());
    }

    const SUPERVISOR: &str = "127.0.0.1:42000";

    /// Within a G.711 step or two: a mix is decoded, added and encoded
    /// again, so its error is its parts' together.
    fn mixed(a: i16, b: i16) -> bool {
        (i32::from(a) - i32::from(b)).abs() < 80
    }

    /// What each side hears in frame `n` of a conversation with a
    /// supervisor joined: (the caller, the operator, the supervisor).
    fn three_way(media: &mut CallMedia, t0: Instant, n: u16) -> (i16, i16, i16) {
        let mut events = Vec::new();
        let at = t0 + FRAME * u32::from(n);
        let addr = |s: &str| -> SocketAddr { s.parse().unwrap() };
        media.on_packet(
            Side::Caller,
            at,
            addr(CALLER),
            &audio(10 + n, 1200),
            &mut events,
        );
        media.on_packet(
            Side::Operator,
            at,
            addr(OPERATOR),
            &audio(90 + n, -700),
            &mut events,
        );
        media.on_packet(
            Side::Monitor,
            at,
            addr(SUPERVISOR),
            &audio(300 + n, 400),
            &mut events,
        );
        let sent = run_frames(media, at, &mut events);
        let to = |side| sent.iter().find(|s| s.0 == side).map_or(0, |s| s.3);
        (to(Side::Caller), to(Side::Operator), to(Side::Monitor))
    }

    #[test]
    fn a_supervisor_listens_whispers_and_barges() {
        let t0 = Instant::now();
        let mut media = caller_media(t0);
        media.bridge(t0, params(OPERATOR), prompt(200, -2000));
        media.monitor(t0, params(SUPERVISOR), MonitorMode::Listen);
        // Frames 0 and 1 fill the pipes (each hears the others' previous
        // frame).
        for n in 0..2 {
            three_way(&mut media, t0, n);
        }
        // Listening: the supervisor hears both; nobody hears them.
        let (caller, operator, supervisor) = three_way(&mut media, t0, 2);
        assert!(
            mixed(caller, -700),
            "the caller hears the operator only: {caller}"
        );
        assert!(
            mixed(operator, 1200),
            "the operator hears the caller only: {operator}"
        );
        assert!(
            mixed(supervisor, 1200 - 700),
            "the supervisor hears both: {supervisor}"
        );

        // Whispering: the operator hears the supervisor too; the caller
        // does not.
        media.command(t0, Command::MonitorMode(MonitorMode::Whisper));
        three_way(&mut media, t0, 3);
        let (caller, operator, supervisor) = three_way(&mut media, t0, 4);
        assert!(mixed(caller, -700), "{caller}");
        assert!(mixed(operator, 1200 + 400), "{operator}");
        assert!(mixed(supervisor, 1200 - 700), "{supervisor}");

        // Barging: everyone hears everyone else.
        media.command(t0, Command::MonitorMode(MonitorMode::Barge));
        three_way(&mut media, t0, 5);
        let (caller, operator, supervisor) = three_way(&mut media, t0, 6);
        assert!(mixed(caller, -700 + 400), "{caller}");
        assert!(mixed(operator, 1200 + 400), "{operator}");
        assert!(
            mixed(supervisor, 1200 - 700),
            "not their own voice back: {supervisor}"
        );

        // The supervisor leaves: the two hear each other as before.
        media.command(t0, Command::Unmonitor);
        three_way(&mut media, t0, 7);
        let (caller, operator, supervisor) = three_way(&mut media, t0, 8);
        assert!(
            mixed(caller, -700) && mixed(operator, 1200),
            "{caller} {operator}"
        );
        assert_eq!(supervisor, 0, "nothing goes to a supervisor who left");
    }

    #[test]
    fn mixing_clips_instead_of_wrapping() {
        let mut loud = [30_000i16; FRAME_SAMPLES];
        mix_into(&mut loud, &[10_000; FRAME_SAMPLES]);
        assert!(loud.iter().all(|s| *s == i16::MAX));
        let mut low = [-30_000i16; FRAME_SAMPLES];
        mix_into(&mut low, &[-10_000; FRAME_SAMPLES]);
        assert!(low.iter().all(|s| *s == i16::MIN));
    }
}
