//! The load generator's RTP: one socket for every call (the server sends
//! each call's RTP back to where it comes from), a sender thread that sends
//! one 20 ms G.711 frame per answered call per tick (RFC 4733 events when a
//! key is due), and a receiver thread that takes packets in batches
//! (`recvmmsg`) with the kernel's arrival time (`SO_TIMESTAMPNS`), so the
//! inter-arrival figures are the network's, not this program's scheduling.

use std::io::IoSliceMut;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrIn, recvmmsg, setsockopt, sockopt,
};
use nix::sys::time::TimeSpec;

use crate::stats::Histogram;

/// Samples per 20 ms frame at 8 kHz.
const FRAME: usize = 160;
const PT_PCMU: u8 = 0;
const PT_EVENT: u8 = 101;
/// An RFC 4733 event: this many packets, 20 ms apart, then three ends.
const EVENT_PACKETS: u32 = 5;

/// What the sender needs of an answered call.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub index: usize,
    pub to: SocketAddr,
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
    /// Digits still to send, and the packet of the current one.
    pub keys: Vec<char>,
    pub key_packet: u32,
    /// Not before this (keys are sent once the menu listens).
    pub keys_at: Instant,
    pub sent: u64,
    pub keys_sent: u64,
}

/// The calls being sent to, shared with the SIP side.
pub type Senders = Arc<Mutex<Vec<Outgoing>>>;

/// A 440 Hz tone in G.711 µ-law, one second, looped.
fn tone() -> Vec<u8> {
    (0..8000)
        .map(|i| {
            let s = (f64::from(i) * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin() * 8000.0;
            hotline::media::g711::linear_to_ulaw(s as i16)
        })
        .collect()
}

fn event_code(key: char) -> u8 {
    match key {
        '0'..='9' => key as u8 - b'0',
        '*' => 10,
        '#' => 11,
        _ => 0,
    }
}

fn header(buf: &mut Vec<u8>, marker: bool, pt: u8, seq: u16, ts: u32, ssrc: u32) {
    buf.clear();
    buf.push(0x80);
    buf.push(if marker { 0x80 | pt } else { pt });
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&ts.to_be_bytes());
    buf.extend_from_slice(&ssrc.to_be_bytes());
}

/// The next packet of a call: audio, or the next piece of a key.
fn next_packet(o: &mut Outgoing, now: Instant, audio: &[u8], buf: &mut Vec<u8>) {
    let sending_key = !o.keys.is_empty() && now >= o.keys_at;
    if sending_key {
        let key = o.keys[0];
        let n = o.key_packet;
        let end = n >= EVENT_PACKETS;
        // The event keeps its start timestamp; its duration grows.
        header(buf, n == 0, PT_EVENT, o.seq, o.ts, o.ssrc);
        let duration = ((n.min(EVENT_PACKETS - 1) + 1) * FRAME as u32) as u16;
        buf.push(event_code(key));
        buf.push(if end { 0x80 | 10 } else { 10 });
        buf.extend_from_slice(&duration.to_be_bytes());
        o.key_packet += 1;
        o.seq = o.seq.wrapping_add(1);
        if o.key_packet == EVENT_PACKETS + 3 {
            o.keys.remove(0);
            o.key_packet = 0;
            o.keys_sent += 1;
            o.ts = o.ts.wrapping_add(FRAME as u32 * (EVENT_PACKETS + 3));
            // A pause between keys.
            o.keys_at = now + Duration::from_millis(200);
        }
        return;
    }
    header(buf, o.sent == 0, PT_PCMU, o.seq, o.ts, o.ssrc);
    let at = (o.ts as usize) % audio.len();
    let end = (at + FRAME).min(audio.len());
    buf.extend_from_slice(&audio[at..end]);
    buf.extend_from_slice(&audio[..FRAME - (end - at)]);
    o.seq = o.seq.wrapping_add(1);
    o.ts = o.ts.wrapping_add(FRAME as u32);
}

/// Sends a frame per call every 20 ms until `stop`; returns packets sent.
pub fn spawn_sender(
    socket: Arc<UdpSocket>,
    senders: Senders,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let audio = tone();
        let mut buf = Vec::with_capacity(200);
        let mut batch: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
        let mut total = 0u64;
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now < next {
                std::thread::sleep(next - now);
                continue;
            }
            next += Duration::from_millis(20);
            // Far behind (the machine stalled): start afresh, do not burst.
            if Instant::now() > next + Duration::from_millis(200) {
                next = Instant::now() + Duration::from_millis(20);
            }
            batch.clear();
            {
                let mut calls = senders.lock().unwrap_or_else(|e| e.into_inner());
                for o in calls.iter_mut() {
                    next_packet(o, now, &audio, &mut buf);
                    o.sent += 1;
                    batch.push((o.to, buf.clone()));
                }
            }
            for (to, packet) in &batch {
                if socket.send_to(packet, to).is_ok() {
                    total += 1;
                }
            }
        }
        total
    })
}

/// What the receiver measured per call.
#[derive(Debug, Clone, Default)]
pub struct Incoming {
    pub received: u64,
    pub first_seq: Option<u16>,
    /// Extended highest sequence number.
    pub highest: u64,
    cycles: u64,
    last_seq: u16,
    last_arrival_ns: Option<i128>,
}

impl Incoming {
    /// Packets lost (RFC 3550 A.3): expected minus received.
    pub fn lost(&self) -> u64 {
        match self.first_seq {
            Some(first) => {
                let expected = self.highest - u64::from(first) + 1;
                expected.saturating_sub(self.received)
            }
            None => 0,
        }
    }

    fn on_seq(&mut self, seq: u16) {
        match self.first_seq {
            None => {
                self.first_seq = Some(seq);
                self.highest = u64::from(seq);
                self.last_seq = seq;
            }
            Some(_) => {
                if seq < self.last_seq && self.last_seq.wrapping_sub(seq) > 0x8000 {
                    self.cycles += 1 << 16;
                }
                let ext = self.cycles + u64::from(seq);
                if ext > self.highest {
                    self.highest = ext;
                }
                if ext >= self.highest {
                    self.last_seq = seq;
                }
            }
        }
    }
}

/// The receiver's results.
pub struct Received {
    pub calls: Vec<Incoming>,
    /// |inter-arrival − 20 ms| of the server's packets, µs.
    pub deviation: Histogram,
    pub packets: u64,
    pub unknown: u64,
}

/// Which call a server port belongs to (index + 1; 0 = none).
pub type PortMap = Arc<Vec<AtomicU32>>;

pub fn new_port_map() -> PortMap {
    Arc::new((0..65536).map(|_| AtomicU32::new(0)).collect())
}

const BATCH: usize = 64;

/// Receives until `stop`, timing each packet by the kernel's clock.
pub fn spawn_receiver(
    socket: Arc<UdpSocket>,
    ports: PortMap,
    max_calls: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Received> {
    std::thread::spawn(move || {
        let mut out = Received {
            calls: vec![Incoming::default(); max_calls],
            deviation: Histogram::new(200_000),
            packets: 0,
            unknown: 0,
        };
        if let Err(e) = setsockopt(&*socket, sockopt::ReceiveTimestampns, &true) {
            eprintln!("hotline-load: no kernel timestamps ({e}); timing in user space");
        }
        let fd = socket.as_raw_fd();
        let mut buffers = vec![[0u8; 512]; BATCH];
        let cmsg = nix::cmsg_space!(TimeSpec);
        let mut headers = MultiHeaders::<SockaddrIn>::preallocate(BATCH, Some(cmsg));
        while !stop.load(Ordering::Relaxed) {
            let received = {
                let mut slices: Vec<[IoSliceMut<'_>; 1]> = buffers
                    .iter_mut()
                    .map(|b| [IoSliceMut::new(&mut b[..])])
                    .collect();
                // Polled, not waited on: a sleeping receiver makes every
                // packet the server sends also wake this thread, and on
                // loopback that wake-up is paid on the server's core. The
                // kernel stamps each packet as it arrives, so reading them
                // a millisecond later changes no figure.
                match recvmmsg(
                    fd,
                    &mut headers,
                    slices.iter_mut(),
                    MsgFlags::MSG_DONTWAIT,
                    None,
                ) {
                    Ok(results) => {
                        let user_now = now_ns();
                        let mut got = Vec::with_capacity(BATCH);
                        for r in results {
                            let mut at = None;
                            if let Ok(cmsgs) = r.cmsgs() {
                                for c in cmsgs {
                                    if let ControlMessageOwned::ScmTimestampns(ts) = c {
                                        at = Some(
                                            i128::from(ts.tv_sec()) * 1_000_000_000
                                                + i128::from(ts.tv_nsec()),
                                        );
                                    }
                                }
                            }
                            let port = r.address.map(|a| a.port()).unwrap_or(0);
                            got.push((port, r.bytes, at.unwrap_or(user_now)));
                        }
                        Ok(got)
                    }
                    Err(e) => Err(e),
                }
            };
            let got = match received {
                Ok(got) => got,
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                Err(e) => {
                    eprintln!("hotline-load: recvmmsg: {e}");
                    break;
                }
            };
            let drained = got.len() < BATCH;
            for (i, (port, len, at)) in got.into_iter().enumerate() {
                out.packets += 1;
                let idx = ports[usize::from(port)].load(Ordering::Relaxed) as usize;
                if idx == 0 || idx > max_calls || len < 12 {
                    out.unknown += 1;
                    continue;
                }
                let packet = &buffers[i][..len];
                let seq = u16::from_be_bytes([packet[2], packet[3]]);
                let call = &mut out.calls[idx - 1];
                call.received += 1;
                call.on_seq(seq);
                if let Some(last) = call.last_arrival_ns {
                    let delta = (at - last).max(0) as u64 / 1000;
                    out.deviation.record(delta.abs_diff(20_000));
                }
                call.last_arrival_ns = Some(at);
            }
            if drained {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        out
    })
}

/// The realtime clock in ns (the clock SO_TIMESTAMPNS uses).
fn now_ns() -> i128 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.as_nanos() as i128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_are_counted_across_a_wrap() {
        let mut i = Incoming::default();
        for seq in [65533u16, 65534, 65535, 1, 2, 4] {
            i.received += 1;
            i.on_seq(seq);
        }
        // 0 and 3 are missing.
        assert_eq!(i.lost(), 2);
    }

    #[test]
    fn keys_are_rfc4733_events_then_audio() {
        let t0 = Instant::now();
        let mut o = Outgoing {
            index: 0,
            to: "127.0.0.1:1".parse().unwrap(),
            ssrc: 7,
            seq: 1,
            ts: 0,
            keys: vec!['0'],
            key_packet: 0,
            keys_at: t0,
            sent: 0,
            keys_sent: 0,
        };
        let audio = tone();
        let mut buf = Vec::new();
        let mut packets = Vec::new();
        for _ in 0..EVENT_PACKETS + 4 {
            next_packet(&mut o, t0, &audio, &mut buf);
            packets.push(buf.clone());
        }
        assert_eq!(packets[0][1], 0x80 | PT_EVENT, "marker on the first");
        assert_eq!(packets[0].len(), 16);
        assert_eq!(packets[EVENT_PACKETS as usize][13] & 0x80, 0x80, "end bit");
        // After the key: audio (the next key would wait 200 ms).
        assert_eq!(packets.last().unwrap()[1] & 0x7f, PT_PCMU);
        assert_eq!(o.keys_sent, 1);
    }
}
