//! The block list over the API (000 §2.5.2):
//!
//! - `GET /api/blocked` (supervisors, admins): the blocks in force, each
//!   with its reason, who set it, until when and the calls it turned away;
//!   `?history=1` every block ever set, lifted and expired ones too.
//! - `POST /api/blocked` with `{"number", "reason", "until"?}`
//!   (supervisors, admins): blocks a contact written in any form: a phone
//!   number, an e-mail address, `telegram:<id>` or `viber:<id>`
//!   ([`ContactKey`]; normalised first, so every form is one block). `until` (RFC 3339, or
//!   a date `YYYY-MM-DD`, meaning the end of that day) makes it temporary.
//!   201 with the new block; 200 with `already_blocked` if a block in force
//!   lasts at least as long (a new block never shortens one).
//! - `DELETE /api/blocked/{contact}` (supervisors, admins): lifts it.
//! - `POST /api/calls/{id}/block` (the operator who took the call,
//!   supervisors, admins) is the card's "end call and block caller", in
//!   [`super::calls`].
//!
//! Every change is logged with who made it.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::info;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Auth;
use super::error::{ApiError, ErrorBody, FieldsBody};
use super::state::AppState;
use crate::appeal::FieldError;
use crate::contact::{ContactKey, EXAMPLES};
use crate::phone::NumberingPlan;
use crate::store::blocking::{BlockedNumber, NewBlock};
use crate::store::{Role, Store};

const LIST_ROLES: &[Role] = &[Role::Supervisor, Role::Admin];

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(lift))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Any value: every block ever set, lifted and expired ones too.
    history: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct BlockList {
    blocked: Vec<BlockedNumber>,
}

/// The blocks in force (or, with `history`, every block ever set), each
/// with its reason, who set it, until when and the attempts it turned
/// away. Supervisors, admins.
#[utoipa::path(get, path = "/api/blocked", operation_id = "list_blocks", tag = "blocking",
    params(ListQuery),
    responses((status = 200, body = BlockList)))]
async fn list(
    State(store): State<Store>,
    auth: Auth,
    Query(query): Query<ListQuery>,
) -> Result<Json<BlockList>, ApiError> {
    auth.require(LIST_ROLES)?;
    let history = matches!(query.history.as_deref(), Some("1" | "true" | "yes"));
    let blocked = store.blocked_numbers(Utc::now(), history).await?;
    Ok(Json(BlockList { blocked }))
}

/// An optional `until` field: empty is none; else [`parse_until`], in the
/// future, or a message under the field in `errors`.
pub fn until_field(
    text: Option<&str>,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
    errors: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    let text = text.map(str::trim).filter(|t| !t.is_empty())?;
    let message = match parse_until(text, tz) {
        Some(t) if t > now => return Some(t),
        Some(_) => "Дата завершення має бути в майбутньому.",
        None => "Дата: РРРР-ММ-ДД.",
    };
    errors.push(FieldError {
        field: "until",
        message: message.into(),
    });
    None
}

/// An `until` as people give it: a moment (RFC 3339), or a date meaning
/// the end of that day on the city's clock `tz`.
pub fn parse_until(text: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    super::moment(text, super::DayEdge::LastSecond, tz)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewBlock)]
struct AddBody {
    /// A phone number in any usual form, an e-mail address,
    /// `telegram:<id>` or `viber:<id>`.
    #[schema(example = "+380671234567")]
    number: String,
    reason: String,
    /// RFC 3339, or a date `YYYY-MM-DD` (through the end of that day, on
    /// the city's clock); none: until lifted.
    #[serde(default)]
    until: Option<String>,
}

/// A block as set: new, or the one in force that already lasts as long.
#[derive(Serialize, utoipa::ToSchema)]
struct BlockSet {
    #[serde(flatten)]
    block: BlockedNumber,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    already_blocked: bool,
}

/// Blocks a contact: a phone number, an e-mail address or a messenger
/// account. Supervisors, admins.
///
/// A new block never shortens one in force: if one lasts at least as long,
/// the answer is 200 with it and `already_blocked`.
#[utoipa::path(post, path = "/api/blocked", operation_id = "block_contact", tag = "blocking",
    request_body = AddBody,
    responses(
        (status = 201, body = BlockSet, description = "Blocked"),
        (status = 200, body = BlockSet, description = "A block in force already lasts as long"),
        (status = 422, body = FieldsBody, description = "A message per wrong field"),
    ))]
async fn add(
    State(store): State<Store>,
    State(numbering): State<NumberingPlan>,
    State(rules): State<std::sync::Arc<crate::appeal::lifecycle::Lifecycle>>,
    auth: Auth,
    body: Result<Json<AddBody>, JsonRejection>,
) -> Result<(StatusCode, Json<BlockSet>), ApiError> {
    auth.require(LIST_ROLES)?;
    let Json(body) = body?;
    let now = Utc::now();
    let mut errors = Vec::new();
    let key = ContactKey::parse(&body.number, &numbering);
    if key.is_none() {
        errors.push(FieldError {
            field: "number",
            message: format!("Контакт не розпізнано: наприклад, {EXAMPLES}."),
        });
    }
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        errors.push(FieldError {
            field: "reason",
            message: "Вкажіть причину (до 500 символів).".into(),
        });
    }
    let until = until_field(
        body.until.as_deref(),
        rules.calendar().time_zone(),
        now,
        &mut errors,
    );
    let Some(key) = key.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Fields(errors));
    };
    let stored = key.stored();
    let block = NewBlock {
        number: &stored,
        reason,
        by: Some(auth.user().id),
        until,
        call_id: None,
    };
    let (block, new) = store.block_number(&block, now).await?;
    if new {
        info!(contact = %key, by = %auth.user().login, until = ?block.until, "contact blocked");
        Ok((
            StatusCode::CREATED,
            Json(BlockSet {
                block,
                already_blocked: false,
            }),
        ))
    } else {
        // Blocked already, for at least as long: the block in force stays.
        Ok((
            StatusCode::OK,
            Json(BlockSet {
                block,
                already_blocked: true,
            }),
        ))
    }
}

/// Lifts the block in force on a contact. Supervisors, admins.
#[utoipa::path(delete, path = "/api/blocked/{number}", operation_id = "lift_block", tag = "blocking",
    params(("number" = String, Path, description = "The contact, in any form `POST` takes")),
    responses(
        (status = 200, body = BlockedNumber, description = "The block, ended"),
        (status = 404, body = ErrorBody, description = "The contact is not blocked"),
        (status = 422, body = ErrorBody, description = "The contact is not recognised"),
    ))]
async fn lift(
    State(store): State<Store>,
    State(numbering): State<NumberingPlan>,
    auth: Auth,
    Path(contact): Path<String>,
) -> Result<Json<BlockedNumber>, ApiError> {
    auth.require(LIST_ROLES)?;
    let key = ContactKey::parse(&contact, &numbering)
        .ok_or_else(|| ApiError::unprocessable("the contact is not recognised"))?;
    let block = store
        .lift_block(&key.stored(), Some(auth.user().id), Utc::now())
        .await?
        .ok_or_else(|| ApiError::not_found("the contact is not blocked"))?;
    info!(contact = %key, by = %auth.user().login, "block lifted");
    Ok(Json(block))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_is_a_moment_or_the_end_of_a_day_on_the_city_s_clock() {
        let kyiv = chrono_tz::Europe::Kyiv;
        assert_eq!(
            parse_until("2026-12-01T10:00:00+02:00", kyiv),
            Some("2026-12-01T08:00:00Z".parse().unwrap())
        );
        // Winter (+02:00) and summer (+03:00).
        assert_eq!(
            parse_until("2026-12-01", kyiv),
            Some("2026-12-01T21:59:59Z".parse().unwrap())
        );
        assert_eq!(
            parse_until("2026-07-01", kyiv),
            Some("2026-07-01T20:59:59Z".parse().unwrap())
        );
        assert_eq!(parse_until("tomorrow", kyiv), None);
        assert_eq!(parse_until("2026-13-01", kyiv), None);
    }
}
