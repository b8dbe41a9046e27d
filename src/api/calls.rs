//! The operator's own controls over calls:
//!
//! - `GET /api/my/calls` (operator users): the calls they answered today
//!   (server local day), newest first.
//! - `POST /api/calls/{id}/block` with `{"reason": "…"}`: "end call and
//!   block caller". An operator for a call they took; supervisors and
//!   admins for any call. A call still in progress is ended (BYE to both
//!   sides) and the caller's number goes on the block list (201 with the
//!   block; `call_ended` says whether the call was still up). An
//!   operator's block lasts `[blocking] operator_block_days` (0: until a
//!   supervisor lifts it). A call with no usable number (withheld) is
//!   ended all the same and answered 422: there is nothing to block.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use tracing::info;
use uuid::Uuid;

use super::auth::{Auth, error};
use crate::phone::Pii;
use crate::server::HttpState;
use crate::store::blocking::NewBlock;
use crate::store::{Role, StoreError};

pub fn routes() -> axum::Router<HttpState> {
    axum::Router::new()
        .route("/api/my/calls", get(my_calls))
        .route("/api/calls/{id}/block", post(block))
}

async fn my_calls(State(state): State<HttpState>, auth: Auth) -> Response {
    if let Err(refused) = auth.require(&[Role::Operator]) {
        return refused.into_response();
    }
    let Some(operator) = auth.0.user.operator_id else {
        return Json(json!({ "calls": [] })).into_response();
    };
    match state
        .ctx
        .store
        .calls_taken_by(operator, super::local_day_start())
        .await
    {
        Ok(calls) => Json(json!({
            "calls": calls.iter().map(|t| json!({
                "id": t.call.id,
                "caller": t.call.caller_e164.clone().unwrap_or_else(|| t.call.caller_raw.clone()),
                "queue": t.queue,
                "answered_at": t.answered_at,
                "waited_ms": t.waited_ms,
                "ended_at": t.call.ended_at,
            })).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockBody {
    reason: String,
}

async fn block(
    State(state): State<HttpState>,
    auth: Auth,
    Path(id): Path<Uuid>,
    body: Result<Json<BlockBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let store = &state.ctx.store;
    match auth.role() {
        Role::Operator => {
            // Their own calls only (any day: the button is on the card).
            let took = match auth.0.user.operator_id {
                Some(op) => match store.operator_took_call(op, id).await {
                    Ok(took) => took,
                    Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
                },
                None => false,
            };
            if !took {
                return error(StatusCode::FORBIDDEN, "not a call you took");
            }
        }
        _ => {
            if let Err(refused) = auth.require(&[Role::Supervisor, Role::Admin]) {
                return refused.into_response();
            }
        }
    }
    let Ok(Json(body)) = body else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "send {\"reason\": …}");
    };
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the reason must be 1 to 500 characters",
        );
    }
    let call = match store.get_call(id).await {
        Ok(Some(c)) => c,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such call"),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    // "End call and block": the number is blocked first (so a redial at
    // once is refused), and the call ended whatever becomes of the block.
    let Some(number) = call.caller_e164.clone() else {
        let ended = state.ctx.end_call(id);
        info!(call = %id, by = %auth.0.user.login, ended, "block asked for a call without a number");
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "error": "the caller's number is withheld: there is nothing to block",
                "call_ended": ended,
            })),
        )
            .into_response();
    };
    let now = Utc::now();
    let days = state.ctx.blocking.operator_block_days;
    let until = (auth.role() == Role::Operator && days > 0)
        .then(|| now + chrono::TimeDelta::days(i64::from(days)));
    let block = NewBlock {
        number: &number,
        reason,
        by: Some(auth.0.user.id),
        until,
        call_id: Some(id),
    };
    let blocked = store.block_number(&block, now).await;
    let ended = state.ctx.end_call(id);
    match blocked {
        Ok((b, _)) => {
            info!(call = %id, number = %Pii(number.clone()), by = %auth.0.user.login, ended, until = ?b.until, "caller blocked from the console");
            let mut body = super::blocking::block_json(&b);
            body["call_ended"] = json!(ended);
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(StoreError::Invalid { reason, .. }) => error(StatusCode::UNPROCESSABLE_ENTITY, reason),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}
