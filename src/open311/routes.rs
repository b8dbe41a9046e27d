//! HTTP of Open311 GeoReport v2 (docs/open311.md), the format by the
//! path's extension (`.json`, `.xml`):
//! * `GET discovery`, `GET services`, `GET services/{code}`;
//! * `POST requests` (form-encoded, with an `api_key`): a card, channel
//!   `open311`, by the key's application;
//! * `GET requests` (filters `service_request_id`, `service_code`,
//!   `start_date`, `end_date`, `status`), `GET requests/{id}`,
//!   `GET tokens/{token}`: no personal data.
//!
//! Errors are the specification's documents: 404 for what does not
//! exist, 403 for a wrong or missing key, 400 for the rest.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::store::{Origin, RequestQuery, RequestRow};
use super::wire::{self, Format};
use crate::api::AppState;
use crate::api::console::Consoles;
use crate::appeal::lifecycle::{EntryKind, Lifecycle};
use crate::appeal::lifecycle_store::Author;
use crate::appeal::watcher::WatcherHandle;
use crate::phone::NumberingPlan;
use crate::public::routes::Public;
use crate::store::{Store, StoreError};

/// The largest POST body: the arguments are short text.
const MAX_BODY: usize = 64 * 1024;

pub fn routes(public: &Public) -> axum::Router<AppState> {
    if !public.settings.enabled || !public.settings.open311.enabled {
        return axum::Router::new();
    }
    let mut doc = <Open311Doc as utoipa::OpenApi>::openapi();
    crate::api::openapi::polish(&mut doc);
    let document = crate::api::openapi::Document::new(&doc);
    axum::Router::new()
        .route(
            "/open311/v2/{file}",
            get(top)
                .post(post_request)
                .layer(DefaultBodyLimit::max(MAX_BODY)),
        )
        .route(
            "/open311/v2/openapi.json",
            get(move || std::future::ready(document.clone())),
        )
        .route("/open311/v2/services/{file}", get(service_definition))
        .route("/open311/v2/requests/{file}", get(one_request))
        .route("/open311/v2/tokens/{file}", get(token))
        .route_layer(axum::middleware::from_fn_with_state(
            public.clone(),
            read_limit,
        ))
}

/// GETs per client address (`[public.open311] reads_per_address_minute`):
/// past it, `429` with `Retry-After`, in the format asked for.
async fn read_limit(
    State(public): State<Public>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if request.method() == axum::http::Method::GET {
        if let Err(wait) = public.take_open311_read(peer, request.headers()) {
            let format = if request.uri().path().ends_with(".xml") {
                Format::Xml
            } else {
                Format::Json
            };
            return too_many(format, wait);
        }
    }
    next.run(request).await
}

/// `429` with `Retry-After` and the specification's error document.
fn too_many(format: Format, wait: std::time::Duration) -> Response {
    let mut response = Fail::new(
        format,
        StatusCode::TOO_MANY_REQUESTS,
        "too many requests; try again later",
    )
    .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        axum::http::HeaderValue::from(wait.as_secs().max(1)),
    );
    response
}

/// A failure, as the specification writes it.
struct Fail {
    format: Format,
    status: StatusCode,
    errors: Vec<wire::Error>,
}

impl Fail {
    fn new(format: Format, status: StatusCode, description: impl Into<String>) -> Fail {
        Fail {
            format,
            status,
            errors: vec![wire::Error {
                code: status.as_u16(),
                description: description.into(),
            }],
        }
    }

    /// The store failed: logged; the client is told to try again.
    fn store(format: Format, e: StoreError) -> Fail {
        warn!(error = %e, "an Open311 request failed in the store");
        Fail::new(
            format,
            StatusCode::BAD_REQUEST,
            "the service is unavailable now; try again in a minute",
        )
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        document(
            self.format,
            self.status,
            wire::errors(self.format, &self.errors),
        )
    }
}

fn document(format: Format, status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

/// A document of `json` (as JSON) or `xml` (as XML).
fn ok<J: serde::Serialize, X: serde::Serialize>(
    format: Format,
    json: &J,
    xml: &X,
) -> Result<Response, Fail> {
    wire::render(format, json, xml)
        .map(|body| document(format, StatusCode::OK, body))
        .map_err(|e| {
            warn!(error = %e, "an Open311 document could not be written");
            Fail::new(
                format,
                StatusCode::BAD_REQUEST,
                "the document could not be written",
            )
        })
}

/// `name.json` or `name.xml`; anything else is not here.
fn parse_file(file: &str) -> Result<(&str, Format), Fail> {
    wire::split_format(file).ok_or_else(|| {
        Fail::new(
            Format::Json,
            StatusCode::NOT_FOUND,
            "not found: add .json or .xml to the path",
        )
    })
}

/// The resource and format a GET's path names, in this jurisdiction.
fn resource<'a>(
    public: &Public,
    file: &'a str,
    args: &HashMap<String, String>,
) -> Result<(&'a str, Format), Fail> {
    let (name, format) = parse_file(file)?;
    jurisdiction(
        public,
        args.get("jurisdiction_id").map(String::as_str),
        format,
    )?;
    Ok((name, format))
}

/// A `jurisdiction_id` that names another jurisdiction than this one.
fn jurisdiction(public: &Public, given: Option<&str>, format: Format) -> Result<(), Fail> {
    let ours = public.settings.open311.jurisdiction_id.trim();
    match given.map(str::trim).filter(|g| !g.is_empty()) {
        Some(g) if !ours.is_empty() && g != ours => Err(Fail::new(
            format,
            StatusCode::NOT_FOUND,
            format!("jurisdiction_id {g:?} not found; this endpoint serves {ours:?}"),
        )),
        _ => Ok(()),
    }
}

type Args = Query<HashMap<String, String>>;

/// `GET discovery|services|requests`.
async fn top(
    State(store): State<Store>,
    State(public): State<Public>,
    Path(file): Path<String>,
    Query(args): Args,
    headers: HeaderMap,
) -> Result<Response, Fail> {
    let (name, format) = resource(&public, &file, &args)?;
    match name {
        "discovery" => discovery(&public, &headers, format),
        "services" => services(&store, format).await,
        "requests" => requests(&store, &args, format).await,
        _ => Err(Fail::new(format, StatusCode::NOT_FOUND, "no such resource")),
    }
}

/// Where this endpoint is, its version and formats, and where to ask for a key.
#[utoipa::path(get, path = "/open311/v2/discovery.{format}", tag = "open311",
    params(("format" = wire::Format, Path, description = "The document's format"), ("jurisdiction_id" = Option<String>, Query, description = "Optional; another jurisdiction's id is not found here")),
    responses(
        (status = 200, description = "The document", content((wire::DiscoveryJson = "application/json"), (wire::DiscoveryJson = "text/xml"))),
        (status = 400, description = "A wrong argument, or the service cannot answer now", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
        (status = 429, description = "Too many reads from this address; see `Retry-After`", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
    ))]
fn discovery(public: &Public, headers: &HeaderMap, format: Format) -> Result<Response, Fail> {
    let settings = &public.settings.open311;
    let url = crate::public::works::public_base(&settings.url, headers, "/open311/v2");
    let changeset = env!("CARGO_PKG_VERSION").to_string();
    let d = wire::Discovery {
        changeset: changeset.clone(),
        contact: settings.contact.clone(),
        key_service: settings.key_service.clone(),
        endpoints: wire::Endpoints {
            endpoint: vec![wire::Endpoint {
                specification: "http://wiki.open311.org/GeoReport_v2",
                url,
                changeset,
                kind: "production",
                formats: wire::Formats {
                    format: vec!["text/xml", "application/json"],
                },
            }],
        },
    };
    ok(format, &wire::discovery_json(&d), &d)
}

/// The current classifier's types, and "I don't know".
async fn service_list(store: &Store) -> Result<Vec<wire::Service>, StoreError> {
    let Some(version) = store.current_classifier_version().await? else {
        return Ok(Vec::new());
    };
    let mut services: Vec<wire::Service> = store
        .categories(version.number)
        .await?
        .into_iter()
        .map(|c| wire::Service {
            service_code: c.type_code,
            service_name: c.type_name,
            description: format!(
                "Виконавець: {}; строк: {}",
                c.executor.name,
                c.deadline.term_uk()
            ),
            metadata: true,
            kind: "realtime",
            keywords: c.section_code,
            group: c.section_name,
        })
        .collect();
    services.push(wire::Service {
        service_code: wire::TRIAGE_CODE.into(),
        service_name: "Не знаю / інше".into(),
        description: "Тему визначить контакт-центр / The contact centre picks the subject".into(),
        metadata: true,
        kind: "realtime",
        keywords: String::new(),
        group: "Інше".into(),
    });
    Ok(services)
}

/// The services: the current classifier's issue types, grouped by its
/// sections, and `unknown` ("не знаю").
#[utoipa::path(get, path = "/open311/v2/services.{format}", operation_id = "list_services", tag = "open311",
    params(("format" = wire::Format, Path, description = "The document's format"), ("jurisdiction_id" = Option<String>, Query, description = "Optional; another jurisdiction's id is not found here")),
    responses(
        (status = 200, description = "The services (XML: `<services><service>…`)", content((Vec<wire::Service> = "application/json"), (Vec<wire::Service> = "text/xml"))),
        (status = 400, description = "A wrong argument, or the service cannot answer now", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
        (status = 429, description = "Too many reads from this address; see `Retry-After`", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
    ))]
async fn services(store: &Store, format: Format) -> Result<Response, Fail> {
    let list = service_list(store)
        .await
        .map_err(|e| Fail::store(format, e))?;
    ok(format, &list, &wire::ServicesXml { service: &list })
}

/// What a request of the service carries beyond the specification's
/// arguments: the patronymic and the consent (required), another contact.
#[utoipa::path(get, path = "/open311/v2/services/{service_code}.{format}", operation_id = "get_service_definition", tag = "open311",
    params(("service_code" = String, Path, description = "The service"), ("format" = wire::Format, Path, description = "The document's format"), ("jurisdiction_id" = Option<String>, Query, description = "Optional; another jurisdiction's id is not found here")),
    responses(
        (status = 200, description = "The document", content((wire::DefinitionJson = "application/json"), (wire::DefinitionJson = "text/xml"))),
        (status = 404, description = "No such service", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
        (status = 400, description = "A wrong argument, or the service cannot answer now", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
        (status = 429, description = "Too many reads from this address; see `Retry-After`", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
    ))]
async fn service_definition(
    State(store): State<Store>,
    State(public): State<Public>,
    Path(file): Path<String>,
    Query(args): Args,
) -> Result<Response, Fail> {
    let (code, format) = resource(&public, &file, &args)?;
    let known = service_list(&store)
        .await
        .map_err(|e| Fail::store(format, e))?
        .iter()
        .any(|s| s.service_code == code);
    if !known {
        return Err(Fail::new(
            format,
            StatusCode::NOT_FOUND,
            format!("service_code {code:?} not found"),
        ));
    }
    let d = wire::definition(code);
    ok(format, &wire::definition_json(&d), &d)
}

/// A comma-separated argument, its items trimmed.
fn list(args: &HashMap<String, String>, name: &str) -> Vec<String> {
    args.get(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn date(
    args: &HashMap<String, String>,
    name: &str,
    format: Format,
) -> Result<Option<DateTime<Utc>>, Fail> {
    match args.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                Fail::new(
                    format,
                    StatusCode::BAD_REQUEST,
                    format!("{name}: a W3C date-time with its zone, e.g. 2026-12-01T00:00:00Z"),
                )
            }),
    }
}

/// The requests filed through Open311, newest first, without personal
/// data: the street only and the point to about 100 m. Without
/// `service_request_id`, those of the last 90 days (or of `start_date` to
/// `end_date`), at most 1000.
#[utoipa::path(get, path = "/open311/v2/requests.{format}", operation_id = "list_requests", tag = "open311",
    params(("service_request_id" = Option<String>, Query, description = "Registration numbers, comma-separated; the other filters are ignored then"), ("service_code" = Option<String>, Query, description = "Services, comma-separated"), ("start_date" = Option<String>, Query, description = "W3C date-time with its zone"), ("end_date" = Option<String>, Query, description = "W3C date-time with its zone"), ("status" = Option<String>, Query, description = "`open`, `closed`, or both comma-separated"), ("format" = wire::Format, Path, description = "The document's format"), ("jurisdiction_id" = Option<String>, Query, description = "Optional; another jurisdiction's id is not found here")),
    responses(
        (status = 200, description = "The requests (XML: `<service_requests><request>…`)", content((Vec<wire::Request> = "application/json"), (Vec<wire::Request> = "text/xml"))),
        (status = 400, description = "A wrong argument, or the service cannot answer now", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
        (status = 429, description = "Too many reads from this address; see `Retry-After`", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
    ))]
async fn requests(
    store: &Store,
    args: &HashMap<String, String>,
    format: Format,
) -> Result<Response, Fail> {
    let numbers = list(args, "service_request_id");
    let mut query = RequestQuery {
        limit: wire::MAX_REQUESTS,
        ..RequestQuery::default()
    };
    if numbers.is_empty() {
        let (from, to) = wire::window(
            date(args, "start_date", format)?,
            date(args, "end_date", format)?,
            Utc::now(),
        )
        .map_err(|e| Fail {
            format,
            status: StatusCode::BAD_REQUEST,
            errors: vec![e],
        })?;
        let statuses = list(args, "status");
        if let Some(wrong) = statuses
            .iter()
            .find(|s| !matches!(s.as_str(), "open" | "closed"))
        {
            return Err(Fail::new(
                format,
                StatusCode::BAD_REQUEST,
                format!("status {wrong:?}: open or closed"),
            ));
        }
        let open = statuses.iter().any(|s| s == "open");
        let closed = statuses.iter().any(|s| s == "closed");
        query.closed = match (open, closed) {
            (true, false) => Some(false),
            (false, true) => Some(true),
            _ => None,
        };
        query.codes = list(args, "service_code");
        query.from = Some(from);
        query.to = Some(to);
    } else {
        query.numbers = numbers.into_iter().take(wire::MAX_REQUESTS).collect();
    }
    let rows = store
        .open311_requests(&query)
        .await
        .map_err(|e| Fail::store(format, e))?;
    requests_document(format, &rows)
}

/// Requests as the standard lists them.
fn requests_document(format: Format, rows: &[RequestRow]) -> Result<Response, Fail> {
    let found: Vec<wire::Request> = rows.iter().map(public_request).collect();
    ok(format, &found, &wire::RequestsXml { request: &found })
}

/// A card as anyone may see it: its status, subject, executor and times,
/// the street (not the house), the point and the application's photo.
fn public_request(r: &RequestRow) -> wire::Request {
    let (notes, _) = crate::public::status::status_text(r.status);
    // "Section / Type": the type is the service.
    let type_name = r
        .category
        .split_once(" / ")
        .map_or(r.category.as_str(), |(_, t)| t);
    wire::Request {
        service_request_id: r.number.clone(),
        status: if r.finished { "closed" } else { "open" },
        status_notes: notes.to_owned(),
        service_name: if type_name.is_empty() {
            "Не знаю / інше".to_owned()
        } else {
            type_name.to_owned()
        },
        service_code: r
            .type_code
            .clone()
            .unwrap_or_else(|| wire::TRIAGE_CODE.to_owned()),
        agency_responsible: if r.executor.is_empty() {
            crate::appeal::store::TRIAGE_NAME.to_owned()
        } else {
            r.executor.clone()
        },
        requested_datetime: r.created_at,
        updated_datetime: r.updated_at,
        expected_datetime: r.deadline,
        address: wire::street_only(&r.address),
        // To about a hundred metres: the block, not the door.
        lat: r.latitude.map(|d| (d * 1000.0).round() / 1000.0),
        long: r.longitude.map(|d| (d * 1000.0).round() / 1000.0),
        media_url: r.media_url.clone(),
    }
}

/// One request filed through Open311 (a card filed otherwise is not found
/// here).
#[utoipa::path(get, path = "/open311/v2/requests/{service_request_id}.{format}", operation_id = "get_request", tag = "open311",
    params(("service_request_id" = String, Path, description = "The registration number"), ("format" = wire::Format, Path, description = "The document's format"), ("jurisdiction_id" = Option<String>, Query, description = "Optional; another jurisdiction's id is not found here")),
    responses(
        (status = 200, description = "A list of one request, as the specification has it", content((Vec<wire::Request> = "application/json"), (Vec<wire::Request> = "text/xml"))),
        (status = 404, description = "No such request", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
        (status = 400, description = "A wrong argument, or the service cannot answer now", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
        (status = 429, description = "Too many reads from this address; see `Retry-After`", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
    ))]
async fn one_request(
    State(store): State<Store>,
    State(public): State<Public>,
    Path(file): Path<String>,
    Query(args): Args,
) -> Result<Response, Fail> {
    let (number, format) = resource(&public, &file, &args)?;
    let rows = store
        .open311_requests(&RequestQuery {
            numbers: vec![number.to_owned()],
            limit: 1,
            ..RequestQuery::default()
        })
        .await
        .map_err(|e| Fail::store(format, e))?;
    if rows.is_empty() {
        return Err(Fail::new(
            format,
            StatusCode::NOT_FOUND,
            format!("service_request_id {number:?} not found"),
        ));
    }
    requests_document(format, &rows)
}

/// The request a token of a POST stands for.
#[utoipa::path(get, path = "/open311/v2/tokens/{token}.{format}", operation_id = "token_request", tag = "open311",
    params(("token" = String, Path, description = "The token a POST answered"), ("format" = wire::Format, Path, description = "The document's format"), ("jurisdiction_id" = Option<String>, Query, description = "Optional; another jurisdiction's id is not found here")),
    responses(
        (status = 200, description = "The document", content((Vec<wire::TokenFound> = "application/json"), (Vec<wire::TokenFound> = "text/xml"))),
        (status = 404, description = "No such token", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
        (status = 400, description = "A wrong argument, or the service cannot answer now", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
        (status = 429, description = "Too many reads from this address; see `Retry-After`", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
    ))]
async fn token(
    State(store): State<Store>,
    State(public): State<Public>,
    Path(file): Path<String>,
    Query(args): Args,
) -> Result<Response, Fail> {
    let (token, format) = resource(&public, &file, &args)?;
    let number = store
        .open311_token(token)
        .await
        .map_err(|e| Fail::store(format, e))?
        .ok_or_else(|| Fail::new(format, StatusCode::NOT_FOUND, "token not found"))?;
    let found = [wire::TokenFound {
        service_request_id: number,
        token: token.to_owned(),
    }];
    ok(format, &found, &wire::RequestsXml { request: &found })
}

/// A POST's arguments, as the document describes them (they are read by
/// [`wire::PostArgs::from_pairs`]; the key by [`post_request`]).
#[derive(utoipa::ToSchema)]
#[schema(as = Open311NewRequest)]
#[allow(dead_code)]
struct PostForm {
    /// The application's key (`hotline apikey add`).
    api_key: String,
    #[schema(required = false)]
    jurisdiction_id: String,
    service_code: String,
    /// The point, in degrees (WGS 84).
    #[schema(required = false)]
    lat: f64,
    #[schema(required = false)]
    long: f64,
    /// The citizen's address (required here: 000 §2.1).
    address_string: String,
    #[schema(required = false)]
    address_id: String,
    #[schema(required = false)]
    email: String,
    #[schema(required = false)]
    device_id: String,
    #[schema(required = false)]
    account_id: String,
    first_name: String,
    last_name: String,
    /// The contact phone; or `attribute[other_contact]`.
    #[schema(required = false)]
    phone: String,
    /// What the problem is.
    description: String,
    /// A photo's address: shown on the card as the application's.
    #[schema(required = false)]
    media_url: String,
    #[schema(rename = "attribute[patronymic]")]
    patronymic: String,
    /// `yes`: the consent to personal-data processing.
    #[schema(rename = "attribute[consent]")]
    consent: String,
    #[schema(rename = "attribute[other_contact]")]
    #[schema(required = false)]
    other_contact: String,
}

/// The Open311 document, served at `GET /open311/v2/openapi.json`: the
/// paths are those of the handlers above (`top` serves three of them).
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "hotline: Open311 GeoReport v2",
        description = "The city hotline's Open311 GeoReport v2 endpoint \
            (http://wiki.open311.org/GeoReport_v2). Every document is JSON or XML by the \
            path's extension, XML with the specification's element names. Errors are the \
            specification's error document. GET answers carry no personal data; a POST \
            needs an application's `api_key`.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later")
    ),
    paths(discovery, services, service_definition, requests, one_request, token, post_request),
    components(schemas(wire::Format)),
    tags((name = "open311", description = "GeoReport v2"))
)]
pub struct Open311Doc;

/// Files a request: an appeal card with channel `open311`, by the key's
/// application, delivered to its executor like a phone card. Answers its
/// registration number, or a token for a key made with `--token`.
#[utoipa::path(post, path = "/open311/v2/requests.{format}", operation_id = "create_request", tag = "open311",
    params(("format" = wire::Format, Path, description = "The document's format")),
    request_body(content = PostForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The document", content((Vec<wire::Created> = "application/json"), (Vec<wire::Created> = "text/xml"))),
        (status = 403, description = "No key, a wrong or revoked one, or the contact is blocked", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
        (status = 404, description = "No such service", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
        (status = 405, description = "A POST to anything but `requests`", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
        (status = 400, description = "A wrong argument, or the service cannot answer now", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
        (status = 429, description = "Too many requests with this key in the hour; see `Retry-After`", content((Vec<wire::Error> = "application/json"), (Vec<wire::Error> = "text/xml"))),
    ))]
#[allow(clippy::too_many_arguments)]
async fn post_request(
    State(store): State<Store>,
    State(public): State<Public>,
    State(numbering): State<NumberingPlan>,
    State(rules): State<Arc<Lifecycle>>,
    State(consoles): State<Consoles>,
    State(watcher): State<WatcherHandle>,
    Path(file): Path<String>,
    Query(query): Args,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Fail> {
    let (name, format) = parse_file(&file)?;
    if name != "requests" {
        return Err(Fail::new(
            format,
            StatusCode::METHOD_NOT_ALLOWED,
            "only requests takes a POST",
        ));
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err(Fail::new(
            format,
            StatusCode::BAD_REQUEST,
            "send the arguments as application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let arg = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .or_else(|| query.get(name).map(String::as_str))
    };
    jurisdiction(&public, arg("jurisdiction_id"), format)?;
    let now = Utc::now();
    // The key from the body only: in the query it would stay in every
    // proxy's log.
    let body_key = pairs
        .iter()
        .find(|(n, _)| n == "api_key")
        .map(|(_, v)| v.trim())
        .filter(|k| !k.is_empty());
    let key = match body_key {
        None => None,
        Some(k) => store
            .use_api_key(k, now)
            .await
            .map_err(|e| Fail::store(format, e))?,
    };
    let Some(key) = key else {
        return Err(Fail::new(
            format,
            StatusCode::FORBIDDEN,
            "invalid api_key received -- can't proceed with create_request",
        ));
    };
    if let Err(wait) = public.take_open311_request(key.id) {
        warn!(app = %key.name, "an Open311 application is past its requests per hour");
        return Ok(too_many(format, wait));
    }
    let args = wire::PostArgs::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let (mut appeal, extra) = wire::new_appeal(&args, &numbering).map_err(|errors| Fail {
        format,
        status: StatusCode::BAD_REQUEST,
        errors,
    })?;
    if !appeal.triage {
        let code = args.service_code.trim();
        let category = match store.current_classifier_version().await {
            Ok(Some(v)) => store
                .categories(v.number)
                .await
                .map_err(|e| Fail::store(format, e))?
                .into_iter()
                .find(|c| c.type_code == code),
            Ok(None) => None,
            Err(e) => return Err(Fail::store(format, e)),
        };
        let Some(category) = category else {
            return Err(Fail::new(
                format,
                StatusCode::NOT_FOUND,
                format!("service_code {code:?} not found"),
            ));
        };
        appeal.category_id = Some(category.id);
    }
    let problems = appeal.check();
    if !problems.is_empty() {
        return Err(Fail {
            format,
            status: StatusCode::BAD_REQUEST,
            errors: problems
                .into_iter()
                .map(|p| wire::Error {
                    code: 400,
                    description: format!("{}: {}", open311_name(p.field), p.message),
                })
                .collect(),
        });
    }
    // A blocked contact (000 §2.5.2): refused, nothing registered.
    let contacts = [&appeal.contact_phone, &appeal.email, &appeal.other_contact];
    let blocked = store
        .blocked_contact(&contacts, &numbering, now, "open311")
        .await
        .map_err(|e| Fail::store(format, e))?;
    if let Some(contact) = blocked {
        info!(contact = %contact, app = %key.name, "an Open311 request refused: the contact is blocked");
        return Err(Fail::new(
            format,
            StatusCode::FORBIDDEN,
            "звернення з цього контакту не приймаються / requests from this contact are not accepted",
        ));
    }
    let origin = Origin {
        api_key: key.id,
        token: hex::encode(rand::random::<[u8; 16]>()),
        extra,
    };
    let registration = store
        .register_appeal_with_files(
            &appeal,
            &rules,
            &Author::citizen(&format!("open311:{}", key.name)),
            &[],
            &crate::appeal::store::AlsoWritten {
                open311: Some(&origin),
                confirmation: None,
                chatbot: None,
            },
            now,
        )
        .await
        .map_err(|e| match e {
            crate::appeal::RegisterError::Fields(problems) => Fail {
                format,
                status: StatusCode::BAD_REQUEST,
                errors: problems
                    .into_iter()
                    .map(|p| wire::Error {
                        code: 400,
                        description: format!("{}: {}", open311_name(p.field), p.message),
                    })
                    .collect(),
            },
            crate::appeal::RegisterError::Store(e) => Fail::store(format, e),
        })?;
    let record = &registration.record;
    consoles.card_changed(
        record.registration_number.as_str(),
        EntryKind::Registered,
        record.status,
        &registration.notices,
    );
    watcher.poke();
    info!(number = %record.registration_number, channel = "open311", app = %key.name, "appeal filed through Open311");
    let deadline = record
        .deadline
        .with_timezone(&rules.calendar().time_zone())
        .format("%d.%m.%Y %H:%M");
    let by_token = key.answer == "token";
    let created = [wire::Created {
        service_request_id: (!by_token).then(|| record.registration_number.to_string()),
        token: by_token.then(|| origin.token.clone()),
        service_notice: format!(
            "Зареєстровано. Виконавець: {}; строк: {deadline} (Київ) / Registered. \
             Executor: {}; due {deadline} (Kyiv time)",
            registration.executor_name, registration.executor_name
        ),
        account_id: origin.extra.account_id.clone(),
    }];
    ok(format, &created, &wire::RequestsXml { request: &created })
}

/// A card field's name as the Open311 argument that fills it.
fn open311_name(field: &str) -> &str {
    match field {
        "surname" => "last_name",
        "first_name" => "first_name",
        "patronymic" => "attribute[patronymic]",
        "address" => "address_string",
        "contact_phone" => "phone",
        "other_contact" => "attribute[other_contact]",
        "essence" => "description",
        "category" => "service_code",
        other => other,
    }
}
