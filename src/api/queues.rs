//! Queues and operators' states:
//!
//! - `GET /api/queues` (operators, supervisors, admins): every queue's
//!   statistics for today, computed from the stored queue events (waiting
//!   now, longest wait, answered, abandoned, transferred, service level,
//!   average wait).
//! - `GET /api/operators` (supervisors, admins): every operator with their
//!   current state.
//! - `GET /api/live` (supervisors, admins): the queues as they are this
//!   moment (the callers waiting in each, and for how long) and every
//!   logged-in operator's state, from the queue service itself; the live
//!   view starts from it and follows the websocket's events.
//! - `PUT /api/operators/{login}/state` with `{"state": "available"}`,
//!   `{"state": "paused", "reason": "…"}`, `{"state": "logged_in"}` or
//!   `{"state": "logged_out"}`: the operator's own controls (an operator
//!   user for their own operator; supervisors and admins for anyone).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::info;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::auth::Auth;
use super::error::{ApiError, ErrorBody, FieldsBody};
use super::state::AppState;
use crate::disk::{DiskStatus, DiskWatch};
use crate::events::EventBus;
use crate::queue::service::{OperatorView, QueueService, QueueView, StateRequest};
use crate::store::{Role, Store};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(queues))
        .routes(routes!(operators))
        .routes(routes!(live))
        .routes(routes!(set_state))
        .routes(routes!(operator_figures))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PeriodQuery {
    /// The first day (`YYYY-MM-DD`, the city's), or a moment (RFC 3339);
    /// today if left out.
    from: Option<String>,
    /// The last day, taken whole (or a moment); `from`'s day if left out.
    to: Option<String>,
}

/// Each operator's figures for a period.
#[derive(Serialize, utoipa::ToSchema)]
struct OperatorFigureList {
    from: DateTime<Utc>,
    /// The period's end, or now if it has not come yet.
    to: DateTime<Utc>,
    operators: Vec<OperatorFigureRow>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct OperatorFigureRow {
    login: String,
    name: String,
    #[serde(flatten)]
    figures: crate::queue::figures::Figures,
}

/// Each operator's calls answered, time talking, in wrap-up, paused and
/// signed in, average handle time and offers let ring out, for a period
/// of city days (today by default; a period still running counts to
/// now). Supervisors, admins.
#[utoipa::path(get, path = "/api/operators/figures", operation_id = "operator_figures", tag = "queues",
    params(PeriodQuery),
    responses(
        (status = 200, body = OperatorFigureList),
        (status = 422, body = FieldsBody, description = "A date that is not one, or a period that ends before it starts"),
    ))]
async fn operator_figures(
    State(store): State<Store>,
    State(service): State<QueueService>,
    State(rules): State<std::sync::Arc<crate::appeal::lifecycle::Lifecycle>>,
    auth: Auth,
    Query(q): Query<PeriodQuery>,
) -> Result<Json<OperatorFigureList>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Admin])?;
    let tz = rules.calendar().time_zone();
    let now = Utc::now();
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let from = match given(&q.from) {
        Some(text) => super::query_moment("from", &text, false, tz)?,
        None => super::city_day_start(tz),
    };
    let to = match given(&q.to).or_else(|| given(&q.from)) {
        Some(text) => super::query_moment("to", &text, true, tz)?,
        None => now,
    }
    .min(now);
    if to < from {
        return Err(ApiError::field(
            "to",
            "Кінець проміжку раніше за його початок.",
        ));
    }
    if to - from > chrono::TimeDelta::days(MAX_FIGURE_DAYS) {
        return Err(ApiError::field(
            "to",
            format!("Не більше {MAX_FIGURE_DAYS} днів за раз."),
        ));
    }
    let rows = store.operator_figure_rows(from, to).await?;
    let ring_all = |queue: &str| {
        service
            .queues()
            .get(queue)
            .is_some_and(|q| q.strategy == crate::queue::Strategy::RingAll)
    };
    let mut figures = crate::queue::figures::figures(
        from,
        to,
        &rows.before,
        &rows.changes,
        &rows.offers,
        ring_all,
    );
    let operators = store
        .list_operators()
        .await?
        .into_iter()
        .map(|op| OperatorFigureRow {
            figures: figures.remove(&op.id).unwrap_or_default(),
            login: op.login,
            name: op.display_name,
        })
        .collect();
    Ok(Json(OperatorFigureList {
        from,
        to,
        operators,
    }))
}

/// The longest period the operators' figures are counted over at once.
const MAX_FIGURE_DAYS: i64 = 93;

#[derive(Serialize, utoipa::ToSchema)]
struct QueueFigures {
    queues: Vec<QueueToday>,
}

/// A queue's figures for today.
#[derive(Serialize, utoipa::ToSchema)]
struct QueueToday {
    name: String,
    waiting: u32,
    longest_wait_ms: Option<u64>,
    answered: u32,
    abandoned: u32,
    transferred: u32,
    answered_within_service_level: u32,
    service_level_secs: u64,
    service_level_pct: Option<f64>,
    average_wait_ms: Option<u64>,
}

/// Every queue's figures for today (the city's day), from the stored
/// queue events. Operators, supervisors, admins.
#[utoipa::path(get, path = "/api/queues", operation_id = "queue_figures", tag = "queues",
    responses((status = 200, body = QueueFigures)))]
async fn queues(
    State(store): State<Store>,
    State(service): State<QueueService>,
    State(rules): State<std::sync::Arc<crate::appeal::lifecycle::Lifecycle>>,
    auth: Auth,
) -> Result<Json<QueueFigures>, ApiError> {
    auth.require(&[Role::Operator, Role::Supervisor, Role::Admin])?;
    let now = Utc::now();
    // "Today" is the city's day.
    let day_start = super::city_day_start(rules.calendar().time_zone());
    let mut out = Vec::new();
    for queue in service.queues().queues() {
        let stats = store
            .queue_stats(&queue.name, day_start, now, queue.service_level)
            .await?;
        out.push(QueueToday {
            name: queue.name.clone(),
            waiting: stats.waiting_now,
            longest_wait_ms: stats.longest_wait.map(|d| d.as_millis() as u64),
            answered: stats.answered,
            abandoned: stats.abandoned,
            transferred: stats.transferred,
            answered_within_service_level: stats.answered_within_service_level,
            service_level_secs: queue.service_level.as_secs(),
            service_level_pct: stats.service_level_pct,
            average_wait_ms: stats.average_wait.map(|d| d.as_millis() as u64),
        });
    }
    Ok(Json(QueueFigures { queues: out }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct OperatorList {
    operators: Vec<OperatorEntry>,
}

/// An operator as stored, with their state now.
#[derive(Serialize, utoipa::ToSchema)]
struct OperatorEntry {
    login: String,
    name: String,
    extension: String,
    queues: Vec<MembershipView>,
    disabled: bool,
    #[schema(value_type = crate::store::OperatorState)]
    state: &'static str,
    reason: Option<String>,
    /// How long in this state, if it changed since the server started.
    in_state_ms: Option<u64>,
    /// The call they talk on (`on_call`): a supervisor may listen in.
    #[schema(value_type = Option<uuid::Uuid>)]
    call: Option<crate::ids::CallId>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct MembershipView {
    queue: String,
    penalty: u32,
}

/// Every operator with their queues and their state now (supervisors'
/// softphones left out). Supervisors, admins.
#[utoipa::path(get, path = "/api/operators", operation_id = "list_operators", tag = "queues",
    responses((status = 200, body = OperatorList)))]
async fn operators(
    State(store): State<Store>,
    State(service): State<QueueService>,
    auth: Auth,
) -> Result<Json<OperatorList>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Admin])?;
    let snapshot = service.snapshot().await?;
    // Supervisors' softphones are not operators to watch.
    let phones: std::collections::HashSet<uuid::Uuid> = store
        .list_users()
        .await?
        .into_iter()
        .filter_map(|u| u.phone_id)
        .collect();
    let operators = store
        .list_operators()
        .await?
        .into_iter()
        .filter(|op| !phones.contains(&op.id))
        .map(|op| {
            let live = snapshot.operators.iter().find(|v| v.login == op.login);
            OperatorEntry {
                queues: op
                    .queues
                    .iter()
                    .map(|m| MembershipView {
                        queue: m.queue.clone(),
                        penalty: m.penalty,
                    })
                    .collect(),
                disabled: op.disabled_at.is_some(),
                state: live.map(|v| v.state).unwrap_or("logged_out"),
                reason: live.and_then(|v| v.reason.clone()),
                in_state_ms: live.and_then(|v| v.in_state_ms),
                call: live.and_then(|v| v.call),
                login: op.login,
                name: op.display_name,
                extension: op.extension,
            }
        })
        .collect();
    Ok(Json(OperatorList { operators }))
}

/// The queues and operators this moment, and where in the event stream
/// the live view picks up.
#[derive(Serialize, utoipa::ToSchema)]
struct LiveSnapshot {
    at: DateTime<Utc>,
    seq: u64,
    storage: DiskStatus,
    queues: Vec<QueueView>,
    operators: Vec<OperatorView>,
}

/// The queues and operators this moment, for the live view, and the
/// sequence number of the console's event stream it is current to.
/// Supervisors, admins.
#[utoipa::path(get, path = "/api/live", operation_id = "live_snapshot", tag = "queues",
    responses((status = 200, body = LiveSnapshot)))]
async fn live(
    State(service): State<QueueService>,
    State(events): State<EventBus>,
    State(disk): State<DiskWatch>,
    auth: Auth,
) -> Result<Json<LiveSnapshot>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Admin])?;
    // Read before the snapshot: events from this number on may not be in
    // it, and the live view applies them after.
    let seq = events.next_seq();
    let snapshot = service.snapshot().await?;
    Ok(Json(LiveSnapshot {
        at: Utc::now(),
        seq,
        storage: disk.status(),
        queues: snapshot.queues,
        operators: snapshot.operators,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OperatorStateChange)]
struct StateBody {
    /// `available`, `paused` (with a `reason`), `logged_in` or `logged_out`.
    #[schema(example = "paused")]
    state: String,
    /// Why (1 to 200 characters): the operator's pause; a supervisor's
    /// pause or log-out of someone else, which is also in the audit log.
    reason: Option<String>,
}

/// Sets an operator's state: an operator user their own; supervisors and
/// admins anyone's (a pause or a log-out with a reason, written to the
/// audit log with the state before and after).
#[utoipa::path(put, path = "/api/operators/{login}/state", operation_id = "set_operator_state", tag = "queues",
    params(("login" = String, Path, description = "The operator's login")),
    request_body = StateBody,
    responses(
        (status = 200, body = OperatorView),
        (status = 404, body = ErrorBody, description = "No such operator"),
        (status = 409, body = ErrorBody, description = "The state cannot change so now (on a call)"),
        (status = 422, body = ErrorBody, description = "An unknown state, or a pause (or a supervisor's log-out) without a reason"),
    ))]
async fn set_state(
    State(store): State<Store>,
    State(service): State<QueueService>,
    auth: Auth,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(login): Path<String>,
    body: Result<Json<StateBody>, JsonRejection>,
) -> Result<Json<OperatorView>, ApiError> {
    let by_supervisor = auth.role() != Role::Operator;
    if auth.role() == Role::Operator {
        // Their own operator only.
        let own = store
            .operator_by_login(&login)
            .await?
            .is_some_and(|op| Some(op.id) == auth.user().operator_id);
        if !own {
            return Err(ApiError::forbidden("an operator sets their own state only"));
        }
    } else {
        auth.require(&[Role::Supervisor, Role::Admin])?;
    }
    let Json(body) = body?;
    let reason = super::admin::given(&body.reason).map(str::to_owned);
    if by_supervisor
        && body.state == "logged_out"
        && reason.as_deref().is_none_or(|r| r.chars().count() > 200)
    {
        return Err(ApiError::unprocessable(
            "logging an operator out needs a reason (1 to 200 characters)",
        ));
    }
    // The state before is read only for the audit log.
    let before = match by_supervisor {
        true => service
            .snapshot()
            .await?
            .operators
            .into_iter()
            .find(|o| o.login == login),
        false => None,
    };
    let request = match (body.state.as_str(), body.reason) {
        ("available", _) => StateRequest::Available,
        ("logged_in", _) => StateRequest::LogIn,
        ("logged_out", _) => StateRequest::LogOut,
        ("paused", Some(reason)) if !reason.trim().is_empty() && reason.chars().count() <= 200 => {
            StateRequest::Pause {
                reason: reason.trim().to_owned(),
            }
        }
        ("paused", _) => {
            return Err(ApiError::unprocessable(
                "a pause needs a reason (1 to 200 characters)",
            ));
        }
        (other, _) => {
            return Err(ApiError::unprocessable(format!(
                "unknown state {other:?}: use available, paused, logged_in or logged_out"
            )));
        }
    };
    let after = service.set_state(&login, request).await?;
    if by_supervisor {
        let state = |v: &OperatorView| {
            serde_json::json!({"state": v.state, "reason": v.reason}).to_string()
        };
        super::admin::audit(
            &store,
            &auth,
            peer,
            super::admin::Audited {
                action: "operator.state",
                target: &login,
                before: before.as_ref().map(state),
                after: Some(state(&after)),
                reason: reason.as_deref(),
            },
        )
        .await?;
        info!(operator = %login, by = %auth.user().login, state = after.state, "operator's state set by a supervisor");
    }
    Ok(Json(after))
}
