//! Micro-benchmarks of the per-packet path: what every call costs 50 times
//! a second in each direction. `cargo bench --bench hot_path`; the figures
//! go into docs/BENCHMARKS.md (scripts/bench).

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hotline::media::g711::Codec;
use hotline::rtp::dtmf::DtmfReceiver;
use hotline::rtp::jitter::{JitterBuffer, Slot};
use hotline::rtp::session::{Latch, MediaParams, MediaSession};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 40002 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";

/// A softphone's INVITE with its SDP offer.
fn invite() -> Vec<u8> {
    format!(
        "INVITE sip:1580@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK-524287-1---7f1b2c;rport\r\n\
         Max-Forwards: 70\r\n\
         Contact: <sip:0611234567@127.0.0.1:40000>\r\n\
         To: <sip:1580@127.0.0.1>\r\n\
         From: \"Citizen\" <sip:0611234567@127.0.0.1>;tag=4f1e6a7b\r\n\
         Call-ID: 9eY1bXqW0uXzVwQ2-aBcDeF@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY\r\n\
         Content-Type: application/sdp\r\n\
         User-Agent: bench\r\n\
         Content-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
    .into_bytes()
}

fn rtp_packet(seq: u16, ts: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend(std::iter::repeat_n(0xffu8, 160));
    p
}

fn sip(c: &mut Criterion) {
    let mut g = c.benchmark_group("sip");
    g.throughput(Throughput::Elements(1));
    let invite = invite();
    g.bench_function("parse INVITE", |b| {
        b.iter(|| hotline::sip::wire::parse(black_box(&invite)).unwrap())
    });
    let msg = hotline::sip::wire::parse(&invite).unwrap();
    g.bench_function("serialise INVITE", |b| {
        b.iter(|| hotline::sip::wire::serialize(black_box(&msg)))
    });
    g.bench_function("frame check (TCP)", |b| {
        b.iter(|| hotline::sip::wire::check_frame(black_box(&invite)).unwrap())
    });
    g.finish();
}

fn rtp(c: &mut Criterion) {
    let mut g = c.benchmark_group("rtp");
    g.throughput(Throughput::Elements(1));
    let packet = rtp_packet(1000, 160_000);
    g.bench_function("parse (rtp-rs)", |b| {
        b.iter(|| {
            let r = rtp_rs::RtpReader::new(black_box(&packet)).unwrap();
            black_box((r.sequence_number(), r.timestamp(), r.payload().len()))
        })
    });
    let payload = [0xffu8; 160];
    g.bench_function("build (rtp-rs)", |b| {
        let mut buf = [0u8; 200];
        b.iter(|| {
            rtp_rs::RtpPacketBuilder::new()
                .payload_type(0)
                .sequence(rtp_rs::Seq::from(1000))
                .timestamp(160_000)
                .ssrc(0x1234_5678)
                .payload(black_box(&payload))
                .build_into(&mut buf)
                .unwrap()
        })
    });
    g.finish();
}

fn g711(c: &mut Criterion) {
    let mut g = c.benchmark_group("g711 (one 20 ms frame)");
    g.throughput(Throughput::Elements(160));
    let pcm: Vec<i16> = (0..160)
        .map(|i| ((i * 397) % 30000) as i16 - 15000)
        .collect();
    for codec in [Codec::Pcmu, Codec::Pcma] {
        let mut out = Vec::with_capacity(160);
        g.bench_function(format!("encode {codec:?}"), |b| {
            b.iter(|| {
                out.clear();
                codec.encode(black_box(&pcm), &mut out);
            })
        });
        let mut encoded = Vec::new();
        codec.encode(&pcm, &mut encoded);
        let mut decoded = Vec::with_capacity(160);
        g.bench_function(format!("decode {codec:?}"), |b| {
            b.iter(|| {
                decoded.clear();
                codec.decode(black_box(&encoded), &mut decoded);
            })
        });
    }
    g.finish();
}

fn jitter(c: &mut Criterion) {
    let mut g = c.benchmark_group("jitter buffer");
    g.throughput(Throughput::Elements(1));
    g.bench_function("push + pop, in order", |b| {
        let mut jb = JitterBuffer::new(3);
        let payload = vec![0xffu8; 160];
        let mut seq = 0u16;
        b.iter(|| {
            jb.push(seq, Slot::Audio(payload.clone()));
            seq = seq.wrapping_add(1);
            black_box(jb.pop())
        })
    });
    g.bench_function("push + pop, every 10th reordered", |b| {
        let mut jb = JitterBuffer::new(3);
        let payload = vec![0xffu8; 160];
        let mut n = 0u16;
        b.iter(|| {
            let seq = if n % 10 == 9 { n.wrapping_sub(1) } else { n };
            jb.push(seq, Slot::Audio(payload.clone()));
            n = n.wrapping_add(1);
            black_box(jb.pop())
        })
    });
    g.finish();
}

fn dtmf(c: &mut Criterion) {
    let mut g = c.benchmark_group("dtmf");
    g.throughput(Throughput::Elements(1));
    g.bench_function("RFC 4733 event packet", |b| {
        let mut rx = DtmfReceiver::default();
        let mut ts = 0u32;
        let mut n = 0u16;
        b.iter(|| {
            // A key of five packets, then the next key.
            let end = n % 8 >= 5;
            let payload = [5u8, if end { 0x8a } else { 0x0a }, 0x03, 0x20];
            let got = rx.on_payload(ts, black_box(&payload));
            n = n.wrapping_add(1);
            if n % 8 == 0 {
                ts = ts.wrapping_add(1280);
            }
            black_box(got)
        })
    });
    let frame = hotline::media::analysis::tone(941.0, 8000, 160, 8000);
    g.bench_function("in-band tone detector (Goertzel, 20 ms)", |b| {
        b.iter(|| hotline::media::analysis::goertzel_power(black_box(&frame), 941.0, 8000))
    });
    g.finish();
}

fn media_session(c: &mut Criterion) {
    let mut g = c.benchmark_group("call media (per 20 ms frame)");
    g.throughput(Throughput::Elements(1));
    let from: SocketAddr = "127.0.0.1:40002".parse().unwrap();
    let params = MediaParams {
        codec: Codec::Pcmu,
        dtmf_payload_type: Some(101),
        remote: Some(from),
        direction: hotline::sdp::Direction::SendRecv,
    };
    let t0 = Instant::now();
    let mut session = MediaSession::new(t0, params, Latch::Strict, 3, Duration::from_secs(60));
    let heard = vec![0i16; 160];
    let mut caller = vec![0i16; 160];
    let mut out = Vec::with_capacity(200);
    let mut seq = 0u16;
    g.bench_function(
        "packet in + frame out (jitter, decode, encode, pace)",
        |b| {
            b.iter(|| {
                let packet = rtp_packet(seq, u32::from(seq) * 160);
                seq = seq.wrapping_add(1);
                session.on_packet(t0, from, black_box(&packet));
                black_box(session.tick(&heard, &mut caller, &mut out))
            })
        },
    );
    g.finish();
}

/// A whole call's frame in the engine (`CallMedia::frames`: every leg's
/// packet in, jitter, decode, mix, encode, pace, out), with no recording:
/// a caller in the queue hearing prompts, a caller talking to an operator,
/// and the same with a supervisor listening, whispering or barging in
/// (issue 21). What a monitored call costs beside one that is not.
fn call_frames(c: &mut Criterion) {
    use hotline::rtp::engine::{CallMedia, MediaSettings, MonitorMode, Side};
    let mut g = c.benchmark_group("a call's frame in the engine");
    g.throughput(Throughput::Elements(1));
    let settings = MediaSettings {
        jitter_frames: 3,
        media_timeout: Duration::from_secs(60),
        realtime_priority: 0,
    };
    let peer = |port: u16| -> SocketAddr { format!("127.0.0.1:{port}").parse().unwrap() };
    let params = |port: u16| MediaParams {
        codec: Codec::Pcmu,
        dtmf_payload_type: Some(101),
        remote: Some(peer(port)),
        direction: hotline::sdp::Direction::SendRecv,
    };
    type Setup = fn(&mut CallMedia, Instant, &dyn Fn(u16) -> MediaParams);
    /// A case: its name, what joins the call, where each leg's packets come from.
    type Case<'a> = (&'a str, Setup, &'a [(Side, u16)]);
    let cases: [Case; 5] = [
        (
            "queued (caller, prompts)",
            |_, _, _| {},
            &[(Side::Caller, 40002)],
        ),
        (
            "bridged (caller + operator)",
            |m, t, p| m.bridge(t, p(40004), Vec::new()),
            &[(Side::Caller, 40002), (Side::Operator, 40004)],
        ),
        (
            "bridged + supervisor listening",
            |m, t, p| {
                m.bridge(t, p(40004), Vec::new());
                m.monitor(t, p(40006), MonitorMode::Listen);
            },
            &[
                (Side::Caller, 40002),
                (Side::Operator, 40004),
                (Side::Monitor, 40006),
            ],
        ),
        (
            "bridged + supervisor whispering",
            |m, t, p| {
                m.bridge(t, p(40004), Vec::new());
                m.monitor(t, p(40006), MonitorMode::Whisper);
            },
            &[
                (Side::Caller, 40002),
                (Side::Operator, 40004),
                (Side::Monitor, 40006),
            ],
        ),
        (
            "bridged + supervisor barging in",
            |m, t, p| {
                m.bridge(t, p(40004), Vec::new());
                m.monitor(t, p(40006), MonitorMode::Barge);
            },
            &[
                (Side::Caller, 40002),
                (Side::Operator, 40004),
                (Side::Monitor, 40006),
            ],
        ),
    ];
    for (name, setup, sides) in cases {
        let t0 = Instant::now();
        let mut media = CallMedia::new(t0, params(40002), Latch::Strict, settings, None);
        setup(&mut media, t0, &params);
        let tone = hotline::media::analysis::tone(440.0, 8000, 160, 8000);
        media.command(
            t0,
            hotline::rtp::engine::Command::Play(vec![hotline::media::Prompt::new(
                "tone",
                tone.repeat(50 * 600),
            )]),
        );
        let (mut packet, mut events) = (Vec::with_capacity(256), Vec::new());
        let mut n = 0u32;
        g.bench_function(name, |b| {
            b.iter(|| {
                n += 1;
                let now = t0 + Duration::from_millis(20 * u64::from(n));
                let seq = n as u16;
                for (side, port) in sides {
                    let bytes = rtp_packet(seq, n * 160);
                    media.on_packet(*side, now, peer(*port), black_box(&bytes), &mut events);
                }
                let mut sent = 0usize;
                media.frames(
                    now,
                    &mut packet,
                    &mut |_, p, _| sent += p.len(),
                    &mut events,
                );
                events.clear();
                black_box(sent)
            })
        });
    }
    g.finish();
}

fn recording(c: &mut Criterion) {
    let mut g = c.benchmark_group("recording");
    g.throughput(Throughput::Elements(1));
    let dir = tempfile::tempdir().unwrap();
    let recorder = hotline::recording::Recorder::spawn(dir.path().to_path_buf()).unwrap();
    let caller = vec![1000i16; 160];
    let heard = vec![-1000i16; 160];
    let mut active = recorder
        .start(uuid::Uuid::new_v4(), chrono::Utc::now())
        .unwrap();
    g.bench_function("push a stereo frame (media side)", |b| {
        b.iter(|| active.push_frame(black_box(&caller), black_box(&heard)))
    });
    // The recorder thread's work for a frame: interleaved samples to the
    // file's bytes, appended (to memory here, to a buffered file there).
    let interleaved: Vec<i16> = caller
        .iter()
        .zip(&heard)
        .flat_map(|(a, b)| [*a, *b])
        .collect();
    let mut bytes = Vec::with_capacity(4 * 160);
    let mut file = std::io::Cursor::new(Vec::with_capacity(1 << 20));
    g.bench_function("encode a stereo frame to WAV (recorder side)", |b| {
        b.iter(|| {
            hotline::recording::encode_samples(black_box(&interleaved), &mut bytes);
            if file.position() > 1 << 20 {
                file.set_position(0);
            }
            std::io::Write::write_all(&mut file, &bytes).unwrap();
        })
    });
    g.finish();
    drop(active);
    recorder.shutdown();
}

criterion_group!(
    benches,
    sip,
    rtp,
    g711,
    jitter,
    dtmf,
    media_session,
    call_frames,
    recording
);
criterion_main!(benches);
