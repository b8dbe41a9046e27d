//! HTTP for reports: `GET /api/reports` (the reports this user may make,
//! each with the period it covers by default, and the executors to choose
//! from), `GET /api/reports/{kind}?from=&to=&executor=&format=&rows=` (the
//! report as the page's JSON, each table cut to its first `rows` when
//! asked, or as an XLSX, PDF or CSV download);
//! `GET /api/report-deliveries` (the schedules and the latest e-mailed
//! reports with their outcome) and `POST /api/report-deliveries/{id}/retry`
//! (a failed one sent again).
//!
//! Who sees what: supervisors and admins every report of the city;
//! an executor's user only their own organisation's (the daily report and
//! the period reports, counted for that executor alone, without the
//! contact centre's calls). The deliveries: supervisors and admins see
//! them; only admins send a failed one again.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::build::{self, Request};
use super::kinds::ReportKind;
use super::{Format, ReportError, ReportSettings};
use crate::api::auth::Auth;
use crate::api::error::ErrorBody;
use crate::api::{ApiError, AppState};
use crate::appeal::lifecycle::Lifecycle;
use crate::store::{Role, Store};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(report))
        .routes(routes!(deliveries))
        .routes(routes!(retry))
}

/// A report this user may make.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ReportOffered)]
struct Kind {
    #[schema(value_type = ReportKind)]
    kind: &'static str,
    title: &'static str,
    /// The period it covers when none is chosen (the one just over).
    from: String,
    to: String,
    /// It is made for one executor.
    per_executor: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ReportExecutor)]
struct Executor {
    code: String,
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Reports {
    kinds: Vec<Kind>,
    /// The executors to choose from: all, or the user's own.
    executors: Vec<Executor>,
    /// The user's own executor, which their reports are always of.
    own_executor: Option<String>,
}

/// The kinds an executor's user may make: their organisation's.
const EXECUTOR_KINDS: &[ReportKind] = &[
    ReportKind::Daily,
    ReportKind::Weekly,
    ReportKind::Monthly,
    ReportKind::Period,
];

/// Who may see which reports: `None` for the whole city, or the
/// executor whose own the user's are.
fn scope(auth: &Auth) -> Result<Option<String>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Admin, Role::Executor])?;
    let user = auth.user();
    if user.role != Role::Executor {
        return Ok(None);
    }
    user.executor
        .clone()
        .map(Some)
        .ok_or_else(|| ApiError::forbidden("this executor's user belongs to no executor"))
}

/// The reports this user may make, each with the period it covers by
/// default, and the executors to choose from. Supervisors, admins, and
/// executors' users (their own organisation's).
#[utoipa::path(get, path = "/api/reports", operation_id = "list_reports", tag = "reports",
    responses((status = 200, body = Reports)))]
async fn list(
    State(store): State<Store>,
    State(rules): State<Arc<Lifecycle>>,
    auth: Auth,
) -> Result<Json<Reports>, ApiError> {
    let own = scope(&auth)?;
    let today = rules.calendar().date(Utc::now());
    let kinds = ReportKind::ALL
        .iter()
        .filter(|k| own.is_none() || EXECUTOR_KINDS.contains(k))
        .map(|k| {
            let period = k.default_period(today);
            Kind {
                kind: k.as_str(),
                title: k.title(),
                from: period.first.to_string(),
                to: period.last.to_string(),
                per_executor: k.per_executor(),
            }
        })
        .collect();
    let (names, _) = store.report_names().await?;
    let executors = names
        .executors
        .into_iter()
        .filter(|(code, _)| own.as_ref().is_none_or(|o| o == code))
        .map(|(code, name)| Executor { code, name })
        .collect();
    Ok(Json(Reports {
        kinds,
        executors,
        own_executor: own,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Wanted {
    /// The first day, `YYYY-MM-DD` (the period just over unless given).
    from: Option<String>,
    /// The last day, `YYYY-MM-DD`.
    to: Option<String>,
    /// The executor's code, for the reports made per executor (an
    /// executor's user gets their own whatever is given).
    executor: Option<String>,
    /// `json` (the default), `xlsx`, `pdf` or `csv`.
    format: Option<String>,
    /// The most rows of each table in the JSON (the page's: a year's
    /// overdue list can be tens of thousands); the files hold them all.
    rows: Option<usize>,
}

/// A report: as the page's JSON (each table cut to its first `rows` when
/// asked), or an XLSX, PDF or CSV download. An executor's user gets their
/// own organisation's only.
#[utoipa::path(get, path = "/api/reports/{kind}", operation_id = "make_report", tag = "reports",
    params(("kind" = ReportKind, Path, description = "Which report"), Wanted),
    responses(
        (status = 200, description = "The report", content(
            (super::document::Report = "application/json"),
            (Value = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (Value = "application/pdf"),
            (Value = "text/csv"),
        )),
        (status = 404, body = ErrorBody, description = "No such report, or no such executor"),
        (status = 422, body = ErrorBody, description = "A wrong period or format, or no executor for a report made per executor"),
    ))]
async fn report(
    State(store): State<Store>,
    State(rules): State<Arc<Lifecycle>>,
    State(settings): State<Arc<ReportSettings>>,
    auth: Auth,
    Path(kind): Path<String>,
    Query(wanted): Query<Wanted>,
) -> Result<Response, ApiError> {
    let own = scope(&auth)?;
    let kind = ReportKind::parse(&kind)
        .ok_or_else(|| ApiError::not_found(format!("there is no report {kind:?}")))?;
    let format = match wanted.format.as_deref() {
        None => Format::Json,
        Some(f) => Format::parse(f).ok_or_else(|| {
            ApiError::Unprocessable(format!("format {f:?}: json, xlsx, pdf or csv").into())
        })?,
    };
    let executor = match &own {
        Some(own) => {
            if !EXECUTOR_KINDS.contains(&kind) {
                return Err(ApiError::forbidden("this report is the contact centre's"));
            }
            if wanted.executor.as_ref().is_some_and(|e| e != own) {
                return Err(ApiError::forbidden("another executor's report"));
            }
            Some(own.clone())
        }
        None => wanted.executor.filter(|e| !e.trim().is_empty()),
    };
    let calendar = rules.calendar();
    let now = Utc::now();
    let period = kind
        .period(
            wanted.from.as_deref(),
            wanted.to.as_deref(),
            calendar.date(now),
        )
        .map_err(ReportError::from)?;
    let request = Request {
        kind,
        period,
        executor,
    };
    let mut made = build::make(&store, calendar, &settings, &request, now).await?;
    if format == Format::Json {
        if let Some(max) = wanted.rows {
            for section in &mut made.sections {
                section.table.keep_first(max);
            }
        }
        return Ok(Json(made).into_response());
    }
    let bytes = super::render(&made, format, &settings)?;
    let name = super::file_name(&made, format);
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        bytes,
    )
        .into_response())
}

/// A schedule as the page shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ReportSchedule)]
struct ScheduleView {
    #[schema(value_type = ReportKind)]
    report: &'static str,
    title: &'static str,
    /// "08:00", the city's time.
    at: String,
    /// As the configuration writes it: "working", "mon", "day 1"...
    days: String,
    format: &'static str,
    to: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = MailServer)]
struct MailView {
    host: String,
    port: u16,
    security: crate::mail::Security,
    from: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Deliveries {
    /// The SMTP server, without its account; none: nothing is e-mailed.
    mail: Option<MailView>,
    schedules: Vec<ScheduleView>,
    deliveries: Vec<super::delivery::Delivery>,
}

/// The report schedules, the SMTP server (without its account) and the
/// latest e-mailed reports with their outcome. Supervisors, admins.
#[utoipa::path(get, path = "/api/report-deliveries", operation_id = "report_deliveries", tag = "reports",
    responses((status = 200, body = Deliveries)))]
async fn deliveries(
    State(store): State<Store>,
    State(settings): State<Arc<ReportSettings>>,
    auth: Auth,
) -> Result<Json<Deliveries>, ApiError> {
    auth.require(&[Role::Supervisor, Role::Admin])?;
    let schedules = settings
        .schedules()
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|s| ScheduleView {
            report: s.kind.as_str(),
            title: s.kind.title(),
            at: format!("{:02}:{:02}", s.at / 60, s.at % 60),
            days: s.days.config_text(),
            format: s.format.extension(),
            to: s.to,
        })
        .collect();
    Ok(Json(Deliveries {
        mail: settings.mail.as_ref().map(|m| MailView {
            host: m.host.clone(),
            port: m.port(),
            security: m.security,
            from: m.from.clone(),
        }),
        schedules,
        deliveries: store.deliveries(200).await?,
    }))
}

/// Sends a failed delivery again. Admins.
#[utoipa::path(post, path = "/api/report-deliveries/{id}/retry", operation_id = "retry_delivery", tag = "reports",
    params(("id" = uuid::Uuid, Path, description = "The delivery")),
    responses(
        (status = 204, description = "Queued to be sent again"),
        (status = 409, body = ErrorBody, description = "Only a failed delivery can be sent again"),
    ))]
async fn retry(
    State(store): State<Store>,
    auth: Auth,
    Path(id): Path<uuid::Uuid>,
) -> Result<axum::http::StatusCode, ApiError> {
    auth.require(&[Role::Admin])?;
    if store.retry_delivery(id, Utc::now()).await? {
        tracing::info!(delivery = %id, by = %auth.user().login, "a failed report delivery is sent again");
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::Conflict(
            "only a failed delivery can be sent again".into(),
        ))
    }
}
