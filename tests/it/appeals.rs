//! Appeal cards over the API: the classifier for the category field, a
//! card refused with a message per wrong field, a card registered with its
//! number, deadline and executor, a repeat appeal, and the roles.

use chrono::{DateTime, Datelike, Utc};
use hotline::appeal::classifier::Classifier;
use hotline::store::Role;
use hotline::store::testing::sample_category;
use serde_json::{Value, json};

use crate::{AppOptions, files_under, request, spawn_app};

#[tokio::test]
async fn cards_are_registered_with_a_number_deadline_and_executor() {
    let app = spawn_app(AppOptions::default()).await;
    let classifier = Classifier::load(&crate::repo().join("classifier/zaporizhzhia.toml")).unwrap();
    app.store()
        .import_classifier(&classifier, "zaporizhzhia.toml", Utc::now())
        .await
        .unwrap();
    let operator_session = {
        let op = hotline::store::NewOperator::new("olena", "1001", None, Vec::new(), Utc::now());
        app.store()
            .add_operator(&op, "sip-secret1", hotline::store::operators::DEFAULT_REALM)
            .await
            .unwrap();
        app.sign_in_as("olena", Role::Operator).await
    };
    let headers = operator_session.headers();

    let r = request(app.http_addr, "GET", "/api/classifier", &headers, "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tree: Value = serde_json::from_str(&r.body).unwrap();
    let sections = tree["sections"].as_array().unwrap();
    assert!(sections.len() >= 12);
    // An emergency type: 3 hours.
    let emergency = sections
        .iter()
        .flat_map(|s| s["types"].as_array().unwrap())
        .find(|t| t["deadline"] == "emergency")
        .expect("an emergency type")
        .clone();

    // Wrong: a message per field, nothing written.
    let bad = json!({ "contact_phone": "12", "email": "nope", "essence": "  " }).to_string();
    let r = request(app.http_addr, "POST", "/api/appeals", &headers, &bad).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let errors: Value = serde_json::from_str(&r.body).unwrap();
    let fields: Vec<&str> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in [
        "surname",
        "first_name",
        "patronymic",
        "address",
        "contact_phone",
        "essence",
        "email",
        "category",
    ] {
        assert!(fields.contains(&field), "{field} not reported: {}", r.body);
    }
    assert!(
        r.body.contains("Номер телефону не розпізнано"),
        "{}",
        r.body
    );

    let card = json!({
        "surname": "Шевченко", "first_name": "Тарас", "patronymic": "Григорович",
        "address": "вул. Соборна, 12, кв. 5", "contact_phone": "(061) 123 45 67",
        "essence": "Запах газу в під'їзді.", "category_id": emergency["id"],
    });
    let before = Utc::now();
    let r = request(
        app.http_addr,
        "POST",
        "/api/appeals",
        &headers,
        &card.to_string(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let saved: Value = serde_json::from_str(&r.body).unwrap();
    let number = saved["registration_number"].as_str().unwrap();
    // The city's year (Europe/Kyiv), not UTC's.
    let year = before.with_timezone(&chrono_tz::Europe::Kyiv).year();
    assert_eq!(number, format!("1580-{year}-000001"));
    // The executor is stored as the classifier's key, shown by its name.
    assert_eq!(saved["executor_name"], emergency["executor"]);
    assert!(
        saved["executor"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_'),
        "{saved}"
    );
    let deadline: DateTime<Utc> = saved["deadline"].as_str().unwrap().parse().unwrap();
    let hours = (deadline - before).num_minutes() as f64 / 60.0;
    assert!((hours - 3.0).abs() < 0.1, "emergency: 3 hours, got {hours}");
    // Stored under the caller's E.164 number: a later call finds it.
    let found = app
        .store()
        .appeals_by_phone("+380611234567", 10)
        .await
        .unwrap();
    assert_eq!(found[0].registration_number, number);

    // A repeat appeal, linked to the original.
    let mut repeat = card.clone();
    repeat["repeat_of"] = json!(number);
    let r = request(
        app.http_addr,
        "POST",
        "/api/appeals",
        &headers,
        &repeat.to_string(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.contains("000002"));

    // Without the CSRF token, or as an executor: refused.
    let cookie_only = vec![headers[0].clone()];
    let r = request(
        app.http_addr,
        "POST",
        "/api/appeals",
        &cookie_only,
        &card.to_string(),
    )
    .await;
    assert_eq!(r.status, 403);
    let executor = app.sign_in_as("vodokanal", Role::Executor).await;
    let r = request(
        app.http_addr,
        "POST",
        "/api/appeals",
        &executor.headers(),
        &card.to_string(),
    )
    .await;
    assert_eq!(r.status, 403);
}

/// A PNG's signature and header, then `len` bytes of padding: a file the
/// server takes for a picture.
fn png_of(len: usize) -> Vec<u8> {
    let mut bytes = vec![
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R',
    ];
    bytes.resize(16 + len, 0x5a);
    bytes
}

#[tokio::test]
async fn files_and_later_calls_are_attached_to_a_card() {
    let app = spawn_app(AppOptions {
        attachment_max_mb: 1,
        ..Default::default()
    })
    .await;
    hotline::store::demo::seed(app.store(), Utc::now())
        .await
        .unwrap();
    let number = hotline::store::demo::APPEAL_NUMBER;
    let supervisor = app.sign_in_as("sveta", Role::Supervisor).await;
    let upload = |name: &'static str, bytes: Vec<u8>| {
        let headers = supervisor.headers();
        let http = app.http_addr;
        async move {
            let (content_type, body) = crate::multipart(name, &bytes);
            let mut headers = headers;
            headers.push(("Content-Type", content_type));
            let path = format!("/api/appeals/{number}/attachments");
            crate::request_bytes(http, "POST", &path, &headers, &body).await
        }
    };
    let files_on_disk = || {
        files_under(&app.recordings.path().join("attachments"))
            .into_iter()
            .filter(|p| p.is_file())
            .count()
    };

    // A picture: kept under the server's name, the sent name for display.
    let photo = png_of(1000);
    let r = upload("..\\..\\фото під'їзду.png", photo.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let stored: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(stored["file_name"], "фото під'їзду.png");
    assert_eq!(stored["content_type"], "image/png");
    assert_eq!(files_on_disk(), 1);

    // Not a kind we keep, empty, too large: refused, nothing left behind.
    let r = upload(
        "page.html",
        b"<html><script>alert(1)</script></html>".to_vec(),
    )
    .await;
    assert_eq!(r.status, 415, "{}", r.body);
    let r = upload("empty.png", Vec::new()).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = upload("big.png", png_of(1024 * 1024 + 10)).await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.body.contains("1 МБ"), "{}", r.body);
    assert_eq!(files_on_disk(), 1, "refused uploads leave no files");

    // The download gives the same bytes, as a download, under its name.
    let url = stored["url"].as_str().unwrap();
    let r = crate::request_bytes(app.http_addr, "GET", url, &supervisor.headers(), b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let disposition = r.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("UTF-8''"),
        "{disposition}"
    );
    assert_eq!(
        r.header("content-length"),
        Some(photo.len().to_string().as_str())
    );
    // An attachment id under another card's number finds nothing.
    let other = url.replace(number, "1580-2026-999999");
    let r = crate::request(app.http_addr, "GET", &other, &supervisor.headers(), "").await;
    assert_eq!(r.status, 404);

    // A later call attached: once, then it is there already.
    let call = app.stored_call().await;
    let path = format!("/api/appeals/{number}/calls");
    let body = json!({ "call_id": call }).to_string();
    let r = request(app.http_addr, "POST", &path, &supervisor.headers(), &body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = request(app.http_addr, "POST", &path, &supervisor.headers(), &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let unknown = json!({ "call_id": uuid::Uuid::new_v4() }).to_string();
    let r = request(
        app.http_addr,
        "POST",
        &path,
        &supervisor.headers(),
        &unknown,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = request(
        app.http_addr,
        "POST",
        "/api/appeals/1580-2026-999999/calls",
        &supervisor.headers(),
        &body,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);

    // The card shows both.
    let r = request(
        app.http_addr,
        "GET",
        &format!("/api/appeals/{number}"),
        &supervisor.headers(),
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let card: Value = serde_json::from_str(&r.body).unwrap();
    let calls = card["calls"].as_array().unwrap();
    assert_eq!(calls.last().unwrap()["id"], json!(call));
    assert_eq!(card["attachments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_operator_links_cards_only_to_calls_they_took() {
    let app = spawn_app(AppOptions::default()).await;
    let category = sample_category(app.store(), "zaporizhzhia.toml", Utc::now()).await;
    let op = hotline::store::NewOperator::new("olena", "1001", None, Vec::new(), Utc::now());
    app.store()
        .add_operator(&op, "sip-secret1", hotline::store::operators::DEFAULT_REALM)
        .await
        .unwrap();
    let olena = app.sign_in_as("olena", Role::Operator).await;
    let call = app.stored_call().await;
    let card = json!({
        "surname": "Шевченко", "first_name": "Тарас", "patronymic": "Григорович",
        "address": "вул. Соборна, 1", "contact_phone": "0671234567",
        "essence": "Немає світла.", "category_id": category, "call_id": call,
    });
    let r = request(
        app.http_addr,
        "POST",
        "/api/appeals",
        &olena.headers(),
        &card.to_string(),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("call_id"), "{}", r.body);
    assert!(
        app.store()
            .appeals_by_phone("+380671234567", 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing saved"
    );
}

/// Files a full card over the API as `session` (who may register cards), in
/// a category of the sample classifier whose executor is `executor`;
/// returns its registration number.
pub async fn file_card_for(
    app: &crate::TestApp,
    session: &crate::ApiSession,
    executor: &str,
) -> String {
    if app
        .store()
        .current_classifier_version()
        .await
        .unwrap()
        .is_none()
    {
        let classifier =
            Classifier::load(&crate::repo().join("classifier/zaporizhzhia.toml")).unwrap();
        app.store()
            .import_classifier(&classifier, "zaporizhzhia.toml", Utc::now())
            .await
            .unwrap();
    }
    let version = app
        .store()
        .current_classifier_version()
        .await
        .unwrap()
        .unwrap();
    let category = app
        .store()
        .categories(version.number)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.executor.code == executor)
        .expect("a category of this executor");
    let body = json!({
        "surname": "Шевченко", "first_name": "Тарас", "patronymic": "Григорович",
        "address": "вул. Соборна, 12, кв. 5", "contact_phone": "+380611234567",
        "essence": "Третій день немає холодної води в будинку.",
        "category_id": category.id,
    })
    .to_string();
    let r = request(
        app.http_addr,
        "POST",
        "/api/appeals",
        &session.headers(),
        &body,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let card: Value = serde_json::from_str(&r.body).unwrap();
    card["registration_number"].as_str().unwrap().to_owned()
}
