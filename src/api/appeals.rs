//! Appeal cards over the API:
//!
//! - `GET /api/classifier`: the current classifier as a tree (section →
//!   issue types, each with its executor and deadline class), for the
//!   card's category field.
//! - `POST /api/appeals` (operators, supervisors, admins): registers a card.
//!   201 with the registration number, deadline and executor; 422 with
//!   `{"errors": [{"field", "message"}]}`, one per wrong field, messages in
//!   Ukrainian for the operator; nothing is written then. An operator may
//!   link a card only to a call they took.
//! - `GET /api/appeals/{number}`: the card, its calls (with their
//!   recordings) and attachments.
//! - `POST /api/appeals/{number}/calls` with `{"call_id": …}`: attaches a
//!   call to a registered card (the citizen called again about it).
//! - `POST /api/appeals/{number}/attachments` (multipart, one `file`): a
//!   photo, video or document for the card (see [`crate::attachments`]);
//!   `GET /api/appeals/{number}/attachments/{id}` downloads it.
//!
//! All of these are for operators, supervisors and admins: executors get
//! their cards with the executors' part of the console.

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use tracing::{info, warn};
use uuid::Uuid;

use super::auth::{Auth, error};
use crate::attachments::{AttachmentError, Piece};
use crate::server::HttpState;
use crate::store::{
    AppealCard, AppealRecord, Attachment, Channel, FieldError, RegisterError, Role, StoreError,
};

/// Why an upload was not kept.
enum UploadFailure {
    File(AttachmentError),
    Store(StoreError),
}

/// Who works with cards in the console.
const CARD_ROLES: &[Role] = &[Role::Operator, Role::Supervisor, Role::Admin];

/// `max_upload`: the largest attachment, in bytes.
pub fn routes(max_upload: u64) -> axum::Router<HttpState> {
    // Room for the multipart framing around the file.
    let body_limit = usize::try_from(max_upload)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    axum::Router::new()
        .route("/api/classifier", get(classifier))
        .route("/api/appeals", post(register))
        .route("/api/appeals/{number}", get(detail))
        .route("/api/appeals/{number}/calls", post(attach_call))
        .route(
            "/api/appeals/{number}/attachments",
            post(upload).layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/api/appeals/{number}/attachments/{id}", get(download))
}

async fn classifier(State(state): State<HttpState>, auth: Auth) -> Response {
    if let Err(refused) = auth.require(&[
        Role::Operator,
        Role::Supervisor,
        Role::Executor,
        Role::Admin,
    ]) {
        return refused.into_response();
    }
    let store = &state.ctx.store;
    let version = match store.current_classifier_version().await {
        Ok(Some(v)) => v,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                "no classifier imported yet: run `hotline classifier import`",
            );
        }
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let categories = match store.categories(version.number).await {
        Ok(c) => c,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let mut sections: Vec<serde_json::Value> = Vec::new();
    for c in categories {
        let item = json!({
            "id": c.id,
            "code": c.type_code,
            "name": c.type_name,
            "deadline": c.deadline.as_str(),
            "executor": c.executor.name,
        });
        match sections.last_mut() {
            Some(s) if s["code"] == c.section_code.as_str() => {
                if let Some(types) = s["types"].as_array_mut() {
                    types.push(item);
                }
            }
            _ => sections.push(json!({
                "code": c.section_code,
                "name": c.section_name,
                "types": [item],
            })),
        }
    }
    Json(json!({ "version": version.number, "sections": sections })).into_response()
}

/// The card as the console sends it; every field may be missing (the
/// checks say which are required).
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct CardBody {
    surname: String,
    first_name: String,
    patronymic: String,
    address: String,
    contact_phone: String,
    other_contact: String,
    essence: String,
    email: String,
    category_id: Option<Uuid>,
    call_id: Option<Uuid>,
    repeat_of: String,
    channel: Option<String>,
}

async fn register(
    State(state): State<HttpState>,
    auth: Auth,
    body: Result<Json<CardBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(refused) = auth.require(CARD_ROLES) {
        return refused.into_response();
    }
    let body = match body {
        Ok(Json(b)) => b,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, e.body_text()),
    };
    let mut errors = Vec::new();
    // The phone as typed ("067 123 45 67", "(061) 234-56-78") is stored in
    // E.164, so a later call from it finds the card.
    let phone = body.contact_phone.trim();
    let contact_phone = if phone.is_empty() {
        String::new()
    } else {
        match state.ctx.numbering.normalise(phone) {
            Some(e164) => e164.to_string(),
            None => {
                errors.push(FieldError {
                    field: "contact_phone",
                    message: "Номер телефону не розпізнано.".into(),
                });
                String::new()
            }
        }
    };
    let channel = match body.channel.as_deref() {
        None => None,
        Some(c) => match Channel::parse(c) {
            Some(c) => Some(c),
            None => {
                errors.push(FieldError {
                    field: "channel",
                    message: "Канал: phone, walk_in, web або chatbot.".into(),
                });
                None
            }
        },
    };
    if let Some(call) = body.call_id {
        match call_allowed(&state, &auth, call).await {
            Ok(None) => {}
            Ok(Some(refusal)) => errors.push(refusal.field_error()),
            Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
        }
    }
    let card = AppealCard {
        surname: body.surname,
        first_name: body.first_name,
        patronymic: body.patronymic,
        address: body.address,
        // E.164; a phone that did not parse is reported above, and kept
        // as typed so it does not count as missing too.
        contact_phone: if contact_phone.is_empty() {
            phone.to_owned()
        } else {
            contact_phone
        },
        other_contact: body.other_contact,
        essence: body.essence,
        email: body.email,
        category_id: body.category_id,
        call_id: body.call_id,
        repeat_of: body.repeat_of,
        channel,
        registered_by: Some(auth.0.user.id),
    };
    if !errors.is_empty() {
        // Report the card's own problems too, all at once.
        errors.extend(card.check());
        errors.sort_by_key(|e| e.field);
        errors.dedup_by_key(|e| e.field);
        return super::field_errors(errors);
    }
    match state.ctx.store.register_appeal(&card, Utc::now()).await {
        Ok(appeal) => {
            // The card links to the call's recording through the call.
            let recordings: Vec<Uuid> = match appeal.call_id {
                Some(call) => match state.ctx.store.recordings_for_call(call).await {
                    Ok(r) => r.into_iter().map(|r| r.id).collect(),
                    Err(e) => {
                        warn!(error = %e, "cannot list the call's recordings");
                        Vec::new()
                    }
                },
                None => Vec::new(),
            };
            info!(number = %appeal.registration_number, by = %auth.0.user.login, call = ?appeal.call_id, "appeal registered");
            (
                StatusCode::CREATED,
                Json(json!({
                    "id": appeal.id,
                    "registration_number": appeal.registration_number,
                    "category": appeal.category,
                    "executor": appeal.executor,
                    "deadline": appeal.deadline,
                    "status": appeal.status.as_str(),
                    "call_id": appeal.call_id,
                    "recordings": recordings,
                })),
            )
                .into_response()
        }
        Err(RegisterError::Fields(errors)) => super::field_errors(errors),
        Err(RegisterError::Store(e)) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

/// Why a call may not be linked to a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallRefusal {
    Unknown,
    NotYours,
}

impl CallRefusal {
    fn status(self) -> StatusCode {
        match self {
            CallRefusal::Unknown => StatusCode::NOT_FOUND,
            CallRefusal::NotYours => StatusCode::FORBIDDEN,
        }
    }

    fn field_error(self) -> FieldError {
        let message = match self {
            CallRefusal::Unknown => "Такого дзвінка немає.",
            CallRefusal::NotYours => "Цей дзвінок прийняли не ви.",
        };
        FieldError {
            field: "call_id",
            message: message.into(),
        }
    }
}

/// Whether the user may link this call to a card: it must exist, and an
/// operator must have taken it.
async fn call_allowed(
    state: &HttpState,
    auth: &Auth,
    call: Uuid,
) -> Result<Option<CallRefusal>, crate::store::StoreError> {
    let store = &state.ctx.store;
    if store.get_call(call).await?.is_none() {
        return Ok(Some(CallRefusal::Unknown));
    }
    if auth.role() != Role::Operator {
        return Ok(None);
    }
    let took = match auth.0.user.operator_id {
        Some(op) => store.operator_took_call(op, call).await?,
        None => false,
    };
    Ok((!took).then_some(CallRefusal::NotYours))
}

/// The card behind `number` (its record, not everything on it) for a user
/// whose role works with cards, or the response to give instead (403,
/// 404, 503).
async fn card_for(state: &HttpState, auth: &Auth, number: &str) -> Result<AppealRecord, Response> {
    auth.require(CARD_ROLES)
        .map_err(IntoResponse::into_response)?;
    match state.ctx.store.appeal_by_registration_number(number).await {
        Ok(Some(card)) => Ok(card),
        Ok(None) => Err(not_found(number)),
        Err(e) => Err(error(StatusCode::SERVICE_UNAVAILABLE, e)),
    }
}

fn not_found(number: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("no appeal has the number {number:?}"),
    )
}

fn attachment_json(number: &str, a: &Attachment) -> serde_json::Value {
    json!({
        "id": a.id,
        "file_name": a.file_name,
        "content_type": a.content_type,
        "size_bytes": a.size_bytes,
        "uploaded_at": a.uploaded_at,
        "url": format!("/api/appeals/{number}/attachments/{}", a.id),
    })
}

/// `GET /api/appeals/{number}`.
async fn detail(
    State(state): State<HttpState>,
    auth: Auth,
    Path(number): Path<String>,
) -> Response {
    if let Err(refused) = auth.require(CARD_ROLES) {
        return refused.into_response();
    }
    let card = match state.ctx.store.appeal_detail(&number).await {
        Ok(Some(card)) => card,
        Ok(None) => return not_found(&number),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let r = &card.record;
    info!(number = %r.registration_number, by = %auth.0.user.login, "appeal card read");
    Json(json!({
        "id": r.id,
        "registration_number": r.registration_number,
        "status": r.status.as_str(),
        "category": r.category,
        "category_id": card.category_id,
        "executor": r.executor,
        "deadline": r.deadline,
        "created_at": r.created_at,
        "channel": card.channel.map(|c| c.as_str()),
        "surname": card.surname,
        "first_name": card.first_name,
        "patronymic": card.patronymic,
        "address": r.address,
        "contact_phone": r.caller_phone,
        "other_contact": card.other_contact,
        "essence": card.essence,
        "email": card.email,
        "repeat_of": card.repeat_of,
        "registered_by": card.registered_by,
        "calls": card.calls.iter().map(|c| json!({
            "id": c.call_id,
            "attached_at": c.attached_at,
            "recordings": c.recordings,
        })).collect::<Vec<_>>(),
        "attachments": card.attachments.iter()
            .map(|a| attachment_json(&r.registration_number, a))
            .collect::<Vec<_>>(),
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttachCallBody {
    call_id: Uuid,
}

/// `POST /api/appeals/{number}/calls`: 201 attached, 200 if it was already.
async fn attach_call(
    State(state): State<HttpState>,
    auth: Auth,
    Path(number): Path<String>,
    body: Result<Json<AttachCallBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let card = match card_for(&state, &auth, &number).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let Ok(Json(body)) = body else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "send {\"call_id\": \"<our call id>\"}",
        );
    };
    match call_allowed(&state, &auth, body.call_id).await {
        Ok(None) => {}
        Ok(Some(refusal)) => return error(refusal.status(), refusal.field_error().message),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
    let r = &card;
    match state
        .ctx
        .store
        .attach_call(r.id, body.call_id, Some(auth.0.user.id), Utc::now())
        .await
    {
        Ok(attached) => {
            info!(number = %r.registration_number, call = %body.call_id, by = %auth.0.user.login, attached, "call attached to an appeal");
            let status = if attached {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (
                status,
                Json(json!({
                    "registration_number": r.registration_number,
                    "call_id": body.call_id,
                    "attached": attached,
                })),
            )
                .into_response()
        }
        Err(StoreError::NotFound { what, .. }) => {
            error(StatusCode::NOT_FOUND, format!("the {what} is gone"))
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

/// Invisible characters that reorder or hide text (bidi overrides and
/// isolates, zero-width ones): a name could use them to pass `x.exe` off
/// as `exe.png`.
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// A file name as the browser sent it, made safe to show and to put in a
/// header: no folders, no control or invisible characters, at most 200
/// characters, and the extension of what the file really is (`ext`), so a
/// download never opens as something else.
fn clean_file_name(sent: Option<&str>, ext: &str) -> String {
    let base = sent
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && !is_format_char(*c) && *c != '"')
        .take(200)
        .collect::<String>();
    let base = base.trim().trim_start_matches('.');
    let stem = match base.rsplit_once('.') {
        Some((stem, _)) if !stem.trim().is_empty() => stem.trim(),
        _ => base,
    };
    if stem.is_empty() {
        format!("attachment.{ext}")
    } else {
        format!("{stem}.{ext}")
    }
}

/// `POST /api/appeals/{number}/attachments`: one file in the field `file`.
async fn upload(
    State(state): State<HttpState>,
    auth: Auth,
    Path(number): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let card = match card_for(&state, &auth, &number).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let Ok(mut multipart) = multipart else {
        return error(
            StatusCode::BAD_REQUEST,
            "send multipart/form-data with one field \"file\"",
        );
    };
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Файл більший за {} МБ.",
                state.attachments.max_bytes() / (1024 * 1024)
            ),
        )
    };
    let mut field = loop {
        match multipart.next_field().await {
            Ok(Some(f)) if f.name() == Some("file") => break f,
            Ok(Some(_)) => continue,
            Ok(None) => return error(StatusCode::UNPROCESSABLE_ENTITY, "Додайте файл."),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
            Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
        }
    };
    let sent_name = field.file_name().map(str::to_owned);
    let id = Uuid::new_v4();
    let now = Utc::now();
    let (pieces, writer) = state.attachments.spawn_writer(id, now);
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if pieces.send(Piece::Data(chunk)).await.is_err() {
                    // The writer stopped on an error: it says which below.
                    break;
                }
            }
            Ok(None) => {
                let _ = pieces.send(Piece::End).await;
                break;
            }
            Err(e) => {
                drop(pieces);
                let _ = writer.await;
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    return too_large();
                }
                return error(StatusCode::BAD_REQUEST, e.body_text());
            }
        }
    }
    drop(pieces);
    // Finishing and the row in a task of their own: a client that goes
    // away now leaves neither a file without a row nor a row without a file.
    let (store, files, appeal_id, by) = (
        state.ctx.store.clone(),
        state.attachments.clone(),
        card.id,
        auth.0.user.id,
    );
    let job = tokio::spawn(async move {
        let stored = writer
            .await
            .map_err(|e| UploadFailure::File(AttachmentError::Io(std::io::Error::other(e))))?
            .map_err(UploadFailure::File)?;
        let ext = stored.path.rsplit('.').next().unwrap_or("bin").to_owned();
        let attachment = Attachment {
            id,
            appeal_id,
            file_name: clean_file_name(sent_name.as_deref(), &ext),
            content_type: stored.content_type.to_owned(),
            size_bytes: stored.size_bytes,
            sha256: stored.sha256,
            path: stored.path,
            uploaded_at: now,
        };
        if let Err(e) = store.add_attachment(&attachment, Some(by)).await {
            // No row, no file: nothing half-written stays.
            files.remove(&attachment.path).await;
            return Err(UploadFailure::Store(e));
        }
        Ok(attachment)
    });
    let attachment = match job.await {
        Ok(Ok(a)) => a,
        Ok(Err(UploadFailure::File(AttachmentError::TooLarge { .. }))) => return too_large(),
        Ok(Err(UploadFailure::File(AttachmentError::Empty))) => {
            return error(StatusCode::UNPROCESSABLE_ENTITY, "Файл порожній.");
        }
        Ok(Err(UploadFailure::File(AttachmentError::Kind(kind)))) => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Такі файли ({kind}) не приймаються: лише фото, відео, PDF та документи."),
            );
        }
        Ok(Err(UploadFailure::Store(StoreError::NotFound { .. }))) => {
            return error(StatusCode::NOT_FOUND, "the card is gone");
        }
        Ok(Err(UploadFailure::File(e))) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
        Ok(Err(UploadFailure::Store(e))) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let number = &card.registration_number;
    info!(%number, attachment = %id, size = attachment.size_bytes, kind = %attachment.content_type, by = %auth.0.user.login, "attachment stored");
    (
        StatusCode::CREATED,
        Json(attachment_json(number, &attachment)),
    )
        .into_response()
}

/// `GET /api/appeals/{number}/attachments/{id}`: always as a download.
async fn download(
    State(state): State<HttpState>,
    auth: Auth,
    Path((number, id)): Path<(String, Uuid)>,
) -> Response {
    let card = match card_for(&state, &auth, &number).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let attachment = match state.ctx.store.attachment(card.id, id).await {
        Ok(Some(a)) => a,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such attachment on this card"),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let Some(path) = state.attachments.path_of(&attachment.path) else {
        warn!(attachment = %id, "an attachment's stored path is not a plain relative path");
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the attachment's path is damaged",
        );
    };
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            warn!(path = %path.display(), error = %e, "an attachment's file is missing");
            return error(StatusCode::NOT_FOUND, "the attachment's file is missing");
        }
    };
    info!(number = %card.registration_number, attachment = %id, by = %auth.0.user.login, "attachment downloaded");
    let stream = tokio_util::io::ReaderStream::new(file);
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    // The type is one of ours (checked on upload), never the browser's.
    if let Ok(v) = HeaderValue::from_str(&attachment.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&super::disposition("attachment", &attachment.file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CONTENT_LENGTH, attachment.size_bytes.into());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_folders_and_header_breakers() {
        assert_eq!(
            clean_file_name(Some("C:\\Users\\x\\фото 1.jpg"), "jpg"),
            "фото 1.jpg"
        );
        assert_eq!(
            clean_file_name(Some("../../etc/passwd"), "pdf"),
            "passwd.pdf"
        );
        assert_eq!(clean_file_name(Some("a\r\nb\".png"), "png"), "ab.png");
        // The name says what the file is, not what the sender claimed.
        assert_eq!(clean_file_name(Some("report.html"), "pdf"), "report.pdf");
        assert_eq!(
            clean_file_name(Some("photo\u{202E}gnp.exe"), "png"),
            "photognp.png"
        );
        assert_eq!(clean_file_name(Some(".."), "png"), "attachment.png");
        assert_eq!(clean_file_name(None, "pdf"), "attachment.pdf");
    }
}
