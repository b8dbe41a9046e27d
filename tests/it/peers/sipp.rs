//! sipp 3.6.1 (Debian package `sip-tester`) for SIP edge cases that a normal
//! UA cannot produce on demand. Scenarios live in `tests/sipp/*.xml`; each one
//! documents its own parameters in its header comment:
//!
//! | scenario                       | role | parameters (`-s` / `-key name value`)               |
//! |--------------------------------|------|------------------------------------------------------|
//! | `cancel.xml`                   | UAC  | `-s` callee, `from_user`, `-d` ms of ringing before CANCEL |
//! | `invite_488.xml`               | UAC  | `-s`, `from_user`, `pt`, `rtpmap` (e.g. 18, G729/8000) |
//! | `invite_403.xml`               | UAC  | same, expects 403                                    |
//! | `register_trunk_uas.xml`       | UAS  | `user`, `pass`, `realm`, `expires` (digest, no qop)  |
//! | `register_trunk_uas_qop.xml`   | UAS  | same, challenge with `qop="auth"`                    |
//!
//! What was learned about sipp 3.6.1 (verified by experiment):
//! - `-key name value` fills `[name]` in the scenario; a `[name]` with no `-key`
//!   is a load error ("Unsupported keyword", exit 255), so missing parameters
//!   fail loudly. (`-set` fills `[$name]` variables but silently yields "" when
//!   omitted, so the scenarios use `-key`.)
//! - Besides `-p` (SIP), sipp binds the media port `-mp` AND `-mp`+2 (default
//!   6000/6002) and a UDP control socket `-cp` (default 8888, on 0.0.0.0) even
//!   when the scenario uses no media — all three are picked free here so
//!   parallel runs don't collide.
//! - Exit code: 0 all calls succeeded, 1 some call failed (unexpected message,
//!   timeout, `-timeout_error`), 97/99 aborted / no call, 255 fatal (bad
//!   scenario), 254 cannot bind. An unexpected final response is auto-ACKed.
//! - `-trace_err -error_file F` lists the unexpected messages and `<warning>`
//!   actions; `-trace_msg -message_file F` every message sent and received.
//! - `<verifyauth assign_to username password>` checks the digest response of
//!   the received request's `Authorization:` (MD5, with or without qop=auth —
//!   both verified against baresip's libre digest client).
//! - `<recv ... optional="true">` followed by non-optional recvs lets sipp
//!   skip forward; `timeout`+`ontimeout` on a recv jumps instead of failing.
//!
//! Running a UAS (sipp waits for our server): use [`SippProcess::spawn`] with
//! `target: None`, point the server at [`SippProcess::local_addr`], then
//! [`SippProcess::wait`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

const LOCAL_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Result of one sipp run.
#[derive(Debug, Clone)]
pub struct SippOutcome {
    /// Exit code 0 (every call of `-m 1` succeeded).
    pub success: bool,
    pub exit_code: Option<i32>,
    /// Killed by our timeout (sipp's own `-timeout` did not end it).
    pub timed_out: bool,
    /// `-trace_msg` log: every SIP message sent / received.
    pub messages: String,
    /// `-trace_err` log: unexpected messages, timeouts, `<warning>` actions.
    pub errors: String,
    /// sipp's stdout/stderr (statistics screen, load errors).
    pub output: String,
    /// The temp dir the logs were in. Deleted after the run (everything is
    /// in the fields above) unless `HOTLINE_KEEP_PEER_LOGS` is set.
    pub log_dir: PathBuf,
}

impl SippOutcome {
    /// `Ok(())` if sipp succeeded, else an error carrying the logs.
    pub fn ensure_success(&self) -> anyhow::Result<()> {
        if self.success {
            Ok(())
        } else {
            bail!("{}", self.report())
        }
    }

    /// Human readable failure report (exit code, errors, message trace).
    pub fn report(&self) -> String {
        format!(
            "sipp {} (exit code {:?}{}), log dir {} (kept if HOTLINE_KEEP_PEER_LOGS=1)\n--- errors ---\n{}\n--- messages ---\n{}\n--- output (tail) ---\n{}",
            if self.success { "succeeded" } else { "FAILED" },
            self.exit_code,
            if self.timed_out {
                ", killed after timeout"
            } else {
                ""
            },
            self.log_dir.display(),
            self.errors.trim(),
            self.messages.trim(),
            tail(&self.output, 25),
        )
    }

    /// The SIP status codes of all responses in the message trace, in order
    /// (sent and received), e.g. `[180, 200, 487]`.
    pub fn response_codes(&self) -> Vec<u16> {
        self.messages
            .lines()
            .filter_map(|l| l.strip_prefix("SIP/2.0 "))
            .filter_map(|rest| rest.get(..3)?.parse().ok())
            .collect()
    }
}

/// Absolute path of `tests/sipp/<file>`.
pub fn scenario_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(file)
}

/// Runs a UAC scenario once (`-m 1`) against `target` and waits for it.
/// `Ok` whatever sipp's verdict: check [`SippOutcome::success`] or call
/// [`SippOutcome::ensure_success`]. `Err` only if sipp could not be run.
pub async fn run_scenario(
    scenario: &Path,
    target: SocketAddr,
    extra_args: &[&str],
    timeout: Duration,
) -> anyhow::Result<SippOutcome> {
    SippProcess::spawn(scenario, Some(target), extra_args, timeout)
        .await?
        .wait()
        .await
}

/// A running sipp (UAC or UAS).
pub struct SippProcess {
    child: Child,
    dir: tempfile::TempDir,
    local_addr: SocketAddr,
    timeout: Duration,
}

impl SippProcess {
    /// Starts sipp with `-m 1 -i 127.0.0.1`, free `-p`/`-mp`/`-cp` ports, logs in
    /// a temp dir and `-timeout <timeout> -timeout_error`; returns once its SIP
    /// port is bound (so a UAS is ready to receive).
    pub async fn spawn(
        scenario: &Path,
        target: Option<SocketAddr>,
        extra_args: &[&str],
        timeout: Duration,
    ) -> anyhow::Result<SippProcess> {
        if !scenario.is_file() {
            bail!("sipp scenario {} not found", scenario.display());
        }
        let mut last_err = None;
        for _ in 0..3 {
            match Self::try_spawn(scenario, target, extra_args, timeout).await {
                Ok(Some(p)) => return Ok(p),
                Ok(None) => last_err = Some("sipp could not bind its ports (exit 254)"),
                Err(e) => return Err(e),
            }
        }
        bail!("{}", last_err.unwrap_or("sipp did not start"))
    }

    async fn try_spawn(
        scenario: &Path,
        target: Option<SocketAddr>,
        extra_args: &[&str],
        timeout: Duration,
    ) -> anyhow::Result<Option<SippProcess>> {
        let dir = tempfile::Builder::new()
            .prefix("sipp-")
            .tempdir()
            .context("creating sipp temp dir")?;
        let sip_port = free_udp_port()?;
        let media_port = free_media_port()?;
        let control_port = free_udp_port()?;
        let out = std::fs::File::create(dir.path().join("output.log"))?;
        let out2 = out.try_clone()?;

        let mut cmd = Command::new("sipp");
        if let Some(t) = target {
            cmd.arg(t.to_string());
        }
        cmd.arg("-sf")
            .arg(scenario)
            .args(["-m", "1", "-i"])
            .arg(LOCAL_IP.to_string())
            .arg("-p")
            .arg(sip_port.to_string())
            .arg("-mp")
            .arg(media_port.to_string())
            .arg("-cp")
            .arg(control_port.to_string())
            .arg("-nostdin")
            .arg("-trace_err")
            .arg("-error_file")
            .arg(dir.path().join("errors.log"))
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(dir.path().join("messages.log"))
            .arg("-timeout")
            .arg(format!("{}s", timeout.as_secs().max(1)))
            .arg("-timeout_error")
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(out2))
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .context("spawning `sipp` (is the sip-tester package installed?)")?;

        // Ready when its SIP port is taken (we can no longer bind it), on
        // the address it was given with `-i` if not the default.
        let ip = extra_args
            .windows(2)
            .find(|w| w[0] == "-i")
            .and_then(|w| w[1].parse().ok())
            .unwrap_or(LOCAL_IP);
        let local_addr = SocketAddr::new(ip, sip_port);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if UdpSocket::bind(local_addr).is_err() {
                break;
            }
            if let Some(status) = child.try_wait()? {
                if status.code() == Some(254) {
                    return Ok(None);
                }
                let output =
                    std::fs::read_to_string(dir.path().join("output.log")).unwrap_or_default();
                let errors =
                    std::fs::read_to_string(dir.path().join("errors.log")).unwrap_or_default();
                bail!(
                    "sipp exited at startup ({status}), scenario {}:\n{}\n{}",
                    scenario.display(),
                    errors.trim(),
                    tail(&output, 25)
                );
            }
            if Instant::now() > deadline {
                bail!("sipp did not bind {local_addr} within 5 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Some(SippProcess {
            child,
            dir,
            local_addr,
            timeout,
        }))
    }

    /// sipp's SIP address (for a UAS: where our server must send to).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits for sipp to finish (killing it 5 s after its own `-timeout`).
    pub async fn wait(mut self) -> anyhow::Result<SippOutcome> {
        let limit = self.timeout + Duration::from_secs(5);
        let (exit_code, timed_out) = match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => (status.context("waiting for sipp")?.code(), false),
            Err(_) => {
                let _ = self.child.start_kill();
                let _ = self.child.wait().await;
                (None, true)
            }
        };
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        let success = exit_code == Some(0) && !timed_out;
        let mut outcome = SippOutcome {
            success,
            exit_code,
            timed_out,
            messages: read("messages.log"),
            errors: read("errors.log"),
            output: read("output.log"),
            log_dir: self.dir.path().to_path_buf(),
        };
        if std::env::var_os("HOTLINE_KEEP_PEER_LOGS").is_some() {
            outcome.log_dir = self.dir.keep();
        }
        Ok(outcome)
    }
}

fn free_udp_port() -> anyhow::Result<u16> {
    let s = UdpSocket::bind((LOCAL_IP, 0)).context("binding a UDP probe socket")?;
    Ok(s.local_addr()?.port())
}

/// An even port P with UDP P and P+2 free (sipp binds both for RTP echo).
fn free_media_port() -> anyhow::Result<u16> {
    for _ in 0..100 {
        let p = free_udp_port()? & !1;
        if p > 1024 && p < u16::MAX - 3 {
            let ok = UdpSocket::bind((LOCAL_IP, p)).is_ok()
                && UdpSocket::bind((LOCAL_IP, p + 2)).is_ok();
            if ok {
                return Ok(p);
            }
        }
    }
    bail!("no free media port pair")
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
