//! The UA core fed arbitrary datagrams and stream frames from two peers,
//! with time moving on: no panic; every message it sends is one whole
//! message, and parses unless it is an error answer that copied a
//! malformed request's headers as RFC 3261 §8.2.6.2 asks.
#![no_main]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sip_proto::timer::TimerConfig;
use sip_proto::wire::{self, Frame};
use sip_proto::{Endpoint, EndpointConfig, Flow, Output, Transport};

static EPOCH: Mutex<Option<Instant>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let t0 = *EPOCH.lock().unwrap().get_or_insert_with(Instant::now);
    let mut endpoint = Endpoint::new(EndpointConfig {
        timers: TimerConfig::default(),
        advertised: "127.0.0.1:5060".into(),
        supported: Vec::new(),
        answer_guard: Duration::from_secs(32),
    });
    // Messages separated by a NUL byte; the first byte of each picks the
    // transport and the peer.
    let mut now = t0;
    for chunk in data.split(|b| *b == 0) {
        let Some((&how, bytes)) = chunk.split_first() else {
            continue;
        };
        let flow = Flow {
            transport: if how & 1 == 0 {
                Transport::Udp
            } else {
                Transport::Tcp
            },
            remote: if how & 2 == 0 {
                "127.0.0.1:5070"
            } else {
                "[::1]:5080"
            }
            .parse()
            .unwrap(),
        };
        endpoint.handle_input(now, flow, bytes);
        now += Duration::from_millis(u64::from(how) * 10);
        endpoint.handle_timeout(now);
        while let Some(output) = endpoint.poll_output() {
            if let Output::Transmit(t) = output {
                let bytes = &t.bytes[..];
                assert_eq!(wire::check_frame(bytes), Ok(Frame::Complete(bytes.len())));
                if wire::parse(bytes).is_err() {
                    // Only an answer to a request we could not read may
                    // carry what we cannot read: its From, To... as they came.
                    assert!(
                        bytes.starts_with(b"SIP/2.0 4") || bytes.starts_with(b"SIP/2.0 5"),
                        "what we send parses: {}",
                        String::from_utf8_lossy(bytes)
                    );
                }
            }
        }
    }
});
