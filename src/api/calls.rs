//! The operator's own controls over calls:
//!
//! - `GET /api/my/calls` (operator users): the calls they answered today
//!   (the city's day), newest first.
//! - `POST /api/calls/{id}/block` with `{"reason": "…"}`: "end call and
//!   block caller". An operator for a call they took; supervisors and
//!   admins for any call. A call still in progress is ended (BYE to both
//!   sides) and the caller's number goes on the block list (201 with the
//!   block; `call_ended` says whether the call was still up). An
//!   operator's block lasts `[blocking] operator_block_days` (0: until a
//!   supervisor lifts it). A call with no usable number (withheld) is
//!   ended all the same and answered 422: there is nothing to block.
//! - `POST /api/calls/{id}/monitor` with `{"mode": "listen"|"whisper"|
//!   "barge"}` (supervisors; the list of monitored calls for admins too): rings the signed-in user's own
//!   softphone (the extension linked to them) and joins it to the
//!   conversation; `PUT` switches the mode, `DELETE` ends it. Each is on the
//!   call's record (its steps) and in the audit log.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::info;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::auth::Auth;
use super::error::{ApiError, ErrorBody};
use super::state::{AppState, CallControl};
use crate::call::monitor::{MonitorRefusal, MonitorRequest, Supervisor};
use crate::config::BlockingSettings;
use crate::ids::CallId;
use crate::phone::Pii;
use crate::store::blocking::{BlockedNumber, NewBlock};
use crate::store::{Role, Store};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_calls))
        .routes(routes!(block))
        .routes(routes!(monitor_start, monitor_mode, monitor_stop))
        .routes(routes!(monitors))
}

#[derive(Serialize, utoipa::ToSchema)]
struct MyCalls {
    calls: Vec<MyCall>,
}

/// A call the operator answered today.
#[derive(Serialize, utoipa::ToSchema)]
struct MyCall {
    id: Uuid,
    /// E.164, else as the call had it.
    caller: String,
    queue: String,
    /// The queue's title, as people read it.
    queue_title: String,
    answered_at: DateTime<Utc>,
    waited_ms: Option<u64>,
    ended_at: Option<DateTime<Utc>>,
}

/// The calls the signed-in operator answered today (the city's day),
/// newest first. Operator users.
#[utoipa::path(get, path = "/api/my/calls", tag = "calls",
    responses((status = 200, body = MyCalls)))]
async fn my_calls(
    State(store): State<Store>,
    State(service): State<crate::queue::service::QueueService>,
    State(rules): State<std::sync::Arc<crate::appeal::lifecycle::Lifecycle>>,
    auth: Auth,
) -> Result<Json<MyCalls>, ApiError> {
    auth.require(&[Role::Operator])?;
    let Some(operator) = auth.user().operator_id else {
        return Ok(Json(MyCalls { calls: Vec::new() }));
    };
    let taken = store
        .calls_taken_by(
            operator,
            super::city_day_start(rules.calendar().time_zone()),
        )
        .await?;
    let calls = taken
        .into_iter()
        .map(|t| MyCall {
            id: t.call.id,
            caller: t.call.caller_e164.unwrap_or(t.call.caller_raw),
            queue_title: service.queues().title_of(&t.queue),
            queue: t.queue,
            answered_at: t.answered_at,
            waited_ms: t.waited_ms,
            ended_at: t.call.ended_at,
        })
        .collect();
    Ok(Json(MyCalls { calls }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CallerBlock)]
struct BlockBody {
    reason: String,
}

/// The caller blocked: the block, and whether the call was still up.
#[derive(Serialize, utoipa::ToSchema)]
struct CallerBlocked {
    #[serde(flatten)]
    block: BlockedNumber,
    call_ended: bool,
}

/// A call with no number to block, ended all the same.
#[derive(Serialize, utoipa::ToSchema)]
struct NothingToBlock {
    error: &'static str,
    call_ended: bool,
}

/// "End call and block caller": a call still in progress is ended and
/// the caller's number goes on the block list. The operator who took the
/// call; supervisors and admins for any call.
#[utoipa::path(post, path = "/api/calls/{id}/block", tag = "calls",
    params(("id" = Uuid, Path, description = "The call")),
    request_body = BlockBody,
    responses(
        (status = 201, body = CallerBlocked, description = "Blocked"),
        (status = 404, body = ErrorBody, description = "No such call"),
        (status = 422, body = NothingToBlock,
            description = "The number is withheld (the call is ended all the same), or the reason is not 1 to 500 characters"),
    ))]
async fn block(
    State(store): State<Store>,
    State(calls): State<Arc<dyn CallControl>>,
    State(blocking): State<BlockingSettings>,
    auth: Auth,
    Path(id): Path<CallId>,
    body: Result<Json<BlockBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    match auth.role() {
        Role::Operator => {
            // Their own calls only (any day: the button is on the card).
            let took = match auth.user().operator_id {
                Some(op) => store.operator_took_call(op, id.as_uuid()).await?,
                None => false,
            };
            if !took {
                return Err(ApiError::forbidden("not a call you took"));
            }
        }
        _ => auth.require(&[Role::Supervisor, Role::Admin])?,
    }
    let Json(body) = body.map_err(|_| ApiError::unprocessable("send {\"reason\": …}"))?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::unprocessable(
            "the reason must be 1 to 500 characters",
        ));
    }
    let call = store
        .get_call(id.as_uuid())
        .await?
        .ok_or_else(|| ApiError::not_found("no such call"))?;
    // "End call and block": the number is blocked first (so a redial at
    // once is refused), and the call ended whatever becomes of the block.
    let Some(number) = call.caller_e164.clone() else {
        let ended = calls.end_call(id);
        info!(call = %id, by = %auth.user().login, ended, "block asked for a call without a number");
        let reply = NothingToBlock {
            error: "the caller's number is withheld: there is nothing to block",
            call_ended: ended,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(reply)).into_response());
    };
    let now = Utc::now();
    let days = blocking.operator_block_days;
    let until = (auth.role() == Role::Operator && days > 0)
        .then(|| now + chrono::TimeDelta::days(i64::from(days)));
    let block = NewBlock {
        number: &number,
        reason,
        by: Some(auth.user().id),
        until,
        call_id: Some(id.as_uuid()),
    };
    let blocked = store.block_number(&block, now).await;
    let ended = calls.end_call(id);
    let (block, _) = blocked?;
    info!(call = %id, number = %Pii(number.clone()), by = %auth.user().login, ended, until = ?block.until, "caller blocked from the console");
    let reply = CallerBlocked {
        block,
        call_ended: ended,
    };
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = MonitorRequestBody)]
struct MonitorBody {
    #[schema(value_type = crate::rtp::engine::MonitorMode)]
    mode: crate::rtp::engine::MonitorMode,
}

/// A monitoring as asked: the call, the supervisor's extension rung, the
/// mode.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Monitoring)]
struct MonitorView {
    call: Uuid,
    extension: Option<String>,
    #[schema(value_type = crate::rtp::engine::MonitorMode)]
    mode: Option<crate::rtp::engine::MonitorMode>,
}

impl From<MonitorRefusal> for ApiError {
    fn from(refusal: MonitorRefusal) -> Self {
        let text = match &refusal {
            MonitorRefusal::NotTalking => "Розмова ще не почалась або вже скінчилась.".to_string(),
            MonitorRefusal::Taken { by } => format!("Цю розмову вже слухає {by}."),
            MonitorRefusal::NotMonitored => "Цю розмову ніхто не слухає.".to_string(),
            MonitorRefusal::NotYours { by } => format!("Цю розмову слухає {by}, не ви."),
            MonitorRefusal::NoPort => "Немає вільного RTP-порту; спробуйте за хвилину.".to_string(),
            MonitorRefusal::NoPhone(ext) => {
                format!("Ваш софтфон (внутрішній {ext}) не зареєстрований.")
            }
        };
        match refusal {
            MonitorRefusal::NoPort => ApiError::unavailable(text),
            _ => ApiError::conflict(text),
        }
    }
}

/// The mode asked for, or what to send.
fn mode_of(
    body: Result<Json<MonitorBody>, JsonRejection>,
) -> Result<crate::rtp::engine::MonitorMode, ApiError> {
    body.map(|Json(b)| b.mode)
        .map_err(|_| ApiError::unprocessable("send {\"mode\": \"listen\"|\"whisper\"|\"barge\"}"))
}

/// Sends a monitoring request to the call in progress and waits for its
/// answer.
async fn ask_call(
    calls: &dyn CallControl,
    id: CallId,
    request: MonitorRequest,
) -> Result<(), ApiError> {
    let answer = calls
        .monitor(id, request)
        .ok_or_else(|| ApiError::not_found("the call is not in progress"))?;
    answer
        .await
        .map_err(|_| ApiError::not_found("the call is not in progress"))??;
    Ok(())
}

/// The signed-in supervisor's softphone: the extension of the operator
/// record linked to them (an admin links it on the users page).
async fn own_extension(store: &Store, auth: &Auth) -> Result<String, ApiError> {
    let login = match auth.user().phone_id {
        Some(id) => store.operator_login(id).await?,
        None => None,
    };
    let operator = match login {
        Some(login) => store.operator_by_login(&login).await?,
        None => None,
    };
    operator
        .filter(|o| o.disabled_at.is_none())
        .map(|o| o.extension)
        .ok_or_else(|| {
            ApiError::conflict(
                "До вашого користувача не прив’язано софтфон: адміністратор указує внутрішній номер на сторінці «Користувачі».",
            )
        })
}

async fn audit_monitor(
    store: &Store,
    auth: &Auth,
    peer: SocketAddr,
    action: &str,
    id: CallId,
    mode: Option<crate::rtp::engine::MonitorMode>,
) -> Result<(), ApiError> {
    let target = id.to_string();
    super::admin::audit(
        store,
        auth,
        peer,
        super::admin::Audited {
            action,
            target: &target,
            before: None,
            after: mode.map(|m| serde_json::json!({ "mode": m.as_str() }).to_string()),
            reason: None,
        },
    )
    .await
}

/// Listen in on a conversation: the signed-in supervisor's softphone rings
/// and, answered, hears both sides; in `whisper` the operator hears them,
/// in `barge` the caller too. One supervisor per call. Supervisors.
#[utoipa::path(post, path = "/api/calls/{id}/monitor", tag = "calls",
    params(("id" = Uuid, Path, description = "The call")),
    request_body = MonitorBody,
    responses(
        (status = 202, body = MonitorView, description = "The supervisor's phone rings"),
        (status = 404, body = ErrorBody, description = "The call is not in progress"),
        (status = 409, body = ErrorBody,
            description = "Not in a conversation, already monitored, or the supervisor has no registered softphone"),
        (status = 503, body = ErrorBody, description = "No RTP port free"),
    ))]
async fn monitor_start(
    State(store): State<Store>,
    State(calls): State<Arc<dyn CallControl>>,
    auth: Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<CallId>,
    body: Result<Json<MonitorBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    // Supervisors: only they have a softphone to listen in with.
    auth.require(&[Role::Supervisor])?;
    let mode = mode_of(body)?;
    let extension = own_extension(&store, &auth).await?;
    let supervisor = Supervisor {
        login: auth.user().login.clone(),
        extension: extension.clone(),
    };
    let request = MonitorRequest::Start { supervisor, mode };
    ask_call(calls.as_ref(), id, request).await?;
    audit_monitor(&store, &auth, peer, "call.monitor", id, Some(mode)).await?;
    info!(call = %id, by = %auth.user().login, %extension, mode = mode.as_str(), "supervisor listens in");
    let view = MonitorView {
        call: id.as_uuid(),
        extension: Some(extension),
        mode: Some(mode),
    };
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

/// Switch the mode of one's own monitoring of a call. Supervisors.
#[utoipa::path(put, path = "/api/calls/{id}/monitor", tag = "calls",
    params(("id" = Uuid, Path, description = "The call")),
    request_body = MonitorBody,
    responses(
        (status = 200, body = MonitorView, description = "Switched"),
        (status = 404, body = ErrorBody, description = "The call is not in progress"),
        (status = 409, body = ErrorBody, description = "Not monitored, or by someone else"),
    ))]
async fn monitor_mode(
    State(store): State<Store>,
    State(calls): State<Arc<dyn CallControl>>,
    auth: Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<CallId>,
    body: Result<Json<MonitorBody>, JsonRejection>,
) -> Result<Json<MonitorView>, ApiError> {
    // Supervisors: only they have a softphone to listen in with.
    auth.require(&[Role::Supervisor])?;
    let mode = mode_of(body)?;
    let request = MonitorRequest::Mode {
        by: auth.user().login.clone(),
        mode,
    };
    ask_call(calls.as_ref(), id, request).await?;
    audit_monitor(&store, &auth, peer, "call.monitor.mode", id, Some(mode)).await?;
    Ok(Json(MonitorView {
        call: id.as_uuid(),
        extension: None,
        mode: Some(mode),
    }))
}

/// End one's own monitoring of a call (the supervisor's phone is hung up).
/// Supervisors.
#[utoipa::path(delete, path = "/api/calls/{id}/monitor", tag = "calls",
    params(("id" = Uuid, Path, description = "The call")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, body = ErrorBody, description = "The call is not in progress"),
        (status = 409, body = ErrorBody, description = "Not monitored, or by someone else"),
    ))]
async fn monitor_stop(
    State(store): State<Store>,
    State(calls): State<Arc<dyn CallControl>>,
    auth: Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<CallId>,
) -> Result<StatusCode, ApiError> {
    auth.require(&[Role::Supervisor])?;
    let request = MonitorRequest::Stop {
        by: auth.user().login.clone(),
    };
    ask_call(calls.as_ref(), id, request).await?;
    audit_monitor(&store, &auth, peer, "call.monitor.end", id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MonitorList)]
struct Monitors {
    monitors: Vec<MonitorNow>,
}

/// A call a supervisor listens in on now.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MonitorNow)]
struct MonitorNow {
    call: Uuid,
    supervisor: String,
    /// `ringing` (their softphone), `listen`, `whisper` or `barge`.
    state: &'static str,
}

/// The calls supervisors listen in on now. Supervisors and admins.
#[utoipa::path(get, path = "/api/calls/monitors", tag = "calls",
    responses((status = 200, body = Monitors)))]
async fn monitors(
    State(calls): State<Arc<dyn CallControl>>,
    auth: Auth,
) -> Result<Json<Monitors>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Admin])?;
    let mut monitors: Vec<MonitorNow> = calls
        .monitors()
        .into_iter()
        .map(|(call, supervisor, state)| MonitorNow {
            call: call.as_uuid(),
            supervisor,
            state,
        })
        .collect();
    monitors.sort_by(|a, b| a.supervisor.cmp(&b.supervisor));
    Ok(Json(Monitors { monitors }))
}
