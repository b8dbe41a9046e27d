//! A small fixed-delay jitter buffer: packets go in by sequence number in
//! whatever order they arrive, and come out one per 20 ms tick in order,
//! each once. Duplicates and packets that arrive after their slot was
//! played are counted and dropped.
//!
//! Sequence numbers are extended to 64 bits (RFC 3550 A.1 style) so the
//! 16-bit wrap needs no special cases.

use std::collections::BTreeMap;

/// What one slot held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// An audio payload (still encoded).
    Audio(Vec<u8>),
    /// A packet that occupies a sequence number but carries no audio
    /// (a telephone-event): plays out as silence, not as a loss.
    NotAudio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    Accepted,
    Duplicate,
    Late,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub accepted: u64,
    pub duplicates: u64,
    pub late: u64,
    /// Slots played with nothing in them.
    pub missing: u64,
}

#[derive(Debug)]
pub struct JitterBuffer {
    /// Frames buffered before play-out starts: the fixed delay.
    depth: usize,
    slots: BTreeMap<u64, Slot>,
    highest: Option<u64>,
    next_play: Option<u64>,
    playing: bool,
    stats: JitterStats,
}

/// Beyond this many frames queued, the oldest are skipped so the delay
/// cannot grow without bound (a peer whose clock runs fast, a burst).
const MAX_FRAMES: usize = 50;

/// A sequence number this far behind play-out is not a late packet but a
/// restarted stream (RFC 3550 A.1's MAX_MISORDER); the buffer starts over.
const MAX_MISORDER: u64 = 100;

impl JitterBuffer {
    pub fn new(depth: usize) -> Self {
        Self {
            depth: depth.max(1),
            slots: BTreeMap::new(),
            highest: None,
            next_play: None,
            playing: false,
            stats: JitterStats::default(),
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Extends a 16-bit sequence number to the value nearest the highest seen.
    fn extend(&self, seq: u16) -> u64 {
        let Some(high) = self.highest else {
            return (1 << 16) + seq as u64;
        };
        let candidate = (high & !0xffff) | seq as u64;
        let options = [
            candidate.wrapping_sub(1 << 16),
            candidate,
            candidate + (1 << 16),
        ];
        // The three candidates bracket `high`; one is within 2^15 of it.
        options
            .into_iter()
            .min_by_key(|c| c.abs_diff(high))
            .expect("three candidates")
    }

    /// Forgets everything: a new stream (new SSRC, restarted sequence).
    pub fn reset(&mut self) {
        self.slots.clear();
        self.highest = None;
        self.next_play = None;
        self.playing = false;
    }

    pub fn push(&mut self, seq: u16, slot: Slot) -> Push {
        let mut ext = self.extend(seq);
        if self
            .next_play
            .is_some_and(|n| n.saturating_sub(ext) > MAX_MISORDER)
        {
            self.reset();
            ext = self.extend(seq);
        }
        if self.next_play.is_some_and(|n| ext < n) {
            self.stats.late += 1;
            return Push::Late;
        }
        if self.slots.contains_key(&ext) {
            self.stats.duplicates += 1;
            return Push::Duplicate;
        }
        self.slots.insert(ext, slot);
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.stats.accepted += 1;
        if self.slots.len() > MAX_FRAMES {
            // Skip ahead to the oldest packet still worth keeping.
            while self.slots.len() > self.depth {
                self.slots.pop_first();
            }
            self.next_play = self.slots.keys().next().copied();
        }
        Push::Accepted
    }

    /// The next frame's slot, once per tick. `None` means silence: the
    /// buffer is filling, or the packet for this slot never came.
    pub fn pop(&mut self) -> Option<Slot> {
        if !self.playing {
            if self.slots.len() < self.depth {
                return None;
            }
            self.playing = true;
            self.next_play = self.slots.keys().next().copied();
        }
        let next = self.next_play?;
        if self.slots.is_empty() {
            // Stream paused (hold, silence suppression): wait, and start
            // again with a fresh delay when packets return.
            self.playing = false;
            return None;
        }
        // A stream that jumped far ahead: skip the gap rather than play it
        // out as silence one frame at a time.
        let first = self.slots.keys().next().copied().unwrap_or(next);
        let next = if first > next + MAX_FRAMES as u64 {
            first
        } else {
            next
        };
        self.next_play = Some(next + 1);
        match self.slots.remove(&next) {
            Some(slot) => Some(slot),
            None => {
                self.stats.missing += 1;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio(n: u8) -> Slot {
        Slot::Audio(vec![n])
    }

    #[test]
    fn reorders_and_deduplicates() {
        let mut jb = JitterBuffer::new(3);
        assert_eq!(jb.push(10, audio(10)), Push::Accepted);
        assert_eq!(jb.pop(), None, "filling");
        assert_eq!(jb.push(12, audio(12)), Push::Accepted);
        assert_eq!(jb.push(11, audio(11)), Push::Accepted);
        assert_eq!(jb.push(11, audio(11)), Push::Duplicate);
        assert_eq!(jb.pop(), Some(audio(10)));
        assert_eq!(jb.pop(), Some(audio(11)));
        assert_eq!(jb.push(10, audio(10)), Push::Late);
        assert_eq!(jb.pop(), Some(audio(12)));
        assert_eq!(
            jb.stats(),
            JitterStats {
                accepted: 3,
                duplicates: 1,
                late: 1,
                missing: 0
            }
        );
    }

    #[test]
    fn wraps_around_sequence_zero() {
        let mut jb = JitterBuffer::new(2);
        for seq in [65534u16, 0, 65535, 1] {
            jb.push(seq, Slot::Audio(seq.to_be_bytes().to_vec()));
        }
        let order: Vec<_> = std::iter::from_fn(|| jb.pop()).collect();
        let seqs: Vec<u16> = order
            .into_iter()
            .map(|s| match s {
                Slot::Audio(b) => u16::from_be_bytes([b[0], b[1]]),
                Slot::NotAudio => unreachable!(),
            })
            .collect();
        assert_eq!(seqs, vec![65534, 65535, 0, 1]);
    }

    #[test]
    fn gap_plays_as_missing_then_continues() {
        let mut jb = JitterBuffer::new(1);
        jb.push(1, audio(1));
        jb.push(3, audio(3));
        assert_eq!(jb.pop(), Some(audio(1)));
        assert_eq!(jb.pop(), None);
        assert_eq!(jb.pop(), Some(audio(3)));
        assert_eq!(jb.stats().missing, 1);
    }

    #[test]
    fn restarted_stream_is_followed_backwards_and_forwards() {
        let mut jb = JitterBuffer::new(1);
        for seq in 30000..30010u16 {
            jb.push(seq, audio(1));
            assert_eq!(jb.pop(), Some(audio(1)));
        }
        // The peer restarts its stream with a much lower sequence number.
        assert_eq!(jb.push(100, audio(2)), Push::Accepted);
        assert_eq!(jb.pop(), Some(audio(2)));
        // And then jumps far ahead: no long run of silence.
        assert_eq!(jb.push(20000, audio(3)), Push::Accepted);
        assert_eq!(jb.pop(), Some(audio(3)));
        assert_eq!(jb.push(20001, audio(4)), Push::Accepted);
        assert_eq!(jb.pop(), Some(audio(4)));
    }

    #[test]
    fn bounded_delay() {
        let mut jb = JitterBuffer::new(3);
        for seq in 0..200u16 {
            jb.push(seq, Slot::Audio(seq.to_be_bytes().to_vec()));
        }
        assert!(jb.slots.len() <= MAX_FRAMES);
        let Some(Slot::Audio(first)) = jb.pop() else {
            panic!("audio expected")
        };
        let first = u16::from_be_bytes([first[0], first[1]]);
        assert!(
            first >= 200 - MAX_FRAMES as u16,
            "old frames were skipped, got {first}"
        );
    }
}
