//! Announcements to residents over the API (docs/web.md, "The works
//! page"):
//!
//! - `GET /api/announcements` (operators, supervisors, admins): those in
//!   force and those of the last 90 days, newest first, with who published
//!   and who withdrew them.
//! - `POST /api/announcements` with `{"title", "body", "until"?}`
//!   (supervisors, admins): published at once; `until` is RFC 3339 or a
//!   date (the end of that day on the city's clock). 201; 422 per field.
//! - `POST /api/announcements/{id}/withdraw` (supervisors, admins).
//!
//! Every change is logged with who made it.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tracing::info;
use uuid::Uuid;

use super::auth::Auth;
use super::error::ApiError;
use super::state::AppState;
use crate::appeal::lifecycle::Lifecycle;
use crate::public::announcements::{Announcement, NewAnnouncement, check};
use crate::store::{Role, Store};

const READ: &[Role] = &[Role::Operator, Role::Supervisor, Role::Admin];
const WRITE: &[Role] = &[Role::Supervisor, Role::Admin];

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/announcements", get(list).post(publish))
        .route("/api/announcements/{id}/withdraw", post(withdraw))
}

#[derive(Serialize)]
struct AnnouncementList {
    announcements: Vec<Announcement>,
}

async fn list(State(store): State<Store>, auth: Auth) -> Result<Json<AnnouncementList>, ApiError> {
    auth.require(READ)?;
    let now = Utc::now();
    Ok(Json(AnnouncementList {
        announcements: store
            .recent_announcements(now - chrono::Duration::days(90), now)
            .await?,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishBody {
    title: String,
    body: String,
    #[serde(default)]
    until: Option<String>,
}

async fn publish(
    State(store): State<Store>,
    State(rules): State<Arc<Lifecycle>>,
    auth: Auth,
    body: Result<Json<PublishBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Announcement>), ApiError> {
    auth.require(WRITE)?;
    let Json(body) = body?;
    let now = Utc::now();
    let mut errors = Vec::new();
    let until = super::blocking::until_field(
        body.until.as_deref(),
        rules.calendar().time_zone(),
        now,
        &mut errors,
    );
    let new = NewAnnouncement {
        title: body.title,
        body: body.body,
        until,
    };
    // The until's own message, if any, stands; the rest in the form's
    // order.
    let until_said = !errors.is_empty();
    errors.extend(
        check(&new, now)
            .into_iter()
            .filter(|e| !(until_said && e.field == "until")),
    );
    if !errors.is_empty() {
        errors.sort_by_key(|e| {
            ["title", "body", "until"]
                .iter()
                .position(|f| *f == e.field)
        });
        return Err(ApiError::Fields(errors));
    }
    let user = auth.user();
    let published = store
        .publish_announcement(&new, Some(user.id), &user.login, now)
        .await?;
    info!(announcement = %published.id, by = %user.login, until = ?published.until, "announcement published");
    Ok((StatusCode::CREATED, Json(published)))
}

async fn withdraw(
    State(store): State<Store>,
    auth: Auth,
    Path(id): Path<Uuid>,
) -> Result<Json<Announcement>, ApiError> {
    auth.require(WRITE)?;
    let login = &auth.user().login;
    let done = store
        .withdraw_announcement(id, login, Utc::now())
        .await?
        .ok_or_else(|| ApiError::not_found("no such announcement in force"))?;
    info!(announcement = %id, by = %login, "announcement withdrawn");
    Ok(Json(done))
}
