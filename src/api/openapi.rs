//! The OpenAPI 3.1 document of hotline's own HTTP API, generated from the
//! code: each handler carries its description (`#[utoipa::path]`: method,
//! path, parameters, bodies, answers; its doc comment is the summary) and
//! each body its schema (`ToSchema`). The router is built from those
//! handlers with utoipa-axum's `routes!` ([`super::documented`]), so a
//! route cannot be served under `/api` or `/public/api` without being in
//! the document. Served at `GET /api/openapi.json` without sign-in: it
//! holds no data. Open311's document is [`crate::open311::routes::Open311Doc`].
//!
//! What every signed-in route shares is added here once, from the rules of
//! [`super::auth`]: the session cookie, the CSRF header on requests that
//! change anything, and the 401, 403 and 503 answers.

use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::{HttpMethod, Operation, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response, ResponseBuilder};

use super::auth::{COOKIE, CSRF_HEADER};
use super::error::{ErrorBody, FieldsBody};

/// The document's frame: what the API is, its groups, the error bodies.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "hotline",
        description = "The HTTP API of hotline, the call-centre server of a city's citizen \
            hotline: the operator's, executor's and supervisor's consoles use it, and so can \
            the city's other systems. Sign in with `POST /api/session`; the answer sets the \
            session cookie and gives the CSRF token that every request changing anything \
            sends in `X-CSRF-Token`. Times are RFC 3339 in UTC; dates in queries are days on \
            the city's clock (Europe/Kyiv). Texts for people are Ukrainian.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later")
    ),
    components(schemas(ErrorBody, FieldsBody)),
    tags(
        (name = "session", description = "Sign-in and sessions"),
        (name = "queues", description = "Queues, operators' states and the live view"),
        (name = "calls", description = "An operator's own calls"),
        (name = "appeals", description = "Appeal cards: the classifier, registration, the card, its calls and files"),
        (name = "lifecycle", description = "A card's life after registration: inboxes, decisions, steps, history"),
        (name = "verification", description = "Calling citizens back to verify the result (the control rule)"),
        (name = "reports", description = "Reports for the city, and their e-mail deliveries"),
        (name = "recordings", description = "Recordings of calls, their holds and their access log"),
        (name = "blocking", description = "The block list of abusive contacts"),
        (name = "works", description = "Repair works and announcements to residents"),
        (name = "voice menu", description = "The IVR"),
        (name = "public", description = "The citizens' side: no sign-in, no personal data"),
    )
)]
pub struct ApiDoc;

/// The served document, written once when the router is built.
#[derive(Clone)]
pub struct Document(Arc<str>);

impl Document {
    pub fn new(doc: &OpenApi) -> Document {
        // Serialising a document of plain maps and strings cannot fail.
        let text = doc.to_pretty_json().unwrap_or_else(|_| "{}".into());
        Document(text.into())
    }

    pub fn text(&self) -> &str {
        &self.0
    }
}

impl IntoResponse for Document {
    fn into_response(self) -> axum::response::Response {
        (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            self.0.to_string(),
        )
            .into_response()
    }
}

/// What the handlers' doc comments become, as OpenAPI tools show them:
/// the summary is the first sentence, on one line; the description the
/// whole text, its paragraphs on one line each. Every answer has a
/// description (OpenAPI requires one): where a handler gave none, the
/// status's reason phrase ("OK", "Created").
pub fn polish(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for (_, operation) in operations(item) {
            let text = [operation.summary.take(), operation.description.take()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("\n\n");
            let paragraphs: Vec<String> = text
                .split("\n\n")
                .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|p| !p.is_empty())
                .collect();
            if let Some(first) = paragraphs.first() {
                let summary = match first.find(". ") {
                    Some(end) => &first[..=end],
                    None => first.as_str(),
                };
                if paragraphs.len() > 1 || summary.len() < first.len() {
                    operation.description = Some(paragraphs.join("\n\n"));
                }
                operation.summary = Some(summary.to_owned());
            }
            for (status, answer) in operation.responses.responses.iter_mut() {
                if let RefOr::T(answer) = answer {
                    if answer.description.is_empty() {
                        answer.description = status
                            .parse::<u16>()
                            .ok()
                            .and_then(|s| axum::http::StatusCode::from_u16(s).ok())
                            .and_then(|s| s.canonical_reason())
                            .unwrap_or("The answer")
                            .to_owned();
                    }
                }
            }
        }
    }
}

/// Adds what the signed-in routes share: security and the common failures.
pub fn finish(doc: &mut OpenApi) {
    polish(doc);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            COOKIE,
            "The session cookie that `POST /api/session` sets (HttpOnly, SameSite=Strict).",
        ))),
    );
    components.add_security_scheme(
        "csrf",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            CSRF_HEADER,
            "The session's CSRF token (`csrf_token` of the session), on every request \
             that changes anything.",
        ))),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/api/") || path == "/api/openapi.json" {
            continue;
        }
        for (method, operation) in operations(item) {
            if path == "/api/session" && method == HttpMethod::Post {
                continue;
            }
            guard(operation, method != HttpMethod::Get);
        }
    }
}

/// Two parts of the document that name different schemas alike would
/// lose one of them when merged: a mistake of ours, found when the router
/// is built (so by every test that builds it).
pub fn no_clash(a: &OpenApi, b: &OpenApi) {
    let (Some(a), Some(b)) = (&a.components, &b.components) else {
        return;
    };
    for (name, schema) in &b.schemas {
        if let Some(other) = a.schemas.get(name) {
            assert!(
                other == schema,
                "two different schemas are named {name:?} in the OpenAPI document: \
                 give one another name with #[schema(as = …)]"
            );
        }
    }
}

/// The operations of a path item, with their methods.
pub fn operations(item: &mut PathItem) -> Vec<(HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|o| (method, o)))
    .collect()
}

/// A signed-in operation: the session (and for changes the CSRF token),
/// and the answers [`super::auth::Auth`] and the store may give.
fn guard(operation: &mut Operation, changes: bool) {
    let mut requirement = SecurityRequirement::new("session", Vec::<String>::new());
    if changes {
        requirement = requirement.add("csrf", Vec::<String>::new());
    }
    operation.security = Some(vec![requirement]);
    let answers = &mut operation.responses.responses;
    for (status, text) in [
        ("401", "Not signed in, or the session has ended."),
        (
            "403",
            "Signed in, but the role may not do this (or, for a change, the CSRF token is \
             missing or wrong).",
        ),
        (
            "503",
            "The database or a service cannot answer now; the message carries an incident \
             number.",
        ),
    ] {
        answers
            .entry(status.into())
            .or_insert_with(|| error(text).into());
    }
}

/// An answer whose body is the error document.
pub fn error(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(RefOr::Ref(Ref::from_schema_name("Error")))),
        )
        .build()
}
