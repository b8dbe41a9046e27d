//! The residents' works page (docs/web.md): current and planned repair
//! works by service and street (the registry executors keep, 000 §3.1.6),
//! and the announcements staff publish, as a page (`/public/works`), as
//! JSON (`/public/api/works`) and as Atom and RSS feeds
//! (`/public/works.atom`, `/public/works.rss`). No personal data: no
//! staff names, only the executor organisation.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::feed::{self, Channel, Item};
use super::routes::Public;
use crate::api::ApiError;
use crate::store::{RepairWork, Service, Store, WorkKind};

/// `GET /public/api/works`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PublicWorks)]
pub struct WorksView {
    announcements: Vec<AnnouncementView>,
    works: Vec<PublicWork>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PublicAnnouncement)]
struct AnnouncementView {
    id: Uuid,
    title: String,
    body: String,
    published_at: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct PublicWork {
    id: Uuid,
    kind: WorkKind,
    service: Service,
    description: String,
    starts_at: DateTime<Utc>,
    expected_end: DateTime<Utc>,
    in_progress: bool,
    addresses: Vec<PublicAddress>,
    executor: String,
    /// When it was registered: a feed entry's date (a planned work's start
    /// lies ahead).
    #[serde(skip)]
    registered_at: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct PublicAddress {
    street: String,
    house: Option<String>,
}

/// Everything the page and the feeds show at `now`.
async fn gather(store: &Store, now: DateTime<Utc>) -> Result<WorksView, ApiError> {
    let names: HashMap<String, String> = store
        .current_executors()
        .await?
        .into_iter()
        .map(|e| (e.code, e.name))
        .collect();
    let announcements = store
        .current_announcements(now)
        .await?
        .into_iter()
        .map(|a| AnnouncementView {
            id: a.id,
            title: a.title,
            body: a.body,
            published_at: a.published_at,
            until: a.until,
        })
        .collect();
    let mut works: Vec<PublicWork> = store
        .open_repair_works(None)
        .await?
        .into_iter()
        .map(|w: RepairWork| PublicWork {
            id: w.id,
            kind: w.kind,
            service: w.service,
            in_progress: w.starts_at <= now,
            registered_at: w.created_at,
            description: w.description,
            starts_at: w.starts_at,
            expected_end: w.expected_end,
            addresses: w
                .addresses
                .into_iter()
                .map(|a| PublicAddress {
                    street: a.street,
                    house: a.house,
                })
                .collect(),
            executor: w
                .executor
                .map(|code| names.get(&code).cloned().unwrap_or(code))
                .unwrap_or_default(),
        })
        .collect();
    // In progress first (emergencies first among them), then planned, by
    // start.
    works.sort_by_key(|w| (!w.in_progress, w.kind != WorkKind::Emergency, w.starts_at));
    Ok(WorksView {
        announcements,
        works,
    })
}

/// The current and planned repair works (emergencies first) by service
/// and street, and the announcements in force: the works page's data. No
/// staff names.
#[utoipa::path(get, path = "/public/api/works", tag = "public",
    responses((status = 200, body = WorksView)))]
pub async fn works_json(State(store): State<Store>) -> Result<Json<WorksView>, ApiError> {
    Ok(Json(gather(&store, Utc::now()).await?))
}

/// The page's own address, as the feed readers reach it.
fn site(public: &Public, headers: &HeaderMap) -> String {
    public_base(&public.settings.site_url, headers, "")
}

/// An absolute address of the public side: `configured` (a setting such
/// as `[public] site_url`) if set, else the host the request came to,
/// followed by `path`.
pub(crate) fn public_base(configured: &str, headers: &HeaderMap, path: &str) -> String {
    match configured.trim() {
        "" => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}{path}")
        }
        url => url.trim_end_matches('/').to_owned(),
    }
}

pub(crate) fn service_uk(s: Service) -> &'static str {
    match s {
        Service::Water => "водопостачання",
        Service::Heating => "опалення",
        Service::Power => "електропостачання",
        Service::Gas => "газопостачання",
        Service::Other => "інше",
    }
}

/// The feeds' entries: announcements, then works.
fn items(view: &WorksView, tz: chrono_tz::Tz, page: &str) -> Vec<Item> {
    let at = |t: DateTime<Utc>| t.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string();
    let mut out: Vec<Item> = view
        .announcements
        .iter()
        .map(|a| Item {
            id: format!("urn:uuid:{}", a.id),
            title: a.title.clone(),
            summary: a.body.clone(),
            updated: a.published_at,
            link: format!("{page}#a-{}", a.id),
        })
        .collect();
    out.extend(view.works.iter().map(|w| {
        let kind = match (w.kind, w.in_progress) {
            (WorkKind::Emergency, _) => "Аварійні роботи",
            (_, true) => "Планові роботи (тривають)",
            (_, false) => "Планові роботи",
        };
        let places: Vec<String> = w
            .addresses
            .iter()
            .map(|a| match &a.house {
                Some(h) => format!("{} {h}", a.street),
                None => a.street.clone(),
            })
            .collect();
        Item {
            id: format!("urn:uuid:{}", w.id),
            title: format!("{kind}: {} — {}", service_uk(w.service), places.join("; ")),
            summary: format!(
                "{}. З {} до {}. {}",
                w.description.trim_end_matches('.'),
                at(w.starts_at),
                at(w.expected_end),
                w.executor
            ),
            updated: w.registered_at,
            link: format!("{page}#w-{}", w.id),
        }
    }));
    out
}

/// Which feed.
#[derive(Clone, Copy)]
enum Kind {
    Atom,
    Rss,
}

/// The works and announcements as an Atom 1.0 feed.
#[utoipa::path(get, path = "/public/works.atom", tag = "public",
    responses((status = 200, description = "The feed", content_type = "application/atom+xml", body = Value)))]
pub async fn atom(
    State(store): State<Store>,
    State(public): State<Public>,
    State(rules): State<std::sync::Arc<crate::appeal::lifecycle::Lifecycle>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    feed_of(&store, &public, &rules, &headers, Kind::Atom).await
}

/// The works and announcements as an RSS 2.0 feed.
#[utoipa::path(get, path = "/public/works.rss", tag = "public",
    responses((status = 200, description = "The feed", content_type = "application/rss+xml", body = Value)))]
pub async fn rss(
    State(store): State<Store>,
    State(public): State<Public>,
    State(rules): State<std::sync::Arc<crate::appeal::lifecycle::Lifecycle>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    feed_of(&store, &public, &rules, &headers, Kind::Rss).await
}

async fn feed_of(
    store: &Store,
    public: &Public,
    rules: &crate::appeal::lifecycle::Lifecycle,
    headers: &HeaderMap,
    kind: Kind,
) -> Result<Response, ApiError> {
    let now = Utc::now();
    let base = site(public, headers);
    let page = format!("{base}/public/works");
    let own = match kind {
        Kind::Atom => format!("{page}.atom"),
        Kind::Rss => format!("{page}.rss"),
    };
    let view = gather(store, now).await?;
    let entries = items(&view, rules.calendar().time_zone(), &page);
    let channel = Channel {
        title: "Гаряча лінія: роботи й оголошення",
        description: "Поточні й заплановані ремонтні роботи та оголошення для мешканців",
        page: &page,
        own: &own,
    };
    let (body, content_type) = match kind {
        Kind::Atom => (
            feed::atom(&channel, &entries, now),
            "application/atom+xml; charset=utf-8",
        ),
        Kind::Rss => (
            feed::rss(&channel, &entries, now),
            "application/rss+xml; charset=utf-8",
        ),
    };
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response())
}
