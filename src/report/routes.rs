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
use axum::routing::{get, post};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::build::{self, Request};
use super::kinds::ReportKind;
use super::{Format, ReportError, ReportSettings};
use crate::api::auth::Auth;
use crate::api::{ApiError, AppState};
use crate::appeal::lifecycle::Lifecycle;
use crate::store::{Role, Store};

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/reports", get(list))
        .route("/api/reports/{kind}", get(report))
        .route("/api/report-deliveries", get(deliveries))
        .route("/api/report-deliveries/{id}/retry", post(retry))
}

/// A report this user may make.
#[derive(Serialize)]
struct Kind {
    kind: &'static str,
    title: &'static str,
    /// The period it covers when none is chosen (the one just over).
    from: String,
    to: String,
    /// It is made for one executor.
    per_executor: bool,
}

#[derive(Serialize)]
struct Executor {
    code: String,
    name: String,
}

#[derive(Serialize)]
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

#[derive(Deserialize)]
struct Wanted {
    from: Option<String>,
    to: Option<String>,
    executor: Option<String>,
    format: Option<String>,
    /// The most rows of each table in the JSON (the page's: a year's
    /// overdue list can be tens of thousands); the files hold them all.
    rows: Option<usize>,
}

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
#[derive(Serialize)]
struct ScheduleView {
    report: &'static str,
    title: &'static str,
    /// "08:00", the city's time.
    at: String,
    /// As the configuration writes it: "working", "mon", "day 1"...
    days: String,
    format: &'static str,
    to: Vec<String>,
}

#[derive(Serialize)]
struct MailView {
    host: String,
    port: u16,
    security: crate::mail::Security,
    from: String,
}

#[derive(Serialize)]
struct Deliveries {
    /// The SMTP server, without its account; none: nothing is e-mailed.
    mail: Option<MailView>,
    schedules: Vec<ScheduleView>,
    deliveries: Vec<super::delivery::Delivery>,
}

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
