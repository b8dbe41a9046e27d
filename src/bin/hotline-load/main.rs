//! `hotline-load`: places calls against a running hotline over loopback
//! and measures it.
//!
//! - `run`: N calls at a given rate, each with RTP both ways (G.711 µ-law,
//!   20 ms), keys pressed to walk the menu into a queue, held for a while,
//!   hung up. Reports calls attempted/answered/failed, set-up time (INVITE
//!   → 200) p50/p99, RTP sent/received/lost in each direction (the
//!   server's side from its `/metrics`), the deviation of the server's RTP
//!   inter-arrival times from 20 ms (kernel timestamps), digits the server
//!   recognised, and the server's CPU time and resident memory from
//!   `/proc`. Prints a summary and writes JSON.
//! - `verify-recordings`: every WAV written since a moment is a valid
//!   stereo 8 kHz file of about the expected length.
//! - `udp-baseline`: the kernel's own loopback UDP packet rate between two
//!   threads pinned to two cores, the ceiling any RTP server meets here.
//!
//! Bounded in count and time, and only ever aimed at loopback.

mod city;
mod media;
mod procstat;
mod sip;
mod stats;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde::Serialize;

use media::{Outgoing, Senders};
use sip::{Call, Outcome, Phase};
use stats::{Histogram, Summary};

/// The most calls one run may place.
const MAX_CALLS: usize = 20_000;

#[derive(Parser)]
#[command(
    name = "hotline-load",
    about = "Load generator for hotline (loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Run(RunArgs),
    /// Writes a year of a large city's cards and calls into a new
    /// database, for the reports' benchmark.
    City(city::CityArgs),
    /// Checks the recordings written since `--since`.
    VerifyRecordings {
        #[arg(long)]
        dir: PathBuf,
        /// Only files modified after this (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        expect: Option<usize>,
        /// Each recording's length must lie within these, in seconds.
        #[arg(long, default_value_t = 0.0)]
        min_secs: f64,
        #[arg(long, default_value_t = f64::INFINITY, hide_default_value = true)]
        max_secs: f64,
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// The loopback UDP packet rate between two pinned threads.
    UdpBaseline {
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Cores for the receiver and the sender.
        #[arg(long, default_value_t = 0)]
        receiver_core: usize,
        #[arg(long, default_value_t = 1)]
        sender_core: usize,
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// The server's SIP address (loopback).
    #[arg(long, default_value = "127.0.0.1:5060")]
    target: SocketAddr,
    /// Its HTTP address, for `/metrics`.
    #[arg(long)]
    http: Option<SocketAddr>,
    /// Calls to place in all.
    #[arg(long, default_value_t = 20)]
    calls: usize,
    /// New calls per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// How long each answered call is held, seconds.
    #[arg(long, default_value_t = 5.0)]
    hold: f64,
    /// Keys to press once answered (e.g. "0": to the operators' queue).
    #[arg(long, default_value = "0")]
    keys: String,
    #[arg(long, default_value_t = 1500)]
    keys_after_ms: u64,
    #[arg(long, default_value = "127.0.0.1")]
    local_ip: IpAddr,
    /// The server's process, for CPU time and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long)]
    json: Option<PathBuf>,
    /// Give up after this many seconds whatever is left.
    #[arg(long)]
    max_seconds: Option<u64>,
}

#[derive(Debug, Serialize, Default)]
struct Report {
    calls: usize,
    rate: f64,
    hold_s: f64,
    attempted: usize,
    answered: usize,
    failed: usize,
    ended_by_server: usize,
    refused: HashMap<u16, usize>,
    timed_out: usize,
    setup: Summary,
    rtp_sent: u64,
    rtp_received: u64,
    /// Server → us, by sequence gaps.
    rtp_lost_inbound: u64,
    /// Us → server: sent minus what the server counted in (when known).
    rtp_lost_outbound: Option<i64>,
    /// Frames the server's jitter buffers had nothing for.
    server_frames_missing: Option<u64>,
    server_packets_in: Option<u64>,
    server_packets_out: Option<u64>,
    unknown_packets: u64,
    interarrival_deviation: Summary,
    keys_sent: u64,
    dtmf_recognised: Option<u64>,
    server: Option<ServerUse>,
    wall_s: f64,
}

#[derive(Debug, Serialize, Default)]
struct ServerUse {
    idle_rss_kib: u64,
    peak_rss_kib: u64,
    /// (peak − idle) / answered calls.
    rss_per_call_kib: f64,
    /// CPU while every call was up, % of one core.
    steady_cpu_pct: f64,
    cpu_s: f64,
    samples: Vec<procstat::Sample>,
}

fn metrics(http: SocketAddr) -> Option<String> {
    let mut s = std::net::TcpStream::connect_timeout(&http, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text.split_once("\r\n\r\n")?.1.to_owned())
}

fn metric(text: &Option<String>, name: &str) -> Option<u64> {
    hotline::metrics::read(text.as_deref()?, name)
}

fn run(args: RunArgs) -> anyhow::Result<Report> {
    if !args.target.ip().is_loopback() || !args.local_ip.is_loopback() {
        bail!("hotline-load targets loopback only");
    }
    if args.calls == 0 || args.calls > MAX_CALLS {
        bail!("--calls must be 1 to {MAX_CALLS}");
    }
    let rate_ok = args.rate > 0.0 && args.rate <= 5000.0;
    if !(rate_ok && (0.0..=3600.0).contains(&args.hold)) {
        bail!("--rate must be in (0, 5000] and --hold in [0, 3600]");
    }
    let span = args.calls as f64 / args.rate + args.hold + 60.0;
    let limit = Duration::from_secs(args.max_seconds.unwrap_or(span as u64).min(7200));

    let sip_socket = UdpSocket::bind((args.local_ip, 0)).context("SIP socket")?;
    sip_socket.set_read_timeout(Some(Duration::from_millis(2)))?;
    let rtp_socket = Arc::new(UdpSocket::bind((args.local_ip, 0)).context("RTP socket")?);
    // Room for bursts: thousands of calls' packets land at once.
    let _ =
        nix::sys::socket::setsockopt(&*rtp_socket, nix::sys::socket::sockopt::RcvBuf, &(32 << 20));
    let _ =
        nix::sys::socket::setsockopt(&*rtp_socket, nix::sys::socket::sockopt::SndBuf, &(8 << 20));
    // recvmmsg's own timeout only counts once a datagram came: the socket's
    // lets the receiver look at its stop flag when the server is quiet.
    rtp_socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    let sip_local = sip_socket.local_addr()?;
    let rtp_port = rtp_socket.local_addr()?.port();

    let before = args.http.and_then(metrics);
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = args
        .server_pid
        .map(|pid| procstat::spawn_sampler(pid, start, Duration::from_millis(500), stop.clone()));
    let senders: Senders = Default::default();
    let ports = media::new_port_map();
    let sender = media::spawn_sender(rtp_socket.clone(), senders.clone(), stop.clone());
    let receiver =
        media::spawn_receiver(rtp_socket.clone(), ports.clone(), args.calls, stop.clone());

    let mut calls: Vec<Call> = (0..args.calls)
        .map(|i| {
            let caller = format!("067{:07}", i % 10_000_000);
            Call::new(i, caller, sip_local, args.target, rtp_port)
        })
        .collect();
    let by_id: HashMap<String, usize> =
        calls.iter().map(|c| (c.call_id.clone(), c.index)).collect();
    let mut hang_up_at: Vec<Option<Instant>> = vec![None; args.calls];
    let mut started = 0usize;
    let mut buf = vec![0u8; 65536];
    let keys: Vec<char> = args
        .keys
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '*' || *c == '#')
        .collect();
    let mut last_timers = Instant::now();
    let mut all_up_at: Option<Instant> = None;
    let mut first_down_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if now - start > limit {
            eprintln!("hotline-load: time limit reached; stopping");
            break;
        }
        // New calls on schedule.
        while started < args.calls
            && now >= start + Duration::from_secs_f64(started as f64 / args.rate)
        {
            let invite = calls[started].start(now);
            let _ = sip_socket.send_to(&invite, args.target);
            started += 1;
        }
        // Everything the server sent.
        loop {
            match sip_socket.recv_from(&mut buf) {
                Ok((n, _)) => {
                    // When it came, for the set-up time.
                    let now = Instant::now();
                    let Ok(message) = hotline::sip::wire::parse(&buf[..n]) else {
                        continue;
                    };
                    let Some(&i) = sip::call_id_of(&message).and_then(|id| by_id.get(&id)) else {
                        continue;
                    };
                    let was = calls[i].phase;
                    for out in calls[i].on_message(now, &message) {
                        let _ = sip_socket.send_to(&out, args.target);
                    }
                    let call = &calls[i];
                    if was == Phase::Inviting && call.phase == Phase::Talking {
                        if let Some(a) = call.answered {
                            ports[usize::from(a.rtp_to.port())]
                                .store(i as u32 + 1, Ordering::Relaxed);
                            senders
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(Outgoing {
                                    index: i,
                                    to: a.rtp_to,
                                    ssrc: rand::random(),
                                    seq: rand::random(),
                                    ts: rand::random(),
                                    keys: keys.clone(),
                                    key_packet: 0,
                                    keys_at: now + Duration::from_millis(args.keys_after_ms),
                                    sent: 0,
                                    keys_sent: 0,
                                });
                            hang_up_at[i] = Some(now + Duration::from_secs_f64(args.hold));
                        }
                    }
                    if was != Phase::Done && calls[i].phase == Phase::Done {
                        stop_sending(&senders, i);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(e) => bail!("SIP socket: {e}"),
            }
        }
        // Hang-ups, retransmissions, time-outs: every 5 ms is plenty.
        if now - last_timers >= Duration::from_millis(5) {
            last_timers = now;
            for (i, call) in calls.iter_mut().enumerate() {
                if let Some(at) = hang_up_at[i].filter(|t| *t <= now) {
                    hang_up_at[i] = None;
                    first_down_at.get_or_insert(at);
                    stop_sending(&senders, i);
                    if let Some(bye) = call.hang_up(now) {
                        let _ = sip_socket.send_to(&bye, args.target);
                    }
                }
                if call.deadline().is_some_and(|d| d <= now) {
                    if let Some(again) = call.on_timer(now) {
                        let _ = sip_socket.send_to(&again, args.target);
                    }
                    if call.phase == Phase::Done {
                        stop_sending(&senders, i);
                    }
                }
            }
            if all_up_at.is_none()
                && started == args.calls
                && calls.iter().all(|c| c.phase != Phase::Inviting)
            {
                all_up_at = Some(now);
            }
        }
        if started == args.calls && calls.iter().all(|c| c.phase == Phase::Done) {
            break;
        }
    }
    let wall = start.elapsed();
    // The server's counters of media are written as calls end: wait for
    // the last (at most 15 s), then a little for packets in flight.
    if let Some(http) = args.http {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let text = metrics(http);
            if metric(&text, "hotline_active_calls") == Some(0) {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let sent: u64 = sender.join().unwrap_or(0);
    let received = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("the receiver thread failed"))?;
    let samples = sampler.map(|s| s.join().unwrap_or_default());
    let after = args.http.and_then(metrics);

    let mut report = Report {
        calls: args.calls,
        rate: args.rate,
        hold_s: args.hold,
        attempted: started,
        wall_s: wall.as_secs_f64(),
        rtp_sent: sent,
        rtp_received: received.packets - received.unknown,
        unknown_packets: received.unknown,
        interarrival_deviation: received.deviation.summary(),
        ..Default::default()
    };
    let mut setup = Histogram::new(60_000_000);
    for call in &calls {
        if let (Some(a), Some(invited)) = (call.answered, call.invited_at) {
            report.answered += 1;
            setup.record((a.at - invited).as_micros() as u64);
        }
        match call.outcome {
            Some(Outcome::EndedByServer) => report.ended_by_server += 1,
            Some(Outcome::Refused(code)) => *report.refused.entry(code).or_default() += 1,
            Some(Outcome::TimedOut) | None => report.timed_out += 1,
            Some(Outcome::Completed) => {}
        }
    }
    report.failed = report.attempted - report.answered + report.ended_by_server;
    report.setup = setup.summary();
    report.rtp_lost_inbound = received.calls.iter().map(|c| c.lost()).sum();
    report.keys_sent = senders_keys(&calls, &keys);
    let delta =
        |name: &str| Some(metric(&after, name)?.saturating_sub(metric(&before, name).unwrap_or(0)));
    report.server_packets_in = delta("hotline_rtp_packets_in_total");
    report.server_packets_out = delta("hotline_rtp_packets_out_total");
    report.server_frames_missing = delta("hotline_rtp_frames_missing_total");
    report.dtmf_recognised = delta("hotline_dtmf_digits_total");
    report.rtp_lost_outbound = report.server_packets_in.map(|n| sent as i64 - n as i64);
    if let Some(samples) = samples {
        report.server = Some(server_use(
            samples,
            start,
            all_up_at,
            first_down_at,
            report.answered,
        ));
    }
    Ok(report)
}

/// Keys sent: every answered call that lived past the keys' time sent them.
fn senders_keys(calls: &[Call], keys: &[char]) -> u64 {
    calls.iter().filter(|c| c.answered.is_some()).count() as u64 * keys.len() as u64
}

fn stop_sending(senders: &Senders, index: usize) {
    senders
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|o| o.index != index);
}

fn server_use(
    samples: Vec<procstat::Sample>,
    start: Instant,
    all_up: Option<Instant>,
    first_down: Option<Instant>,
    answered: usize,
) -> ServerUse {
    let idle = samples.first().map(|s| s.rss_kib).unwrap_or(0);
    let peak = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let from = all_up.map(|t| (t - start).as_secs_f64()).unwrap_or(0.0);
    let to = first_down
        .map(|t| (t - start).as_secs_f64())
        .unwrap_or(f64::MAX);
    let window: Vec<&procstat::Sample> = samples
        .iter()
        .filter(|s| s.t >= from && s.t <= to)
        .collect();
    // While every call was up; for runs that never have them all up at
    // once (short calls at a rate), the whole run.
    let window = if window.len() >= 2 {
        window
    } else {
        samples.iter().collect()
    };
    let steady = match (window.first(), window.last()) {
        (Some(a), Some(b)) if b.t > a.t => (b.cpu_s - a.cpu_s) / (b.t - a.t) * 100.0,
        _ => 0.0,
    };
    ServerUse {
        idle_rss_kib: idle,
        peak_rss_kib: peak,
        rss_per_call_kib: if answered > 0 {
            (peak.saturating_sub(idle)) as f64 / answered as f64
        } else {
            0.0
        },
        steady_cpu_pct: steady,
        cpu_s: samples.last().map(|s| s.cpu_s).unwrap_or(0.0)
            - samples.first().map(|s| s.cpu_s).unwrap_or(0.0),
        samples,
    }
}

fn print_report(r: &Report) {
    println!(
        "calls        {} attempted, {} answered, {} failed ({} ended early by the server, {} timed out, refused {:?})",
        r.attempted, r.answered, r.failed, r.ended_by_server, r.timed_out, r.refused
    );
    println!(
        "set-up       p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        r.setup.p50_ms, r.setup.p99_ms, r.setup.max_ms
    );
    println!(
        "rtp out      {} sent; server counted {:?} in; lost {:?}; server frames missing {:?}",
        r.rtp_sent, r.server_packets_in, r.rtp_lost_outbound, r.server_frames_missing
    );
    println!(
        "rtp in       {} received (server counted {:?} out); lost {}",
        r.rtp_received, r.server_packets_out, r.rtp_lost_inbound
    );
    println!(
        "inter-arrival deviation from 20 ms: p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms",
        r.interarrival_deviation.p50_ms,
        r.interarrival_deviation.p99_ms,
        r.interarrival_deviation.p999_ms,
        r.interarrival_deviation.max_ms
    );
    println!(
        "dtmf         {} sent, {:?} recognised",
        r.keys_sent, r.dtmf_recognised
    );
    if let Some(s) = &r.server {
        println!(
            "server       {:.1} % of a core while all calls were up; RSS idle {} KiB, peak {} KiB, {:.1} KiB per call",
            s.steady_cpu_pct, s.idle_rss_kib, s.peak_rss_kib, s.rss_per_call_kib
        );
    }
    println!("wall         {:.1} s", r.wall_s);
}

#[derive(Serialize)]
struct Verified {
    files: usize,
    valid: usize,
    invalid: Vec<String>,
    out_of_range: Vec<String>,
    min_secs: f64,
    max_secs: f64,
}

fn verify(
    dir: PathBuf,
    since: Option<String>,
    expect: Option<usize>,
    min: f64,
    max: f64,
) -> anyhow::Result<Verified> {
    let since = match since {
        Some(s) => Some(std::time::SystemTime::from(
            chrono::DateTime::parse_from_rfc3339(&s).context("--since: RFC 3339")?,
        )),
        None => None,
    };
    let mut out = Verified {
        files: 0,
        valid: 0,
        invalid: Vec::new(),
        out_of_range: Vec::new(),
        min_secs: f64::MAX,
        max_secs: 0.0,
    };
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "wav") {
                continue;
            }
            let modified = e.metadata().ok().and_then(|m| m.modified().ok());
            if since.is_some_and(|s| modified.is_none_or(|m| m < s)) {
                continue;
            }
            out.files += 1;
            match hound::WavReader::open(&p) {
                Ok(r) => {
                    let spec = r.spec();
                    let secs = f64::from(r.duration()) / f64::from(spec.sample_rate.max(1));
                    let whole =
                        r.len() as usize == r.duration() as usize * usize::from(spec.channels);
                    if spec.channels != 2
                        || spec.sample_rate != 8000
                        || spec.bits_per_sample != 16
                        || !whole
                    {
                        out.invalid.push(format!("{}: {spec:?}", p.display()));
                        continue;
                    }
                    out.valid += 1;
                    out.min_secs = out.min_secs.min(secs);
                    out.max_secs = out.max_secs.max(secs);
                    if !(min..=max).contains(&secs) {
                        out.out_of_range
                            .push(format!("{}: {secs:.2} s", p.display()));
                    }
                }
                Err(e) => out.invalid.push(format!("{}: {e}", p.display())),
            }
        }
    }
    if out.files == 0 {
        out.min_secs = 0.0;
    }
    println!(
        "recordings   {} files, {} valid, {} invalid, {} out of [{min}, {max}] s; lengths {:.2}..{:.2} s",
        out.files,
        out.valid,
        out.invalid.len(),
        out.out_of_range.len(),
        out.min_secs,
        out.max_secs
    );
    for bad in out.invalid.iter().chain(&out.out_of_range).take(10) {
        println!("  {bad}");
    }
    if let Some(n) = expect {
        if out.valid != n {
            println!("  expected {n} valid recordings");
        }
    }
    Ok(out)
}

#[derive(Serialize)]
struct Baseline {
    seconds: f64,
    /// A bare sender on one core, a bare receiver on the other.
    sent_pps: f64,
    received_pps: f64,
    lost: u64,
    /// A bare echo on the receiver's core (each packet received and sent
    /// back with plain recvfrom/sendto, as an RTP server does), fed as fast
    /// as the other core can: packets in (= out) per second.
    echo_pps: f64,
    /// The calls that many packets carry: 50 in and 50 out per second each.
    echo_calls: f64,
}

fn pin(core: usize) {
    let mut set = nix::sched::CpuSet::new();
    if set.set(core).is_ok() {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
    }
}

/// A minimal sender and receiver on two cores, 172-byte datagrams (an RTP
/// packet of G.711) as fast as the kernel takes them; then the same
/// receiver echoing every packet back.
fn udp_baseline(
    seconds: u64,
    receiver_core: usize,
    sender_core: usize,
) -> anyhow::Result<Baseline> {
    let (sent, received) = blast(seconds, receiver_core, sender_core, false)?;
    let (_, echoed) = blast(seconds, receiver_core, sender_core, true)?;
    let s = seconds as f64;
    let b = Baseline {
        seconds: s,
        sent_pps: sent as f64 / s,
        received_pps: received as f64 / s,
        lost: sent.saturating_sub(received),
        echo_pps: echoed as f64 / s,
        echo_calls: echoed as f64 / s / 50.0,
    };
    println!(
        "loopback UDP: sent {:.0} pps, received {:.0} pps ({} lost) over {s} s; \
         a bare echo on one core: {:.0} packets in and out per second = {:.0} calls",
        b.sent_pps, b.received_pps, b.lost, b.echo_pps, b.echo_calls
    );
    Ok(b)
}

/// (packets sent, packets received or echoed) in `seconds`.
fn blast(
    seconds: u64,
    receiver_core: usize,
    sender_core: usize,
    echo: bool,
) -> anyhow::Result<(u64, u64)> {
    let rx = UdpSocket::bind("127.0.0.1:0")?;
    let _ = nix::sys::socket::setsockopt(&rx, nix::sys::socket::sockopt::RcvBuf, &(32 << 20));
    rx.set_read_timeout(Some(Duration::from_millis(200)))?;
    let to = rx.local_addr()?;
    let tx = UdpSocket::bind("127.0.0.1:0")?;
    // The echoes land here; nobody reads them but the kernel keeps them.
    let _ = nix::sys::socket::setsockopt(&tx, nix::sys::socket::sockopt::RcvBuf, &(1 << 20));
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            pin(receiver_core);
            let mut n = 0u64;
            let mut buf = [0u8; 512];
            while !stop.load(Ordering::Relaxed) {
                if let Ok((len, from)) = rx.recv_from(&mut buf) {
                    if !echo || rx.send_to(&buf[..len], from).is_ok() {
                        n += 1;
                    }
                }
            }
            n
        })
    };
    let sender = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            pin(sender_core);
            let packet = [0x80u8; 172];
            let mut n = 0u64;
            let mut sink = [0u8; 512];
            let _ = tx.set_nonblocking(true);
            while !stop.load(Ordering::Relaxed) {
                if tx.send_to(&packet, to).is_ok() {
                    n += 1;
                }
                // Keep the echoes from piling up (and from being dropped
                // on our side only): read what came back.
                while echo && tx.recv_from(&mut sink).is_ok() {}
            }
            n
        })
    };
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let sent = sender.join().unwrap_or(0);
    let received = receiver.join().unwrap_or(0);
    Ok((sent, received))
}

fn write_json(path: &Option<PathBuf>, value: &impl Serialize) -> anyhow::Result<()> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_vec_pretty(value)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run(args) => {
            let json = args.json.clone();
            let report = run(args)?;
            print_report(&report);
            write_json(&json, &report)?;
            if report.answered == 0 {
                std::process::exit(1);
            }
        }
        Command::VerifyRecordings {
            dir,
            since,
            expect,
            min_secs,
            max_secs,
            json,
        } => {
            let v = verify(dir, since, expect, min_secs, max_secs)?;
            write_json(&json, &v)?;
            let short = expect.is_some_and(|n| v.valid != n);
            if !v.invalid.is_empty() || !v.out_of_range.is_empty() || short {
                std::process::exit(1);
            }
        }
        Command::City(args) => tokio::runtime::Runtime::new()?.block_on(city::run(args))?,
        Command::UdpBaseline {
            seconds,
            receiver_core,
            sender_core,
            json,
        } => {
            let b = udp_baseline(seconds.clamp(1, 60), receiver_core, sender_core)?;
            write_json(&json, &b)?;
        }
    }
    Ok(())
}
