//! The routing decision, sans-IO: which waiting caller is offered to which
//! operator, when an offer gives up, when a caller hears their position.
//!
//! Role: operators' states, callers waiting per queue, and the deadlines
//! between them. Inputs are methods that take `now`; what to do comes back
//! from [`Router::poll`] as [`Action`]s, and [`Router::next_timeout`] says
//! when `poll` wants to be called again. It never reads a clock and never
//! touches a socket, the database or a file: ringing a phone, playing a
//! prompt and storing a state change are the caller's job.
//!
//! The glue's loop: feed an input, call `poll(now)` and carry out what it
//! returns; sleep until `next_timeout()` or the next input, and `poll`
//! again.
//!
//! Rules:
//! * An operator is offered only callers of queues they serve. Callers are
//!   served heaviest queue (`weight`) first, then longest waiting; each
//!   takes the best available operator of their queue: lowest penalty
//!   first, then by the queue's strategy (longest idle, fewest answered
//!   today, or the whole lowest-penalty tier for `ring-all`). Ties go to the
//!   smaller operator id, so the outcome never depends on hash order.
//! * An offer rings for the queue's `timeout`. If nobody answers (or every
//!   rung operator rejects it), the caller is offered again after `retry`,
//!   to operators not yet tried; once every available member was tried,
//!   the round starts over.
//! * Not answering an offer, by timeout or by rejecting it (busy, decline,
//!   unreachable), counts against the operator; after
//!   [`AUTO_PAUSE_AFTER`] in a row they are paused with reason
//!   [`AUTO_PAUSE_REASON`]. An offer withdrawn because someone else
//!   answered (ring-all) or the caller hung up does not count.
//! * "Idle since" is when the operator last became available (login, end
//!   of wrap-up, back from a pause); a missed offer does not change it.
//! * Expected wait, as announced: the queue's average handle time (answer
//!   to hang-up of calls ended since start-up, [`DEFAULT_HANDLE_TIME`]
//!   before the first) × ⌈position ÷ operators working the queue⌉, where
//!   "working" is logged in and not paused (at least 1). Rough on purpose:
//!   it is said to a caller, not put in a report.
//! * Announcements fall due every `announce-frequency` (first one a period
//!   after joining) and are skipped, not postponed, while the caller's
//!   offer rings.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use super::config::{AnnouncePosition, JoinEmpty, QueueConfig, Strategy};

/// Offers not answered in a row before the operator is paused.
pub const AUTO_PAUSE_AFTER: u32 = 2;
/// The pause reason given by [`AUTO_PAUSE_AFTER`].
pub const AUTO_PAUSE_REASON: &str = "no answer";
/// Handle time assumed by the expected-wait estimate before a queue has
/// seen a call end.
pub const DEFAULT_HANDLE_TIME: Duration = Duration::from_secs(120);

/// An operator, by login.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OperatorId(pub String);

impl OperatorId {
    pub fn new(login: &str) -> Self {
        OperatorId(login.to_owned())
    }
}

impl fmt::Display for OperatorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A waiting caller, by their call's id. Not personal data: the number
/// stays with the call.
pub use crate::ids::CallId;

/// A queue an operator serves, with Asterisk's member penalty (lower is
/// offered first). The store's `QueueMembership` converts one to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub queue: String,
    pub penalty: u32,
}

impl Membership {
    pub fn new(queue: &str, penalty: u32) -> Self {
        Membership {
            queue: queue.to_owned(),
            penalty,
        }
    }
}

/// An operator's state as routing sees it; [`OperatorState::as_str`] gives
/// the store's name for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorState {
    Available,
    /// Their phone rings with this caller.
    Ringing {
        caller: CallId,
    },
    OnCall {
        caller: CallId,
    },
    /// After-call work until then.
    WrapUp {
        until: Instant,
    },
    Paused {
        reason: String,
    },
    LoggedOut,
}

impl OperatorState {
    /// The name the store uses (`OperatorState` in `store::operators`).
    pub fn as_str(&self) -> &'static str {
        match self {
            OperatorState::Available => "available",
            OperatorState::Ringing { .. } => "ringing",
            OperatorState::OnCall { .. } => "on_call",
            OperatorState::WrapUp { .. } => "wrap_up",
            OperatorState::Paused { .. } => "paused",
            OperatorState::LoggedOut => "logged_out",
        }
    }

    /// A pause's reason.
    pub fn reason(&self) -> Option<&str> {
        match self {
            OperatorState::Paused { reason } => Some(reason),
            _ => None,
        }
    }
}

/// A position as it is said to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// "You are number N."
    Exact(usize),
    /// "More than N callers are ahead of you" (`announce-position = more`).
    MoreThan(usize),
}

/// What the glue must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Offer the caller: INVITE every operator listed (one, or the tier for
    /// ring-all). The router cancels it itself after `timeout`.
    Ring {
        caller: CallId,
        queue: String,
        operators: Vec<OperatorId>,
        timeout: Duration,
    },
    /// Stop ringing this operator's phone (CANCEL): someone else answered,
    /// the offer timed out, the caller hung up or the operator left.
    CancelRing {
        caller: CallId,
        operator: OperatorId,
    },
    /// Say the position (when the queue says it) and the expected wait.
    Announce {
        caller: CallId,
        position: Option<Position>,
        expected_wait: Duration,
    },
    /// Play the queue's `periodic-announce` prompt.
    PeriodicAnnounce { caller: CallId, prompt: String },
    /// The operator was paused for not answering; a
    /// [`Action::StateChanged`] follows.
    AutoPaused { operator: OperatorId },
    /// Store it: every change of every operator's state.
    StateChanged {
        operator: OperatorId,
        state: OperatorState,
    },
}

/// The answer to [`Router::join`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    /// Waiting at this position (from 1).
    Joined {
        position: usize,
    },
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `maxlen` callers are waiting already.
    Full,
    /// `joinempty`: nobody (logged in, or working) to answer.
    NoOperators,
}

/// A caller who hung up while waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abandoned {
    pub queue: String,
    pub waited: Duration,
}

/// A caller taken by an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub queue: String,
    pub waited: Duration,
}

/// Why an offer ended without an answer, as the operator's leg said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// 486 Busy Here / 600 Busy Everywhere.
    Busy,
    /// 603 Decline.
    Declined,
    /// No contact registered, or any other failure to reach the phone.
    Unreachable,
    /// Our side failed (no RTP port to offer): not held against the
    /// operator.
    Ours,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    #[error("no queue is named {0:?}")]
    UnknownQueue(String),
    #[error("operator {0} is not known")]
    UnknownOperator(OperatorId),
    #[error("operator {0} is not logged in")]
    NotLoggedIn(OperatorId),
    #[error("operator {0} is on a call")]
    OnCall(OperatorId),
    #[error("operator {0} is not on a call")]
    NotOnCall(OperatorId),
    #[error("operator {0} is being offered a call")]
    Ringing(OperatorId),
    #[error("call {0} is already waiting in a queue")]
    AlreadyWaiting(CallId),
    #[error("call {0} is not waiting in a queue")]
    NotWaiting(CallId),
    #[error("call {caller} is not being offered to operator {operator}")]
    NotOffered {
        caller: CallId,
        operator: OperatorId,
    },
}

struct Operator {
    state: OperatorState,
    idle_since: Instant,
    answered_today: u32,
    memberships: Vec<Membership>,
    /// Offers not answered in a row.
    no_answers: u32,
    /// While on a call: the queue it came from and when it was answered.
    conversation: Option<(usize, Instant)>,
}

impl Operator {
    fn penalty_in(&self, queue: &str) -> Option<u32> {
        self.memberships
            .iter()
            .find(|m| m.queue == queue)
            .map(|m| m.penalty)
    }

    fn logged_in(&self) -> bool {
        self.state != OperatorState::LoggedOut
    }

    fn working(&self) -> bool {
        !matches!(
            self.state,
            OperatorState::LoggedOut | OperatorState::Paused { .. }
        )
    }
}

struct Offer {
    /// Still ringing: rejecters drop out.
    ringing: Vec<OperatorId>,
    until: Instant,
}

struct Waiting {
    caller: CallId,
    joined_at: Instant,
    /// Join order, for callers who joined at the same instant.
    seq: u64,
    offer: Option<Offer>,
    /// Not offered again before this (after an unanswered offer).
    retry_at: Option<Instant>,
    /// Operators who let this caller's offer go unanswered this round.
    tried: BTreeSet<OperatorId>,
    /// Offered to this operator only (a transfer to their extension), until
    /// they let an offer go unanswered: then the queue's rules again.
    only: Option<OperatorId>,
    next_announce: Option<Instant>,
    next_periodic: Option<Instant>,
}

struct Queue {
    config: QueueConfig,
    /// In join order: index + 1 is the position.
    waiting: Vec<Waiting>,
    calls_ended: u32,
    talk_time: Duration,
}

impl Queue {
    fn handle_time(&self) -> Duration {
        match self.calls_ended {
            0 => DEFAULT_HANDLE_TIME,
            n => self.talk_time / n,
        }
    }
}

pub struct Router {
    queues: Vec<Queue>,
    operators: BTreeMap<OperatorId, Operator>,
    /// Which queue each waiting caller is in.
    callers: HashMap<CallId, usize>,
    /// Actions produced by inputs, handed out by the next `poll`.
    pending: Vec<Action>,
    next_seq: u64,
}

impl Router {
    /// A router for these queues (names are unique: [`super::QueueSet`]
    /// checked them).
    pub fn new<'a>(queues: impl IntoIterator<Item = &'a QueueConfig>) -> Self {
        Router {
            queues: queues
                .into_iter()
                .map(|config| Queue {
                    config: config.clone(),
                    waiting: Vec::new(),
                    calls_ended: 0,
                    talk_time: Duration::ZERO,
                })
                .collect(),
            operators: BTreeMap::new(),
            callers: HashMap::new(),
            pending: Vec::new(),
            next_seq: 0,
        }
    }

    // --- queries ------------------------------------------------------------------

    pub fn operator_state(&self, operator: &OperatorId) -> Option<&OperatorState> {
        self.operators.get(operator).map(|o| &o.state)
    }

    /// The caller's position in their queue, from 1.
    pub fn position(&self, caller: CallId) -> Option<usize> {
        let q = *self.callers.get(&caller)?;
        self.queues[q]
            .waiting
            .iter()
            .position(|w| w.caller == caller)
            .map(|i| i + 1)
    }

    /// The queues, in configuration order.
    pub fn queue_names(&self) -> impl Iterator<Item = &str> {
        self.queues.iter().map(|q| q.config.name.as_str())
    }

    /// The queues' configurations, in the file's order.
    pub fn configs(&self) -> impl Iterator<Item = &QueueConfig> {
        self.queues.iter().map(|q| &q.config)
    }

    /// The callers waiting in a queue, first in line first.
    pub fn waiting(&self, queue: &str) -> Vec<CallId> {
        self.queues
            .iter()
            .find(|q| q.config.name == queue)
            .map(|q| q.waiting.iter().map(|w| w.caller).collect())
            .unwrap_or_default()
    }

    // --- operators ----------------------------------------------------------------

    /// The operator starts work (available at once), or, already logged
    /// in, changes the queues they serve. Memberships of queues not
    /// configured are kept and never match.
    pub fn log_in(&mut self, now: Instant, operator: OperatorId, memberships: Vec<Membership>) {
        let entry = self
            .operators
            .entry(operator.clone())
            .or_insert_with(|| Operator {
                state: OperatorState::LoggedOut,
                idle_since: now,
                answered_today: 0,
                memberships: Vec::new(),
                no_answers: 0,
                conversation: None,
            });
        entry.memberships = memberships;
        if entry.state == OperatorState::LoggedOut {
            entry.no_answers = 0;
            self.become_available(now, &operator);
        }
    }

    /// Back from a pause, or wrap-up ended early.
    pub fn set_available(
        &mut self,
        now: Instant,
        operator: &OperatorId,
    ) -> Result<(), RouterError> {
        let op = self.operator(operator)?;
        match &op.state {
            OperatorState::Available => Ok(()),
            OperatorState::Paused { .. } | OperatorState::WrapUp { .. } => {
                op.no_answers = 0;
                self.become_available(now, operator);
                Ok(())
            }
            OperatorState::Ringing { .. } => Err(RouterError::Ringing(operator.clone())),
            OperatorState::OnCall { .. } => Err(RouterError::OnCall(operator.clone())),
            OperatorState::LoggedOut => Err(RouterError::NotLoggedIn(operator.clone())),
        }
    }

    /// A pause with a reason. A ringing offer is withdrawn from the
    /// operator (the caller is offered elsewhere at once); an operator on a
    /// call must end it first. (Every input takes the time, even where no
    /// rule needs it yet.)
    pub fn pause(
        &mut self,
        _now: Instant,
        operator: &OperatorId,
        reason: &str,
    ) -> Result<(), RouterError> {
        let op = self.operator(operator)?;
        match op.state.clone() {
            OperatorState::LoggedOut => return Err(RouterError::NotLoggedIn(operator.clone())),
            OperatorState::OnCall { .. } => return Err(RouterError::OnCall(operator.clone())),
            OperatorState::Paused { reason: r } if r == reason => return Ok(()),
            OperatorState::Ringing { caller } => self.withdraw(caller, operator),
            _ => {}
        }
        self.set_state(
            operator,
            OperatorState::Paused {
                reason: reason.to_owned(),
            },
        );
        Ok(())
    }

    /// The operator stops work. As with [`Router::pause`], a ringing offer
    /// is withdrawn and a call must end first.
    pub fn log_out(&mut self, _now: Instant, operator: &OperatorId) -> Result<(), RouterError> {
        let op = self.operator(operator)?;
        match op.state.clone() {
            OperatorState::LoggedOut => return Ok(()),
            OperatorState::OnCall { .. } => return Err(RouterError::OnCall(operator.clone())),
            OperatorState::Ringing { caller } => self.withdraw(caller, operator),
            _ => {}
        }
        self.set_state(operator, OperatorState::LoggedOut);
        Ok(())
    }

    /// The operator's conversation ended (either side hung up): wrap-up
    /// for the queue's `wrapuptime`, then available.
    pub fn call_ended(&mut self, now: Instant, operator: &OperatorId) -> Result<(), RouterError> {
        let op = self.operator(operator)?;
        let (Some((q, since)), OperatorState::OnCall { .. }) = (op.conversation, &op.state) else {
            return Err(RouterError::NotOnCall(operator.clone()));
        };
        op.conversation = None;
        let queue = &mut self.queues[q];
        queue.calls_ended += 1;
        queue.talk_time += now.saturating_duration_since(since);
        match queue.config.wrapup {
            Duration::ZERO => self.become_available(now, operator),
            wrapup => self.set_state(
                operator,
                OperatorState::WrapUp {
                    until: now + wrapup,
                },
            ),
        }
        Ok(())
    }

    /// A new day for "fewest calls": every operator's count starts at 0.
    pub fn reset_daily_counts(&mut self) {
        for op in self.operators.values_mut() {
            op.answered_today = 0;
        }
    }

    // --- callers ------------------------------------------------------------------

    /// The caller enters a queue (from the IVR).
    pub fn join(
        &mut self,
        now: Instant,
        caller: CallId,
        queue: &str,
    ) -> Result<JoinOutcome, RouterError> {
        let q = self
            .queues
            .iter()
            .position(|q| q.config.name == queue)
            .ok_or_else(|| RouterError::UnknownQueue(queue.to_owned()))?;
        if self.callers.contains_key(&caller) {
            return Err(RouterError::AlreadyWaiting(caller));
        }
        let config = &self.queues[q].config;
        if config
            .max_waiting
            .is_some_and(|max| self.queues[q].waiting.len() >= max)
        {
            return Ok(JoinOutcome::Refused(Refusal::Full));
        }
        let members = || {
            self.operators
                .values()
                .filter(|o| o.penalty_in(queue).is_some())
        };
        let empty = match config.join_empty {
            JoinEmpty::Yes => false,
            JoinEmpty::No => !members().any(Operator::logged_in),
            JoinEmpty::Strict => !members().any(Operator::working),
        };
        if empty {
            return Ok(JoinOutcome::Refused(Refusal::NoOperators));
        }
        let waiting = Waiting {
            caller,
            joined_at: now,
            seq: self.next_seq,
            offer: None,
            retry_at: None,
            tried: BTreeSet::new(),
            only: None,
            next_announce: config.announce_frequency.map(|f| now + f),
            next_periodic: config.periodic_announce.as_ref().map(|p| now + p.every),
        };
        self.next_seq += 1;
        self.queues[q].waiting.push(waiting);
        self.callers.insert(caller, q);
        Ok(JoinOutcome::Joined {
            position: self.queues[q].waiting.len(),
        })
    }

    /// The caller is handed to one operator (an operator transferred them
    /// to a colleague's extension): they wait in `queue` (its position,
    /// announcements and statistics) but are offered to `operator` alone,
    /// whatever queues that operator serves, as soon as they are available.
    /// If the operator lets the offer go unanswered, the caller is routed
    /// by the queue's rules like any other. `maxlen` and `joinempty` do not
    /// apply: the caller was already taken.
    pub fn join_for(
        &mut self,
        now: Instant,
        caller: CallId,
        queue: &str,
        operator: &OperatorId,
    ) -> Result<usize, RouterError> {
        if !self.operators.contains_key(operator) {
            return Err(RouterError::UnknownOperator(operator.clone()));
        }
        let q = self
            .queues
            .iter()
            .position(|q| q.config.name == queue)
            .ok_or_else(|| RouterError::UnknownQueue(queue.to_owned()))?;
        if self.callers.contains_key(&caller) {
            return Err(RouterError::AlreadyWaiting(caller));
        }
        let config = &self.queues[q].config;
        let waiting = Waiting {
            caller,
            joined_at: now,
            seq: self.next_seq,
            offer: None,
            retry_at: None,
            tried: BTreeSet::new(),
            only: Some(operator.clone()),
            next_announce: config.announce_frequency.map(|f| now + f),
            next_periodic: config.periodic_announce.as_ref().map(|p| now + p.every),
        };
        self.next_seq += 1;
        self.queues[q].waiting.push(waiting);
        self.callers.insert(caller, q);
        Ok(self.queues[q].waiting.len())
    }

    /// The caller hung up while waiting (or while an offer rang).
    pub fn hang_up(&mut self, now: Instant, caller: CallId) -> Result<Abandoned, RouterError> {
        let (q, waiting) = self.remove_waiting(caller)?;
        if let Some(offer) = waiting.offer {
            for operator in offer.ringing {
                self.pending.push(Action::CancelRing {
                    caller,
                    operator: operator.clone(),
                });
                self.set_state(&operator, OperatorState::Available);
            }
        }
        Ok(Abandoned {
            queue: self.queues[q].config.name.clone(),
            waited: now.saturating_duration_since(waiting.joined_at),
        })
    }

    /// The operator answered the offer: they are on the call, the caller
    /// leaves the queue and the others' phones stop ringing.
    pub fn answered(
        &mut self,
        now: Instant,
        caller: CallId,
        operator: &OperatorId,
    ) -> Result<Answered, RouterError> {
        self.check_offered(caller, operator)?;
        let (q, waiting) = self.remove_waiting(caller)?;
        // check_offered found the offer.
        let offer = waiting.offer.expect("offered");
        for other in offer.ringing.into_iter().filter(|o| o != operator) {
            self.pending.push(Action::CancelRing {
                caller,
                operator: other.clone(),
            });
            self.set_state(&other, OperatorState::Available);
        }
        let op = self.operator(operator)?;
        op.answered_today += 1;
        op.no_answers = 0;
        op.conversation = Some((q, now));
        self.set_state(operator, OperatorState::OnCall { caller });
        Ok(Answered {
            queue: self.queues[q].config.name.clone(),
            waited: now.saturating_duration_since(waiting.joined_at),
        })
    }

    /// The operator's phone refused the offer. Busy, declined or
    /// unreachable alike count as not answered; a failure on our side
    /// ([`Rejection::Ours`]) does not. The caller, once nobody rings any
    /// more, waits `retry`.
    pub fn rejected(
        &mut self,
        now: Instant,
        caller: CallId,
        operator: &OperatorId,
        why: Rejection,
    ) -> Result<(), RouterError> {
        self.check_offered(caller, operator)?;
        let q = self.callers[&caller];
        let retry = self.queues[q].config.retry;
        let waiting = self.waiting_mut(caller)?;
        // check_offered found the offer.
        let offer = waiting.offer.as_mut().expect("offered");
        offer.ringing.retain(|o| o != operator);
        waiting.tried.insert(operator.clone());
        waiting.only = None;
        if offer.ringing.is_empty() {
            waiting.offer = None;
            waiting.retry_at = Some(now + retry);
        }
        if why == Rejection::Ours {
            // Not their fault: free again at once, nothing counted.
            self.set_state(operator, OperatorState::Available);
        } else {
            self.not_answered(operator);
        }
        Ok(())
    }

    // --- time -----------------------------------------------------------------------

    /// Everything due at `now`: the inputs' consequences, wrap-ups ending,
    /// offers timing out, new offers, announcements.
    pub fn poll(&mut self, now: Instant) -> Vec<Action> {
        self.end_wrapups(now);
        self.time_out_offers(now);
        for w in self.queues.iter_mut().flat_map(|q| q.waiting.iter_mut()) {
            if w.retry_at.is_some_and(|at| at <= now) {
                w.retry_at = None;
            }
        }
        self.offer_callers(now);
        self.announce(now);
        std::mem::take(&mut self.pending)
    }

    /// When `poll` has something to do without a new input.
    pub fn next_timeout(&self) -> Option<Instant> {
        let wrapups = self.operators.values().filter_map(|o| match o.state {
            OperatorState::WrapUp { until } => Some(until),
            _ => None,
        });
        let callers = self
            .queues
            .iter()
            .flat_map(|q| q.waiting.iter())
            .flat_map(|w| {
                [
                    w.offer.as_ref().map(|o| o.until),
                    w.retry_at,
                    w.next_announce,
                    w.next_periodic,
                ]
            })
            .flatten();
        wrapups.chain(callers).min()
    }

    // --- internals ------------------------------------------------------------------

    fn operator(&mut self, operator: &OperatorId) -> Result<&mut Operator, RouterError> {
        self.operators
            .get_mut(operator)
            .ok_or_else(|| RouterError::UnknownOperator(operator.clone()))
    }

    fn waiting_mut(&mut self, caller: CallId) -> Result<&mut Waiting, RouterError> {
        let q = *self
            .callers
            .get(&caller)
            .ok_or(RouterError::NotWaiting(caller))?;
        self.queues[q]
            .waiting
            .iter_mut()
            .find(|w| w.caller == caller)
            .ok_or(RouterError::NotWaiting(caller))
    }

    fn check_offered(&mut self, caller: CallId, operator: &OperatorId) -> Result<(), RouterError> {
        let waiting = self.waiting_mut(caller)?;
        match &waiting.offer {
            Some(offer) if offer.ringing.contains(operator) => Ok(()),
            _ => Err(RouterError::NotOffered {
                caller,
                operator: operator.clone(),
            }),
        }
    }

    /// Takes the caller out of their queue; everyone behind moves up. No
    /// action per caller moved: with a thousand waiting, a queue emptying
    /// from its head would make half a million of them. Positions are
    /// read when they are said ([`Action::Announce`]) or asked
    /// ([`Router::position`]).
    fn remove_waiting(&mut self, caller: CallId) -> Result<(usize, Waiting), RouterError> {
        let q = self
            .callers
            .remove(&caller)
            .ok_or(RouterError::NotWaiting(caller))?;
        let queue = &mut self.queues[q];
        let i = queue
            .waiting
            .iter()
            .position(|w| w.caller == caller)
            .ok_or(RouterError::NotWaiting(caller))?;
        let waiting = queue.waiting.remove(i);
        Ok((q, waiting))
    }

    /// Stops an offer ringing at an operator who paused or left; the caller
    /// is offered again at once, without `retry` (nobody refused them).
    fn withdraw(&mut self, caller: CallId, operator: &OperatorId) {
        self.pending.push(Action::CancelRing {
            caller,
            operator: operator.clone(),
        });
        if let Ok(waiting) = self.waiting_mut(caller) {
            if let Some(offer) = waiting.offer.as_mut() {
                offer.ringing.retain(|o| o != operator);
                if offer.ringing.is_empty() {
                    waiting.offer = None;
                }
            }
        }
    }

    fn set_state(&mut self, operator: &OperatorId, state: OperatorState) {
        if let Some(op) = self.operators.get_mut(operator) {
            if op.state != state {
                op.state = state.clone();
                self.pending.push(Action::StateChanged {
                    operator: operator.clone(),
                    state,
                });
            }
        }
    }

    fn become_available(&mut self, at: Instant, operator: &OperatorId) {
        if let Some(op) = self.operators.get_mut(operator) {
            op.idle_since = at;
        }
        self.set_state(operator, OperatorState::Available);
    }

    /// An offer to the operator ended unanswered: back to available, or
    /// paused after too many in a row.
    fn not_answered(&mut self, operator: &OperatorId) {
        let Some(op) = self.operators.get_mut(operator) else {
            return;
        };
        op.no_answers += 1;
        if op.no_answers >= AUTO_PAUSE_AFTER {
            self.pending.push(Action::AutoPaused {
                operator: operator.clone(),
            });
            self.set_state(
                operator,
                OperatorState::Paused {
                    reason: AUTO_PAUSE_REASON.to_owned(),
                },
            );
        } else {
            // Idle since is kept: a missed offer is not work done.
            self.set_state(operator, OperatorState::Available);
        }
    }

    fn end_wrapups(&mut self, now: Instant) {
        let done: Vec<(OperatorId, Instant)> = self
            .operators
            .iter()
            .filter_map(|(id, o)| match o.state {
                OperatorState::WrapUp { until } if until <= now => Some((id.clone(), until)),
                _ => None,
            })
            .collect();
        for (operator, until) in done {
            // Idle since the wrap-up ended, even if this poll came late.
            self.become_available(until, &operator);
        }
    }

    fn time_out_offers(&mut self, now: Instant) {
        let mut missed = Vec::new();
        for queue in &mut self.queues {
            let retry = queue.config.retry;
            for w in &mut queue.waiting {
                let Some(offer) = w.offer.take_if(|o| o.until <= now) else {
                    continue;
                };
                // From the deadline, so a late poll does not stretch it.
                w.retry_at = Some(offer.until + retry);
                w.only = None;
                for operator in offer.ringing {
                    w.tried.insert(operator.clone());
                    missed.push((w.caller, operator));
                }
            }
        }
        for (caller, operator) in missed {
            self.pending.push(Action::CancelRing {
                caller,
                operator: operator.clone(),
            });
            self.not_answered(&operator);
        }
    }

    /// Offers every caller who can be offered, in priority order.
    fn offer_callers(&mut self, now: Instant) {
        // Nobody free, nobody to offer: the common case of a long queue,
        // which must not cost a pass over every waiting caller per poll.
        if !self
            .operators
            .values()
            .any(|o| o.state == OperatorState::Available)
        {
            return;
        }
        let mut ready: Vec<(std::cmp::Reverse<u32>, Instant, u64, usize, CallId)> = self
            .queues
            .iter()
            .enumerate()
            .flat_map(|(q, queue)| {
                queue
                    .waiting
                    .iter()
                    .filter(|w| w.offer.is_none() && w.retry_at.is_none())
                    .map(move |w| {
                        (
                            std::cmp::Reverse(queue.config.weight),
                            w.joined_at,
                            w.seq,
                            q,
                            w.caller,
                        )
                    })
            })
            .collect();
        ready.sort();
        for (_, _, _, q, caller) in ready {
            let chosen = self.choose_operators(q, caller);
            if chosen.is_empty() {
                continue;
            }
            let config = &self.queues[q].config;
            let (name, timeout) = (config.name.clone(), config.ring_timeout);
            // `ready` was built from the queues just now, and nothing
            // removes callers in between.
            let waiting = self.waiting_mut(caller).expect("still waiting");
            waiting.offer = Some(Offer {
                ringing: chosen.clone(),
                until: now + timeout,
            });
            self.pending.push(Action::Ring {
                caller,
                queue: name,
                operators: chosen.clone(),
                timeout,
            });
            for operator in chosen {
                self.set_state(&operator, OperatorState::Ringing { caller });
            }
        }
    }

    /// The operators to ring for this caller now, best first; empty when
    /// none is available.
    fn choose_operators(&mut self, q: usize, caller: CallId) -> Vec<OperatorId> {
        let queue = &self.queues[q];
        let name = queue.config.name.as_str();
        let only = queue
            .waiting
            .iter()
            .find(|w| w.caller == caller)
            .and_then(|w| w.only.as_ref());
        if let Some(only) = only {
            let free = self
                .operators
                .get(only)
                .is_some_and(|o| o.state == OperatorState::Available);
            return if free { vec![only.clone()] } else { Vec::new() };
        }
        let available: Vec<(&OperatorId, &Operator, u32)> = self
            .operators
            .iter()
            .filter(|(_, o)| o.state == OperatorState::Available)
            .filter_map(|(id, o)| o.penalty_in(name).map(|p| (id, o, p)))
            .collect();
        if available.is_empty() {
            return Vec::new();
        }
        let Some(waiting) = queue.waiting.iter().find(|w| w.caller == caller) else {
            return Vec::new();
        };
        let untried: Vec<_> = available
            .iter()
            .filter(|(id, _, _)| !waiting.tried.contains(*id))
            .collect();
        // Everyone free was tried: a new round, in the same order.
        let (candidates, new_round) = if untried.is_empty() {
            (available.iter().collect::<Vec<_>>(), true)
        } else {
            (untried, false)
        };
        // `candidates` is not empty: `available` is not.
        let best_penalty = candidates.iter().map(|(_, _, p)| *p).min().expect("some");
        let mut tier: Vec<_> = candidates
            .into_iter()
            .filter(|(_, _, p)| *p == best_penalty)
            .collect();
        // The operator map is ordered by id, and sorts are stable: ties go
        // to the smaller id.
        let chosen = match queue.config.strategy {
            Strategy::RingAll => tier.iter().map(|(id, _, _)| (*id).clone()).collect(),
            Strategy::LongestIdle => {
                tier.sort_by_key(|(_, o, _)| o.idle_since);
                vec![tier[0].0.clone()]
            }
            Strategy::FewestCalls => {
                tier.sort_by_key(|(_, o, _)| (o.answered_today, o.idle_since));
                vec![tier[0].0.clone()]
            }
        };
        if new_round {
            let waiting = self.waiting_mut(caller).expect("found above");
            waiting.tried.clear();
        }
        chosen
    }

    fn announce(&mut self, now: Instant) {
        for queue in &mut self.queues {
            let working = self
                .operators
                .values()
                .filter(|o| o.working() && o.penalty_in(&queue.config.name).is_some())
                .count()
                .max(1);
            let handle_time = queue.handle_time();
            let config = &queue.config;
            for (i, w) in queue.waiting.iter_mut().enumerate() {
                let ringing = w.offer.is_some();
                let announce = config
                    .announce_frequency
                    .is_some_and(|every| due(&mut w.next_announce, every, now));
                if announce && !ringing {
                    let position = i + 1;
                    let said = match config.announce_position {
                        AnnouncePosition::Yes => Some(Position::Exact(position)),
                        AnnouncePosition::No => None,
                        AnnouncePosition::More if position > config.announce_position_limit => {
                            Some(Position::MoreThan(config.announce_position_limit))
                        }
                        AnnouncePosition::More => Some(Position::Exact(position)),
                    };
                    let rounds = u32::try_from(position.div_ceil(working)).unwrap_or(u32::MAX);
                    self.pending.push(Action::Announce {
                        caller: w.caller,
                        position: said,
                        expected_wait: handle_time.saturating_mul(rounds),
                    });
                }
                if let Some(periodic) = &config.periodic_announce {
                    if due(&mut w.next_periodic, periodic.every, now) && !ringing {
                        self.pending.push(Action::PeriodicAnnounce {
                            caller: w.caller,
                            prompt: periodic.prompt.clone(),
                        });
                    }
                }
            }
        }
    }
}

/// Whether the periodic deadline `next` has come; if so, moves it to the
/// first later multiple of `every` (missed periods are not made up).
fn due(next: &mut Option<Instant>, every: Duration, now: Instant) -> bool {
    match next {
        Some(at) if *at <= now => {
            while *at <= now {
                *at += every;
            }
            true
        }
        _ => false,
    }
}
