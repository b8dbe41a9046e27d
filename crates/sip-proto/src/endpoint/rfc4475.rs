//! RFC 4475's torture messages, byte for byte from the RFC's archive
//! (`tests/rfc4475/`), each given to the endpoint as a datagram: what it
//! answers, or whether it takes the call or hands the REGISTER on, is what
//! the RFC says a UAS should do (the stance on each is in `docs/sip.md`).

use std::time::Instant;

use super::tests::{drain, endpoint, udp};
use super::*;

/// What the endpoint made of a message.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// A new call for the TU (after 100 Trying).
    Call,
    /// A REGISTER handed to the TU (the registrar).
    Register,
    /// A final response with this code.
    Answer(u16),
    /// Nothing sent, nothing raised (responses to no transaction of ours).
    Nothing,
}

pub(super) fn message(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/rfc4475/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn outcome(bytes: &[u8]) -> Outcome {
    let mut ep = endpoint();
    ep.handle_input(Instant::now(), udp(), bytes);
    let (sent, events) = drain(&mut ep);
    let finals: Vec<u16> = sent
        .iter()
        .filter_map(|(first, _, _)| first.split_whitespace().nth(1)?.parse().ok())
        .filter(|code| *code >= 200)
        .collect();
    match (&finals[..], &events[..]) {
        ([], [Event::IncomingCall { .. }]) => Outcome::Call,
        ([], [Event::Register { .. }]) => Outcome::Register,
        ([code], []) => Outcome::Answer(*code),
        ([], []) => Outcome::Nothing,
        other => panic!("unexpected: {other:?} {sent:?}"),
    }
}

/// Every message of the RFC with what the endpoint does with it, checked
/// against the RFC's text section by section (the third column).
const CASES: [(&str, Outcome, &str); 49] = [
    // 3.1.1: valid messages.
    (
        "wsinv.dat",
        Answer(481),
        "3.1.1.1 parsed; its To tag names no dialog of ours",
    ),
    ("intmeth.dat", Answer(501), "3.1.1.2 an unknown method"),
    ("esc01.dat", Call, "3.1.1.3 escapes in the URIs"),
    ("escnull.dat", Register, "3.1.1.4 %00 in a user part"),
    (
        "esc02.dat",
        Answer(501),
        "3.1.1.5 RE%47IST%45R is not REGISTER",
    ),
    ("lwsdisp.dat", Answer(200), "3.1.1.6 no LWS before <"),
    ("longreq.dat", Call, "3.1.1.7 long values"),
    (
        "dblreq.dat",
        Register,
        "3.1.1.8 the bytes after Content-Length are ignored",
    ),
    (
        "semiuri.dat",
        Answer(200),
        "3.1.1.9 ; in the Request-URI's user part",
    ),
    (
        "transports.dat",
        Answer(200),
        "3.1.1.10 unknown transports in Via",
    ),
    (
        "mpart01.dat",
        Answer(405),
        "3.1.1.11 parsed (binary body); MESSAGE is not ours",
    ),
    (
        "unreason.dat",
        Nothing,
        "3.1.1.12 a response to no request of ours",
    ),
    (
        "noreason.dat",
        Nothing,
        "3.1.1.13 a response to no request of ours",
    ),
    // 3.1.2: invalid messages.
    (
        "badinv01.dat",
        Answer(400),
        "3.1.2.1 empty Via and Contact parameters",
    ),
    (
        "clerr.dat",
        Answer(400),
        "3.1.2.2 Content-Length beyond the datagram",
    ),
    ("ncl.dat", Answer(400), "3.1.2.3 negative Content-Length"),
    ("scalar02.dat", Answer(400), "3.1.2.4 CSeq beyond 2^32-1"),
    ("scalarlg.dat", Nothing, "3.1.2.5 a response: dropped"),
    (
        "quotbal.dat",
        Answer(400),
        "3.1.2.6 unterminated quoted string",
    ),
    (
        "ltgtruri.dat",
        Answer(400),
        "3.1.2.7 <> around the Request-URI",
    ),
    (
        "lwsruri.dat",
        Answer(400),
        "3.1.2.8 LWS inside the Request-URI",
    ),
    (
        "lwsstart.dat",
        Call,
        "3.1.2.9 several SP in the request line: read liberally",
    ),
    (
        "trws.dat",
        Answer(200),
        "3.1.2.10 SP after the version: read liberally",
    ),
    (
        "escruri.dat",
        Answer(400),
        "3.1.2.11 escaped headers in the Request-URI",
    ),
    (
        "baddate.dat",
        Call,
        "3.1.2.12 Date not in GMT: Date is not used",
    ),
    (
        "regbadct.dat",
        Answer(400),
        "3.1.2.13 ?headers in a Contact without <>",
    ),
    (
        "badaspec.dat",
        Answer(200),
        "3.1.2.14 spaces inside <>: read liberally",
    ),
    (
        "baddn.dat",
        Answer(400),
        "3.1.2.15 unquoted display name with separators",
    ),
    ("badvers.dat", Answer(505), "3.1.2.16 SIP/7.0"),
    (
        "mismatch01.dat",
        Answer(400),
        "3.1.2.17 CSeq method differs",
    ),
    (
        "mismatch02.dat",
        Answer(501),
        "3.1.2.18 unknown method, CSeq differs",
    ),
    (
        "bigcode.dat",
        Nothing,
        "3.1.2.19 a response with a status beyond 699",
    ),
    // 3.2: transaction layer.
    (
        "badbranch.dat",
        Answer(200),
        "3.2.1 a bare magic cookie is a branch too",
    ),
    // 3.3: application layer.
    ("insuf.dat", Answer(400), "3.3.1 no Call-ID, From or To"),
    (
        "unkscm.dat",
        Answer(416),
        "3.3.2 unknown Request-URI scheme",
    ),
    ("novelsc.dat", Answer(416), "3.3.3 soap.beep: scheme"),
    (
        "unksm2.dat",
        Register,
        "3.3.4 the registrar refuses it (see below)",
    ),
    (
        "bext01.dat",
        Answer(420),
        "3.3.5 Require of an unknown extension",
    ),
    ("invut.dat", Answer(415), "3.3.6 a body that is not SDP"),
    (
        "regaut01.dat",
        Register,
        "3.3.7 the registrar challenges it (see below)",
    ),
    (
        "multi01.dat",
        Answer(400),
        "3.3.8 duplicated single-valued headers",
    ),
    ("mcl01.dat", Answer(400), "3.3.9 two Content-Length"),
    (
        "bcast.dat",
        Nothing,
        "3.3.10 a response to no request of ours",
    ),
    (
        "zeromf.dat",
        Answer(200),
        "3.3.11 Max-Forwards 0 at the endpoint",
    ),
    ("cparam01.dat", Register, "3.3.12 contact parameters"),
    ("cparam02.dat", Register, "3.3.13 URI parameters in Contact"),
    ("regescrt.dat", Register, "3.3.14 escaped Route in Contact"),
    (
        "sdp01.dat",
        Answer(406),
        "3.3.15 Accept without application/sdp",
    ),
    // 3.4: backward compatibility.
    ("inv2543.dat", Call, "3.4.1 RFC 2543 syntax"),
];

use Outcome::{Answer, Call, Nothing, Register};

#[test]
fn every_message_of_rfc_4475_gets_what_the_rfc_says() {
    let dir = format!("{}/tests/rfc4475", env!("CARGO_MANIFEST_DIR"));
    let on_disk = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "dat")
        })
        .count();
    assert_eq!(on_disk, CASES.len(), "a case for every message");
    let wrong: Vec<String> = CASES
        .iter()
        .filter_map(|(name, expected, why)| {
            let got = outcome(&message(name));
            (got != *expected).then(|| format!("{name} ({why}): {got:?}, not {expected:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_same_messages_over_a_stream_are_framed_and_answered_alike() {
    // Over TCP every message but those with a broken Content-Length frames
    // the same; those close the connection after the answer (transport).
    for (name, expected, _) in CASES {
        if ["clerr.dat", "ncl.dat", "mcl01.dat"].contains(&name) {
            continue;
        }
        let bytes = message(name);
        let Ok(crate::wire::Frame::Complete(n)) = crate::wire::check_frame(&bytes) else {
            // A message without Content-Length cannot be framed on a stream.
            continue;
        };
        let mut ep = endpoint();
        let tcp = Flow {
            transport: crate::Transport::Tcp,
            ..udp()
        };
        ep.handle_input(Instant::now(), tcp, &bytes[..n]);
        let (sent, _) = drain(&mut ep);
        if let Answer(code) = expected {
            assert!(
                sent.iter()
                    .any(|(first, _, _)| first.contains(&format!(" {code} "))),
                "{name}: {sent:?}"
            );
        }
    }
}

#[test]
fn the_registrar_challenges_the_registers_and_refuses_a_non_sip_address_of_record() {
    use crate::registrar::{Begin, Registrar};
    let t0 = Instant::now();
    let mut registrar = Registrar::new("hotline", [7; 32], t0);
    for (name, code) in [
        ("escnull.dat", 401),
        ("dblreq.dat", 401),
        ("cparam01.dat", 401),
        ("cparam02.dat", 401),
        ("regescrt.dat", 401),
        // An unknown scheme is not ours to judge: challenged with Digest.
        ("regaut01.dat", 401),
        ("unksm2.dat", 400),
    ] {
        let Ok(rsip::SipMessage::Request(req)) = crate::wire::parse(&message(name)) else {
            panic!("{name} parses");
        };
        match registrar.begin(t0, &req, udp().remote.ip()) {
            Begin::Answer(answer) => assert_eq!(answer.code, code, "{name}: {answer:?}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}
