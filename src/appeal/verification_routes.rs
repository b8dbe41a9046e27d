//! HTTP for verification: the operators' call-back list
//! (`GET /api/verification`), the supervisors' control page
//! (`GET /api/verification/control`: cards under direct control and every
//! executor's confirmation rate, this period and the previous one), and
//! click-to-call (`POST /api/verification/{number}/call`: the operator's
//! softphone rings first, then the citizen, and the two are bridged). The
//! outcome is recorded as the card's `verify` step
//! (`POST /api/appeals/{number}/actions`), like every step.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use tracing::info;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::control::{Span, TrackRecord};
use super::lifecycle::{EntryKind, Lifecycle};
use super::lifecycle_routes::{CardView, card_view};
use super::verification::Mode;
use crate::api::auth::Auth;
use crate::api::error::ErrorBody;
use crate::api::{ApiError, AppState};
use crate::store::{Role, Store};

/// How long a closed card stays on the direct-control list.
const CLOSED_DIRECT_CONTROL_DAYS: i64 = 30;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(control))
        .routes(routes!(call))
}

/// A card on the call-back list.
#[derive(Serialize, utoipa::ToSchema)]
struct VerificationCard {
    #[serde(flatten)]
    card: CardView,
    /// Who asks next: hotline's automated calls or the operators.
    mode: Option<Mode>,
    /// Attempts made in that mode.
    attempts: u32,
    /// Not before this is the next attempt made.
    next_at: Option<DateTime<Utc>>,
    emergency: bool,
    contested: bool,
    direct_control: bool,
    /// What the executor reported when proposing the closure, and how
    /// many files it proved the work with.
    report: Option<String>,
    proof_files: usize,
}

/// The operators' call-back list: cards whose closure the citizen is to
/// confirm, with the attempts so far and the executor's report.
/// Operators, supervisors, admins.
#[utoipa::path(get, path = "/api/verification", operation_id = "verification_list", tag = "verification",
    responses((status = 200, body = Vec<VerificationCard>)))]
async fn list(
    State(store): State<Store>,
    State(rules): State<Arc<Lifecycle>>,
    auth: Auth,
) -> Result<Json<Vec<VerificationCard>>, ApiError> {
    auth.require(&[Role::Operator, Role::Supervisor, Role::Admin])?;
    let now = Utc::now();
    let mut out = Vec::new();
    for summary in store.cards_in_verification().await? {
        let id = summary.stored.id;
        let card = summary.stored.card.clone();
        let report = store
            .appeal_history(id)
            .await?
            .into_iter()
            .rev()
            .find(|e| e.kind == EntryKind::ClosureProposed);
        out.push(VerificationCard {
            mode: card.verification.as_ref().map(|v| v.mode),
            attempts: card.verification.as_ref().map_or(0, |v| v.attempts),
            next_at: card.verification.as_ref().map(|v| v.next_at),
            emergency: card.emergency,
            contested: card.contested,
            direct_control: card.direct_control,
            proof_files: report.as_ref().map_or(0, |r| r.files.len()),
            report: report.and_then(|r| r.text),
            card: card_view(&rules, summary, None, now),
        });
    }
    Ok(Json(out))
}

/// An executor's track record, with its name and rate.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ConfirmationRate)]
struct Rate {
    executor: String,
    name: Option<String>,
    closed: u32,
    confirmed: u32,
    not_confirmed: u32,
    repeats: u32,
    /// Confirmed of the answers, 0 to 1; `None` with no answers.
    rate: Option<f64>,
    /// Whether the rate is below the control rule's threshold (with
    /// enough answers to count).
    below: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ConfirmationRates)]
struct Rates {
    span: Span,
    executors: Vec<Rate>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = VerificationControl)]
struct Control {
    direct_control: Vec<CardView>,
    current: Rates,
    previous: Rates,
    min_confirmation_rate: f64,
}

/// The control page: cards under direct control, and every executor's
/// confirmation rate this period and the previous one against the
/// control rule's threshold. Supervisors, admins.
#[utoipa::path(get, path = "/api/verification/control", operation_id = "verification_control", tag = "verification",
    responses((status = 200, body = Control)))]
async fn control(
    State(store): State<Store>,
    State(rules): State<Arc<Lifecycle>>,
    auth: Auth,
) -> Result<Json<Control>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Admin])?;
    let now = Utc::now();
    let calendar = rules.calendar();
    let settings = rules.control().settings();
    let today = now.with_timezone(&calendar.time_zone()).date_naive();
    let names = store.current_executors().await?;
    let rates = |records: Vec<TrackRecord>, span: Span| Rates {
        span,
        executors: records
            .into_iter()
            .map(|r| {
                let answers = r.confirmed + r.not_confirmed;
                let rate = r.confirmation_rate();
                Rate {
                    name: names
                        .iter()
                        .find(|e| e.code == r.executor.as_str())
                        .map(|e| e.name.clone()),
                    executor: r.executor.to_string(),
                    closed: r.closed,
                    confirmed: r.confirmed,
                    not_confirmed: r.not_confirmed,
                    repeats: r.repeats,
                    below: answers >= settings.min_answers
                        && rate.is_some_and(|x| x < settings.min_confirmation_rate),
                    rate,
                }
            })
            .collect(),
    };
    let current_span = settings.period.containing(today);
    let previous_span = settings.period.previous(today);
    let current = rates(
        store.track_records(current_span, calendar).await?,
        current_span,
    );
    let previous = rates(
        store.track_records(previous_span, calendar).await?,
        previous_span,
    );
    let direct_control = store
        .cards_under_direct_control(now - TimeDelta::days(CLOSED_DIRECT_CONTROL_DAYS))
        .await?
        .into_iter()
        .map(|s| card_view(&rules, s, None, now))
        .collect();
    Ok(Json(Control {
        direct_control,
        current,
        previous,
        min_confirmation_rate: settings.min_confirmation_rate,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct CallPlaced {
    /// The call's id: its row, its recording, and the `call` of the
    /// outcome the operator records.
    call: Uuid,
}

/// Click-to-call: rings the signed-in operator's softphone, then the
/// citizen, and bridges them. The outcome is recorded as the card's
/// `verify` step. Operator users.
#[utoipa::path(post, path = "/api/verification/{number}/call", operation_id = "call_citizen", tag = "verification",
    params(("number" = String, Path, description = "The card's registration number")),
    responses(
        (status = 202, body = CallPlaced, description = "The operator's phone is ringing"),
        (status = 404, body = ErrorBody, description = "No such appeal"),
        (status = 409, body = ErrorBody, description = "The card is not awaiting verification, has no number to call, or no softphone of the operator is registered"),
    ))]
async fn call(
    State(state): State<AppState>,
    auth: Auth,
    Path(number): Path<String>,
) -> Result<(StatusCode, Json<CallPlaced>), ApiError> {
    auth.require(&[Role::Operator])?;
    let user = auth.user();
    let no_phone = || ApiError::forbidden("this user has no operator's softphone to ring");
    let store = &state.store;
    let operator_id = user.operator_id.ok_or_else(no_phone)?;
    let login = store
        .operator_login(operator_id)
        .await?
        .ok_or_else(no_phone)?;
    let operator = store
        .operator_by_login(&login)
        .await?
        .ok_or_else(no_phone)?;
    let appeal = store
        .appeal_by_registration_number(&number)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("appeal {number} not found")))?;
    let stored = store
        .appeal_card(appeal.id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("appeal {number} not found")))?;
    if stored.card.verification.is_none() {
        return Err(ApiError::conflict("the card is not awaiting verification"));
    }
    if stored.card.anonymous || appeal.caller_phone.is_empty() {
        return Err(ApiError::conflict("the card has no number to call"));
    }
    let Some(dialer) = state.dialer.clone() else {
        return Err(ApiError::unavailable(
            "calls out are not configured ([outbound] in the configuration)",
        ));
    };
    let Some(line) = dialer.line() else {
        return Err(ApiError::unavailable(
            "every outbound line is busy; try again in a minute",
        ));
    };
    let call = crate::ids::CallId::random();
    let (ringing, rings) = tokio::sync::oneshot::channel();
    let request = crate::call::outbound::Bridged {
        call,
        appeal: appeal.id,
        registration_number: appeal.registration_number.to_string(),
        number: appeal.caller_phone.clone(),
        operator: operator.login.clone(),
        extension: operator.extension.clone(),
        ringing: Some(ringing),
    };
    info!(number = %number, operator = %operator.login, call = %call, "click-to-call");
    tokio::spawn(async move {
        dialer.bridge(line, request).await;
    });
    // Said at once when the operator's softphone is not registered (the
    // call is on file, ended as failed).
    match tokio::time::timeout(std::time::Duration::from_secs(5), rings).await {
        Ok(Ok(false)) => {
            return Err(ApiError::conflict(
                "no softphone of yours is registered: sign in on your phone and try again",
            ));
        }
        Ok(Ok(true)) => {}
        // Failed before ringing (no port, the database): the call's row says.
        Ok(Err(_)) | Err(_) => {
            return Err(ApiError::unavailable(
                "the call could not be placed; try again",
            ));
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(CallPlaced {
            call: call.as_uuid(),
        }),
    ))
}
