//! Sign-in, sessions, CSRF and roles on every API route, over real HTTP;
//! `hotline user add` through the binary.

use chrono::Utc;
use hotline::api::auth::MAX_FAILURES;
use hotline::store::Role;
use hotline::store::operators::{DEFAULT_REALM, NewOperator, QueueMembership};

use crate::{ApiSession, AppOptions, TestApp, request, sign_in, spawn_app};

/// Every API route with the method and a body that passes its checks.
const ROUTES: [(&str, &str, &str); 5] = [
    ("GET", "/api/queues", ""),
    ("GET", "/api/operators", ""),
    (
        "PUT",
        "/api/operators/olena/state",
        r#"{"state":"logged_in"}"#,
    ),
    (
        "PUT",
        "/api/operators/petro/state",
        r#"{"state":"logged_in"}"#,
    ),
    ("POST", "/api/ivr/reload", ""),
];

async fn status(app: &TestApp, session: Option<&ApiSession>, route: (&str, &str, &str)) -> u16 {
    let headers = session.map(ApiSession::headers).unwrap_or_default();
    request(app.http_addr, route.0, route.1, &headers, route.2)
        .await
        .status
}

async fn app_with_operators() -> TestApp {
    let app = spawn_app(AppOptions::default()).await;
    for (login, ext) in [("olena", "1001"), ("petro", "1002")] {
        let op = NewOperator::new(
            login,
            ext,
            None,
            vec![QueueMembership::new("general", 0)],
            Utc::now(),
        );
        app.store()
            .add_operator(&op, "sip-secret1", DEFAULT_REALM)
            .await
            .unwrap();
    }
    app
}

#[tokio::test]
async fn every_route_checks_the_session_and_the_role() {
    let app = app_with_operators().await;
    for route in ROUTES {
        assert_eq!(
            status(&app, None, route).await,
            401,
            "{route:?} without a session"
        );
    }
    let operator = app.sign_in_as("olena", Role::Operator).await;
    let supervisor = app.sign_in_as("sveta", Role::Supervisor).await;
    let executor = app.sign_in_as("vodokanal", Role::Executor).await;
    let admin = app.sign_in_as("root", Role::Admin).await;
    // queues, operators, olena's state, petro's state, IVR reload
    let expected = [
        (&operator, [200, 403, 200, 403, 403]),
        (&supervisor, [200, 200, 200, 200, 403]),
        (&executor, [403, 403, 403, 403, 403]),
        (&admin, [200, 200, 200, 200, 200]),
    ];
    for (session, codes) in expected {
        for (route, code) in ROUTES.into_iter().zip(codes) {
            assert_eq!(
                status(&app, Some(session), route).await,
                code,
                "{route:?} as {session:?}"
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
