//! One call's RTP stream, sans-IO: packets in with the time and source
//! address, one 20 ms frame out per tick.
//!
//! It latches to where the peer's packets really come from (symmetric RTP,
//! for callers behind NAT), decodes the caller's audio through the jitter
//! buffer, encodes what the caller hears into correctly numbered and
//! timestamped packets, picks out RFC 4733 digits, and tells when media has
//! stopped for longer than allowed.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};

use super::dtmf::{DtmfEvent, DtmfReceiver};
use super::jitter::{JitterBuffer, JitterStats, Slot};
use super::pacer::Pacer;
use super::{FRAME, FRAME_SAMPLES};
use crate::media::Codec;
use crate::sdp::Direction;

#[derive(Debug, Clone)]
pub struct MediaParams {
    pub codec: Codec,
    pub dtmf_payload_type: Option<u8>,
    /// Where the SDP says to send; `None` while on old-style hold.
    pub remote: Option<SocketAddr>,
    /// Our direction, as in our SDP.
    pub direction: Direction,
}

impl From<&crate::sdp::Negotiated> for MediaParams {
    fn from(n: &crate::sdp::Negotiated) -> Self {
        Self {
            codec: n.codec,
            dtmf_payload_type: n.dtmf_payload_type,
            remote: n.remote,
            direction: n.direction,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    pub packets_in: u64,
    pub packets_out: u64,
    /// Packets that were not RTP, or not of a negotiated payload type, or
    /// from an address we are not latched to.
    pub ignored: u64,
    pub dtmf: u64,
    pub jitter: JitterStats,
}

/// Where a session takes the peer's packets from and sends its own
/// (`docs/sip.md`, "Media address"). RTCP is neither read nor sent, so it
/// has no address to take over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latch {
    /// Only the SDP's address, both ways: packets from anywhere else are
    /// ignored. For peers that send from the address they signal (an
    /// Asterisk box, a trunk).
    Strict,
    /// Symmetric RTP, for callers behind NAT: the first packets from the
    /// SDP's IP or the signalling's IP (any IP when the signalling's is not
    /// known) set the address; a new source of those IPs takes over only
    /// after the latched one has been silent [`MOVE_AFTER_SILENCE`] and the
    /// new one has sent [`MOVE_AFTER_PACKETS`] packets without a gap, and
    /// never while the latched source still sends.
    Symmetric { signalling: Option<IpAddr> },
}

/// How long the latched source must be silent before another may take over.
pub const MOVE_AFTER_SILENCE: Duration = Duration::from_secs(2);
/// Packets a new source sends, each within [`CANDIDATE_GAP`] of the last,
/// before it takes over (half a second of speech).
pub const MOVE_AFTER_PACKETS: u32 = 25;
const CANDIDATE_GAP: Duration = Duration::from_millis(200);

/// A source that would take over the stream, and how steadily it sends.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    from: SocketAddr,
    last: Instant,
    packets: u32,
}

pub struct MediaSession {
    params: MediaParams,
    latch: Latch,
    latched: Option<SocketAddr>,
    last_from_latched: Option<Instant>,
    candidate: Option<Candidate>,
    /// The peer's audio SSRC; a new one is a new stream.
    remote_ssrc: Option<u32>,
    last_rx: Instant,
    media_timeout: Duration,
    jitter: JitterBuffer,
    dtmf: DtmfReceiver,
    pacer: Pacer,
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    /// Set after a pause in sending, so the next packet carries the marker.
    marker: bool,
    encoded: Vec<u8>,
    decoded: Vec<i16>,
    stats: MediaStats,
    /// Digits to send as RFC 4733 events, and the one being sent.
    digits_out: std::collections::VecDeque<u8>,
    sending: Option<OutgoingDigit>,
}

/// A digit going out as telephone-events: one timestamp for the whole
/// event, the duration growing by a frame per packet, then the end packet
/// three times (RFC 4733 §2.5.1.4).
#[derive(Debug, Clone, Copy)]
struct OutgoingDigit {
    event: u8,
    timestamp: u32,
    packets: u32,
}

/// Frames a digit we send lasts (160 ms), and how often its end is sent.
const DIGIT_FRAMES: u32 = 8;
const DIGIT_END_REPEATS: u32 = 3;

impl MediaSession {
    pub fn new(
        now: Instant,
        params: MediaParams,
        latch: Latch,
        jitter_depth: usize,
        media_timeout: Duration,
    ) -> Self {
        Self {
            params,
            latch,
            latched: None,
            last_from_latched: None,
            candidate: None,
            remote_ssrc: None,
            last_rx: now,
            media_timeout,
            jitter: JitterBuffer::new(jitter_depth),
            dtmf: DtmfReceiver::default(),
            pacer: Pacer::new(now, FRAME),
            // Random SSRC, sequence and timestamp origins (RFC 3550 §5.1).
            ssrc: rand::random(),
            seq: rand::random(),
            timestamp: rand::random(),
            marker: true,
            encoded: Vec::with_capacity(FRAME_SAMPLES),
            decoded: Vec::with_capacity(FRAME_SAMPLES),
            stats: MediaStats::default(),
            digits_out: Default::default(),
            sending: None,
        }
    }

    /// Queues a digit (`0-9*#A-D`) to send as an RFC 4733 event; `false`
    /// if the peer did not negotiate telephone-events or it is no digit.
    pub fn send_digit(&mut self, digit: char) -> bool {
        let event = match digit.to_ascii_uppercase() {
            d @ '0'..='9' => d as u8 - b'0',
            '*' => 10,
            '#' => 11,
            d @ 'A'..='D' => d as u8 - b'A' + 12,
            _ => return false,
        };
        if self.params.dtmf_payload_type.is_none() {
            return false;
        }
        self.digits_out.push_back(event);
        true
    }

    /// The next telephone-event payload due, if a digit is being sent.
    fn digit_payload(&mut self) -> Option<([u8; 4], u32, bool)> {
        if self.sending.is_none() {
            let event = self.digits_out.pop_front()?;
            self.sending = Some(OutgoingDigit {
                event,
                timestamp: self.timestamp,
                packets: 0,
            });
        }
        let s = self.sending.as_mut()?;
        let first = s.packets == 0;
        s.packets += 1;
        let end = s.packets > DIGIT_FRAMES;
        let duration = (s.packets.min(DIGIT_FRAMES) * FRAME_SAMPLES as u32) as u16;
        // E bit on the end packets; volume 10 (−10 dBm0).
        let flags = if end { 0x80 } else { 0 } | 10;
        let [hi, lo] = duration.to_be_bytes();
        let payload = [s.event, flags, hi, lo];
        let timestamp = s.timestamp;
        if s.packets >= DIGIT_FRAMES + DIGIT_END_REPEATS {
            self.sending = None;
        }
        Some((payload, timestamp, first))
    }

    pub fn stats(&self) -> MediaStats {
        MediaStats {
            jitter: self.jitter.stats(),
            ..self.stats
        }
    }

    pub fn params(&self) -> &MediaParams {
        &self.params
    }

    /// A re-INVITE changed the session (hold, new address, codec).
    pub fn update(&mut self, now: Instant, params: MediaParams) {
        if params.remote != self.params.remote {
            // A new media address: latch afresh to what arrives next.
            self.latched = None;
            self.candidate = None;
        }
        if params.direction.we_send() && !self.params.direction.we_send() {
            self.marker = true;
        }
        self.params = params;
        self.last_rx = now;
    }

    /// Where our packets go: the latched source, else the SDP address.
    pub fn destination(&self) -> Option<SocketAddr> {
        match self.latch {
            Latch::Strict => self.params.remote,
            Latch::Symmetric { .. } => self.latched.or(self.params.remote),
        }
    }

    /// Whether a packet from `from` belongs to the stream, latching or
    /// moving the stream as [`Latch`] says.
    fn take_source(&mut self, now: Instant, from: SocketAddr) -> bool {
        if self.latched == Some(from) {
            self.last_from_latched = Some(now);
            self.candidate = None;
            return true;
        }
        let allowed = match self.latch {
            Latch::Strict => self.params.remote == Some(from),
            Latch::Symmetric { signalling } => {
                let sdp = self.params.remote.map(|a| a.ip());
                signalling.is_none() || sdp == Some(from.ip()) || signalling == Some(from.ip())
            }
        };
        if !allowed {
            return false;
        }
        if self.latched.is_some() {
            let candidate = match self.candidate {
                Some(c) if c.from == from && now.duration_since(c.last) <= CANDIDATE_GAP => {
                    Candidate {
                        last: now,
                        packets: c.packets + 1,
                        ..c
                    }
                }
                _ => Candidate {
                    from,
                    last: now,
                    packets: 1,
                },
            };
            self.candidate = Some(candidate);
            let quiet = self
                .last_from_latched
                .is_none_or(|t| now.duration_since(t) >= MOVE_AFTER_SILENCE);
            if !quiet || candidate.packets < MOVE_AFTER_PACKETS {
                return false;
            }
        }
        self.latched = Some(from);
        self.last_from_latched = Some(now);
        self.candidate = None;
        true
    }

    /// When the next frame is due.
    pub fn next_tick(&self) -> Instant {
        self.pacer.next_deadline()
    }

    /// Frames due now (more than one after a stall).
    pub fn frames_due(&self, now: Instant) -> u64 {
        self.pacer.due(now)
    }

    pub fn frames(&self) -> u64 {
        self.pacer.frames()
    }

    /// True once the peer has sent nothing for the media timeout during a
    /// two-way session. On hold (any direction but sendrecv) silence is
    /// normal: phones often send no music on hold.
    pub fn timed_out(&self, now: Instant) -> bool {
        self.params.direction == Direction::SendRecv
            && !self.media_timeout.is_zero()
            && now.duration_since(self.last_rx) > self.media_timeout
    }

    /// A datagram arrived on our RTP port.
    pub fn on_packet(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> Option<DtmfEvent> {
        let Ok(rtp) = RtpReader::new(bytes) else {
            self.stats.ignored += 1;
            return None;
        };
        let pt = rtp.payload_type();
        let is_audio = pt == self.params.codec.payload_type();
        let is_dtmf = Some(pt) == self.params.dtmf_payload_type;
        if rtp.version() != 2 || !(is_audio || is_dtmf) {
            self.stats.ignored += 1;
            return None;
        }
        if !self.take_source(now, from) {
            self.stats.ignored += 1;
            return None;
        }
        self.last_rx = now;
        self.stats.packets_in += 1;
        let seq: u16 = rtp.sequence_number().into();
        if is_dtmf {
            // The event occupies a sequence number in the audio stream.
            self.jitter.push(seq, Slot::NotAudio);
            let event = self.dtmf.on_payload(rtp.timestamp(), rtp.payload());
            if event.is_some() {
                self.stats.dtmf += 1;
            }
            return event;
        }
        if self.remote_ssrc.is_some_and(|s| s != rtp.ssrc()) {
            self.jitter.reset();
        }
        self.remote_ssrc = Some(rtp.ssrc());
        self.jitter.push(seq, Slot::Audio(rtp.payload().to_vec()));
        None
    }

    /// Produces one frame. `heard` is what the caller hears now (160
    /// samples); the caller's own audio for this frame is written to
    /// `caller`. Returns the packet to send, if we are sending.
    pub fn tick(
        &mut self,
        heard: &[i16],
        caller: &mut [i16],
        packet: &mut Vec<u8>,
    ) -> Option<SocketAddr> {
        self.pacer.advance();
        caller.fill(0);
        if let Some(Slot::Audio(payload)) = self.jitter.pop() {
            self.decoded.clear();
            self.params.codec.decode(&payload, &mut self.decoded);
            let n = self.decoded.len().min(caller.len());
            caller[..n].copy_from_slice(&self.decoded[..n]);
        }
        let sending = self.params.direction.we_send();
        let dest = self.destination().filter(|_| sending);
        let digit = match (dest, self.params.dtmf_payload_type) {
            (Some(_), Some(pt)) => self.digit_payload().map(|d| (pt, d)),
            _ => None,
        };
        let result = match dest {
            Some(dest) => {
                let (pt, timestamp, marked) = match digit {
                    // The event replaces the audio of this frame.
                    Some((pt, (payload, timestamp, first))) => {
                        self.encoded.clear();
                        self.encoded.extend_from_slice(&payload);
                        (pt, timestamp, first)
                    }
                    None => {
                        self.encoded.clear();
                        self.params.codec.encode(heard, &mut self.encoded);
                        (
                            self.params.codec.payload_type(),
                            self.timestamp,
                            self.marker,
                        )
                    }
                };
                packet.clear();
                packet.resize(12 + self.encoded.len(), 0);
                let built = RtpPacketBuilder::new()
                    .payload_type(pt)
                    .ssrc(self.ssrc)
                    .sequence(Seq::from(self.seq))
                    .timestamp(timestamp)
                    .marked(marked)
                    .payload(&self.encoded)
                    .build_into(packet);
                match built {
                    Ok(len) => {
                        packet.truncate(len);
                        self.seq = self.seq.wrapping_add(1);
                        self.marker = false;
                        self.stats.packets_out += 1;
                        Some(dest)
                    }
                    Err(_) => None,
                }
            }
            None => {
                self.marker = true;
                None
            }
        };
        // The timestamp advances with time whether or not we send (§5.1).
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> MediaParams {
        MediaParams {
            codec: Codec::Pcmu,
            dtmf_payload_type: Some(101),
            remote: Some("127.0.0.1:40000".parse().unwrap()),
            direction: Direction::SendRecv,
        }
    }

    fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        RtpPacketBuilder::new()
            .payload_type(pt)
            .ssrc(1)
            .sequence(Seq::from(seq))
            .timestamp(ts)
            .payload(payload)
            .build()
            .unwrap()
    }

    #[test]
    fn digits_go_out_as_telephone_events_and_audio_resumes() {
        let now = Instant::now();
        let mut s = MediaSession::new(now, params(), SYMMETRIC, 3, Duration::from_secs(60));
        let (heard, mut caller, mut packet) = ([0i16; 160], [0i16; 160], Vec::new());
        assert!(s.send_digit('5'));
        assert!(!s.send_digit('x'));
        let mut receiver = crate::rtp::dtmf::DtmfReceiver::default();
        let mut got = Vec::new();
        let mut stamps = Vec::new();
        for _ in 0..11 {
            assert!(s.tick(&heard, &mut caller, &mut packet).is_some());
            let rtp = RtpReader::new(&packet).unwrap();
            assert_eq!(rtp.payload_type(), 101);
            stamps.push((rtp.timestamp(), rtp.mark(), rtp.payload()[1] & 0x80 != 0));
            got.extend(receiver.on_payload(rtp.timestamp(), rtp.payload()));
        }
        assert!(
            stamps.iter().all(|(ts, _, _)| *ts == stamps[0].0),
            "one timestamp per event"
        );
        assert!(
            stamps[0].1 && stamps[1..].iter().all(|(_, m, _)| !m),
            "marker on the first"
        );
        assert_eq!(
            stamps.iter().filter(|(_, _, end)| *end).count(),
            3,
            "end sent three times"
        );
        assert_eq!(got.iter().map(|e| e.digit).collect::<Vec<_>>(), ['5']);
        s.tick(&heard, &mut caller, &mut packet);
        let rtp = RtpReader::new(&packet).unwrap();
        assert_eq!(rtp.payload_type(), 0, "audio again");
        assert_eq!(rtp.timestamp(), stamps[0].0.wrapping_add(11 * 160));

        let mut no_events = params();
        no_events.dtmf_payload_type = None;
        let mut s = MediaSession::new(now, no_events, SYMMETRIC, 3, Duration::from_secs(60));
        assert!(!s.send_digit('5'), "the peer takes no telephone-events");
    }

    #[test]
    fn outgoing_packets_are_numbered_and_timed() {
        let t0 = Instant::now();
        let mut s = MediaSession::new(t0, params(), SYMMETRIC, 1, Duration::from_secs(60));
        let (heard, mut caller, mut pkt) = ([0i16; 160], [0i16; 160], Vec::new());
        let mut seen = vec![];
        for _ in 0..3 {
            assert_eq!(
                s.tick(&heard, &mut caller, &mut pkt),
                Some("127.0.0.1:40000".parse().unwrap())
            );
            let r = RtpReader::new(&pkt).unwrap();
            seen.push((
                u16::from(r.sequence_number()),
                r.timestamp(),
                r.mark(),
                r.payload().len(),
            ));
        }
        assert_eq!(seen[1].0, seen[0].0.wrapping_add(1));
        assert_eq!(seen[2].1, seen[0].1.wrapping_add(320));
        assert_eq!(
            (seen[0].2, seen[1].2),
            (true, false),
            "marker on the first packet only"
        );
        assert_eq!(seen[0].3, 160);
        assert_eq!(s.next_tick(), t0 + Duration::from_millis(60));
    }

    const SYMMETRIC: Latch = Latch::Symmetric { signalling: None };

    /// `count` packets from `from`, 20 ms apart from `start`; how many were
    /// taken.
    fn send(s: &mut MediaSession, from: SocketAddr, start: Instant, first: u16, count: u16) -> u16 {
        (0..count)
            .filter(|i| {
                let at = start + Duration::from_millis(20 * u64::from(*i));
                let seq = first + i;
                let before = s.stats().packets_in;
                s.on_packet(at, from, &rtp(0, seq, u32::from(seq) * 160, &[0xff; 160]));
                s.stats().packets_in > before
            })
            .count() as u16
    }

    #[test]
    fn latches_to_real_source_and_resists_strays() {
        let t0 = Instant::now();
        let mut s = MediaSession::new(t0, params(), SYMMETRIC, 1, Duration::from_secs(60));
        let nat: SocketAddr = "127.0.0.9:50000".parse().unwrap();
        s.on_packet(t0, nat, &rtp(0, 1, 0, &[0xff; 160]));
        assert_eq!(s.destination(), Some(nat));
        let stray: SocketAddr = "127.0.0.66:1".parse().unwrap();
        s.on_packet(
            t0 + Duration::from_millis(10),
            stray,
            &rtp(0, 2, 160, &[0xff; 160]),
        );
        assert_eq!(s.destination(), Some(nat));
        assert_eq!(s.stats().ignored, 1);
        // After the latched source has been silent 2 s, a steady new one
        // takes over, but only after half a second of packets.
        let quiet = t0 + Duration::from_secs(2);
        assert_eq!(
            send(&mut s, stray, quiet, 3, MOVE_AFTER_PACKETS as u16 - 1),
            0
        );
        assert_eq!(s.destination(), Some(nat));
        assert_eq!(
            send(&mut s, stray, quiet + Duration::from_millis(480), 27, 1),
            1
        );
        assert_eq!(s.destination(), Some(stray));
    }

    #[test]
    fn a_pause_of_the_caller_does_not_hand_the_stream_to_another_sender() {
        let t0 = Instant::now();
        let caller: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let other: SocketAddr = "127.0.0.2:40000".parse().unwrap();
        let same_host: SocketAddr = "127.0.0.1:41000".parse().unwrap();
        let signalling = Latch::Symmetric {
            signalling: Some(caller.ip()),
        };
        let mut s = MediaSession::new(t0, params(), signalling, 1, Duration::from_secs(60));
        assert_eq!(send(&mut s, caller, t0, 1, 10), 10);
        // The caller pauses 0.5 s; another host sends steadily all along.
        let pause = t0 + Duration::from_millis(200);
        assert_eq!(
            send(&mut s, other, pause, 100, 200),
            0,
            "another host never"
        );
        assert_eq!(s.destination(), Some(caller));
        // Another port of the caller's own host, while the caller still
        // sends now and then: never.
        for k in 0..10u64 {
            let at = pause + Duration::from_millis(1000 * k);
            send(&mut s, caller, at, 400 + k as u16, 1);
            assert_eq!(
                send(&mut s, same_host, at + Duration::from_millis(20), 500, 40),
                0
            );
        }
        assert_eq!(s.destination(), Some(caller));
    }

    #[test]
    fn strict_takes_only_the_sdp_address_both_ways() {
        let t0 = Instant::now();
        let sdp: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let mut s = MediaSession::new(t0, params(), Latch::Strict, 1, Duration::from_secs(60));
        let elsewhere: SocketAddr = "127.0.0.1:40002".parse().unwrap();
        // Even long after silence, a steady stream from elsewhere is ignored.
        assert_eq!(
            send(&mut s, elsewhere, t0 + Duration::from_secs(5), 1, 100),
            0
        );
        assert_eq!(s.destination(), Some(sdp));
        assert_eq!(send(&mut s, sdp, t0 + Duration::from_secs(7), 200, 3), 3);
        // A re-INVITE moves it: the new SDP address, and only it.
        let moved: SocketAddr = "127.0.0.1:42000".parse().unwrap();
        s.update(
            t0 + Duration::from_secs(8),
            MediaParams {
                remote: Some(moved),
                ..params()
            },
        );
        assert_eq!(s.destination(), Some(moved));
        assert_eq!(send(&mut s, sdp, t0 + Duration::from_secs(9), 300, 3), 0);
        assert_eq!(send(&mut s, moved, t0 + Duration::from_secs(9), 300, 3), 3);
    }

    #[test]
    fn decodes_caller_audio_and_digits() {
        let t0 = Instant::now();
        let mut s = MediaSession::new(t0, params(), SYMMETRIC, 1, Duration::from_secs(60));
        let src: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let mut pcmu = Vec::new();
        Codec::Pcmu.encode(&[1000i16; 160], &mut pcmu);
        s.on_packet(t0, src, &rtp(0, 10, 0, &pcmu));
        let digit = s.on_packet(t0, src, &rtp(101, 11, 160, &[7, 0x80, 0, 160]));
        assert_eq!(digit.map(|d| d.digit), Some('7'));
        assert_eq!(
            s.on_packet(t0, src, &rtp(101, 12, 160, &[7, 0x80, 0, 160])),
            None
        );
        s.on_packet(t0, src, &rtp(8, 13, 320, &[0; 160]));
        assert_eq!(s.stats().ignored, 1, "PCMA was not negotiated");
        let (mut caller, mut pkt) = ([0i16; 160], Vec::new());
        s.tick(&[0; 160], &mut caller, &mut pkt);
        assert!((caller[0] - 1000).abs() < 40, "decoded {}", caller[0]);
        s.tick(&[0; 160], &mut caller, &mut pkt);
        assert_eq!(caller[0], 0, "the event slot plays as silence");
        assert_eq!(s.stats().jitter.missing, 0);
    }

    #[test]
    fn media_timeout_except_on_hold() {
        let t0 = Instant::now();
        let mut s = MediaSession::new(t0, params(), SYMMETRIC, 1, Duration::from_secs(60));
        assert!(!s.timed_out(t0 + Duration::from_secs(59)));
        assert!(s.timed_out(t0 + Duration::from_secs(61)));
        for direction in [
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ] {
            s.update(
                t0,
                MediaParams {
                    direction,
                    ..params()
                },
            );
            assert!(!s.timed_out(t0 + Duration::from_secs(600)), "{direction:?}");
        }
        let (mut caller, mut pkt) = ([0i16; 160], Vec::new());
        let inactive = MediaParams {
            direction: Direction::Inactive,
            ..params()
        };
        s.update(t0, inactive);
        assert_eq!(
            s.tick(&[0; 160], &mut caller, &mut pkt),
            None,
            "nothing sent while inactive"
        );
    }
}
