//! One source flooding us with INVITEs it never acknowledges, while genuine
//! callers (sipp, each call from its own number behind the trusted peer)
//! call in (issue 15): admission control keeps the flood to its limits, so
//! the genuine calls are served, the flood costs no rows or files beyond
//! its few admitted calls, and service is normal as soon as it stops.

use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use crate::peers::sipp::{SippProcess, scenario_path};
use crate::{AppOptions, spawn_app};

/// The flood: INVITEs at `rate` a second for `length`, each a new call with
/// a new Call-ID and From number, none ever acknowledged. Returns (sent,
/// 200s, 503s) as the flooding host saw them.
async fn flood(target: std::net::SocketAddr, rate: u32, length: Duration) -> (u32, u32, u32) {
    let socket = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0\r\n",
        port + 1
    );
    let (mut sent, mut ok, mut busy) = (0u32, 0u32, 0u32);
    let start = Instant::now();
    let interval = Duration::from_secs(1) / rate;
    let mut next = start;
    let mut buf = vec![0u8; 4096];
    while start.elapsed() < length + Duration::from_secs(1) {
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let (n, _) = r.unwrap();
                match buf[..n].get(8..11) {
                    Some(b"200") => ok += 1,
                    Some(b"503") => busy += 1,
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(next.into()), if start.elapsed() < length => {
                next += interval;
                let invite = format!(
                    "INVITE sip:1580@127.0.0.1 SIP/2.0\r\n\
                     Via: SIP/2.0/UDP 127.0.0.2:{port};branch=z9hG4bKflood{sent};rport\r\n\
                     Max-Forwards: 70\r\nFrom: <sip:09{sent:08}@127.0.0.2>;tag=f{sent}\r\n\
                     To: <sip:1580@127.0.0.1>\r\nCall-ID: flood-{sent}@127.0.0.2\r\n\
                     CSeq: 1 INVITE\r\nContact: <sip:flood@127.0.0.2:{port}>\r\n\
                     Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                    sdp.len()
                );
                socket.send_to(invite.as_bytes(), target).await.unwrap();
                sent += 1;
            }
        }
    }
    (sent, ok, busy)
}

/// sipp's tally of its calls from its `-trace_stat` file: (successful, failed).
fn tally(stat_file: &std::path::Path) -> (u64, u64) {
    let text = std::fs::read_to_string(stat_file).unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(';').collect();
    let last: Vec<&str> = lines.last().unwrap_or_default().split(';').collect();
    let column = |name: &str| -> u64 {
        header
            .iter()
            .position(|h| *h == name)
            .and_then(|i| last.get(i)?.parse().ok())
            .unwrap_or(0)
    };
    (column("SuccessfulCall(C)"), column("FailedCall(C)"))
}

#[tokio::test]
async fn genuine_callers_are_served_through_a_flood_from_one_source() {
    const CAPACITY: usize = 50;
    let app = spawn_app(AppOptions {
        max_calls: CAPACITY,
        open_access: true,
        ..Default::default()
    })
    .await;
    let stats = tempfile::tempdir().unwrap();
    let stat_file = stats.path().join("genuine.csv");
    let stat = stat_file.to_str().unwrap();
    // 10× capacity: 500 INVITEs a second for 10 s from one host, while
    // 100 genuine calls of 2 s arrive at 10 a second.
    let flooding = tokio::spawn(flood(
        app.sip_addr,
        10 * CAPACITY as u32,
        Duration::from_secs(10),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let genuine = SippProcess::spawn(
        &scenario_path("genuine_calls.xml"),
        Some(app.sip_addr),
        &[
            "-s",
            "1580",
            "-m",
            "100",
            "-r",
            "10",
            "-d",
            "2000",
            "-trace_stat",
            "-stf",
            stat,
            "-fd",
            "1",
        ],
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let outcome = genuine.wait().await.unwrap();
    let (sent, ok, busy) = flooding.await.unwrap();
    let (served, failed) = tally(&stat_file);

    // Recovery: right after the flood, a call from the flooding host itself
    // is an ordinary call again within seconds.
    let stopped = Instant::now();
    let recovered = loop {
        let again = SippProcess::spawn(
            &scenario_path("genuine_calls.xml"),
            Some(app.sip_addr),
            &["-s", "1580", "-i", "127.0.0.2", "-d", "200"],
            Duration::from_secs(10),
        )
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
        if again.success {
            break stopped.elapsed();
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(20),
            "the flooding host is served again: {}",
            again.report()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let flood_rows = app
        .store()
        .list_calls(10_000)
        .await
        .unwrap()
        .iter()
        .filter(|c| c.source_addr.ip() == std::net::IpAddr::from([127, 0, 0, 2]))
        .count();
    let wavs = crate::files_under(app.recordings.path())
        .into_iter()
        .filter(|f| f.extension().is_some_and(|x| x == "wav"))
        .count();
    let metrics = crate::request(app.http_addr, "GET", "/metrics", &[], "").await;
    let refused = hotline::metrics::read(&metrics.body, "hotline_calls_flood_refused_total");
    eprintln!(
        "measured [flood]: {sent} INVITEs from one host in 10 s (10× a capacity of {CAPACITY} calls): \
         {ok} answered, {busy} refused 503 ({refused:?} by admission control), {flood_rows} of them on file; \
         genuine calls {served} served, {failed} failed ({:.1} %); {wavs} recordings on disk; \
         the flooding host served again {:.1} s after it stopped",
        100.0 * served as f64 / (served + failed).max(1) as f64,
        recovered.as_secs_f64()
    );
    assert!(
        served + failed >= 100,
        "sipp placed its calls: {}",
        outcome.report()
    );
    assert!(
        served * 100 >= 99 * (served + failed),
        "at least 99 % of the genuine calls served: {served} of {}",
        served + failed
    );
    assert!(sent >= 4000, "the flood ran at its rate: {sent}");
    assert!(
        flood_rows < 100,
        "the flood's refused INVITEs are not on file: {flood_rows} rows"
    );
    assert!(wavs <= served as usize + flood_rows, "{wavs} recordings");
}
