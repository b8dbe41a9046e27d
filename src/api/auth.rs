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

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ErrorBody, Forbidden};
use super::state::AppState;
use crate::logtext::Untrusted;
use crate::store::{Role, Session, SessionLimits, Store, User};

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

    /// A failed sign-in. Only a login that could exist is counted by name:
    /// any other text would only fill the table (the address still counts).
    pub fn failed(&mut self, now: Instant, ip: IpAddr, login: &str) {
        self.by_address.entry(ip).or_default().push(now);
        if crate::store::is_possible_login(login) {
            self.by_login.entry(login.to_owned()).or_default().push(now);
        }
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

/// A signed-in user, for a handler.
pub struct Auth(pub Session);

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

    pub fn user(&self) -> &User {
        &self.0.user
    }

    /// The signed-in user as the author of a card's history entry.
    pub fn author(&self) -> crate::appeal::lifecycle_store::Author {
        let user = &self.0.user;
        crate::appeal::lifecycle_store::Author {
            user_id: Some(user.id),
            login: user.login.clone(),
            role: user.role.to_string(),
            // An executor's user acts for its organisation: the history
            // says which.
            executor: user
                .executor
                .as_deref()
                .and_then(|code| crate::appeal::lifecycle::ExecutorCode::parse(code).ok()),
        }
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

impl<S> FromRequestParts<S> for Auth
where
    S: Send + Sync,
    Store: FromRef<S>,
    Arc<AuthSettings>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = cookie_token(&parts.headers).ok_or(ApiError::Unauthorized("sign in first"))?;
        let settings = Arc::<AuthSettings>::from_ref(state);
        let session = Store::from_ref(state)
            .session(&token, Utc::now(), settings.limits)
            .await?
            .ok_or(ApiError::Unauthorized(
                "the session has ended; sign in again",
            ))?;
        let changes = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if changes {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !same(sent, &session.csrf_token) {
                warn!(user = %session.user.login, path = %parts.uri.path(), "request without the CSRF token refused");
                return Err(ApiError::forbidden("missing or wrong X-CSRF-Token"));
            }
        }
        Ok(Auth(session))
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(current, sign_in, sign_out))
}

/// The session as the console sees it: the user, the operator login an
/// operator user works as, the CSRF token and when the session ends.
#[derive(Serialize, ToSchema)]
#[schema(as = Session)]
struct SessionView {
    user: UserView,
    /// The operator (extension) an operator user works as.
    operator: Option<String>,
    /// Send it in `X-CSRF-Token` with every request that changes anything.
    csrf_token: String,
    expires_at: DateTime<Utc>,
}

/// Who a session or a console belongs to.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    pub login: String,
    pub name: String,
    #[schema(value_type = Role)]
    pub role: &'static str,
}

impl From<&User> for UserView {
    fn from(u: &User) -> UserView {
        UserView {
            login: u.login.clone(),
            name: u.display_name.clone(),
            role: u.role.as_str(),
        }
    }
}

async fn session_view(store: &Store, session: &Session) -> Result<SessionView, ApiError> {
    let operator = match session.user.operator_id {
        Some(id) => store.operator_login(id).await?,
        None => None,
    };
    Ok(SessionView {
        user: UserView::from(&session.user),
        operator,
        csrf_token: session.csrf_token.clone(),
        expires_at: session.expires_at,
    })
}

/// Who is signed in, with the CSRF token (a page that reloads gets it again).
#[utoipa::path(get, path = "/api/session", operation_id = "current_session", tag = "session",
    responses((status = 200, body = SessionView)))]
async fn current(State(store): State<Store>, auth: Auth) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(session_view(&store, &auth.0).await?))
}

#[derive(Deserialize, ToSchema)]
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

/// Signs in: sets the session cookie and answers the session.
///
/// Failed sign-ins are limited per address and per login: past the limit,
/// 429 with `Retry-After`.
#[utoipa::path(post, path = "/api/session", tag = "session",
    request_body = Credentials,
    responses(
        (status = 200, body = SessionView,
            headers(("set-cookie" = String, description = "The session cookie"))),
        (status = 401, body = ErrorBody, description = "Wrong login or password"),
        (status = 422, body = ErrorBody, description = "Not `{login, password}`"),
        (status = 429, body = ErrorBody, description = "Too many failed sign-ins",
            headers(("retry-after" = u64, description = "Seconds to wait"))),
    ))]
async fn sign_in(
    State(store): State<Store>,
    State(settings): State<Arc<AuthSettings>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(creds) = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::from(e),
        _ => ApiError::unprocessable("send {\"login\": …, \"password\": …}"),
    })?;
    let login = creds.login.trim().to_lowercase();
    let ip = peer.ip();
    let blocked = settings
        .limiter
        .lock()
        .map(|mut l| l.blocked(Instant::now(), ip, &login))
        .unwrap_or(None);
    if let Some(retry_after) = blocked {
        warn!(%ip, login = %Untrusted(&login), "sign-in refused: too many failures");
        return Err(ApiError::TooManyRequests {
            message: "too many failed sign-ins; try again later",
            retry_after,
        });
    }
    // A login no account can have is not looked up (nor kept whole).
    let user = match crate::store::is_possible_login(&login) {
        true => store.verify_user_password(&login, &creds.password).await?,
        false => None,
    };
    let Some(user) = user else {
        if let Ok(mut l) = settings.limiter.lock() {
            l.failed(Instant::now(), ip, &login);
        }
        warn!(%ip, login = %Untrusted(&login), "sign-in failed");
        return Err(ApiError::Unauthorized("wrong login or password"));
    };
    if let Ok(mut l) = settings.limiter.lock() {
        l.succeeded(&login);
    }
    let now = Utc::now();
    let new = store.create_session(user.id, now, settings.limits).await?;
    info!(%ip, login = %user.login, role = user.role.as_str(), "signed in");
    let session = Session {
        user,
        csrf_token: new.csrf_token,
        created_at: now,
        expires_at: new.expires_at,
    };
    let max_age = settings.limits.lifetime.num_seconds();
    let body = session_view(&store, &session).await?;
    Ok((
        [(
            header::SET_COOKIE,
            cookie(&new.token, max_age, settings.secure_cookies),
        )],
        Json(body),
    ))
}

/// Signs out: ends the session and clears the cookie.
#[utoipa::path(delete, path = "/api/session", tag = "session",
    responses((status = 204, description = "Signed out")))]
async fn sign_out(
    State(store): State<Store>,
    State(settings): State<Arc<AuthSettings>>,
    auth: Auth,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(token) = cookie_token(&headers) {
        store.end_session(&token).await?;
    }
    info!(login = %auth.user().login, "signed out");
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, cookie("", 0, settings.secure_cookies))],
    ))
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
    fn a_login_no_account_can_have_is_counted_by_address_only() {
        let t0 = Instant::now();
        let mut l = SignInLimiter::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let huge = "x".repeat(1 << 20);
        l.failed(t0, a, &huge);
        l.failed(t0, a, "admin\nINFO forged");
        assert!(l.by_login.is_empty(), "nothing kept by name");
        assert_eq!(l.by_address[&a].len(), 2);
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
