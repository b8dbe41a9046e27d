//! Admission control, as plain code: whether a new INVITE may become a call,
//! told the time, the source's key and its limits.
//!
//! A flood of INVITEs from one source (never ACKing our 2xx) must not lock
//! genuine callers out. So each source has limits of its own: a token
//! bucket of new calls (a rate and a burst) and a cap on its calls still
//! being set up (answered or ringing, not yet confirmed by ACK). All
//! sources together have a cap on calls being set up, apart from
//! `max_calls`, which counts established calls only. A source that has hit
//! a limit in the last [`FLOODING_FOR`] is *flooding*: its unconfirmed
//! calls wait for their ACK only `quick_ack` ([`Admission::overdue`])
//! instead of Timer H's 32 s.
//!
//! A trusted peer (an Asterisk box, a trunk) is one address carrying every
//! caller, so its calls are told apart by the caller's identity
//! (P-Asserted-Identity, else From), each with the peer's limits; any other
//! source is one key per IP address. Refusals cost no database row and no
//! file: the SIP core answers them 503 before a call task exists.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::ids::CallId;

/// How long a source counts as flooding after it last hit a limit.
pub const FLOODING_FOR: Duration = Duration::from_secs(10);

/// One source's limits (`[sip.admission]`, or a peer's `admission`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// New calls a second, sustained.
    pub calls_per_second: f64,
    /// New calls at once after a quiet spell.
    pub burst: u32,
    /// Calls answered or ringing but not yet confirmed by ACK.
    pub unconfirmed: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            calls_per_second: 2.0,
            burst: 6,
            unconfirmed: 3,
        }
    }
}

/// `[sip.admission]`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdmissionSettings {
    /// Each source's limits (each caller's, behind a peer with none of its
    /// own): as in [`Limits`].
    pub calls_per_second: f64,
    pub burst: u32,
    pub unconfirmed: usize,
    /// Calls being set up, all sources together.
    pub setting_up: usize,
    /// How long a flooding source's 2xx waits for its ACK, in seconds.
    pub quick_ack_secs: u64,
}

impl Default for AdmissionSettings {
    fn default() -> Self {
        let limits = Limits::default();
        AdmissionSettings {
            calls_per_second: limits.calls_per_second,
            burst: limits.burst,
            unconfirmed: limits.unconfirmed,
            setting_up: 200,
            quick_ack_secs: 4,
        }
    }
}

/// Whose limits a new call counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SourceKey {
    /// Any source but a trusted peer: its address.
    Address(IpAddr),
    /// A caller behind a trusted peer: the peer's address and the caller's
    /// identity as the peer asserts it.
    Caller { peer: IpAddr, caller: String },
}

/// Why a new call is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The source started calls faster than its rate and burst.
    Rate,
    /// The source has too many calls not yet confirmed.
    Unconfirmed,
    /// Too many calls are being set up from all sources together.
    SettingUp,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Rate => "rate",
            Refusal::Unconfirmed => "unconfirmed",
            Refusal::SettingUp => "setting up",
        }
    }
}

#[derive(Debug)]
struct Source {
    tokens: f64,
    refilled: Instant,
    unconfirmed: usize,
    /// When it last hit a limit.
    refused: Option<Instant>,
}

#[derive(Debug)]
struct Pending {
    key: SourceKey,
    /// When our 2xx went out, once it has.
    answered: Option<Instant>,
}

/// The counts behind the decisions.
#[derive(Debug)]
pub struct Admission {
    settings: AdmissionSettings,
    sources: HashMap<SourceKey, Source>,
    /// Calls admitted and not yet confirmed, and their source.
    pending: HashMap<CallId, Pending>,
    /// Calls confirmed and not yet ended.
    established: usize,
    /// Established calls by id, to count each end once.
    confirmed: std::collections::HashSet<CallId>,
}

impl Admission {
    pub fn new(settings: AdmissionSettings) -> Self {
        Admission {
            settings,
            sources: HashMap::new(),
            pending: HashMap::new(),
            established: 0,
            confirmed: Default::default(),
        }
    }

    /// A new INVITE from `key` with its `limits`: admitted (and counted as
    /// being set up) or refused.
    pub fn offer(
        &mut self,
        now: Instant,
        call: CallId,
        key: SourceKey,
        limits: &Limits,
    ) -> Result<(), Refusal> {
        if self.sources.len() > 10_000 {
            self.forget_idle(now);
        }
        let burst = f64::from(limits.burst.max(1));
        let source = self.sources.entry(key.clone()).or_insert(Source {
            tokens: burst,
            refilled: now,
            unconfirmed: 0,
            refused: None,
        });
        let elapsed = now.saturating_duration_since(source.refilled).as_secs_f64();
        source.tokens = (source.tokens + elapsed * limits.calls_per_second).min(burst);
        source.refilled = now;
        let refusal = if source.unconfirmed >= limits.unconfirmed {
            Some(Refusal::Unconfirmed)
        } else if source.tokens < 1.0 {
            Some(Refusal::Rate)
        } else if self.pending.len() >= self.settings.setting_up {
            Some(Refusal::SettingUp)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            if refusal != Refusal::SettingUp {
                source.refused = Some(now);
            }
            return Err(refusal);
        }
        source.tokens -= 1.0;
        source.unconfirmed += 1;
        self.pending.insert(
            call,
            Pending {
                key,
                answered: None,
            },
        );
        Ok(())
    }

    /// Our 2xx for `call` went out: its wait for the ACK starts.
    pub fn answered(&mut self, now: Instant, call: CallId) {
        if let Some(p) = self.pending.get_mut(&call) {
            p.answered.get_or_insert(now);
        }
    }

    /// The ACK came: the call is established.
    pub fn confirmed(&mut self, call: CallId) {
        if self.settle(call) && self.confirmed.insert(call) {
            self.established += 1;
        }
    }

    /// The call is over, however far it got.
    pub fn ended(&mut self, call: CallId) {
        self.settle(call);
        if self.confirmed.remove(&call) {
            self.established -= 1;
        }
    }

    /// The limits of a source with none of its own.
    pub fn default_limits(&self) -> Limits {
        Limits {
            calls_per_second: self.settings.calls_per_second,
            burst: self.settings.burst,
            unconfirmed: self.settings.unconfirmed,
        }
    }

    /// Calls established now (what `max_calls` limits).
    pub fn established(&self) -> usize {
        self.established
    }

    /// Calls being set up now.
    pub fn setting_up(&self) -> usize {
        self.pending.len()
    }

    /// Unconfirmed calls of flooding sources whose 2xx has waited longer
    /// than `quick_ack`: to be given up on now.
    pub fn overdue(&self, now: Instant) -> Vec<CallId> {
        let quick = Duration::from_secs(self.settings.quick_ack_secs);
        self.pending
            .iter()
            .filter(|(_, p)| {
                p.answered
                    .is_some_and(|at| now.saturating_duration_since(at) >= quick)
                    && self.flooding(now, &p.key)
            })
            .map(|(call, _)| *call)
            .collect()
    }

    /// Whether `key` hit a limit within the last [`FLOODING_FOR`].
    pub fn flooding(&self, now: Instant, key: &SourceKey) -> bool {
        self.sources
            .get(key)
            .and_then(|s| s.refused)
            .is_some_and(|at| now.saturating_duration_since(at) < FLOODING_FOR)
    }

    /// Takes `call` out of the calls being set up; whether it was there.
    fn settle(&mut self, call: CallId) -> bool {
        let Some(p) = self.pending.remove(&call) else {
            return false;
        };
        if let Some(source) = self.sources.get_mut(&p.key) {
            source.unconfirmed = source.unconfirmed.saturating_sub(1);
        }
        true
    }

    /// Drops sources with nothing pending and nothing to remember.
    fn forget_idle(&mut self, now: Instant) {
        self.sources.retain(|_, s| {
            s.unconfirmed > 0
                || now.saturating_duration_since(s.refilled) < Duration::from_secs(60)
                || s.refused
                    .is_some_and(|at| now.saturating_duration_since(at) < FLOODING_FOR)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> SourceKey {
        SourceKey::Address(IpAddr::from([192, 0, 2, last]))
    }

    fn admission() -> Admission {
        Admission::new(AdmissionSettings::default())
    }

    const LIMITS: Limits = Limits {
        calls_per_second: 2.0,
        burst: 6,
        unconfirmed: 3,
    };

    #[test]
    fn a_flooding_source_is_held_to_its_limits_and_others_pass() {
        let t0 = Instant::now();
        let mut a = admission();
        // 500 INVITEs a second from one address, never confirmed.
        let mut admitted = 0;
        for i in 0..500u64 {
            let at = t0 + Duration::from_millis(2 * i);
            if a.offer(at, CallId::random(), ip(1), &LIMITS).is_ok() {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 3, "only as many as may be unconfirmed");
        assert_eq!(
            a.offer(t0, CallId::random(), ip(1), &LIMITS),
            Err(Refusal::Unconfirmed)
        );
        assert!(a.flooding(t0 + Duration::from_secs(1), &ip(1)));
        // Another address, meanwhile: admitted at once.
        let genuine = CallId::random();
        assert_eq!(
            a.offer(t0 + Duration::from_secs(1), genuine, ip(2), &LIMITS),
            Ok(())
        );
        assert!(!a.flooding(t0 + Duration::from_secs(1), &ip(2)));
        a.confirmed(genuine);
        assert_eq!((a.established(), a.setting_up()), (1, 3));
    }

    #[test]
    fn confirmed_calls_are_established_and_free_their_sources_slots() {
        let t0 = Instant::now();
        let mut a = admission();
        let calls: Vec<CallId> = (0..3).map(|_| CallId::random()).collect();
        for &c in &calls {
            a.offer(t0, c, ip(1), &LIMITS).unwrap();
        }
        a.confirmed(calls[0]);
        a.confirmed(calls[0]);
        assert_eq!((a.established(), a.setting_up()), (1, 2));
        // One slot free again: the bucket still has tokens (burst 6).
        assert_eq!(a.offer(t0, CallId::random(), ip(1), &LIMITS), Ok(()));
        a.ended(calls[0]);
        a.ended(calls[0]);
        a.ended(calls[1]);
        assert_eq!((a.established(), a.setting_up()), (0, 2));
    }

    #[test]
    fn the_rate_refills_and_the_source_recovers_within_seconds() {
        let t0 = Instant::now();
        let mut a = admission();
        let mut at = t0;
        // Confirmed at once, so only the rate limits: the burst, then none.
        for _ in 0..6 {
            let c = CallId::random();
            a.offer(at, c, ip(1), &LIMITS).unwrap();
            a.confirmed(c);
        }
        assert_eq!(
            a.offer(at, CallId::random(), ip(1), &LIMITS),
            Err(Refusal::Rate)
        );
        // Half a second later one token (2 a second) is back.
        at += Duration::from_millis(500);
        let c = CallId::random();
        assert_eq!(a.offer(at, c, ip(1), &LIMITS), Ok(()));
        a.confirmed(c);
        // The flood stops: after FLOODING_FOR it is an ordinary source again.
        assert!(a.flooding(at, &ip(1)));
        assert!(!a.flooding(at + FLOODING_FOR, &ip(1)));
    }

    #[test]
    fn callers_behind_one_peer_are_told_apart() {
        let t0 = Instant::now();
        let mut a = admission();
        let peer = IpAddr::from([10, 0, 0, 5]);
        let caller = |n: &str| SourceKey::Caller {
            peer,
            caller: n.into(),
        };
        for _ in 0..3 {
            a.offer(t0, CallId::random(), caller("0671112233"), &LIMITS)
                .unwrap();
        }
        assert!(
            a.offer(t0, CallId::random(), caller("0671112233"), &LIMITS)
                .is_err()
        );
        for n in 0..50 {
            let other = caller(&format!("06700000{n:02}"));
            assert_eq!(a.offer(t0, CallId::random(), other, &LIMITS), Ok(()));
        }
    }

    #[test]
    fn all_sources_together_are_capped_while_setting_up() {
        let t0 = Instant::now();
        let mut a = Admission::new(AdmissionSettings {
            setting_up: 10,
            ..Default::default()
        });
        for last in 0..10 {
            a.offer(t0, CallId::random(), ip(last), &LIMITS).unwrap();
        }
        assert_eq!(
            a.offer(t0, CallId::random(), ip(200), &LIMITS),
            Err(Refusal::SettingUp)
        );
        assert!(
            !a.flooding(t0, &ip(200)),
            "a busy server is not the source's fault"
        );
    }

    #[test]
    fn a_flooding_sources_unanswered_acks_are_overdue_after_quick_ack() {
        let t0 = Instant::now();
        let mut a = admission();
        let (flood, genuine) = (CallId::random(), CallId::random());
        a.offer(t0, flood, ip(1), &LIMITS).unwrap();
        a.offer(t0, genuine, ip(2), &LIMITS).unwrap();
        a.answered(t0, flood);
        a.answered(t0, genuine);
        let later = t0 + Duration::from_secs(5);
        assert!(a.overdue(later).is_empty(), "nobody flooded yet");
        for _ in 0..10 {
            let _ = a.offer(t0, CallId::random(), ip(1), &LIMITS);
        }
        assert_eq!(a.overdue(t0 + Duration::from_secs(3)), Vec::<CallId>::new());
        assert_eq!(a.overdue(later), vec![flood]);
    }
}
