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

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
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
use crate::config::BlockingSettings;
use crate::ids::CallId;
use crate::phone::Pii;
use crate::store::blocking::{BlockedNumber, NewBlock};
use crate::store::{Role, Store};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_calls))
        .routes(routes!(block))
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
