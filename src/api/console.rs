//! The console's websocket (`GET /ws`): the operator's screen-pop, keyed
//! to the call, and the live stream for supervisors.
//!
//! One task ([`Consoles::spawn`]) follows the event stream. When a call is
//! offered to an operator (their phone starts ringing) it gathers the card:
//! the caller's number, the SIP Call-ID, the path through the IVR, the wait
//! in the queue, the caller's earlier appeals and the repair works at the
//! caller's known address; and pushes `call_offered` to that operator's
//! consoles only. `call_answered` follows when they answer, `call_ended`
//! when the call ends, `call_withdrawn` when the offer goes elsewhere.
//! The latest of these per operator is kept, so a console that connects
//! (or reconnects) gets the current call at once.
//!
//! Every message is JSON with `type` and `v` (the message version); see
//! `docs/websocket.md`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;
use tracing::{debug, warn};

use super::auth::{Auth, UserView};
use super::error::ApiError;
use super::state::AppState;
use crate::appeal::AppealStatus;
use crate::appeal::lifecycle::{EntryKind, Notice};
use crate::events::{CallSummary, Event, EventBus, Published};
use crate::ids::CallId;
use crate::ivr::path::{PathStep, PathWords};
use crate::queue::service::QueueService;
use crate::store::{Role, Store};

/// The message version.
pub const VERSION: u32 = 1;
/// Earlier appeals shown on a card.
const EARLIER_APPEALS: u32 = 10;
/// Messages an operator's console may fall behind by before it is started
/// afresh (an operator gets a few per call).
const OPERATOR_BACKLOG: usize = 64;
/// Card changes a console may fall behind by before it is told to read
/// its lists afresh.
const CARD_BACKLOG: usize = 256;

/// A card's change, and whom it concerns.
#[derive(Debug)]
struct CardChange {
    message: Arc<ConsoleMessage>,
    notices: Vec<Notice>,
}

/// A message to a console (`docs/websocket.md`), without its version.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConsoleMessage {
    /// The first message of every connection: the console starts afresh.
    Hello {
        user: UserView,
        operator: Option<String>,
    },
    /// Where the operator stands.
    OperatorState {
        state: &'static str,
        reason: Option<String>,
        at: DateTime<Utc>,
    },
    /// The operator's phone rings with this caller.
    CallOffered {
        call: Arc<CallCard>,
        at: DateTime<Utc>,
    },
    /// The operator answered.
    CallAnswered {
        call: Arc<CallCard>,
        at: DateTime<Utc>,
    },
    /// The call is over (or the operator transferred it).
    CallEnded {
        call_id: CallId,
        ended_by: &'static str,
        at: DateTime<Utc>,
    },
    /// The offer went elsewhere without an answer.
    CallWithdrawn { call_id: CallId, at: DateTime<Utc> },
    /// A card changed (registered, delivered, a step of its life, a
    /// deadline passed): the inbox or decisions queue that lists it is to be
    /// read again. Sent to the consoles the step concerns: its executors'
    /// users, the control staff, a curator.
    CardChanged {
        registration_number: String,
        step: EntryKind,
        status: AppealStatus,
        at: DateTime<Utc>,
    },
    /// A step of the event stream, for supervisors' live views.
    Event { event: Published },
    /// The connection fell behind and this many events were dropped.
    Missed { events: u64 },
}

/// A message as sent: with its version.
#[derive(Serialize)]
struct Versioned<'a> {
    v: u32,
    #[serde(flatten)]
    message: &'a ConsoleMessage,
}

impl ConsoleMessage {
    fn to_text(&self) -> Message {
        let versioned = Versioned {
            v: VERSION,
            message: self,
        };
        // Plain structs of strings, numbers and times: serialising cannot
        // fail.
        let text = serde_json::to_string(&versioned).unwrap_or_default();
        Message::Text(text.into())
    }
}

/// The card that pops up for a call.
#[derive(Debug, Clone, Serialize)]
pub struct CallCard {
    pub id: CallId,
    pub sip_call_id: Option<String>,
    /// E.164 when the number could be normalised, else as received.
    pub caller: Option<String>,
    pub queue: String,
    /// The queue's title, as people read it.
    pub queue_title: String,
    pub waited_ms: u64,
    /// The steps through the menu, in order, as stored
    /// (`main:greeting barge-in 0`).
    pub ivr_path: Vec<String>,
    /// The same steps ready to be put in words (`docs/websocket.md`).
    pub ivr_steps: Vec<PathStep>,
    /// The address of the caller's latest appeal that gave one.
    pub address: Option<String>,
    pub earlier_appeals: Vec<EarlierAppeal>,
    /// Works in progress at that address.
    pub repair_works: Vec<WorkNearby>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EarlierAppeal {
    pub registration_number: String,
    pub date: DateTime<Utc>,
    pub category: String,
    pub status: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkNearby {
    pub kind: &'static str,
    pub service: &'static str,
    pub description: String,
    pub expected_end: DateTime<Utc>,
}

/// What an operator's consoles show now: the latest offer or answer.
#[derive(Debug, Clone)]
struct Current {
    call: CallId,
    message: Arc<ConsoleMessage>,
}

impl Current {
    fn card(&self) -> Option<Arc<CallCard>> {
        match &*self.message {
            ConsoleMessage::CallOffered { call, .. }
            | ConsoleMessage::CallAnswered { call, .. } => Some(call.clone()),
            _ => None,
        }
    }

    fn offered(&self) -> bool {
        matches!(*self.message, ConsoleMessage::CallOffered { .. })
    }
}

/// The operators' consoles: their current call and a stream of messages.
#[derive(Clone)]
pub struct Consoles {
    current: Arc<Mutex<HashMap<String, Current>>>,
    /// A channel per operator (by login), made when their first console
    /// connects: a message reaches only that operator's consoles, so the
    /// time to pop a card does not grow with the number of consoles open.
    channels: Arc<Mutex<HashMap<String, broadcast::Sender<Arc<ConsoleMessage>>>>>,
    /// Every card change; each connection keeps those that concern its user.
    cards: broadcast::Sender<Arc<CardChange>>,
    bus: EventBus,
}

impl Consoles {
    /// Starts following `bus`.
    pub fn spawn(bus: EventBus, store: Store, words: PathWords) -> Consoles {
        let consoles = Consoles {
            current: Default::default(),
            channels: Default::default(),
            cards: broadcast::channel(CARD_BACKLOG).0,
            bus: bus.clone(),
        };
        let follower = consoles.clone();
        let mut events = bus.subscribe();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(published) => follower.on_event(&store, &words, published).await,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        warn!(missed = n, "console follower fell behind the event stream")
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        consoles
    }

    /// Tells the consoles a card's step concerns (`notices`) that it
    /// changed.
    pub fn card_changed(
        &self,
        registration_number: &str,
        step: EntryKind,
        status: AppealStatus,
        notices: &[Notice],
    ) {
        let change = CardChange {
            message: Arc::new(ConsoleMessage::CardChanged {
                registration_number: registration_number.to_owned(),
                step,
                status,
                at: Utc::now(),
            }),
            notices: notices.to_vec(),
        };
        // No console open: nobody to tell.
        let _ = self.cards.send(Arc::new(change));
    }

    /// The stream of messages for `operator`'s consoles.
    fn subscribe(&self, operator: &str) -> broadcast::Receiver<Arc<ConsoleMessage>> {
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(operator.to_owned())
            .or_insert_with(|| broadcast::channel(OPERATOR_BACKLOG).0)
            .subscribe()
    }

    /// To `operator`'s consoles, if any is connected; the channel of an
    /// operator whose consoles have all closed goes.
    fn push(&self, operator: &str, message: Arc<ConsoleMessage>) {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = channels.get(operator) {
            if tx.send(message).is_err() {
                channels.remove(operator);
            }
        }
    }

    fn current_of(&self, operator: &str) -> Option<Current> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(operator)
            .cloned()
    }

    /// Sends to the operator's consoles; `keep` makes it their current
    /// call, `None` clears it.
    fn send(&self, operator: &str, message: ConsoleMessage, keep: Option<CallId>) {
        let message = Arc::new(message);
        {
            let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
            match keep {
                Some(call) => {
                    current.insert(
                        operator.to_owned(),
                        Current {
                            call,
                            message: message.clone(),
                        },
                    );
                }
                None => {
                    current.remove(operator);
                }
            }
        }
        self.push(operator, message);
    }

    async fn on_event(&self, store: &Store, words: &PathWords, published: Published) {
        let at = published.at;
        match published.event {
            Event::OperatorRinging {
                call,
                queue,
                operator,
                waited_ms,
                summary,
            } => {
                let card = card(store, words, call, &queue, waited_ms, Some(summary)).await;
                let message = ConsoleMessage::CallOffered {
                    call: Arc::new(card),
                    at,
                };
                self.send(&operator, message, Some(call));
            }
            Event::QueueAnswered {
                call,
                operator,
                waited_ms,
                queue,
            } => {
                // The card as offered, now answered; gathered again if the
                // offer was missed (e.g. a console that was not open).
                let offered = self
                    .current_of(&operator)
                    .filter(|c| c.call == call)
                    .and_then(|c| c.card());
                let card = match offered {
                    Some(card) => card,
                    None => Arc::new(card(store, words, call, &queue, waited_ms, None).await),
                };
                let message = ConsoleMessage::CallAnswered { call: card, at };
                self.send(&operator, message, Some(call));
            }
            Event::CallEnded { call, ended_by } => {
                let holders: Vec<String> = self
                    .current
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .filter(|(_, c)| c.call == call)
                    .map(|(op, _)| op.clone())
                    .collect();
                for operator in holders {
                    let message = ConsoleMessage::CallEnded {
                        call_id: call,
                        ended_by,
                        at,
                    };
                    self.send(&operator, message, None);
                }
            }
            Event::CallTransferred { call, operator, .. }
                if self.current_of(&operator).is_some_and(|c| c.call == call) =>
            {
                let message = ConsoleMessage::CallEnded {
                    call_id: call,
                    ended_by: "transfer",
                    at,
                };
                self.send(&operator, message, None);
            }
            Event::OperatorState {
                operator,
                state,
                reason,
            } => {
                // The operator's own state, for their controls.
                let message = ConsoleMessage::OperatorState { state, reason, at };
                self.push(&operator, Arc::new(message));
                // Ringing stopped without an answer: the offer went away.
                let offered = self
                    .current_of(&operator)
                    .filter(|c| c.offered() && !matches!(state, "ringing" | "on_call"));
                if let Some(c) = offered {
                    let message = ConsoleMessage::CallWithdrawn {
                        call_id: c.call,
                        at,
                    };
                    self.send(&operator, message, None);
                }
            }
            _ => {}
        }
    }
}

/// The card for a call: what the call told of itself (`known`: the caller,
/// the SIP Call-ID, the path through the menu) or, for a call whose offer
/// this console missed, what the store has of it; and the caller's earlier
/// appeals and the works at their address. A store error leaves that part
/// out rather than the whole pop-up.
async fn card(
    store: &Store,
    words: &PathWords,
    call: CallId,
    queue: &str,
    waited_ms: u64,
    known: Option<CallSummary>,
) -> CallCard {
    let summary = match known {
        Some(summary) => summary,
        None => stored_summary(store, call).await,
    };
    let (appeals, works) = match &summary.caller_e164 {
        Some(e164) => {
            let appeals = store
                .appeals_by_phone(e164, EARLIER_APPEALS)
                .await
                .unwrap_or_default();
            let works = match store.latest_address_for_phone(e164).await {
                Ok(Some(address)) => store
                    .repair_works_at(&address, Utc::now())
                    .await
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            (appeals, works)
        }
        None => (Vec::new(), Vec::new()),
    };
    let CallSummary {
        ivr_path,
        caller,
        sip_call_id,
        ..
    } = summary;
    CallCard {
        id: call,
        sip_call_id: Some(sip_call_id).filter(|s| !s.is_empty()),
        caller: Some(caller).filter(|c| !c.is_empty()),
        queue: queue.to_owned(),
        queue_title: words.queues().title_of(queue),
        waited_ms,
        ivr_steps: words.describe(&ivr_path),
        ivr_path,
        address: appeals.iter().find_map(|a| a.address.clone()),
        earlier_appeals: appeals
            .into_iter()
            .map(|a| EarlierAppeal {
                registration_number: a.registration_number.into(),
                date: a.created_at,
                category: a.category,
                status: a.status.as_str(),
            })
            .collect(),
        repair_works: works
            .into_iter()
            .map(|w| WorkNearby {
                kind: w.kind.as_str(),
                service: w.service.as_str(),
                description: w.description,
                expected_end: w.expected_end,
            })
            .collect(),
    }
}

/// A call's summary as the store has it: its row and its stored steps
/// (empty parts where the store cannot tell).
async fn stored_summary(store: &Store, call: CallId) -> CallSummary {
    let record = store.get_call(call.as_uuid()).await.ok().flatten();
    let ivr_path = store
        .call_events(call.as_uuid())
        .await
        .map(|events| {
            events
                .into_iter()
                .filter(|e| e.kind == "ivr")
                .map(|e| e.detail)
                .collect()
        })
        .unwrap_or_default();
    match record {
        Some(r) => CallSummary {
            ivr_path,
            caller: r.caller_e164.clone().unwrap_or(r.caller_raw),
            caller_e164: r.caller_e164,
            sip_call_id: r.sip_call_id,
        },
        None => CallSummary {
            ivr_path,
            ..Default::default()
        },
    }
}

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/ws", get(upgrade))
}

/// `GET /ws`: a signed-in user (an executor's users get their cards'
/// changes only), from a page of this server (a browser's `Origin` must name the host it asked).
async fn upgrade(
    State(store): State<Store>,
    State(consoles): State<Consoles>,
    State(queues): State<QueueService>,
    auth: Auth,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    auth.require(Role::ALL)?;
    if !same_origin(&headers) {
        warn!(user = %auth.user().login, "websocket from another site's page refused");
        return Err(ApiError::forbidden(
            "the console's websocket is for the console's own pages",
        ));
    }
    // An operator user's consoles follow their operator (by login).
    let operator = match auth.user().operator_id {
        Some(id) => store.operator_login(id).await?,
        None => None,
    };
    // Subscribed before the operator's state and current call are read,
    // so nothing falls between.
    let mine = operator.as_deref().map(|o| consoles.subscribe(o));
    let console = Connection {
        consoles,
        queues,
        user: auth.0.user,
        operator,
    };
    Ok(ws.on_upgrade(move |socket| console.serve(socket, mine)))
}

/// A browser sends `Origin` with every websocket; it must be this server
/// (the `Host` asked for). Clients that send none are not browsers, and a
/// page of another site cannot make a browser leave it out.
fn same_origin(headers: &axum::http::HeaderMap) -> bool {
    let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
        return true;
    };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// One console's connection.
struct Connection {
    consoles: Consoles,
    queues: QueueService,
    user: crate::store::User,
    operator: Option<String>,
}

impl Connection {
    /// Whether a card's change concerns this console's user: an executor's
    /// users for its cards, the control staff (supervisors) for requests
    /// and overdue cards, a curator by login.
    fn concerns(&self, notices: &[Notice]) -> bool {
        notices.iter().any(|n| match n {
            Notice::Executor(code) => self.user.executor.as_deref() == Some(code.as_str()),
            Notice::Supervisors => self.user.role == Role::Supervisor,
            Notice::ContactCentre => matches!(self.user.role, Role::Operator | Role::Supervisor),
            Notice::Curator(login) => *login == self.user.login,
        })
    }

    /// What a console is told on connecting, and again after it fell
    /// behind: `hello` (the console starts afresh), where the operator
    /// stands, and their current call if there is one.
    async fn greeting(&self) -> Vec<Arc<ConsoleMessage>> {
        let mut out = vec![Arc::new(ConsoleMessage::Hello {
            user: UserView::from(&self.user),
            operator: self.operator.clone(),
        })];
        let Some(login) = &self.operator else {
            return out;
        };
        // The queue service knows the state; a stopped service leaves it out.
        if let Ok(snapshot) = self.queues.snapshot().await {
            // An operator the service has not seen log in is logged out.
            let view = snapshot.operators.into_iter().find(|o| &o.login == login);
            out.push(Arc::new(ConsoleMessage::OperatorState {
                state: view.as_ref().map(|o| o.state).unwrap_or("logged_out"),
                reason: view.and_then(|o| o.reason),
                at: Utc::now(),
            }));
        }
        if let Some(current) = self.consoles.current_of(login) {
            out.push(current.message);
        }
        out
    }

    async fn serve(
        self,
        mut socket: WebSocket,
        mut mine: Option<broadcast::Receiver<Arc<ConsoleMessage>>>,
    ) {
        let live = matches!(self.user.role, Role::Supervisor | Role::Admin);
        let mut events = self.consoles.bus.subscribe();
        let mut cards = self.consoles.cards.subscribe();
        for message in self.greeting().await {
            if socket.send(message.to_text()).await.is_err() {
                return;
            }
        }
        loop {
            tokio::select! {
                received = next_for_operator(&mut mine) => match received {
                    Ok(message) => {
                        if socket.send(message.to_text()).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Start the console afresh rather than leave a gap.
                        for message in self.greeting().await {
                            if socket.send(message.to_text()).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                change = cards.recv() => match change {
                    Ok(change) if self.concerns(&change.notices) => {
                        if socket.send(change.message.to_text()).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Lists may have missed a change: read them afresh.
                        for message in self.greeting().await {
                            if socket.send(message.to_text()).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                event = events.recv(), if live => {
                    let message = match event {
                        Ok(event) => ConsoleMessage::Event { event },
                        Err(broadcast::error::RecvError::Lagged(events)) => ConsoleMessage::Missed { events },
                        Err(broadcast::error::RecvError::Closed) => return,
                    };
                    if socket.send(message.to_text()).await.is_err() {
                        return;
                    }
                },
                incoming = socket.recv() => match incoming {
                    // The console sends nothing yet but pings; close ends it.
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(other)) => debug!(?other, "console message ignored"),
                },
            }
        }
    }
}

/// The next message for the console's operator; never, for a console
/// that follows no operator (a supervisor's).
async fn next_for_operator(
    mine: &mut Option<broadcast::Receiver<Arc<ConsoleMessage>>>,
) -> Result<Arc<ConsoleMessage>, broadcast::error::RecvError> {
    match mine {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
