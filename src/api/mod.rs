//! The HTTP edge: the JSON API under `/api` (sign-in and sessions in
//! [`auth`], queues, operators' states and the live snapshot in [`queues`],
//! appeal cards and their attachments in [`appeals`], the operator's own
//! calls in [`calls`]), the console's websocket ([`console`]) and the
//! console's pages ([`web`]). Every API route but sign-in needs a session
//! and checks the role; the pages themselves hold no data.

pub mod appeals;
pub mod auth;
pub mod blocking;
pub mod calls;
pub mod console;
pub mod queues;
pub mod recordings;
pub mod web;

/// The start of today (the server's local day), for "today's" figures.
pub fn local_day_start() -> chrono::DateTime<chrono::Utc> {
    use chrono::Local;
    let now = chrono::Utc::now();
    Local::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(Local).earliest())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or(now)
}
