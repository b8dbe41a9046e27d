//! The Viber bot against a stand-in of Viber's REST Bot API on loopback
//! (no messenger's server runs here). The stand-in answers as Viber
//! documents (creators.viber.com, REST Bot API): `/pa/set_webhook`,
//! `/pa/send_message` with `X-Viber-Auth-Token`, `{status, status_message}`
//! answers (12: tooManyRequests); and it checks what hotline sends: the
//! token, `receiver`, `sender.name` of at most 28 characters, `text` of at
//! most 7000, keyboards of documented `ActionType`s with `min_api_version`
//! 3 for the phone's and the place's buttons. Callbacks reach hotline
//! signed as Viber signs them (`X-Viber-Content-Signature`: the body's
//! HMAC-SHA256 under the token, hex). A citizen opens the chat, files an
//! appeal with a picture and a place, and asks for its status; on SQLite
//! and PostgreSQL.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::public::with_classifier;
use crate::{AppOptions, Backend, PNG, TestApp, eventually, request, spawn_app};

const TOKEN: &str = "4a7c2f1e9b3d5a68-8f0e1d2c3b4a5968-0a1b2c3d4e5f6071";
const CITIZEN: &str = "01234567890A=";

#[derive(Default)]
struct Seen {
    calls: Vec<(String, Value, Instant)>,
    problems: Vec<String>,
    throttle: u32,
    throttled: Vec<(String, Instant)>,
    next: u64,
}

#[derive(Clone, Default)]
struct Fake {
    seen: Arc<Mutex<Seen>>,
}

const ACTION_TYPES: &[&str] = &[
    "reply",
    "open-url",
    "location-picker",
    "share-phone",
    "none",
];
const EVENT_TYPES: &[&str] = &[
    "delivered",
    "seen",
    "failed",
    "subscribed",
    "unsubscribed",
    "conversation_started",
];

impl Fake {
    async fn start() -> (Fake, String) {
        let fake = Fake::default();
        let app = axum::Router::new()
            .route("/pa/set_webhook", post(set_webhook))
            .route("/pa/send_message", post(send_message))
            .route(
                "/media/photo.png",
                get(|| async { ([("content-type", "image/png")], PNG) }),
            )
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, url)
    }

    fn sent(&self) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|(m, _, _)| m == "send_message")
            .map(|(_, p, _)| p.clone())
            .collect()
    }

    async fn said(&self, part: &str) -> Value {
        eventually(Duration::from_secs(20), || async {
            self.sent()
                .into_iter()
                .rev()
                .find(|m| m["text"].as_str().is_some_and(|t| t.contains(part)))
        })
        .await
        .unwrap_or_else(|| {
            let texts: Vec<Value> = self.sent().iter().map(|m| m["text"].clone()).collect();
            panic!("the bot never said {part:?}; it said {texts:#?}")
        })
    }

    /// The `ActionBody` of the reply button labelled `label` (or starting
    /// so) in the newest message that has one.
    fn button(&self, label: &str) -> String {
        for m in self.sent().iter().rev() {
            for b in m["keyboard"]["Buttons"].as_array().into_iter().flatten() {
                if b["Text"].as_str().is_some_and(|t| t.starts_with(label)) {
                    return b["ActionBody"].as_str().unwrap().to_owned();
                }
            }
        }
        panic!("no button {label:?} was offered");
    }
}

fn token_ok(fake: &Fake, headers: &HeaderMap, method: &str) -> bool {
    let ok = headers
        .get("x-viber-auth-token")
        .is_some_and(|v| v.as_bytes() == TOKEN.as_bytes());
    if !ok {
        fake.seen
            .lock()
            .unwrap()
            .problems
            .push(format!("{method} without the auth token"));
    }
    ok
}

async fn set_webhook(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Json(p): Json<Value>,
) -> impl IntoResponse {
    if !token_ok(&fake, &headers, "set_webhook") {
        return Json(json!({"status": 2, "status_message": "invalidAuthToken"}));
    }
    let mut seen = fake.seen.lock().unwrap();
    if !p["url"].as_str().is_some_and(|u| u.starts_with("https://")) {
        seen.problems.push(format!("set_webhook url {}", p["url"]));
    }
    for e in p["event_types"].as_array().into_iter().flatten() {
        if !EVENT_TYPES.contains(&e.as_str().unwrap_or("")) {
            seen.problems.push(format!("set_webhook event_types {e}"));
        }
    }
    seen.calls
        .push(("set_webhook".into(), p.clone(), Instant::now()));
    Json(json!({"status": 0, "status_message": "ok", "event_types": p["event_types"]}))
}

async fn send_message(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Json(p): Json<Value>,
) -> impl IntoResponse {
    if !token_ok(&fake, &headers, "send_message") {
        return (
            StatusCode::OK,
            Json(json!({"status": 2, "status_message": "invalidAuthToken"})),
        );
    }
    let mut seen = fake.seen.lock().unwrap();
    let mut problems = Vec::new();
    if p["receiver"].as_str() != Some(CITIZEN) {
        problems.push(format!("receiver {}", p["receiver"]));
    }
    if p["type"] != "text"
        || !p["text"]
            .as_str()
            .is_some_and(|t| (1..=7000).contains(&t.chars().count()))
    {
        problems.push(format!("type/text {} {}", p["type"], p["text"]));
    }
    if !p["sender"]["name"]
        .as_str()
        .is_some_and(|n| (1..=28).contains(&n.chars().count()))
    {
        problems.push(format!("sender {}", p["sender"]));
    }
    if let Some(k) = p.get("keyboard") {
        if k["Type"] != "keyboard" {
            problems.push(format!("keyboard Type {}", k["Type"]));
        }
        for b in k["Buttons"].as_array().into_iter().flatten() {
            let kind = b["ActionType"].as_str().unwrap_or("");
            let columns = b["Columns"].as_u64().unwrap_or(0);
            let rows = b["Rows"].as_u64().unwrap_or(0);
            if !ACTION_TYPES.contains(&kind)
                || b["ActionBody"].as_str().is_none_or(str::is_empty)
                || !(1..=6).contains(&columns)
                || !(1..=2).contains(&rows)
            {
                problems.push(format!("button {b}"));
            }
            if matches!(kind, "share-phone" | "location-picker")
                && p["min_api_version"].as_u64().unwrap_or(1) < 3
            {
                problems.push(format!("{kind} without min_api_version 3"));
            }
        }
    }
    seen.problems.extend(problems);
    if seen.throttle > 0 {
        seen.throttle -= 1;
        let text = p["text"].as_str().unwrap_or("").to_owned();
        seen.throttled.push((text, Instant::now()));
        return (
            StatusCode::OK,
            Json(json!({"status": 12, "status_message": "tooManyRequests"})),
        );
    }
    // Only what was taken counts as said.
    seen.calls
        .push(("send_message".into(), p.clone(), Instant::now()));
    seen.next += 1;
    (
        StatusCode::OK,
        Json(json!({"status": 0, "status_message": "ok",
            "message_token": 5741311803571721087u64 + seen.next,
            "chat_hostname": "SN-CHAT-05_", "billing_status": 1})),
    )
}

/// hotline's webhook, a callback signed as Viber signs it.
struct Hook {
    app: std::net::SocketAddr,
    token: u64,
}

impl Hook {
    async fn post(&mut self, mut body: Value, signed: bool) -> crate::HttpResponse {
        self.token += 1;
        body["timestamp"] = json!(chrono::Utc::now().timestamp_millis());
        body["message_token"] = json!(self.token);
        let text = body.to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(TOKEN.as_bytes()).unwrap();
        mac.update(text.as_bytes());
        let signature = if signed {
            hex::encode(mac.finalize().into_bytes())
        } else {
            "00".repeat(32)
        };
        request(
            self.app,
            "POST",
            "/chatbot/viber",
            &[
                ("Content-Type", "application/json".to_string()),
                ("X-Viber-Content-Signature", signature),
            ],
            &text,
        )
        .await
    }

    async fn message(&mut self, message: Value) {
        let body = json!({"event": "message", "sender": {"id": CITIZEN, "name": "Ірина",
            "language": "uk", "country": "UA", "api_version": 10}, "message": message});
        let r = self.post(body, true).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }

    async fn text(&mut self, text: &str) {
        self.message(json!({"type": "text", "text": text})).await;
    }
}

async fn app_with(backend: Backend, api: &str) -> TestApp {
    let extra = format!(
        "[chatbot]\npush_interval_secs = 1\nappeals_per_day = 1\n\n[chatbot.viber]\ntoken = \"{TOKEN}\"\n\
         webhook_url = \"https://1580.example.ua/chatbot/viber\"\nname = \"Гаряча лінія 15-80\"\n\
         api_url = \"{api}/pa\"\n"
    );
    let app = spawn_app(AppOptions {
        backend,
        extra,
        ..AppOptions::default()
    })
    .await;
    with_classifier(&app).await;
    app
}

async fn a_citizen_files_and_follows_an_appeal_in_viber(backend: Backend) {
    let (vb, api) = Fake::start().await;
    let app = app_with(backend, &api).await;
    eventually(Duration::from_secs(10), || async {
        vb.seen
            .lock()
            .unwrap()
            .calls
            .iter()
            .any(|(m, _, _)| m == "set_webhook")
            .then_some(())
    })
    .await
    .expect("set_webhook");
    let mut hook = Hook {
        app: app.http_addr,
        token: 4_912_661_846_655_238_145,
    };
    // Viber's check of the address, and an unsigned callback.
    let r = hook
        .post(json!({"event": "webhook", "chat_hostname": "SN-1"}), true)
        .await;
    assert_eq!(r.status, 200);
    let r = hook.post(json!({"event": "webhook"}), false).await;
    assert_eq!(r.status, 401);
    // The citizen opens the chat: greeted in the callback's answer.
    let r = hook
        .post(
            json!({"event": "conversation_started", "type": "open", "context": "",
                "user": {"id": CITIZEN, "name": "Ірина", "api_version": 10}, "subscribed": false}),
            true,
        )
        .await;
    assert_eq!(r.status, 200);
    let hello: Value = serde_json::from_str(&r.body).unwrap();
    assert!(
        hello["text"].as_str().unwrap().contains("Вітаємо"),
        "{hello}"
    );
    assert_eq!(hello["keyboard"]["Buttons"][0]["ActionBody"], "btn:new");
    assert!(hello.get("receiver").is_none());

    hook.text("btn:new").await;
    vb.said("прізвище, ім'я та по батькові").await;
    hook.text("Коваленко Ірина Петрівна").await;
    vb.said("Вкажіть адресу").await;
    hook.text("вул. Соборна, 12, кв. 5").await;
    let ask = vb.said("Поділіться номером").await;
    assert_eq!(ask["keyboard"]["Buttons"][0]["ActionType"], "share-phone");
    hook.message(
        json!({"type": "contact", "contact": {"name": "Ірина", "phone_number": "380671234567"}}),
    )
    .await;
    vb.said("Опишіть суть").await;
    hook.text("Немає холодної води з ранку в усьому під'їзді.")
        .await;
    vb.said("Що це за звернення").await;
    hook.text(&vb.button("Скарга")).await;
    vb.said("Оберіть тему").await;
    hook.text(&vb.button("Водопостачання")).await;
    vb.said("Уточніть тему").await;
    hook.text(&vb.button("Відсутнє холодне")).await;
    vb.said("Додайте фото").await;
    hook.message(json!({"type": "picture", "text": "", "media": format!("{api}/media/photo.png"),
        "thumbnail": format!("{api}/media/photo.png"), "file_name": "photo.png", "file_size": PNG.len()}))
        .await;
    vb.said("Фото додано (1 з").await;
    hook.text(&vb.button("Далі")).await;
    let place = vb.said("Надішліть місце").await;
    assert_eq!(
        place["keyboard"]["Buttons"][0]["ActionType"],
        "location-picker"
    );
    assert_eq!(place["min_api_version"], 3);
    hook.message(json!({"type": "location", "location": {"lat": 47.8388, "lon": 35.1396}}))
        .await;
    vb.said("Перевірте звернення").await;
    // tooManyRequests once on the way: the answer still comes, later.
    vb.seen.lock().unwrap().throttle = 1;
    hook.text(&vb.button("✅")).await;
    let done = vb.said("Звернення зареєстровано").await;
    let (refused, refused_at) = vb.seen.lock().unwrap().throttled[0].clone();
    assert!(refused.contains("зареєстровано"), "{refused}");
    let again = vb
        .seen
        .lock()
        .unwrap()
        .calls
        .iter()
        .filter(|(m, p, at)| {
            m == "send_message" && p["text"] == refused.as_str() && *at > refused_at
        })
        .map(|(_, _, at)| *at)
        .next()
        .expect("sent again");
    assert!(
        again - refused_at >= Duration::from_millis(4900),
        "sent again after {:?}",
        again - refused_at
    );
    let number = done["text"]
        .as_str()
        .unwrap()
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
    assert_eq!(card.latitude, Some(47.8388));
    assert_eq!(card.attachments.len(), 1, "the picture is on the card");

    hook.text(&vb.button("📋")).await;
    let mine = vb.said("Ваші звернення").await;
    assert!(mine["text"].as_str().unwrap().contains(&number));

    // A second appeal the same day, past `appeals_per_day`: not registered.
    hook.text("btn:new").await;
    hook.text("Коваленко Ірина Петрівна").await;
    hook.text("вул. Соборна, 12, кв. 5").await;
    vb.said("Опишіть суть").await;
    hook.text("Знову немає води, вже другий день поспіль.")
        .await;
    hook.text("btn:kind:statement").await;
    hook.text("btn:unknown").await;
    hook.text("btn:skip").await;
    hook.text("btn:skip").await;
    vb.said("тему визначить контакт-центр").await;
    hook.text("btn:register").await;
    vb.said("вже подано кілька звернень").await;
    assert_eq!(
        app.store()
            .appeals_by_phone("+380671234567", 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // The executor takes it up and asks; the citizen answers with a picture.
    let executor = card.record.executor.clone();
    let master = app
        .sign_in_as(&executor, hotline::store::Role::Executor)
        .await;
    let act = |who: &crate::ApiSession, body: Value| {
        let headers = who.headers();
        let addr = app.http_addr;
        let path = format!("/api/appeals/{number}/actions");
        async move { request(addr, "POST", &path, &headers, &body.to_string()).await }
    };
    // Unsubscribed meanwhile: nothing is sent until they subscribe again,
    // and then what waited goes.
    let r = hook
        .post(json!({"event": "unsubscribed", "user_id": CITIZEN}), true)
        .await;
    assert_eq!(r.status, 200);
    let before = vb.sent().len();
    let r = act(
        &master,
        json!({"action": "accept", "responsible": "Майстер"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        vb.sent().len(),
        before,
        "nothing to an unsubscribed account"
    );
    let r = hook
        .post(
            json!({"event": "subscribed", "user": {"id": CITIZEN, "name": "Ірина", "api_version": 10}}),
            true,
        )
        .await;
    assert_eq!(r.status, 200);
    vb.said("узяв звернення в роботу").await;
    let r = act(
        &master,
        json!({"action": "ask_citizen", "text": "Сфотографуйте, будь ласка, лічильник."}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    vb.said("Сфотографуйте, будь ласка, лічильник.").await;
    hook.text(&vb.button("Відповісти")).await;
    vb.said("Напишіть відповідь").await;
    hook.message(
        json!({"type": "picture", "text": "", "media": format!("{api}/media/photo.png"),
        "file_name": "meter.png", "file_size": PNG.len()}),
    )
    .await;
    vb.said("Відповідь передано").await;
    let answered = eventually(Duration::from_secs(10), || async {
        app.store()
            .appeal_history(card.record.id)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.kind == hotline::appeal::lifecycle::EntryKind::CitizenAnswered)
    })
    .await
    .expect("the answer is in the history");
    assert_eq!(answered.files.len(), 1, "the picture is the answer");

    // Done and approved: the bot asks; "no", 2, and why.
    let r = act(&master, json!({"action": "propose_closure", "summary": "Замінено засувку", "proof": answered.files})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let supervisor = app
        .sign_in_as("sveta", hotline::store::Role::Supervisor)
        .await;
    let r = act(&supervisor, json!({"action": "approve"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    vb.said("Чи вирішено ваше питання?").await;
    hook.text(&vb.button("Ні")).await;
    vb.said("Оцініть").await;
    hook.text(&vb.button("2")).await;
    vb.said("Що залишилося не так").await;
    hook.text("Вода тече ледь-ледь").await;
    vb.said("Дякуємо за відповідь").await;
    let h = app.store().appeal_history(card.record.id).await.unwrap();
    let not = h
        .iter()
        .find(|e| e.kind == hotline::appeal::lifecycle::EntryKind::NotConfirmed)
        .expect("not confirmed");
    let asked = not.details.verification.as_ref().unwrap();
    assert_eq!(asked.rating, Some(2));
    assert_eq!(
        asked.channel,
        hotline::appeal::verification::Channel::Chatbot
    );

    vb.said("Виконання не підтверджено").await;
    let problems = vb.seen.lock().unwrap().problems.clone();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test]
async fn a_citizen_files_and_follows_an_appeal_in_viber_sqlite() {
    a_citizen_files_and_follows_an_appeal_in_viber(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_citizen_files_and_follows_an_appeal_in_viber_postgres() {
    a_citizen_files_and_follows_an_appeal_in_viber(Backend::Postgres).await;
}
