//! The queue service: the async edge around the [`Router`].
//!
//! One task owns the router. Calls, the SIP core (softphones registering)
//! and the HTTP API send it inputs; it feeds them to the router with the
//! time, carries out the router's actions (telling a call to ring an
//! operator, to stop, to announce), and stores and publishes every queue
//! step and every operator state change. Stored writes go through one
//! writer task, in order, so the routing never waits on the database.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};
use uuid::Uuid;

use super::router::{
    Action, CallId, JoinOutcome, Membership, OperatorId, OperatorState, Position, Refusal,
    Rejection, Router, RouterError,
};
use super::{QueueConfig, QueueSet};
use crate::events::{CallSummary, Event, EventBus};
use crate::store::{NewQueueEvent, QueueEventKind, Store};

/// What the queue service tells a waiting call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToCall {
    Joined {
        position: usize,
    },
    Refused {
        reason: Refusal,
    },
    /// Ring this operator's phone(s); the service withdraws the offer
    /// itself (with [`ToCall::CancelRing`]) after the queue's timeout.
    Ring {
        operator: OperatorId,
        extension: String,
    },
    CancelRing {
        operator: OperatorId,
    },
    Announce {
        position: Option<Position>,
        expected_wait: Duration,
    },
    Periodic {
        prompt: String,
    },
}

/// A change of state asked for through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateRequest {
    LogIn,
    Available,
    Pause { reason: String },
    LogOut,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("no operator has the login {0:?}")]
    UnknownOperator(String),
    #[error(transparent)]
    Router(#[from] RouterError),
    #[error("the operator store failed: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("the queue service has stopped")]
    Stopped,
}

/// An operator's state, for the API and live views.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct OperatorView {
    pub login: String,
    pub name: String,
    pub extension: String,
    #[schema(value_type = crate::store::OperatorState)]
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub queues: Vec<String>,
    /// How long they have been in this state, if it changed since the
    /// server started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_state_ms: Option<u64>,
    /// The call they talk on (`on_call`): a supervisor may listen in.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub call: Option<CallId>,
}

/// A queue as it is now, for the API and live views.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct QueueView {
    pub name: String,
    /// What people read ("Аварійна"): `title` in the queues file.
    pub title: String,
    pub waiting: usize,
    pub longest_wait_ms: u64,
    /// The callers waiting, first in line first.
    pub callers: Vec<WaitingCaller>,
}

/// A caller waiting in a queue, for live views.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct WaitingCaller {
    pub call: CallId,
    pub waited_ms: u64,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Snapshot {
    pub queues: Vec<QueueView>,
    pub operators: Vec<OperatorView>,
}

enum Input {
    Join {
        call: CallId,
        queue: String,
        to_call: mpsc::UnboundedSender<ToCall>,
        summary: CallSummary,
    },
    JoinFor {
        call: CallId,
        queue: String,
        extension: String,
        /// The operator who transferred the caller.
        from: OperatorId,
        to_call: mpsc::UnboundedSender<ToCall>,
        summary: CallSummary,
        reply: oneshot::Sender<bool>,
    },
    HangUp {
        call: CallId,
        /// The caller hung up (abandoned), rather than the server ending
        /// the call (shutdown, timeout: left).
        abandoned: bool,
    },
    /// The call's task has ended, however: whatever the router still
    /// holds for it is released (a call that failed mid-way must not
    /// leave a ghost caller or an operator "on call" for ever).
    CallGone {
        call: CallId,
    },
    /// A lookup in the store finished (lookups run off the routing loop).
    Resolved {
        found: Box<Result<Option<crate::store::Operator>, crate::store::StoreError>>,
        then: Then,
    },
    Answered {
        call: CallId,
        operator: OperatorId,
        reply: oneshot::Sender<bool>,
    },
    Rejected {
        call: CallId,
        operator: OperatorId,
        why: Rejection,
    },
    ConversationEnded {
        operator: OperatorId,
    },
    Transferred {
        call: CallId,
        queue: String,
        operator: OperatorId,
        target: String,
    },
    PhoneRegistered {
        extension: String,
    },
    PhoneGone {
        extension: String,
    },
    /// An admin changed the operator's record.
    Refresh {
        login: String,
    },
    Set {
        login: String,
        request: StateRequest,
        reply: oneshot::Sender<Result<OperatorView, ServiceError>>,
    },
    Snapshot {
        reply: oneshot::Sender<Snapshot>,
    },
}

/// What to do once an operator is looked up.
enum Then {
    LogInByPhone {
        extension: String,
    },
    Refresh {
        login: String,
    },
    Set {
        login: String,
        request: StateRequest,
        reply: oneshot::Sender<Result<OperatorView, ServiceError>>,
    },
    JoinFor {
        call: CallId,
        queue: String,
        extension: String,
        from: OperatorId,
        to_call: mpsc::UnboundedSender<ToCall>,
        summary: CallSummary,
        reply: oneshot::Sender<bool>,
    },
}

/// The handle calls, the SIP core and the API use; cheap to clone.
#[derive(Clone)]
pub struct QueueService {
    tx: mpsc::UnboundedSender<Input>,
    configs: std::sync::Arc<QueueSet>,
}

impl QueueService {
    /// Starts the service's task for these queues.
    pub fn spawn(queues: QueueSet, store: Store, bus: EventBus) -> QueueService {
        let (tx, rx) = mpsc::unbounded_channel();
        let (write_tx, write_rx) = mpsc::unbounded_channel();
        tokio::spawn(writer(store.clone(), write_rx));
        let service = Service {
            inputs: tx.clone(),
            logout_after_call: Default::default(),
            day: chrono::Local::now().date_naive(),
            router: Router::new(queues.queues()),
            store,
            bus,
            writes: write_tx,
            calls: HashMap::new(),
            operators: HashMap::new(),
            extensions: HashMap::new(),
            since: HashMap::new(),
        };
        tokio::spawn(service.run(rx));
        QueueService {
            tx,
            configs: std::sync::Arc::new(queues),
        }
    }

    pub fn config(&self, queue: &str) -> Option<&QueueConfig> {
        self.configs.get(queue)
    }

    pub fn queues(&self) -> &QueueSet {
        &self.configs
    }

    /// The queues, shared (the IVR's reloader checks menus against them).
    pub fn queue_set(&self) -> std::sync::Arc<QueueSet> {
        self.configs.clone()
    }

    /// The call enters `queue`; the answer ([`ToCall::Joined`] or
    /// [`ToCall::Refused`]) and everything after comes on `to_call`.
    /// `summary`: what the call knows of itself (the caller, the SIP
    /// Call-ID, the steps through the menu), for the operator's card.
    pub fn join(
        &self,
        call: CallId,
        queue: &str,
        to_call: mpsc::UnboundedSender<ToCall>,
        summary: CallSummary,
    ) {
        let _ = self.tx.send(Input::Join {
            call,
            queue: queue.to_owned(),
            to_call,
            summary,
        });
    }

    /// `from` transferred the call to a colleague's extension: it waits in
    /// `queue` (where `from` answered it) for that operator alone. `false`
    /// if no such operator is logged in, and nothing changed; else the
    /// transfer and the join are stored, in that order.
    pub async fn transfer_to_extension(
        &self,
        call: CallId,
        queue: &str,
        from: OperatorId,
        extension: &str,
        to_call: mpsc::UnboundedSender<ToCall>,
        summary: CallSummary,
    ) -> bool {
        let (reply, rx) = oneshot::channel();
        let _ = self.tx.send(Input::JoinFor {
            call,
            queue: queue.to_owned(),
            extension: extension.to_owned(),
            from,
            to_call,
            summary,
            reply,
        });
        rx.await.unwrap_or(false)
    }

    /// The call left the queue before an operator took it: the caller
    /// hung up (`abandoned`), or the server ended the call (shutdown, a
    /// media timeout), which is stored as `left`.
    pub fn hang_up(&self, call: CallId, abandoned: bool) {
        let _ = self.tx.send(Input::HangUp { call, abandoned });
    }

    /// The call's task is over (always sent, also after a failure).
    pub fn call_gone(&self, call: CallId) {
        let _ = self.tx.send(Input::CallGone { call });
    }

    /// The operator answered; `false` when the offer was no longer theirs
    /// (it timed out, or someone else answered first): hang up their leg.
    pub async fn answered(&self, call: CallId, operator: OperatorId) -> bool {
        let (reply, rx) = oneshot::channel();
        let _ = self.tx.send(Input::Answered {
            call,
            operator,
            reply,
        });
        rx.await.unwrap_or(false)
    }

    pub fn rejected(&self, call: CallId, operator: OperatorId, why: Rejection) {
        let _ = self.tx.send(Input::Rejected {
            call,
            operator,
            why,
        });
    }

    /// The operator's conversation is over (either side hung up, or they
    /// transferred the caller): wrap-up starts.
    pub fn conversation_ended(&self, operator: OperatorId) {
        let _ = self.tx.send(Input::ConversationEnded { operator });
    }

    pub fn transferred(&self, call: CallId, queue: &str, operator: OperatorId, target: &str) {
        let _ = self.tx.send(Input::Transferred {
            call,
            queue: queue.to_owned(),
            operator,
            target: target.to_owned(),
        });
    }

    /// An extension's first contact registered.
    pub fn phone_registered(&self, extension: &str) {
        let _ = self.tx.send(Input::PhoneRegistered {
            extension: extension.to_owned(),
        });
    }

    /// An admin changed (or removed, or disabled) the operator: what they
    /// serve applies at once if they are signed in; one removed or
    /// disabled is signed out (after their call, if on one).
    pub fn operator_changed(&self, login: &str) {
        let _ = self.tx.send(Input::Refresh {
            login: login.to_owned(),
        });
    }

    /// An extension's last contact unregistered or expired.
    pub fn phone_gone(&self, extension: &str) {
        let _ = self.tx.send(Input::PhoneGone {
            extension: extension.to_owned(),
        });
    }

    pub async fn set_state(
        &self,
        login: &str,
        request: StateRequest,
    ) -> Result<OperatorView, ServiceError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Set {
                login: login.to_owned(),
                request,
                reply,
            })
            .map_err(|_| ServiceError::Stopped)?;
        rx.await.map_err(|_| ServiceError::Stopped)?
    }

    pub async fn snapshot(&self) -> Result<Snapshot, ServiceError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Input::Snapshot { reply })
            .map_err(|_| ServiceError::Stopped)?;
        rx.await.map_err(|_| ServiceError::Stopped)
    }
}

/// What the service knows of an operator beyond the router's view.
#[derive(Debug, Clone)]
struct OperatorInfo {
    id: Uuid,
    name: String,
    extension: String,
    queues: Vec<String>,
    memberships: Vec<Membership>,
}

struct WaitingCall {
    queue: String,
    joined: Instant,
    to_call: mpsc::UnboundedSender<ToCall>,
    /// The caller, the SIP Call-ID and the steps through the IVR, for the
    /// operator's card.
    summary: CallSummary,
}

enum Write {
    State {
        operator: Uuid,
        at: chrono::DateTime<Utc>,
        state: &'static str,
        reason: Option<String>,
    },
    Queue(NewQueueEvent),
}

async fn writer(store: Store, mut rx: mpsc::UnboundedReceiver<Write>) {
    while let Some(write) = rx.recv().await {
        let result = match write {
            Write::State {
                operator,
                at,
                state,
                reason,
            } => {
                let Some(state) = crate::store::OperatorState::parse(state) else {
                    continue;
                };
                store
                    .record_operator_state(operator, at, state, reason.as_deref())
                    .await
                    .map(drop)
            }
            Write::Queue(event) => store.add_queue_event(&event).await.map(drop),
        };
        if let Err(e) = result {
            warn!(error = %e, "cannot store a queue step");
        }
    }
}

struct Service {
    /// Our own inputs, for lookups to report back.
    inputs: mpsc::UnboundedSender<Input>,
    /// Phones gone while their operator was on a call: logged out after it.
    logout_after_call: std::collections::HashSet<OperatorId>,
    /// For "fewest calls today": counts start again each local day.
    day: chrono::NaiveDate,
    router: Router,
    store: Store,
    bus: EventBus,
    writes: mpsc::UnboundedSender<Write>,
    /// Calls waiting (or being offered), by the router's id.
    calls: HashMap<CallId, WaitingCall>,
    operators: HashMap<OperatorId, OperatorInfo>,
    extensions: HashMap<String, OperatorId>,
    /// When each operator's state last changed, for the time in state.
    since: HashMap<OperatorId, Instant>,
}

impl Service {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Input>) {
        loop {
            let today = chrono::Local::now().date_naive();
            if today != self.day {
                self.day = today;
                self.router.reset_daily_counts();
            }
            let actions = self.router.poll(Instant::now());
            self.carry_out(actions);
            let wake = self
                .router
                .next_timeout()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                input = rx.recv() => match input {
                    Some(input) => self.input(input).await,
                    None => break,
                },
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
            }
        }
    }

    fn queue_event(
        &self,
        call: CallId,
        queue: &str,
        kind: QueueEventKind,
        operator: Option<&OperatorId>,
    ) -> NewQueueEvent {
        NewQueueEvent {
            at: Utc::now(),
            queue: queue.to_owned(),
            call_id: call.as_uuid(),
            kind,
            operator_id: operator.and_then(|o| self.operators.get(o)).map(|i| i.id),
            wait_ms: None,
            position: None,
            detail: None,
        }
    }

    fn store(&self, event: NewQueueEvent) {
        let _ = self.writes.send(Write::Queue(event));
    }

    async fn input(&mut self, input: Input) {
        let now = Instant::now();
        match input {
            Input::Join {
                call,
                queue,
                to_call,
                summary,
            } => {
                let id = call;
                match self.router.join(now, id, &queue) {
                    Ok(JoinOutcome::Joined { position }) => {
                        info!(%call, %queue, position, "caller joined the queue");
                        let waiting = WaitingCall {
                            queue,
                            joined: now,
                            to_call,
                            summary,
                        };
                        self.joined(call, position, None, waiting);
                    }
                    Ok(JoinOutcome::Refused(reason)) => {
                        let text = match reason {
                            Refusal::Full => "full",
                            Refusal::NoOperators => "no-operators",
                        };
                        info!(%call, %queue, reason = text, "queue refused the caller");
                        let _ = to_call.send(ToCall::Refused { reason });
                        let mut e = self.queue_event(call, &queue, QueueEventKind::Refused, None);
                        e.detail = Some(text.into());
                        self.store(e);
                        self.bus.publish(Event::QueueRefused {
                            call,
                            queue,
                            reason: text,
                        });
                    }
                    Err(e) => {
                        // An unknown queue was caught at start-up; a second
                        // join of one call is a bug in the call task.
                        warn!(%call, error = %e, "join refused");
                        let _ = to_call.send(ToCall::Refused {
                            reason: Refusal::NoOperators,
                        });
                    }
                }
            }
            Input::JoinFor {
                call,
                queue,
                extension,
                from,
                to_call,
                summary,
                reply,
            } => {
                self.lookup_extension(
                    extension.clone(),
                    Then::JoinFor {
                        call,
                        queue,
                        extension,
                        from,
                        to_call,
                        summary,
                        reply,
                    },
                );
            }
            Input::HangUp { call, abandoned } => self.left(now, call, abandoned),
            Input::CallGone { call } => {
                // Normally the call said so itself already: then nothing
                // is left to release.
                self.left(now, call, true);
                let id = call;
                let talking: Vec<OperatorId> = self
                    .operators
                    .keys()
                    .filter(|o| {
                        self.router.operator_state(o) == Some(&OperatorState::OnCall { caller: id })
                    })
                    .cloned()
                    .collect();
                for operator in talking {
                    warn!(%call, %operator, "call ended without releasing its operator");
                    self.conversation_ended(now, operator);
                }
            }
            Input::Resolved { found, then } => self.resolved(now, *found, then),
            Input::Answered {
                call,
                operator,
                reply,
            } => {
                let id = call;
                match self.router.answered(now, id, &operator) {
                    Ok(answered) => {
                        self.calls.remove(&id);
                        let waited_ms = answered.waited.as_millis() as u64;
                        info!(%call, %operator, queue = %answered.queue, waited_ms, "operator answered");
                        let mut e = self.queue_event(
                            call,
                            &answered.queue,
                            QueueEventKind::Answered,
                            Some(&operator),
                        );
                        e.wait_ms = Some(waited_ms);
                        self.store(e);
                        self.bus.publish(Event::QueueAnswered {
                            call,
                            queue: answered.queue,
                            operator: operator.0.clone(),
                            waited_ms,
                        });
                        let _ = reply.send(true);
                    }
                    Err(e) => {
                        info!(%call, %operator, error = %e, "late answer refused");
                        let _ = reply.send(false);
                    }
                }
            }
            Input::Rejected {
                call,
                operator,
                why,
            } => {
                let id = call;
                if let Err(e) = self.router.rejected(now, id, &operator, why) {
                    // The offer was withdrawn meanwhile: nothing to do.
                    tracing::debug!(%call, %operator, error = %e, "rejection of a withdrawn offer");
                } else {
                    info!(%call, %operator, ?why, "operator did not take the call");
                }
            }
            Input::ConversationEnded { operator } => self.conversation_ended(now, operator),
            Input::Transferred {
                call,
                queue,
                operator,
                target,
            } => self.record_transfer(call, &queue, &operator, &target),
            Input::PhoneRegistered { extension } => {
                self.lookup_extension(extension.clone(), Then::LogInByPhone { extension });
            }
            Input::PhoneGone { extension } => {
                if let Some(operator) = self.extensions.get(&extension).cloned() {
                    match self.router.log_out(now, &operator) {
                        Ok(()) => {
                            info!(%operator, %extension, "softphone gone: operator logged out")
                        }
                        Err(RouterError::OnCall(_)) => {
                            info!(%operator, %extension, "softphone gone: logged out after the call");
                            self.logout_after_call.insert(operator);
                        }
                        Err(e) => warn!(%operator, error = %e, "softphone gone; operator stays"),
                    }
                }
            }
            Input::Refresh { login } => {
                self.lookup_login(login.clone(), Then::Refresh { login });
            }
            Input::Set {
                login,
                request,
                reply,
            } => {
                // Fresh from the store: the queues served may have changed.
                self.lookup_login(
                    login.clone(),
                    Then::Set {
                        login,
                        request,
                        reply,
                    },
                );
            }
            Input::Snapshot { reply } => {
                let _ = reply.send(self.snapshot(now));
            }
        }
    }

    fn record_transfer(&self, call: CallId, queue: &str, operator: &OperatorId, target: &str) {
        let mut e = self.queue_event(call, queue, QueueEventKind::Transferred, Some(operator));
        e.detail = Some(target.to_owned());
        self.store(e);
        self.bus.publish(Event::CallTransferred {
            call,
            operator: operator.0.clone(),
            target: target.to_owned(),
        });
    }

    fn lookup_extension(&self, extension: String, then: Then) {
        let store = self.store.clone();
        self.lookup(
            async move { store.operator_by_extension(&extension).await },
            then,
        );
    }

    fn lookup_login(&self, login: String, then: Then) {
        let store = self.store.clone();
        self.lookup(async move { store.operator_by_login(&login).await }, then);
    }

    /// Runs a store lookup in its own task; its result comes back as
    /// [`Input::Resolved`], so routing never waits on the database.
    fn lookup<F>(&self, query: F, then: Then)
    where
        F: std::future::Future<
                Output = Result<Option<crate::store::Operator>, crate::store::StoreError>,
            > + Send
            + 'static,
    {
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            let found = query.await;
            let _ = inputs.send(Input::Resolved {
                found: Box::new(found),
                then,
            });
        });
    }

    fn resolved(
        &mut self,
        now: Instant,
        found: Result<Option<crate::store::Operator>, crate::store::StoreError>,
        then: Then,
    ) {
        let found = found.map(|op| {
            op.filter(|op| op.disabled_at.is_none())
                .map(|op| self.remember(op))
        });
        match then {
            Then::LogInByPhone { extension } => match found {
                // A phone in no queue (a supervisor's softphone) has
                // nothing to serve: it stays out of the operators' states.
                Ok(Some(operator))
                    if self
                        .operators
                        .get(&operator)
                        .is_some_and(|i| i.memberships.is_empty()) =>
                {
                    info!(%operator, %extension, "softphone registered; in no queue, so not signed in");
                }
                Ok(Some(operator)) => {
                    if self
                        .router
                        .operator_state(&operator)
                        .is_none_or(|s| *s == OperatorState::LoggedOut)
                    {
                        info!(%operator, %extension, "softphone registered: operator logged in");
                        self.log_in(now, &operator);
                    }
                    // Back before the call ended: stays logged in.
                    self.logout_after_call.remove(&operator);
                }
                Ok(None) => {}
                Err(e) => warn!(%extension, error = %e, "cannot look up the operator"),
            },
            Then::Refresh { login } => match found {
                Ok(Some(operator)) => {
                    let signed_in = self
                        .router
                        .operator_state(&operator)
                        .is_some_and(|s| *s != OperatorState::LoggedOut);
                    // Enabled again before their call ended: they stay.
                    self.logout_after_call.remove(&operator);
                    if signed_in {
                        // Same state; the queues and penalties are new.
                        self.log_in(now, &operator);
                        info!(%operator, "the operator's queues changed: applied at once");
                    }
                }
                Ok(None) => {
                    let operator = OperatorId::new(&login);
                    match self.router.log_out(now, &operator) {
                        Ok(()) => info!(%operator, "operator removed or disabled: signed out"),
                        Err(RouterError::OnCall(_)) => {
                            info!(%operator, "operator removed or disabled: signed out after the call");
                            self.logout_after_call.insert(operator.clone());
                        }
                        Err(_) => {}
                    }
                    if !self.logout_after_call.contains(&operator) {
                        if let Some(info) = self.operators.remove(&operator) {
                            self.extensions.remove(&info.extension);
                        }
                    }
                }
                Err(e) => warn!(%login, error = %e, "cannot look up the operator"),
            },
            Then::Set {
                login,
                request,
                reply,
            } => {
                let result = match found {
                    Ok(Some(operator)) => self.set(now, &operator, request),
                    Ok(None) => Err(ServiceError::UnknownOperator(login)),
                    Err(e) => Err(e.into()),
                };
                let _ = reply.send(result);
            }
            Then::JoinFor {
                call,
                queue,
                extension,
                from,
                to_call,
                summary,
                reply,
            } => {
                let id = call;
                let operator = match found {
                    Ok(found) => found,
                    Err(e) => {
                        warn!(%extension, error = %e, "cannot look up the operator");
                        None
                    }
                };
                // Known but logged out: the router does not know them.
                let joined = operator.and_then(|operator| {
                    self.router
                        .join_for(now, id, &queue, &operator)
                        .ok()
                        .map(|position| (operator, position))
                });
                let Some((operator, position)) = joined else {
                    let _ = reply.send(false);
                    return;
                };
                info!(%call, %queue, %operator, "caller waits for a colleague's extension");
                self.record_transfer(call, &queue, &from, &extension);
                let waiting = WaitingCall {
                    queue,
                    joined: now,
                    to_call,
                    summary,
                };
                self.joined(call, position, Some(&operator), waiting);
                let _ = reply.send(true);
            }
        }
    }

    /// The call waits (for `only` that operator): told, stored, published.
    fn joined(
        &mut self,
        call: CallId,
        position: usize,
        only: Option<&OperatorId>,
        waiting: WaitingCall,
    ) {
        let _ = waiting.to_call.send(ToCall::Joined { position });
        let mut e = self.queue_event(call, &waiting.queue, QueueEventKind::Joined, only);
        e.position = Some(position as u32);
        e.detail = only.map(|o| format!("for {o}"));
        self.store(e);
        self.bus.publish(Event::QueueJoined {
            call,
            queue: waiting.queue.clone(),
            position,
        });
        self.calls.insert(call, waiting);
    }

    /// The call is no longer waiting: abandoned by the caller, or left
    /// because the server ended it. Nothing if it was not waiting.
    fn left(&mut self, now: Instant, call: CallId, abandoned: bool) {
        let id = call;
        self.calls.remove(&id);
        let Ok(gone) = self.router.hang_up(now, id) else {
            return;
        };
        let waited_ms = gone.waited.as_millis() as u64;
        let kind = if abandoned {
            QueueEventKind::Abandoned
        } else {
            QueueEventKind::Left
        };
        info!(%call, queue = %gone.queue, waited_ms, kind = kind.as_str(), "caller left the queue");
        let mut e = self.queue_event(call, &gone.queue, kind, None);
        e.wait_ms = Some(waited_ms);
        self.store(e);
        if abandoned {
            self.bus.publish(Event::QueueAbandoned {
                call,
                queue: gone.queue,
                waited_ms,
            });
        }
    }

    fn conversation_ended(&mut self, now: Instant, operator: OperatorId) {
        if let Err(e) = self.router.call_ended(now, &operator) {
            warn!(%operator, error = %e, "conversation end not applied");
        }
        if self.logout_after_call.remove(&operator) {
            if let Err(e) = self.router.log_out(now, &operator) {
                warn!(%operator, error = %e, "logout after the call not applied");
            }
        }
    }

    fn remember(&mut self, op: crate::store::Operator) -> OperatorId {
        let id = OperatorId::new(&op.login);
        self.extensions.insert(op.extension.clone(), id.clone());
        self.operators.insert(
            id.clone(),
            OperatorInfo {
                id: op.id,
                name: op.display_name,
                extension: op.extension,
                queues: op.queues.iter().map(|m| m.queue.clone()).collect(),
                memberships: op
                    .queues
                    .iter()
                    .map(|m| Membership::new(&m.queue, m.penalty))
                    .collect(),
            },
        );
        id
    }

    fn log_in(&mut self, now: Instant, operator: &OperatorId) {
        let memberships = self
            .operators
            .get(operator)
            .map(|i| i.memberships.clone())
            .unwrap_or_default();
        self.router.log_in(now, operator.clone(), memberships);
    }

    fn set(
        &mut self,
        now: Instant,
        operator: &OperatorId,
        request: StateRequest,
    ) -> Result<OperatorView, ServiceError> {
        let operator = operator.clone();
        let logged_out = self
            .router
            .operator_state(&operator)
            .is_none_or(|s| *s == OperatorState::LoggedOut);
        match request {
            StateRequest::LogIn => self.log_in(now, &operator),
            StateRequest::Available if logged_out => self.log_in(now, &operator),
            StateRequest::Available => self.router.set_available(now, &operator)?,
            StateRequest::Pause { reason } => {
                if logged_out {
                    self.log_in(now, &operator);
                }
                self.router.pause(now, &operator, &reason)?
            }
            StateRequest::LogOut if logged_out => {}
            StateRequest::LogOut => self.router.log_out(now, &operator)?,
        }
        // The change is stored and published by the next poll's actions.
        let actions = self.router.poll(now);
        self.carry_out(actions);
        Ok(self.view(&operator, Instant::now()))
    }

    fn view(&self, operator: &OperatorId, now: Instant) -> OperatorView {
        let info = self.operators.get(operator);
        let state = self.router.operator_state(operator);
        OperatorView {
            login: operator.0.clone(),
            name: info.map(|i| i.name.clone()).unwrap_or_default(),
            extension: info.map(|i| i.extension.clone()).unwrap_or_default(),
            state: state.map(|s| s.as_str()).unwrap_or("logged_out"),
            reason: state.and_then(|s| s.reason()).map(str::to_owned),
            queues: info.map(|i| i.queues.clone()).unwrap_or_default(),
            in_state_ms: self
                .since
                .get(operator)
                .map(|at| now.saturating_duration_since(*at).as_millis() as u64),
            call: match state {
                Some(OperatorState::OnCall { caller }) => Some(*caller),
                _ => None,
            },
        }
    }

    fn snapshot(&self, now: Instant) -> Snapshot {
        let mut operators: Vec<OperatorView> =
            self.operators.keys().map(|o| self.view(o, now)).collect();
        operators.sort_by(|a, b| a.login.cmp(&b.login));
        let queues = self
            .router
            .configs()
            .map(|config| {
                let name = config.name.as_str();
                let waiting = self.router.waiting(name);
                let callers: Vec<WaitingCaller> = waiting
                    .iter()
                    .filter_map(|c| {
                        let w = self.calls.get(c)?;
                        Some(WaitingCaller {
                            call: *c,
                            waited_ms: now.saturating_duration_since(w.joined).as_millis() as u64,
                        })
                    })
                    .collect();
                QueueView {
                    name: name.to_owned(),
                    title: config.title.clone(),
                    waiting: waiting.len(),
                    longest_wait_ms: callers.iter().map(|c| c.waited_ms).max().unwrap_or(0),
                    callers,
                }
            })
            .collect();
        Snapshot { queues, operators }
    }

    fn carry_out(&mut self, actions: Vec<Action>) {
        // Calls whose task is gone without saying so: released after.
        let mut dead = Vec::new();
        for action in actions {
            match action {
                Action::Ring {
                    caller,
                    queue,
                    operators,
                    timeout: _,
                } => {
                    let Some(waiting) = self.calls.get(&caller) else {
                        continue;
                    };
                    if waiting.to_call.is_closed() {
                        dead.push(caller);
                        continue;
                    }
                    let call = caller;
                    for operator in operators {
                        let extension = self
                            .operators
                            .get(&operator)
                            .map(|i| i.extension.clone())
                            .unwrap_or_default();
                        info!(%call, %operator, %extension, %queue, "ringing the operator");
                        let _ = waiting.to_call.send(ToCall::Ring {
                            operator: operator.clone(),
                            extension,
                        });
                        self.store(self.queue_event(
                            call,
                            &queue,
                            QueueEventKind::Ringing,
                            Some(&operator),
                        ));
                        self.bus.publish(Event::OperatorRinging {
                            call,
                            queue: queue.clone(),
                            operator: operator.0.clone(),
                            waited_ms: waiting.joined.elapsed().as_millis() as u64,
                            summary: waiting.summary.clone(),
                        });
                    }
                }
                Action::CancelRing { caller, operator } => {
                    if let Some(waiting) = self.calls.get(&caller) {
                        let _ = waiting.to_call.send(ToCall::CancelRing { operator });
                    }
                }
                Action::Announce {
                    caller,
                    position,
                    expected_wait,
                } => {
                    if let Some(waiting) = self.calls.get(&caller) {
                        let _ = waiting.to_call.send(ToCall::Announce {
                            position,
                            expected_wait,
                        });
                    }
                }
                Action::PeriodicAnnounce { caller, prompt } => {
                    if let Some(waiting) = self.calls.get(&caller) {
                        let _ = waiting.to_call.send(ToCall::Periodic { prompt });
                    }
                }
                Action::AutoPaused { operator } => {
                    warn!(%operator, "operator paused: offers not answered");
                }
                Action::StateChanged { operator, state } => {
                    self.since.insert(operator.clone(), Instant::now());
                    let reason = state.reason().map(str::to_owned);
                    info!(%operator, state = state.as_str(), reason = reason.as_deref().unwrap_or(""), "operator state");
                    if let Some(info) = self.operators.get(&operator) {
                        let _ = self.writes.send(Write::State {
                            operator: info.id,
                            at: Utc::now(),
                            state: state.as_str(),
                            reason: reason.clone(),
                        });
                    }
                    self.bus.publish(Event::OperatorState {
                        operator: operator.0.clone(),
                        state: state.as_str(),
                        reason,
                    });
                }
            }
        }
        for caller in dead {
            let call = caller;
            warn!(%call, "a waiting call's task is gone; releasing it");
            self.left(Instant::now(), call, false);
            // Its offer was withdrawn: tell nobody, store it.
            let actions = self.router.poll(Instant::now());
            self.carry_out(actions);
        }
    }
}
