//! The messengers' webhooks: `POST /chatbot/telegram` takes Telegram's
//! updates, each carrying the webhook's secret in
//! `X-Telegram-Bot-Api-Secret-Token`; `POST /chatbot/viber` takes Viber's
//! callbacks, each signed in `X-Viber-Content-Signature` (anything else is
//! refused, and logged). An update handled answers 200; one the store
//! could not take answers 503, so the messenger sends it again (it is
//! handled once).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tracing::warn;

use super::service::Chatbot;
use crate::api::AppState;

/// An update is small: text, a contact, a photo's reference.
const MAX_BODY: usize = 256 * 1024;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/chatbot/telegram",
            post(telegram).layer(DefaultBodyLimit::max(MAX_BODY)),
        )
        .route(
            "/chatbot/viber",
            post(viber).layer(DefaultBodyLimit::max(MAX_BODY)),
        )
}

/// A Viber callback: signed with the token, or refused.
async fn viber(State(bot): State<Option<Chatbot>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(bot) = bot else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(client) = bot.viber() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let signature = headers
        .get("x-viber-content-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !client.signed(&body, signature) {
        warn!("a Viber callback without the right signature was refused");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let event = match super::viber::event(&body) {
        Ok(event) => event,
        Err(e) => {
            warn!(error = %e, "a Viber callback did not read");
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    match bot.viber_event(event).await {
        Ok(Some(answer)) => Json(answer).into_response(),
        Ok(None) => StatusCode::OK.into_response(),
        Err(e) => {
            warn!(error = %e, "a Viber callback could not be handled");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

async fn telegram(
    State(bot): State<Option<Chatbot>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(bot) = bot.filter(|b| b.telegram().is_some()) else {
        return StatusCode::NOT_FOUND;
    };
    let secret = headers
        .get("x-telegram-bot-api-secret-token")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bot.telegram_secret_ok(secret) {
        warn!("a Telegram webhook request without the right secret was refused");
        return StatusCode::UNAUTHORIZED;
    }
    // From the text, as teloxide's client reads its answers.
    let update: teloxide_core::types::Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(e) => {
            warn!(error = %e, "a Telegram update did not read");
            return StatusCode::BAD_REQUEST;
        }
    };
    match bot.telegram_update(&update).await {
        Ok(()) => StatusCode::OK,
        Err(e) => {
            warn!(error = %e, "a Telegram update could not be handled");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}
