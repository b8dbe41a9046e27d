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
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tracing::info;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::auth::Auth;
use super::error::{ApiError, ErrorBody, FieldsBody};
use super::state::AppState;
use crate::appeal::lifecycle::Lifecycle;
use crate::public::announcements::{Announcement, NewAnnouncement, check};
use crate::store::{Role, Store};

const READ: &[Role] = &[Role::Operator, Role::Supervisor, Role::Admin];
const WRITE: &[Role] = &[Role::Supervisor, Role::Admin];

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, publish))
        .routes(routes!(withdraw))
}

#[derive(Serialize, utoipa::ToSchema)]
struct AnnouncementList {
    announcements: Vec<Announcement>,
}

/// The announcements in force and those of the last 90 days, newest
/// first, with who published and who withdrew them. Operators,
/// supervisors, admins.
#[utoipa::path(get, path = "/api/announcements", operation_id = "list_announcements", tag = "works",
    responses((status = 200, body = AnnouncementList)))]
async fn list(State(store): State<Store>, auth: Auth) -> Result<Json<AnnouncementList>, ApiError> {
    auth.require(READ)?;
    let now = Utc::now();
    Ok(Json(AnnouncementList {
        announcements: store
            .recent_announcements(now - chrono::Duration::days(90), now)
            .await?,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewAnnouncement)]
struct PublishBody {
    title: String,
    body: String,
    /// RFC 3339, or a date `YYYY-MM-DD` (through the end of that day, on
    /// the city's clock); none: until withdrawn.
    #[serde(default)]
    until: Option<String>,
}

/// Publishes an announcement to residents at once (the works page and its
/// feeds). Supervisors, admins.
#[utoipa::path(post, path = "/api/announcements", operation_id = "publish_announcement", tag = "works",
    request_body = PublishBody,
    responses(
        (status = 201, body = Announcement, description = "Published"),
        (status = 422, body = FieldsBody, description = "A message per wrong field"),
    ))]
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

/// Withdraws an announcement in force. Supervisors, admins.
#[utoipa::path(post, path = "/api/announcements/{id}/withdraw", operation_id = "withdraw_announcement", tag = "works",
    params(("id" = Uuid, Path, description = "The announcement")),
    responses(
        (status = 200, body = Announcement, description = "Withdrawn"),
        (status = 404, body = ErrorBody, description = "No such announcement in force"),
    ))]
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
