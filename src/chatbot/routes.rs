//! The messengers' webhooks: `POST /chatbot/telegram` takes Telegram's
//! updates, each carrying the webhook's secret in
//! `X-Telegram-Bot-Api-Secret-Token` (anything else is refused, and
//! logged). An update handled answers 200; one the store could not take
//! answers 503, so Telegram sends it again (it is handled once).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tracing::warn;

use super::service::Chatbot;
use crate::api::AppState;

/// An update is small: text, a contact, a photo's reference.
const MAX_BODY: usize = 256 * 1024;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/chatbot/telegram",
        post(telegram).layer(DefaultBodyLimit::max(MAX_BODY)),
    )
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
