//! The Telegram bot against a stand-in of Telegram's Bot API server on
//! loopback, the one place a fake is right: no messenger's server runs
//! here. The stand-in answers as the Bot API documents
//! (core.telegram.org/bots/api): `https://…/bot<token>/<method>`, the
//! `{ok, result}` envelope, `{ok: false, error_code: 429, parameters:
//! {retry_after}}`, getUpdates' long polling, getFile and the file's own
//! address; and it checks what hotline sends against the documented
//! parameters (method names, `chat_id`, `text` of 1–4096 characters,
//! inline buttons' `callback_data` of 1–64 bytes, `request_contact`,
//! `request_location`, the webhook's `secret_token`). A citizen files an
//! appeal with a photo and a place, asks for its status, answers the
//! executor's question and confirms the result; on SQLite and PostgreSQL.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::public::with_classifier;
use crate::{AppOptions, Backend, PNG, TestApp, eventually, request, spawn_app};

const TOKEN: &str = "7700123:AAH-test_token";
const CITIZEN: i64 = 5_551_234;

/// What the stand-in has seen and will answer.
#[derive(Default)]
struct Seen {
    /// Updates for getUpdates, in order.
    updates: Vec<Value>,
    /// Every call: the method and its parameters.
    calls: Vec<(String, Value, Instant)>,
    /// What hotline sent that the Bot API would not take.
    problems: Vec<String>,
    /// The next sendMessage calls answered 429.
    throttle: u32,
    /// The texts answered 429, and when.
    throttled: Vec<(String, Instant)>,
    next_update: i64,
    next_message: i64,
}

#[derive(Clone, Default)]
struct Fake {
    seen: Arc<Mutex<Seen>>,
    news: Arc<Notify>,
}

const SEND_MESSAGE: &[&str] = &[
    "chat_id",
    "text",
    "parse_mode",
    "entities",
    "link_preview_options",
    "disable_notification",
    "protect_content",
    "reply_parameters",
    "reply_markup",
    "message_thread_id",
    "business_connection_id",
    "message_effect_id",
    "allow_paid_broadcast",
];

impl Fake {
    async fn start() -> (Fake, String) {
        let fake = Fake::default();
        fake.seen.lock().unwrap().next_update = 700;
        let app = axum::Router::new()
            .route("/{bot}/{method}", post(method))
            .route("/file/{bot}/{*path}", get(file))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, url)
    }

    fn problem(&self, p: String) {
        self.seen.lock().unwrap().problems.push(p);
    }

    /// An update from the citizen, as Telegram makes one.
    fn push(&self, kind: &str, body: Value) {
        let mut seen = self.seen.lock().unwrap();
        seen.next_update += 1;
        let id = seen.next_update;
        seen.updates.push(json!({ "update_id": id, kind: body }));
        drop(seen);
        self.news.notify_waiters();
    }

    fn message(&self, extra: Value) {
        let mut m = json!({
            "message_id": 1000 + self.seen.lock().unwrap().next_update,
            "date": Utc::now().timestamp(),
            "from": user(),
            "chat": chat(),
        });
        m.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        self.push("message", m);
    }

    fn text(&self, text: &str) {
        self.message(json!({ "text": text }));
    }

    /// Presses the button labelled `label` under the bot's last message
    /// that has one.
    fn press(&self, label: &str) {
        let data = self.button(label);
        self.push(
            "callback_query",
            json!({
                "id": format!("cb{}", self.seen.lock().unwrap().next_update),
                "from": user(),
                "chat_instance": "-8800",
                "data": data,
                "message": {"message_id": 1, "date": Utc::now().timestamp(), "chat": chat(),
                    "from": {"id": 7700123, "is_bot": true, "first_name": "Гаряча лінія"},
                    "text": "…"},
            }),
        );
    }

    /// The data of the inline button labelled `label` (or starting so)
    /// under the newest message that has it.
    fn button(&self, label: &str) -> String {
        let seen = self.seen.lock().unwrap();
        for (method, params, _) in seen.calls.iter().rev() {
            if method != "sendMessage" {
                continue;
            }
            for row in params["reply_markup"]["inline_keyboard"]
                .as_array()
                .into_iter()
                .flatten()
            {
                for b in row.as_array().into_iter().flatten() {
                    if b["text"].as_str().is_some_and(|t| t.starts_with(label)) {
                        return b["callback_data"].as_str().unwrap().to_owned();
                    }
                }
            }
        }
        panic!("no button {label:?} was offered");
    }

    /// The texts sent to the citizen so far.
    fn sent(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(m, _, _)| m == "sendMessage")
            .map(|(_, p, _)| p["text"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// Waits for a message to the citizen containing `part`; its text.
    async fn said(&self, part: &str) -> String {
        eventually(Duration::from_secs(20), || async {
            self.sent().into_iter().rev().find(|t| t.contains(part))
        })
        .await
        .unwrap_or_else(|| panic!("the bot never said {part:?}; it said {:#?}", self.sent()))
    }

    fn calls(&self, method: &str) -> Vec<(Value, Instant)> {
        self.seen
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(m, _, _)| m == method)
            .map(|(_, p, at)| (p.clone(), *at))
            .collect()
    }
}

fn user() -> Value {
    json!({"id": CITIZEN, "is_bot": false, "first_name": "Ірина", "last_name": "Коваленко", "language_code": "uk"})
}

fn chat() -> Value {
    json!({"id": CITIZEN, "type": "private", "first_name": "Ірина", "last_name": "Коваленко"})
}

fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

fn refuse(status: StatusCode, description: &str) -> Response {
    (
        status,
        Json(json!({"ok": false, "error_code": status.as_u16(), "description": description})),
    )
        .into_response()
}

/// The Bot API's methods this stand-in knows, as documented; a call's
/// name is matched without regard to case, as Telegram does.
const METHODS: &[&str] = &[
    "getUpdates",
    "sendMessage",
    "answerCallbackQuery",
    "getFile",
    "setWebhook",
    "deleteWebhook",
];

/// `POST /bot<token>/<method>`, the parameters in any of the documented
/// encodings: JSON, a URL-encoded form, or multipart/form-data (each
/// field's value as text; a JSON-typed parameter serialised).
async fn method(
    State(fake): State<Fake>,
    Path((bot, name)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Response {
    if bot != format!("bot{TOKEN}") {
        return refuse(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let Some(name) = METHODS
        .iter()
        .find(|m| m.eq_ignore_ascii_case(&name))
        .map(|m| m.to_string())
    else {
        fake.problem(format!("unknown method {name}"));
        return refuse(StatusCode::NOT_FOUND, "Not Found: method not found");
    };
    let params = match parameters(request).await {
        Ok(p) => p,
        Err(e) => {
            fake.problem(format!("{name}: {e}"));
            return refuse(
                StatusCode::BAD_REQUEST,
                "Bad Request: can't parse parameters",
            );
        }
    };
    fake.seen
        .lock()
        .unwrap()
        .calls
        .push((name.clone(), params.clone(), Instant::now()));
    match name.as_str() {
        "getUpdates" => get_updates(&fake, &params).await,
        "sendMessage" => send_message(&fake, &params),
        "answerCallbackQuery" => {
            if !params["callback_query_id"].is_string() {
                fake.problem(format!(
                    "answerCallbackQuery without callback_query_id: {params}"
                ));
            }
            ok(json!(true))
        }
        "getFile" => match params["file_id"].as_str() {
            Some(id @ "photo-big") => ok(json!({
                "file_id": id, "file_unique_id": "uq-big", "file_size": PNG.len(),
                "file_path": "photos/file_12.png"
            })),
            _ => refuse(StatusCode::BAD_REQUEST, "Bad Request: invalid file_id"),
        },
        "setWebhook" => {
            let secret = params["secret_token"].as_str().unwrap_or("");
            let fine = (1..=256).contains(&secret.len())
                && secret
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !fine
                || !params["url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("https://"))
            {
                fake.problem(format!("setWebhook: {params}"));
            }
            ok(json!(true))
        }
        "deleteWebhook" => ok(json!(true)),
        _ => unreachable!("METHODS"),
    }
}

/// A call's parameters as one JSON object.
async fn parameters(request: axum::extract::Request) -> Result<Value, String> {
    use axum::extract::FromRequest;
    let kind = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if kind.starts_with("multipart/form-data") {
        let mut form = axum::extract::Multipart::from_request(request, &())
            .await
            .map_err(|e| e.to_string())?;
        let mut out = serde_json::Map::new();
        while let Some(field) = form.next_field().await.map_err(|e| e.to_string())? {
            let name = field.name().unwrap_or("").to_owned();
            let text = field.text().await.map_err(|e| e.to_string())?;
            // JSON-typed parameters (arrays, objects) are sent serialised.
            let value = match text.chars().next() {
                Some('[' | '{') => serde_json::from_str(&text).unwrap_or(Value::String(text)),
                _ => Value::String(text),
            };
            out.insert(name, value);
        }
        return Ok(Value::Object(out));
    }
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .map_err(|e| e.to_string())?;
    if body.is_empty() {
        Ok(json!({}))
    } else if kind.starts_with("application/json") {
        serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))
    } else if kind.starts_with("application/x-www-form-urlencoded") {
        Ok(Value::Object(
            form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        ))
    } else {
        Err(format!("sent as {kind:?}"))
    }
}

async fn get_updates(fake: &Fake, params: &Value) -> Response {
    let offset = params["offset"].as_i64().unwrap_or(0);
    let wait = params["timeout"].as_u64().unwrap_or(0).min(3);
    for kind in params["allowed_updates"].as_array().into_iter().flatten() {
        if !["message", "callback_query"].contains(&kind.as_str().unwrap_or("")) {
            fake.problem(format!("getUpdates: allowed_updates {kind}"));
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        let news = fake.news.notified();
        let ready: Vec<Value> = fake
            .seen
            .lock()
            .unwrap()
            .updates
            .iter()
            .filter(|u| u["update_id"].as_i64().unwrap() >= offset)
            .take(100)
            .cloned()
            .collect();
        if !ready.is_empty() || tokio::time::Instant::now() >= deadline {
            return ok(Value::Array(ready));
        }
        let _ = tokio::time::timeout_at(deadline, news).await;
    }
}

fn send_message(fake: &Fake, p: &Value) -> Response {
    for key in p.as_object().unwrap().keys() {
        if !SEND_MESSAGE.contains(&key.as_str()) {
            fake.problem(format!("sendMessage: parameter {key}"));
        }
    }
    if p["chat_id"].as_i64() != Some(CITIZEN) {
        fake.problem(format!("sendMessage: chat_id {}", p["chat_id"]));
    }
    let text = p["text"].as_str().unwrap_or("");
    if !(1..=4096).contains(&text.chars().count()) {
        fake.problem(format!(
            "sendMessage: text of {} characters",
            text.chars().count()
        ));
    }
    let markup = &p["reply_markup"];
    if let Some(rows) = markup["inline_keyboard"].as_array() {
        for b in rows
            .iter()
            .flat_map(|r| r.as_array().cloned().unwrap_or_default())
        {
            let data = b["callback_data"].as_str().unwrap_or("");
            if !(1..=64).contains(&data.len()) || !b["text"].is_string() {
                fake.problem(format!("inline button {b}"));
            }
        }
    } else if let Some(rows) = markup["keyboard"].as_array() {
        for b in rows
            .iter()
            .flat_map(|r| r.as_array().cloned().unwrap_or_default())
        {
            let special = ["request_contact", "request_location"]
                .iter()
                .filter(|k| b.get(**k).is_some())
                .count();
            if !b["text"].is_string() || special > 1 {
                fake.problem(format!("keyboard button {b}"));
            }
        }
    } else if !markup.is_null() && markup.get("remove_keyboard").is_none() {
        fake.problem(format!("reply_markup {markup}"));
    }
    let mut seen = fake.seen.lock().unwrap();
    if seen.throttle > 0 {
        seen.throttle -= 1;
        seen.throttled.push((text.to_owned(), Instant::now()));
        // Refused: not said (the call stays among the calls, renamed).
        if let Some(last) = seen.calls.last_mut() {
            last.0 = "sendMessage (429)".into();
        }
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"ok": false, "error_code": 429,
                "description": "Too Many Requests: retry after 2",
                "parameters": {"retry_after": 2}})),
        )
            .into_response();
    }
    seen.next_message += 1;
    ok(json!({
        "message_id": seen.next_message,
        "date": Utc::now().timestamp(),
        "chat": chat(),
        "from": {"id": 7700123, "is_bot": true, "first_name": "Гаряча лінія", "username": "hotline_bot"},
        "text": text,
    }))
}

/// `GET /file/bot<token>/<file_path>`: the file's bytes.
async fn file(Path((bot, path)): Path<(String, String)>) -> Response {
    if bot != format!("bot{TOKEN}") || path != "photos/file_12.png" {
        return StatusCode::NOT_FOUND.into_response();
    }
    ([("content-type", "image/png")], PNG).into_response()
}

async fn app_with(backend: Backend, api: &str, webhook: bool) -> TestApp {
    let mut extra = format!(
        "[chatbot]\npush_interval_secs = 1\n\n[chatbot.telegram]\ntoken = \"{TOKEN}\"\napi_url = \"{api}\"\n"
    );
    if webhook {
        extra.push_str(
            "webhook_url = \"https://1580.example.ua/chatbot/telegram\"\nsecret = \"s3cret-Token_1\"\n",
        );
    }
    let app = spawn_app(AppOptions {
        backend,
        extra,
        ..AppOptions::default()
    })
    .await;
    with_classifier(&app).await;
    app
}

async fn a_citizen_does_everything_in_telegram(backend: Backend) {
    let (tg, api) = Fake::start().await;
    let app = app_with(backend, &api, false).await;
    // Long polling: hotline removes any webhook first.
    eventually(Duration::from_secs(10), || async {
        (!tg.calls("deleteWebhook").is_empty()).then_some(())
    })
    .await
    .expect("deleteWebhook");

    tg.text("/start");
    tg.said("Оберіть, що зробити").await;
    tg.press("📝");
    tg.said("прізвище, ім'я та по батькові").await;
    tg.text("Коваленко Ірина");
    tg.said("три слова").await;
    tg.text("Коваленко Ірина Петрівна");
    tg.said("Вкажіть адресу").await;
    tg.text("вул. Соборна, 12, кв. 5");
    tg.said("Поділіться номером").await;
    let contact_keyboard = tg.calls("sendMessage").last().unwrap().0["reply_markup"].clone();
    assert_eq!(contact_keyboard["keyboard"][0][0]["request_contact"], true);
    tg.message(json!({"contact": {"phone_number": "380671234567", "first_name": "Ірина", "user_id": CITIZEN}}));
    tg.said("Опишіть суть").await;
    tg.text("Немає холодної води з ранку в усьому під'їзді.");
    tg.said("Що це за звернення").await;
    tg.press("Скарга");
    tg.said("Оберіть тему").await;
    tg.press("Водопостачання");
    tg.said("Уточніть тему").await;
    tg.press("Відсутнє холодне");
    tg.said("Додайте фото").await;
    tg.message(json!({"photo": [
        {"file_id": "photo-small", "file_unique_id": "uq-s", "width": 90, "height": 90, "file_size": 900},
        {"file_id": "photo-big", "file_unique_id": "uq-big", "width": 1280, "height": 960, "file_size": 70}
    ]}));
    tg.said("Фото додано (1 з").await;
    tg.press("Далі");
    tg.said("Надішліть місце").await;
    tg.message(json!({"location": {"latitude": 47.8388, "longitude": 35.1396}}));
    let summary = tg.said("Перевірте звернення").await;
    assert!(
        summary.contains("+380671234567") && summary.contains("фото: 1"),
        "{summary}"
    );
    tg.press("✅");
    let done = tg.said("Звернення зареєстровано").await;
    let number = done
        .lines()
        .find_map(|l| l.strip_prefix("Номер: "))
        .expect("the number")
        .to_owned();
    let card = app
        .store()
        .appeal_detail(&number)
        .await
        .unwrap()
        .expect("the card");
    assert_eq!(card.channel, Some(hotline::appeal::Channel::Chatbot));
    assert_eq!(card.record.caller_phone, "+380671234567");
    assert_eq!(card.surname.as_deref(), Some("Коваленко"));
    assert_eq!(card.latitude, Some(47.8388));
    assert_eq!(card.attachments.len(), 1, "the photo is on the card");
    assert_eq!(card.attachments[0].content_type, "image/png");
    let history = app.store().appeal_history(card.record.id).await.unwrap();
    assert_eq!(history[0].login, "chatbot");
    assert_eq!(history[0].role, "citizen");

    // My appeals.
    tg.press("📋");
    let mine = tg.said("Ваші звернення").await;
    assert!(mine.contains(&number), "{mine}");

    // The executor asks; the citizen answers in the bot.
    let executor = card.record.executor.clone();
    let master = app
        .sign_in_as(&executor, hotline::store::Role::Executor)
        .await;
    let act = |body: Value| {
        let headers = master.headers();
        let addr = app.http_addr;
        let number = number.clone();
        async move {
            request(
                addr,
                "POST",
                &format!("/api/appeals/{number}/actions"),
                &headers,
                &body.to_string(),
            )
            .await
        }
    };
    let r = act(json!({"action": "accept", "responsible": "Майстер Петренко"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    tg.said("узяв звернення в роботу").await;
    let r = act(json!({"action": "ask_citizen", "text": "Який номер під'їзду?"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    tg.said("Який номер під'їзду?").await;
    tg.press("Відповісти");
    tg.said("Напишіть відповідь").await;
    tg.text("Третій під'їзд, біля ліфта");
    tg.said("Відповідь передано").await;
    let answered = eventually(Duration::from_secs(10), || async {
        let h = app.store().appeal_history(card.record.id).await.unwrap();
        h.into_iter()
            .find(|e| e.kind == hotline::appeal::lifecycle::EntryKind::CitizenAnswered)
    })
    .await
    .expect("the answer is in the card's history");
    assert_eq!(answered.text.as_deref(), Some("Третій під'їзд, біля ліфта"));
    assert_eq!(answered.login, "chatbot");

    // The work is reported done and approved: the bot asks the citizen.
    let r = act(json!({"action": "propose_closure", "summary": "Замінено засувку", "proof": [card.attachments[0].id]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let supervisor = app
        .sign_in_as("sveta", hotline::store::Role::Supervisor)
        .await;
    let r = request(
        app.http_addr,
        "POST",
        &format!("/api/appeals/{number}/actions"),
        &supervisor.headers(),
        &json!({"action": "approve"}).to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    tg.said("Чи вирішено ваше питання?").await;
    // A 429 on the way: the message goes after the wait Telegram gave.
    tg.seen.lock().unwrap().throttle = 1;
    tg.press("Так");
    tg.said("Оцініть").await;
    let (text, refused_at) = tg.seen.lock().unwrap().throttled[0].clone();
    let again = eventually(Duration::from_secs(10), || async {
        tg.calls("sendMessage")
            .into_iter()
            .filter(|(p, at)| p["text"] == text.as_str() && *at > refused_at)
            .map(|(_, at)| at)
            .next()
    })
    .await
    .expect("the refused message is sent again");
    assert!(
        again - refused_at >= Duration::from_millis(1900),
        "sent again after {:?}, before retry_after",
        again - refused_at
    );
    tg.press("5");
    tg.said("Дякуємо за відповідь").await;
    let closed = app.store().appeal_detail(&number).await.unwrap().unwrap();
    assert_eq!(closed.record.status, hotline::appeal::AppealStatus::Closed);
    let h = app.store().appeal_history(card.record.id).await.unwrap();
    let confirmed = h
        .iter()
        .find(|e| e.kind == hotline::appeal::lifecycle::EntryKind::Confirmed)
        .expect("confirmed");
    assert_eq!(
        confirmed.details.verification.as_ref().unwrap().rating,
        Some(5)
    );
    tg.said("Розгляд звернення завершено").await;

    // Blocked: a polite refusal, nothing registered.
    let r = app
        .api(
            "POST",
            "/api/blocked",
            &json!({"number": format!("telegram:{CITIZEN}"), "reason": "Образи"}).to_string(),
        )
        .await;
    assert_eq!(r.0, 201, "{}", r.1);
    let cards_before = app
        .store()
        .appeals_by_phone("+380671234567", 50)
        .await
        .unwrap()
        .len();
    tg.text("/start");
    tg.said("не приймаються").await;
    tg.press("📝");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.store()
            .appeals_by_phone("+380671234567", 50)
            .await
            .unwrap()
            .len(),
        cards_before
    );
    let problems = tg.seen.lock().unwrap().problems.clone();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test]
async fn a_citizen_does_everything_in_telegram_sqlite() {
    a_citizen_does_everything_in_telegram(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_citizen_does_everything_in_telegram_postgres() {
    a_citizen_does_everything_in_telegram(Backend::Postgres).await;
}

/// With a webhook: hotline sets it with its secret, and takes updates
/// only with that secret in `X-Telegram-Bot-Api-Secret-Token`; an update
/// delivered twice is handled once.
#[tokio::test]
async fn the_webhook_wants_its_secret_and_takes_an_update_once() {
    let (tg, api) = Fake::start().await;
    let app = app_with(Backend::Sqlite, &api, true).await;
    eventually(Duration::from_secs(10), || async {
        (!tg.calls("setWebhook").is_empty()).then_some(())
    })
    .await
    .expect("setWebhook");
    let (hook, _) = tg.calls("setWebhook").remove(0);
    assert_eq!(hook["url"], "https://1580.example.ua/chatbot/telegram");
    assert_eq!(hook["secret_token"], "s3cret-Token_1");
    let update =
        json!({"update_id": 42, "message": {"message_id": 1, "date": Utc::now().timestamp(),
        "from": user(), "chat": chat(), "text": "/start"}})
        .to_string();
    let post = |secret: Option<&'static str>| {
        let update = update.clone();
        let addr = app.http_addr;
        async move {
            let mut headers = vec![("Content-Type", "application/json".to_string())];
            if let Some(s) = secret {
                headers.push(("X-Telegram-Bot-Api-Secret-Token", s.to_string()));
            }
            request(addr, "POST", "/chatbot/telegram", &headers, &update).await
        }
    };
    assert_eq!(post(None).await.status, 401);
    assert_eq!(post(Some("wrong")).await.status, 401);
    assert!(tg.sent().is_empty());
    assert_eq!(post(Some("s3cret-Token_1")).await.status, 200);
    assert_eq!(post(Some("s3cret-Token_1")).await.status, 200);
    tg.said("Оберіть, що зробити").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let welcomes = tg.sent().iter().filter(|t| t.contains("Вітаємо")).count();
    assert_eq!(welcomes, 1, "{:#?}", tg.sent());
    let problems = tg.seen.lock().unwrap().problems.clone();
    assert!(problems.is_empty(), "{problems:#?}");
}
