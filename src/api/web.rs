//! The console's pages: the operator console and the supervisors' live
//! view, one page of plain HTML, CSS and JavaScript modules in `web/`
//! (no build step), embedded in the binary so a deployment is one file.
//!
//! `GET /`, `/card`, `/live`, `/recordings`, `/blocked` and `/access` give
//! the page (it signs in, then shows the user's role's view at `/`, the
//! card console at `/card`, the live view at `/live`, recordings, the block
//! list and the recordings' access log); `GET /static/{file}` its parts. Every response of
//! the server gets the security headers of [`security_headers`].

use std::sync::LazyLock;

use axum::extract::{Path, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::state::AppState;

/// (name, content type, bytes) of every file the page is made of.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../web/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/style.css"),
    ),
    (
        "main.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/main.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/api.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/dom.js"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/i18n.js"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/console.js"),
    ),
    (
        "categories.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/categories.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/admin.js"),
    ),
    (
        "alert.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/alert.js"),
    ),
    (
        "place.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/place.js"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/live.js"),
    ),
    (
        "records.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/records.js"),
    ),
    (
        "work.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/work.js"),
    ),
    (
        "reports.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/reports.js"),
    ),
    (
        "chart.umd.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/vendor/chart.umd.min.js"),
    ),
    (
        "chartjs-chart-matrix.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/vendor/chartjs-chart-matrix.min.js"),
    ),
    (
        "public.html",
        "text/html; charset=utf-8",
        include_bytes!("../../web/public.html"),
    ),
    (
        "public.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/public.css"),
    ),
    (
        "public.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/public.js"),
    ),
    (
        "leaflet.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/vendor/leaflet.js"),
    ),
    (
        "leaflet.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/vendor/leaflet.css"),
    ),
    (
        "leaflet-marker-icon.png",
        "image/png",
        include_bytes!("../../web/vendor/leaflet-marker-icon.png"),
    ),
    (
        "leaflet-marker-icon-2x.png",
        "image/png",
        include_bytes!("../../web/vendor/leaflet-marker-icon-2x.png"),
    ),
    (
        "leaflet-marker-shadow.png",
        "image/png",
        include_bytes!("../../web/vendor/leaflet-marker-shadow.png"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../../web/icon.svg"),
    ),
];

/// Each file's ETag, computed once.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(_, _, bytes)| format!("\"{}\"", &hex::encode(Sha256::digest(bytes))[..20]))
        .collect()
});

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(page))
        .route("/card", get(page))
        .route("/live", get(page))
        .route("/wallboard", get(page))
        .route("/users", get(page))
        .route("/operators", get(page))
        .route("/config", get(page))
        .route("/ivr", get(page))
        .route("/admin", get(page))
        .route("/recordings", get(page))
        .route("/blocked", get(page))
        .route("/access", get(page))
        .route("/inbox", get(page))
        .route("/decisions", get(page))
        .route("/triage", get(page))
        .route("/verification", get(page))
        .route("/card-access", get(page))
        .route("/works", get(page))
        .route("/reports", get(page))
        .route("/static/{file}", get(file))
}

/// No such page: for an API path the API's error; for a page, one a
/// person can read (in Ukrainian and English) with the way back, rather
/// than an empty answer the browser shows as its own error.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    let path = uri.path();
    let machine = [
        "/api/",
        "/public/api/",
        "/open311/",
        "/chatbot/",
        "/static/",
    ]
    .iter()
    .any(|p| path.starts_with(p));
    if machine {
        return super::ApiError::not_found("no such path").into_response();
    }
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        NOT_FOUND_PAGE,
    )
        .into_response()
}

const NOT_FOUND_PAGE: &str = r#"<!doctype html>
<html lang="uk">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Сторінку не знайдено · hotline</title>
<link rel="icon" href="/static/icon.svg">
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<main class="not-found">
<h1>Сторінку не знайдено</h1>
<p>Такої сторінки в консолі немає. Можливо, посилання застаріло або в адресі помилка.</p>
<p lang="en">There is no such page in the console.</p>
<p><a href="/">На головну / Home</a></p>
</main>
</body>
</html>
"#;

async fn page(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    if name.ends_with(".html") {
        return StatusCode::NOT_FOUND.into_response();
    }
    serve(&name, &headers)
}

/// A file of the page, revalidated by ETag on every load (`no-cache`), so
/// an upgraded server is picked up at once and an unchanged file costs a
/// 304.
pub fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(i) = FILES.iter().position(|(n, _, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (_, content_type, bytes) = FILES[i];
    let etag = &ETAGS[i];
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// Scripts and styles from this server only, no inline code, no framing by
/// other sites, no referrer; responses that set their own policy (an
/// attachment's download) keep it.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::REFERRER_POLICY) {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    response
}
