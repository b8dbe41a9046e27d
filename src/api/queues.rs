//! Queues and operators' states:
//!
//! - `GET /api/queues` (operators, supervisors, admins): every queue's
//!   statistics for today, computed from the stored queue events (waiting
//!   now, longest wait, answered, abandoned, transferred, service level,
//!   average wait).
//! - `GET /api/operators` (supervisors, admins): every operator with their
//!   current state.
//! - `GET /api/live` (supervisors, admins): the queues as they are this
//!   moment (the callers waiting in each, and for how long) and every
//!   logged-in operator's state, from the queue service itself; the live
//!   view starts from it and follows the websocket's events.
//! - `PUT /api/operators/{login}/state` with `{"state": "available"}`,
//!   `{"state": "paused", "reason": "…"}`, `{"state": "logged_in"}` or
//!   `{"state": "logged_out"}`: the operator's own controls (an operator
//!   user for their own operator; supervisors and admins for anyone).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use axum::response::{IntoResponse, Response};

use super::auth::Auth;
use crate::queue::RouterError;
use crate::queue::service::{ServiceError, StateRequest};
use crate::server::HttpState;
use crate::store::Role;

pub fn routes() -> axum::Router<HttpState> {
    axum::Router::new()
        .route("/api/queues", get(queues))
        .route("/api/operators", get(operators))
        .route("/api/live", get(live))
        .route("/api/operators/{login}/state", put(set_state))
}

type Reply = Response;

fn error(status: StatusCode, message: impl std::fmt::Display) -> Reply {
    super::auth::error(status, message)
}

fn ok(value: Value) -> Reply {
    (StatusCode::OK, Json(value)).into_response()
}

async fn queues(State(state): State<HttpState>, auth: Auth) -> Reply {
    if let Err(refused) = auth.require(&[Role::Operator, Role::Supervisor, Role::Admin]) {
        return refused.into_response();
    }
    let now = Utc::now();
    // "Today" is the server's local day.
    let day_start = super::local_day_start();
    let mut out = Vec::new();
    for queue in state.ctx.queues.queues().queues() {
        match state
            .ctx
            .store
            .queue_stats(&queue.name, day_start, now, queue.service_level)
            .await
        {
            Ok(stats) => out.push(json!({
                "name": queue.name,
                "waiting": stats.waiting_now,
                "longest_wait_ms": stats.longest_wait.map(|d| d.as_millis() as u64),
                "answered": stats.answered,
                "abandoned": stats.abandoned,
                "transferred": stats.transferred,
                "answered_within_service_level": stats.answered_within_service_level,
                "service_level_secs": queue.service_level.as_secs(),
                "service_level_pct": stats.service_level_pct,
                "average_wait_ms": stats.average_wait.map(|d| d.as_millis() as u64),
            })),
            Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
        }
    }
    ok(json!({ "queues": out }))
}

async fn operators(State(state): State<HttpState>, auth: Auth) -> Reply {
    if let Err(refused) = auth.require(&[Role::Supervisor, Role::Admin]) {
        return refused.into_response();
    }
    let snapshot = match state.ctx.queues.snapshot().await {
        Ok(s) => s,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let stored = match state.ctx.store.list_operators().await {
        Ok(ops) => ops,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let list: Vec<Value> = stored
        .into_iter()
        .map(|op| {
            let live = snapshot.operators.iter().find(|v| v.login == op.login);
            json!({
                "login": op.login,
                "name": op.display_name,
                "extension": op.extension,
                "queues": op.queues.iter().map(|m| json!({"queue": m.queue, "penalty": m.penalty})).collect::<Vec<_>>(),
                "disabled": op.disabled_at.is_some(),
                "state": live.map(|v| v.state).unwrap_or("logged_out"),
                "reason": live.and_then(|v| v.reason.clone()),
            })
        })
        .collect();
    ok(json!({ "operators": list }))
}

async fn live(State(state): State<HttpState>, auth: Auth) -> Reply {
    if let Err(refused) = auth.require(&[Role::Supervisor, Role::Admin]) {
        return refused.into_response();
    }
    // Read before the snapshot: events from this number on may not be in
    // it, and the live view applies them after.
    let seq = state.ctx.events.next_seq();
    match state.ctx.queues.snapshot().await {
        Ok(snapshot) => ok(json!({
            "at": Utc::now(),
            "seq": seq,
            "storage": state.disk.status(),
            "queues": snapshot.queues,
            "operators": snapshot.operators,
        })),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateBody {
    state: String,
    reason: Option<String>,
}

async fn set_state(
    State(state): State<HttpState>,
    auth: Auth,
    Path(login): Path<String>,
    body: Result<Json<StateBody>, axum::extract::rejection::JsonRejection>,
) -> Reply {
    if auth.role() == Role::Operator {
        // Their own operator only.
        let own = match state.ctx.store.operator_by_login(&login).await {
            Ok(op) => op.is_some_and(|op| Some(op.id) == auth.0.user.operator_id),
            Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
        };
        if !own {
            return error(
                StatusCode::FORBIDDEN,
                "an operator sets their own state only",
            );
        }
    } else if let Err(refused) = auth.require(&[Role::Supervisor, Role::Admin]) {
        return refused.into_response();
    }
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, e.body_text()),
    };
    let request = match (body.state.as_str(), body.reason) {
        ("available", _) => StateRequest::Available,
        ("logged_in", _) => StateRequest::LogIn,
        ("logged_out", _) => StateRequest::LogOut,
        ("paused", Some(reason)) if !reason.trim().is_empty() && reason.chars().count() <= 200 => {
            StateRequest::Pause {
                reason: reason.trim().to_owned(),
            }
        }
        ("paused", _) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "a pause needs a reason (1 to 200 characters)",
            );
        }
        (other, _) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("unknown state {other:?}: use available, paused, logged_in or logged_out"),
            );
        }
    };
    match state.ctx.queues.set_state(&login, request).await {
        Ok(view) => ok(json!(view)),
        Err(ServiceError::UnknownOperator(_)) => error(StatusCode::NOT_FOUND, "no such operator"),
        Err(ServiceError::Router(
            e @ (RouterError::OnCall(_) | RouterError::Ringing(_) | RouterError::NotLoggedIn(_)),
        )) => error(StatusCode::CONFLICT, e),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}
