//! The admins' routes for people: users (add, change, disable, reset a
//! password) and the audit log of what staff changed.
//!
//! - `GET /api/users`, `POST /api/users`, `PUT /api/users/{login}`,
//!   `POST /api/users/{login}/password`;
//! - `GET /api/audit?target=&limit=`.
//!
//! Every change is written to the audit log (who, when, from where, the
//! user before and after; never a password). The form's mistakes come back
//! one per field, in Ukrainian, before the store is asked.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::info;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, ErrorBody, FieldsBody};
use super::state::AppState;
use crate::appeal::FieldError;
use crate::store::audit::{AuditEntry, NewAudit};
use crate::store::{
    NewUser, Operator, Role, Store, StoreError, User, UserChange, is_possible_login,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, add_user))
        .routes(routes!(change_user))
        .routes(routes!(reset_password))
        .routes(routes!(audit_log))
        .routes(routes!(effective_config))
}

#[derive(Serialize, utoipa::ToSchema)]
struct ConfigView {
    /// The settings in force as TOML: the file, `HOTLINE_*` overrides and
    /// every default; passwords, tokens and the database's password hidden.
    toml: String,
}

/// The configuration the server runs with, secrets hidden. Admins; each
/// reading is logged.
#[utoipa::path(get, path = "/api/admin/config", operation_id = "effective_config", tag = "admin",
    responses((status = 200, body = ConfigView)))]
async fn effective_config(
    State(config): State<std::sync::Arc<super::state::EffectiveConfig>>,
    auth: Auth,
) -> Result<Json<ConfigView>, ApiError> {
    auth.require(&[Role::Admin])?;
    info!(by = %auth.user().login, "effective configuration read");
    Ok(Json(ConfigView {
        toml: config.toml.clone(),
    }))
}

/// A user as the admin page shows them.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = UserAccount)]
struct UserView {
    login: String,
    name: String,
    role: Role,
    /// An operator user's operator, or a supervisor's softphone: its
    /// login and extension.
    operator: Option<String>,
    extension: Option<String>,
    /// An executor user's organisation (its code in the classifier).
    executor: Option<String>,
    head: bool,
    email: Option<String>,
    created_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct UserList {
    users: Vec<UserView>,
}

/// `u` as shown, with its operator from `operators`.
fn view_with(u: User, operators: &[Operator]) -> UserView {
    // An operator user's operator, or a supervisor's softphone.
    let operator = u
        .operator_id
        .or(u.phone_id)
        .and_then(|id| operators.iter().find(|o| o.id == id));
    UserView {
        extension: operator.map(|o| o.extension.clone()),
        operator: operator.map(|o| o.login.clone()),
        login: u.login,
        name: u.display_name,
        role: u.role,
        executor: u.executor,
        head: u.head,
        email: u.email,
        created_at: u.created_at,
        disabled_at: u.disabled_at,
    }
}

async fn view(store: &Store, u: User) -> Result<UserView, ApiError> {
    Ok(view_with(u, &store.list_operators().await?))
}

/// What a change writes to the audit log, beside who, when and from where.
pub(crate) struct Audited<'a> {
    pub action: &'a str,
    pub target: &'a str,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<&'a str>,
}

/// A reason (or any optional text) as given: trimmed, `None` when blank.
pub(crate) fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// Writes `what` `auth`'s user did (from `peer`) to the audit log.
pub(crate) async fn audit(
    store: &Store,
    auth: &Auth,
    peer: SocketAddr,
    what: Audited<'_>,
) -> Result<(), ApiError> {
    store
        .add_audit(&NewAudit {
            at: Utc::now(),
            actor_login: &auth.user().login,
            actor_role: auth.role().as_str(),
            address: &peer.ip().to_string(),
            action: what.action,
            target: what.target,
            before: what.before,
            after: what.after,
            reason: what.reason,
        })
        .await?;
    Ok(())
}

/// The user as written to the audit log: what an admin can change.
fn audited(u: &User) -> String {
    serde_json::json!({
        "name": u.display_name,
        "role": u.role,
        "executor": u.executor,
        "head": u.head,
        "email": u.email,
        "disabled": u.disabled_at.is_some(),
    })
    .to_string()
}

/// Every user, by login. Admins.
#[utoipa::path(get, path = "/api/users", operation_id = "list_users", tag = "admin",
    responses((status = 200, body = UserList)))]
async fn list_users(State(store): State<Store>, auth: Auth) -> Result<Json<UserList>, ApiError> {
    auth.require(&[Role::Admin])?;
    let operators = store.list_operators().await?;
    let users = store
        .list_users()
        .await?
        .into_iter()
        .map(|u| view_with(u, &operators))
        .collect();
    Ok(Json(UserList { users }))
}

/// A user to add, as the admin page sends it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewUserAccount)]
struct NewUserBody {
    login: String,
    name: String,
    role: String,
    password: String,
    /// For an operator user: the operator's login (`hotline operator add`);
    /// for a supervisor, optionally their softphone's (an operator record
    /// with no queues).
    operator: Option<String>,
    /// For an executor user: the organisation's code in the classifier.
    executor: Option<String>,
    #[serde(default)]
    head: bool,
    email: Option<String>,
}

/// A field's message, Ukrainian, for the admin page.
pub(crate) fn field(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// The store's refusal, on the field it names.
pub(crate) fn refused(e: StoreError) -> ApiError {
    match e {
        StoreError::Invalid { field: f, reason } => {
            let name = match f {
                "display name" => "name",
                "queue" => "queues",
                "login" | "operator" | "executor" | "email" | "role" | "password" | "extension"
                | "queues" => f,
                _ => "form",
            };
            ApiError::Fields(vec![field(name, reason)])
        }
        StoreError::AlreadyExists { what, key } => ApiError::Fields(vec![field(
            if what == "user login" {
                "login"
            } else {
                "operator"
            },
            if what == "user login" {
                format!("Логін «{key}» уже зайнятий.")
            } else {
                format!("В оператора «{key}» уже є користувач.")
            },
        )]),
        other => other.into(),
    }
}

pub(crate) fn password_errors(password: &str, out: &mut Vec<FieldError>) {
    use crate::store::operators::MIN_PASSWORD_CHARS;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        out.push(field(
            "password",
            format!("Пароль — щонайменше {MIN_PASSWORD_CHARS} символів."),
        ));
    } else if password.chars().any(char::is_control) {
        out.push(field(
            "password",
            "Пароль без керівних символів (табуляції, переносу).",
        ));
    }
}

fn email_errors(email: Option<&str>, out: &mut Vec<FieldError>) {
    if email.is_some_and(|e| crate::store::users::check_email(e).is_err()) {
        out.push(field("email", "Адреса має вигляд name@example.ua."));
    }
}

/// Adds a user. Admins; audited.
#[utoipa::path(post, path = "/api/users", operation_id = "add_user", tag = "admin",
    request_body = NewUserBody,
    responses(
        (status = 201, body = UserView, description = "Added"),
        (status = 422, body = FieldsBody, description = "A message per wrong field (Ukrainian)"),
    ))]
async fn add_user(
    State(store): State<Store>,
    auth: Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<NewUserBody>, JsonRejection>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    auth.require(&[Role::Admin])?;
    let Json(body) = body?;
    let mut errors = Vec::new();
    let login = body.login.trim().to_lowercase();
    if !is_possible_login(&login) {
        errors.push(field(
            "login",
            "Логін: латинські малі літери, цифри, «.», «_», «-», до 64 символів.",
        ));
    }
    if body.name.trim().is_empty() {
        errors.push(field("name", "Вкажіть ім'я, як його бачитимуть у консолі."));
    }
    let role = Role::parse(body.role.trim());
    match role {
        None => errors.push(field("role", "Оберіть роль.")),
        Some(Role::Operator) if body.operator.as_deref().is_none_or(|o| o.trim().is_empty()) => {
            errors.push(field(
                "operator",
                "Оператору потрібен його оператор (внутрішній номер).",
            ));
        }
        Some(Role::Executor) if body.executor.as_deref().is_none_or(|e| e.trim().is_empty()) => {
            errors.push(field("executor", "Оберіть організацію-виконавця."));
        }
        _ => {}
    }
    password_errors(&body.password, &mut errors);
    let email = body
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    email_errors(email, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Fields(errors));
    }
    // Checked above.
    let role = role.unwrap_or(Role::Supervisor);
    let new = NewUser {
        login: login.clone(),
        display_name: body.name.trim().to_owned(),
        role,
        operator_login: body
            .operator
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .filter(|_| matches!(role, Role::Operator | Role::Supervisor)),
        executor: body
            .executor
            .filter(|_| role == Role::Executor)
            .map(|e| e.trim().to_owned()),
        head: body.head && role == Role::Executor,
    };
    let mut user = store
        .add_user(&new, &body.password, Utc::now())
        .await
        .map_err(refused)?;
    if let Some(e) = email {
        store
            .set_user_email(&login, Some(e))
            .await
            .map_err(refused)?;
        if let Some(u) = store.user_by_login(&login).await? {
            user = u;
        }
    }
    audit(
        &store,
        &auth,
        peer,
        Audited {
            action: "user.add",
            target: &login,
            before: None,
            after: Some(audited(&user)),
            reason: None,
        },
    )
    .await?;
    info!(user = %login, role = %role, by = %auth.user().login, "user added");
    Ok((StatusCode::CREATED, Json(view(&store, user).await?)))
}

/// What an admin changes of a user; a field left out stays.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
#[schema(as = UserAccountChange)]
struct ChangeBody {
    name: Option<String>,
    role: Option<String>,
    /// The organisation's code; `""` takes the user out of it.
    executor: Option<String>,
    head: Option<bool>,
    /// `""` clears it.
    email: Option<String>,
    /// `true` signs the user out everywhere and keeps them out.
    disabled: Option<bool>,
    /// A supervisor's softphone: the login of its operator record
    /// (`hotline operator add`, no queues); `""` unlinks it.
    operator: Option<String>,
    /// Why, for the audit log.
    reason: Option<String>,
}

/// Changes a user's name, role, organisation, e-mail or whether they may
/// sign in. Admins; audited with the user before and after. An admin
/// cannot disable themself or take away their own admin role.
#[utoipa::path(put, path = "/api/users/{login}", operation_id = "change_user", tag = "admin",
    params(("login" = String, Path, description = "The user's login")),
    request_body = ChangeBody,
    responses(
        (status = 200, body = UserView),
        (status = 404, body = ErrorBody, description = "No such user"),
        (status = 422, body = FieldsBody, description = "A message per wrong field (Ukrainian)"),
    ))]
async fn change_user(
    State(store): State<Store>,
    auth: Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(login): Path<String>,
    body: Result<Json<ChangeBody>, JsonRejection>,
) -> Result<Json<UserView>, ApiError> {
    auth.require(&[Role::Admin])?;
    let Json(body) = body?;
    let mut errors = Vec::new();
    let role = match body.role.as_deref().map(str::trim) {
        None => None,
        Some(text) => match Role::parse(text) {
            Some(r) => Some(r),
            None => {
                errors.push(field("role", "Оберіть роль."));
                None
            }
        },
    };
    if body.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        errors.push(field("name", "Ім'я не може бути порожнім."));
    }
    email_errors(
        body.email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty()),
        &mut errors,
    );
    let yourself = login == auth.user().login;
    if yourself && body.disabled == Some(true) {
        errors.push(field(
            "disabled",
            "Себе вимкнути не можна: це зробить інший адміністратор.",
        ));
    }
    if yourself && role.is_some_and(|r| r != Role::Admin) {
        errors.push(field(
            "role",
            "Свою роль адміністратора може змінити лише інший адміністратор.",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Fields(errors));
    }
    let change = UserChange {
        display_name: body.name.map(|n| n.trim().to_owned()),
        role,
        executor: body
            .executor
            .map(|e| Some(e).filter(|e| !e.trim().is_empty())),
        head: body.head,
        email: body.email.map(|e| Some(e).filter(|e| !e.trim().is_empty())),
        disabled: body.disabled,
        phone: body
            .operator
            .map(|o| Some(o).filter(|o| !o.trim().is_empty())),
    };
    let (before, after) = store
        .update_user(&login, &change, Utc::now())
        .await
        .map_err(refused)?
        .ok_or_else(|| ApiError::not_found(format!("no user {login:?}")))?;
    let reason = given(&body.reason);
    audit(
        &store,
        &auth,
        peer,
        Audited {
            action: "user.update",
            target: &login,
            before: Some(audited(&before)),
            after: Some(audited(&after)),
            reason,
        },
    )
    .await?;
    info!(user = %login, by = %auth.user().login, "user changed");
    Ok(Json(view(&store, after).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewPassword)]
pub(crate) struct PasswordBody {
    password: String,
}

/// The new password a form sends, checked (a user's or an operator's).
pub(crate) fn new_password(
    body: Result<Json<PasswordBody>, JsonRejection>,
) -> Result<String, ApiError> {
    let Json(body) = body?;
    let mut errors = Vec::new();
    password_errors(&body.password, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Fields(errors));
    }
    Ok(body.password)
}

/// Sets a user's new password and signs them out everywhere. Admins;
/// audited (never the password).
#[utoipa::path(post, path = "/api/users/{login}/password", operation_id = "reset_password", tag = "admin",
    params(("login" = String, Path, description = "The user's login")),
    request_body = PasswordBody,
    responses(
        (status = 204, description = "Set; the user's sessions ended"),
        (status = 404, body = ErrorBody, description = "No such user"),
        (status = 422, body = FieldsBody, description = "The password is too short"),
    ))]
async fn reset_password(
    State(store): State<Store>,
    auth: Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(login): Path<String>,
    body: Result<Json<PasswordBody>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    auth.require(&[Role::Admin])?;
    let password = new_password(body)?;
    if !store
        .set_user_password(&login, &password)
        .await
        .map_err(refused)?
    {
        return Err(ApiError::not_found(format!("no user {login:?}")));
    }
    audit(
        &store,
        &auth,
        peer,
        Audited {
            action: "user.password",
            target: &login,
            before: None,
            after: None,
            reason: None,
        },
    )
    .await?;
    info!(user = %login, by = %auth.user().login, "user's password reset");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// One user's, operator's, queue's… entries only.
    target: Option<String>,
    /// At most this many, newest first (default 200, at most 1,000).
    limit: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct AuditList {
    entries: Vec<AuditEntry>,
}

/// The audit log, newest first. Admins.
#[utoipa::path(get, path = "/api/audit", operation_id = "audit_log", tag = "admin",
    params(AuditQuery),
    responses((status = 200, body = AuditList)))]
async fn audit_log(
    State(store): State<Store>,
    auth: Auth,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    auth.require(&[Role::Admin])?;
    let target = q.target.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let entries = store
        .audit_log(target, q.limit.unwrap_or(200).clamp(1, 1000))
        .await?;
    Ok(Json(AuditList { entries }))
}
