//! The block list over the API (000 §2.5.2):
//!
//! - `GET /api/blocked` (supervisors, admins): the blocks in force, each
//!   with its reason, who set it, until when and the calls it turned away;
//!   `?history=1` every block ever set, lifted and expired ones too.
//! - `POST /api/blocked` with `{"number", "reason", "until"?}`
//!   (supervisors, admins): blocks a number written in any form (it is
//!   normalised first, so every form is one block). `until` (RFC 3339, or
//!   a date `YYYY-MM-DD`, meaning the end of that day) makes it temporary.
//!   201 with the new block; 200 with `already_blocked` if a block in force
//!   lasts at least as long (a new block never shortens one).
//! - `DELETE /api/blocked/{number}` (supervisors, admins): lifts it.
//! - `POST /api/calls/{id}/block` (the operator who took the call,
//!   supervisors, admins) is the card's "end call and block caller", in
//!   [`super::calls`].
//!
//! Every change is logged with who made it.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::info;

use super::auth::{Auth, error};
use crate::phone::Pii;
use crate::server::HttpState;
use crate::store::blocking::{BlockedNumber, NewBlock};
use crate::store::{FieldError, Role, StoreError};

const LIST_ROLES: &[Role] = &[Role::Supervisor, Role::Admin];

pub fn routes() -> axum::Router<HttpState> {
    axum::Router::new()
        .route("/api/blocked", get(list).post(add))
        .route("/api/blocked/{number}", delete(lift))
}

pub fn block_json(b: &BlockedNumber) -> Value {
    json!({
        "id": b.id,
        "number": b.number,
        "reason": b.reason,
        "blocked_by": b.blocked_by,
        "blocked_at": b.blocked_at,
        "until": b.until,
        "call_id": b.call_id,
        "ended_at": b.ended_at,
        "ended_by": b.ended_by,
        "end_reason": b.end_reason,
        "attempts": b.attempts,
        "last_attempt": b.last_attempt,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    history: Option<String>,
}

async fn list(
    State(state): State<HttpState>,
    auth: Auth,
    Query(query): Query<ListQuery>,
) -> Response {
    if let Err(refused) = auth.require(LIST_ROLES) {
        return refused.into_response();
    }
    let history = matches!(query.history.as_deref(), Some("1" | "true" | "yes"));
    match state.ctx.store.blocked_numbers(Utc::now(), history).await {
        Ok(list) => Json(json!({
            "blocked": list.iter().map(block_json).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

/// An `until` as people give it: a moment (RFC 3339), or a date meaning
/// the end of that day on the server's clock.
pub fn parse_until(text: &str) -> Option<DateTime<Utc>> {
    super::moment(text, super::DayEdge::LastSecond)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    number: String,
    reason: String,
    #[serde(default)]
    until: Option<String>,
}

async fn add(
    State(state): State<HttpState>,
    auth: Auth,
    body: Result<Json<AddBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(refused) = auth.require(LIST_ROLES) {
        return refused.into_response();
    }
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, e.body_text()),
    };
    let now = Utc::now();
    let mut errors = Vec::new();
    let number = state.ctx.numbering.normalise(&body.number);
    if number.is_none() {
        errors.push(FieldError {
            field: "number",
            message: "Номер не розпізнано: наприклад, 067 123 45 67 або +380 61 123 45 67.".into(),
        });
    }
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        errors.push(FieldError {
            field: "reason",
            message: "Вкажіть причину (до 500 символів).".into(),
        });
    }
    let until = match body
        .until
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        None => None,
        Some(text) => match parse_until(text) {
            Some(t) if t > now => Some(t),
            Some(_) => {
                errors.push(FieldError {
                    field: "until",
                    message: "Дата завершення має бути в майбутньому.".into(),
                });
                None
            }
            None => {
                errors.push(FieldError {
                    field: "until",
                    message: "Дата: РРРР-ММ-ДД.".into(),
                });
                None
            }
        },
    };
    let Some(number) = number.filter(|_| errors.is_empty()) else {
        return super::field_errors(errors);
    };
    let block = NewBlock {
        number: number.as_str(),
        reason,
        by: Some(auth.0.user.id),
        until,
        call_id: None,
    };
    match state.ctx.store.block_number(&block, now).await {
        Ok((b, true)) => {
            info!(number = %Pii(b.number.clone()), by = %auth.0.user.login, until = ?b.until, "number blocked");
            (StatusCode::CREATED, Json(block_json(&b))).into_response()
        }
        // Blocked already, for at least as long: the block in force stays.
        Ok((b, false)) => {
            let mut body = block_json(&b);
            body["already_blocked"] = json!(true);
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(StoreError::Invalid { reason, .. }) => error(StatusCode::UNPROCESSABLE_ENTITY, reason),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

async fn lift(State(state): State<HttpState>, auth: Auth, Path(number): Path<String>) -> Response {
    if let Err(refused) = auth.require(LIST_ROLES) {
        return refused.into_response();
    }
    let Some(e164) = state.ctx.numbering.normalise(&number) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the number is not recognised",
        );
    };
    match state
        .ctx
        .store
        .lift_block(e164.as_str(), Some(auth.0.user.id), Utc::now())
        .await
    {
        Ok(Some(b)) => {
            info!(number = %Pii(b.number.clone()), by = %auth.0.user.login, "block lifted");
            Json(block_json(&b)).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "the number is not blocked"),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_is_a_moment_or_the_end_of_a_day() {
        assert_eq!(
            parse_until("2026-12-01T10:00:00+02:00"),
            Some("2026-12-01T08:00:00Z".parse().unwrap())
        );
        let end_of_day = parse_until("2026-12-01").unwrap();
        assert!(
            end_of_day
                .with_timezone(&chrono::Local)
                .format("%H:%M:%S")
                .to_string()
                == "23:59:59"
        );
        assert_eq!(parse_until("tomorrow"), None);
        assert_eq!(parse_until("2026-13-01"), None);
    }
}
