//! `POST /api/ivr/reload` (admins): loads the voice menu again; 200 with
//! the node count, or 422 with every problem found (the running version
//! stays). SIGHUP does the same.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Auth;
use super::error::ApiError;
use super::state::AppState;
use crate::ivr::assets::IvrReloader;
use crate::store::Role;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(reload))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Reloaded {
    reloaded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    nodes: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
}

/// Loads the voice menu again (as SIGHUP does). Admins.
#[utoipa::path(post, path = "/api/ivr/reload", operation_id = "reload_ivr", tag = "voice menu",
    responses(
        (status = 200, body = Reloaded, description = "Loaded: the node count"),
        (status = 422, body = Reloaded, description = "Not loaded: every problem found; the running menu stays"),
    ))]
async fn reload(
    State(reloader): State<IvrReloader>,
    auth: Auth,
) -> Result<(StatusCode, Json<Reloaded>), ApiError> {
    auth.require(&[Role::Admin])?;
    // Decoding prompts reads files: off the async workers.
    let result = tokio::task::spawn_blocking(move || reloader.reload())
        .await
        .map_err(|e| ApiError::internal(format!("the reload failed: {e}")))?;
    Ok(match result {
        Ok(nodes) => (
            StatusCode::OK,
            Json(Reloaded {
                reloaded: true,
                nodes: Some(nodes),
                errors: Vec::new(),
            }),
        ),
        Err(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(Reloaded {
                reloaded: false,
                nodes: None,
                errors: errors.iter().map(|d| d.to_string()).collect(),
            }),
        ),
    })
}
