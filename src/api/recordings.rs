//! Recordings for the people entitled to them (000 §2.7):
//!
//! - `GET /api/recordings?from&to&caller&operator&queue&call_id&appeal&min_secs&max_secs&page&per_page`:
//!   a page of recordings, newest first, with each call's caller, queue,
//!   operator, wait and linked appeals.
//! - `GET /api/recordings/{id}`: one, with the call's path through the IVR,
//!   its queue steps and its legal holds.
//! - `GET /api/recordings/{id}/audio`: the WAV, with HTTP Range requests
//!   (seeking); `?download=1` as a download. Every request is written to
//!   the access log first (who, what, when, from where); a recording is
//!   named by its id only, its path comes from the database.
//! - `POST /api/recordings/{id}/hold`, `POST /api/appeals/{number}/hold`
//!   with `{"reason"}`, `DELETE /api/holds/{id}`: legal holds
//!   (supervisors, admins).
//! - `GET /api/recording-access?from&to&recording&format=csv`: the access
//!   log (admins), as JSON or CSV.
//!
//! Supervisors and admins see every recording; an operator only those of
//! calls they answered, for 24 hours after the call; executors none.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;
use tracing::{info, warn};
use uuid::Uuid;

use super::auth::{Auth, error};
use crate::server::HttpState;
use crate::store::recordings::{NewAccess, RecordingFilter, RecordingItem};
use crate::store::retention::{HoldTarget, LegalHold};
use crate::store::{FieldError, Role, StoreError};

/// How long an operator may listen to a call they took.
pub const OPERATOR_WINDOW: TimeDelta = TimeDelta::hours(24);
const HOLD_ROLES: &[Role] = &[Role::Supervisor, Role::Admin];
const MAX_PER_PAGE: u32 = 200;

pub fn routes() -> axum::Router<HttpState> {
    axum::Router::new()
        .route("/api/recordings", get(search))
        .route("/api/recordings/{id}", get(detail))
        .route("/api/recordings/{id}/audio", get(audio))
        .route("/api/recordings/{id}/hold", post(hold_recording))
        .route("/api/appeals/{number}/hold", post(hold_appeal))
        .route("/api/holds/{id}", delete(release))
        .route("/api/recording-access", get(access_log))
}

/// Which recordings this user may see: all (`None`), those of calls an
/// operator answered (`Some(operator id)`), or none (403).
fn scope(auth: &Auth) -> Result<Option<Uuid>, Forbidden> {
    match auth.role() {
        Role::Supervisor | Role::Admin => Ok(None),
        Role::Operator => auth
            .0
            .user
            .operator_id
            .map(Some)
            .ok_or(Forbidden("this operator user has no operator")),
        Role::Executor => Err(Forbidden(
            "recordings are for supervisors (and operators, of their own calls)",
        )),
    }
}

/// A 403 with its reason.
struct Forbidden(&'static str);

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        error(StatusCode::FORBIDDEN, self.0)
    }
}

/// The recording, if this user may have it: 404 if there is none, 403 if
/// it is not theirs to hear.
async fn allowed(state: &HttpState, auth: &Auth, id: Uuid) -> Result<RecordingItem, Response> {
    let operator = scope(auth).map_err(IntoResponse::into_response)?;
    let store = &state.ctx.store;
    let item = store
        .recording_item(id)
        .await
        .map_err(|e| error(StatusCode::SERVICE_UNAVAILABLE, e))?
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such recording"))?;
    if let Some(op) = operator {
        let took = store
            .operator_took_call(op, item.call_id)
            .await
            .map_err(|e| error(StatusCode::SERVICE_UNAVAILABLE, e))?;
        if !took {
            return Err(error(StatusCode::FORBIDDEN, "not a call you took"));
        }
        if item.started_at < Utc::now() - OPERATOR_WINDOW {
            return Err(error(
                StatusCode::FORBIDDEN,
                "an operator may listen to their calls for 24 hours only",
            ));
        }
    }
    Ok(item)
}

fn item_json(r: &RecordingItem) -> Value {
    json!({
        "id": r.id,
        "call_id": r.call_id,
        "started_at": r.started_at,
        "duration_ms": r.duration_ms,
        "size_bytes": r.size_bytes,
        "purged_at": r.purged_at,
        "caller": r.caller,
        "sip_call_id": r.sip_call_id,
        "queue": r.queue,
        "operator": r.operator,
        "waited_ms": r.waited_ms,
        "appeals": r.appeals,
        "audio_url": (r.purged_at.is_none()).then(|| format!("/api/recordings/{}/audio", r.id)),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SearchQuery {
    from: Option<String>,
    to: Option<String>,
    caller: Option<String>,
    operator: Option<String>,
    queue: Option<String>,
    call_id: Option<String>,
    appeal: Option<String>,
    min_secs: Option<String>,
    max_secs: Option<String>,
    purged: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
}

/// A moment from a query: RFC 3339, or a date (`from`: the start of that
/// day, `to`: the end of it, on the server's clock).
fn moment(text: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    let edge = if end_of_day {
        super::DayEdge::End
    } else {
        super::DayEdge::Start
    };
    super::moment(text, edge)
}

fn bad_query(field: &'static str, message: &str) -> Response {
    super::field_errors(vec![FieldError {
        field,
        message: message.to_owned(),
    }])
}

async fn search(
    State(state): State<HttpState>,
    auth: Auth,
    Query(q): Query<SearchQuery>,
) -> Response {
    let operator = match scope(&auth) {
        Ok(o) => o,
        Err(refused) => return refused.into_response(),
    };
    let nonempty = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut filter = RecordingFilter {
        operator: nonempty(&q.operator),
        queue: nonempty(&q.queue),
        appeal: nonempty(&q.appeal),
        include_purged: matches!(q.purged.as_deref(), Some("1" | "true")),
        ..Default::default()
    };
    if let Some(text) = nonempty(&q.from) {
        match moment(&text, false) {
            Some(t) => filter.from = Some(t),
            None => return bad_query("from", "Дата: РРРР-ММ-ДД."),
        }
    }
    if let Some(text) = nonempty(&q.to) {
        match moment(&text, true) {
            Some(t) => filter.to = Some(t),
            None => return bad_query("to", "Дата: РРРР-ММ-ДД."),
        }
    }
    if let Some(text) = nonempty(&q.caller) {
        // Any written form finds the number; what does not normalise is
        // looked for as the call had it (e.g. "anonymous").
        filter.caller = Some(
            state
                .ctx
                .numbering
                .normalise(&text)
                .map(|n| n.to_string())
                .unwrap_or(text),
        );
    }
    if let Some(text) = nonempty(&q.call_id) {
        match text.parse() {
            Ok(id) => filter.call_id = Some(id),
            Err(_) => return bad_query("call_id", "Ідентифікатор дзвінка має вигляд UUID."),
        }
    }
    for (field, value, slot) in [
        ("min_secs", &q.min_secs, &mut filter.min_duration_ms),
        ("max_secs", &q.max_secs, &mut filter.max_duration_ms),
    ] {
        if let Some(text) = nonempty(value) {
            match text.parse::<u64>() {
                Ok(secs) => *slot = Some(secs.saturating_mul(1000)),
                Err(_) => return bad_query(field, "Тривалість — ціле число секунд."),
            }
        }
    }
    if let Some(op) = operator {
        filter.taken_by = Some(op);
        let window = Utc::now() - OPERATOR_WINDOW;
        filter.from = Some(filter.from.map_or(window, |f| f.max(window)));
    }
    let page: u64 = q
        .page
        .as_deref()
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let per_page: u32 = q
        .per_page
        .as_deref()
        .and_then(|p| p.parse().ok())
        .unwrap_or(50)
        .clamp(1, MAX_PER_PAGE);
    match state
        .ctx
        .store
        .search_recordings(&filter, (page - 1) * u64::from(per_page), per_page)
        .await
    {
        Ok((items, total)) => Json(json!({
            "page": page,
            "per_page": per_page,
            "total": total,
            "recordings": items.iter().map(item_json).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

fn hold_json(h: &LegalHold) -> Value {
    let (kind, target) = match h.target {
        HoldTarget::Recording(r) => ("recording", r),
        HoldTarget::Appeal(a) => ("appeal", a),
    };
    json!({
        "id": h.id,
        "on": kind,
        "target": target,
        "reason": h.reason,
        "set_by": h.set_by,
        "set_at": h.set_at,
        "released_at": h.released_at,
    })
}

async fn detail(State(state): State<HttpState>, auth: Auth, Path(id): Path<Uuid>) -> Response {
    let item = match allowed(&state, &auth, id).await {
        Ok(i) => i,
        Err(response) => return response,
    };
    let store = &state.ctx.store;
    let events = match store.call_events(item.call_id).await {
        Ok(e) => e,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let holds = match store.holds_on(HoldTarget::Recording(id)).await {
        Ok(h) => h,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let call = match store.get_call(item.call_id).await {
        Ok(c) => c,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let mut body = item_json(&item);
    body["ivr_path"] = json!(
        events
            .iter()
            .filter(|e| e.kind == "ivr")
            .map(|e| e.detail.clone())
            .collect::<Vec<_>>()
    );
    body["events"] = json!(
        events
            .iter()
            .map(|e| json!({ "at": e.at, "kind": e.kind, "detail": e.detail }))
            .collect::<Vec<_>>()
    );
    body["call"] = json!(call.map(|c| json!({
        "arrived_at": c.arrived_at,
        "answered_at": c.answered_at,
        "ended_at": c.ended_at,
        "ended_by": c.ended_by.map(|b| b.as_str()),
        "disposition": c.disposition.map(|d| d.as_str()),
        "called_number": c.called_number,
        "codec": c.codec,
    })));
    body["holds"] = json!(holds.iter().map(hold_json).collect::<Vec<_>>());
    Json(body).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AudioQuery {
    download: Option<String>,
}

/// `GET /api/recordings/{id}/audio`: logged, then served from the path the
/// database holds, with Range support.
async fn audio(
    State(state): State<HttpState>,
    auth: Auth,
    Path(id): Path<Uuid>,
    Query(q): Query<AudioQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let item = match allowed(&state, &auth, id).await {
        Ok(i) => i,
        Err(response) => return response,
    };
    if item.purged_at.is_some() {
        return error(
            StatusCode::GONE,
            "the recording was removed at the end of its retention period",
        );
    }
    let rec = match state.ctx.store.get_recording(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such recording"),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let Some(path) = crate::attachments::plain_join(&state.recordings_dir, &rec.path) else {
        warn!(recording = %id, "a recording's stored path is not a plain relative path");
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the recording's path is damaged",
        );
    };
    let download = matches!(q.download.as_deref(), Some("1" | "true"));
    let headers = request.headers();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let user = &auth.0.user;
    let address = peer.ip().to_string();
    let action = if download { "download" } else { "play" };
    // The log first: an access that cannot be logged does not happen.
    let logged = state
        .ctx
        .store
        .log_recording_access(&NewAccess {
            recording_id: id,
            call_id: item.call_id,
            user_id: user.id,
            login: &user.login,
            role: user.role.as_str(),
            at: Utc::now(),
            action,
            range,
            address: &address,
            user_agent: agent,
        })
        .await;
    if let Err(e) = logged {
        return error(StatusCode::SERVICE_UNAVAILABLE, e);
    }
    info!(recording = %id, by = %user.login, action, range = range.unwrap_or("-"), from = %address, "recording accessed");
    let mut response = match tower_http::services::ServeFile::new(&path)
        .oneshot(request)
        .await
    {
        Ok(r) => r.map(axum::body::Body::new),
        Err(e) => match e {},
    };
    if response.status() == StatusCode::NOT_FOUND {
        warn!(recording = %id, path = %path.display(), "a recording's file is missing");
        return error(StatusCode::NOT_FOUND, "the recording's file is missing");
    }
    let h = response.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if h.contains_key(header::CONTENT_TYPE) {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    }
    let name = format!(
        "{}-{}.wav",
        item.started_at.format("%Y%m%d-%H%M%S"),
        &id.simple().to_string()[..8]
    );
    let kind = if download { "attachment" } else { "inline" };
    if let Ok(v) = HeaderValue::from_str(&super::disposition(kind, &format!("call-{name}"))) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldBody {
    reason: String,
}

async fn set_hold(
    state: &HttpState,
    auth: &Auth,
    target: HoldTarget,
    body: Result<Json<HoldBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(refused) = auth.require(HOLD_ROLES) {
        return refused.into_response();
    }
    let Ok(Json(body)) = body else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "send {\"reason\": …}");
    };
    match state
        .ctx
        .store
        .set_hold(target, &body.reason, Some(auth.0.user.id), Utc::now())
        .await
    {
        Ok(id) => {
            info!(hold = %id, ?target, by = %auth.0.user.login, "legal hold set");
            (StatusCode::CREATED, Json(json!({ "id": id }))).into_response()
        }
        Err(StoreError::Invalid {
            field: "recording", ..
        }) => error(
            StatusCode::CONFLICT,
            "the recording's file was removed already (retention): there is nothing to hold",
        ),
        Err(StoreError::Invalid { .. }) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Вкажіть причину (до 500 символів).",
        ),
        Err(StoreError::NotFound { what, .. }) => {
            error(StatusCode::NOT_FOUND, format!("no such {what}"))
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

async fn hold_recording(
    State(state): State<HttpState>,
    auth: Auth,
    Path(id): Path<Uuid>,
    body: Result<Json<HoldBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    set_hold(&state, &auth, HoldTarget::Recording(id), body).await
}

async fn hold_appeal(
    State(state): State<HttpState>,
    auth: Auth,
    Path(number): Path<String>,
    body: Result<Json<HoldBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(refused) = auth.require(HOLD_ROLES) {
        return refused.into_response();
    }
    match state.ctx.store.appeal_by_registration_number(&number).await {
        Ok(Some(a)) => set_hold(&state, &auth, HoldTarget::Appeal(a.id), body).await,
        Ok(None) => error(StatusCode::NOT_FOUND, "no such appeal"),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

async fn release(State(state): State<HttpState>, auth: Auth, Path(id): Path<Uuid>) -> Response {
    if let Err(refused) = auth.require(HOLD_ROLES) {
        return refused.into_response();
    }
    match state
        .ctx
        .store
        .release_hold(id, Some(auth.0.user.id), Utc::now())
        .await
    {
        Ok(released) => {
            info!(hold = %id, by = %auth.0.user.login, released, "legal hold released");
            Json(json!({ "id": id, "released": released })).into_response()
        }
        Err(StoreError::NotFound { .. }) => error(StatusCode::NOT_FOUND, "no such hold"),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AccessQuery {
    from: Option<String>,
    to: Option<String>,
    recording: Option<Uuid>,
    format: Option<String>,
    limit: Option<u32>,
}

/// A CSV field: quoted, quotes doubled, and a leading `=+-@` defused so a
/// spreadsheet never runs it as a formula.
fn csv_field(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

async fn access_log(
    State(state): State<HttpState>,
    auth: Auth,
    Query(q): Query<AccessQuery>,
) -> Response {
    if let Err(refused) = auth.require(&[Role::Admin]) {
        return refused.into_response();
    }
    let from = match q.from.as_deref().filter(|s| !s.is_empty()) {
        Some(t) => match moment(t, false) {
            Some(t) => Some(t),
            None => return bad_query("from", "Дата: РРРР-ММ-ДД."),
        },
        None => None,
    };
    let to = match q.to.as_deref().filter(|s| !s.is_empty()) {
        Some(t) => match moment(t, true) {
            Some(t) => Some(t),
            None => return bad_query("to", "Дата: РРРР-ММ-ДД."),
        },
        None => None,
    };
    let limit = q.limit.unwrap_or(10_000).clamp(1, 100_000);
    let rows = match state
        .ctx
        .store
        .recording_accesses(from, to, q.recording, limit)
        .await
    {
        Ok(r) => r,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    info!(by = %auth.0.user.login, rows = rows.len(), "recordings' access log read");
    if q.format.as_deref() == Some("csv") {
        let mut out =
            String::from("at,login,role,action,recording_id,call_id,range,address,user_agent\r\n");
        for r in &rows {
            let fields = [
                r.at.to_rfc3339(),
                r.login.clone(),
                r.role.clone(),
                r.action.clone(),
                r.recording_id.to_string(),
                r.call_id.to_string(),
                r.range.clone().unwrap_or_default(),
                r.address.clone(),
                r.user_agent.clone().unwrap_or_default(),
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        return (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"recording-access.csv\"",
                ),
            ],
            out,
        )
            .into_response();
    }
    Json(json!({
        "access": rows.iter().map(|r| json!({
            "at": r.at,
            "login": r.login,
            "role": r.role,
            "action": r.action,
            "recording_id": r.recording_id,
            "call_id": r.call_id,
            "range": r.range,
            "address": r.address,
            "user_agent": r.user_agent,
        })).collect::<Vec<_>>(),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("olena"), "\"olena\"");
        assert_eq!(csv_field("a \"b\""), "\"a \"\"b\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
        assert_eq!(csv_field("bytes=0-"), "\"bytes=0-\"");
    }
}
