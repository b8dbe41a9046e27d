//! Sign-in, sessions, CSRF and roles on every API route, over real HTTP;
//! `hotline user add` through the binary.

use chrono::Utc;
use hotline::api::auth::MAX_FAILURES;
use hotline::store::Role;

use crate::{
    ApiSession, AppOptions, PNG, TestApp, multipart, request, request_bytes, sign_in, spawn_app,
};

/// A request to one route: method, path, body (JSON, or a multipart file
/// when `multipart`).
#[derive(Debug, Clone)]
struct Route {
    method: &'static str,
    path: String,
    body: String,
    multipart: bool,
}

fn route(method: &'static str, path: impl Into<String>, body: impl Into<String>) -> Route {
    Route {
        method,
        path: path.into(),
        body: body.into(),
        multipart: false,
    }
}

async fn status(app: &TestApp, session: Option<&ApiSession>, route: &Route) -> u16 {
    let mut headers = session.map(ApiSession::headers).unwrap_or_default();
    if route.multipart {
        let (content_type, body) = multipart("photo.png", PNG);
        headers.push(("Content-Type", content_type));
        return request_bytes(app.http_addr, route.method, &route.path, &headers, &body)
            .await
            .status;
    }
    request(
        app.http_addr,
        route.method,
        &route.path,
        &headers,
        &route.body,
    )
    .await
    .status
}

async fn app_with_operators() -> TestApp {
    let app = spawn_app(AppOptions::default()).await;
    for (login, ext) in [("olena", "1001"), ("petro", "1002")] {
        app.add_operator(login, ext).await;
    }
    app
}

#[tokio::test]
async fn every_route_checks_the_session_and_the_role() {
    let app = app_with_operators().await;
    hotline::store::demo::seed(app.store(), Utc::now())
        .await
        .unwrap();
    let category =
        hotline::store::testing::sample_category(app.store(), "zaporizhzhia.toml", Utc::now())
            .await;
    let number = hotline::store::demo::APPEAL_NUMBER;
    // A call nobody took (so an operator may not act on it).
    let call = app.stored_call().await;
    let admin = app.sign_in_as("root", Role::Admin).await;
    // An attachment on the demo card, to download (a step of the card's
    // life: the contact centre's, not an admin's).
    let (content_type, body) = multipart("photo.png", PNG);
    let mut headers = app.sign_in_as("control", Role::Supervisor).await.headers();
    headers.push(("Content-Type", content_type));
    let r = request_bytes(
        app.http_addr,
        "POST",
        &format!("/api/appeals/{number}/attachments"),
        &headers,
        &body,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let attachment: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let card = serde_json::json!({
        "surname": "Шевченко", "first_name": "Тарас", "patronymic": "Григорович",
        "address": "вул. Соборна, 1", "contact_phone": "0671234567",
        "essence": "Немає світла в під'їзді.", "category_id": category,
    })
    .to_string();

    let routes = [
        route("GET", "/api/session", ""),
        route("GET", "/api/queues", ""),
        route("GET", "/api/operators", ""),
        route("GET", "/api/live", ""),
        route(
            "PUT",
            "/api/operators/olena/state",
            r#"{"state":"logged_in"}"#,
        ),
        route(
            "PUT",
            "/api/operators/petro/state",
            r#"{"state":"logged_in"}"#,
        ),
        route("POST", "/api/ivr/reload", ""),
        route("GET", "/api/classifier", ""),
        route("POST", "/api/appeals", card),
        route("GET", format!("/api/appeals/{number}"), ""),
        route(
            "POST",
            format!("/api/appeals/{number}/calls"),
            format!(r#"{{"call_id":"{call}"}}"#),
        ),
        Route {
            multipart: true,
            ..route("POST", format!("/api/appeals/{number}/attachments"), "")
        },
        route("GET", attachment["url"].as_str().unwrap().to_owned(), ""),
        route("GET", "/api/my/calls", ""),
        route(
            "POST",
            format!("/api/calls/{call}/block"),
            r#"{"reason":"образи"}"#,
        ),
        route("GET", "/api/blocked", ""),
        route(
            "POST",
            "/api/blocked",
            r#"{"number":"067 123 45 67","reason":"образи"}"#,
        ),
        route("DELETE", "/api/blocked/0671234567", ""),
        route("GET", "/api/recordings", ""),
        route("GET", "/api/recording-access", ""),
        route(
            "POST",
            format!("/api/appeals/{number}/hold"),
            r#"{"reason":"скарга"}"#,
        ),
    ];
    for r in &routes {
        assert_eq!(status(&app, None, r).await, 401, "{r:?} without a session");
    }
    let operator = app.sign_in_as("olena", Role::Operator).await;
    let supervisor = app.sign_in_as("sveta", Role::Supervisor).await;
    let executor = app.sign_in_as("vodokanal", Role::Executor).await;
    // An operator may act only on calls they took: 403 for this one.
    #[rustfmt::skip]
    let expected: [(&ApiSession, [u16; 21]); 4] = [
        //           sess queue ops live  olena petro ivr  class card view calls file  down mine block blist badd bdel recs acc  hold
        (&operator,   [200, 200, 403, 403, 200,  403,  403, 200, 201, 200, 403,  201, 200, 200, 403,  403,  403, 403, 200, 403, 403]),
        (&supervisor, [200, 200, 200, 200, 200,  200,  403, 200, 201, 200, 201,  201, 200, 403, 201,  200,  201, 200, 200, 403, 201]),
        (&executor,   [200, 403, 403, 403, 403,  403,  403, 200, 403, 403, 403,  403, 403, 403, 403,  403,  403, 403, 403, 403, 403]),
        (&admin,      [200, 200, 200, 200, 200,  200,  200, 200, 201, 200, 200,  403, 200, 403, 201,  200,  201, 200, 200, 200, 201]),
    ];
    for (session, codes) in expected {
        for (r, code) in routes.iter().zip(codes) {
            assert_eq!(
                status(&app, Some(session), r).await,
                code,
                "{r:?} as {session:?}"
            );
        }
    }
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_it() {
    let app = spawn_app(AppOptions::default()).await;
    let session = app.sign_in_as("sveta", Role::Supervisor).await;
    let body = r#"{"login":"sveta","password":"test-password"}"#;
    let r = request(app.http_addr, "POST", "/api/session", &[], body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = r.header("set-cookie").unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "no TLS here: {cookie}");
    let json: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(json["user"]["role"], "supervisor");
    assert!(!r.body.contains("password"), "{}", r.body);

    let r = request(app.http_addr, "GET", "/api/session", &session.headers(), "").await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains(&session.csrf),
        "a reloaded page gets the CSRF token"
    );

    for wrong in [
        r#"{"login":"sveta","password":"wrong-password"}"#,
        r#"{"login":"nobody","password":"test-password"}"#,
    ] {
        let r = request(app.http_addr, "POST", "/api/session", &[], wrong).await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.header("set-cookie").is_none());
    }
    let r = request(app.http_addr, "POST", "/api/session", &[], "{\"login\":1}").await;
    assert_eq!(r.status, 422);

    let r = request(
        app.http_addr,
        "DELETE",
        "/api/session",
        &session.headers(),
        "",
    )
    .await;
    assert_eq!(r.status, 204);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let r = request(app.http_addr, "GET", "/api/session", &session.headers(), "").await;
    assert_eq!(r.status, 401, "the session is over");
}

#[tokio::test]
async fn changes_need_the_csrf_token() {
    let app = app_with_operators().await;
    let admin = app.sign_in_as("root", Role::Admin).await;
    let path = "/api/operators/olena/state";
    let body = r#"{"state":"logged_in"}"#;
    let cookie_only = vec![("Cookie", format!("hotline_session={}", admin.cookie))];
    let r = request(app.http_addr, "PUT", path, &cookie_only, body).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let mut wrong = cookie_only.clone();
    wrong.push(("X-CSRF-Token", "0".repeat(64)));
    let r = request(app.http_addr, "PUT", path, &wrong, body).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = request(app.http_addr, "PUT", path, &admin.headers(), body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Reading needs no token.
    let r = request(app.http_addr, "GET", "/api/operators", &cookie_only, "").await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn repeated_failures_are_slowed_down() {
    let app = spawn_app(AppOptions::default()).await;
    app.sign_in_as("sveta", Role::Supervisor).await;
    for _ in 0..MAX_FAILURES {
        assert!(
            sign_in(app.http_addr, "sveta", "wrong-password")
                .await
                .is_err()
        );
    }
    let body = r#"{"login":"sveta","password":"test-password"}"#;
    let r = request(app.http_addr, "POST", "/api/session", &[], body).await;
    assert_eq!(r.status, 429, "even the right password waits: {}", r.body);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 800 && wait <= 900, "{wait}");
}

#[tokio::test]
async fn users_are_added_from_the_command_line() {
    let app = app_with_operators().await;
    let hotline = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(["--config"])
            .arg(crate::repo().join("sip-config/hotline.toml"))
            .args(args)
            .env("HOTLINE_STORAGE__DATABASE_URL", app.db.url())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("hotline runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = hotline(
        &[
            "user",
            "add",
            "--login",
            "olena",
            "--role",
            "operator",
            "--password",
            "-",
        ],
        "console-pass\n",
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("user olena added: operator, operator olena"),
        "{out}"
    );
    let (ok, out) = hotline(
        &[
            "user",
            "add",
            "--login",
            "boss",
            "--role",
            "king",
            "--password",
            "x",
        ],
        "",
    );
    assert!(!ok && out.contains("unknown role"), "{out}");
    sign_in(app.http_addr, "olena", "console-pass")
        .await
        .expect("the new user signs in");
    let (ok, out) = hotline(&["user", "list"], "");
    assert!(
        ok && out.contains("olena") && out.contains("operator"),
        "{out}"
    );
}

#[tokio::test]
async fn the_console_page_is_served_with_its_security_headers() {
    let app = spawn_app(AppOptions::default()).await;
    for path in ["/", "/card", "/live"] {
        let r = request(app.http_addr, "GET", path, &[], "").await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.body.contains("<html lang=\"uk\">"), "{path}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        let csp = r.header("content-security-policy").unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    let r = request(app.http_addr, "GET", "/static/main.js", &[], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    // Revalidated by ETag: unchanged, a 304 without the body.
    let etag = r.header("etag").unwrap().to_owned();
    let r = request(
        app.http_addr,
        "GET",
        "/static/main.js",
        &[("If-None-Match", etag)],
        "",
    )
    .await;
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    for missing in [
        "/static/nope.js",
        "/static/index.html",
        "/static/..%2Fsrc%2Fmain.rs",
    ] {
        let r = request(app.http_addr, "GET", missing, &[], "").await;
        assert_eq!(r.status, 404, "{missing}");
    }
    // The API's answers carry the headers too.
    let r = request(app.http_addr, "GET", "/api/queues", &[], "").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}
