//! The admins' routes for operators (the SIP extensions people answer
//! on) and the queues each serves with its penalty:
//!
//! - `GET /api/admin/operators`, `POST /api/admin/operators`;
//! - `PUT /api/admin/operators/{login}` (name, queues and penalties,
//!   disabled), `POST /api/admin/operators/{login}/password` (the SIP and
//!   sign-in password), `DELETE /api/admin/operators/{login}`.
//!
//! What an operator serves applies at once (a signed-in operator keeps
//! their state and takes the new queues; one disabled or removed is
//! signed out, after their call if on one). Queue names must be the
//! configured queues'. Every change is in the audit log with the operator
//! before and after (never a password).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::info;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::{
    Audited, PasswordBody, audit, field, given, new_password, password_errors, refused,
};
use super::auth::Auth;
use super::error::{ApiError, ErrorBody, FieldsBody};
use super::state::AppState;
use crate::appeal::FieldError;
use crate::queue::service::QueueService;
use crate::store::operators::DEFAULT_REALM;
use crate::store::{NewOperator, Operator, QueueMembership, Role, Store, is_possible_login};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_operators, add_operator))
        .routes(routes!(change_operator, remove_operator))
        .routes(routes!(operator_password))
}

/// A queue an operator serves, and their penalty in it (0 first; a higher
/// one is offered calls only when nobody lower is free).
#[derive(Serialize, Deserialize, Clone, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ServedQueue)]
struct Serves {
    queue: String,
    #[serde(default)]
    penalty: u32,
}

/// An operator as the admin page shows them.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OperatorRecord)]
struct OperatorView {
    login: String,
    name: String,
    extension: String,
    queues: Vec<Serves>,
    /// The user who works as this operator, or whose softphone it is.
    user: Option<String>,
    created_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = OperatorRecords)]
struct OperatorList {
    operators: Vec<OperatorView>,
}

fn view(o: Operator, user: Option<String>) -> OperatorView {
    OperatorView {
        queues: o
            .queues
            .iter()
            .map(|m| Serves {
                queue: m.queue.clone(),
                penalty: m.penalty,
            })
            .collect(),
        login: o.login,
        name: o.display_name,
        extension: o.extension,
        user,
        created_at: o.created_at,
        disabled_at: o.disabled_at,
    }
}

/// The operator as written to the audit log.
fn audited(o: &Operator) -> String {
    serde_json::json!({
        "name": o.display_name,
        "extension": o.extension,
        "queues": o.queues.iter().map(|m| format!("{}:{}", m.queue, m.penalty)).collect::<Vec<_>>(),
        "disabled": o.disabled_at.is_some(),
    })
    .to_string()
}

/// Every operator with their queues and penalties, and the user linked
/// to each. Admins.
#[utoipa::path(get, operation_id = "operator_records", path = "/api/admin/operators", tag = "admin",
    responses((status = 200, body = OperatorList)))]
async fn list_operators(
    State(store): State<Store>,
    auth: Auth,
) -> Result<Json<OperatorList>, ApiError> {
    auth.require(&[Role::Admin])?;
    let operators = store.list_operators().await?;
    let users = store.list_users().await?;
    let operators = operators
        .into_iter()
        .map(|o| {
            let user = users
                .iter()
                .find(|u| u.operator_id == Some(o.id) || u.phone_id == Some(o.id))
                .map(|u| u.login.clone());
            view(o, user)
        })
        .collect();
    Ok(Json(OperatorList { operators }))
}

/// The memberships asked for, each queue a configured one, none twice.
fn memberships(
    queues: &[Serves],
    service: &QueueService,
    errors: &mut Vec<FieldError>,
) -> Vec<QueueMembership> {
    let mut seen = std::collections::HashSet::new();
    for s in queues {
        if service.queues().get(&s.queue).is_none() {
            errors.push(field(
                "queues",
                format!("Черги «{}» немає в налаштуваннях черг.", s.queue),
            ));
        } else if !seen.insert(s.queue.as_str()) {
            errors.push(field("queues", format!("Черга «{}» двічі.", s.queue)));
        } else if s.penalty > 100 {
            errors.push(field("queues", "Штраф — від 0 до 100."));
        }
    }
    queues
        .iter()
        .map(|s| QueueMembership::new(&s.queue, s.penalty))
        .collect()
}

/// An operator to add, as the admin page sends it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewOperatorRecord)]
struct NewOperatorBody {
    login: String,
    name: String,
    /// The softphone's SIP user name: 2 to 10 digits.
    extension: String,
    /// For the softphone's registration (and an operator's sign-in).
    password: String,
    #[serde(default)]
    queues: Vec<Serves>,
}

/// Adds an operator. Admins; audited.
#[utoipa::path(post, operation_id = "add_operator_record", path = "/api/admin/operators", tag = "admin",
    request_body = NewOperatorBody,
    responses(
        (status = 201, body = OperatorView, description = "Added"),
        (status = 422, body = FieldsBody, description = "A message per wrong field (Ukrainian)"),
    ))]
async fn add_operator(
    State(store): State<Store>,
    State(service): State<QueueService>,
    auth: Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<NewOperatorBody>, JsonRejection>,
) -> Result<(StatusCode, Json<OperatorView>), ApiError> {
    auth.require(&[Role::Admin])?;
    let Json(body) = body?;
    let login = body.login.trim().to_owned();
    let mut errors = Vec::new();
    if !is_possible_login(&login) {
        errors.push(field(
            "login",
            "Логін: латинські малі літери, цифри, «.», «_», «-», до 64 символів.",
        ));
    }
    if body.name.trim().is_empty() {
        errors.push(field(
            "name",
            "Вкажіть ім'я, як його бачитимуть супервізори.",
        ));
    }
    let extension = body.extension.trim();
    if !(2..=10).contains(&extension.len()) || !extension.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(field("extension", "Внутрішній номер — від 2 до 10 цифр."));
    }
    password_errors(&body.password, &mut errors);
    let queues = memberships(&body.queues, &service, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Fields(errors));
    }
    let new = NewOperator::new(
        &login,
        extension,
        Some(body.name.trim()),
        queues,
        Utc::now(),
    );
    let operator = store
        .add_operator(&new, &body.password, DEFAULT_REALM)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::AlreadyExists { what, key } => {
                ApiError::Fields(vec![if what == "operator extension" {
                    field("extension", format!("Внутрішній номер {key} уже зайнятий."))
                } else {
                    field("login", format!("Логін «{key}» уже зайнятий."))
                }])
            }
            other => refused(other),
        })?;
    audit(
        &store,
        &auth,
        peer,
        Audited {
            action: "operator.add",
            target: &login,
            before: None,
            after: Some(audited(&operator)),
            reason: None,
        },
    )
    .await?;
    info!(operator = %login, by = %auth.user().login, "operator added");
    Ok((StatusCode::CREATED, Json(view(operator, None))))
}

/// What an admin changes of an operator: each field left out stays.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OperatorRecordChange)]
struct ChangeBody {
    name: Option<String>,
    /// The queues served, all of them (an empty list: none).
    queues: Option<Vec<Serves>>,
    /// `true`: their phone can no longer register; signed out now (after
    /// their call, if on one).
    disabled: Option<bool>,
    /// Why, for the audit log.
    reason: Option<String>,
}

/// Changes an operator's name, queues and penalties, or disables them;
/// applies at once. Admins; audited with the operator before and after.
#[utoipa::path(put, operation_id = "change_operator_record", path = "/api/admin/operators/{login}", tag = "admin",
    params(("login" = String, Path, description = "The operator's login")),
    request_body = ChangeBody,
    responses(
        (status = 200, body = OperatorView),
        (status = 404, body = ErrorBody, description = "No such operator"),
        (status = 422, body = FieldsBody, description = "A message per wrong field (Ukrainian)"),
    ))]
async fn change_operator(
    State(store): State<Store>,
    State(service): State<QueueService>,
    auth: Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(login): Path<String>,
    body: Result<Json<ChangeBody>, JsonRejection>,
) -> Result<Json<OperatorView>, ApiError> {
    auth.require(&[Role::Admin])?;
    let Json(body) = body?;
    let mut errors = Vec::new();
    if body.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        errors.push(field("name", "Ім'я не може бути порожнім."));
    }
    let queues = body
        .queues
        .as_deref()
        .map(|q| memberships(q, &service, &mut errors));
    if !errors.is_empty() {
        return Err(ApiError::Fields(errors));
    }
    let Some(before) = store.operator_by_login(&login).await? else {
        return Err(ApiError::not_found(format!("no operator {login:?}")));
    };
    // A supervisor's softphone serves no queue: it would be offered calls.
    let owner = store.user_of_operator(before.id).await?;
    if let Some(supervisor) = owner.filter(|u| u.phone_id == Some(before.id)) {
        if queues.as_ref().is_some_and(|q| !q.is_empty()) {
            return Err(ApiError::Fields(vec![field(
                "queues",
                format!(
                    "Це софтфон супервізора {} для прослуховування: він не обслуговує черг.",
                    supervisor.login
                ),
            )]));
        }
    }
    if let Some(queues) = &queues {
        store
            .set_operator_queues(before.id, queues)
            .await
            .map_err(refused)?;
    }
    let (_, after) = store
        .update_operator(
            &login,
            body.name.as_deref().map(str::trim),
            body.disabled,
            Utc::now(),
        )
        .await
        .map_err(refused)?
        .ok_or_else(|| ApiError::not_found(format!("no operator {login:?}")))?;
    service.operator_changed(&login);
    let reason = given(&body.reason);
    audit(
        &store,
        &auth,
        peer,
        Audited {
            action: "operator.update",
            target: &login,
            before: Some(audited(&before)),
            after: Some(audited(&after)),
            reason,
        },
    )
    .await?;
    info!(operator = %login, by = %auth.user().login, "operator changed");
    let user = store.user_of_operator(after.id).await?.map(|u| u.login);
    Ok(Json(view(after, user)))
}

/// Sets an operator's password (their softphone's registration and their
/// sign-in): the phone must register with it again. Admins; audited
/// (never the password).
#[utoipa::path(post, operation_id = "set_operator_password", path = "/api/admin/operators/{login}/password", tag = "admin",
    params(("login" = String, Path, description = "The operator's login")),
    request_body = PasswordBody,
    responses(
        (status = 204, description = "Set"),
        (status = 404, body = ErrorBody, description = "No such operator"),
        (status = 422, body = FieldsBody, description = "The password is too short"),
    ))]
async fn operator_password(
    State(store): State<Store>,
    auth: Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(login): Path<String>,
    body: Result<Json<PasswordBody>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    auth.require(&[Role::Admin])?;
    let password = new_password(body)?;
    if !store
        .set_operator_password(&login, &password, DEFAULT_REALM)
        .await
        .map_err(refused)?
    {
        return Err(ApiError::not_found(format!("no operator {login:?}")));
    }
    audit(
        &store,
        &auth,
        peer,
        Audited {
            action: "operator.password",
            target: &login,
            before: None,
            after: None,
            reason: None,
        },
    )
    .await?;
    info!(operator = %login, by = %auth.user().login, "operator's password set");
    Ok(StatusCode::NO_CONTENT)
}

/// Removes an operator and their queues (their calls and figures stay on
/// file; a linked user loses the link). Admins; audited.
#[utoipa::path(delete, operation_id = "remove_operator_record", path = "/api/admin/operators/{login}", tag = "admin",
    params(("login" = String, Path, description = "The operator's login")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, body = ErrorBody, description = "No such operator"),
    ))]
async fn remove_operator(
    State(store): State<Store>,
    State(service): State<QueueService>,
    auth: Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(login): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require(&[Role::Admin])?;
    let Some(before) = store.operator_by_login(&login).await? else {
        return Err(ApiError::not_found(format!("no operator {login:?}")));
    };
    store.remove_operator(&login).await?;
    service.operator_changed(&login);
    audit(
        &store,
        &auth,
        peer,
        Audited {
            action: "operator.remove",
            target: &login,
            before: Some(audited(&before)),
            after: None,
            reason: None,
        },
    )
    .await?;
    info!(operator = %login, by = %auth.user().login, "operator removed");
    Ok(StatusCode::NO_CONTENT)
}
