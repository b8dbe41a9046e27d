//! One source flooding us with INVITEs it never acknowledges, while genuine
//! callers (sipp, each call from its own number behind the trusted peer)
//! call in (issue 15): admission control keeps the flood to its limits, so
//! the genuine calls are served, the flood costs no rows or files beyond
//! its few admitted calls, and service is normal as soon as it stops.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::peers::sipp::{SippProcess, scenario_path};
use crate::{AppOptions, spawn_app};

/// The flood: INVITEs at `rate` a second for `length`, each a new call with
/// a new Call-ID and From number, none ever acknowledged. Returns (sent,
/// 200s, 503s) as the flooding host saw them. A thread of its own with a
/// blocking socket, so the rate holds whatever the server's runtime does.
fn flood(target: SocketAddr, rate: u32, length: Duration) -> (u32, u32, u32) {
    let socket = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
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
        let now = Instant::now();
        if now >= next && start.elapsed() < length {
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
            socket.send_to(invite.as_bytes(), target).unwrap();
            sent += 1;
            continue;
        }
        // Read answers until the next INVITE is due.
        let wait = next
            .saturating_duration_since(now)
            .max(Duration::from_micros(50));
        socket.set_read_timeout(Some(wait)).unwrap();
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            match buf[..n].get(8..11) {
                Some(b"200") => ok += 1,
                Some(b"503") => busy += 1,
                _ => {}
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
    // 10× a capacity of 50 calls: 500 INVITEs a second for 10 s.
    flood_while_genuine_callers_call(50, 500).await;
}

/// The bench (`docs/BENCHMARKS.md`, "Flood from one source"): the flood at
/// 10× the server's measured set-up rate (300 calls a second), 3,000
/// INVITEs a second for 10 s, with the default `max_calls`. Run with
/// `cargo test --test it -- --ignored flood_at_ten_times --nocapture`.
#[tokio::test]
#[ignore = "a benchmark: 30,000 INVITEs; run on a quiet machine"]
async fn flood_at_ten_times_the_set_up_rate() {
    flood_while_genuine_callers_call(1000, 3000).await;
}

/// One host floods at `rate` INVITEs a second for 10 s, while sipp places
/// 100 genuine calls of 2 s at 10 a second behind the trusted peer; then
/// the flooding host calls as an ordinary caller.
async fn flood_while_genuine_callers_call(capacity: usize, rate: u32) {
    let app = spawn_app(AppOptions {
        max_calls: capacity,
        open_access: true,
        ..Default::default()
    })
    .await;
    let stats = tempfile::tempdir().unwrap();
    let stat_file = stats.path().join("genuine.csv");
    let stat = stat_file.to_str().unwrap();
    let target = app.sip_addr;
    let flooding =
        tokio::task::spawn_blocking(move || flood(target, rate, Duration::from_secs(10)));
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
        "measured [flood]: {sent} INVITEs from one host in 10 s ({rate} a second; max_calls {capacity}): \
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
    assert!(sent >= 8 * rate, "the flood ran at its rate: {sent}");
    assert!(
        flood_rows < 100,
        "the flood's refused INVITEs are not on file: {flood_rows} rows"
    );
    assert!(wavs <= served as usize + flood_rows, "{wavs} recordings");
}
