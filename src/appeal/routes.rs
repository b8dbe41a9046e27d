//! Appeal cards over the API:
//!
//! - `GET /api/classifier`: the current classifier as a tree (section →
//!   issue types, each with its executor and deadline class), for the
//!   card's category field.
//! - `POST /api/appeals` (operators, supervisors, admins): registers a appeal.
//!   201 with the registration number, deadline and executor; 422 with
//!   `{"errors": [{"field", "message"}]}`, one per wrong field, messages in
//!   Ukrainian for the operator; nothing is written then. An operator may
//!   link a card only to a call they took.
//! - `GET /api/appeals/{number}`: the card, its calls (with their
//!   recordings) and attachments.
//! - `POST /api/appeals/{number}/calls` with `{"call_id": …}`: attaches a
//!   call to a registered card (the citizen called again about it).
//! - `POST /api/appeals/{number}/attachments` (multipart, one `file`): a
//!   photo, video or document for the card (see [`super::attachments`]);
//!   `GET /api/appeals/{number}/attachments/{id}` downloads it.
//!
//! All of these are for operators, supervisors and admins: executors get
//! their cards with the executors' part of the console.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use uuid::Uuid;

use super::attachments::{AttachmentError, AttachmentFiles};
use super::lifecycle::{EntryKind, Lifecycle};
use super::lifecycle_routes::may_see_card;
use super::lifecycle_store::NewOpening;
use super::{
    AnonymousAppeals, AppealKind, AppealRecord, Attachment, Channel, FieldError, NewAppeal,
    RegistrationNumber,
};
use crate::api::auth::Auth;
use crate::api::error::{ErrorBody, FieldsBody};
use crate::api::{ApiError, AppState};
use crate::phone::NumberingPlan;
use crate::store::{Role, Store, StoreError};

/// Why an upload was not kept.
enum UploadFailure {
    File(AttachmentError),
    Store(StoreError),
}

/// Who works with appeals in the console.
const APPEAL_ROLES: &[Role] = &[Role::Operator, Role::Supervisor, Role::Admin];

/// `max_upload`: the largest attachment, in bytes.
pub fn routes(max_upload: u64) -> OpenApiRouter<AppState> {
    // Room for the multipart framing around the file.
    let body_limit = usize::try_from(max_upload)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    OpenApiRouter::new()
        .routes(routes!(classifier))
        .routes(routes!(search_classifier))
        .routes(routes!(register))
        .routes(routes!(detail))
        .routes(routes!(attach_call))
        .routes(routes!(upload).layer(DefaultBodyLimit::max(body_limit)))
        .routes(routes!(download))
}

/// `GET /api/classifier`: the current version as a tree.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Classifier)]
struct ClassifierTree {
    version: u32,
    sections: Vec<SectionView>,
    /// Whether the card's form may mark an appeal anonymous.
    anonymous_allowed: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ClassifierSection)]
struct SectionView {
    code: String,
    name: String,
    types: Vec<IssueTypeView>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = IssueType)]
struct IssueTypeView {
    id: Uuid,
    code: String,
    name: String,
    #[schema(value_type = super::classifier::DeadlineClass)]
    deadline: &'static str,
    executor: String,
}

/// The current classifier as a tree (section, then issue types, each with
/// its executor and deadline class), for the card's category field.
#[utoipa::path(get, path = "/api/classifier", operation_id = "classifier_tree", tag = "appeals",
    responses(
        (status = 200, body = ClassifierTree),
        (status = 404, body = ErrorBody, description = "No classifier imported yet"),
    ))]
async fn classifier(
    State(store): State<Store>,
    State(anonymous): State<AnonymousAppeals>,
    auth: Auth,
) -> Result<Json<ClassifierTree>, ApiError> {
    auth.require(Role::ALL)?;
    let version = store.current_classifier_version().await?.ok_or_else(|| {
        ApiError::not_found("no classifier imported yet: run `hotline classifier import`")
    })?;
    let mut sections: Vec<SectionView> = Vec::new();
    for c in store.categories(version.number).await? {
        let item = IssueTypeView {
            id: c.id,
            code: c.type_code,
            name: c.type_name,
            deadline: c.deadline.as_str(),
            executor: c.executor.name,
        };
        match sections.last_mut() {
            Some(s) if s.code == c.section_code => s.types.push(item),
            _ => sections.push(SectionView {
                code: c.section_code,
                name: c.section_name,
                types: vec![item],
            }),
        }
    }
    Ok(Json(ClassifierTree {
        version: version.number,
        sections,
        anonymous_allowed: anonymous.0,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    /// What was typed: words of a type's name, its section, its synonyms
    /// or its executor, whole or begun, a slip allowed.
    #[serde(default)]
    pub q: String,
}

/// The current classifier's types that match a query, best first.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ClassifierMatches)]
pub(crate) struct Matches {
    pub version: u32,
    /// Ids of issue types (`GET /api/classifier`), best first; empty for
    /// an empty query.
    pub types: Vec<Uuid>,
}

/// Finds issue types by what an operator types ("освітл", "немає води"),
/// best match first: the type's own name counts most, then its synonyms,
/// its section, its executor (`docs/console.md`).
#[utoipa::path(get, path = "/api/classifier/search", operation_id = "classifier_search", tag = "appeals",
    params(SearchQuery),
    responses(
        (status = 200, body = Matches),
        (status = 404, body = ErrorBody, description = "No classifier imported yet"),
    ))]
async fn search_classifier(
    State(store): State<Store>,
    auth: Auth,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Matches>, ApiError> {
    auth.require(Role::ALL)?;
    let (version, types) = store.search_classifier(&query.q).await?.ok_or_else(|| {
        ApiError::not_found("no classifier imported yet: run `hotline classifier import`")
    })?;
    Ok(Json(Matches {
        version: version.number,
        types,
    }))
}

/// The card as the console sends it; every field may be missing (the
/// checks say which are required).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
#[schema(as = NewAppeal)]
struct AppealBody {
    surname: String,
    first_name: String,
    patronymic: String,
    address: String,
    contact_phone: String,
    other_contact: String,
    essence: String,
    email: String,
    /// An issue type of the current classifier (`GET /api/classifier`).
    category_id: Option<Uuid>,
    /// The call the card is registered on.
    call_id: Option<Uuid>,
    /// The registration number of an earlier appeal on the same matter.
    repeat_of: String,
    /// How the appeal came in (`phone` unless given).
    #[schema(value_type = Option<Channel>)]
    channel: Option<String>,
    /// remark, proposal, statement (the default), complaint, request, demand.
    #[schema(value_type = Option<AppealKind>)]
    kind: Option<String>,
    anonymous: bool,
    /// Where the problem is on the map, in degrees.
    latitude: Option<f64>,
    longitude: Option<f64>,
}

/// A card just registered: what the operator reads out.
#[derive(Serialize, utoipa::ToSchema)]
struct Registered {
    id: Uuid,
    registration_number: RegistrationNumber,
    category: String,
    /// The lead executor's code, and its name to show.
    executor: String,
    executor_name: String,
    deadline: DateTime<Utc>,
    #[schema(value_type = super::AppealStatus)]
    status: &'static str,
    call_id: Option<Uuid>,
    /// The recordings of the call it was registered on.
    recordings: Vec<Uuid>,
}

/// What a card's form is checked against: the numbering plan (phones to
/// E.164) and whether the city takes anonymous appeals.
#[derive(Clone)]
struct FormRules {
    numbering: NumberingPlan,
    anonymous: AnonymousAppeals,
}

impl axum::extract::FromRef<AppState> for FormRules {
    fn from_ref(state: &AppState) -> Self {
        FormRules {
            numbering: state.numbering.clone(),
            anonymous: state.anonymous,
        }
    }
}

/// Registers an appeal: its number, deadline and executor. Nothing is
/// written if a field is wrong. Operators (on a call they took),
/// supervisors, admins.
#[utoipa::path(post, path = "/api/appeals", operation_id = "register_appeal", tag = "appeals",
    request_body = AppealBody,
    responses(
        (status = 201, body = Registered, description = "Registered"),
        (status = 404, body = ErrorBody, description = "No classifier imported yet"),
        (status = 422, body = FieldsBody, description = "A message per wrong field (Ukrainian)"),
    ))]
async fn register(
    State(store): State<Store>,
    State(FormRules {
        numbering,
        anonymous,
    }): State<FormRules>,
    State(rules): State<Arc<Lifecycle>>,
    State(consoles): State<crate::api::console::Consoles>,
    State(watcher): State<super::watcher::WatcherHandle>,
    auth: Auth,
    body: Result<Json<AppealBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    auth.require(APPEAL_ROLES)?;
    let Json(body) = body?;
    let mut errors = Vec::new();
    let contact_phone =
        super::registration::contact_phone(&numbering, &body.contact_phone, &mut errors);
    let channel = match body.channel.as_deref() {
        None => None,
        Some(c) => match Channel::parse(c) {
            Some(c) => Some(c),
            None => {
                errors.push(FieldError {
                    field: "channel",
                    message: "Канал: phone, walk_in, web або chatbot.".into(),
                });
                None
            }
        },
    };
    let kind = match body.kind.as_deref() {
        None | Some("") => None,
        Some(k) => match AppealKind::parse(k) {
            Some(k) => Some(k),
            None => {
                errors.push(FieldError {
                    field: "kind",
                    message:
                        "Вид звернення: зауваження, пропозиція, заява, скарга, запит або вимога."
                            .into(),
                });
                None
            }
        },
    };
    if body.anonymous && !anonymous.0 {
        errors.push(FieldError {
            field: "anonymous",
            message: "Анонімні звернення за правилами міста не приймаються.".into(),
        });
    }
    if let Some(call) = body.call_id {
        if let Some(refusal) = call_allowed(&store, &auth, call).await? {
            errors.push(refusal.field_error());
        }
    }
    let appeal = NewAppeal {
        surname: body.surname,
        first_name: body.first_name,
        patronymic: body.patronymic,
        address: body.address,
        contact_phone,
        other_contact: body.other_contact,
        essence: body.essence,
        email: body.email,
        category_id: body.category_id,
        call_id: body.call_id,
        repeat_of: body.repeat_of,
        channel,
        registered_by: Some(auth.user().id),
        kind,
        anonymous: body.anonymous,
        latitude: body.latitude,
        longitude: body.longitude,
        // The operator files every card under a category.
        triage: false,
    };
    if !errors.is_empty() {
        // Report the card's own problems too, all at once.
        errors.extend(appeal.check());
        errors.sort_by_key(|e| e.field);
        errors.dedup_by_key(|e| e.field);
        return Err(ApiError::Fields(errors));
    }
    let registration = store
        .register_appeal(&appeal, &rules, &auth.author(), Utc::now())
        .await?;
    let appeal = registration.record;
    // Into the executor's inbox at once (marked if outside its hours).
    consoles.card_changed(
        appeal.registration_number.as_str(),
        EntryKind::Registered,
        appeal.status,
        &registration.notices,
    );
    watcher.poke();
    let executor_name = registration.executor_name;
    // The card links to the call's recording through the call.
    let recordings: Vec<Uuid> = match appeal.call_id {
        Some(call) => match store.recordings_for_call(call).await {
            Ok(r) => r.into_iter().map(|r| r.id).collect(),
            Err(e) => {
                warn!(error = %e, "cannot list the call's recordings");
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    info!(number = %appeal.registration_number, by = %auth.user().login, call = ?appeal.call_id, "appeal registered");
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            id: appeal.id,
            registration_number: appeal.registration_number,
            category: appeal.category,
            executor: appeal.executor,
            executor_name,
            deadline: appeal.deadline,
            status: appeal.status.as_str(),
            call_id: appeal.call_id,
            recordings,
        }),
    ))
}

/// Why a call may not be linked to a appeal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallRefusal {
    Unknown,
    NotYours,
}

impl CallRefusal {
    fn message(self) -> &'static str {
        match self {
            CallRefusal::Unknown => "Такого дзвінка немає.",
            CallRefusal::NotYours => "Цей дзвінок прийняли не ви.",
        }
    }

    fn field_error(self) -> FieldError {
        FieldError {
            field: "call_id",
            message: self.message().into(),
        }
    }
}

impl From<CallRefusal> for ApiError {
    fn from(refusal: CallRefusal) -> ApiError {
        match refusal {
            CallRefusal::Unknown => ApiError::not_found(refusal.message()),
            CallRefusal::NotYours => ApiError::forbidden(refusal.message()),
        }
    }
}

/// Whether the user may link this call to a card: it must exist, and an
/// operator must have taken it.
async fn call_allowed(
    store: &Store,
    auth: &Auth,
    call: Uuid,
) -> Result<Option<CallRefusal>, StoreError> {
    if store.get_call(call).await?.is_none() {
        return Ok(Some(CallRefusal::Unknown));
    }
    if auth.role() != Role::Operator {
        return Ok(None);
    }
    let took = match auth.user().operator_id {
        Some(op) => store.operator_took_call(op, call).await?,
        None => false,
    };
    Ok((!took).then_some(CallRefusal::NotYours))
}

/// The card behind `number` (its record, not everything on it) for a user
/// whose role works with cards.
async fn appeal_for(store: &Store, auth: &Auth, number: &str) -> Result<AppealRecord, ApiError> {
    auth.require(APPEAL_ROLES)?;
    store
        .appeal_by_registration_number(number)
        .await?
        .ok_or_else(|| not_found(number))
}

/// The card whose files `auth` may upload or download: the contact
/// centre's, or an executor's own (403 for another's).
async fn appeal_for_files(
    store: &Store,
    auth: &Auth,
    number: &str,
) -> Result<AppealRecord, ApiError> {
    if auth.role() != Role::Executor {
        return appeal_for(store, auth, number).await;
    }
    let appeal = store
        .appeal_by_registration_number(number)
        .await?
        .ok_or_else(|| not_found(number))?;
    match may_see_card(store, auth, appeal.id).await? {
        true => Ok(appeal),
        false => Err(ApiError::forbidden("the card is not this executor's")),
    }
}

fn not_found(number: &str) -> ApiError {
    ApiError::not_found(format!("no appeal has the number {number:?}"))
}

/// A file on a appeal.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Attachment)]
struct AttachmentView {
    id: Uuid,
    file_name: String,
    content_type: String,
    size_bytes: u64,
    uploaded_at: DateTime<Utc>,
    url: String,
}

impl AttachmentView {
    fn new(number: &str, a: &Attachment) -> AttachmentView {
        AttachmentView {
            id: a.id,
            file_name: a.file_name.clone(),
            content_type: a.content_type.clone(),
            size_bytes: a.size_bytes,
            uploaded_at: a.uploaded_at,
            url: format!("/api/appeals/{number}/attachments/{}", a.id),
        }
    }
}

/// `GET /api/appeals/{number}`: everything on the appeal.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Appeal)]
struct AppealView {
    id: Uuid,
    registration_number: RegistrationNumber,
    #[schema(value_type = super::AppealStatus)]
    status: &'static str,
    category: String,
    category_id: Option<Uuid>,
    /// The lead executor's code, and its name as the current classifier
    /// has it.
    executor: String,
    executor_name: Option<String>,
    deadline: DateTime<Utc>,
    created_at: DateTime<Utc>,
    #[schema(value_type = Option<Channel>)]
    channel: Option<&'static str>,
    surname: Option<String>,
    first_name: Option<String>,
    patronymic: Option<String>,
    address: Option<String>,
    contact_phone: String,
    other_contact: Option<String>,
    essence: Option<String>,
    email: Option<String>,
    repeat_of: Option<String>,
    registered_by: Option<String>,
    calls: Vec<CallOnAppeal>,
    attachments: Vec<AttachmentView>,
    kind: AppealKind,
    anonymous: bool,
    latitude: Option<f64>,
    longitude: Option<f64>,
    /// Filed through Open311: the application and its photo's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    open311: Option<super::record::Open311Origin>,
    /// The card's life and the steps the viewer may take.
    life: Option<super::lifecycle_routes::LifeView>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct CallOnAppeal {
    id: Uuid,
    attached_at: Option<DateTime<Utc>>,
    recordings: Vec<Uuid>,
}

/// The card: its fields, its calls with their recordings, its files, and
/// its life with the steps the viewer may take. Every opening is in the
/// card access log.
#[utoipa::path(get, path = "/api/appeals/{number}", operation_id = "appeal_detail", tag = "appeals",
    params(("number" = String, Path, description = "The card's registration number")),
    responses(
        (status = 200, body = AppealView),
        (status = 404, body = ErrorBody, description = "No such appeal"),
    ))]
async fn detail(
    State(store): State<Store>,
    State(rules): State<std::sync::Arc<super::lifecycle::Lifecycle>>,
    auth: Auth,
    Path(number): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<AppealView>, ApiError> {
    if auth.role() != Role::Executor {
        auth.require(APPEAL_ROLES)?;
    }
    let appeal = store
        .appeal_detail(&number)
        .await?
        .ok_or_else(|| not_found(&number))?;
    // An executor's user sees its organisation's cards, no other's; the
    // card's life is read once, for that and for the steps it offers.
    let stored = store.appeal_card(appeal.record.id).await?;
    let allowed = super::lifecycle_routes::contact_centre(&auth)
        || stored
            .as_ref()
            .is_some_and(|s| super::lifecycle_routes::may_see(&auth, &s.card));
    if !allowed {
        return Err(ApiError::forbidden("the card is not this executor's"));
    }
    let r = appeal.record;
    // The log first: an opening that cannot be logged does not happen.
    let user = auth.user();
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    store
        .log_card_open(&NewOpening {
            appeal_id: r.id,
            registration_number: r.registration_number.as_str(),
            user_id: user.id,
            login: &user.login,
            role: user.role.as_str(),
            address: &peer.ip().to_string(),
            user_agent: agent,
            at: Utc::now(),
        })
        .await
        .map_err(ApiError::backend)?;
    info!(number = %r.registration_number, by = %user.login, "appeal card read");
    let attachments = appeal
        .attachments
        .iter()
        .map(|a| AttachmentView::new(&r.registration_number, a))
        .collect();
    let life = stored.map(|s| super::lifecycle_routes::life_view(&rules, &auth, &s.card));
    let executor_name = store
        .current_executors()
        .await?
        .into_iter()
        .find(|e| e.code == r.executor)
        .map(|e| e.name);
    Ok(Json(AppealView {
        executor_name,
        id: r.id,
        registration_number: r.registration_number,
        status: r.status.as_str(),
        category: r.category,
        category_id: appeal.category_id,
        executor: r.executor,
        deadline: r.deadline,
        created_at: r.created_at,
        channel: appeal.channel.map(|c| c.as_str()),
        surname: appeal.surname,
        first_name: appeal.first_name,
        patronymic: appeal.patronymic,
        address: r.address,
        contact_phone: r.caller_phone,
        other_contact: appeal.other_contact,
        essence: appeal.essence,
        email: appeal.email,
        repeat_of: appeal.repeat_of,
        registered_by: appeal.registered_by,
        calls: appeal
            .calls
            .into_iter()
            .map(|c| CallOnAppeal {
                id: c.call_id,
                attached_at: c.attached_at,
                recordings: c.recordings,
            })
            .collect(),
        attachments,
        kind: appeal.kind,
        anonymous: appeal.anonymous,
        latitude: appeal.latitude,
        longitude: appeal.longitude,
        open311: appeal.open311,
        life,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CallToAttach)]
struct AttachCallBody {
    call_id: Uuid,
}

#[derive(Serialize, utoipa::ToSchema)]
struct CallAttached {
    registration_number: RegistrationNumber,
    call_id: Uuid,
    attached: bool,
}

/// Attaches a call to a registered card (the citizen called again about
/// it). An operator only a call they took.
#[utoipa::path(post, path = "/api/appeals/{number}/calls", tag = "appeals",
    params(("number" = String, Path, description = "The card's registration number")),
    request_body = AttachCallBody,
    responses(
        (status = 201, body = CallAttached, description = "Attached"),
        (status = 200, body = CallAttached, description = "It was attached already"),
        (status = 404, body = ErrorBody, description = "No such appeal or call"),
        (status = 422, body = ErrorBody, description = "Not `{call_id}`"),
    ))]
async fn attach_call(
    State(store): State<Store>,
    auth: Auth,
    Path(number): Path<String>,
    body: Result<Json<AttachCallBody>, JsonRejection>,
) -> Result<(StatusCode, Json<CallAttached>), ApiError> {
    let appeal = appeal_for(&store, &auth, &number).await?;
    let Json(body) =
        body.map_err(|_| ApiError::unprocessable("send {\"call_id\": \"<our call id>\"}"))?;
    if let Some(refusal) = call_allowed(&store, &auth, body.call_id).await? {
        return Err(refusal.into());
    }
    let attached = match store
        .attach_call(appeal.id, body.call_id, Some(auth.user().id), Utc::now())
        .await
    {
        Ok(attached) => attached,
        Err(StoreError::NotFound { what, .. }) => {
            return Err(ApiError::not_found(format!("the {what} is gone")));
        }
        Err(e) => return Err(e.into()),
    };
    info!(number = %appeal.registration_number, call = %body.call_id, by = %auth.user().login, attached, "call attached to an appeal");
    let status = if attached {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(CallAttached {
            registration_number: appeal.registration_number,
            call_id: body.call_id,
            attached,
        }),
    ))
}

/// Invisible characters that reorder or hide text (bidi overrides and
/// isolates, zero-width ones): a name could use them to pass `x.exe` off
/// as `exe.png`.
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// A file name as the browser sent it, made safe to show and to put in a
/// header: no folders, no control or invisible characters, at most 200
/// characters, and the extension of what the file really is (`ext`), so a
/// download never opens as something else.
pub(crate) fn clean_file_name(sent: Option<&str>, ext: &str) -> String {
    let base = sent
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && !is_format_char(*c) && *c != '"')
        .take(200)
        .collect::<String>();
    let base = base.trim().trim_start_matches('.');
    let stem = match base.rsplit_once('.') {
        Some((stem, _)) if !stem.trim().is_empty() => stem.trim(),
        _ => base,
    };
    if stem.is_empty() {
        format!("attachment.{ext}")
    } else {
        format!("{stem}.{ext}")
    }
}

/// The multipart form of an upload, as the document describes it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    /// `true`: an executor marks the file as proof of the work. Before
    /// the file.
    #[schema(required = false)]
    proof: bool,
    /// The file: a photo, a video or a document (checked by its content).
    #[schema(value_type = Value, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

/// Attaches a photo, a video or a document to the card. What the file is
/// comes from its content, not its name.
#[utoipa::path(post, path = "/api/appeals/{number}/attachments", operation_id = "upload_attachment", tag = "appeals",
    params(("number" = String, Path, description = "The card's registration number")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = AttachmentView, description = "Kept"),
        (status = 400, body = ErrorBody, description = "Not a multipart form"),
        (status = 404, body = ErrorBody, description = "No such appeal"),
        (status = 413, body = ErrorBody, description = "Larger than the limit"),
        (status = 415, body = ErrorBody, description = "Not a kind of file the card takes"),
        (status = 422, body = ErrorBody, description = "No file, or an empty one"),
    ))]
async fn upload(
    State(store): State<Store>,
    State(files): State<AttachmentFiles>,
    State(rules): State<Arc<Lifecycle>>,
    State(consoles): State<crate::api::console::Consoles>,
    auth: Auth,
    Path(number): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<AttachmentView>), ApiError> {
    let appeal = appeal_for_files(&store, &auth, &number).await?;
    let mut multipart = multipart
        .map_err(|_| ApiError::bad_request("send multipart/form-data with one field \"file\""))?;
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "Файл більший за {} МБ.",
            files.max_bytes() / (1024 * 1024)
        ))
    };
    // An executor may mark the file as proof of the work (a field "proof"
    // before the file, "true").
    let mut proof = false;
    let mut field = loop {
        match multipart.next_field().await {
            Ok(Some(f)) if f.name() == Some("file") => break f,
            Ok(Some(f)) if f.name() == Some("proof") => {
                proof = matches!(f.text().await.as_deref(), Ok("true" | "1"));
            }
            Ok(Some(_)) => continue,
            Ok(None) => return Err(ApiError::unprocessable("Додайте файл.")),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => return Err(ApiError::bad_request(e.body_text())),
        }
    };
    let sent_name = field.file_name().map(str::to_owned);
    let id = Uuid::new_v4();
    let now = Utc::now();
    // The rules first: a file the card's life would refuse is not kept.
    let attach = super::lifecycle::Action::Attach {
        files: vec![id],
        proof,
    };
    let card = store
        .appeal_card(appeal.id)
        .await?
        .ok_or_else(|| not_found(&number))?;
    rules.handle(
        &card.card,
        attach.clone(),
        &super::lifecycle_routes::actor_of(&auth),
        now,
    )?;
    let (pieces, writer) = files.spawn_writer(id, now);
    if let Err(e) = super::attachments::pump(&mut field, pieces).await {
        let _ = writer.await;
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Err(too_large());
        }
        return Err(ApiError::bad_request(e.body_text()));
    }
    // Finishing and the row in a task of their own: a client that goes
    // away now leaves neither a file without a row nor a row without a file.
    let (appeal_id, by) = (appeal.id, auth.user().id);
    let (task_store, kept) = (store.clone(), files.clone());
    let job = tokio::spawn(async move {
        let stored = writer
            .await
            .map_err(|e| UploadFailure::File(AttachmentError::Io(std::io::Error::other(e))))?
            .map_err(UploadFailure::File)?;
        let ext = stored.path.rsplit('.').next().unwrap_or("bin").to_owned();
        let attachment = Attachment {
            id,
            appeal_id,
            file_name: clean_file_name(sent_name.as_deref(), &ext),
            content_type: stored.content_type.to_owned(),
            size_bytes: stored.size_bytes,
            sha256: stored.sha256,
            path: stored.path,
            uploaded_at: now,
        };
        if let Err(e) = task_store.add_attachment(&attachment, Some(by)).await {
            // No row, no file: nothing half-written stays.
            kept.remove(&attachment.path).await;
            return Err(UploadFailure::Store(e));
        }
        Ok(attachment)
    });
    let attachment = match job.await {
        Ok(Ok(a)) => a,
        Ok(Err(UploadFailure::File(AttachmentError::TooLarge { .. }))) => return Err(too_large()),
        Ok(Err(UploadFailure::File(AttachmentError::Empty))) => {
            return Err(ApiError::unprocessable("Файл порожній."));
        }
        Ok(Err(UploadFailure::File(AttachmentError::Kind(kind)))) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Такі файли ({kind}) не приймаються: лише фото, відео, PDF та документи."
            )));
        }
        Ok(Err(UploadFailure::Store(StoreError::NotFound { .. }))) => {
            return Err(ApiError::not_found("the card is gone"));
        }
        Ok(Err(UploadFailure::File(e))) => return Err(ApiError::backend(e)),
        Ok(Err(UploadFailure::Store(e))) => return Err(ApiError::backend(e)),
        Err(e) => return Err(ApiError::internal(e.to_string())),
    };
    // The step in the card's history; if the card's life refuses it now
    // (it changed meanwhile), the file goes: nothing is on a card that its
    // history does not tell.
    let outcome = match super::lifecycle_routes::take_step(&store, &rules, &auth, appeal.id, attach)
        .await
    {
        Ok(taken) => taken.outcome,
        Err(e) => {
            if let Err(gone) = store.delete_attachment_row(attachment.id).await {
                warn!(attachment = %id, error = %gone, "an attachment refused by the card's life could not be removed");
            }
            files.remove(&attachment.path).await;
            return Err(e);
        }
    };
    if proof {
        store.mark_proof(appeal.id, attachment.id).await?;
    }
    let number = &appeal.registration_number;
    consoles.card_changed(
        number.as_str(),
        outcome.entry.kind,
        outcome.card.status,
        &outcome.notices,
    );
    info!(%number, attachment = %id, size = attachment.size_bytes, kind = %attachment.content_type, proof, by = %auth.user().login, "attachment stored");
    Ok((
        StatusCode::CREATED,
        Json(AttachmentView::new(number, &attachment)),
    ))
}

/// Downloads a file of the card.
#[utoipa::path(get, path = "/api/appeals/{number}/attachments/{id}", operation_id = "download_attachment", tag = "appeals",
    params(("number" = String, Path, description = "The card's registration number"), ("id" = Uuid, Path, description = "The file")),
    responses(
        (status = 200, description = "The file, as a download, with its own content type", content_type = "*/*", body = Value),
        (status = 404, body = ErrorBody, description = "No such appeal or file"),
    ))]
async fn download(
    State(store): State<Store>,
    State(files): State<AttachmentFiles>,
    auth: Auth,
    Path((number, id)): Path<(String, Uuid)>,
) -> Result<Response, ApiError> {
    let appeal = appeal_for_files(&store, &auth, &number).await?;
    let attachment = store
        .attachment(appeal.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such attachment on this card"))?;
    let Some(path) = files.path_of(&attachment.path) else {
        warn!(attachment = %id, "an attachment's stored path is not a plain relative path");
        return Err(ApiError::internal("the attachment's path is damaged"));
    };
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            warn!(path = %path.display(), error = %e, "an attachment's file is missing");
            return Err(ApiError::not_found("the attachment's file is missing"));
        }
    };
    info!(number = %appeal.registration_number, attachment = %id, by = %auth.user().login, "attachment downloaded");
    let stream = tokio_util::io::ReaderStream::new(file);
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    // The type is one of ours (checked on upload), never the browser's.
    if let Ok(v) = HeaderValue::from_str(&attachment.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&crate::api::disposition(
        "attachment",
        &attachment.file_name,
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CONTENT_LENGTH, attachment.size_bytes.into());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_folders_and_header_breakers() {
        assert_eq!(
            clean_file_name(Some("C:\\Users\\x\\фото 1.jpg"), "jpg"),
            "фото 1.jpg"
        );
        assert_eq!(
            clean_file_name(Some("../../etc/passwd"), "pdf"),
            "passwd.pdf"
        );
        assert_eq!(clean_file_name(Some("a\r\nb\".png"), "png"), "ab.png");
        // The name says what the file is, not what the sender claimed.
        assert_eq!(clean_file_name(Some("report.html"), "pdf"), "report.pdf");
        assert_eq!(
            clean_file_name(Some("photo\u{202E}gnp.exe"), "png"),
            "photognp.png"
        );
        assert_eq!(clean_file_name(Some(".."), "png"), "attachment.png");
        assert_eq!(clean_file_name(None, "pdf"), "attachment.pdf");
    }
}
