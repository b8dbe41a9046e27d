//! The UA core driven with messages and a simulated clock: no sockets.

use std::time::{Duration, Instant};

use super::*;
use crate::timer::TimerConfig;

const PEER: &str = "127.0.0.1:5070";

pub(super) fn udp() -> Flow {
    Flow {
        transport: Transport::Udp,
        remote: PEER.parse().unwrap(),
    }
}

pub(super) fn endpoint() -> Endpoint {
    Endpoint::new(EndpointConfig {
        timers: TimerConfig::default(),
        advertised: "127.0.0.1:5060".into(),
        supported: Vec::new(),
        answer_guard: Duration::from_secs(32),
    })
}

fn request(
    method: &str,
    branch: &str,
    cseq: u32,
    to_tag: Option<&str>,
    extra: &str,
    body: &str,
) -> Vec<u8> {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "{method} sip:1580@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {PEER};branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"Citizen\" <sip:0611234567@127.0.0.1>;tag=caller1\r\n\
         To: <sip:1580@127.0.0.1>{to_tag}\r\n\
         Call-ID: call-1@127.0.0.1\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:0611234567@{PEER}>\r\n\
         {extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn invite() -> Vec<u8> {
    request("INVITE", "z9hG4bKinv1", 1, None, "", "")
}

/// Drains outputs into (responses' first lines with destinations, events).
pub(super) fn drain(
    ep: &mut Endpoint,
) -> (Vec<(String, std::net::SocketAddr, String)>, Vec<Event>) {
    let (mut sent, mut events) = (vec![], vec![]);
    while let Some(o) = ep.poll_output() {
        match o {
            Output::Transmit(t) => {
                let text = String::from_utf8(t.bytes).unwrap();
                let first = text.lines().next().unwrap().to_string();
                sent.push((first, t.flow.remote, text));
            }
            Output::Event(e) => events.push(e),
        }
    }
    (sent, events)
}

fn firsts(sent: &[(String, std::net::SocketAddr, String)]) -> Vec<&str> {
    sent.iter().map(|(f, _, _)| f.as_str()).collect()
}

/// INVITE in, 100 out, the key of the new call.
fn incoming(ep: &mut Endpoint, t0: Instant) -> CallKey {
    ep.handle_input(t0, udp(), &invite());
    let (sent, events) = drain(ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 100 Trying"]);
    match &events[..] {
        [Event::IncomingCall { key, .. }] => key.clone(),
        other => panic!("expected IncomingCall, got {other:?}"),
    }
}

fn local_tag(text: &str) -> String {
    let to = text.lines().find(|l| l.starts_with("To:")).unwrap();
    to.split(";tag=").nth(1).unwrap().trim().to_string()
}

/// Runs the clock to `until`, firing timers; returns what was sent.
fn advance(
    ep: &mut Endpoint,
    until: Instant,
) -> (Vec<(String, std::net::SocketAddr, String)>, Vec<Event>) {
    let (mut sent, mut events) = (vec![], vec![]);
    while let Some(at) = ep.poll_timeout() {
        if at > until {
            break;
        }
        ep.handle_timeout(at);
        let (s, e) = drain(ep);
        sent.extend(s);
        events.extend(e);
    }
    (sent, events)
}

#[test]
fn answered_call_retransmits_200_until_ack() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let key = incoming(&mut ep, t0);
    ep.respond_to_call(
        t0,
        &key,
        200,
        &[],
        Some(("application/sdp", b"v=0\r\n".to_vec())),
    )
    .unwrap();
    let (sent, _) = drain(&mut ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 200 OK"]);
    let text = &sent[0].2;
    assert!(text.contains("Contact: <sip:hotline@127.0.0.1:5060>"));
    assert!(text.contains("Content-Type: application/sdp") && text.ends_with("v=0\r\n"));
    let tag = local_tag(text);
    // Retransmitted at T1, 2T1, 4T1 while no ACK comes.
    let (sent, _) = advance(&mut ep, t0 + Duration::from_millis(3600));
    assert_eq!(firsts(&sent), vec!["SIP/2.0 200 OK"; 3]);
    ep.handle_input(
        t0 + Duration::from_secs(4),
        udp(),
        &request("ACK", "z9hG4bKack1", 1, Some(&tag), "", ""),
    );
    let (_, events) = drain(&mut ep);
    assert!(matches!(&events[..], [Event::CallConfirmed { .. }]));
    let (sent, events) = advance(&mut ep, t0 + Duration::from_secs(60));
    assert!(
        sent.is_empty() && events.is_empty(),
        "nothing after ACK: {sent:?} {events:?}"
    );
    assert_eq!(
        ep.transaction_count(),
        0,
        "Timer L ended the INVITE transaction"
    );
}

#[test]
fn an_invite_the_tu_never_answers_gets_500() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let key = incoming(&mut ep, t0);
    let (sent, _) = advance(&mut ep, t0 + Duration::from_secs(31));
    assert!(sent.is_empty());
    let (sent, _) = advance(&mut ep, t0 + Duration::from_millis(32_100));
    assert_eq!(firsts(&sent), vec!["SIP/2.0 500 Server Internal Error"]);
    assert_eq!(
        ep.respond_to_call(t0, &key, 200, &[], None),
        Err(EndpointError::UnknownCall)
    );
    assert_eq!(ep.call_count(), 0);
}

#[test]
fn retransmitted_invite_gets_the_last_response_not_a_new_call() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let key = incoming(&mut ep, t0);
    ep.handle_input(t0, udp(), &invite());
    let (sent, events) = drain(&mut ep);
    assert_eq!(
        (firsts(&sent), events.len()),
        (vec!["SIP/2.0 100 Trying"], 0)
    );
    ep.respond_to_call(t0, &key, 180, &[], None).unwrap();
    drain(&mut ep);
    ep.handle_input(t0, udp(), &invite());
    assert_eq!(firsts(&drain(&mut ep).0), vec!["SIP/2.0 180 Ringing"]);
}

#[test]
fn cancel_before_answer() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let key = incoming(&mut ep, t0);
    ep.handle_input(
        t0,
        udp(),
        &request("CANCEL", "z9hG4bKinv1", 1, None, "", ""),
    );
    let (sent, events) = drain(&mut ep);
    assert_eq!(
        firsts(&sent),
        vec!["SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated"]
    );
    assert!(sent[0].2.contains("CSeq: 1 CANCEL") && sent[1].2.contains("CSeq: 1 INVITE"));
    assert!(matches!(&events[..], [Event::CallCancelled { key: k }] if *k == key));
    assert_eq!(
        ep.respond_to_call(t0, &key, 200, &[], None),
        Err(EndpointError::UnknownCall)
    );
    // The 487 is retransmitted until its ACK, which is absorbed.
    let (sent, _) = advance(&mut ep, t0 + Duration::from_millis(600));
    assert_eq!(firsts(&sent), vec!["SIP/2.0 487 Request Terminated"]);
    let tag = local_tag(&sent[0].2);
    ep.handle_input(
        t0,
        udp(),
        &request("ACK", "z9hG4bKinv1", 1, Some(&tag), "", ""),
    );
    let (sent, events) = advance(&mut ep, t0 + Duration::from_secs(60));
    assert!(sent.is_empty() && events.is_empty());
    assert_eq!(ep.transaction_count(), 0);
}

#[test]
fn cancel_for_unknown_transaction_is_481() {
    let mut ep = endpoint();
    ep.handle_input(
        Instant::now(),
        udp(),
        &request("CANCEL", "z9hG4bKnone", 1, None, "", ""),
    );
    assert_eq!(
        firsts(&drain(&mut ep).0),
        vec!["SIP/2.0 481 Call/Transaction Does Not Exist"]
    );
}

fn established(ep: &mut Endpoint, t0: Instant) -> (CallKey, String) {
    let key = incoming(ep, t0);
    ep.respond_to_call(t0, &key, 200, &[], None).unwrap();
    let (sent, _) = drain(ep);
    let tag = local_tag(&sent[0].2);
    ep.handle_input(
        t0,
        udp(),
        &request("ACK", "z9hG4bKack1", 1, Some(&tag), "", ""),
    );
    drain(ep);
    (key, tag)
}

#[test]
fn bye_from_caller_and_its_retransmission() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (key, tag) = established(&mut ep, t0);
    let bye = request("BYE", "z9hG4bKbye1", 2, Some(&tag), "", "");
    ep.handle_input(t0, udp(), &bye);
    let (sent, events) = drain(&mut ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 200 OK"]);
    assert!(matches!(&events[..], [Event::RemoteHangup { key: k }] if *k == key));
    ep.handle_input(t0, udp(), &bye);
    let (sent, events) = drain(&mut ep);
    assert_eq!(
        (firsts(&sent), events.len()),
        (vec!["SIP/2.0 200 OK"], 0),
        "retransmission answered, once reported"
    );
    // A new BYE in the dialog that is gone: 481.
    ep.handle_input(
        t0,
        udp(),
        &request("BYE", "z9hG4bKbye2", 3, Some(&tag), "", ""),
    );
    assert_eq!(
        firsts(&drain(&mut ep).0),
        vec!["SIP/2.0 481 Call/Transaction Does Not Exist"]
    );
    assert_eq!(ep.call_count(), 0);
}

#[test]
fn our_bye_is_built_from_the_dialog_and_completes() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (key, tag) = established(&mut ep, t0);
    ep.hangup(t0, &key).unwrap();
    let (sent, _) = drain(&mut ep);
    assert_eq!(sent.len(), 1);
    let (first, dest, text) = &sent[0];
    assert_eq!(first, &format!("BYE sip:0611234567@{PEER} SIP/2.0"));
    assert_eq!(dest.to_string(), PEER);
    assert!(text.contains(&format!("From: <sip:1580@127.0.0.1>;tag={tag}")));
    assert!(text.contains("To: \"Citizen\" <sip:0611234567@127.0.0.1>;tag=caller1"));
    assert!(text.contains("Call-ID: call-1@127.0.0.1"));
    // Retransmitted (Timer E) until answered.
    let (again, _) = advance(&mut ep, t0 + Duration::from_millis(600));
    assert_eq!(again.len(), 1);
    let via = text
        .lines()
        .find(|l| l.starts_with("Via:"))
        .unwrap()
        .to_string();
    let cseq = text
        .lines()
        .find(|l| l.starts_with("CSeq:"))
        .unwrap()
        .to_string();
    let ok = format!(
        "SIP/2.0 200 OK\r\n{via}\r\nFrom: <sip:1580@127.0.0.1>;tag={tag}\r\n\
         To: <sip:0611234567@127.0.0.1>;tag=caller1\r\nCall-ID: call-1@127.0.0.1\r\n{cseq}\r\nContent-Length: 0\r\n\r\n"
    );
    ep.handle_input(t0 + Duration::from_secs(1), udp(), ok.as_bytes());
    let (_, events) = drain(&mut ep);
    assert!(matches!(&events[..], [Event::CallTerminated { key: k }] if *k == key));
    assert_eq!(ep.call_count(), 0);
}

#[test]
fn hangup_before_ack_waits_for_the_ack() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let key = incoming(&mut ep, t0);
    ep.respond_to_call(t0, &key, 200, &[], None).unwrap();
    let tag = local_tag(&drain(&mut ep).0[0].2);
    ep.hangup(t0, &key).unwrap();
    assert!(drain(&mut ep).0.is_empty(), "no BYE before the ACK");
    ep.handle_input(
        t0,
        udp(),
        &request("ACK", "z9hG4bKack1", 1, Some(&tag), "", ""),
    );
    let (sent, _) = drain(&mut ep);
    assert!(firsts(&sent)[0].starts_with("BYE "));
}

#[test]
fn missing_ack_ends_the_call_after_64_t1() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let key = incoming(&mut ep, t0);
    ep.respond_to_call(t0, &key, 200, &[], None).unwrap();
    drain(&mut ep);
    let (sent, events) = advance(&mut ep, t0 + Duration::from_secs(33));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::AckTimeout { key: k } if *k == key))
    );
    assert!(
        firsts(&sent).iter().any(|l| l.starts_with("BYE ")),
        "BYE sent after giving up"
    );
}

#[test]
fn reinvite_and_cseq_order() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (key, tag) = established(&mut ep, t0);
    let sdp = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n";
    ep.handle_input(
        t0,
        udp(),
        &request(
            "INVITE",
            "z9hG4bKre1",
            2,
            Some(&tag),
            "Content-Type: application/sdp\r\n",
            sdp,
        ),
    );
    let (sent, events) = drain(&mut ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 100 Trying"]);
    assert!(matches!(&events[..], [Event::ReInvite { .. }]));
    // A second re-INVITE while the first is pending: 500 with Retry-After.
    ep.handle_input(
        t0,
        udp(),
        &request("INVITE", "z9hG4bKre2", 3, Some(&tag), "", ""),
    );
    let (sent, _) = drain(&mut ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 500 Server Internal Error"]);
    assert!(sent[0].2.contains("Retry-After:"));
    ep.respond_to_reinvite(
        t0,
        &key,
        200,
        Some(("application/sdp", b"v=0\r\n".to_vec())),
    )
    .unwrap();
    assert_eq!(firsts(&drain(&mut ep).0), vec!["SIP/2.0 200 OK"]);
    ep.handle_input(
        t0,
        udp(),
        &request("ACK", "z9hG4bKack2", 2, Some(&tag), "", ""),
    );
    // An old CSeq is out of order.
    ep.handle_input(
        t0,
        udp(),
        &request("INFO", "z9hG4bKold", 1, Some(&tag), "", ""),
    );
    assert_eq!(
        firsts(&drain(&mut ep).0),
        vec!["SIP/2.0 500 Server Internal Error"]
    );
    // INFO with DTMF is passed up.
    let body = "Signal=5\r\nDuration=160\r\n";
    ep.handle_input(
        t0,
        udp(),
        &request(
            "INFO",
            "z9hG4bKinfo",
            4,
            Some(&tag),
            "Content-Type: application/dtmf-relay\r\n",
            body,
        ),
    );
    let (sent, events) = drain(&mut ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 200 OK"]);
    assert!(matches!(&events[..], [Event::Info { .. }]));
}

#[test]
fn out_of_dialog_requests() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let cases = [
        ("OPTIONS", "", "SIP/2.0 200 OK"),
        ("MESSAGE", "", "SIP/2.0 405 Method Not Allowed"),
        ("BYE", "", "SIP/2.0 481 Call/Transaction Does Not Exist"),
        ("INVITE", "Require: 100rel\r\n", "SIP/2.0 420 Bad Extension"),
    ];
    for (i, (method, extra, expected)) in cases.into_iter().enumerate() {
        ep.handle_input(
            t0,
            udp(),
            &request(method, &format!("z9hG4bKo{i}"), 1, None, extra, ""),
        );
        let (sent, _) = drain(&mut ep);
        assert_eq!(firsts(&sent), vec![expected], "{method}");
        if method == "OPTIONS" {
            assert!(
                sent[0]
                    .2
                    .contains("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO")
            );
        }
    }
    let hops = String::from_utf8(invite())
        .unwrap()
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    ep.handle_input(
        t0,
        udp(),
        hops.replace("z9hG4bKinv1", "z9hG4bKmf").as_bytes(),
    );
    assert_eq!(firsts(&drain(&mut ep).0), vec!["SIP/2.0 483 Too Many Hops"]);
}

#[test]
fn responses_go_to_the_source_with_rport_else_via_port() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let nat = Flow {
        transport: Transport::Udp,
        remote: "127.0.0.1:40000".parse().unwrap(),
    };
    let text = String::from_utf8(request("OPTIONS", "z9hG4bKr1", 1, None, "", "")).unwrap();
    ep.handle_input(t0, nat, text.as_bytes());
    let (sent, _) = drain(&mut ep);
    assert_eq!(sent[0].1.to_string(), "127.0.0.1:40000");
    assert!(sent[0].2.contains(";rport=40000;received=127.0.0.1"));
    let no_rport = text.replace(";rport", "").replace("z9hG4bKr1", "z9hG4bKr2");
    ep.handle_input(t0, nat, no_rport.as_bytes());
    assert_eq!(drain(&mut ep).0[0].1.to_string(), PEER);
}

#[test]
fn shutting_down_refuses_new_calls() {
    let mut ep = endpoint();
    ep.stop_accepting();
    ep.handle_input(Instant::now(), udp(), &invite());
    let (sent, events) = drain(&mut ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 503 Service Unavailable"]);
    assert!(events.is_empty());
}

#[test]
fn reliable_transport_does_not_retransmit() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let tcp = Flow {
        transport: Transport::Tcp,
        remote: PEER.parse().unwrap(),
    };
    ep.handle_input(t0, tcp, &invite());
    let (_, events) = drain(&mut ep);
    let Event::IncomingCall { key, .. } = &events[0] else {
        panic!()
    };
    ep.respond_to_call(t0, key, 200, &[], None).unwrap();
    let (sent, _) = drain(&mut ep);
    assert!(
        sent[0]
            .2
            .contains("Contact: <sip:hotline@127.0.0.1:5060;transport=tcp>")
    );
    let (sent, _) = advance(&mut ep, t0 + Duration::from_secs(10));
    assert!(sent.is_empty());
}

#[test]
fn malformed_requests_get_400_or_are_dropped_and_nothing_panics() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let no_call_id = String::from_utf8(invite())
        .unwrap()
        .replace("Call-ID: call-1@127.0.0.1\r\n", "");
    ep.handle_input(t0, udp(), no_call_id.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 400 Bad Request"]);
    assert!(sent[0].2.contains("Warning: 399 hotline"));
    assert!(events.is_empty());
    let wrong_method = String::from_utf8(invite())
        .unwrap()
        .replace("CSeq: 1 INVITE", "CSeq: 1 BYE");
    ep.handle_input(t0, udp(), wrong_method.as_bytes());
    assert_eq!(firsts(&drain(&mut ep).0), vec!["SIP/2.0 400 Bad Request"]);
    // Mutilated messages: whatever they parse as, never a panic.
    let mut seed = 0x9E3779B97F4A7C15u64;
    let base = invite();
    for i in 0..5000 {
        let mut bytes = base.clone();
        for _ in 0..(i % 8 + 1) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let pos = (seed as usize) % bytes.len();
            bytes[pos] = (seed >> 32) as u8;
        }
        if i % 3 == 0 {
            bytes.truncate((seed as usize >> 8) % bytes.len());
        }
        ep.handle_input(t0, udp(), &bytes);
        while ep.poll_output().is_some() {}
    }
}

/// One answer to `bytes` over UDP: its status line and the whole text.
fn answer_to(bytes: &[u8]) -> (String, String) {
    let mut ep = endpoint();
    ep.handle_input(Instant::now(), udp(), bytes);
    let (sent, _) = drain(&mut ep);
    let (first, _, text) = sent
        .into_iter()
        .find(|(f, _, _)| !f.contains(" 100 "))
        .expect("an answer");
    (first, text)
}

#[test]
fn what_the_issue_found_misread_is_read_as_rfc_3261_says() {
    let invite = String::from_utf8(invite()).unwrap();
    // LWS around the Via's slashes: a call, not silence.
    let spaced = invite.replace("Via: SIP/2.0/UDP", "Via: SIP / 2.0 / UDP");
    let mut ep = endpoint();
    incoming_bytes(&mut ep, spaced.as_bytes());
    // Each single-valued header twice: 400 naming it.
    for (header, line) in [
        ("Call-ID", "Call-ID: other@127.0.0.1\r\n"),
        ("From", "From: <sip:x@127.0.0.1>;tag=x\r\n"),
        ("To", "To: <sip:y@127.0.0.1>\r\n"),
        ("CSeq", "CSeq: 2 INVITE\r\n"),
        ("Max-Forwards", "Max-Forwards: 69\r\n"),
        ("Content-Length", "Content-Length: 0\r\n"),
    ] {
        let twice = invite.replace("Contact:", &format!("{line}Contact:"));
        let (first, text) = answer_to(twice.as_bytes());
        assert_eq!(first, "SIP/2.0 400 Bad Request", "{header}");
        assert!(
            text.contains(&format!("{header} appears more than once")),
            "{text}"
        );
    }
    let unterminated = invite.replace("\"Citizen\"", "\"Citizen");
    assert_eq!(
        answer_to(unterminated.as_bytes()).0,
        "SIP/2.0 400 Bad Request"
    );
    let long = invite.replace("sip:1580@", &format!("sip:{}@", "1".repeat(8000)));
    assert_eq!(
        answer_to(long.as_bytes()).0,
        "SIP/2.0 414 Request-URI Too Long"
    );
    let version = invite.replacen("SIP/2.0\r\n", "SIP/7.0\r\n", 1);
    assert_eq!(
        answer_to(version.as_bytes()).0,
        "SIP/2.0 505 Version Not Supported"
    );
    for method in ["invite", "FROB", "R%45GISTER"] {
        let unknown = invite
            .replacen("INVITE", method, 1)
            .replace("1 INVITE", &format!("1 {method}"));
        assert_eq!(
            answer_to(unknown.as_bytes()).0,
            "SIP/2.0 501 Not Implemented",
            "{method}"
        );
    }
    let text_body = String::from_utf8(request(
        "INVITE",
        "z9hG4bKtxt",
        1,
        None,
        "Content-Type: text/plain\r\n",
        "hello",
    ))
    .unwrap();
    let (first, text) = answer_to(text_body.as_bytes());
    assert_eq!(first, "SIP/2.0 415 Unsupported Media Type");
    assert!(text.contains("Accept: application/sdp\r\n"), "{text}");
    // A user part with ';' (RFC 4475 §3.1.1.9) is a call like any other.
    let semi = invite.replacen("sip:1580@", "sip:1580;ext=1@", 1);
    incoming_bytes(&mut endpoint(), semi.as_bytes());
}

/// An INVITE in, a call out.
fn incoming_bytes(ep: &mut Endpoint, bytes: &[u8]) {
    ep.handle_input(Instant::now(), udp(), bytes);
    let (sent, events) = drain(ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 100 Trying"], "{sent:?}");
    assert!(
        matches!(&events[..], [Event::IncomingCall { .. }]),
        "{events:?}"
    );
}

/// Found by fuzzing: a bare LF inside a header line must not smuggle a
/// header into the error answer, which copies the request's headers.
#[test]
fn an_error_answer_carries_no_header_smuggled_in_by_a_bare_lf() {
    let smuggled = "OPTIONS sip:user@example.com SIP/1.0\r\nTo: <sip:user@example.com>\r\n\
        From: <sip:caller@example.com>;tag=323\r\nCall-ID: x@y\r\nCSeq: 60 OPTIONS\r\n\
        Via: SIP/2.0/UDP funky.examp\nl: 0\nX-Injected: yes\r\n\r\n";
    let error = crate::wire::parse(smuggled.as_bytes()).unwrap_err();
    let answer = crate::wire::error_response(smuggled.as_bytes(), &error).expect("an answer");
    let answer = String::from_utf8(answer).unwrap();
    assert!(
        !answer.contains("X-Injected") && !answer.contains("\nl: 0"),
        "{answer}"
    );
    assert_eq!(
        crate::wire::check_frame(answer.as_bytes()),
        Ok(crate::wire::Frame::Complete(answer.len()))
    );
}

#[test]
fn a_message_too_large_for_a_stream_is_answered_513() {
    let mut big = String::from_utf8(invite()).unwrap();
    let filler = format!("X-Filler: {}\r\n", "a".repeat(1000));
    big = big.replace("Contact:", &format!("{}Contact:", filler.repeat(70)));
    let error = crate::wire::check_frame(big.as_bytes()).unwrap_err();
    let answer = crate::wire::error_response(big.as_bytes(), &error).expect("an answer");
    let answer = String::from_utf8(answer).unwrap();
    assert!(
        answer.starts_with("SIP/2.0 513 Message Too Large\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Call-ID: call-1@127.0.0.1\r\n"));
}

#[test]
fn register_is_handed_to_the_tu_and_its_answer_absorbs_retransmissions() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let reg = request("REGISTER", "z9hG4bKreg1", 1, None, "", "");
    ep.handle_input(t0, udp(), &reg);
    let (sent, events) = drain(&mut ep);
    assert!(sent.is_empty(), "no answer before the TU's");
    let Some(Event::Register {
        id,
        request,
        source,
    }) = events.into_iter().next()
    else {
        panic!("Register expected")
    };
    // A retransmission while the TU works: absorbed, no second event.
    ep.handle_input(t0, udp(), &reg);
    let (sent, events) = drain(&mut ep);
    assert!(sent.is_empty() && events.is_empty());
    assert!(ep.respond(
        t0,
        &id,
        &request,
        source,
        200,
        &[("Contact", "<sip:1001@127.0.0.1:5070>;expires=60".into())]
    ));
    let (sent, _) = drain(&mut ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 200 OK"]);
    assert!(
        sent[0]
            .2
            .contains("Contact: <sip:1001@127.0.0.1:5070>;expires=60")
    );
    ep.handle_input(t0, udp(), &reg);
    assert_eq!(
        firsts(&drain(&mut ep).0),
        vec!["SIP/2.0 200 OK"],
        "retransmission answered again"
    );
    assert!(
        !ep.respond(t0, &id, &request, source, 500, &[]),
        "one final answer only"
    );
}

// ----- outgoing legs (ringing an operator) -----

const PHONE: &str = "127.0.0.1:5062";

fn phone() -> Flow {
    Flow {
        transport: Transport::Udp,
        remote: PHONE.parse().unwrap(),
    }
}

/// A response from the phone to our INVITE (or CANCEL), built from it.
fn leg_response(invite: &str, code: u16, cseq_method: &str) -> Vec<u8> {
    let line = |name: &str| {
        invite
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .to_string()
    };
    let (via, from, call_id) = (line("Via:"), line("From:"), line("Call-ID:"));
    let to = if code > 100 {
        format!("{};tag=phone", line("To:"))
    } else {
        line("To:")
    };
    let cseq = format!("CSeq: 1 {cseq_method}");
    let contact = if (200..300).contains(&code) {
        format!("Contact: <sip:1001@{PHONE}>\r\n")
    } else {
        String::new()
    };
    let body = if (200..300).contains(&code) && cseq_method == "INVITE" {
        "v=0\r\n"
    } else {
        ""
    };
    format!(
        "SIP/2.0 {code} X\r\n{via}\r\n{from}\r\n{to}\r\n{call_id}\r\n{cseq}\r\n{contact}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn ring(ep: &mut Endpoint, t0: Instant) -> (LegKey, String) {
    let key = ep.invite(
        t0,
        phone(),
        &format!("sip:1001@{PHONE}"),
        "+380611234567",
        Some("Citizen"),
        b"v=0\r\n".to_vec(),
    );
    let (sent, _) = drain(ep);
    assert_eq!(sent.len(), 1);
    let (first, dest, text) = &sent[0];
    assert_eq!(first, &format!("INVITE sip:1001@{PHONE} SIP/2.0"));
    assert_eq!(dest.to_string(), PHONE);
    assert!(text.contains("From: \"Citizen\" <sip:+380611234567@127.0.0.1:5060>;tag="));
    assert!(text.contains("Content-Type: application/sdp") && text.ends_with("v=0\r\n"));
    (key, text.clone())
}

#[test]
fn leg_rings_is_answered_acked_and_hung_up_by_the_phone() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (key, invite) = ring(&mut ep, t0);
    ep.handle_input(t0, phone(), &leg_response(&invite, 180, "INVITE"));
    let (_, events) = drain(&mut ep);
    assert!(matches!(&events[..], [Event::LegProgress { key: k, code: 180, .. }] if *k == key));
    ep.handle_input(t0, phone(), &leg_response(&invite, 200, "INVITE"));
    let (sent, events) = drain(&mut ep);
    assert!(
        matches!(&events[..], [Event::LegAnswered { key: k, body }] if *k == key && body == b"v=0\r\n")
    );
    let ack = &sent[0].2;
    assert!(
        ack.starts_with(&format!("ACK sip:1001@{PHONE} SIP/2.0")),
        "{ack}"
    );
    assert!(ack.contains("CSeq: 1 ACK") && ack.contains("tag=phone"));
    let invite_branch = invite
        .split("branch=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    assert!(
        !ack.contains(invite_branch),
        "an ACK for a 2xx has its own branch"
    );
    // The 200 again (our ACK was lost): ACK again, no second event.
    ep.handle_input(t0, phone(), &leg_response(&invite, 200, "INVITE"));
    let (sent, events) = drain(&mut ep);
    assert_eq!((firsts(&sent).len(), events.len()), (1, 0));
    assert!(sent[0].0.starts_with("ACK "));
    // The operator hangs up.
    let our_tag = our_tag(&invite);
    let bye = format!(
        "BYE sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bKpb\r\n\
         From: <sip:1001@127.0.0.1>;tag=phone\r\nTo: <sip:+380611234567@127.0.0.1:5060>;tag={our_tag}\r\n\
         Call-ID: {key}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    ep.handle_input(t0, phone(), bye.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 200 OK"]);
    assert!(matches!(&events[..], [Event::LegEnded { key: k }] if *k == key));
    assert_eq!(ep.leg_count(), 0);
}

#[test]
fn leg_ended_before_ringing_is_cancelled_once_it_rings() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (key, invite) = ring(&mut ep, t0);
    ep.end_leg(t0, &key);
    assert!(
        drain(&mut ep).0.is_empty(),
        "no CANCEL before a provisional (§9.1)"
    );
    ep.handle_input(t0, phone(), &leg_response(&invite, 180, "INVITE"));
    let (sent, events) = drain(&mut ep);
    assert!(events.is_empty());
    let cancel = &sent[0].2;
    assert!(
        cancel.starts_with(&format!("CANCEL sip:1001@{PHONE} SIP/2.0"))
            && cancel.contains("CSeq: 1 CANCEL")
    );
    ep.handle_input(t0, phone(), &leg_response(&invite, 200, "CANCEL"));
    ep.handle_input(t0, phone(), &leg_response(&invite, 487, "INVITE"));
    let (sent, events) = drain(&mut ep);
    assert!(
        sent.iter()
            .any(|(f, _, t)| f.starts_with("ACK ") && t.contains("CSeq: 1 ACK")),
        "487 acknowledged"
    );
    assert!(matches!(&events[..], [Event::LegFailed { key: k, code: 487 }] if *k == key));
    assert_eq!(ep.leg_count(), 0);
}

#[test]
fn answered_leg_is_ended_with_bye_and_a_200_crossing_cancel_is_byed() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (key, invite) = ring(&mut ep, t0);
    ep.handle_input(t0, phone(), &leg_response(&invite, 200, "INVITE"));
    drain(&mut ep);
    ep.end_leg(t0, &key);
    let (sent, _) = drain(&mut ep);
    let bye = &sent[0].2;
    assert!(
        bye.starts_with(&format!("BYE sip:1001@{PHONE} SIP/2.0")) && bye.contains("CSeq: 2 BYE"),
        "{bye}"
    );
    let via = bye.lines().find(|l| l.starts_with("Via:")).unwrap();
    let ok = String::from_utf8(leg_response(&invite, 200, "BYE"))
        .unwrap()
        .replace(invite.lines().find(|l| l.starts_with("Via:")).unwrap(), via);
    ep.handle_input(
        t0,
        phone(),
        ok.replace("CSeq: 1 BYE", "CSeq: 2 BYE").as_bytes(),
    );
    let (_, events) = drain(&mut ep);
    assert!(matches!(&events[..], [Event::LegTerminated { key: k }] if *k == key));

    // Ended while ringing, but the phone answered at the same moment.
    let (key, invite) = ring(&mut ep, t0);
    ep.handle_input(t0, phone(), &leg_response(&invite, 180, "INVITE"));
    drain(&mut ep);
    ep.end_leg(t0, &key);
    drain(&mut ep);
    ep.handle_input(t0, phone(), &leg_response(&invite, 200, "INVITE"));
    let (sent, events) = drain(&mut ep);
    assert_eq!(
        firsts(&sent).iter().map(|f| &f[..3]).collect::<Vec<_>>(),
        vec!["ACK", "BYE"]
    );
    assert!(
        events.is_empty(),
        "the caller of end_leg gets LegTerminated, not LegAnswered"
    );
}

#[test]
fn busy_and_silent_phones_fail_the_leg() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (key, invite) = ring(&mut ep, t0);
    ep.handle_input(t0, phone(), &leg_response(&invite, 486, "INVITE"));
    let (sent, events) = drain(&mut ep);
    assert!(sent[0].0.starts_with("ACK "));
    assert!(matches!(&events[..], [Event::LegFailed { key: k, code: 486 }] if *k == key));
    let (key, _) = ring(&mut ep, t0);
    let (sent, events) = advance(&mut ep, t0 + Duration::from_secs(33));
    assert_eq!(
        sent.len(),
        6,
        "INVITE retransmitted at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s"
    );
    assert!(matches!(&events[..], [Event::LegFailed { key: k, code: 408 }] if *k == key));
}

#[test]
fn a_cancel_that_brings_no_final_still_ends_the_leg_and_100_allows_cancel() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (key, invite) = ring(&mut ep, t0);
    // Only "100 Trying", then we give up: CANCEL goes out at once.
    ep.handle_input(t0, phone(), &leg_response(&invite, 100, "INVITE"));
    assert!(
        drain(&mut ep).1.is_empty(),
        "100 is not reported as progress"
    );
    ep.end_leg(t0, &key);
    let (sent, _) = drain(&mut ep);
    assert!(sent[0].0.starts_with("CANCEL "));
    // A repeated provisional does not send a second CANCEL nor report progress.
    ep.handle_input(t0, phone(), &leg_response(&invite, 180, "INVITE"));
    let (sent, events) = drain(&mut ep);
    assert!(sent.is_empty() && events.is_empty());
    // The phone never answers again: the leg ends after 64·T1 all the same.
    let (_, events) = advance(&mut ep, t0 + Duration::from_secs(40));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::LegFailed { key: k, code: 408 } if *k == key)),
        "{events:?}"
    );
    assert_eq!(ep.leg_count(), 0);
}

/// Our From tag in the INVITE we sent.
fn our_tag(invite: &str) -> String {
    invite
        .split("tag=")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string()
}

/// A leg answered by the phone, and our tag on it.
fn answered_leg(ep: &mut Endpoint, t0: Instant) -> (LegKey, String) {
    let (key, invite) = ring(ep, t0);
    ep.handle_input(t0, phone(), &leg_response(&invite, 200, "INVITE"));
    drain(ep);
    (key, our_tag(&invite))
}

/// An in-dialog request from the phone on a leg.
fn from_phone(
    key: &LegKey,
    our_tag: &str,
    method: &str,
    cseq: u32,
    extra: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bK{method}{cseq}\r\n\
         From: <sip:1001@127.0.0.1>;tag=phone\r\nTo: <sip:+380611234567@127.0.0.1:5060>;tag={our_tag}\r\n\
         Call-ID: {key}\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn a_re_invite_on_a_leg_is_answered_by_the_tu_and_its_2xx_repeated_until_ack() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (key, tag) = answered_leg(&mut ep, t0);
    let hold = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n";
    let contact = format!("Contact: <sip:1001@{PHONE};moved>\r\nContent-Type: application/sdp\r\n");
    ep.handle_input(
        t0,
        phone(),
        &from_phone(&key, &tag, "INVITE", 2, &contact, hold),
    );
    let (sent, events) = drain(&mut ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 100 Trying"]);
    assert!(matches!(&events[..], [Event::LegReInvite { key: k, .. }] if *k == key));
    // A second one while the first is open: 500 with Retry-After (§14.2).
    ep.handle_input(
        t0,
        phone(),
        &from_phone(&key, &tag, "INVITE", 3, &contact, hold),
    );
    let (sent, events) = drain(&mut ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 500 Server Internal Error"]);
    assert!(sent[0].2.contains("Retry-After: "), "{}", sent[0].2);
    assert!(events.is_empty());

    ep.respond_to_leg_reinvite(
        t0,
        &key,
        200,
        Some(("application/sdp", b"v=0\r\n".to_vec())),
    );
    let (sent, _) = drain(&mut ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 200 OK"]);
    assert!(sent[0].2.contains("Contact: ") && sent[0].2.contains("REFER"));
    // Not acknowledged: sent again after T1 (the 500 too, until its ACK).
    ep.handle_timeout(t0 + Duration::from_millis(600));
    let (sent, _) = drain(&mut ep);
    assert!(firsts(&sent).contains(&"SIP/2.0 200 OK"), "{sent:?}");
    // The ACK carries an answer (had the re-INVITE been offer-less).
    ep.handle_input(
        t0,
        phone(),
        &from_phone(&key, &tag, "ACK", 2, "", "v=0\r\n"),
    );
    let (_, events) = drain(&mut ep);
    assert!(
        matches!(&events[..], [Event::LegConfirmed { key: k, body }] if *k == key && body == b"v=0\r\n")
    );
    ep.handle_timeout(t0 + Duration::from_secs(3));
    let (sent, _) = drain(&mut ep);
    assert!(
        !firsts(&sent).contains(&"SIP/2.0 200 OK"),
        "no more 200s after the ACK: {sent:?}"
    );
    // The accepted re-INVITE moved the target: our BYE goes there.
    ep.end_leg(t0 + Duration::from_secs(3), &key);
    let (sent, _) = drain(&mut ep);
    let bye = format!("BYE sip:1001@{PHONE};moved SIP/2.0");
    assert!(firsts(&sent).contains(&bye.as_str()), "{sent:?}");
}

#[test]
fn refer_on_a_leg_is_accepted_and_its_outcome_notified() {
    let t0 = Instant::now();
    let mut ep = endpoint();
    let (key, tag) = answered_leg(&mut ep, t0);
    let refer_to = "Refer-To: <sip:emergency@127.0.0.1:5060>\r\n";
    ep.handle_input(
        t0,
        phone(),
        &from_phone(&key, &tag, "REFER", 2, refer_to, ""),
    );
    let (sent, events) = drain(&mut ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 202 Accepted"]);
    assert!(matches!(
        &events[..],
        [Event::LegRefer { key: k, target }] if *k == key && target == "sip:emergency@127.0.0.1:5060"
    ));
    ep.notify_transfer(t0, &key, 200);
    let (sent, _) = drain(&mut ep);
    let notify = &sent[0].2;
    assert!(
        notify.starts_with(&format!("NOTIFY sip:1001@{PHONE} SIP/2.0")),
        "{notify}"
    );
    for part in [
        "Event: refer",
        "Subscription-State: terminated;reason=noresource",
        "Content-Type: message/sipfrag;version=2.0",
        "Contact: ",
        "CSeq: 2 NOTIFY",
    ] {
        assert!(notify.contains(part), "{part} missing: {notify}");
    }
    assert!(notify.ends_with("SIP/2.0 200 OK"), "{notify}");
    // A REFER without Refer-To is a bad request.
    ep.handle_input(t0, phone(), &from_phone(&key, &tag, "REFER", 3, "", ""));
    let (sent, events) = drain(&mut ep);
    assert_eq!(firsts(&sent), vec!["SIP/2.0 400 Bad Request"]);
    assert!(events.is_empty());
}

#[test]
fn a_dial_answers_one_digest_challenge_and_reports_early_media() {
    use crate::legs::{Dial, LegAuth};
    let t0 = Instant::now();
    let mut ep = endpoint();
    let key = ep.dial(
        t0,
        phone(),
        Dial {
            target: format!("sip:0671234567@{PHONE}"),
            from_user: "1580".into(),
            from_host: Some("trunk.example".into()),
            display: Some("15-80".into()),
            asserted: Some("sip:+380611580@trunk.example".into()),
            sdp: b"v=0\r\n".to_vec(),
            auth: Some(LegAuth {
                username: "hotline".into(),
                password: "secret".into(),
            }),
            call_id: None,
        },
    );
    let (sent, _) = drain(&mut ep);
    let invite = sent[0].2.clone();
    assert!(invite.contains("From: \"15-80\" <sip:1580@trunk.example>;tag="));
    assert!(invite.contains("P-Asserted-Identity: <sip:+380611580@trunk.example>"));
    // The trunk challenges: ACK (by the transaction), then the INVITE
    // again with the answer, the next CSeq and a new branch.
    let challenge = String::from_utf8(leg_response(&invite, 407, "INVITE"))
        .unwrap()
        .replace(
            "Content-Length: 0",
            "Proxy-Authenticate: Digest realm=\"trunk\", nonce=\"abc\", qop=\"auth\", algorithm=MD5\r\nContent-Length: 0",
        );
    ep.handle_input(t0, phone(), challenge.as_bytes());
    let (sent, events) = drain(&mut ep);
    assert!(
        events.is_empty(),
        "a challenge answered is no failure: {events:?}"
    );
    let firsts: Vec<&str> = sent.iter().map(|(f, _, _)| f.as_str()).collect();
    assert_eq!(firsts.len(), 2, "{firsts:?}");
    assert!(firsts[0].starts_with("ACK "));
    let again = sent[1].2.clone();
    assert!(again.starts_with("INVITE sip:0671234567@"));
    assert!(again.contains("CSeq: 2 INVITE"), "{again}");
    assert!(again.contains(
        "Proxy-Authorization: Digest username=\"hotline\", realm=\"trunk\", nonce=\"abc\""
    ));
    assert_eq!(line_of(&again, "Call-ID:"), line_of(&invite, "Call-ID:"));
    assert_eq!(our_tag(&again), our_tag(&invite));
    assert_ne!(line_of(&again, "Via:"), line_of(&invite, "Via:"));
    // Early media, then a second challenge: the credentials are wrong.
    let early = String::from_utf8(leg_response(&again, 183, "INVITE"))
        .unwrap()
        .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE")
        .replace(
            "Content-Length: 0\r\n\r\n",
            "Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n",
        );
    ep.handle_input(t0, phone(), early.as_bytes());
    let (_, events) = drain(&mut ep);
    assert!(
        matches!(&events[..], [Event::LegProgress { key: k, code: 183, body }] if *k == key && body == b"v=0\r\n"),
        "{events:?}"
    );
    let refused = String::from_utf8(leg_response(&again, 407, "INVITE"))
        .unwrap()
        .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE")
        .replace(
            "Content-Length: 0",
            "Proxy-Authenticate: Digest realm=\"trunk\", nonce=\"def\"\r\nContent-Length: 0",
        );
    ep.handle_input(t0, phone(), refused.as_bytes());
    let (_, events) = drain(&mut ep);
    assert!(
        matches!(&events[..], [Event::LegFailed { key: k, code: 407 }] if *k == key),
        "{events:?}"
    );
    assert_eq!(ep.leg_count(), 0);
}

fn line_of(text: &str, name: &str) -> String {
    text.lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_default()
        .to_string()
}
