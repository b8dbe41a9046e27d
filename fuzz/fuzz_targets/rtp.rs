//! A call's RTP stream: arbitrary packets (RTP, RFC 4733 events, RTCP sent
//! to the RTP port, junk) from three addresses, interleaved with frame
//! ticks. No panic; RTCP is never taken for media; every packet we send is
//! RTP of the call's SSRC, and goes only where the rules allow.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hotline::media::Codec;
use hotline::rtp::dtmf::DtmfReceiver;
use hotline::rtp::session::{Latch, MediaParams, MediaSession};
use hotline::sdp::Direction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let sdp: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let sources: [SocketAddr; 3] = [
        sdp,
        "127.0.0.1:40002".parse().unwrap(),
        "127.0.0.2:40000".parse().unwrap(),
    ];
    let latch = match mode % 3 {
        0 => Latch::Strict,
        1 => Latch::Symmetric {
            signalling: Some(sdp.ip()),
        },
        _ => Latch::Symmetric { signalling: None },
    };
    let params = MediaParams {
        codec: if mode & 4 == 0 {
            Codec::Pcmu
        } else {
            Codec::Pcma
        },
        dtmf_payload_type: Some(101),
        remote: Some(sdp),
        direction: Direction::SendRecv,
    };
    let t0 = Instant::now();
    let mut session = MediaSession::new(t0, params, latch, 3, Duration::from_secs(60));
    let mut digits = DtmfReceiver::default();
    let (heard, mut caller, mut packet) = ([0i16; 160], [0i16; 160], Vec::new());
    let mut now = t0;
    // Packets separated by 0xFF 0xFF; the first byte of each: source, and
    // how much time passes before it.
    for chunk in data.split(|b| *b == 0xff).filter(|c| !c.is_empty()) {
        let (how, bytes) = (chunk[0], &chunk[1..]);
        now += Duration::from_millis(u64::from(how >> 2) * 5);
        let from = sources[usize::from(how & 3) % 3];
        let before = session.stats();
        session.on_packet(now, from, bytes);
        // RTCP multiplexed on the RTP port (RFC 5761: packet types 200–204
        // where RTP has its payload type) is never taken for audio or
        // events, and never moves the stream.
        if bytes.len() >= 2 && bytes[0] >> 6 == 2 && (200..=204).contains(&bytes[1]) {
            let after = session.stats();
            assert_eq!(after.packets_in, before.packets_in, "RTCP is not media");
            assert_eq!(after.ignored, before.ignored + 1);
        }
        digits.on_payload(u32::from(how), bytes);
        for _ in 0..session.frames_due(now).min(50) {
            packet.clear();
            if let Some(to) = session.tick(&heard, &mut caller, &mut packet) {
                if latch == Latch::Strict {
                    assert_eq!(to, sdp, "strict: only the SDP's address");
                }
                if latch
                    == (Latch::Symmetric {
                        signalling: Some(sdp.ip()),
                    })
                {
                    assert_eq!(to.ip(), sdp.ip(), "never another host");
                }
                let rtp = rtp_rs::RtpReader::new(&packet).expect("we send RTP");
                assert_eq!(rtp.version(), 2);
            }
        }
    }
});
