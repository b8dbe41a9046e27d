//! Paces outgoing frames every 20 ms from a fixed start, so timing errors
//! never accumulate: frame `n` is due at `start + n·20 ms`, whenever the
//! previous one actually went out.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    frame: Duration,
    done: u64,
}

impl Pacer {
    pub fn new(start: Instant, frame: Duration) -> Self {
        Self {
            start,
            frame,
            done: 0,
        }
    }

    /// When the next frame is due.
    pub fn next_deadline(&self) -> Instant {
        self.start + self.frame * self.done as u32
    }

    /// How many frames are due at `now` and not yet produced.
    pub fn due(&self, now: Instant) -> u64 {
        if now < self.start {
            return 0;
        }
        let elapsed = (now - self.start).as_nanos() / self.frame.as_nanos();
        (elapsed as u64 + 1).saturating_sub(self.done)
    }

    /// Marks one frame produced.
    pub fn advance(&mut self) {
        self.done += 1;
    }

    /// Frames produced so far.
    pub fn frames(&self) -> u64 {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_drift_however_late_we_wake() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, Duration::from_millis(20));
        assert_eq!(p.due(t0), 1);
        p.advance();
        assert_eq!(p.next_deadline(), t0 + Duration::from_millis(20));
        // Woken 7 ms late every time for a minute: deadlines stay on the grid.
        for n in 1..3000u32 {
            let woke = t0 + Duration::from_millis(20) * n + Duration::from_millis(7);
            assert_eq!(p.due(woke), 1);
            p.advance();
            assert_eq!(p.next_deadline(), t0 + Duration::from_millis(20) * (n + 1));
        }
        // A 100 ms stall leaves 5 frames due at once.
        let stalled = p.next_deadline() + Duration::from_millis(80);
        assert_eq!(p.due(stalled), 5);
    }
}
