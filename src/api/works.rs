//! The repair works registry over the API (000 §3.1.6; the rules are
//! [`crate::appeal::works`]):
//!
//! - `GET /api/works[?mine=1]` (operators, supervisors, admins, executors):
//!   every work not yet ended, in progress or planned, by start; `mine=1`
//!   an executor's own organisation's only.
//! - `POST /api/works` (executors' users) with `{"kind": "planned" |
//!   "emergency", "service": "water" | "heating" | "power" | "gas" | "other",
//!   "description", "starts_at"? (RFC 3339; an emergency's defaults to now),
//!   "expected_end", "addresses": [{"street", "house"?}]}`: 201 with the
//!   work. A planned work less than 24 hours ahead is refused (422).
//! - `POST /api/works/{id}/extend` with `{"until"}` and
//!   `POST /api/works/{id}/close`: the work's own organisation's users, or
//!   supervisors.
//!
//! The IVR's outage announcement, menu 5 and the operator's screen read
//! the same records. Every change is logged with who made it.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::info;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::auth::Auth;
use super::error::{ApiError, ErrorBody, FieldsBody};
use super::state::AppState;
use crate::appeal::works::{WorkForm, check_extension, check_new};
use crate::store::{
    NewRepairWork, RepairWork, Role, Service, Store, WorkAddress, WorkKind, WorkStatus,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, register))
        .routes(routes!(extend))
        .routes(routes!(close))
}

/// A work as the console shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Work)]
struct WorkView {
    id: Uuid,
    kind: WorkKind,
    service: Service,
    description: String,
    starts_at: DateTime<Utc>,
    expected_end: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    /// In progress now (started, not ended), or planned.
    in_progress: bool,
    addresses: Vec<AddressView>,
    executor: Option<String>,
    registered_by: Option<String>,
    /// Whether the signed-in user may extend or close it.
    yours: bool,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkAddress)]
struct AddressView {
    street: String,
    #[serde(default)]
    house: Option<String>,
}

fn may_change(auth: &Auth, work: &RepairWork) -> bool {
    let user = auth.user();
    user.role == Role::Supervisor
        || (user.role == Role::Executor
            && user.executor.is_some()
            && user.executor == work.executor)
}

fn view(auth: &Auth, work: RepairWork, now: DateTime<Utc>) -> WorkView {
    let yours = may_change(auth, &work);
    WorkView {
        id: work.id,
        kind: work.kind,
        service: work.service,
        in_progress: work.starts_at <= now && work.ended_at.is_none(),
        description: work.description,
        starts_at: work.starts_at,
        expected_end: work.expected_end,
        ended_at: work.ended_at,
        addresses: work
            .addresses
            .into_iter()
            .map(|a| AddressView {
                street: a.street,
                house: a.house,
            })
            .collect(),
        executor: work.executor,
        registered_by: work.registered_by,
        yours,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// `1`: an executor's own organisation's works only.
    mine: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct WorkList {
    works: Vec<WorkView>,
}

/// Every work not yet ended, in progress or planned, by start.
/// Operators, supervisors, admins, executors.
#[utoipa::path(get, path = "/api/works", operation_id = "list_works", tag = "works",
    params(ListQuery),
    responses((status = 200, body = WorkList)))]
async fn list(
    State(store): State<Store>,
    auth: Auth,
    Query(q): Query<ListQuery>,
) -> Result<Json<WorkList>, ApiError> {
    auth.require(Role::ALL)?;
    let mine = matches!(q.mine.as_deref(), Some("1" | "true"));
    let executor = match mine {
        true => Some(
            auth.user()
                .executor
                .clone()
                .ok_or_else(|| ApiError::bad_request("mine=1 is for an executor's users"))?,
        ),
        false => None,
    };
    let now = Utc::now();
    let works = store.open_repair_works(executor.as_deref()).await?;
    Ok(Json(WorkList {
        works: works.into_iter().map(|w| view(&auth, w, now)).collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewWork)]
struct WorkBody {
    /// `planned` or `emergency`.
    #[schema(example = "emergency")]
    kind: String,
    /// `water`, `heating`, `power`, `gas` or `other`.
    #[schema(example = "water")]
    service: String,
    #[serde(default)]
    description: String,
    /// An emergency's defaults to now.
    #[serde(default)]
    starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    expected_end: Option<DateTime<Utc>>,
    #[serde(default)]
    addresses: Vec<AddressView>,
}

/// Registers a repair work of the executor user's organisation. A planned
/// work less than 24 hours ahead is refused. Executors.
#[utoipa::path(post, path = "/api/works", operation_id = "register_work", tag = "works",
    request_body = WorkBody,
    responses(
        (status = 201, body = WorkView, description = "Registered"),
        (status = 422, body = FieldsBody, description = "A message per wrong field"),
    ))]
async fn register(
    State(store): State<Store>,
    auth: Auth,
    body: Result<Json<WorkBody>, JsonRejection>,
) -> Result<(StatusCode, Json<WorkView>), ApiError> {
    auth.require(&[Role::Executor])?;
    let executor = auth
        .user()
        .executor
        .clone()
        .ok_or_else(|| ApiError::forbidden("this executor user belongs to no organisation"))?;
    let Json(body) = body?;
    let kind = WorkKind::parse(&body.kind)
        .ok_or_else(|| ApiError::field("kind", "Вид робіт: planned або emergency."))?;
    let service = Service::parse(&body.service).ok_or_else(|| {
        ApiError::field("service", "Послуга: water, heating, power, gas або other.")
    })?;
    let form = WorkForm {
        kind,
        description: body.description.trim().to_string(),
        starts_at: body.starts_at,
        expected_end: body.expected_end,
        addresses: body
            .addresses
            .into_iter()
            .map(|a| WorkAddress {
                street: a.street.trim().to_string(),
                house: a
                    .house
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty()),
            })
            .collect(),
    };
    let now = Utc::now();
    let starts_at = check_new(&form, now).map_err(ApiError::Fields)?;
    let work = NewRepairWork {
        id: Uuid::new_v4(),
        kind,
        service,
        description: form.description,
        starts_at,
        expected_end: form.expected_end.unwrap_or(starts_at),
        status: match kind {
            WorkKind::Emergency => WorkStatus::Active,
            WorkKind::Planned => WorkStatus::Announced,
        },
        created_at: now,
        addresses: form.addresses,
        executor: Some(executor.clone()),
        registered_by: Some(auth.user().login.clone()),
    };
    store.insert_repair_work(&work).await?;
    info!(id = %work.id, by = %auth.user().login, %executor, kind = kind.as_str(), "repair work registered");
    let stored = stored_work(&store, work.id).await?;
    Ok((StatusCode::CREATED, Json(view(&auth, stored, now))))
}

/// The work as stored (after a change, to answer with).
async fn stored_work(store: &Store, id: Uuid) -> Result<RepairWork, ApiError> {
    store
        .get_repair_work(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("repair work {id} not found")))
}

/// The work, if the signed-in user may change it.
async fn own_work(store: &Store, auth: &Auth, id: Uuid) -> Result<RepairWork, ApiError> {
    auth.require(&[Role::Executor, Role::Supervisor])?;
    let work = stored_work(store, id).await?;
    if !may_change(auth, &work) {
        return Err(ApiError::forbidden("the work is another organisation's"));
    }
    Ok(work)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WorkExtension)]
struct ExtendBody {
    until: DateTime<Utc>,
}

/// Moves a work's expected end later. The work's own organisation's users,
/// or supervisors.
#[utoipa::path(post, path = "/api/works/{id}/extend", operation_id = "extend_work", tag = "works",
    params(("id" = Uuid, Path, description = "The work")),
    request_body = ExtendBody,
    responses(
        (status = 200, body = WorkView),
        (status = 404, body = ErrorBody, description = "No such work"),
        (status = 409, body = ErrorBody, description = "The work has ended"),
        (status = 422, body = FieldsBody, description = "The new end is not later"),
    ))]
async fn extend(
    State(store): State<Store>,
    auth: Auth,
    Path(id): Path<Uuid>,
    body: Result<Json<ExtendBody>, JsonRejection>,
) -> Result<Json<WorkView>, ApiError> {
    let Json(body) = body?;
    let work = own_work(&store, &auth, id).await?;
    let now = Utc::now();
    check_extension(&work, body.until, now).map_err(|e| ApiError::Fields(vec![e]))?;
    if !store.extend_repair_work(id, body.until).await? {
        return Err(ApiError::conflict("the work has ended"));
    }
    info!(%id, by = %auth.user().login, until = %body.until, "repair work extended");
    Ok(Json(view(&auth, stored_work(&store, id).await?, now)))
}

/// Ends a work now. The work's own organisation's users, or supervisors.
#[utoipa::path(post, path = "/api/works/{id}/close", operation_id = "close_work", tag = "works",
    params(("id" = Uuid, Path, description = "The work")),
    responses(
        (status = 200, body = WorkView),
        (status = 404, body = ErrorBody, description = "No such work"),
        (status = 409, body = ErrorBody, description = "The work has ended already"),
    ))]
async fn close(
    State(store): State<Store>,
    auth: Auth,
    Path(id): Path<Uuid>,
) -> Result<Json<WorkView>, ApiError> {
    own_work(&store, &auth, id).await?;
    let now = Utc::now();
    if !store.close_repair_work(id, now).await? {
        return Err(ApiError::conflict("the work has ended already"));
    }
    info!(%id, by = %auth.user().login, "repair work closed");
    Ok(Json(view(&auth, stored_work(&store, id).await?, now)))
}
