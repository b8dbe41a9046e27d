//! A real, independent SIP user agent for integration tests: baresip 1.0.0
//! (Debian package `baresip-core`), driven headless over its `ctrl_tcp` module.
//!
//! Each [`Baresip`] gets a private config dir (`baresip -f DIR`) in a temp dir,
//! its own SIP port and control port, and writes stdout+stderr to
//! `DIR/baresip.log` (path printed / included in every error). A caller or a
//! callee (agent phone) can be built with [`BaresipOptions`].
//!
//! # What was learned about baresip 1.0.0 (verified by experiment)
//!
//! Config file (`DIR/config`, one `key value` per line) keys used here:
//! - `sip_listen 127.0.0.1:P` — UDP+TCP on P, **and a TLS listener on TCP P+1**
//!   (so P+1 must be free too). `net_interface 127.0.0.1` is required as well,
//!   otherwise the SDP `c=` line carries the host's eth0 address. It takes an IP
//!   address (`lo` as interface name fails with "could not get network
//!   address"); any 127.x.y.z works.
//! - `rtp_ports A-B` (baresip picks the RTP port inside the range), `rtcp_mux no`.
//! - `module g711.so` / `g722.so` / `opus.so` (codecs), `sndfile.so`,
//!   `aubridge.so`, `aufile.so`, `ausine.so`, `module_tmp account.so`,
//!   `module_app menu.so` (provides the commands: dial, hangup, accept,
//!   sndcode, listcalls, ...), `module_app ctrl_tcp.so`, `ctrl_tcp_listen IP:P`.
//!   `stdio.so`/`cons.so` are NOT loaded (stdio fails without a tty).
//! - No audio hardware: `audio_player aubridge,<name>` and `audio_alert
//!   aubridge,<name>` (a bridge device with no partner silently discards),
//!   `ringback_disabled yes`, `statmode_default off` (else menu prints a status
//!   line to the log every few hundred ms).
//! - Audio source: `ausine,<hz>` needs `ausrc_srate 48000` + `ausrc_channels 2`
//!   (ausine refuses anything else); `aufile,<path.wav>` requires the WAV rate
//!   and channels to EQUAL `ausrc_srate`/`ausrc_channels` (it does not resample)
//!   and **at end of file the menu module hangs up the call** (event
//!   `AUDIO_ERROR` "0,end of file" then `CALL_CLOSED` "end of file"). So this
//!   helper converts the given WAV to mono 8/16/48 kHz and pads it with silence
//!   ([`BaresipOptions::source_pad`], default 120 s). baresip itself resamples
//!   48k/16k/8k and 2->1 channels towards the codec ("enable ausrc resampler").
//! - Received audio: the `sndfile` filter module writes, per call, into
//!   `snd_path` two files `dump-YYYY-MM-DD-HH-MM-SS-enc.wav` (what we sent,
//!   after the source) and `...-dec.wav` (what we RECEIVED, decoded). 16-bit
//!   mono at the codec rate (8000 Hz for PCMU/PCMA, 16000 for G722). The dec
//!   file is opened at the first decoded RTP packet (so it starts when media
//!   starts, not at "answer", and would include early media), only received
//!   packets are written (gaps are not filled with silence) and the WAV header is only
//!   finalised when the call is torn down (sf_close), so read it after
//!   `CALL_CLOSED` — [`Baresip::received_audio`] waits for that. File names have
//!   1-second resolution: two calls in the same second on one instance overwrite
//!   each other, so use one call per instance (or wait a second).
//!   1.0.0's `aufile` cannot act as a player (source only).
//! - Accounts file (`DIR/accounts`), one line:
//!   `"Name" <sip:USER@HOST:PORT>;regint=0;answermode=manual|auto;audio_codecs=...;audio_source=...`
//!   `regint=0` = no registration. To register: AOR host = registrar,
//!   `;auth_pass=SECRET;regint=SECS`. The first REGISTER goes out before the
//!   ctrl connection exists, so its `REGISTER_OK`/`REGISTER_FAIL` event is lost:
//!   the `reginfo` command ("OK"/"ERR") is polled instead
//!   ([`Baresip::wait_registered`]).
//!   `audio_codecs` entries are `name[/srate[/channels]]` with srate defaulting
//!   to 8000: `PCMU`, `PCMA` work, but **G722 must be written `G722/16000/1`**
//!   (1.0.0 registers it with srate 16000) and opus `opus/48000/2`. An entry that
//!   matches nothing logs `account: audio codec not found: ...` and, if nothing
//!   matched at all, baresip silently offers ALL loaded codecs — so this helper
//!   maps names itself, loads only the needed codec modules and fails on that log
//!   line. An incoming offer with no common codec is answered `488 Not
//!   Acceptable Here` (callee event `CALL_CLOSED` "No audio codecs").
//!
//! ctrl_tcp protocol: TCP, netstrings (`<len>:<json>,`), one client at a time.
//! Command: `{"command":"dial","params":"sip:x@h:p","token":"7"}` → response
//! `{"response":true,"ok":true|false,"data":"...","token":"7"}` (ok=false with
//! data "Invalid argument" e.g. when dial fails locally). Events:
//! `{"event":true,"class":"call","type":"CALL_CLOSED","param":"...",
//! "accountaor":..,"direction":"incoming|outgoing","peeruri":..,
//! "peerdisplayname":..,"id":"<SIP Call-ID>"}`. Types seen: CALL_INCOMING,
//! CALL_RINGING, CALL_PROGRESS, CALL_ESTABLISHED, CALL_CLOSED, CALL_DTMF_START
//! (param = digit), CALL_DTMF_END, CALL_RTPESTAB, CALL_RTCP, CALL_LOCAL_SDP /
//! CALL_REMOTE_SDP (param offer|answer), AUDIO_ERROR, REGISTER_OK,
//! REGISTER_FAIL. Responses and events interleave on the same connection.
//!
//! `CALL_CLOSED` param, i.e. how a call ended (see [`Event::sip_status`]):
//! - final error response from the far end: `"<code> <reason>"`, e.g.
//!   `"488 Not Acceptable Here"`, `"486 Rejected"`, `"403 Forbidden"`;
//! - we hung up (BYE or CANCEL sent): `"Connection reset by user"`;
//! - far end hung up (BYE) or cancelled: `"Connection reset by peer"`;
//! - no answer at all: `"Connection timed out"` after ~32 s (SIP timer B).
//!
//! DTMF: `sndcode <digits>` sends RFC 4733 telephone-event (payload 101,
//! `a=fmtp:101 0-15`), each digit exactly 9 packets × 20 ms = 180 ms plus 3
//! end packets (fixed by libre's telev: 9 × ptime; only the account `;ptime=`
//! would change it — untested); several digits in one `sndcode` go back to back with only the
//! 60 ms end-packet gap. Audio packets keep flowing, interleaved with the
//! telephone-event packets (same SSRC). [`Baresip::send_dtmf`] sends one digit
//! per command, spaced by [`DTMF_INTERVAL`] (≈200 ms gap between tones).
//! The receiving baresip reports `CALL_DTMF_START` (param digit) / `CALL_DTMF_END`.
//!
//! Process control: SIGTERM makes baresip shut down gracefully, which can
//! take ~30 s (it waits for pending transactions, de-registers), so this
//! helper always SIGKILLs. After a failed start the port can still be held by
//! the dying previous process: auto-picked ports are re-picked and retried.
//!
//! Debugging: set `HOTLINE_KEEP_PEER_LOGS=1` to keep the temp dirs; they are
//! also kept when the test panics. `BaresipOptions::sip_trace` adds `-s`
//! (full SIP messages in the log).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// Pause between the starts of two DTMF digits in [`Baresip::send_dtmf`]:
/// 180 ms tone + 60 ms end packets + ~210 ms silence.
pub const DTMF_INTERVAL: Duration = Duration::from_millis(450);

/// How long [`Baresip::spawn`] waits for "baresip is ready.".
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a control command may take before we give up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the UA answers incoming calls by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerMode {
    /// Incoming calls ring (`CALL_INCOMING`) until [`Baresip::accept`] or
    /// [`Baresip::hangup`] (which rejects with 486).
    Manual,
    /// Incoming calls are answered immediately with 200.
    Auto,
}

/// Register the account to a registrar (digest auth if a password is given).
#[derive(Debug, Clone)]
pub struct Registration {
    /// `host:port` of the registrar, e.g. `127.0.0.1:5060`. Becomes the AOR host.
    pub registrar: String,
    /// AOR user and digest username.
    pub user: String,
    pub password: Option<String>,
    /// Requested expiry (baresip `regint`), seconds; must be > 0.
    pub expires: u32,
}

#[derive(Debug, Clone)]
pub struct BaresipOptions {
    /// Codec names in preference order: `PCMU`, `PCMA`, `G722`, `opus`, `GSM`.
    /// Empty = `PCMU, PCMA`.
    pub codecs: Vec<String>,
    /// WAV to send (any rate, 8/16/24/32-bit int or float, any channels).
    /// Converted to mono and padded with silence to [`Self::source_pad`].
    pub source_wav: Option<PathBuf>,
    /// Send a continuous sine tone of this frequency (10..=20000 Hz) instead.
    /// If neither this nor `source_wav` is set, silence is sent.
    pub tone_hz: Option<u32>,
    /// Local SIP port; 0 = pick a free one (needs UDP+TCP P and TCP P+1).
    pub sip_port: u16,
    /// Local address for SIP and RTP (any 127.x.y.z).
    pub local_ip: String,
    /// User part of our AOR / From (the caller number).
    pub from_user: String,
    pub display_name: Option<String>,
    pub answer_mode: AnswerMode,
    pub registration: Option<Registration>,
    /// Minimum length of the sent WAV (the call is hung up at its end).
    pub source_pad: Duration,
    /// RTP port range; `None` = a per-instance block of 100 ports in 40000-49999.
    pub rtp_ports: Option<(u16, u16)>,
    /// Start baresip with `-s` (SIP trace into the log).
    pub sip_trace: bool,
}

impl Default for BaresipOptions {
    fn default() -> Self {
        Self {
            codecs: vec!["PCMU".into(), "PCMA".into()],
            source_wav: None,
            tone_hz: None,
            sip_port: 0,
            local_ip: "127.0.0.1".into(),
            from_user: "0611234567".into(),
            display_name: None,
            answer_mode: AnswerMode::Manual,
            registration: None,
            source_pad: Duration::from_secs(120),
            rtp_ports: None,
            sip_trace: true,
        }
    }
}

/// Registration state as shown by baresip's `reginfo` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegState {
    /// `OK`: the last REGISTER got a 2xx.
    Registered,
    /// `ERR`: the last REGISTER failed (e.g. 403 after the digest retry).
    Failed,
    /// No final answer yet (or no registration configured).
    Pending,
}

/// One ctrl_tcp event.
#[derive(Debug, Clone)]
pub struct Event {
    /// JSON `type`, e.g. `CALL_ESTABLISHED`, `CALL_CLOSED`, `CALL_DTMF_START`.
    pub kind: String,
    /// JSON `class`: `call`, `register`, `other`, ...
    pub class: String,
    /// JSON `param`: peer URI, close reason, DTMF digit, ...
    pub param: Option<String>,
    /// JSON `id`: the SIP Call-ID of the call the event belongs to.
    pub call_id: Option<String>,
    pub peer_uri: Option<String>,
    pub peer_display_name: Option<String>,
    /// `incoming` or `outgoing`.
    pub direction: Option<String>,
    /// The whole JSON object.
    pub raw: Value,
}

impl Event {
    fn from_json(raw: Value) -> Self {
        let s = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_owned);
        Self {
            kind: s("type").unwrap_or_default(),
            class: s("class").unwrap_or_default(),
            param: s("param"),
            call_id: s("id"),
            peer_uri: s("peeruri"),
            peer_display_name: s("peerdisplayname"),
            direction: s("direction"),
            raw,
        }
    }

    pub fn is(&self, kind: &str) -> bool {
        self.kind == kind
    }

    /// SIP status of a `CALL_CLOSED` caused by a final error response
    /// (param `"488 Not Acceptable Here"` → 488). `None` for local/remote
    /// hangups ("Connection reset by user/peer") and transport errors.
    pub fn sip_status(&self) -> Option<u16> {
        let param = self.param.as_deref()?;
        let code = param.split(' ').next()?;
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()) {
            code.parse().ok()
        } else {
            None
        }
    }

    /// Digit of a `CALL_DTMF_START` event.
    pub fn dtmf_digit(&self) -> Option<char> {
        if self.is("CALL_DTMF_START") {
            self.param.as_deref()?.chars().next()
        } else {
            None
        }
    }
}

/// A running baresip process with its control connection.
pub struct Baresip {
    child: Child,
    dir: Option<tempfile::TempDir>,
    dir_path: PathBuf,
    log_path: PathBuf,
    sip_addr: SocketAddr,
    aor: String,
    ctrl: OwnedWriteHalf,
    incoming: mpsc::UnboundedReceiver<Value>,
    pending: VecDeque<Event>,
    history: Vec<Event>,
    next_token: u64,
}

impl Baresip {
    /// Writes a private config dir, starts baresip and waits until it is
    /// ready and its control connection is up.
    pub async fn spawn(opts: BaresipOptions) -> anyhow::Result<Baresip> {
        let ip: IpAddr = opts
            .local_ip
            .parse()
            .with_context(|| format!("local_ip {:?} is not an IP address", opts.local_ip))?;
        let codecs = resolve_codecs(&opts.codecs)?;
        let mut last_err = anyhow!("baresip did not start");
        for attempt in 0..4 {
            if attempt > 0 {
                // A fixed port may still be held by a process being killed.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            match Self::try_spawn(&opts, ip, &codecs).await {
                Ok(b) => return Ok(b),
                Err(SpawnError::PortBusy(e)) => last_err = e,
                Err(SpawnError::Other(e)) => return Err(e),
            }
        }
        Err(last_err)
    }

    async fn try_spawn(
        opts: &BaresipOptions,
        ip: IpAddr,
        codecs: &[Codec],
    ) -> Result<Baresip, SpawnError> {
        let dir = tempfile::Builder::new()
            .prefix("baresip-")
            .tempdir()
            .context("creating baresip temp dir")?;
        let dir_path = dir.path().to_path_buf();
        let sip_port = match opts.sip_port {
            0 => free_sip_port(ip)?,
            p => p,
        };
        let ctrl_port = free_tcp_port(IpAddr::from([127, 0, 0, 1]))?;
        let aor = write_config_dir(&dir_path, opts, ip, sip_port, ctrl_port, codecs)?;

        let log_path = dir_path.join("baresip.log");
        let log = std::fs::File::create(&log_path).context("creating baresip.log")?;
        let log2 = log.try_clone().context("cloning log handle")?;
        let mut cmd = Command::new("baresip");
        cmd.arg("-f").arg(&dir_path);
        if opts.sip_trace {
            cmd.arg("-s");
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .context("spawning `baresip` (is the baresip-core package installed?)")?;
        wait_ready(&mut child, &log_path).await?;

        let stream = connect_retry(SocketAddr::from(([127, 0, 0, 1], ctrl_port)))
            .await
            .with_context(|| format!("connecting to ctrl_tcp, log {}", log_path.display()))?;
        let (rd, wr) = stream.into_split();
        Ok(Baresip {
            child,
            dir: Some(dir),
            dir_path,
            log_path,
            sip_addr: SocketAddr::new(ip, sip_port),
            aor,
            ctrl: wr,
            incoming: spawn_ctrl_reader(rd),
            pending: VecDeque::new(),
            history: Vec::new(),
            next_token: 1,
        })
    }

    /// Our SIP address (where to send INVITEs to reach this UA).
    pub fn sip_addr(&self) -> SocketAddr {
        self.sip_addr
    }

    /// Our AOR, e.g. `sip:0611234567@127.0.0.1:40123`.
    pub fn aor(&self) -> &str {
        &self.aor
    }

    /// A URI that reaches this UA directly, for the given user part.
    pub fn uri_for(&self, user: &str) -> String {
        format!("sip:{user}@{}", self.sip_addr)
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// The whole baresip log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Every event received so far, in order (including consumed ones).
    pub fn history(&self) -> &[Event] {
        &self.history
    }

    /// Sends a raw ctrl_tcp command (e.g. `"listcalls"`) and returns its
    /// response `data`; errors if baresip answers `ok: false`.
    pub async fn command(&mut self, command: &str, params: Option<&str>) -> anyhow::Result<String> {
        let token = self.next_token.to_string();
        self.next_token += 1;
        let mut msg = json!({ "command": command, "token": token });
        if let Some(p) = params {
            msg["params"] = Value::String(p.to_owned());
        }
        let body = msg.to_string();
        let frame = format!("{}:{body},", body.len());
        self.ctrl
            .write_all(frame.as_bytes())
            .await
            .with_context(|| format!("writing to ctrl_tcp, {}", self.where_()))?;

        let deadline = tokio::time::Instant::now() + COMMAND_TIMEOUT;
        loop {
            let v = match tokio::time::timeout_at(deadline, self.incoming.recv()).await {
                Err(_) => bail!(
                    "no response to `{command}` in {COMMAND_TIMEOUT:?}, {}",
                    self.where_()
                ),
                Ok(None) => bail!(
                    "ctrl_tcp closed during `{command}` (baresip died?), {}",
                    self.where_()
                ),
                Ok(Some(v)) => v,
            };
            if v.get("response").is_some() {
                if v.get("token").and_then(Value::as_str) != Some(token.as_str()) {
                    continue; // a stale response to an earlier, timed-out command
                }
                let data = v
                    .get("data")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                if v.get("ok").and_then(Value::as_bool) == Some(true) {
                    return Ok(data);
                }
                bail!(
                    "baresip rejected `{command} {}`: {data}, {}",
                    params.unwrap_or(""),
                    self.where_()
                );
            }
            self.push_event(v);
        }
    }

    /// Places a call, e.g. `dial("sip:112@127.0.0.1:5060")`. Returns once the
    /// INVITE is sent; use [`Self::wait_established`] / [`Self::wait_event`].
    pub async fn dial(&mut self, uri: &str) -> anyhow::Result<()> {
        self.command("dial", Some(uri)).await.map(drop)
    }

    /// Answers the ringing incoming call (answer mode `Manual`).
    pub async fn accept(&mut self) -> anyhow::Result<()> {
        self.command("accept", None).await.map(drop)
    }

    /// Registration state from the `reginfo` command. (The first REGISTER goes
    /// out at startup, before the control connection exists, so its
    /// `REGISTER_OK`/`REGISTER_FAIL` event is lost; poll this instead.)
    pub async fn registration_state(&mut self) -> anyhow::Result<RegState> {
        let info = self.command("reginfo", None).await?;
        // e.g. "> sip:u@127.0.0.1:5060   \x1b[32mOK \x1b[;m  Expires 120s"
        Ok(if info.contains("OK ") {
            RegState::Registered
        } else if info.contains("ERR") {
            RegState::Failed
        } else {
            RegState::Pending
        })
    }

    /// Waits until the account is registered; errors (with the log tail) if
    /// the registration failed or is still pending after `timeout`.
    pub async fn wait_registered(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let state = self.wait_registration_done(timeout).await?;
        if state != RegState::Registered {
            bail!(
                "registration {state:?}, {}\n{}",
                self.where_(),
                tail(&self.log(), 30)
            );
        }
        Ok(())
    }

    /// Polls [`Self::registration_state`] until it is no longer `Pending`
    /// (or `timeout` passes) and returns it.
    pub async fn wait_registration_done(&mut self, timeout: Duration) -> anyhow::Result<RegState> {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.registration_state().await?;
            if state != RegState::Pending || Instant::now() > deadline {
                return Ok(state);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the first not yet consumed event matching `pred` and consumes
    /// it. Non-matching events stay queued for later waits (and are always
    /// visible in [`Self::history`]).
    pub async fn wait_event(
        &mut self,
        pred: impl Fn(&Event) -> bool,
        timeout: Duration,
    ) -> anyhow::Result<Event> {
        if let Some(i) = self.pending.iter().position(&pred) {
            // position() just returned a valid index.
            return Ok(self.pending.remove(i).expect("index from position()"));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.incoming.recv()).await {
                Err(_) => bail!(
                    "timed out after {timeout:?} waiting for a baresip event; events so far: [{}], {}\n{}",
                    self.history_summary(),
                    self.where_(),
                    tail(&self.log(), 30)
                ),
                Ok(None) => bail!(
                    "ctrl_tcp closed while waiting for an event (baresip died?), {}\n{}",
                    self.where_(),
                    tail(&self.log(), 30)
                ),
                Ok(Some(v)) => {
                    if v.get("event").is_none() {
                        continue; // late response of a timed-out command
                    }
                    let ev = Event::from_json(v);
                    self.history.push(ev.clone());
                    if pred(&ev) {
                        return Ok(ev);
                    }
                    self.pending.push_back(ev);
                }
            }
        }
    }

    /// Waits for `CALL_ESTABLISHED`; fails early (with the SIP status in the
    /// message) if `CALL_CLOSED` comes first.
    pub async fn wait_established(&mut self, timeout: Duration) -> anyhow::Result<Event> {
        let ev = self
            .wait_event(|e| e.is("CALL_ESTABLISHED") || e.is("CALL_CLOSED"), timeout)
            .await?;
        if ev.is("CALL_CLOSED") {
            bail!(
                "call closed before being established: {:?} (status {:?}), {}",
                ev.param,
                ev.sip_status(),
                self.where_()
            );
        }
        Ok(ev)
    }

    /// Waits for `CALL_CLOSED` (its `param` / [`Event::sip_status`] tell why).
    pub async fn wait_closed(&mut self, timeout: Duration) -> anyhow::Result<Event> {
        self.wait_event(|e| e.is("CALL_CLOSED"), timeout).await
    }

    /// Sends RFC 4733 DTMF digits (`0-9*#A-D`), one every [`DTMF_INTERVAL`].
    pub async fn send_dtmf(&mut self, digits: &str) -> anyhow::Result<()> {
        self.send_dtmf_with_interval(digits, DTMF_INTERVAL).await
    }

    /// Like [`Self::send_dtmf`] with a custom start-to-start interval (each
    /// tone is 180 ms + 60 ms end packets; shorter intervals queue the digits
    /// back to back).
    pub async fn send_dtmf_with_interval(
        &mut self,
        digits: &str,
        interval: Duration,
    ) -> anyhow::Result<()> {
        for (i, d) in digits.chars().enumerate() {
            if !matches!(d, '0'..='9' | '*' | '#' | 'A'..='D' | 'a'..='d') {
                bail!("{d:?} is not a DTMF digit");
            }
            if i > 0 {
                tokio::time::sleep(interval).await;
            }
            self.command("sndcode", Some(&d.to_string())).await?;
        }
        // Let the last tone and its end packets go out before returning.
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(())
    }

    /// Hangs up the current call (BYE, CANCEL while ringing out, or 486 for a
    /// ringing incoming call) and waits for its `CALL_CLOSED`.
    pub async fn hangup(&mut self) -> anyhow::Result<Event> {
        self.command("hangup", None).await?;
        self.wait_closed(Duration::from_secs(5)).await
    }

    /// Path of the WAV with what this UA received (decoded) in its most recent
    /// call, once the file is complete (waits up to 3 s for the call teardown
    /// to finalise it). Call after `CALL_CLOSED`.
    pub async fn received_audio(&self) -> anyhow::Result<PathBuf> {
        self.sndfile("dec").await
    }

    /// Same for what this UA sent (after the source, before encoding).
    pub async fn sent_audio(&self) -> anyhow::Result<PathBuf> {
        self.sndfile("enc").await
    }

    async fn sndfile(&self, which: &str) -> anyhow::Result<PathBuf> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let newest = newest_file(&self.dir_path.join("snd"), &format!("-{which}.wav"));
            if let Some(p) = newest.filter(|p| wav_is_complete(p)) {
                return Ok(p);
            }
            if Instant::now() > deadline {
                bail!(
                    "no complete *-{which}.wav in {} (no media received, or the call is still up?), {}",
                    self.dir_path.join("snd").display(),
                    self.where_()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills baresip and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    fn push_event(&mut self, v: Value) {
        if v.get("event").is_some() {
            let ev = Event::from_json(v);
            self.history.push(ev.clone());
            self.pending.push_back(ev);
        }
    }

    fn history_summary(&self) -> String {
        self.history
            .iter()
            .filter(|e| !e.is("CALL_RTCP"))
            .map(|e| match &e.param {
                Some(p) => format!("{}({p})", e.kind),
                None => e.kind.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn where_(&self) -> String {
        format!(
            "baresip {} log: {} (kept if HOTLINE_KEEP_PEER_LOGS=1 or the test panics)",
            self.aor,
            self.log_path.display()
        )
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let keep = std::thread::panicking() || std::env::var_os("HOTLINE_KEEP_PEER_LOGS").is_some();
        if let Some(dir) = self.dir.take().filter(|_| keep) {
            let path = dir.keep();
            eprintln!(
                "baresip {}: log kept at {}",
                self.aor,
                path.join("baresip.log").display()
            );
        }
    }
}

enum SpawnError {
    /// A port was taken between picking and binding: retry with new ports.
    PortBusy(anyhow::Error),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for SpawnError {
    fn from(e: anyhow::Error) -> Self {
        SpawnError::Other(e)
    }
}

/// Writes `config`, `accounts`, `contacts` (and the aufile source WAV) into
/// `dir`; returns the account's AOR.
fn write_config_dir(
    dir: &Path,
    opts: &BaresipOptions,
    ip: IpAddr,
    sip_port: u16,
    ctrl_port: u16,
    codecs: &[Codec],
) -> anyhow::Result<String> {
    let snd_dir = dir.join("snd");
    std::fs::create_dir(&snd_dir).context("creating snd dir")?;
    let (rtp_lo, rtp_hi) = opts.rtp_ports.unwrap_or_else(next_rtp_block);

    // Audio source and the ausrc format it needs.
    let (source, src_rate, src_channels) = match (&opts.tone_hz, &opts.source_wav) {
        (Some(_), Some(_)) => bail!("set either tone_hz or source_wav, not both"),
        (Some(hz), None) => {
            if !(10..=20000).contains(hz) {
                bail!("tone_hz {hz} outside 10..=20000");
            }
            (format!("ausine,{hz}"), 48000, 2)
        }
        (None, wav) => {
            let out = dir.join("source.wav");
            let rate = prepare_source_wav(wav.as_deref(), &out, opts.source_pad)?;
            (format!("aufile,{}", out.display()), rate, 1)
        }
    };

    let mut modules: Vec<&str> = Vec::new();
    for c in codecs {
        if !modules.contains(&c.module) {
            modules.push(c.module);
        }
    }
    let module_lines: String = modules
        .iter()
        .map(|m| format!("module\t\t\t{m}\n"))
        .collect();
    let config = format!(
        "# generated by tests/it/peers/baresip.rs\n\
         poll_method\t\tepoll\n\
         sip_listen\t\t{ip}:{sip_port}\n\
         net_interface\t\t{ip}\n\
         call_local_timeout\t120\n\
         call_max_calls\t\t4\n\
         audio_player\t\taubridge,void{ctrl_port}\n\
         audio_alert\t\taubridge,void{ctrl_port}\n\
         audio_source\t\t{source}\n\
         ausrc_srate\t\t{src_rate}\n\
         ausrc_channels\t\t{src_channels}\n\
         audio_level\t\tno\n\
         ausrc_format\t\ts16\n\
         auplay_format\t\ts16\n\
         auenc_format\t\ts16\n\
         audec_format\t\ts16\n\
         audio_buffer\t\t20-160\n\
         rtp_tos\t\t\t0\n\
         rtp_ports\t\t{rtp_lo}-{rtp_hi}\n\
         rtcp_mux\t\tno\n\
         jitter_buffer_delay\t5-10\n\
         rtp_stats\t\tno\n\
         module_path\t\t/usr/lib/baresip/modules\n\
         {module_lines}\
         module\t\t\tsndfile.so\n\
         module\t\t\taubridge.so\n\
         module\t\t\taufile.so\n\
         module\t\t\tausine.so\n\
         module_tmp\t\taccount.so\n\
         module_app\t\tmenu.so\n\
         module_app\t\tctrl_tcp.so\n\
         ctrl_tcp_listen\t\t127.0.0.1:{ctrl_port}\n\
         snd_path\t\t{snd}\n\
         ringback_disabled\tyes\n\
         menu_bell\t\tno\n\
         statmode_default\toff\n",
        snd = snd_dir.display(),
    );
    std::fs::write(dir.join("config"), config).context("writing config")?;

    let codec_list: Vec<&str> = codecs.iter().map(|c| c.spec).collect();
    let answermode = match opts.answer_mode {
        AnswerMode::Manual => "manual",
        AnswerMode::Auto => "auto",
    };
    let name = opts
        .display_name
        .as_ref()
        .map(|n| format!("\"{}\" ", n.replace('"', "")))
        .unwrap_or_default();
    let (aor, reg) = match &opts.registration {
        None => (
            format!("sip:{}@{ip}:{sip_port}", opts.from_user),
            "regint=0".to_owned(),
        ),
        Some(r) => {
            if r.expires == 0 {
                bail!("registration.expires must be > 0");
            }
            let pass = r
                .password
                .as_ref()
                .map(|p| format!(";auth_pass={p}"))
                .unwrap_or_default();
            (
                format!("sip:{}@{}", r.user, r.registrar),
                format!("regint={}{pass}", r.expires),
            )
        }
    };
    let account = format!(
        "{name}<{aor}>;{reg};answermode={answermode};audio_codecs={};audio_source={source}\n",
        codec_list.join(","),
    );
    std::fs::write(dir.join("accounts"), account).context("writing accounts")?;
    std::fs::write(dir.join("contacts"), "").context("writing contacts")?;
    Ok(aor)
}

/// Waits for "baresip is ready." in the log; kills the process on failure.
async fn wait_ready(child: &mut Child, log_path: &Path) -> Result<(), SpawnError> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(log_path).unwrap_or_default();
        let busy = text.contains("Address already in use");
        let failed = busy
            || text.contains("init failed")
            || text.contains("audio codec not found")
            || text.contains("ctrl_tcp: failed to listen");
        let problem = if failed {
            Some("failed to start")
        } else if text.contains("baresip is ready.") {
            return Ok(());
        } else if let Ok(Some(_)) = child.try_wait() {
            Some("exited during startup")
        } else if Instant::now() > deadline {
            Some("not ready in time")
        } else {
            None
        };
        if let Some(what) = problem {
            let _ = child.start_kill();
            let _ = child.wait().await;
            let e = anyhow!(
                "baresip {what}, log {}:\n{}",
                log_path.display(),
                tail(&text, 40)
            );
            return Err(if busy {
                SpawnError::PortBusy(e)
            } else {
                SpawnError::Other(e)
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads netstring-framed JSON messages from ctrl_tcp into a channel; the
/// channel closes when the connection does.
fn spawn_ctrl_reader(mut rd: OwnedReadHalf) -> mpsc::UnboundedReceiver<Value> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            while let Some((msg, used)) = parse_netstring(&buf) {
                let value = msg.and_then(|m| serde_json::from_slice::<Value>(m).ok());
                buf.drain(..used);
                // Broken framing or a dropped receiver: stop (reads as "closed").
                let Some(v) = value else { return };
                if tx.send(v).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

struct Codec {
    /// As written in `audio_codecs=`.
    spec: &'static str,
    module: &'static str,
}

fn resolve_codecs(names: &[String]) -> anyhow::Result<Vec<Codec>> {
    let names: Vec<&str> = if names.is_empty() {
        vec!["PCMU", "PCMA"]
    } else {
        names.iter().map(String::as_str).collect()
    };
    names
        .iter()
        .map(|n| {
            let (spec, module) = match n.to_ascii_uppercase().as_str() {
                "PCMU" => ("PCMU/8000/1", "g711.so"),
                "PCMA" => ("PCMA/8000/1", "g711.so"),
                "G722" => ("G722/16000/1", "g722.so"),
                "OPUS" => ("opus/48000/2", "opus.so"),
                "GSM" => ("GSM/8000/1", "gsm.so"),
                _ => {
                    bail!("codec {n:?} not supported by this helper (PCMU, PCMA, G722, opus, GSM)")
                }
            };
            Ok(Codec { spec, module })
        })
        .collect()
}

/// Writes the aufile source: `input` (or nothing = silence) as 16-bit mono,
/// at 8000/16000/48000 Hz (other rates are linearly resampled to 48000),
/// padded with silence to at least `pad`. Returns the sample rate.
fn prepare_source_wav(input: Option<&Path>, out: &Path, pad: Duration) -> anyhow::Result<u32> {
    let (mut samples, rate) = match input {
        None => (Vec::new(), 8000),
        Some(p) => {
            let (mono, rate) =
                read_wav_mono(p).with_context(|| format!("reading source WAV {}", p.display()))?;
            if matches!(rate, 8000 | 16000 | 48000) {
                (mono, rate)
            } else {
                (resample_linear(&mono, rate, 48000), 48000)
            }
        }
    };
    let min_len = (pad.as_secs_f64() * f64::from(rate)) as usize;
    if samples.len() < min_len {
        samples.resize(min_len, 0.0);
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(out, spec)?;
    for s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)?;
    }
    w.finalize()?;
    Ok(rate)
}

/// Reads any hound-supported WAV as mono f32 samples in [-1, 1].
pub fn read_wav_mono(path: &Path) -> anyhow::Result<(Vec<f32>, u32)> {
    let mut r = hound::WavReader::open(path)?;
    let spec = r.spec();
    let ch = usize::from(spec.channels.max(1));
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = (1i64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.map(|v| v as f32 / scale))
                .collect::<Result<_, _>>()?
        }
    };
    let mono = interleaved
        .chunks(ch)
        .map(|f| f.iter().sum::<f32>() / ch as f32)
        .collect();
    Ok((mono, spec.sample_rate))
}

fn resample_linear(x: &[f32], from: u32, to: u32) -> Vec<f32> {
    if x.is_empty() {
        return Vec::new();
    }
    let n = (x.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let step = f64::from(from) / f64::from(to);
    (0..n)
        .map(|i| {
            let pos = i as f64 * step;
            let j = pos as usize;
            let frac = (pos - j as f64) as f32;
            let a = x[j.min(x.len() - 1)];
            let b = x[(j + 1).min(x.len() - 1)];
            a + (b - a) * frac
        })
        .collect()
}

/// Writes a 16-bit mono WAV with a sine tone (amplitude 0.5) — handy as a
/// `source_wav` with a known, finite tone followed by the automatic silence.
pub fn write_tone_wav(
    path: &Path,
    hz: f32,
    duration: Duration,
    sample_rate: u32,
) -> anyhow::Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    let n = (duration.as_secs_f64() * f64::from(sample_rate)) as usize;
    for i in 0..n {
        let t = i as f32 / sample_rate as f32;
        w.write_sample((0.5 * (2.0 * std::f32::consts::PI * hz * t).sin() * 32767.0) as i16)?;
    }
    w.finalize()?;
    Ok(())
}

/// Audio facts of a WAV, for assertions on [`Baresip::received_audio`].
#[derive(Debug, Clone)]
pub struct WavStats {
    pub sample_rate: u32,
    pub duration: Duration,
    /// RMS of the whole file (full scale = 1.0).
    pub rms: f32,
}

pub fn wav_stats(path: &Path) -> anyhow::Result<WavStats> {
    let (x, rate) = read_wav_mono(path)?;
    let rms = if x.is_empty() {
        0.0
    } else {
        (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32).sqrt()
    };
    Ok(WavStats {
        sample_rate: rate,
        duration: Duration::from_secs_f64(x.len() as f64 / f64::from(rate)),
        rms,
    })
}

/// Share (0..=1) of the signal power that lies at `hz` (Goertzel over 20 ms
/// blocks, summed), skipping the first `skip` of the file. A clean PCMU/PCMA
/// tone gives > 0.9, speech or another tone < 0.1, silence 0.
pub fn tone_ratio(path: &Path, hz: f32, skip: Duration) -> anyhow::Result<f32> {
    let (x, rate) = read_wav_mono(path)?;
    let start = ((skip.as_secs_f64() * f64::from(rate)) as usize).min(x.len());
    let block = (rate / 50) as usize; // 20 ms
    let w = 2.0 * std::f32::consts::PI * hz / rate as f32;
    let coeff = 2.0 * w.cos();
    let (mut tone, mut total) = (0.0f64, 0.0f64);
    for b in x[start..].chunks_exact(block) {
        let (mut s1, mut s2) = (0.0f32, 0.0f32);
        for &v in b {
            let s0 = v + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        // |X(k)|^2 of a sine of amplitude A over N samples is (A*N/2)^2, and
        // its energy sum is A^2*N/2, so normalise by N/2.
        tone += f64::from(power) / (block as f64 / 2.0);
        total += b.iter().map(|v| f64::from(v * v)).sum::<f64>();
    }
    Ok(if total > 0.0 {
        (tone / total).min(1.0) as f32
    } else {
        0.0
    })
}

/// One netstring at the start of `buf`: `Some((Some(payload), consumed))`,
/// `Some((None, _))` if the framing is broken, `None` if incomplete.
fn parse_netstring(buf: &[u8]) -> Option<(Option<&[u8]>, usize)> {
    let colon = buf.iter().position(|&b| b == b':')?;
    let len: usize = match std::str::from_utf8(&buf[..colon])
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(l) => l,
        None => return Some((None, buf.len())),
    };
    let end = colon + 1 + len;
    if buf.len() < end + 1 {
        return None;
    }
    if buf[end] != b',' {
        return Some((None, buf.len()));
    }
    Some((Some(&buf[colon + 1..end]), end + 1))
}

async fn connect_retry(addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// A port P with UDP P, TCP P and TCP P+1 (baresip's TLS listener) free.
fn free_sip_port(ip: IpAddr) -> anyhow::Result<u16> {
    for _ in 0..100 {
        let udp = std::net::UdpSocket::bind((ip, 0)).context("binding a UDP probe socket")?;
        let port = udp.local_addr()?.port();
        if port == u16::MAX {
            continue;
        }
        let tcp_ok = std::net::TcpListener::bind((ip, port)).is_ok()
            && std::net::TcpListener::bind((ip, port + 1)).is_ok();
        if tcp_ok {
            return Ok(port);
        }
    }
    bail!("no free SIP port on {ip}")
}

fn free_tcp_port(ip: IpAddr) -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind((ip, 0)).context("binding a TCP probe socket")?;
    Ok(l.local_addr()?.port())
}

/// Per-instance RTP range: blocks of 100 ports in 40000-49999, rotated per
/// process and per instance (baresip retries randomly inside its range).
fn next_rtp_block() -> (u16, u16) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) + std::process::id();
    let lo = 40000 + (n % 100) * 100;
    // lo <= 49900, so both fit in u16.
    (lo as u16, (lo + 99) as u16)
}

fn newest_file(dir: &Path, suffix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .map(|(_, p)| p)
}

/// libsndfile writes the final data length into the header only at sf_close:
/// complete = the header's data length accounts for the whole file.
fn wav_is_complete(path: &Path) -> bool {
    let Ok(r) = hound::WavReader::open(path) else {
        return false;
    };
    let spec = r.spec();
    let data_bytes = u64::from(r.len()) * u64::from(spec.bits_per_sample / 8);
    let file_len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    data_bytes > 0 && data_bytes <= file_len && file_len - data_bytes <= 512
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
