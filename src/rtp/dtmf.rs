//! RFC 4733 telephone-events in: turns the packets of one key press (the
//! first, updates, and the three end packets) into exactly one digit.
//!
//! An event is identified by its RTP timestamp, which stays the same for
//! every packet of one press (§2.5.1.2); a new press has a new timestamp,
//! so pressing the same key twice yields two digits.

use std::collections::VecDeque;

/// How many recent events are remembered to recognise their repeats.
const REMEMBERED: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfEvent {
    pub digit: char,
    /// RTP timestamp at which the key went down.
    pub timestamp: u32,
}

#[derive(Debug, Default)]
pub struct DtmfReceiver {
    recent: VecDeque<u32>,
}

/// The digit for an event code (§3.2): 0–9, *, #, A–D.
pub fn digit(event: u8) -> Option<char> {
    Some(match event {
        0..=9 => (b'0' + event) as char,
        10 => '*',
        11 => '#',
        12..=15 => (b'A' + event - 12) as char,
        _ => return None,
    })
}

impl DtmfReceiver {
    /// One telephone-event payload with its packet's RTP timestamp. Returns
    /// the digit the first time a press is seen.
    pub fn on_payload(&mut self, timestamp: u32, payload: &[u8]) -> Option<DtmfEvent> {
        // event(8) | E R volume(6) | duration(16)
        if payload.len() < 4 {
            return None;
        }
        let digit = digit(payload[0])?;
        if self.recent.contains(&timestamp) {
            return None;
        }
        if self.recent.len() == REMEMBERED {
            self.recent.pop_front();
        }
        self.recent.push_back(timestamp);
        Some(DtmfEvent { digit, timestamp })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(event: u8, end: bool, duration: u16) -> [u8; 4] {
        let d = duration.to_be_bytes();
        [event, if end { 0x80 | 10 } else { 10 }, d[0], d[1]]
    }

    #[test]
    fn one_digit_per_press_including_retransmitted_ends() {
        let mut rx = DtmfReceiver::default();
        let mut got = vec![];
        // '5' pressed: start, two updates, three end packets; then '5' again; then '#'.
        for (ts, p) in [
            (1000, packet(5, false, 160)),
            (1000, packet(5, false, 320)),
            (1000, packet(5, false, 480)),
            (1000, packet(5, true, 640)),
            (1000, packet(5, true, 640)),
            (1000, packet(5, true, 640)),
            (5000, packet(5, false, 160)),
            (5000, packet(5, true, 320)),
            (9000, packet(11, true, 320)),
        ] {
            got.extend(rx.on_payload(ts, &p).map(|e| e.digit));
        }
        assert_eq!(got, vec!['5', '5', '#']);
    }

    #[test]
    fn reordered_end_before_start_still_once() {
        let mut rx = DtmfReceiver::default();
        assert_eq!(
            rx.on_payload(7, &packet(1, true, 800)).map(|e| e.digit),
            Some('1')
        );
        assert_eq!(rx.on_payload(7, &packet(1, false, 160)), None);
    }

    #[test]
    fn junk_ignored() {
        let mut rx = DtmfReceiver::default();
        assert_eq!(rx.on_payload(1, &[1, 2]), None);
        assert_eq!(rx.on_payload(1, &packet(200, false, 1)), None);
        assert_eq!(
            (0..=16).filter_map(digit).collect::<String>(),
            "0123456789*#ABCD"
        );
    }
}
