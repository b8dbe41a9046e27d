//! RFC 3261 §17 transactions as plain state machines.
//!
//! A transaction is told what happened (a retransmitted request, a response
//! the TU wants sent, an ACK, a timer that fired) together with the time, and
//! answers with what to put on the wire. It never reads a clock and never
//! touches a socket; the endpoint owns the tables and the IO layer the wire.
//!
//! Only the kinds hotline needs today are here: INVITE server (with RFC
//! 6026's Accepted state), non-INVITE server and non-INVITE client. The
//! INVITE client lands with outbound operator legs.

use std::time::{Duration, Instant};

use super::Flow;
use super::timer::{Timer, TimerConfig, TimerTable};

/// States of both server transaction kinds; the non-INVITE one uses
/// Trying, Proceeding, Completed and Terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    Trying,
    Proceeding,
    Completed,
    /// INVITE only: a 2xx was sent (RFC 6026 §7.1).
    Accepted,
    /// INVITE only: the ACK to a non-2xx arrived.
    Confirmed,
    Terminated,
}

/// What a fired timer asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum TimerOutcome {
    Nothing,
    /// Put these bytes on the wire again.
    Retransmit(Vec<u8>),
    /// The transaction is over; drop it.
    Terminated,
    /// INVITE server: a 2xx was never acknowledged (§13.3.1.4): the TU
    /// should end the dialog with BYE.
    AckTimeout,
    /// Client: no final response arrived (Timer F).
    TimedOut,
    /// INVITE server: the TU sent no final response within the guard time.
    Unanswered,
}

#[derive(Debug)]
pub struct ServerTransaction {
    pub invite: bool,
    pub state: ServerState,
    pub flow: Flow,
    pub final_code: Option<u16>,
    last_response: Option<Vec<u8>>,
    timers: TimerTable,
    interval: Duration,
    cfg: TimerConfig,
    acked: bool,
}

impl ServerTransaction {
    pub fn new(invite: bool, flow: Flow, cfg: TimerConfig) -> Self {
        Self {
            invite,
            state: if invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            flow,
            final_code: None,
            last_response: None,
            timers: TimerTable::default(),
            interval: cfg.t1,
            cfg,
            acked: false,
        }
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    /// Arms the guard that reports an INVITE the TU never answers.
    pub fn guard_answer(&mut self, at: Instant) {
        self.timers.set(Timer::AnswerGuard, at);
    }

    /// The request came again: resend the last response, if any (§17.2.1,
    /// §17.2.2). In Trying nothing has been sent yet, so nothing is resent.
    pub fn on_retransmission(&self) -> Option<Vec<u8>> {
        match self.state {
            ServerState::Proceeding | ServerState::Completed | ServerState::Accepted => {
                self.last_response.clone()
            }
            _ => None,
        }
    }

    /// Records a response the TU sends and arms the timers its class needs.
    /// Returns false if the transaction can no longer send (a final was
    /// already sent), in which case nothing changes.
    pub fn send_response(&mut self, now: Instant, code: u16, bytes: Vec<u8>) -> bool {
        let provisional = code < 200;
        match self.state {
            ServerState::Trying | ServerState::Proceeding => {}
            _ => return false,
        }
        self.last_response = Some(bytes);
        let reliable = self.flow.transport.is_reliable();
        if provisional {
            self.state = ServerState::Proceeding;
            return true;
        }
        self.final_code = Some(code);
        self.timers.stop(Timer::AnswerGuard);
        if self.invite && code < 300 {
            self.state = ServerState::Accepted;
            self.timers.set(Timer::L, now + self.cfg.timeout());
            // §13.3.1.4: the 2xx is retransmitted until ACK, but only over
            // unreliable transports.
            if !reliable {
                self.interval = self.cfg.t1;
                self.timers.set(Timer::Retransmit2xx, now + self.interval);
            }
        } else if self.invite {
            self.state = ServerState::Completed;
            self.timers.set(Timer::H, now + self.cfg.timeout());
            if !reliable {
                self.interval = self.cfg.t1;
                self.timers.set(Timer::G, now + self.interval);
            }
        } else {
            self.state = ServerState::Completed;
            let wait = if reliable {
                Duration::ZERO
            } else {
                self.cfg.timeout()
            };
            self.timers.set(Timer::J, now + wait);
        }
        true
    }

    /// ACK for a non-2xx final (same transaction, §17.2.1).
    pub fn on_ack(&mut self, now: Instant) {
        if self.state == ServerState::Completed && self.invite {
            self.state = ServerState::Confirmed;
            self.timers.stop(Timer::G);
            self.timers.stop(Timer::H);
            let wait = if self.flow.transport.is_reliable() {
                Duration::ZERO
            } else {
                self.cfg.t4
            };
            self.timers.set(Timer::I, now + wait);
        }
    }

    /// ACK for the 2xx, matched by the dialog: stop retransmitting. The
    /// transaction stays until L to absorb INVITE retransmissions.
    pub fn on_2xx_acked(&mut self) {
        self.acked = true;
        self.timers.stop(Timer::Retransmit2xx);
    }

    pub fn is_acked(&self) -> bool {
        self.acked
    }

    pub fn on_timer(&mut self, now: Instant, timer: Timer) -> TimerOutcome {
        match (timer, self.state) {
            (Timer::G, ServerState::Completed) | (Timer::Retransmit2xx, ServerState::Accepted) => {
                self.interval = (self.interval * 2).min(self.cfg.t2);
                self.timers.set(timer, now + self.interval);
                match &self.last_response {
                    Some(bytes) => TimerOutcome::Retransmit(bytes.clone()),
                    None => TimerOutcome::Nothing,
                }
            }
            (Timer::AnswerGuard, ServerState::Trying | ServerState::Proceeding) => {
                TimerOutcome::Unanswered
            }
            (Timer::H, ServerState::Completed) => {
                self.terminate();
                TimerOutcome::Terminated
            }
            (Timer::L, ServerState::Accepted) => {
                let acked = self.acked;
                self.terminate();
                if acked {
                    TimerOutcome::Terminated
                } else {
                    TimerOutcome::AckTimeout
                }
            }
            (Timer::I, ServerState::Confirmed) | (Timer::J, ServerState::Completed) => {
                self.terminate();
                TimerOutcome::Terminated
            }
            _ => TimerOutcome::Nothing,
        }
    }

    /// Takes the earliest due timer, if any.
    pub fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        self.timers.take_expired(now)
    }

    fn terminate(&mut self) {
        self.state = ServerState::Terminated;
        self.timers.stop_all();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

/// Non-INVITE client transaction (§17.1.2).
#[derive(Debug)]
pub struct ClientTransaction {
    pub state: ClientState,
    pub flow: Flow,
    request: Vec<u8>,
    timers: TimerTable,
    interval: Duration,
    cfg: TimerConfig,
}

impl ClientTransaction {
    /// Starts the transaction; the caller sends `request` once now.
    pub fn start(now: Instant, flow: Flow, request: Vec<u8>, cfg: TimerConfig) -> Self {
        let mut timers = TimerTable::default();
        timers.set(Timer::F, now + cfg.timeout());
        if !flow.transport.is_reliable() {
            timers.set(Timer::E, now + cfg.t1);
        }
        Self {
            state: ClientState::Trying,
            flow,
            request,
            timers,
            interval: cfg.t1,
            cfg,
        }
    }

    pub fn request_bytes(&self) -> &[u8] {
        &self.request
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    pub fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        self.timers.take_expired(now)
    }

    /// A response arrived. Returns true when the TU should see it (the
    /// first of each final; every provisional).
    pub fn on_response(&mut self, now: Instant, code: u16) -> bool {
        match self.state {
            ClientState::Trying | ClientState::Proceeding if code < 200 => {
                self.state = ClientState::Proceeding;
                true
            }
            ClientState::Trying | ClientState::Proceeding => {
                self.state = ClientState::Completed;
                self.timers.stop_all();
                let wait = if self.flow.transport.is_reliable() {
                    Duration::ZERO
                } else {
                    self.cfg.t4
                };
                self.timers.set(Timer::K, now + wait);
                true
            }
            _ => false,
        }
    }

    pub fn on_timer(&mut self, now: Instant, timer: Timer) -> TimerOutcome {
        match (timer, self.state) {
            (Timer::E, ClientState::Trying | ClientState::Proceeding) => {
                // In Proceeding the interval is T2 at once (§17.1.2.2).
                self.interval = if self.state == ClientState::Proceeding {
                    self.cfg.t2
                } else {
                    (self.interval * 2).min(self.cfg.t2)
                };
                self.timers.set(Timer::E, now + self.interval);
                TimerOutcome::Retransmit(self.request.clone())
            }
            (Timer::F, ClientState::Trying | ClientState::Proceeding) => {
                self.state = ClientState::Terminated;
                self.timers.stop_all();
                TimerOutcome::TimedOut
            }
            (Timer::K, ClientState::Completed) => {
                self.state = ClientState::Terminated;
                TimerOutcome::Terminated
            }
            _ => TimerOutcome::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Transport;

    fn udp() -> Flow {
        Flow {
            transport: Transport::Udp,
            remote: "127.0.0.1:5070".parse().unwrap(),
        }
    }
    fn tcp() -> Flow {
        Flow {
            transport: Transport::Tcp,
            remote: "127.0.0.1:5070".parse().unwrap(),
        }
    }
    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Fires every timer due up to `until`, returning (time, outcome) pairs.
    fn run_server(
        tx: &mut ServerTransaction,
        start: Instant,
        until: Duration,
    ) -> Vec<(Duration, TimerOutcome)> {
        let mut out = vec![];
        while let Some(at) = tx.next_timeout() {
            if at > start + until {
                break;
            }
            let timer = tx.take_expired(at).unwrap();
            out.push((at - start, tx.on_timer(at, timer)));
        }
        out
    }

    #[test]
    fn non_2xx_final_is_retransmitted_with_backoff_until_h() {
        let t0 = Instant::now();
        let mut tx = ServerTransaction::new(true, udp(), TimerConfig::default());
        assert!(tx.send_response(t0, 486, b"486".to_vec()));
        let fired = run_server(&mut tx, t0, Duration::from_secs(40));
        let retransmits: Vec<_> = fired
            .iter()
            .filter(|(_, o)| matches!(o, TimerOutcome::Retransmit(_)))
            .map(|(t, _)| t.as_millis())
            .collect();
        // 0.5, 1.5, 3.5, 7.5, then every 4 s (T2) until H at 32 s.
        assert_eq!(&retransmits[..5], &[500, 1500, 3500, 7500, 11500]);
        assert_eq!(
            fired.last().unwrap(),
            &(Duration::from_secs(32), TimerOutcome::Terminated)
        );
        assert_eq!(tx.state, ServerState::Terminated);
    }

    #[test]
    fn ack_stops_g_and_i_ends_it() {
        let t0 = Instant::now();
        let mut tx = ServerTransaction::new(true, udp(), TimerConfig::default());
        tx.send_response(t0, 487, vec![]);
        tx.on_ack(t0 + ms(100));
        assert_eq!(tx.state, ServerState::Confirmed);
        let fired = run_server(&mut tx, t0, Duration::from_secs(10));
        assert_eq!(fired, vec![(ms(5100), TimerOutcome::Terminated)]);
    }

    #[test]
    fn unacked_2xx_is_retransmitted_then_reported() {
        let t0 = Instant::now();
        let mut tx = ServerTransaction::new(true, udp(), TimerConfig::default());
        tx.send_response(t0, 100, vec![]);
        assert_eq!(tx.on_retransmission(), Some(vec![]));
        tx.send_response(t0, 200, b"200".to_vec());
        assert!(!tx.send_response(t0, 500, vec![]), "no second final");
        let fired = run_server(&mut tx, t0, Duration::from_secs(40));
        assert!(fired.len() > 8);
        assert_eq!(
            fired.last().unwrap(),
            &(Duration::from_secs(32), TimerOutcome::AckTimeout)
        );
    }

    #[test]
    fn acked_2xx_stops_retransmitting_and_absorbs_until_l() {
        let t0 = Instant::now();
        let mut tx = ServerTransaction::new(true, udp(), TimerConfig::default());
        tx.send_response(t0, 200, b"200".to_vec());
        tx.on_2xx_acked();
        assert_eq!(tx.on_retransmission(), Some(b"200".to_vec()));
        let fired = run_server(&mut tx, t0, Duration::from_secs(40));
        assert_eq!(
            fired,
            vec![(Duration::from_secs(32), TimerOutcome::Terminated)]
        );
    }

    #[test]
    fn reliable_transports_do_not_retransmit() {
        let t0 = Instant::now();
        let mut tx = ServerTransaction::new(false, tcp(), TimerConfig::default());
        tx.send_response(t0, 200, vec![]);
        assert_eq!(
            run_server(&mut tx, t0, Duration::from_secs(1)),
            vec![(ms(0), TimerOutcome::Terminated)]
        );
        let mut c = ClientTransaction::start(t0, tcp(), vec![1], TimerConfig::default());
        assert_eq!(c.next_timeout(), Some(t0 + Duration::from_secs(32)));
        assert!(c.on_response(t0, 200));
        assert_eq!(c.take_expired(t0), Some(Timer::K));
    }

    #[test]
    fn non_invite_client_backs_off_to_t2_and_times_out() {
        let t0 = Instant::now();
        let mut c = ClientTransaction::start(t0, udp(), b"BYE".to_vec(), TimerConfig::default());
        let mut at = vec![];
        let outcome = loop {
            let when = c.next_timeout().unwrap();
            let timer = c.take_expired(when).unwrap();
            match c.on_timer(when, timer) {
                TimerOutcome::Retransmit(_) => at.push((when - t0).as_millis()),
                other => break (when - t0, other),
            }
        };
        assert_eq!(&at[..5], &[500, 1500, 3500, 7500, 11500]);
        assert_eq!(outcome, (Duration::from_secs(32), TimerOutcome::TimedOut));
    }

    #[test]
    fn client_delivers_final_once() {
        let t0 = Instant::now();
        let mut c = ClientTransaction::start(t0, udp(), vec![], TimerConfig::default());
        assert!(c.on_response(t0, 100));
        assert!(c.on_response(t0, 200));
        assert!(!c.on_response(t0, 200), "a retransmitted final is absorbed");
        let when = c.next_timeout().unwrap();
        assert_eq!(when, t0 + Duration::from_secs(5));
        let timer = c.take_expired(when).unwrap();
        assert_eq!(c.on_timer(when, timer), TimerOutcome::Terminated);
    }
}
