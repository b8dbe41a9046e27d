//! Recordings for the people entitled to them (000 §2.7):
//!
//! - `GET /api/recordings?from&to&caller&operator&queue&call_id&appeal&min_secs&max_secs&page&per_page`:
//!   a page of recordings, newest first, with each call's caller, queue,
//!   operator, wait and linked appeals.
//! - `GET /api/recordings/{id}`: one, with the call's path through the IVR,
//!   its queue steps and its legal holds.
//! - `GET /api/recordings/{id}/audio`: the WAV, with HTTP Range requests
//!   (seeking); `?download=1` as a download. Every request is written to
//!   the access log first (who, what, when, from where); a recording is
//!   named by its id only, its path comes from the database.
//! - `POST /api/recordings/{id}/hold`, `POST /api/appeals/{number}/hold`
//!   with `{"reason"}`, `DELETE /api/holds/{id}`: legal holds
//!   (supervisors, admins).
//! - `GET /api/recording-access?from&to&recording&format=csv`: the access
//!   log (admins), as JSON or CSV.
//!
//! Supervisors and admins see every recording; an operator only those of
//! calls they answered, for 24 hours after the call; executors none.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tower::ServiceExt;
use tracing::{info, warn};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::auth::Auth;
use super::error::{ApiError, ErrorBody, FieldsBody};
use super::state::{AppState, RecordingsDir};
use crate::logtext::Untrusted;
use crate::phone::NumberingPlan;
use crate::queue::QueueSet;
use crate::store::recordings::{NewAccess, RecordingAccess, RecordingFilter, RecordingItem};
use crate::store::retention::{HoldTarget, LegalHold};
use crate::store::{Role, Store, StoreError};

/// How long an operator may listen to a call they took.
pub const OPERATOR_WINDOW: TimeDelta = TimeDelta::hours(24);
const HOLD_ROLES: &[Role] = &[Role::Supervisor, Role::Admin];
const MAX_PER_PAGE: u32 = 200;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(detail))
        .routes(routes!(audio))
        .routes(routes!(hold_recording))
        .routes(routes!(hold_appeal))
        .routes(routes!(release))
        .routes(routes!(access_log))
}

/// Which recordings this user may see: all (`None`), those of calls an
/// operator answered (`Some(operator id)`), or none (403).
fn scope(auth: &Auth) -> Result<Option<Uuid>, ApiError> {
    match auth.role() {
        Role::Supervisor | Role::Admin => Ok(None),
        Role::Operator => auth
            .user()
            .operator_id
            .map(Some)
            .ok_or_else(|| ApiError::forbidden("this operator user has no operator")),
        Role::Executor => Err(ApiError::forbidden(
            "recordings are for supervisors (and operators, of their own calls)",
        )),
    }
}

/// The recording, if this user may have it: 404 if there is none, 403 if
/// it is not theirs to hear.
async fn allowed(store: &Store, auth: &Auth, id: Uuid) -> Result<RecordingItem, ApiError> {
    let operator = scope(auth)?;
    let item = store
        .recording_item(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such recording"))?;
    if let Some(op) = operator {
        if !store.operator_took_call(op, item.call_id).await? {
            return Err(ApiError::forbidden("not a call you took"));
        }
        if item.started_at < Utc::now() - OPERATOR_WINDOW {
            return Err(ApiError::forbidden(
                "an operator may listen to their calls for 24 hours only",
            ));
        }
    }
    Ok(item)
}

/// A recording as listed: the call's caller, queue, operator and cards.
#[derive(Serialize, utoipa::ToSchema)]
struct RecordingView {
    id: Uuid,
    call_id: Uuid,
    started_at: DateTime<Utc>,
    duration_ms: Option<u64>,
    size_bytes: Option<u64>,
    purged_at: Option<DateTime<Utc>>,
    caller: String,
    sip_call_id: String,
    queue: Option<String>,
    /// The queue's title, as people read it.
    queue_title: Option<String>,
    /// The operator's login, and their name.
    operator: Option<String>,
    operator_name: Option<String>,
    waited_ms: Option<u64>,
    appeals: Vec<String>,
    /// `None` once the file is removed (retention).
    audio_url: Option<String>,
}

impl RecordingView {
    /// `r` with its queue's title from `queues`.
    fn of(r: RecordingItem, queues: &QueueSet) -> RecordingView {
        RecordingView {
            queue_title: r
                .queue
                .as_deref()
                .and_then(|q| queues.get(q))
                .map(|q| q.title.clone()),
            operator_name: r.operator_name,
            audio_url: (r.purged_at.is_none()).then(|| format!("/api/recordings/{}/audio", r.id)),
            id: r.id,
            call_id: r.call_id,
            started_at: r.started_at,
            duration_ms: r.duration_ms,
            size_bytes: r.size_bytes,
            purged_at: r.purged_at,
            caller: r.caller,
            sip_call_id: r.sip_call_id,
            queue: r.queue,
            operator: r.operator,
            waited_ms: r.waited_ms,
            appeals: r.appeals,
        }
    }
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
struct SearchQuery {
    /// From this moment: RFC 3339, or a date `YYYY-MM-DD` (its start on
    /// the city's clock).
    from: Option<String>,
    /// Until this moment: RFC 3339, or a date (through its end).
    to: Option<String>,
    /// The caller's number, in any usual form.
    caller: Option<String>,
    /// The operator's login.
    operator: Option<String>,
    /// The queue's name.
    queue: Option<String>,
    /// The call's id.
    call_id: Option<String>,
    /// An appeal's registration number linked to the call.
    appeal: Option<String>,
    /// At least this many seconds long.
    min_secs: Option<String>,
    /// At most this many seconds long.
    max_secs: Option<String>,
    /// `1`: also recordings whose file retention removed.
    purged: Option<String>,
    /// From 1.
    page: Option<String>,
    /// 1 to 200 (50 unless given).
    per_page: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct SearchPage {
    page: u64,
    per_page: u32,
    total: u64,
    recordings: Vec<RecordingView>,
}

/// A page of recordings, newest first, with each call's caller, queue,
/// operator, wait and linked appeals. Supervisors and admins see all; an
/// operator those of calls they answered, for 24 hours.
#[utoipa::path(get, path = "/api/recordings", operation_id = "search_recordings", tag = "recordings",
    params(SearchQuery),
    responses(
        (status = 200, body = SearchPage),
        (status = 422, body = FieldsBody, description = "A message per wrong filter"),
    ))]
async fn search(
    State(store): State<Store>,
    State(service): State<crate::queue::service::QueueService>,
    State(numbering): State<NumberingPlan>,
    State(rules): State<std::sync::Arc<crate::appeal::lifecycle::Lifecycle>>,
    auth: Auth,
    Query(q): Query<SearchQuery>,
) -> Result<Json<SearchPage>, ApiError> {
    let operator = scope(&auth)?;
    let nonempty = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    // What names nothing is said, not searched for: an empty page would
    // read as "no such calls".
    let queue = match nonempty(&q.queue) {
        None => None,
        Some(text) => {
            let wanted = text.to_lowercase();
            let found = service
                .queues()
                .queues()
                .iter()
                .find(|c| c.name.to_lowercase() == wanted || c.title.to_lowercase() == wanted);
            match found {
                Some(c) => Some(c.name.clone()),
                None => {
                    let known: Vec<&str> = service
                        .queues()
                        .queues()
                        .iter()
                        .map(|c| c.title.as_str())
                        .collect();
                    return Err(ApiError::field(
                        "queue",
                        format!("Такої черги немає. Черги: {}.", known.join(", ")),
                    ));
                }
            }
        }
    };
    let operator_filter = match nonempty(&q.operator) {
        None => None,
        Some(text) => {
            let wanted = text.to_lowercase();
            let found = store.list_operators().await?.into_iter().find(|o| {
                o.login.to_lowercase() == wanted || o.display_name.to_lowercase() == wanted
            });
            match found {
                Some(o) => Some(o.login),
                None => {
                    return Err(ApiError::field(
                        "operator",
                        format!(
                            "Оператора «{text}» немає: вкажіть логін або ім'я, як у списку операторів."
                        ),
                    ));
                }
            }
        }
    };
    let appeal = nonempty(&q.appeal);
    if appeal
        .as_deref()
        .is_some_and(|a| crate::appeal::number::digits(a).is_empty())
    {
        return Err(ApiError::field(
            "appeal",
            "Номер звернення — цифри, наприклад 1580-2026-000123.",
        ));
    }
    let mut filter = RecordingFilter {
        operator: operator_filter,
        queue,
        appeal,
        include_purged: matches!(q.purged.as_deref(), Some("1" | "true")),
        ..Default::default()
    };
    if let Some(text) = nonempty(&q.from) {
        filter.from = Some(super::query_moment(
            "from",
            &text,
            false,
            rules.calendar().time_zone(),
        )?);
    }
    if let Some(text) = nonempty(&q.to) {
        filter.to = Some(super::query_moment(
            "to",
            &text,
            true,
            rules.calendar().time_zone(),
        )?);
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from > to
    {
        return Err(ApiError::field(
            "to",
            "Кінець проміжку раніше за його початок.",
        ));
    }
    if let Some(text) = nonempty(&q.caller) {
        // Any written form finds the number; what does not normalise is
        // looked for as the call had it (e.g. "anonymous").
        filter.caller = Some(
            numbering
                .normalise(&text)
                .map(|n| n.to_string())
                .unwrap_or(text),
        );
    }
    if let Some(text) = nonempty(&q.call_id) {
        let id = text
            .parse()
            .map_err(|_| ApiError::field("call_id", "Ідентифікатор дзвінка має вигляд UUID."))?;
        filter.call_id = Some(id);
    }
    for (field, value, slot) in [
        ("min_secs", &q.min_secs, &mut filter.min_duration_ms),
        ("max_secs", &q.max_secs, &mut filter.max_duration_ms),
    ] {
        if let Some(text) = nonempty(value) {
            let secs = text
                .parse::<u64>()
                .map_err(|_| ApiError::field(field, "Тривалість — ціле число секунд."))?;
            *slot = Some(secs.saturating_mul(1000));
        }
    }
    if let Some(op) = operator {
        filter.taken_by = Some(op);
        let window = Utc::now() - OPERATOR_WINDOW;
        filter.from = Some(filter.from.map_or(window, |f| f.max(window)));
    }
    let page: u64 = q
        .page
        .as_deref()
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let per_page: u32 = q
        .per_page
        .as_deref()
        .and_then(|p| p.parse().ok())
        .unwrap_or(50)
        .clamp(1, MAX_PER_PAGE);
    let (items, total) = store
        .search_recordings(&filter, (page - 1) * u64::from(per_page), per_page)
        .await?;
    Ok(Json(SearchPage {
        page,
        per_page,
        total,
        recordings: items
            .into_iter()
            .map(|r| RecordingView::of(r, service.queues()))
            .collect(),
    }))
}

/// A legal hold, on a recording or a card.
#[derive(Serialize, utoipa::ToSchema)]
struct HoldView {
    id: Uuid,
    /// `recording` or `appeal`.
    #[schema(value_type = String, example = "recording")]
    on: &'static str,
    target: Uuid,
    reason: String,
    set_by: Option<String>,
    set_at: DateTime<Utc>,
    released_at: Option<DateTime<Utc>>,
}

impl From<LegalHold> for HoldView {
    fn from(h: LegalHold) -> HoldView {
        let (on, target) = match h.target {
            HoldTarget::Recording(r) => ("recording", r),
            HoldTarget::Appeal(a) => ("appeal", a),
        };
        HoldView {
            id: h.id,
            on,
            target,
            reason: h.reason,
            set_by: h.set_by,
            set_at: h.set_at,
            released_at: h.released_at,
        }
    }
}

/// One recording with its call's path and steps, and its holds.
#[derive(Serialize, utoipa::ToSchema)]
struct RecordingDetail {
    #[serde(flatten)]
    recording: RecordingView,
    /// The path through the menu as stored (`main:greeting enter`).
    ivr_path: Vec<String>,
    /// The same, ready to be put in words.
    ivr_steps: Vec<crate::ivr::path::PathStep>,
    events: Vec<EventView>,
    call: Option<CallView>,
    holds: Vec<HoldView>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct EventView {
    at: DateTime<Utc>,
    kind: String,
    detail: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct CallView {
    arrived_at: DateTime<Utc>,
    answered_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<crate::store::EndedBy>)]
    ended_by: Option<&'static str>,
    #[schema(value_type = Option<crate::store::Disposition>)]
    disposition: Option<&'static str>,
    called_number: String,
    codec: Option<String>,
}

/// One recording, with the call's path through the voice menu, its queue
/// steps and its legal holds.
#[utoipa::path(get, path = "/api/recordings/{id}", operation_id = "recording_detail", tag = "recordings",
    params(("id" = Uuid, Path, description = "The recording")),
    responses(
        (status = 200, body = RecordingDetail),
        (status = 404, body = ErrorBody, description = "No such recording"),
    ))]
async fn detail(
    State(store): State<Store>,
    State(words): State<crate::ivr::path::PathWords>,
    auth: Auth,
    Path(id): Path<Uuid>,
) -> Result<Json<RecordingDetail>, ApiError> {
    let item = allowed(&store, &auth, id).await?;
    let events = store.call_events(item.call_id).await?;
    let holds = store.holds_on(HoldTarget::Recording(id)).await?;
    let call = store.get_call(item.call_id).await?;
    let ivr_path: Vec<String> = events
        .iter()
        .filter(|e| e.kind == "ivr")
        .map(|e| e.detail.clone())
        .collect();
    Ok(Json(RecordingDetail {
        recording: RecordingView::of(item, words.queues()),
        ivr_steps: words.describe(&ivr_path),
        ivr_path,
        events: events
            .into_iter()
            .map(|e| EventView {
                at: e.at,
                kind: e.kind,
                detail: e.detail,
            })
            .collect(),
        call: call.map(|c| CallView {
            arrived_at: c.arrived_at,
            answered_at: c.answered_at,
            ended_at: c.ended_at,
            ended_by: c.ended_by.map(|b| b.as_str()),
            disposition: c.disposition.map(|d| d.as_str()),
            called_number: c.called_number,
            codec: c.codec,
        }),
        holds: holds.into_iter().map(HoldView::from).collect(),
    }))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
struct AudioQuery {
    /// `1`: as a download (`Content-Disposition: attachment`).
    download: Option<String>,
}

/// The recording's WAV file, with HTTP Range requests (seeking). Every
/// request is in the access log first.
#[utoipa::path(get, path = "/api/recordings/{id}/audio", operation_id = "recording_audio", tag = "recordings",
    params(("id" = Uuid, Path, description = "The recording"), AudioQuery),
    responses(
        (status = 200, description = "The whole file", content_type = "audio/wav", body = Value),
        (status = 206, description = "The range asked for", content_type = "audio/wav", body = Value),
        (status = 404, body = ErrorBody, description = "No such recording, or its file is missing"),
        (status = 410, body = ErrorBody, description = "Retention removed the file"),
    ))]
async fn audio(
    State(store): State<Store>,
    State(recordings): State<RecordingsDir>,
    auth: Auth,
    Path(id): Path<Uuid>,
    Query(q): Query<AudioQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Result<Response, ApiError> {
    let item = allowed(&store, &auth, id).await?;
    if item.purged_at.is_some() {
        return Err(ApiError::Gone(
            "the recording was removed at the end of its retention period",
        ));
    }
    let rec = store
        .get_recording(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such recording"))?;
    let Some(path) = crate::appeal::attachments::plain_join(&recordings.0, &rec.path) else {
        warn!(recording = %id, "a recording's stored path is not a plain relative path");
        return Err(ApiError::internal("the recording's path is damaged"));
    };
    let download = matches!(q.download.as_deref(), Some("1" | "true"));
    let headers = request.headers();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let user = auth.user();
    let address = peer.ip().to_string();
    let action = if download { "download" } else { "play" };
    // The log first: an access that cannot be logged does not happen.
    store
        .log_recording_access(&NewAccess {
            recording_id: id,
            call_id: item.call_id,
            user_id: user.id,
            login: &user.login,
            role: user.role.as_str(),
            at: Utc::now(),
            action,
            range,
            address: &address,
            user_agent: agent,
        })
        .await
        .map_err(ApiError::backend)?;
    info!(recording = %id, by = %user.login, action, range = %Untrusted(range.unwrap_or("-")), from = %address, "recording accessed");
    let mut response = match tower_http::services::ServeFile::new(&path)
        .oneshot(request)
        .await
    {
        Ok(r) => r.map(axum::body::Body::new),
        Err(e) => match e {},
    };
    if response.status() == StatusCode::NOT_FOUND {
        warn!(recording = %id, path = %path.display(), "a recording's file is missing");
        return Err(ApiError::not_found("the recording's file is missing"));
    }
    let h = response.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if h.contains_key(header::CONTENT_TYPE) {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    }
    let name = format!(
        "{}-{}.wav",
        item.started_at.format("%Y%m%d-%H%M%S"),
        &id.simple().to_string()[..8]
    );
    let kind = if download { "attachment" } else { "inline" };
    if let Ok(v) = HeaderValue::from_str(&super::disposition(kind, &format!("call-{name}"))) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewHold)]
struct HoldBody {
    reason: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct HoldSet {
    id: Uuid,
}

async fn set_hold(
    store: &Store,
    auth: &Auth,
    target: HoldTarget,
    body: Result<Json<HoldBody>, JsonRejection>,
) -> Result<(StatusCode, Json<HoldSet>), ApiError> {
    auth.require(HOLD_ROLES)?;
    let Json(body) = body.map_err(|_| ApiError::unprocessable("send {\"reason\": …}"))?;
    let set = store
        .set_hold(target, &body.reason, Some(auth.user().id), Utc::now())
        .await;
    let id = match set {
        Ok(id) => id,
        Err(StoreError::Invalid {
            field: "recording", ..
        }) => {
            return Err(ApiError::conflict(
                "the recording's file was removed already (retention): there is nothing to hold",
            ));
        }
        Err(StoreError::Invalid { .. }) => {
            return Err(ApiError::unprocessable(
                "Вкажіть причину (до 500 символів).",
            ));
        }
        Err(StoreError::NotFound { what, .. }) => {
            return Err(ApiError::not_found(format!("no such {what}")));
        }
        Err(e) => return Err(e.into()),
    };
    info!(hold = %id, ?target, by = %auth.user().login, "legal hold set");
    Ok((StatusCode::CREATED, Json(HoldSet { id })))
}

/// Puts a legal hold on a recording: retention keeps it until released.
/// Supervisors, admins.
#[utoipa::path(post, path = "/api/recordings/{id}/hold", tag = "recordings",
    params(("id" = Uuid, Path, description = "The recording")),
    request_body = HoldBody,
    responses(
        (status = 201, body = HoldSet, description = "Held"),
        (status = 404, body = ErrorBody, description = "No such recording"),
        (status = 409, body = ErrorBody, description = "Already held, or already removed"),
        (status = 422, body = ErrorBody, description = "No reason given"),
    ))]
async fn hold_recording(
    State(store): State<Store>,
    auth: Auth,
    Path(id): Path<Uuid>,
    body: Result<Json<HoldBody>, JsonRejection>,
) -> Result<(StatusCode, Json<HoldSet>), ApiError> {
    set_hold(&store, &auth, HoldTarget::Recording(id), body).await
}

/// Puts a legal hold on a card and the recordings of its calls.
/// Supervisors, admins.
#[utoipa::path(post, path = "/api/appeals/{number}/hold", tag = "recordings",
    params(("number" = String, Path, description = "The card's registration number")),
    request_body = HoldBody,
    responses(
        (status = 201, body = HoldSet, description = "Held"),
        (status = 404, body = ErrorBody, description = "No such appeal"),
        (status = 409, body = ErrorBody, description = "Already held, or already removed"),
        (status = 422, body = ErrorBody, description = "No reason given"),
    ))]
async fn hold_appeal(
    State(store): State<Store>,
    auth: Auth,
    Path(number): Path<String>,
    body: Result<Json<HoldBody>, JsonRejection>,
) -> Result<(StatusCode, Json<HoldSet>), ApiError> {
    auth.require(HOLD_ROLES)?;
    let appeal = store
        .appeal_by_registration_number(&number)
        .await?
        .ok_or_else(|| ApiError::not_found("no such appeal"))?;
    set_hold(&store, &auth, HoldTarget::Appeal(appeal.id), body).await
}

#[derive(Serialize, utoipa::ToSchema)]
struct HoldReleased {
    id: Uuid,
    released: bool,
}

/// Releases a legal hold. Supervisors, admins.
#[utoipa::path(delete, path = "/api/holds/{id}", operation_id = "release_hold", tag = "recordings",
    params(("id" = Uuid, Path, description = "The hold")),
    responses(
        (status = 200, body = HoldReleased),
        (status = 404, body = ErrorBody, description = "No such hold"),
    ))]
async fn release(
    State(store): State<Store>,
    auth: Auth,
    Path(id): Path<Uuid>,
) -> Result<Json<HoldReleased>, ApiError> {
    auth.require(HOLD_ROLES)?;
    let released = match store
        .release_hold(id, Some(auth.user().id), Utc::now())
        .await
    {
        Ok(released) => released,
        Err(StoreError::NotFound { .. }) => return Err(ApiError::not_found("no such hold")),
        Err(e) => return Err(e.into()),
    };
    info!(hold = %id, by = %auth.user().login, released, "legal hold released");
    Ok(Json(HoldReleased { id, released }))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
struct AccessQuery {
    /// From this moment: RFC 3339, or a date (its start, city's clock).
    from: Option<String>,
    /// Until this moment: RFC 3339, or a date (through its end).
    to: Option<String>,
    /// One recording's accesses.
    recording: Option<Uuid>,
    /// `csv` for a CSV file; JSON otherwise.
    format: Option<String>,
    /// The most lines to give.
    limit: Option<u32>,
}

/// One line of the access log.
#[derive(Serialize, utoipa::ToSchema)]
struct AccessView {
    at: DateTime<Utc>,
    login: String,
    role: String,
    action: String,
    recording_id: Uuid,
    call_id: Uuid,
    range: Option<String>,
    address: String,
    user_agent: Option<String>,
}

impl From<RecordingAccess> for AccessView {
    fn from(r: RecordingAccess) -> AccessView {
        AccessView {
            at: r.at,
            login: r.login,
            role: r.role,
            action: r.action,
            recording_id: r.recording_id,
            call_id: r.call_id,
            range: r.range,
            address: r.address,
            user_agent: r.user_agent,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct AccessLog {
    access: Vec<AccessView>,
}

/// A CSV field: quoted, quotes doubled, and a leading `=+-@` defused so a
/// spreadsheet never runs it as a formula.
fn csv_field(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

/// Who listened to or downloaded which recording, when, from where.
/// Admins.
#[utoipa::path(get, path = "/api/recording-access", tag = "recordings",
    params(AccessQuery),
    responses(
        (status = 200, description = "The log; with `format=csv` as a CSV file", content(
            (AccessLog = "application/json"),
            (Value = "text/csv"),
        )),
        (status = 422, body = FieldsBody, description = "A message per wrong filter"),
    ))]
async fn access_log(
    State(store): State<Store>,
    State(rules): State<std::sync::Arc<crate::appeal::lifecycle::Lifecycle>>,
    auth: Auth,
    Query(q): Query<AccessQuery>,
) -> Result<Response, ApiError> {
    auth.require(&[Role::Admin])?;
    let from = match q.from.as_deref().filter(|s| !s.is_empty()) {
        Some(t) => Some(super::query_moment(
            "from",
            t,
            false,
            rules.calendar().time_zone(),
        )?),
        None => None,
    };
    let to = match q.to.as_deref().filter(|s| !s.is_empty()) {
        Some(t) => Some(super::query_moment(
            "to",
            t,
            true,
            rules.calendar().time_zone(),
        )?),
        None => None,
    };
    let limit = q.limit.unwrap_or(10_000).clamp(1, 100_000);
    let rows = store
        .recording_accesses(from, to, q.recording, limit)
        .await?;
    info!(by = %auth.user().login, rows = rows.len(), "recordings' access log read");
    if q.format.as_deref() == Some("csv") {
        let mut out =
            String::from("at,login,role,action,recording_id,call_id,range,address,user_agent\r\n");
        for r in &rows {
            let fields = [
                r.at.to_rfc3339(),
                r.login.clone(),
                r.role.clone(),
                r.action.clone(),
                r.recording_id.to_string(),
                r.call_id.to_string(),
                r.range.clone().unwrap_or_default(),
                r.address.clone(),
                r.user_agent.clone().unwrap_or_default(),
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"recording-access.csv\"",
                ),
            ],
            out,
        )
            .into_response());
    }
    let access = rows.into_iter().map(AccessView::from).collect();
    Ok(Json(AccessLog { access }).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("olena"), "\"olena\"");
        assert_eq!(csv_field("a \"b\""), "\"a \"\"b\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
        assert_eq!(csv_field("bytes=0-"), "\"bytes=0-\"");
    }
}
