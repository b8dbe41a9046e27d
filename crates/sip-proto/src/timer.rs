//! RFC 3261 timers as one enum and one deadline table (as quinn does), with
//! T1/T2/T4 from configuration.
//!
//! A table belongs to one transaction; the endpoint asks every table for its
//! next deadline. Nothing here reads a clock: callers pass `Instant`s in.

use std::time::{Duration, Instant};

/// RFC 3261 §17 timers, plus RFC 6026's L (the INVITE server transaction's
/// "Accepted" state) and the UAS core's 2xx retransmission (§13.3.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE client: retransmit INVITE.
    A,
    /// INVITE client: give up.
    B,
    /// INVITE client: absorb response retransmissions.
    D,
    /// Non-INVITE client: retransmit request.
    E,
    /// Non-INVITE client: give up.
    F,
    /// INVITE server: retransmit a non-2xx final response.
    G,
    /// INVITE server: give up waiting for ACK to a non-2xx.
    H,
    /// INVITE server: absorb ACK retransmissions.
    I,
    /// Non-INVITE server: absorb request retransmissions.
    J,
    /// Non-INVITE client: absorb response retransmissions.
    K,
    /// INVITE server, Accepted: absorb INVITE retransmissions after a 2xx,
    /// and the point where a 2xx without ACK is given up on.
    L,
    /// INVITE client, Accepted (RFC 6026): absorb 2xx retransmissions.
    M,
    /// UAS core: retransmit a 2xx until its ACK arrives.
    Retransmit2xx,
    /// UAS core: the TU has not answered an INVITE in time; a guard so a
    /// fault in the call layer cannot leave a caller waiting for ever.
    AnswerGuard,
}

const ALL: [Timer; 14] = [
    Timer::A,
    Timer::B,
    Timer::D,
    Timer::E,
    Timer::F,
    Timer::G,
    Timer::H,
    Timer::I,
    Timer::J,
    Timer::K,
    Timer::L,
    Timer::M,
    Timer::Retransmit2xx,
    Timer::AnswerGuard,
];

/// T1, T2 and T4 of RFC 3261 §17.1.1.1 / Table 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// 64·T1: the transaction timeout of B, F, H, J and L.
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// One deadline per timer kind.
#[derive(Debug, Clone, Default)]
pub struct TimerTable {
    deadlines: [Option<Instant>; ALL.len()],
}

impl TimerTable {
    fn index(timer: Timer) -> usize {
        // ALL lists every variant once, so position() always finds it.
        ALL.iter()
            .position(|t| *t == timer)
            .expect("every timer is in ALL")
    }

    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[Self::index(timer)] = Some(at);
    }

    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[Self::index(timer)] = None;
    }

    pub fn stop_all(&mut self) {
        self.deadlines = Default::default();
    }

    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[Self::index(timer)]
    }

    /// The earliest armed deadline.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarms and returns the earliest timer that is due at `now`.
    pub fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        let (i, _) = self
            .deadlines
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.filter(|d| *d <= now).map(|d| (i, d)))
            .min_by_key(|(_, d)| *d)?;
        self.deadlines[i] = None;
        Some(ALL[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_expired_first() {
        let t0 = Instant::now();
        let mut table = TimerTable::default();
        table.set(Timer::F, t0 + Duration::from_secs(32));
        table.set(Timer::E, t0 + Duration::from_millis(500));
        assert_eq!(table.next_timeout(), Some(t0 + Duration::from_millis(500)));
        assert_eq!(table.take_expired(t0), None);
        assert_eq!(
            table.take_expired(t0 + Duration::from_secs(40)),
            Some(Timer::E)
        );
        assert_eq!(
            table.take_expired(t0 + Duration::from_secs(40)),
            Some(Timer::F)
        );
        assert_eq!(table.take_expired(t0 + Duration::from_secs(40)), None);
        assert_eq!(table.next_timeout(), None);
    }

    #[test]
    fn defaults_are_the_rfcs() {
        let cfg = TimerConfig::default();
        assert_eq!(cfg.timeout(), Duration::from_secs(32));
    }
}
