//! The HTTP edge: the JSON API under `/api` (sign-in and sessions in
//! [`auth`], queues, operators' states and the live snapshot in [`queues`],
//! appeal cards and their attachments in [`crate::appeal::routes`], the operator's own
//! calls in [`calls`], the block list in [`blocking`], recordings and their
//! access log in [`recordings`], the voice menu's reload in [`ivr`]), its
//! OpenAPI document ([`openapi`]: the router is built from the described
//! handlers, [`documented`]), the console's websocket ([`console`]), the
//! console's pages ([`web`]) and the server's health and counters
//! ([`health`]).
//!
//! Handlers take the parts of [`AppState`] they need and return
//! `Result<_, ApiError>` ([`error`]): a failure becomes a status in one
//! place. Every API route but sign-in needs a session and checks the role;
//! the pages themselves hold no data. What the API may ask of calls in
//! progress is the [`state::CallControl`] trait, so nothing here depends on
//! the call layer or the server that assembles it all.

pub mod admin;
pub mod admin_ivr;
pub mod admin_operators;
pub mod announcements;
pub mod auth;
pub mod blocking;
pub mod calls;
pub mod console;
pub mod error;
pub mod health;
pub mod ivr;
pub mod openapi;
pub mod queues;
pub mod recordings;
#[cfg(test)]
mod route_tests;
pub mod state;
pub mod testing;
pub mod web;
pub mod works;

pub use error::ApiError;
pub use state::{AppState, CallControl, RecordingsDir};

/// Every route, with the security headers on every response.
/// `max_upload`: the largest attachment, in bytes.
pub fn router(state: AppState, max_upload: u64) -> axum::Router {
    let (api, document) = documented(&state, max_upload);
    let document = openapi::Document::new(&document);
    let open311 = crate::open311::routes::routes(&state.public);
    axum::Router::new()
        .merge(api)
        .route(
            "/api/openapi.json",
            axum::routing::get(move || std::future::ready(document.clone())),
        )
        .merge(health::routes())
        .merge(console::routes())
        .merge(web::routes())
        .merge(open311)
        .merge(crate::chatbot::routes::routes())
        .fallback(web::not_found)
        .layer(axum::middleware::from_fn(web::security_headers))
        .with_state(state)
}

/// The routes of hotline's own API (`/api`, and `/public` when the public
/// side is on), each described by its handler, and their OpenAPI document
/// ([`openapi`]).
pub fn documented(
    state: &AppState,
    max_upload: u64,
) -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi;
    let parts = [
        auth::routes(),
        queues::routes(),
        calls::routes(),
        crate::appeal::routes::routes(max_upload),
        crate::appeal::lifecycle_routes::routes(),
        crate::appeal::verification_routes::routes(),
        crate::report::routes::routes(),
        recordings::routes(),
        blocking::routes(),
        works::routes(),
        announcements::routes(),
        ivr::routes(),
        admin::routes(),
        admin_ivr::routes(),
        admin_operators::routes(),
        crate::public::routes::routes(&state.public),
    ];
    let mut all = utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi());
    for part in parts {
        openapi::no_clash(all.get_openapi(), part.get_openapi());
        all = all.merge(part);
    }
    let (router, mut document) = all.split_for_parts();
    openapi::finish(&mut document);
    (router, document)
}

/// The start of today on the city's clock (`tz`, the working calendar's
/// zone), for "today's" figures.
pub fn city_day_start(tz: chrono_tz::Tz) -> chrono::DateTime<chrono::Utc> {
    let now = chrono::Utc::now();
    now.with_timezone(&tz)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(tz).earliest())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or(now)
}

/// Where a bare date (`YYYY-MM-DD`, a day on the city's clock) falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayEdge {
    /// Its first moment: a search's `from`.
    Start,
    /// Its last second: a block's `until` ("through that day").
    LastSecond,
    /// The first moment of the next day: a search's `to`, exclusive.
    End,
}

/// A moment as people give one: RFC 3339, or a date taken at `edge`.
pub fn moment(
    text: &str,
    edge: DayEdge,
    tz: chrono_tz::Tz,
) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{DateTime, NaiveDate, Utc};
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let at = match edge {
        DayEdge::Start => day.and_hms_opt(0, 0, 0)?,
        DayEdge::LastSecond => day.and_hms_opt(23, 59, 59)?,
        DayEdge::End => day.succ_opt()?.and_hms_opt(0, 0, 0)?,
    };
    at.and_local_timezone(tz)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// A moment from a query: RFC 3339, or a date (`from`: the start of that
/// day, `to`: the end of it, on the city's clock `tz`); a 422 naming
/// `field` if it is neither.
pub fn query_moment(
    field: &'static str,
    text: &str,
    end_of_day: bool,
    tz: chrono_tz::Tz,
) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    let edge = if end_of_day {
        DayEdge::End
    } else {
        DayEdge::Start
    };
    moment(text, edge, tz).ok_or_else(|| ApiError::field(field, "Дата: РРРР-ММ-ДД."))
}

/// Content-Disposition (RFC 6266) of `kind` (`inline`, `attachment`) with
/// the name twice: ASCII for old clients, and `filename*` (RFC 8187) in
/// UTF-8, percent-encoded but for the attr-chars.
pub fn disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn dates_in_queries_cover_whole_days_of_the_city() {
        let kyiv = chrono_tz::Europe::Kyiv;
        let from = moment("2026-11-24", DayEdge::Start, kyiv).unwrap();
        let to = moment("2026-11-24", DayEdge::End, kyiv).unwrap();
        assert_eq!(to - from, TimeDelta::days(1));
        assert_eq!(
            from,
            "2026-11-23T22:00:00Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
        );
        // The day the clocks go forward is 23 hours long.
        let spring = moment("2026-03-29", DayEdge::Start, kyiv).unwrap();
        let next = moment("2026-03-29", DayEdge::End, kyiv).unwrap();
        assert_eq!(next - spring, TimeDelta::hours(23));
        assert_eq!(
            moment("2026-11-24T10:00:00Z", DayEdge::End, kyiv),
            Some("2026-11-24T10:00:00Z".parse().unwrap())
        );
        assert_eq!(moment("yesterday", DayEdge::Start, kyiv), None);
    }

    #[test]
    fn downloads_carry_an_ascii_and_a_utf8_name() {
        assert_eq!(
            disposition("attachment", "акт №1.pdf"),
            "attachment; filename=\"___ _1.pdf\"; filename*=UTF-8''%D0%B0%D0%BA%D1%82%20%E2%84%961.pdf"
        );
    }
}
