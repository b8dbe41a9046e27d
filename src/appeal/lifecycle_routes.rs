//! HTTP for the card's life: an executor's inbox (`GET /api/inbox`), the
//! contact centre's decisions queue (`GET /api/decisions`), a card's
//! history (`GET /api/appeals/{number}/history`) and the steps of its life
//! (`POST /api/appeals/{number}/actions`). The rules are
//! [`Lifecycle::handle`]'s; a handler reads the card, asks the machine,
//! writes the outcome (reading again if another step came first) and tells
//! the people the outcome names.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tracing::info;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::lifecycle::{Action, Actor, Control, EntryKind, ExecutorCode, Lifecycle, Pending, Tab};
use super::lifecycle_store::{CardSummary, HistoryEntry};
use super::record::AppealStatus;
use super::verification_store::Taken;
use crate::api::auth::Auth;
use crate::api::error::{ErrorBody, FieldsBody};
use crate::api::{ApiError, AppState};
use crate::store::{Role, Store};

/// How long closed cards stay in an executor's "closed" tab.
const CLOSED_TAB_DAYS: i64 = 30;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(inbox))
        .routes(routes!(decisions))
        .routes(routes!(triage))
        .routes(routes!(history))
        .routes(routes!(act))
        .routes(routes!(card_access))
        .routes(routes!(executors))
}

/// An organisation of the current classifier, as the console names it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Executor)]
struct ExecutorName {
    code: String,
    name: String,
}

/// The current classifier's executors, in its order.
#[utoipa::path(get, path = "/api/executors", operation_id = "list_executors", tag = "lifecycle",
    responses((status = 200, body = Vec<ExecutorName>)))]
async fn executors(
    State(store): State<Store>,
    auth: Auth,
) -> Result<Json<Vec<ExecutorName>>, ApiError> {
    auth.require(Role::ALL)?;
    Ok(Json(
        store
            .current_executors()
            .await?
            .into_iter()
            .map(|e| ExecutorName {
                code: e.code,
                name: e.name,
            })
            .collect(),
    ))
}

/// The signed-in user as the state machine's actor.
pub fn actor_of(auth: &Auth) -> Actor {
    let user = auth.user();
    Actor::User {
        login: user.login.clone(),
        role: user.role,
        executor: user
            .executor
            .as_deref()
            .and_then(|code| ExecutorCode::parse(code).ok()),
    }
}

/// A card in a list, as the console shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CardInList)]
pub struct CardView {
    id: Uuid,
    registration_number: String,
    status: AppealStatus,
    category: String,
    address: Option<String>,
    created_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    #[serde(flatten)]
    facts: CardFacts,
    tabs: Vec<Tab>,
}

/// What a list's card and an opened card both say of a card's life now.
#[derive(Serialize, utoipa::ToSchema)]
struct CardFacts {
    /// Seconds to the deadline (negative when overdue), at the time of the
    /// answer.
    seconds_left: i64,
    overdue: bool,
    /// Whether the deadline counts now (not while a closure is decided,
    /// nor once the card is closed).
    deadline_runs: bool,
    control: Control,
    planned: Option<NaiveDate>,
    /// For a card registered outside its executor's hours: when it is
    /// delivered.
    delivery_at: Option<DateTime<Utc>>,
    executors: Vec<PartView>,
    pending: Option<Pending>,
    /// Seconds left to decide the pending request.
    seconds_to_decide: Option<i64>,
}

impl CardFacts {
    fn of(card: &super::lifecycle::Card, now: DateTime<Utc>) -> CardFacts {
        CardFacts {
            seconds_left: (card.deadline - now).num_seconds(),
            overdue: card.is_overdue(now),
            deadline_runs: card.deadline_runs(),
            control: card.control,
            planned: card.planned,
            delivery_at: card.delivery_at,
            executors: card.parts.iter().map(PartView::from).collect(),
            pending: card.pending.clone(),
            seconds_to_decide: card.pending.as_ref().map(|p| (p.due - now).num_seconds()),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CardExecutor)]
struct PartView {
    executor: String,
    lead: bool,
    responsible: Option<String>,
    declined: Option<String>,
}

impl From<&super::lifecycle::Part> for PartView {
    fn from(p: &super::lifecycle::Part) -> Self {
        PartView {
            executor: p.executor.to_string(),
            lead: p.lead,
            responsible: p.responsible.clone(),
            declined: p.declined.clone(),
        }
    }
}

pub(crate) fn card_view(
    rules: &Lifecycle,
    s: CardSummary,
    viewer: Option<&ExecutorCode>,
    now: DateTime<Utc>,
) -> CardView {
    let card = &s.stored.card;
    CardView {
        id: s.stored.id,
        registration_number: s.stored.registration_number.clone(),
        status: card.status,
        category: s.category,
        address: s.address,
        created_at: s.created_at,
        deadline: card.deadline,
        facts: CardFacts::of(card, now),
        tabs: viewer.map(|e| rules.tabs(card, e, now)).unwrap_or_default(),
    }
}

/// A card's life on its detail, for the one who opened it: the facts of
/// its state and the steps this user may take now.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CardLife)]
pub struct LifeView {
    #[serde(flatten)]
    facts: CardFacts,
    extensions: u32,
    /// The viewer's organisation, for an executor's user.
    mine: Option<String>,
    /// The steps ([`Action`]'s names) the viewer may take now.
    actions: Vec<&'static str>,
}

/// The life of `card` as `auth`'s user sees it now.
pub fn life_view(rules: &Lifecycle, auth: &Auth, card: &super::lifecycle::Card) -> LifeView {
    let now = Utc::now();
    let actor = actor_of(auth);
    let mine = match &actor {
        Actor::User { executor, .. } => executor.as_ref().map(|e| e.to_string()),
        Actor::System => None,
    };
    LifeView {
        facts: CardFacts::of(card, now),
        extensions: card.extensions,
        mine,
        actions: rules.available(card, &actor, now),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct InboxQuery {
    /// One tab's cards only.
    #[param(value_type = Option<Tab>)]
    tab: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Inbox {
    executor: String,
    /// The organisation's name in the current classifier.
    executor_name: Option<String>,
    /// How many cards are under each tab.
    counts: Vec<TabCount>,
    cards: Vec<CardView>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TabCount {
    tab: Tab,
    count: usize,
}

/// The signed-in executor's cards by deadline, with the count under each
/// tab. Executors.
#[utoipa::path(get, path = "/api/inbox", tag = "lifecycle",
    params(InboxQuery),
    responses(
        (status = 200, body = Inbox),
        (status = 400, body = ErrorBody, description = "An unknown tab"),
    ))]
async fn inbox(
    State(store): State<Store>,
    State(rules): State<Arc<Lifecycle>>,
    auth: Auth,
    Query(query): Query<InboxQuery>,
) -> Result<Json<Inbox>, ApiError> {
    auth.require(&[Role::Executor])?;
    let executor = auth
        .user()
        .executor
        .as_deref()
        .and_then(|c| ExecutorCode::parse(c).ok())
        .ok_or_else(|| ApiError::forbidden("this executor user belongs to no organisation"))?;
    let tab = match query.tab.as_deref() {
        None | Some("") => None,
        Some(t) => Some(Tab::parse(t).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown tab {t:?}: new, in_progress, overdue, due_soon, awaiting, long_term or closed"
            ))
        })?),
    };
    let now = Utc::now();
    let cards: Vec<CardView> = store
        .executor_cards(executor.as_str(), now - TimeDelta::days(CLOSED_TAB_DAYS))
        .await?
        .into_iter()
        .map(|s| card_view(&rules, s, Some(&executor), now))
        .collect();
    let counts = Tab::ALL
        .iter()
        .map(|t| TabCount {
            tab: *t,
            count: cards.iter().filter(|c| c.tabs.contains(t)).count(),
        })
        .collect();
    let cards = cards
        .into_iter()
        .filter(|c| tab.is_none_or(|t| c.tabs.contains(&t)))
        .collect();
    let executor_name = store
        .current_executors()
        .await?
        .into_iter()
        .find(|e| e.code == executor.as_str())
        .map(|e| e.name);
    Ok(Json(Inbox {
        executor: executor.to_string(),
        executor_name,
        counts,
        cards,
    }))
}

/// What awaits the contact centre's decision (a change of executor, an
/// extension, a long term, a closure), the soonest due first. Supervisors
/// see all; a curator, the second extensions waiting for them.
#[utoipa::path(get, path = "/api/decisions", tag = "lifecycle",
    responses((status = 200, body = Vec<CardView>)))]
async fn decisions(
    State(store): State<Store>,
    State(rules): State<Arc<Lifecycle>>,
    auth: Auth,
) -> Result<Json<Vec<CardView>>, ApiError> {
    let now = Utc::now();
    let login = auth.user().login.clone();
    let supervisor = auth.role() == Role::Supervisor;
    let curated: Vec<String> = match supervisor {
        true => Vec::new(),
        false => store
            .executor_people()
            .await?
            .into_iter()
            .filter(|e| e.curator.as_deref() == Some(login.as_str()))
            .map(|e| e.code)
            .collect(),
    };
    if !supervisor && curated.is_empty() {
        return Err(ApiError::forbidden(
            "the decisions queue is for the control staff and the executors' curators",
        ));
    }
    let views = store
        .cards_awaiting_decision()
        .await?
        .into_iter()
        .filter(|s| {
            let card = &s.stored.card;
            supervisor
                || card.pending.as_ref().is_some_and(|p| {
                    p.needs_curator
                        && p.approved_by_curator.is_none()
                        && card
                            .lead()
                            .is_some_and(|l| curated.iter().any(|c| c == l.executor.as_str()))
                })
        })
        .map(|s| card_view(&rules, s, None, now))
        .collect();
    Ok(Json(views))
}

/// The cards sent without a subject ("не знаю"), waiting for the contact
/// centre to classify them, the oldest first. Operators, supervisors,
/// admins.
#[utoipa::path(get, path = "/api/triage", tag = "lifecycle",
    responses((status = 200, body = Vec<CardView>)))]
async fn triage(
    State(store): State<Store>,
    State(rules): State<Arc<Lifecycle>>,
    auth: Auth,
) -> Result<Json<Vec<CardView>>, ApiError> {
    auth.require(&[Role::Operator, Role::Supervisor, Role::Admin])?;
    let now = Utc::now();
    let views = store
        .cards_in_triage()
        .await?
        .into_iter()
        .map(|s| card_view(&rules, s, None, now))
        .collect();
    Ok(Json(views))
}

/// A history entry as the console shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = HistoryEntry)]
struct EntryView {
    at: DateTime<Utc>,
    login: String,
    role: String,
    executor: Option<String>,
    kind: EntryKind,
    from: AppealStatus,
    to: AppealStatus,
    text: Option<String>,
    files: Vec<Uuid>,
    details: super::lifecycle::Details,
}

impl From<HistoryEntry> for EntryView {
    fn from(e: HistoryEntry) -> Self {
        EntryView {
            at: e.at,
            login: e.login,
            role: e.role,
            executor: e.executor,
            kind: e.kind,
            from: e.from,
            to: e.to,
            text: e.text,
            files: e.files,
            details: e.details,
        }
    }
}

/// Whether `auth` may see the card: the contact centre always; an executor
/// only a card it has a part in (a declined part included: its own steps
/// are on the card); a curator the cards of the executors they curate.
pub async fn may_see_card(store: &Store, auth: &Auth, id: Uuid) -> Result<bool, ApiError> {
    if contact_centre(auth) {
        return Ok(true);
    }
    Ok(store
        .appeal_card(id)
        .await?
        .is_some_and(|stored| may_see(auth, &stored.card)))
}

/// Whether `auth`'s user works for the contact centre (sees every card).
pub fn contact_centre(auth: &Auth) -> bool {
    matches!(
        auth.user().role,
        Role::Operator | Role::Supervisor | Role::Admin
    )
}

/// [`may_see_card`] for a card already read.
pub fn may_see(auth: &Auth, card: &super::lifecycle::Card) -> bool {
    let user = auth.user();
    let own = user
        .executor
        .as_deref()
        .is_some_and(|code| card.parts.iter().any(|p| p.executor.as_str() == code));
    contact_centre(auth) || own || card.curator.as_deref() == Some(user.login.as_str())
}

/// Every step of the card's life, oldest first: who, when, what, why.
#[utoipa::path(get, path = "/api/appeals/{number}/history", operation_id = "appeal_history", tag = "lifecycle",
    params(("number" = String, Path, description = "The card's registration number")),
    responses(
        (status = 200, body = Vec<EntryView>),
        (status = 404, body = ErrorBody, description = "No such appeal"),
    ))]
async fn history(
    State(store): State<Store>,
    auth: Auth,
    Path(number): Path<String>,
) -> Result<Json<Vec<EntryView>>, ApiError> {
    let appeal = store
        .appeal_by_registration_number(&number)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("appeal {number} not found")))?;
    if !may_see_card(&store, &auth, appeal.id).await? {
        return Err(ApiError::forbidden("the card is not this executor's"));
    }
    let entries = store.appeal_history(appeal.id).await?;
    Ok(Json(entries.into_iter().map(EntryView::from).collect()))
}

/// What a step did.
#[derive(Serialize, utoipa::ToSchema)]
struct Stepped {
    status: AppealStatus,
    kind: EntryKind,
    deadline: DateTime<Utc>,
    pending: Option<Pending>,
}

/// One step of the card's life (accept, comment, request a change of
/// executor, an extension or closure, decide, …), as the rules allow the
/// signed-in user now (docs/lifecycle.md). A refusal carries the step's
/// stable `code`.
#[utoipa::path(post, path = "/api/appeals/{number}/actions", operation_id = "take_step", tag = "lifecycle",
    params(("number" = String, Path, description = "The card's registration number")),
    request_body = Action,
    responses(
        (status = 200, body = Stepped),
        (status = 404, body = ErrorBody, description = "No such appeal"),
        (status = 409, body = ErrorBody, description = "The card's state does not allow the step (with `code`)"),
        (status = 422, body = FieldsBody, description = "A wrong field of the step"),
    ))]
async fn act(
    State(store): State<Store>,
    State(rules): State<Arc<Lifecycle>>,
    State(consoles): State<crate::api::console::Consoles>,
    State(watcher): State<super::watcher::WatcherHandle>,
    auth: Auth,
    Path(number): Path<String>,
    body: Result<Json<Action>, JsonRejection>,
) -> Result<Json<Stepped>, ApiError> {
    let Json(action) = body?;
    let appeal = store
        .appeal_by_registration_number(&number)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("appeal {number} not found")))?;
    let (files, executors) = action.references();
    for file in files {
        if store.attachment(appeal.id, file).await?.is_none() {
            return Err(ApiError::field(
                "documents",
                format!("Файл {file} не прикріплено до цього звернення."),
            ));
        }
    }
    if !executors.is_empty() {
        let known = store.current_executors().await?;
        if let Some(unknown) = executors
            .iter()
            .find(|e| !known.iter().any(|k| k.code == e.as_str()))
        {
            return Err(ApiError::field(
                "executors",
                format!("Виконавця {unknown} немає в класифікаторі."),
            ));
        }
    }
    let taken = take_step(&store, &rules, &auth, appeal.id, action).await?;
    info!(number = %number, by = %auth.user().login, step = %taken.outcome.entry.kind, to = %taken.outcome.card.status, "card step");
    tell_consoles(&consoles, &taken);
    let outcome = taken.outcome;
    // A new deadline or executor: the watcher looks again.
    watcher.poke();
    Ok(Json(Stepped {
        status: outcome.card.status,
        kind: outcome.entry.kind,
        deadline: outcome.card.deadline,
        pending: outcome.card.pending,
    }))
}

/// Tells the consoles of a step taken, and of the repeat appeal it made.
pub fn tell_consoles(consoles: &crate::api::console::Consoles, taken: &Taken) {
    let outcome = &taken.outcome;
    consoles.card_changed(
        &taken.registration_number,
        outcome.entry.kind,
        outcome.card.status,
        &outcome.notices,
    );
    if let Some(repeat) = &taken.repeat {
        info!(number = %repeat.record.registration_number, original = %taken.registration_number, "repeat appeal registered");
        consoles.card_changed(
            repeat.record.registration_number.as_str(),
            EntryKind::Registered,
            repeat.record.status,
            &repeat.notices,
        );
    }
}

/// Takes a step as the signed-in user ([`Store::take_step`]): the outcome,
/// and the repeat appeal a citizen's "no" made.
pub async fn take_step(
    store: &Store,
    rules: &Lifecycle,
    auth: &Auth,
    id: Uuid,
    action: Action,
) -> Result<Taken, ApiError> {
    Ok(store
        .take_step(rules, id, action, &actor_of(auth), &auth.author())
        .await?)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CardAccessQuery {
    /// One card's openings (its registration number); all cards' if absent.
    number: Option<String>,
    /// The most lines to give (500 unless given; at most 10 000).
    limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct CardAccess {
    openings: Vec<OpeningView>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CardOpening)]
struct OpeningView {
    registration_number: String,
    login: String,
    role: String,
    at: DateTime<Utc>,
    address: String,
    user_agent: Option<String>,
}

/// Who opened which card, when and from where, newest first. Reading it
/// is logged too. Supervisors, admins.
#[utoipa::path(get, path = "/api/card-access", tag = "lifecycle",
    params(CardAccessQuery),
    responses(
        (status = 200, body = CardAccess),
        (status = 404, body = ErrorBody, description = "No such appeal"),
    ))]
async fn card_access(
    State(store): State<Store>,
    auth: Auth,
    Query(q): Query<CardAccessQuery>,
) -> Result<Json<CardAccess>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Admin])?;
    let appeal = match q.number.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(number) => Some(
            store
                .appeal_by_registration_number(number)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("appeal {number} not found")))?
                .id,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(500).clamp(1, 10_000);
    let openings = store.card_openings(appeal, limit).await?;
    info!(by = %auth.user().login, rows = openings.len(), "cards' access log read");
    Ok(Json(CardAccess {
        openings: openings
            .into_iter()
            .map(|o| OpeningView {
                registration_number: o.registration_number,
                login: o.login,
                role: o.role,
                at: o.at,
                address: o.address,
                user_agent: o.user_agent,
            })
            .collect(),
    }))
}
