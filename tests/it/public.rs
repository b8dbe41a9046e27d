//! The citizens' pages (docs/web.md): the appeal form in Chromium at a
//! phone's size, with a photo and a point on the map; every wrong field
//! named by the page and by the server; the consent; a blocked phone or
//! e-mail; the
//! limits; the honeypot; the status page telling public steps only. The
//! form's server side again on PostgreSQL.

use std::time::Duration;

use chrono::Utc;
use hotline::appeal::{Channel, Classifier};
use serde_json::Value;

use crate::{AppOptions, Backend, TestApp, request, request_bytes, spawn_app};

const W: Duration = Duration::from_secs(20);

/// A 1×1 PNG: a photo as far as the server's sniffing goes.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

pub(crate) async fn with_classifier(app: &TestApp) {
    let classifier = Classifier::load(&crate::repo().join("classifier/zaporizhzhia.toml")).unwrap();
    app.store()
        .import_classifier(&classifier, "zaporizhzhia.toml", Utc::now())
        .await
        .unwrap();
}

/// The id of the sample classifier's first type whose name has `words`,
/// and its executor's code.
pub(crate) async fn category(app: &TestApp, words: &str) -> (String, String) {
    let version = app
        .store()
        .current_classifier_version()
        .await
        .unwrap()
        .unwrap();
    let c = app
        .store()
        .categories(version.number)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.type_name.contains(words))
        .unwrap_or_else(|| panic!("a type with {words:?}"));
    (c.id.to_string(), c.executor.code)
}

/// Olena, an operator of the contact centre (she may then sign in).
async fn an_operator(app: &TestApp) {
    let op = hotline::store::NewOperator::new("olena", "1001", None, Vec::new(), Utc::now());
    app.store()
        .add_operator(&op, "sip-secret1", hotline::store::operators::DEFAULT_REALM)
        .await
        .unwrap();
}

/// A multipart/form-data body: text fields, then files in `files`.
pub(crate) fn form(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "hotline-public-boundary-3c9a";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (file_name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A whole, valid appeal's fields, with `phone` and `category`.
pub(crate) fn valid<'a>(phone: &'a str, category: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("surname", "Коваленко"),
        ("first_name", "Марія"),
        ("patronymic", "Іванівна"),
        ("address", "вул. Соборна, 12, кв. 5"),
        ("contact_phone", phone),
        ("essence", "Третій день немає холодної води в під'їзді."),
        ("category", category),
        ("consent", "yes"),
    ]
}

pub(crate) async fn post_form(
    app: &TestApp,
    fields: &[(&str, &str)],
    files: &[(&str, &[u8])],
) -> (u16, Value, crate::HttpResponse) {
    let (content_type, body) = form(fields, files);
    let r = request_bytes(
        app.http_addr,
        "POST",
        "/public/api/appeals",
        &[("Content-Type", content_type)],
        &body,
    )
    .await;
    let json = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    (r.status, json, r)
}

/// `GET /public/api/status` for `number` and `digits`.
async fn status_of(app: &TestApp, number: &str, digits: &str) -> crate::HttpResponse {
    request(
        app.http_addr,
        "GET",
        &format!("/public/api/status?number={number}&digits={digits}"),
        &[],
        "",
    )
    .await
}

async fn count_appeals(app: &TestApp) -> usize {
    app.store()
        .appeals_by_phone("+380671234567", 100)
        .await
        .unwrap()
        .len()
}

/// Serves one small PNG for every path: the map's tile server.
async fn tile_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .fallback(|| async { ([(axum::http::header::CONTENT_TYPE, "image/png")], PNG) });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[tokio::test]
async fn a_citizen_files_and_follows_an_appeal_from_a_phone() {
    use crate::browser::artifact;
    use crate::peers::browser::Browser;
    let tiles = tile_server().await;
    let app = spawn_app(AppOptions {
        extra: format!(
            "[public]\nappeals_per_contact_day = 2\nstatus_failures_per_address_hour = 3\n\
             [public.map]\ntiles = \"http://127.0.0.1:{}/{{z}}/{{x}}/{{y}}.png\"\n\
             attribution = \"test tiles\"\n",
            tiles.port()
        ),
        ..AppOptions::default()
    })
    .await;
    with_classifier(&app).await;
    let base = format!("http://{}", app.http_addr);
    let browser = Browser::start().await.expect("chromium starts");
    browser.resize(390, 844).await.unwrap();
    browser
        .goto(&format!("{base}/public/appeal"))
        .await
        .unwrap();
    browser
        .until(
            "the classifier in the form",
            "return document.querySelectorAll('#f-category option').length > 50",
            W,
        )
        .await
        .unwrap();
    // The page fits a phone: nothing wider than the screen.
    let wide = browser
        .js("return document.documentElement.scrollWidth", vec![])
        .await
        .unwrap();
    assert!(wide.as_u64() <= Some(390), "the page is {wide} px wide");
    // Sent empty: every required field says what it needs, in the page.
    browser.click("#send").await.unwrap();
    let named = browser
        .js(
            "return [...document.querySelectorAll('#appeal-form .pub-error')]
               .filter((e) => e.textContent).map((e) => e.id.slice(2)).join(',')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        named, "surname,first_name,patronymic,address,contact_phone,category,essence,consent",
        "a message per wrong field"
    );
    browser
        .screenshot(&artifact("public-form-errors.png"))
        .await
        .unwrap();

    // The form filled in as a citizen would, a point tapped on the map and
    // a photo added.
    for (id, text) in [
        ("#f-surname", "Коваленко"),
        ("#f-first_name", "Марія"),
        ("#f-patronymic", "Іванівна"),
        ("#f-address", "вул. Соборна, 12, кв. 5"),
        ("#f-contact_phone", "067 123 45 67"),
        ("#f-email", "maria@example.com"),
        ("#f-essence", "Третій день немає холодної води в під'їзді."),
        ("#f-category-filter", "холодн"),
    ] {
        browser.type_into(id, text).await.unwrap();
    }
    let (category_id, executor) = category(&app, "холодн").await;
    browser
        .js(
            "const s = document.getElementById('f-category'); s.value = arguments[0];
             s.dispatchEvent(new Event('change'));",
            vec![category_id.clone().into()],
        )
        .await
        .unwrap();
    browser
        .until(
            "the map's tiles",
            "return document.querySelectorAll('#map img.leaflet-tile-loaded').length > 0",
            W,
        )
        .await
        .unwrap();
    browser.click("#map").await.unwrap();
    let point = browser
        .until(
            "the point in the fields",
            "const lat = document.getElementById('f-latitude').value;
             return lat && [Number(lat), Number(document.getElementById('f-longitude').value)]",
            W,
        )
        .await
        .unwrap();
    let photo = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    std::fs::write(photo.path(), PNG).unwrap();
    browser
        .css("#f-files")
        .await
        .unwrap()
        .send_keys(&photo.path().display().to_string())
        .await
        .unwrap();
    browser.click("#f-consent").await.unwrap();
    browser.click("#send").await.unwrap();
    let number = browser
        .until(
            "the registration number",
            "const n = document.getElementById('filed-number').textContent;
             return !document.getElementById('filed').hidden && n",
            W,
        )
        .await
        .unwrap();
    let number = number.as_str().unwrap().to_string();
    assert!(number.starts_with("1580-"), "{number}");
    let deadline_shown = browser.text("#filed-deadline").await.unwrap();
    assert!(!deadline_shown.is_empty());
    browser
        .screenshot(&artifact("public-form-filed.png"))
        .await
        .unwrap();

    // The card: channel web, the category's executor and deadline, the
    // point, the photo, the citizen as the registration's author.
    let card = app.store().appeal_detail(&number).await.unwrap().unwrap();
    assert_eq!(card.channel, Some(Channel::Web));
    assert_eq!(card.record.executor, executor);
    assert_eq!(card.record.caller_phone, "+380671234567");
    let (lat, lon) = (point[0].as_f64().unwrap(), point[1].as_f64().unwrap());
    assert!(
        (card.latitude.unwrap() - lat).abs() < 1e-6,
        "{:?} vs {lat}",
        card.latitude
    );
    assert!((card.longitude.unwrap() - lon).abs() < 1e-6);
    assert_eq!(card.attachments.len(), 1);
    assert_eq!(card.attachments[0].content_type, "image/png");
    let cat = app
        .store()
        .category(card.category_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        card.record.deadline,
        card.record.created_at + cat.deadline.duration()
    );
    let history = app.store().appeal_history(card.record.id).await.unwrap();
    assert_eq!(history[0].role, "citizen");
    assert_eq!(history[0].login, "web");
    assert_eq!(history[0].files, vec![card.attachments[0].id]);

    // The server names every wrong field too (the page's checks skipped),
    // and refuses without consent.
    let (status, body, _) = post_form(
        &app,
        &[
            ("surname", "Коваленко"),
            ("contact_phone", "12"),
            ("latitude", "91"),
            ("longitude", "35.1"),
            ("email", "not-an-address"),
        ],
        &[("notes.exe", b"MZ\x90\x00 not a photo")],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in [
        "first_name",
        "patronymic",
        "address",
        "contact_phone",
        "email",
        "essence",
        "category",
        "latitude",
        "consent",
        "files",
    ] {
        assert!(fields.contains(&field), "{field} in {body}");
    }
    let mut no_consent = valid("0671234567", &category_id);
    no_consent.retain(|(n, _)| *n != "consent");
    let (status, body, _) = post_form(&app, &no_consent, &[]).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "consent", "{body}");
    assert_eq!(count_appeals(&app).await, 1, "nothing registered");

    // Only a script fills in the hidden field: nothing is registered.
    let mut trapped = valid("0671234567", &category_id);
    trapped.push(("website", "http://spam.example"));
    let (status, _, _) = post_form(&app, &trapped, &[]).await;
    assert_eq!(status, 400);
    assert_eq!(count_appeals(&app).await, 1);

    // A blocked phone gets a polite refusal, and the attempt is on file.
    let blocked = serde_json::json!({ "number": "+380501112233", "reason": "погрози операторам" });
    let (status, _) = app.api("POST", "/api/blocked", &blocked.to_string()).await;
    assert_eq!(status, 201);
    let (status, body, _) = post_form(&app, &valid("050 111 22 33", &category_id), &[]).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("не приймаються"),
        "{body}"
    );
    // The same number typed as the other contact is refused too.
    let mut elsewhere = valid("", &category_id);
    elsewhere.push(("other_contact", "050-111-22-33"));
    let (status, body, _) = post_form(&app, &elsewhere, &[]).await;
    assert_eq!(status, 403, "{body}");
    // A blocked e-mail address, however it is spelled, likewise.
    let blocked = serde_json::json!({ "number": "Spam@Example.com", "reason": "розсилка" });
    let (status, set) = app.api("POST", "/api/blocked", &blocked.to_string()).await;
    assert_eq!(status, 201, "{set}");
    let set: Value = serde_json::from_str(&set).unwrap();
    assert_eq!(
        (set["number"].as_str(), set["kind"].as_str()),
        (Some("mailto:spam@example.com"), Some("email"))
    );
    let mut spam = valid("067 444 55 66", &category_id);
    spam.push(("email", "spam@example.COM"));
    let (status, body, _) = post_form(&app, &spam, &[]).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("контакту"),
        "{body}"
    );
    let (_, list) = app.api("GET", "/api/blocked", "").await;
    let list: Value = serde_json::from_str(&list).unwrap();
    let attempts = list["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["kind"] == "email")
        .map(|b| b["attempts"].clone());
    assert_eq!(attempts, Some(1.into()), "{list}");
    assert!(
        app.store()
            .appeals_by_phone("+380501112233", 10)
            .await
            .unwrap()
            .is_empty()
    );

    // One contact, two appeals a day here: the third is told to try later.
    let (status, _, _) = post_form(&app, &valid("+380671234567", &category_id), &[]).await;
    assert_eq!(status, 201);
    let (status, body, r) = post_form(&app, &valid("067-123-45-67", &category_id), &[]).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("Спробуйте"),
        "{body}"
    );
    assert!(r.headers.iter().any(|(n, _)| n == "retry-after"));
    assert_eq!(count_appeals(&app).await, 2);

    // The status page: public steps only. A comment written inside, and
    // the citizen's name, never appear.
    let comment =
        serde_json::json!({ "action": "comment", "text": "ВНУТРІШНЄ: перевірити боржника" });
    let supervisor = app
        .sign_in_as("nadia", hotline::store::Role::Supervisor)
        .await;
    let r = request(
        app.http_addr,
        "POST",
        &format!("/api/appeals/{number}/actions"),
        &supervisor.headers(),
        &comment.to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    browser
        .goto(&format!("{base}/public/status?number={number}"))
        .await
        .unwrap();
    browser.type_into("#s-digits", "4567").await.unwrap();
    browser.click("#status-form button").await.unwrap();
    let shown = browser
        .until(
            "the appeal's status",
            "const o = document.getElementById('status-out'); return o.querySelector('li') && o.textContent",
            W,
        )
        .await
        .unwrap();
    let shown = shown.as_str().unwrap();
    assert!(shown.contains("Звернення зареєстровано"), "{shown}");
    assert!(shown.contains(&number), "{shown}");
    for private in [
        "ВНУТРІШНЄ",
        "Коваленко",
        "Марія",
        "Соборна",
        "maria@",
        "admin",
    ] {
        assert!(!shown.contains(private), "{private} shown: {shown}");
    }
    browser
        .screenshot(&artifact("public-status.png"))
        .await
        .unwrap();

    // "Не знаю" on the form: the card waits in the contact centre's
    // triage, where an operator classifies it in the console.
    let mut unsure = valid("050 765 43 21", "unknown");
    unsure.push((
        "essence",
        "Зламана гойдалка на дитячому майданчику біля школи.",
    ));
    let (status, body, _) = post_form(&app, &unsure, &[]).await;
    assert_eq!(status, 201, "{body}");
    let unsure_number = body["registration_number"].as_str().unwrap().to_string();
    an_operator(&app).await;
    app.sign_in_as("olena", hotline::store::Role::Operator)
        .await;
    let (playground, playground_executor) = category(&app, "майданчик").await;
    browser.resize(1366, 768).await.unwrap();
    crate::browser::sign_in_to(&browser, &app, "/triage", "olena", "view-triage", false).await;
    browser
        .until(
            "the card in triage, opened",
            "const r = document.querySelector('#triage-list tr[data-number]'); if (r) r.click();
             return document.querySelector('#triage-card button[data-action=classify]') && true",
            W,
        )
        .await
        .unwrap();
    // Clicked where found: the panel redraws itself when the console's
    // connection says hello.
    browser
        .until(
            "the classify form, filled in and sent",
            &format!(
                "const s = document.getElementById('step-classify-category');
                 if (!s) {{ document.querySelector('#triage-card button[data-action=classify]')?.click(); return false; }}
                 s.value = '{playground}';
                 document.querySelector('#triage-card form[data-form=classify] button[type=submit]').click();
                 return true;"
            ),
            W,
        )
        .await
        .unwrap();
    browser
        .until(
            "the triage list empty",
            "return document.getElementById('triage-count').textContent === '0'",
            W,
        )
        .await
        .unwrap();
    browser
        .screenshot(&artifact("triage-classified.png"))
        .await
        .unwrap();
    let card = app
        .store()
        .appeal_detail(&unsure_number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.record.executor, playground_executor);
    assert_eq!(card.category_id.map(|c| c.to_string()), Some(playground));
    browser.close().await;
    let r = status_of(&app, &number, "4567").await;
    assert_eq!(r.status, 200);
    for private in [
        "ВНУТРІШНЄ",
        "Коваленко",
        "Соборна",
        "380671234567",
        "maria@",
    ] {
        assert!(!r.body.contains(private), "{private} in {}", r.body);
    }
    // Wrong pairs are counted: three here, then a wait.
    for _ in 0..3 {
        let r = status_of(&app, &number, "0000").await;
        assert_eq!(r.status, 404, "{}", r.body);
    }
    let r = status_of(&app, &number, "4567").await;
    assert_eq!(r.status, 429, "even the right pair waits now: {}", r.body);
}

#[tokio::test]
async fn the_public_form_registers_on_postgres() {
    let app = spawn_app(AppOptions {
        backend: Backend::Postgres,
        ..AppOptions::default()
    })
    .await;
    with_classifier(&app).await;
    let (category_id, executor) = category(&app, "холодн").await;
    let mut fields = valid("067 123 45 67", &category_id);
    fields.extend([("latitude", "47,8401"), ("longitude", "35.1102")]);
    let (status, body, _) = post_form(&app, &fields, &[("фото.png", PNG)]).await;
    assert_eq!(status, 201, "{body}");
    let number = body["registration_number"].as_str().unwrap();
    let card = app.store().appeal_detail(number).await.unwrap().unwrap();
    assert_eq!(card.channel, Some(Channel::Web));
    assert_eq!(card.record.executor, executor);
    assert_eq!(
        (card.latitude, card.longitude),
        (Some(47.8401), Some(35.1102))
    );
    assert_eq!(card.attachments.len(), 1);
    assert_eq!(card.attachments[0].file_name, "фото.png");
    let r = status_of(&app, number, "4567").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let status: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(status["steps"][0]["kind"], "registered");
    assert!(!r.body.contains("Коваленко"));
    // "Не знаю": the card waits in the contact centre's triage, then an
    // operator classifies it and it goes to the category's executor.
    let mut unsure = valid("050 765 43 21", "unknown");
    unsure.push((
        "essence",
        "Не знаю, куди звернутися: на дитячому майданчику зламана гойдалка.",
    ));
    let (status, body, _) = post_form(&app, &unsure, &[]).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["executor"], hotline::appeal::store::TRIAGE_NAME);
    let unsure_number = body["registration_number"].as_str().unwrap().to_string();
    an_operator(&app).await;
    let operator = app
        .sign_in_as("olena", hotline::store::Role::Operator)
        .await;
    let r = request(app.http_addr, "GET", "/api/triage", &operator.headers(), "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let listed: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["registration_number"], unsure_number.as_str());
    let (playground, playground_executor) = category(&app, "майданчик").await;
    let classify = serde_json::json!({ "action": "classify", "category": playground });
    let r = request(
        app.http_addr,
        "POST",
        &format!("/api/appeals/{unsure_number}/actions"),
        &operator.headers(),
        &classify.to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let card = app
        .store()
        .appeal_detail(&unsure_number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(card.record.executor, playground_executor);
    let r = request(app.http_addr, "GET", "/api/triage", &operator.headers(), "").await;
    assert_eq!(r.body, "[]");
    let r = status_of(&app, &unsure_number, "4321").await;
    assert!(r.body.contains("Контакт-центр визначив тему"), "{}", r.body);

    // A file of a kind not taken: nothing registered, nothing left on disk.
    let (status, body, _) = post_form(
        &app,
        &valid("067 123 45 67", &category_id),
        &[("a.png", PNG), ("b.exe", b"MZ\x90\x00 not a photo")],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "files");
    let kept: Vec<_> = crate::files_under(&app.recordings.path().join("attachments"))
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains(".incoming"))
        .collect();
    assert_eq!(
        kept.len(),
        1,
        "only the registered appeal's photo: {kept:?}"
    );
    assert_eq!(
        app.store()
            .appeals_by_phone("+380671234567", 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// `post_form` as a client behind the trusted proxy at `from`.
async fn post_form_from(app: &TestApp, from: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let (content_type, body) = form(fields, &[]);
    let r = request_bytes(
        app.http_addr,
        "POST",
        "/public/api/appeals",
        &[
            ("Content-Type", content_type),
            ("X-Forwarded-For", from.to_string()),
        ],
        &body,
    )
    .await;
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_limits_hold_against_bursts_spread_guesses_and_big_fields() {
    let app = spawn_app(AppOptions {
        extra: "[public]\ntrusted_proxies = [\"127.0.0.1\"]\nappeals_per_address_hour = 2\n\
                status_failures_per_address_hour = 50\nstatus_failures_per_number_hour = 4\n"
            .into(),
        ..AppOptions::default()
    })
    .await;
    with_classifier(&app).await;
    let (category_id, _) = category(&app, "холодн").await;
    let phones: Vec<String> = (0..6).map(|n| format!("067 000 00 0{n}")).collect();

    // Six forms at once from one address that may file two: two pass, not
    // more (the place is taken as the form arrives, not after).
    let burst = phones.iter().map(|phone| {
        let fields = valid(phone, &category_id);
        let app = &app;
        async move { post_form_from(app, "203.0.113.9", &fields).await }
    });
    let answers = futures_util::future::join_all(burst).await;
    let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 201, 429, 429, 429, 429], "{answers:?}");
    let mut filed = 0;
    for n in 0..6 {
        filed += app
            .store()
            .appeals_by_phone(&format!("+38067000000{n}"), 10)
            .await
            .unwrap()
            .len();
    }
    assert_eq!(filed, 2, "two registered");

    // Refused forms do not use up the address's appeals.
    let mut wrong = valid("067 111 11 11", &category_id);
    wrong.retain(|(name, _)| *name != "surname");
    for _ in 0..3 {
        let (status, body) = post_form_from(&app, "203.0.113.10", &wrong).await;
        assert_eq!(status, 422, "{body}");
    }
    let (status, body) =
        post_form_from(&app, "203.0.113.10", &valid("067 111 11 11", &category_id)).await;
    assert_eq!(status, 201, "{body}");
    let number = body["registration_number"].as_str().unwrap().to_string();

    // IPv6 clients are counted by their /64.
    for (host, phone, expected) in [
        ("2001:db8:5:6::1", "050 200 00 01", 201),
        ("2001:db8:5:6::2", "050 200 00 02", 201),
        ("2001:db8:5:6:ffff::3", "050 200 00 03", 429),
        ("2001:db8:5:7::1", "050 200 00 04", 201),
    ] {
        let (status, body) = post_form_from(&app, host, &valid(phone, &category_id)).await;
        assert_eq!(status, expected, "{host}: {body}");
    }

    // Guesses at one number spread over addresses: four wrong digits,
    // then the number waits, whatever the address; other numbers do not.
    for n in 0..4 {
        let r = request(
            app.http_addr,
            "GET",
            &format!("/public/api/status?number={number}&digits=000{n}"),
            &[("X-Forwarded-For", format!("198.51.100.{n}"))],
            "",
        )
        .await;
        assert_eq!(r.status, 404, "{}", r.body);
    }
    let status_from = |addr: &'static str, number: String, digits: &'static str| {
        let app = &app;
        async move {
            request(
                app.http_addr,
                "GET",
                &format!("/public/api/status?number={number}&digits={digits}"),
                &[("X-Forwarded-For", addr.to_string())],
                "",
            )
            .await
        }
    };
    let r = status_from("198.51.100.77", number.clone(), "1111").await;
    assert_eq!(r.status, 429, "the fifth guess waits: {}", r.body);
    assert!(r.headers.iter().any(|(n, _)| n == "retry-after"));
    let r = status_from("198.51.100.77", "1580-2026-999999".into(), "1111").await;
    assert_eq!(r.status, 404, "another number is not held: {}", r.body);

    // Text fields: one past its size is named; the form's text past a
    // quarter MiB is refused whole; neither registers anything.
    let long = "ж".repeat(20_000);
    let mut fields = valid("067 333 33 33", &category_id);
    fields.push(("essence", &long));
    let (status, body) = post_form_from(&app, "203.0.113.11", &fields).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "essence", "{body}");
    let chunk = "ї".repeat(15_000);
    let mut fields = valid("067 333 33 33", &category_id);
    for name in [
        "surname",
        "first_name",
        "patronymic",
        "address",
        "other_contact",
        "email",
        "essence",
        "latitude",
        "longitude",
    ] {
        fields.push((name, &chunk));
    }
    let (status, body) = post_form_from(&app, "203.0.113.11", &fields).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["error"].as_str().unwrap().contains("256"), "{body}");
    let r = app
        .store()
        .appeals_by_phone("+380673333333", 10)
        .await
        .unwrap();
    assert!(r.is_empty());
}

/// Reads an Atom or RSS feed with feedparser (an independent reader):
/// whether it is well formed, its entries' ids and titles.
const FEED_READER: &str = r#"
import json, sys, urllib.request
import feedparser
raw = urllib.request.urlopen(sys.argv[1]).read()
f = feedparser.parse(raw)
print(json.dumps({
    "bozo": bool(f.bozo), "error": str(f.get("bozo_exception", "")), "version": f.version,
    "title": f.feed.get("title"), "ids": [e.get("id") for e in f.entries],
    "titles": [e.get("title") for e in f.entries],
}, ensure_ascii=False))
"#;

async fn read_feed(url: &str) -> Value {
    let out = tokio::process::Command::new(crate::reports::python_bin())
        .args(["-c", FEED_READER, url])
        .output()
        .await
        .expect("python runs");
    assert!(
        out.status.success(),
        "feedparser failed (scripts/test installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn residents_read_works_and_announcements_on_the_page_and_in_feeds() {
    let app = spawn_app(AppOptions::default()).await;
    let now = Utc::now();
    let work = hotline::store::NewRepairWork {
        id: uuid::Uuid::new_v4(),
        kind: hotline::store::WorkKind::Emergency,
        service: hotline::store::Service::Water,
        description: "Пориву водогону: без холодної води".into(),
        starts_at: now - chrono::Duration::hours(1),
        expected_end: now + chrono::Duration::hours(5),
        status: hotline::store::WorkStatus::Active,
        created_at: now,
        addresses: vec![hotline::store::WorkAddress {
            street: "вул. Соборна".into(),
            house: Some("10-20".into()),
        }],
        executor: Some("vodokanal".into()),
        registered_by: Some("gnatiuk".into()),
    };
    app.store().insert_repair_work(&work).await.unwrap();

    // A supervisor publishes; the form's problems are named; an operator
    // may read but not publish.
    let supervisor = app
        .sign_in_as("nadia", hotline::store::Role::Supervisor)
        .await;
    let post = |body: Value| {
        let headers = supervisor.headers();
        let app = &app;
        async move {
            request(
                app.http_addr,
                "POST",
                "/api/announcements",
                &headers,
                &body.to_string(),
            )
            .await
        }
    };
    let r = post(serde_json::json!({ "title": " ", "body": "", "until": "2020-01-01" })).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let errors: Value = serde_json::from_str(&r.body).unwrap();
    let named: Vec<&str> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(named, ["title", "body", "until"]);
    let r = post(serde_json::json!({
        "title": "Графік подачі води 8 грудня",
        "body": "У Шевченківському районі вода з 6:00 до 22:00 <за графіком>.",
    }))
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let published: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(published["author"], "nadia");
    an_operator(&app).await;
    let operator = app
        .sign_in_as("olena", hotline::store::Role::Operator)
        .await;
    let r = request(
        app.http_addr,
        "POST",
        "/api/announcements",
        &operator.headers(),
        r#"{"title":"x","body":"y"}"#,
    )
    .await;
    assert_eq!(r.status, 403);
    let r = request(
        app.http_addr,
        "GET",
        "/api/announcements",
        &operator.headers(),
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Графік подачі води"));

    // The public JSON: the work by service and street, the announcement,
    // no staff names.
    let r = request(app.http_addr, "GET", "/public/api/works", &[], "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let page: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(page["works"][0]["service"], "water");
    assert_eq!(page["works"][0]["in_progress"], true);
    assert_eq!(page["works"][0]["addresses"][0]["street"], "вул. Соборна");
    assert_eq!(
        page["announcements"][0]["title"],
        "Графік подачі води 8 грудня"
    );
    for private in ["gnatiuk", "nadia"] {
        assert!(!r.body.contains(private), "{private} in {}", r.body);
    }

    // Both feeds, read by feedparser: well formed, two entries each.
    for (path, version) in [
        ("/public/works.atom", "atom10"),
        ("/public/works.rss", "rss20"),
    ] {
        let feed = read_feed(&format!("http://{}{path}", app.http_addr)).await;
        assert_eq!(feed["bozo"], false, "{path}: {feed}");
        assert_eq!(feed["version"], version, "{path}");
        assert_eq!(feed["ids"].as_array().unwrap().len(), 2, "{path}: {feed}");
        let titles = feed["titles"].to_string();
        assert!(titles.contains("Графік подачі води"), "{path}: {titles}");
        assert!(
            titles.contains("Аварійні роботи: водопостачання — вул. Соборна 10-20"),
            "{path}: {titles}"
        );
        assert!(!feed.to_string().contains("nadia"));
    }

    // Withdrawn: off the page and the feeds, kept for the staff.
    let id = published["id"].as_str().unwrap();
    let r = request(
        app.http_addr,
        "POST",
        &format!("/api/announcements/{id}/withdraw"),
        &supervisor.headers(),
        "{}",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = request(app.http_addr, "GET", "/public/api/works", &[], "").await;
    assert!(!r.body.contains("Графік подачі води"));
    let feed = read_feed(&format!("http://{}/public/works.atom", app.http_addr)).await;
    assert_eq!(feed["ids"].as_array().unwrap().len(), 1);
    let r = request(
        app.http_addr,
        "GET",
        "/api/announcements",
        &supervisor.headers(),
        "",
    )
    .await;
    let list: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(list["announcements"][0]["withdrawn_by"], "nadia");
}
