//! Sign-in, sessions and roles for the console and the API.
//!
//! - `POST /api/session` with `{"login": …, "password": …}` signs in: a
//!   session cookie (`hotline_session`: HttpOnly, SameSite=Strict, Path=/,
//!   Secure when `[http] secure_cookies`) and, in the body, the user and the
//!   CSRF token.
//! - `GET /api/session`: who is signed in, with the CSRF token (a page that
//!   reloads gets it again).
//! - `DELETE /api/session`: signs out.
//!
//! Every other `/api` route takes an [`Auth`] (401 without a live session)
//! and says which roles may use it ([`Auth::require`], 403 otherwise).
//! Requests that change anything (POST, PUT, PATCH, DELETE) must carry the
//! session's CSRF token in `X-CSRF-Token` (403 otherwise): a page of
//! another site cannot read it, so it cannot forge such a request.
//!
//! Failed sign-ins are limited per address and per login
//! ([`SignInLimiter`]): after [`MAX_FAILURES`] in [`FAILURE_WINDOW`], 429
//! with Retry-After until the window has passed, and each refusal is
//! logged.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use tracing::{info, warn};

use crate::server::HttpState;
use crate::store::{Role, Session, SessionLimits};

pub const COOKIE: &str = "hotline_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Failed sign-ins allowed per address, and per login, in a window.
pub const MAX_FAILURES: usize = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Counts failed sign-ins, sans-IO: it is told the time.
#[derive(Debug, Default)]
pub struct SignInLimiter {
    by_address: HashMap<IpAddr, Vec<Instant>>,
    by_login: HashMap<String, Vec<Instant>>,
}

impl SignInLimiter {
    /// `Some(wait)` if sign-ins from this address or for this login are
    /// refused for now.
    pub fn blocked(&mut self, now: Instant, ip: IpAddr, login: &str) -> Option<Duration> {
        self.forget(now);
        let wait = |failures: Option<&Vec<Instant>>| {
            let failures = failures?;
            (failures.len() >= MAX_FAILURES)
                .then(|| (failures[failures.len() - MAX_FAILURES] + FAILURE_WINDOW) - now)
        };
        wait(self.by_address.get(&ip))
            .into_iter()
            .chain(wait(self.by_login.get(login)))
            .max()
    }

    pub fn failed(&mut self, now: Instant, ip: IpAddr, login: &str) {
        self.by_address.entry(ip).or_default().push(now);
        self.by_login.entry(login.to_owned()).or_default().push(now);
    }

    /// A good sign-in clears the login's failures (not the address's: one
    /// good account must not unlock guessing at others).
    pub fn succeeded(&mut self, login: &str) {
        self.by_login.remove(login);
    }

    fn forget(&mut self, now: Instant) {
        for list in self
            .by_address
            .values_mut()
            .chain(self.by_login.values_mut())
        {
            list.retain(|t| now.duration_since(*t) < FAILURE_WINDOW);
        }
        self.by_address.retain(|_, l| !l.is_empty());
        self.by_login.retain(|_, l| !l.is_empty());
    }
}

/// What the HTTP layer needs for sign-in.
pub struct AuthSettings {
    pub limits: SessionLimits,
    pub secure_cookies: bool,
    pub limiter: std::sync::Mutex<SignInLimiter>,
}

/// An API error as JSON: `{"error": "…"}`.
pub fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

/// A signed-in user, for a handler.
pub struct Auth(pub Session);

/// A request the user's role may not make: answered 403.
#[derive(Debug)]
pub struct Forbidden(Role);

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        error(
            StatusCode::FORBIDDEN,
            format!("not allowed for the role {}", self.0),
        )
    }
}

impl Auth {
    /// 403 unless the user has one of these roles.
    pub fn require(&self, roles: &[Role]) -> Result<(), Forbidden> {
        if roles.contains(&self.0.user.role) {
            Ok(())
        } else {
            Err(Forbidden(self.0.user.role))
        }
    }

    pub fn role(&self) -> Role {
        self.0.user.role
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// Constant-time comparison, so the CSRF check leaks nothing by timing.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl FromRequestParts<HttpState> for Auth {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &HttpState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = cookie_token(&parts.headers) else {
            return Err(error(StatusCode::UNAUTHORIZED, "sign in first"));
        };
        let session = state
            .ctx
            .store
            .session(&token, Utc::now(), state.auth.limits)
            .await
            .map_err(|e| error(StatusCode::SERVICE_UNAVAILABLE, e))?
            .ok_or_else(|| {
                error(
                    StatusCode::UNAUTHORIZED,
                    "the session has ended; sign in again",
                )
            })?;
        let changes = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if changes {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same(sent, &session.csrf_token) {
                warn!(user = %session.user.login, path = %parts.uri.path(), "request without the CSRF token refused");
                return Err(error(
                    StatusCode::FORBIDDEN,
                    "missing or wrong X-CSRF-Token",
                ));
            }
        }
        Ok(Auth(session))
    }
}

pub fn routes() -> axum::Router<HttpState> {
    axum::Router::new().route("/api/session", get(current).post(sign_in).delete(sign_out))
}

/// The session as the console sees it: the user, the operator login an
/// operator user works as, the CSRF token and when the session ends.
async fn session_json(state: &HttpState, session: &Session) -> Result<serde_json::Value, Response> {
    let u = &session.user;
    let operator = match u.operator_id {
        Some(id) => state
            .ctx
            .store
            .operator_login(id)
            .await
            .map_err(|e| error(StatusCode::SERVICE_UNAVAILABLE, e))?,
        None => None,
    };
    Ok(json!({
        "user": {
            "login": u.login,
            "name": u.display_name,
            "role": u.role.as_str(),
        },
        "operator": operator,
        "csrf_token": session.csrf_token,
        "expires_at": session.expires_at,
    }))
}

async fn current(State(state): State<HttpState>, auth: Auth) -> Response {
    match session_json(&state, &auth.0).await {
        Ok(body) => Json(body).into_response(),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    login: String,
    password: String,
}

fn cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    // Tokens are hex: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

async fn sign_in(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<Credentials>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(creds)) = body else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "send {\"login\": …, \"password\": …}",
        );
    };
    let login = creds.login.trim().to_lowercase();
    let ip = peer.ip();
    let blocked = state
        .auth
        .limiter
        .lock()
        .map(|mut l| l.blocked(Instant::now(), ip, &login))
        .unwrap_or(None);
    if let Some(wait) = blocked {
        warn!(%ip, %login, "sign-in refused: too many failures");
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed sign-ins; try again later",
        );
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let user = match state
        .ctx
        .store
        .verify_user_password(&login, &creds.password)
        .await
    {
        Ok(user) => user,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let Some(user) = user else {
        if let Ok(mut l) = state.auth.limiter.lock() {
            l.failed(Instant::now(), ip, &login);
        }
        warn!(%ip, %login, "sign-in failed");
        return error(StatusCode::UNAUTHORIZED, "wrong login or password");
    };
    if let Ok(mut l) = state.auth.limiter.lock() {
        l.succeeded(&login);
    }
    let now = Utc::now();
    let new = match state
        .ctx
        .store
        .create_session(user.id, now, state.auth.limits)
        .await
    {
        Ok(s) => s,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    info!(%ip, login = %user.login, role = user.role.as_str(), "signed in");
    let session = Session {
        user,
        csrf_token: new.csrf_token,
        created_at: now,
        expires_at: new.expires_at,
    };
    let max_age = state.auth.limits.lifetime.num_seconds();
    let body = match session_json(&state, &session).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&new.token, max_age, state.auth.secure_cookies),
    );
    response
}

async fn sign_out(State(state): State<HttpState>, auth: Auth, headers: HeaderMap) -> Response {
    if let Some(token) = cookie_token(&headers) {
        if let Err(e) = state.ctx.store.end_session(&token).await {
            return error(StatusCode::SERVICE_UNAVAILABLE, e);
        }
    }
    info!(login = %auth.0.user.login, "signed out");
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, state.auth.secure_cookies));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_limited_per_address_and_per_login_for_a_window() {
        let t0 = Instant::now();
        let mut l = SignInLimiter::default();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for i in 0..MAX_FAILURES as u64 {
            assert_eq!(l.blocked(t0, a, "olena"), None);
            l.failed(t0 + Duration::from_secs(i), a, "olena");
        }
        let at = t0 + Duration::from_secs(10);
        let wait = l.blocked(at, a, "petro").expect("the address is blocked");
        assert_eq!(wait, FAILURE_WINDOW - Duration::from_secs(10));
        assert!(
            l.blocked(at, b, "olena").is_some(),
            "the login too, from anywhere"
        );
        assert_eq!(l.blocked(at, b, "petro"), None);
        // The window passes from the oldest failure that counts.
        assert!(l.blocked(t0 + FAILURE_WINDOW, a, "x").is_none());
    }

    #[test]
    fn a_good_sign_in_clears_the_login_not_the_address() {
        let t0 = Instant::now();
        let mut l = SignInLimiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..MAX_FAILURES - 1 {
            l.failed(t0, a, "olena");
        }
        l.succeeded("olena");
        l.failed(t0, a, "olena");
        assert!(
            l.blocked(t0, a, "petro").is_some(),
            "the address still counts"
        );
        let b: IpAddr = "192.0.2.9".parse().unwrap();
        assert_eq!(l.blocked(t0, b, "olena"), None, "the login starts again");
    }

    #[test]
    fn cookies_and_tokens() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; hotline_session=abc; b=2"),
        );
        assert_eq!(cookie_token(&h).as_deref(), Some("abc"));
        let c = cookie("abc", 60, true);
        let c = c.to_str().unwrap();
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=60",
            "Secure",
        ] {
            assert!(c.contains(part), "{c}");
        }
        assert!(
            !cookie("abc", 60, false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
