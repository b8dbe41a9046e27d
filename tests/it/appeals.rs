//! Appeal cards over the API: the classifier for the category field, a
//! card refused with a message per wrong field, a card registered with its
//! number, deadline and executor, a repeat appeal, and the roles.

use chrono::{DateTime, Datelike, Utc};
use hotline::classifier::Classifier;
use hotline::store::Role;
use serde_json::{Value, json};

use crate::{AppOptions, request, spawn_app};

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
    assert_eq!(number, format!("1580-{}-000001", before.year()));
    assert_eq!(saved["executor"], emergency["executor"]);
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
