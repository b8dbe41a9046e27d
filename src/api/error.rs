//! [`ApiError`]: every way a request can fail, and the one place where a
//! failure becomes an HTTP status and a body. Handlers return
//! `Result<_, ApiError>` and use `?`: the store's, the queue service's and
//! the role check's errors convert on their own, so no handler picks a
//! status by hand for them.
//!
//! Bodies: `{"error": "…"}`, or `{"errors": [{"field", "message"}]}` (one
//! per wrong field, what the pages show under each field). 429 carries
//! `Retry-After`.

use std::borrow::Cow;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::appeal::lifecycle::Refusal;
use crate::appeal::{FieldError, RegisterError};
use crate::queue::RouterError;
use crate::queue::service::ServiceError;
use crate::store::{Role, StoreError};

/// Why a request was not served.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request itself is malformed (not a field of it).
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    /// 401: no session, or it has ended.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: signed in, but not allowed this.
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    /// 404.
    #[error("{0}")]
    NotFound(Cow<'static, str>),
    /// 409: the thing is in a state that does not allow it.
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    /// 410: it existed, and was removed (retention).
    #[error("{0}")]
    Gone(&'static str),
    /// 413.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422 with one message.
    #[error("{0}")]
    Unprocessable(Cow<'static, str>),
    /// 422 with a message per wrong field.
    #[error("{} wrong field(s)", .0.len())]
    Fields(Vec<FieldError>),
    /// A step of a card's life the rules refuse (`docs/lifecycle.md`).
    #[error("{0}")]
    Refused(Refusal),
    /// 429 until `retry_after` has passed.
    #[error("{message}")]
    TooManyRequests {
        message: &'static str,
        retry_after: Duration,
    },
    /// 500: our own fault (a damaged path on file, a task that died). The
    /// detail is logged with an incident number; the client gets the
    /// number only.
    #[error("{0}")]
    Internal(Cow<'static, str>),
    /// 503: the database, the disk or a service failed. Like `Internal`,
    /// the detail (an SQL error, a path) is logged, never sent.
    #[error("{0}")]
    Backend(String),
    /// 503 that people are meant to read: something is not set up or is
    /// busy ("every outbound line is busy").
    #[error("{0}")]
    Unavailable(Cow<'static, str>),
}

impl ApiError {
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::BadRequest(message.into())
    }

    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Forbidden(message.into())
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::NotFound(message.into())
    }

    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Conflict(message.into())
    }

    pub fn unprocessable(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Unprocessable(message.into())
    }

    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Internal(message.into())
    }

    /// A 503 from a failure below (the database, a file): its detail is
    /// logged, not sent.
    pub fn backend(detail: impl std::fmt::Display) -> Self {
        ApiError::Backend(detail.to_string())
    }

    /// A 503 whose message is for people to read.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        ApiError::Unavailable(message.into())
    }

    /// A 422 naming one wrong field.
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        ApiError::Fields(vec![FieldError {
            field,
            message: message.into(),
        }])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) | ApiError::Fields(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Refused(refusal) => match refusal {
                Refusal::Role { .. }
                | Refusal::NotYourCard
                | Refusal::NotLead(_)
                | Refusal::LeadCannotDecline
                | Refusal::NotYourRequest => StatusCode::FORBIDDEN,
                r if r.is_about_fields() => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::CONFLICT,
            },
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) | ApiError::Backend(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// `{"error": "…"}`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    /// What went wrong, for people (Ukrainian, often with English after a
    /// slash). A failure of ours carries an incident number to quote.
    error: &'a str,
    /// For a refused step: its stable name, for the console's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
}

/// `{"errors": [{"field", "message"}]}`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = FieldErrors)]
pub struct FieldsBody<'a> {
    /// One per wrong field.
    errors: &'a [FieldError],
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Fields(errors) = &self {
            return (status, Json(FieldsBody { errors })).into_response();
        }
        let message = match &self {
            ApiError::Internal(detail) => hidden(status, detail),
            ApiError::Backend(detail) => hidden(status, detail),
            _ => self.to_string(),
        };
        let code = match &self {
            ApiError::Refused(refusal) => Some(refusal.code()),
            _ => None,
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: &message,
                code,
            }),
        )
            .into_response();
        if let ApiError::TooManyRequests { retry_after, .. } = self {
            let secs = retry_after.as_secs().max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// What the client is told of a failure of ours: an incident number to
/// quote; the detail goes to the log under that number. A database's or a
/// file system's words (SQL, paths, addresses) never reach a client.
fn hidden(status: StatusCode, detail: &str) -> String {
    let incident = &uuid::Uuid::new_v4().simple().to_string()[..8];
    tracing::error!(%incident, status = status.as_u16(), %detail, "request failed");
    if status == StatusCode::SERVICE_UNAVAILABLE {
        format!(
            "Сервіс тимчасово недоступний, спробуйте за хвилину (інцидент {incident}) / \
             The service is unavailable, try again in a minute (incident {incident})."
        )
    } else {
        format!(
            "Внутрішня помилка сервера (інцидент {incident}) / Internal server error \
             (incident {incident})."
        )
    }
}

/// A store error the handler did not handle itself: a missing row is 404,
/// a refused value 422, a taken key 409; anything else means the database
/// cannot answer now (503).
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::NotFound(e.to_string().into()),
            StoreError::Invalid { reason, .. } => ApiError::Unprocessable(reason.into()),
            StoreError::AlreadyExists { .. } => ApiError::Conflict(e.to_string().into()),
            StoreError::Stale { .. } => ApiError::Conflict(e.to_string().into()),
            other => ApiError::backend(other),
        }
    }
}

/// A step of a card's life not taken: the rules' refusal, the store's
/// failure, a card gone (404) or one that kept changing (409).
impl From<crate::appeal::verification_store::StepError> for ApiError {
    fn from(e: crate::appeal::verification_store::StepError) -> Self {
        use crate::appeal::verification_store::StepError;
        match e {
            StepError::Refused(refusal) => refusal.into(),
            StepError::Store(e) => e.into(),
            StepError::Gone => ApiError::not_found(e.to_string()),
            StepError::KeptChanging => ApiError::conflict(e.to_string()),
        }
    }
}

/// A report not made: a wrong period or executor is the request's fault
/// (422, 404); the store's, ours to say (503); a file that could not be
/// written, ours (500).
impl From<crate::report::ReportError> for ApiError {
    fn from(e: crate::report::ReportError) -> Self {
        use crate::report::ReportError as R;
        match e {
            R::Store(e) => e.into(),
            R::Period(_) | R::NoExecutor => ApiError::Unprocessable(e.to_string().into()),
            R::UnknownExecutor(_) => ApiError::not_found(e.to_string()),
            R::Xlsx(_) | R::Json(_) | R::Pdf(_) => ApiError::internal(e.to_string()),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        ApiError::Refused(refusal)
    }
}

/// An appeal that was not registered: a 422 naming every wrong field, or
/// the store's failure.
impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::Fields(errors) => ApiError::Fields(errors),
            RegisterError::Store(e) => e.into(),
        }
    }
}

/// The queue service: an unknown operator is 404; a state change the
/// operator's call or ringing phone does not allow, 409.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::UnknownOperator(_) => ApiError::not_found("no such operator"),
            ServiceError::Router(
                e
                @ (RouterError::OnCall(_) | RouterError::Ringing(_) | RouterError::NotLoggedIn(_)),
            ) => ApiError::Conflict(e.to_string().into()),
            other => ApiError::backend(other),
        }
    }
}

/// Any module's error, in one place: what the store, the registration
/// rules and the queue service say maps as their own `From`s above; a
/// configuration or start-up error, a broken prompt or file means the
/// server cannot do it now (503); a malformed SIP message or SDP is not
/// something a request to the API can cause, so it is ours (500).
impl From<crate::Error> for ApiError {
    fn from(e: crate::Error) -> Self {
        use crate::Error as E;
        match e {
            E::Store(e) => e.into(),
            E::Register(e) => e.into(),
            E::QueueService(e) => e.into(),
            E::Router(e) => ServiceError::Router(e).into(),
            E::Report(e) => e.into(),
            E::Config(_)
            | E::Server(_)
            | E::Classifier(_)
            | E::Attachment(_)
            | E::Recording(_)
            | E::Prompt(_)
            | E::Ivr(_)
            | E::QueueConfig(_)
            | E::Queue(_)
            | E::Ports(_) => ApiError::backend(e),
            E::Sdp(_) | E::Wire(_) | E::Message(_) | E::Digest(_) | E::Endpoint(_) => {
                ApiError::internal(e.to_string())
            }
        }
    }
}

/// A JSON body that does not parse, or has the wrong fields: 422 with what
/// serde found.
impl From<JsonRejection> for ApiError {
    /// A body over the size limit is 413; any other bad body 422.
    fn from(e: JsonRejection) -> Self {
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(e.body_text()),
            _ => ApiError::Unprocessable(e.body_text().into()),
        }
    }
}

/// A role that may not make the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forbidden(pub Role);

impl From<Forbidden> for ApiError {
    fn from(f: Forbidden) -> Self {
        ApiError::Forbidden(format!("not allowed for the role {}", f.0).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(e: ApiError) -> (StatusCode, Option<String>, serde_json::Value) {
        let r = e.into_response();
        let status = r.status();
        let retry = r
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        (status, retry, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn errors_are_json_with_their_status() {
        let (status, _, json) = body(ApiError::not_found("no such call")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(json, serde_json::json!({ "error": "no such call" }));

        let (status, _, json) = body(ApiError::field("number", "Номер не розпізнано.")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            json,
            serde_json::json!({ "errors": [{ "field": "number", "message": "Номер не розпізнано." }] })
        );

        let (status, retry, _) = body(ApiError::TooManyRequests {
            message: "try again later",
            retry_after: Duration::from_millis(300),
        })
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry.as_deref(), Some("1"), "never Retry-After: 0");
    }

    #[test]
    fn store_errors_map_to_statuses() {
        let id = uuid::Uuid::nil();
        let cases = [
            (
                StoreError::NotFound { what: "call", id },
                StatusCode::NOT_FOUND,
            ),
            (
                StoreError::Invalid {
                    field: "reason",
                    reason: "too long".into(),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                StoreError::AlreadyExists {
                    what: "user",
                    key: "olena".into(),
                },
                StatusCode::CONFLICT,
            ),
            (
                StoreError::PasswordHashing("cancelled".into()),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ];
        for (e, status) in cases {
            assert_eq!(ApiError::from(e).status(), status);
        }
        assert_eq!(
            ApiError::from(Forbidden(Role::Executor)).status(),
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn the_crate_error_maps_through_its_modules_own_mappings() {
        let id = uuid::Uuid::nil();
        let missing = crate::Error::from(StoreError::NotFound { what: "call", id });
        assert_eq!(ApiError::from(missing).status(), StatusCode::NOT_FOUND);
        let fields = crate::Error::from(RegisterError::Fields(Vec::new()));
        assert_eq!(
            ApiError::from(fields).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let busy = crate::Error::from(RouterError::OnCall(crate::queue::OperatorId::new("olena")));
        assert_eq!(ApiError::from(busy).status(), StatusCode::CONFLICT);
        let sdp = crate::Error::from(crate::sdp::SdpError::NoAudio);
        assert_eq!(
            ApiError::from(sdp).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
