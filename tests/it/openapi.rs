//! The OpenAPI documents (`/api/openapi.json`, `/open311/v2/openapi.json`)
//! read by independent libraries: openapi-spec-validator checks each
//! against the OpenAPI specification, and openapi-core checks real
//! requests and the running server's real answers against them, over
//! most of the API as its users drive it (`openapi_client.py`). SQLite
//! only: the documents and the handlers are the same on both backends.

use std::collections::BTreeSet;

use chrono::Utc;
use serde_json::Value;

use crate::public::{category, with_classifier};
use crate::{AppOptions, PNG, spawn_app};

/// Operations the client does not drive, and why: each needs a call or a
/// recording made over SIP, which other tests do (`recordings`, `calls`,
/// `verification`, `reports`).
const NOT_DRIVEN: &[(&str, &str)] = &[
    ("GET", "/api/recordings/{id}"),
    ("GET", "/api/recordings/{id}/audio"),
    ("POST", "/api/recordings/{id}/hold"),
    ("POST", "/api/calls/{id}/block"),
    ("POST", "/api/appeals/{number}/calls"),
    ("POST", "/api/verification/{number}/call"),
    ("POST", "/api/report-deliveries/{id}/retry"),
];

#[tokio::test]
async fn the_documents_are_valid_and_the_server_answers_as_they_say() {
    let app = spawn_app(AppOptions::default()).await;
    with_classifier(&app).await;
    let (_, executor) = category(&app, "холодн").await;
    app.add_operator("olena", "1001").await;
    let logins = [
        ("sveta", hotline::store::Role::Supervisor),
        ("olena", hotline::store::Role::Operator),
        (executor.as_str(), hotline::store::Role::Executor),
        ("adm", hotline::store::Role::Admin),
    ];
    for (login, role) in logins {
        app.sign_in_as(login, role).await;
    }
    let (key, _) = app
        .store()
        .add_api_key("Перевірка документа", false, Utc::now())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("act.png");
    std::fs::write(&png, PNG).unwrap();
    let script = crate::repo().join("tests/it/openapi_client.py");
    let out = tokio::process::Command::new(crate::reports::python_bin())
        .arg(&script)
        .arg(format!("http://{}", app.http_addr))
        .args(["test-password", "sveta", "olena", &executor, "adm", &key])
        .arg(&png)
        .output()
        .await
        .expect("python runs");
    assert!(
        out.status.success(),
        "the OpenAPI check failed (scripts/test installs openapi-core in a venv; \
         HOTLINE_TEST_PYTHON names that python):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("the client's JSON");
    assert!(
        report["api"].as_str().unwrap().starts_with("3.1"),
        "{report}"
    );
    let documented: BTreeSet<(String, String)> = report["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o[0].as_str().unwrap().into(), o[1].as_str().unwrap().into()))
        .collect();
    let driven: BTreeSet<(String, String)> = report["checked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c[0].as_str().unwrap().into(), c[1].as_str().unwrap().into()))
        .collect();
    let exempt: BTreeSet<(String, String)> = NOT_DRIVEN
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let missed: Vec<_> = documented
        .difference(&driven)
        .filter(|op| !exempt.contains(*op))
        .collect();
    assert!(missed.is_empty(), "operations no check drove: {missed:?}");
    assert!(
        exempt.is_subset(&documented),
        "NOT_DRIVEN names an operation the document lacks: {:?}",
        exempt.difference(&documented).collect::<Vec<_>>()
    );
    // Failures were checked too, not only successes.
    let statuses: BTreeSet<u64> = report["checked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[2].as_u64().unwrap())
        .collect();
    for status in [200, 201, 204, 400, 401, 403, 404, 409, 422] {
        assert!(statuses.contains(&status), "no answer {status} was checked");
    }
}
