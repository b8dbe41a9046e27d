//! SDP offers: parsed, negotiated, answered; our answer parses again.
#![no_main]

use hotline::media::Codec;
use hotline::sdp::{self, LocalMedia, SessionDescription};
use libfuzzer_sys::fuzz_target;

const CODECS: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

fuzz_target!(|data: &[u8]| {
    let Ok(offer) = SessionDescription::parse(data) else {
        return;
    };
    let Ok(negotiated) = sdp::negotiate(&offer, &CODECS) else {
        return;
    };
    let local = LocalMedia {
        address: [127, 0, 0, 1].into(),
        port: 20000,
        session_id: 1,
        version: 1,
    };
    let answer = sdp::answer(&offer, &negotiated, &local);
    SessionDescription::parse(answer.as_bytes()).expect("our answer parses");
});
