//! The server's RTP as a receiver sees it: a sipp call whose SDP points at
//! sockets of this test. Checks pacing (no drift), sequence numbers,
//! timestamps and SSRC, that the server latches to where the caller's
//! packets really come from (symmetric RTP), and that no other host can
//! take the call's audio over (issue 15).

use std::time::{Duration, Instant};

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};
use tokio::net::UdpSocket;

use crate::peers::sipp::{SippProcess, scenario_path};
use crate::{AppOptions, spawn_app};

struct Arrival {
    at: Instant,
    seq: u16,
    ts: u32,
    ssrc: u32,
    marker: bool,
    on_b: bool,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A sipp call to 1580 whose SDP points at `rtp`, hung up after `ms`.
async fn probe_call(server: std::net::SocketAddr, rtp: &UdpSocket, ms: u32) -> SippProcess {
    let port = rtp.local_addr().unwrap().port().to_string();
    let ms = ms.to_string();
    let args = [
        "-s",
        "1580",
        "-key",
        "from_user",
        "0611234567",
        "-key",
        "rtp_port",
        &port,
        "-d",
        &ms,
    ];
    SippProcess::spawn(
        &scenario_path("media_probe.xml"),
        Some(server),
        &args,
        Duration::from_secs(20),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn outgoing_rtp_is_paced_numbered_and_latches_to_the_source() {
    // A peer whose media passes a NAT: symmetric RTP.
    let app = spawn_app(AppOptions {
        peer_media: "symmetric",
        ..Default::default()
    })
    .await;
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let call = probe_call(app.sip_addr, &a, 5000).await;

    let mut arrivals: Vec<Arrival> = Vec::new();
    let (mut buf_a, mut buf_b) = (vec![0u8; 2048], vec![0u8; 2048]);
    let mut server_rtp = None;
    let mut first: Option<Instant> = None;
    let (mut sent_from_b, mut seq_b) = (0u32, 1000u16);
    let mut next_send = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        tokio::select! {
            r = a.recv_from(&mut buf_a) => {
                let (n, from) = r.unwrap();
                server_rtp = Some(from);
                first.get_or_insert(Instant::now());
                let p = RtpReader::new(&buf_a[..n]).unwrap();
                arrivals.push(Arrival { at: Instant::now(), seq: p.sequence_number().into(), ts: p.timestamp(), ssrc: p.ssrc(), marker: p.mark(), on_b: false });
            }
            r = b.recv_from(&mut buf_b) => {
                let (n, _) = r.unwrap();
                let p = RtpReader::new(&buf_b[..n]).unwrap();
                arrivals.push(Arrival { at: Instant::now(), seq: p.sequence_number().into(), ts: p.timestamp(), ssrc: p.ssrc(), marker: p.mark(), on_b: true });
            }
            _ = tokio::time::sleep_until(next_send.into()) => {
                // From 2.5 s into the call, the caller's audio comes from B
                // (as from behind a NAT): the server must follow it there.
                next_send += Duration::from_millis(20);
                if let (Some(t0), Some(dest)) = (first, server_rtp) {
                    if t0.elapsed() > Duration::from_millis(2500) && sent_from_b < 50 {
                        let pkt = RtpPacketBuilder::new().payload_type(0).ssrc(77).sequence(Seq::from(seq_b))
                            .timestamp(seq_b as u32 * 160).payload(&[0xffu8; 160]).build().unwrap();
                        b.send_to(&pkt, dest).await.unwrap();
                        seq_b = seq_b.wrapping_add(1);
                        sent_from_b += 1;
                    }
                }
            }
        }
        if arrivals.len() > 20 && arrivals.last().unwrap().at.elapsed() > Duration::from_millis(500)
        {
            break;
        }
    }
    call.wait().await.unwrap().ensure_success().unwrap();

    let before: Vec<&Arrival> = arrivals.iter().filter(|p| !p.on_b).collect();
    let after: Vec<&Arrival> = arrivals.iter().filter(|p| p.on_b).collect();
    assert!(
        before.len() > 100,
        "{} packets before the switch",
        before.len()
    );
    assert!(
        after.len() > 50,
        "the server followed the caller's real address: {} packets there",
        after.len()
    );
    assert!(
        before.last().unwrap().at <= after.first().unwrap().at + Duration::from_millis(5),
        "a clean switch"
    );

    // One stream: one SSRC, consecutive sequence numbers, +160 per packet,
    // the marker on the first packet only.
    let all: Vec<&Arrival> = arrivals.iter().collect();
    assert!(all.iter().all(|p| p.ssrc == all[0].ssrc));
    assert!(all[0].marker && all[1..].iter().all(|p| !p.marker));
    for w in all.windows(2) {
        assert_eq!(
            w[1].seq,
            w[0].seq.wrapping_add(1),
            "consecutive sequence numbers"
        );
        assert_eq!(
            w[1].ts,
            w[0].ts.wrapping_add(160),
            "timestamps advance 160 per packet"
        );
    }

    // Pacing: deviation of each inter-arrival time from 20 ms, and drift of
    // the whole run against the 20 ms grid.
    let mut dev: Vec<f64> = all
        .windows(2)
        .map(|w| ((w[1].at - w[0].at).as_secs_f64() * 1000.0 - 20.0).abs())
        .collect();
    dev.sort_by(|x, y| x.partial_cmp(y).unwrap());
    let span = (all.last().unwrap().at - all[0].at).as_secs_f64() * 1000.0;
    let drift = span - (all.len() - 1) as f64 * 20.0;
    eprintln!(
        "measured [rtp pacing]: {} packets, inter-arrival deviation p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; \
         drift over {:.1} s: {:.2} ms; {} packets followed the caller to its real address",
        all.len(),
        percentile(&dev, 0.5),
        percentile(&dev, 0.99),
        dev.last().unwrap(),
        span / 1000.0,
        drift,
        after.len(),
    );
    // Loose bounds: CI machines are noisy. The figures are in the log.
    assert!(
        drift.abs() < 40.0,
        "no drift: {drift:.2} ms over {span:.0} ms"
    );
    assert!(percentile(&dev, 0.5) < 5.0);
}

/// A call's audio: the caller sends from its SDP address, pauses 600 ms,
/// resumes; another host (127.0.0.2) sends RTP to the call's port all the
/// while. Under both rules of latching not one of the call's packets reaches
/// that host, and the caller hears the call throughout.
#[tokio::test]
async fn a_third_host_cannot_take_the_audio_while_the_caller_pauses() {
    for peer_media in ["symmetric", "strict"] {
        let app = spawn_app(AppOptions {
            peer_media,
            ..Default::default()
        })
        .await;
        let caller = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let intruder = UdpSocket::bind("127.0.0.2:0").await.unwrap();
        let call = probe_call(app.sip_addr, &caller, 4000).await;
        let (mut buf, mut junk) = (vec![0u8; 2048], vec![0u8; 2048]);
        let (mut to_caller, mut to_intruder, mut sent, mut intruded) = (0u32, 0u32, 0u16, 0u16);
        let mut server_rtp = None;
        let mut first: Option<Instant> = None;
        let mut next_send = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(6);
        while Instant::now() < deadline {
            tokio::select! {
                r = caller.recv_from(&mut buf) => {
                    let (_, from) = r.unwrap();
                    server_rtp = Some(from);
                    first.get_or_insert(Instant::now());
                    to_caller += 1;
                }
                r = intruder.recv_from(&mut junk) => {
                    r.unwrap();
                    to_intruder += 1;
                }
                _ = tokio::time::sleep_until(next_send.into()) => {
                    next_send += Duration::from_millis(20);
                    let (Some(t0), Some(dest)) = (first, server_rtp) else { continue };
                    let packet = |ssrc: u32, seq: u16| RtpPacketBuilder::new().payload_type(0).ssrc(ssrc)
                        .sequence(Seq::from(seq)).timestamp(u32::from(seq) * 160)
                        .payload(&[0xffu8; 160]).build().unwrap();
                    let at = t0.elapsed();
                    // The caller: 1 s of audio, 600 ms of nothing, the rest.
                    if at < Duration::from_millis(1000) || at > Duration::from_millis(1600) {
                        caller.send_to(&packet(1, sent), dest).await.unwrap();
                        sent = sent.wrapping_add(1);
                    }
                    // The intruder: from 0.9 s to the end, without a break.
                    if at > Duration::from_millis(900) && at < Duration::from_millis(3500) {
                        intruder.send_to(&packet(2, intruded), dest).await.unwrap();
                        intruded = intruded.wrapping_add(1);
                    }
                }
            }
            if first.is_some_and(|t| t.elapsed() > Duration::from_millis(3600)) {
                break;
            }
        }
        call.wait().await.unwrap().ensure_success().unwrap();
        eprintln!(
            "measured [rtp takeover, {peer_media}]: {intruded} packets from another host, \
             {to_intruder} of the call's packets reached it, {to_caller} reached the caller"
        );
        assert!(intruded > 100, "the intruder sent steadily: {intruded}");
        assert_eq!(
            to_intruder, 0,
            "{peer_media}: the call's audio went to another host"
        );
        assert!(
            to_caller > 150,
            "{peer_media}: the caller heard the call: {to_caller}"
        );
    }
}
