//! Appeal cards over the API:
//!
//! - `GET /api/classifier`: the current classifier as a tree (section →
//!   issue types, each with its executor and deadline class), for the
//!   card's category field.
//! - `POST /api/appeals` (operators, supervisors, admins): registers a card.
//!   201 with the registration number, deadline and executor; 422 with
//!   `{"errors": [{"field", "message"}]}`, one per wrong field, messages in
//!   Ukrainian for the operator; nothing is written then.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::auth::{Auth, error};
use crate::server::HttpState;
use crate::store::{AppealCard, Channel, FieldError, RegisterError, Role};

pub fn routes() -> axum::Router<HttpState> {
    axum::Router::new()
        .route("/api/classifier", get(classifier))
        .route("/api/appeals", post(register))
}

async fn classifier(State(state): State<HttpState>, auth: Auth) -> Response {
    if let Err(refused) = auth.require(&[
        Role::Operator,
        Role::Supervisor,
        Role::Executor,
        Role::Admin,
    ]) {
        return refused.into_response();
    }
    let store = &state.ctx.store;
    let version = match store.current_classifier_version().await {
        Ok(Some(v)) => v,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                "no classifier imported yet: run `hotline classifier import`",
            );
        }
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let categories = match store.categories(version.number).await {
        Ok(c) => c,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let mut sections: Vec<serde_json::Value> = Vec::new();
    for c in categories {
        let item = json!({
            "id": c.id,
            "code": c.type_code,
            "name": c.type_name,
            "deadline": c.deadline.as_str(),
            "executor": c.executor.name,
        });
        match sections.last_mut() {
            Some(s) if s["code"] == c.section_code.as_str() => {
                if let Some(types) = s["types"].as_array_mut() {
                    types.push(item);
                }
            }
            _ => sections.push(json!({
                "code": c.section_code,
                "name": c.section_name,
                "types": [item],
            })),
        }
    }
    Json(json!({ "version": version.number, "sections": sections })).into_response()
}

/// The card as the console sends it; every field may be missing (the
/// checks say which are required).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct CardBody {
    surname: String,
    first_name: String,
    patronymic: String,
    address: String,
    contact_phone: String,
    other_contact: String,
    essence: String,
    email: String,
    category_id: Option<Uuid>,
    call_id: Option<Uuid>,
    repeat_of: String,
    channel: Option<String>,
}

fn invalid(errors: Vec<FieldError>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({ "errors": errors })),
    )
        .into_response()
}

async fn register(
    State(state): State<HttpState>,
    auth: Auth,
    body: Result<Json<CardBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(refused) = auth.require(&[Role::Operator, Role::Supervisor, Role::Admin]) {
        return refused.into_response();
    }
    let body = match body {
        Ok(Json(b)) => b,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, e.body_text()),
    };
    let mut errors = Vec::new();
    // The phone as typed ("067 123 45 67", "(061) 234-56-78") is stored in
    // E.164, so a later call from it finds the card.
    let phone = body.contact_phone.trim();
    let contact_phone = if phone.is_empty() {
        String::new()
    } else {
        match state.ctx.numbering.normalise(phone) {
            Some(e164) => e164.to_string(),
            None => {
                errors.push(FieldError {
                    field: "contact_phone",
                    message: "Номер телефону не розпізнано.".into(),
                });
                String::new()
            }
        }
    };
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
    if let Some(call) = body.call_id {
        match state.ctx.store.get_call(call).await {
            Ok(Some(_)) => {}
            Ok(None) => errors.push(FieldError {
                field: "call_id",
                message: "Такого дзвінка немає.".into(),
            }),
            Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
        }
    }
    let card = AppealCard {
        surname: body.surname,
        first_name: body.first_name,
        patronymic: body.patronymic,
        address: body.address,
        // E.164; a phone that did not parse is reported above, and kept
        // as typed so it does not count as missing too.
        contact_phone: if contact_phone.is_empty() {
            phone.to_owned()
        } else {
            contact_phone
        },
        other_contact: body.other_contact,
        essence: body.essence,
        email: body.email,
        category_id: body.category_id,
        call_id: body.call_id,
        repeat_of: body.repeat_of,
        channel,
        registered_by: Some(auth.0.user.id),
    };
    if !errors.is_empty() {
        // Report the card's own problems too, all at once.
        errors.extend(card.check());
        errors.sort_by_key(|e| e.field);
        errors.dedup_by_key(|e| e.field);
        return invalid(errors);
    }
    match state.ctx.store.register_appeal(&card, Utc::now()).await {
        Ok(appeal) => (
            StatusCode::CREATED,
            Json(json!({
                "id": appeal.id,
                "registration_number": appeal.registration_number,
                "category": appeal.category,
                "executor": appeal.executor,
                "deadline": appeal.deadline,
                "status": appeal.status.as_str(),
                "call_id": appeal.call_id,
            })),
        )
            .into_response(),
        Err(RegisterError::Fields(errors)) => invalid(errors),
        Err(RegisterError::Store(e)) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}
