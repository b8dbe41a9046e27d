//! The SIP framer and parser: any bytes, as a datagram and as a stream.
//! Whatever they are, no panic; a message that parses prints and parses
//! again to the same; an error's answer is one whole message with its code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_proto::wire::{self, Frame};

fuzz_target!(|data: &[u8]| {
    match wire::parse(data) {
        Ok(message) => {
            let printed = wire::serialize(&message);
            let again = wire::parse(&printed).expect("what we print, we read");
            assert_eq!(wire::serialize(&again), printed, "printing is stable");
        }
        Err(e) => {
            assert!((400..=599).contains(&e.status()));
            // Our answer copies the request's headers as they came (a
            // malformed From included), so it need not pass our own strict
            // reading; it must be one whole message with the right status.
            if let Some(answer) = wire::error_response(data, &e) {
                let status = format!("SIP/2.0 {} ", e.status());
                assert!(answer.starts_with(status.as_bytes()));
                assert_eq!(
                    wire::check_frame(&answer),
                    Ok(Frame::Complete(answer.len()))
                );
            }
        }
    }
    // A stream: frames are cut off the front until none is complete.
    let mut rest = data;
    while let Ok(frame) = wire::check_frame(rest) {
        match frame {
            Frame::Incomplete => break,
            Frame::KeepAlive(n) | Frame::Complete(n) => {
                assert!(n > 0 && n <= rest.len());
                rest = &rest[n..];
            }
        }
    }
});
