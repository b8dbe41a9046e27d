//! The routes without a socket: the whole router is driven with
//! `tower::ServiceExt::oneshot` over a real SQLite database, with a stand-in
//! for the calls in progress (`api::testing`). The integration tests
//! (`tests/it/`) drive the same routes over a real port with real calls.

use std::ops::Deref;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::Utc;
use serde_json::{Value, json};

use super::auth::{CSRF_HEADER, MAX_FAILURES};
use super::testing::{PASSWORD, Signed, TestApi};
use crate::ids::CallId;
use crate::store::testing::stored_call;
use crate::store::{NewOperator, Role};

/// The API ([`TestApi`]) with the shorthands these tests use.
struct Harness(TestApi);

impl Deref for Harness {
    type Target = TestApi;

    fn deref(&self) -> &TestApi {
        &self.0
    }
}

impl Harness {
    async fn new() -> Harness {
        Harness(TestApi::new().await)
    }

    async fn get(&self, uri: &str, who: &Signed) -> (StatusCode, Value) {
        let (status, _, body) = self.call(Method::GET, uri, Some(who), None).await;
        (status, body)
    }

    async fn post(&self, uri: &str, who: &Signed, body: Value) -> (StatusCode, Value) {
        let (status, _, body) = self.call(Method::POST, uri, Some(who), Some(body)).await;
        (status, body)
    }

    /// A file sent as the console sends it (multipart), marked as proof or
    /// not.
    async fn upload(
        &self,
        uri: &str,
        who: &Signed,
        bytes: &[u8],
        proof: bool,
    ) -> (StatusCode, Value) {
        let boundary = "route-test-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"proof\"\r\n\r\n{proof}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"фото.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::COOKIE, &who.cookie)
            .header(CSRF_HEADER, &who.csrf)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .expect("a well-formed request");
        let (status, _, json) = self.send(request).await;
        (status, json)
    }

    async fn put(&self, uri: &str, who: &Signed, body: Value) -> (StatusCode, Value) {
        let (status, _, body) = self.call(Method::PUT, uri, Some(who), Some(body)).await;
        (status, body)
    }

    async fn delete(&self, uri: &str, who: &Signed) -> (StatusCode, Value) {
        let (status, _, body) = self.call(Method::DELETE, uri, Some(who), None).await;
        (status, body)
    }
}

#[tokio::test]
async fn every_api_route_wants_a_session_and_says_so_in_json() {
    let h = Harness::new().await;
    for (method, uri) in [
        (Method::GET, "/api/queues"),
        (Method::GET, "/api/blocked"),
        (Method::POST, "/api/appeals"),
        (Method::GET, "/api/recordings"),
        (Method::POST, "/api/ivr/reload"),
        (Method::GET, "/api/executors"),
    ] {
        let (status, _, body) = h.call(method, uri, None, Some(json!({}))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(body, json!({ "error": "sign in first" }), "{uri}");
    }
}

#[tokio::test]
async fn sign_in_failures_are_limited_with_retry_after() {
    let h = Harness::new().await;
    h.user("sveta", Role::Supervisor).await;
    let wrong = json!({ "login": "sveta", "password": "not it at all" });
    for _ in 0..MAX_FAILURES {
        let (status, _, _) = h
            .call(Method::POST, "/api/session", None, Some(wrong.clone()))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let right = json!({ "login": "sveta", "password": PASSWORD });
    let (status, headers, body) = h
        .call(Method::POST, "/api/session", None, Some(right))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let wait: u64 = headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1, "{wait}");
    let (status, _, body) = h
        .call(
            Method::POST,
            "/api/session",
            None,
            Some(json!({ "login": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn roles_and_the_csrf_token_are_checked_before_anything_is_done() {
    let h = Harness::new().await;
    let executor = h.sign_in("vodokanal", Role::Executor).await;
    let (status, body) = h.get("/api/blocked", &executor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "not allowed for the role executor");
    let (status, _) = h.get("/api/recordings", &executor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let supervisor = h.sign_in("sveta", Role::Supervisor).await;
    let forged = Signed {
        cookie: supervisor.cookie.clone(),
        csrf: "0".repeat(supervisor.csrf.len()),
    };
    let block = json!({ "number": "0671234567", "reason": "образи" });
    let (status, body) = h.post("/api/blocked", &forged, block).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, list) = h.get("/api/blocked", &supervisor).await;
    assert_eq!(list, json!({ "blocked": [] }), "nothing was blocked");
}

#[tokio::test]
async fn the_block_list_round_trip() {
    let h = Harness::new().await;
    let sveta = h.sign_in("sveta", Role::Supervisor).await;
    let (status, body) = h
        .post(
            "/api/blocked",
            &sveta,
            json!({ "number": "12", "reason": "", "until": "someday" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("one error per field")
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["number", "reason", "until"]);

    let block = json!({ "number": "(067) 123 45 67", "reason": "образи" });
    let (status, body) = h.post("/api/blocked", &sveta, block.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["number"], "+380671234567");
    assert_eq!(body["blocked_by"], "sveta");
    assert!(body.get("already_blocked").is_none(), "{body}");
    let (status, body) = h.post("/api/blocked", &sveta, block).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["already_blocked"], true);

    let (_, list) = h.get("/api/blocked", &sveta).await;
    assert_eq!(list["blocked"].as_array().map(Vec::len), Some(1));
    let (status, body) = h.delete("/api/blocked/0671234567", &sveta).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["end_reason"], "lifted");
    let (status, _) = h.delete("/api/blocked/0671234567", &sveta).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h.delete("/api/blocked/abc", &sveta).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn end_call_and_block_ends_the_live_call_through_call_control() {
    let h = Harness::new().await;
    let sveta = h.sign_in("sveta", Role::Supervisor).await;
    let now = Utc::now();
    let call = CallId::from_uuid(stored_call(&h.db, "0611234567", "+380611234567", now).await);
    h.calls.live.lock().unwrap().insert(call);

    let (_, _, health) = h.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health["active_calls"], 1);
    assert_eq!(health["rtp_ports_in_use"], 2);

    let uri = format!("/api/calls/{call}/block");
    let (status, body) = h.post(&uri, &sveta, json!({ "reason": "" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(h.calls.ended.lock().unwrap().is_empty(), "nothing done yet");

    let (status, body) = h.post(&uri, &sveta, json!({ "reason": "погрози" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["number"], "+380611234567");
    assert_eq!(body["call_ended"], true);
    assert_eq!(body["call_id"], call.to_string());
    assert_eq!(*h.calls.ended.lock().unwrap(), [call]);

    let (status, _, body) = h
        .call(
            Method::POST,
            &format!("/api/calls/{}/block", CallId::random()),
            Some(&sveta),
            Some(json!({ "reason": "погрози" })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn a_card_with_wrong_fields_names_each_and_registers_nothing() {
    let h = Harness::new().await;
    let sveta = h.sign_in("sveta", Role::Supervisor).await;
    let (status, body) = h
        .post(
            "/api/appeals",
            &sveta,
            json!({ "contact_phone": "12", "channel": "pigeon" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("one error per field")
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in ["channel", "contact_phone", "surname", "essence"] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    let (status, body) = h
        .post("/api/appeals", &sveta, json!({ "nickname": "x" }))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown field: {body}"
    );
    let (status, body) = h.get("/api/appeals/1580-2026-000001", &sveta).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn only_admins_reload_the_voice_menu() {
    let h = Harness::new().await;
    let sveta = h.sign_in("sveta", Role::Supervisor).await;
    let (status, _, _) = h
        .call(Method::POST, "/api/ivr/reload", Some(&sveta), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let admin = h.sign_in("root", Role::Admin).await;
    // The default policy tells blocked callers so: their menu must exist.
    let (status, _, body) = h
        .call(Method::POST, "/api/ivr/reload", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["reloaded"], false);
    let problem = body["errors"][0].as_str().expect("the problem");
    assert!(problem.contains("blocked.toml:0:"), "{problem}");
    std::fs::write(
        h.dir().join("ivr/blocked.toml"),
        "start = \"bye\"\n[nodes.bye]\ntype = \"hangup\"\n",
    )
    .unwrap();
    let (status, _, body) = h
        .call(Method::POST, "/api/ivr/reload", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "reloaded": true, "nodes": 2 }));
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_not_422() {
    let h = Harness::new().await;
    let huge = json!({ "login": "x".repeat(3 << 20), "password": "p" });
    let (status, _, body) = h.call(Method::POST, "/api/session", None, Some(huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["error"].as_str().is_some(), "{body}");
}

/// A card through its first steps over the API: the executor's inbox has
/// it, another organisation's user is refused it at every route, steps are
/// checked by the rules and written to the history with their authors.
#[tokio::test]
async fn an_executor_works_its_own_cards_and_no_others() {
    let h = Harness::new().await;
    let category = crate::store::testing::sample_category(&h.db, "sample", Utc::now()).await;
    let sveta = h.sign_in("sveta", Role::Supervisor).await;
    let sample = crate::store::testing::sample_appeal(category);
    let (status, card) = h
        .post(
            "/api/appeals",
            &sveta,
            json!({
                "surname": sample.surname, "first_name": sample.first_name,
                "patronymic": sample.patronymic, "address": sample.address,
                "contact_phone": sample.contact_phone, "essence": sample.essence,
                "category_id": category,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let number = card["registration_number"].as_str().unwrap().to_owned();
    let code = card["executor"].as_str().unwrap().to_owned();
    assert!(
        card["executor_name"].as_str().unwrap().contains('«'),
        "{card}"
    );

    // Executor users are named after their organisation in these tests.
    let mine = h.sign_in(&code, Role::Executor).await;
    let other_code = if code == "oblenergo" {
        "vodokanal"
    } else {
        "oblenergo"
    };
    let other = h.sign_in(other_code, Role::Executor).await;
    let (status, inbox) = h.get("/api/inbox?tab=new", &mine).await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    assert_eq!(inbox["cards"][0]["registration_number"], number.as_str());
    assert!(inbox["cards"][0]["seconds_left"].as_i64().unwrap() > 0);
    let (_, theirs) = h.get("/api/inbox", &other).await;
    assert_eq!(theirs["cards"].as_array().unwrap().len(), 0, "{theirs}");
    let (status, body) = h.get("/api/inbox?tab=someday", &mine).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The console names the organisations the cards carry by code.
    let (status, names) = h.get("/api/executors", &mine).await;
    assert_eq!(status, StatusCode::OK, "{names}");
    let named = names
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == code.as_str())
        .expect("the card's executor is listed");
    assert_eq!(named["name"], card["executor_name"]);

    // Another organisation's user: refused the card, its history, its steps.
    for uri in [
        format!("/api/appeals/{number}"),
        format!("/api/appeals/{number}/history"),
    ] {
        let (status, body) = h.get(&uri, &other).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: {body}");
    }
    let actions = format!("/api/appeals/{number}/actions");
    let accept = json!({ "action": "accept", "responsible": "Гнатюк О. В." });
    let (status, body) = h.post(&actions, &other, accept.clone()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_your_card")),
        "{body}"
    );

    // The card's own executor.
    let (status, card) = h.get(&format!("/api/appeals/{number}"), &mine).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    // The console offers what the rules allow this user now.
    assert_eq!(
        card["life"]["actions"],
        json!([
            "accept",
            "comment",
            "ask_citizen",
            "attach",
            "request_change"
        ]),
        "{card}"
    );
    assert_eq!(card["life"]["mine"], code.as_str());
    let (status, step) = h.post(&actions, &mine, accept.clone()).await;
    assert_eq!(status, StatusCode::OK, "{step}");
    assert_eq!(step["status"], "in_progress");
    let (status, body) = h.post(&actions, &mine, accept).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_accepted")),
        "{body}"
    );
    let no_documents = json!({
        "action": "request_extension", "until": "2099-01-01T00:00:00Z",
        "reason": "Чекаємо на матеріали",
    });
    let (status, body) = h.post(&actions, &mine, no_documents).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("needs_documents")),
        "{body}"
    );
    let foreign_document = json!({
        "action": "request_extension", "until": "2099-01-01T00:00:00Z",
        "reason": "Чекаємо на матеріали", "documents": [uuid::Uuid::new_v4()],
    });
    let (status, body) = h.post(&actions, &mine, foreign_document).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = h
        .post(
            &actions,
            &mine,
            json!({ "action": "comment", "text": "Бригада виїхала" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Proof of the work, uploaded by the card's executor; none by another.
    const PNG: [u8; 12] = [
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d,
    ];
    let files = format!("/api/appeals/{number}/attachments");
    let (status, body) = h.upload(&files, &other, &PNG, true).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, photo) = h.upload(&files, &mine, &PNG, true).await;
    assert_eq!(status, StatusCode::CREATED, "{photo}");
    let (status, _) = h
        .get(&format!("{files}/{}", photo["id"].as_str().unwrap()), &mine)
        .await;
    assert_eq!(status, StatusCode::OK, "the executor downloads its proof");
    // The server's own steps are no client's.
    for own in ["deliver", "mark_overdue", "mark_due_soon"] {
        let (status, body) = h.post(&actions, &mine, json!({ "action": own })).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("role")),
            "{own}: {body}"
        );
    }
    let (status, body) = h.post(&actions, &mine, json!({ "action": "fly" })).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an unknown step: {body}"
    );
    let admin = h.sign_in("root", Role::Admin).await;
    let (status, body) = h
        .post(
            &actions,
            &admin,
            json!({ "action": "comment", "text": "x" }),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("role")),
        "{body}"
    );

    // Nothing awaits a decision; an executor has no decisions queue.
    let (status, queue) = h.get("/api/decisions", &sveta).await;
    assert_eq!(
        (status, queue.as_array().map(Vec::len)),
        (StatusCode::OK, Some(0)),
        "{queue}"
    );
    let (status, _) = h.get("/api/decisions", &mine).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The history: every step, its author and time.
    let (status, history) = h
        .get(&format!("/api/appeals/{number}/history"), &sveta)
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let steps: Vec<(&str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["login"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("registered", "sveta"),
            ("accepted", code.as_str()),
            ("commented", code.as_str()),
            ("attached", code.as_str()),
        ]
    );
    assert_eq!(history[3]["details"]["proof"], true, "{history}");
    assert_eq!(history[3]["files"][0], photo["id"]);
    // Every opening of the card is logged: the executor's and no refused one.
    let card_id = uuid::Uuid::parse_str(card["id"].as_str().unwrap()).unwrap();
    let stored = h.db.appeal_card(card_id).await.unwrap().unwrap();
    assert_eq!(stored.card.proofs, 1);
    let openings = h.db.card_openings(Some(card_id), 10).await.unwrap();
    assert_eq!(openings.len(), 1);
    assert_eq!(openings[0].login, code);
    // Supervisors review that log; executors may not.
    let (status, log) = h
        .get(&format!("/api/card-access?number={number}"), &sveta)
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert_eq!(log["openings"][0]["login"], code.as_str(), "{log}");
    assert_eq!(log["openings"][0]["address"], "192.0.2.10", "{log}");
    let (status, _) = h.get("/api/card-access", &mine).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h
        .get("/api/card-access?number=1580-1999-000001", &sveta)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The appeal's kind is stored and shown; an anonymous appeal is taken only
/// where the city allows it, and then carries no name or contact.
#[tokio::test]
async fn kinds_and_anonymous_appeals() {
    let sample = |category: uuid::Uuid| {
        json!({
            "address": "вул. Соборна, 12", "essence": "Відкритий люк на тротуарі.",
            "category_id": category, "anonymous": true,
        })
    };
    // The sample configuration: no anonymous appeals.
    let h = Harness::new().await;
    let category = crate::store::testing::sample_category(&h.db, "sample", Utc::now()).await;
    let sveta = h.sign_in("sveta", Role::Supervisor).await;
    let (status, body) = h.post("/api/appeals", &sveta, sample(category)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "anonymous", "{body}");
    let (_, tree) = h.get("/api/classifier", &sveta).await;
    assert_eq!(tree["anonymous_allowed"], false);

    let h = Harness(TestApi::allowing_anonymous().await);
    let category = crate::store::testing::sample_category(&h.db, "sample", Utc::now()).await;
    let sveta = h.sign_in("sveta", Role::Supervisor).await;
    let (_, tree) = h.get("/api/classifier", &sveta).await;
    assert_eq!(tree["anonymous_allowed"], true);
    // A name typed on an anonymous card is not dropped unseen.
    let mut named = sample(category);
    named["surname"] = json!("Шевченко");
    named["kind"] = json!("grievance");
    let (status, body) = h.post("/api/appeals", &sveta, named).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["kind", "surname"], "{body}");

    let mut complaint = sample(category);
    complaint["kind"] = json!("complaint");
    let (status, card) = h.post("/api/appeals", &sveta, complaint).await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let number = card["registration_number"].as_str().unwrap();
    let (_, card) = h.get(&format!("/api/appeals/{number}"), &sveta).await;
    assert_eq!(card["kind"], "complaint", "{card}");
    assert_eq!(card["anonymous"], true, "{card}");
    assert_eq!(card["contact_phone"], "", "{card}");
    assert_eq!(
        card["executor"], "vodokanal",
        "an executor all the same: {card}"
    );

    // Without a kind: a statement.
    let mut plain = sample(category);
    plain["anonymous"] = json!(false);
    plain["surname"] = json!("Шевченко");
    plain["first_name"] = json!("Тарас");
    plain["patronymic"] = json!("Григорович");
    plain["contact_phone"] = json!("067 123 45 67");
    let (status, card) = h.post("/api/appeals", &sveta, plain).await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let number = card["registration_number"].as_str().unwrap();
    let (_, card) = h.get(&format!("/api/appeals/{number}"), &sveta).await;
    assert_eq!(card["kind"], "statement", "{card}");
    assert_eq!(card["anonymous"], false, "{card}");
}

/// Executors register their works (planned a day ahead, emergency at once),
/// extend and close their own and no other's; operators see them all, and
/// the IVR's outage lookup finds them.
#[tokio::test]
async fn executors_keep_the_repair_works_registry() {
    let h = Harness::new().await;
    let mine = h.sign_in("vodokanal", Role::Executor).await;
    let other = h.sign_in("oblenergo", Role::Executor).await;
    let olena = h.sign_in("olena", Role::Operator).await;
    let now = Utc::now();
    let hours = |n: i64| (now + chrono::TimeDelta::hours(n)).to_rfc3339();
    let work = |kind: &str, starts: Option<String>, ends: String| {
        json!({
            "kind": kind, "service": "water",
            "description": "Заміна засувки: немає холодної води",
            "starts_at": starts, "expected_end": ends,
            "addresses": [{"street": "вул. Соборна", "house": "10-20"}],
        })
    };
    let (status, body) = h
        .post(
            "/api/works",
            &mine,
            work("planned", Some(hours(20)), hours(28)),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "starts_at", "{body}");
    let (status, planned) = h
        .post(
            "/api/works",
            &mine,
            work("planned", Some(hours(30)), hours(38)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{planned}");
    assert_eq!(planned["in_progress"], false);
    let (status, emergency) = h
        .post("/api/works", &mine, work("emergency", None, hours(4)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{emergency}");
    assert_eq!(emergency["in_progress"], true);
    assert_eq!(emergency["executor"], "vodokanal");
    let (status, _) = h
        .post("/api/works", &olena, work("emergency", None, hours(4)))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only executors register works"
    );

    // The IVR's lookup by a caller's address finds the emergency.
    let found =
        h.db.repair_works_at("вул. Соборна, 12, кв. 5", Utc::now())
            .await
            .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id.to_string(), emergency["id"].as_str().unwrap());

    let (status, list) = h.get("/api/works", &olena).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["works"].as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list["works"][0]["yours"], false);

    let id = emergency["id"].as_str().unwrap();
    let (status, _) = h
        .post(&format!("/api/works/{id}/close"), &other, json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another organisation's work");
    let (status, body) = h
        .post(
            &format!("/api/works/{id}/extend"),
            &mine,
            json!({ "until": hours(2) }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "earlier: {body}");
    let (status, body) = h
        .post(
            &format!("/api/works/{id}/extend"),
            &mine,
            json!({ "until": hours(8) }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = h
        .post(&format!("/api/works/{id}/close"), &mine, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["ended_at"].is_string(), "{body}");
    let (_, list) = h.get("/api/works?mine=1", &mine).await;
    assert_eq!(
        list["works"].as_array().unwrap().len(),
        1,
        "the planned one: {list}"
    );
    let (status, _) = h.get("/api/works?mine=1", &olena).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// The OpenAPI document is served without a session, every `$ref` in it
/// names a schema it holds, and each operation has a summary, a group and
/// a success answer.
#[tokio::test]
async fn the_openapi_documents_are_whole() {
    let h = Harness::new().await;
    for (uri, least) in [("/api/openapi.json", 50), ("/open311/v2/openapi.json", 7)] {
        document_is_whole(&h, uri, least).await;
    }
}

async fn document_is_whole(h: &Harness, uri: &str, least: usize) {
    let (status, headers, doc) = h.call(Method::GET, uri, None, None).await;
    assert_eq!(status, StatusCode::OK, "{uri}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() >= least, "{uri}: {} references", refs.len());
    for r in &refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("a reference outside the schemas: {r}"));
        assert!(schemas.contains_key(name), "{r} names no schema");
    }
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = 0;
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let what = format!("{method} {path}");
            // A generated client names its methods after these.
            let id = op["operationId"].as_str().unwrap_or("");
            assert!(
                ids.insert(id.to_owned()),
                "{what}: operationId {id:?} twice"
            );
            assert!(
                !op["summary"].as_str().unwrap_or("").is_empty(),
                "{what}: no summary"
            );
            assert_eq!(
                op["tags"].as_array().map(Vec::len),
                Some(1),
                "{what}: one tag"
            );
            let answers = op["responses"].as_object().unwrap();
            assert!(
                answers.keys().any(|s| s.starts_with('2')),
                "{what}: no success"
            );
        }
    }
    assert!(operations >= least, "{uri}: {operations} operations");
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Every operation the document lists under `/api` is served, and wants a
/// session (the document says so): asked without one, each answers 401,
/// which only a route that exists, with that method, can.
#[tokio::test]
async fn every_documented_api_operation_exists_and_wants_a_session() {
    let h = Harness::new().await;
    let (_, _, doc) = h.call(Method::GET, "/api/openapi.json", None, None).await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            if path == "/api/session" && method == Method::POST {
                continue;
            }
            let security = &op["security"][0];
            assert!(security.get("session").is_some(), "{method} {path}: {op}");
            assert_eq!(
                security.get("csrf").is_some(),
                method != Method::GET,
                "{method} {path}"
            );
            // Path parameters: ids are UUIDs; the rest any text.
            let uri = path
                .split('/')
                .map(|part| match part {
                    "{id}" => "00000000-0000-4000-8000-000000000000",
                    p if p.starts_with('{') => "x",
                    p => p,
                })
                .collect::<Vec<_>>()
                .join("/");
            let (status, _, body) = h.call(method.clone(), &uri, None, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}: {body}");
            checked += 1;
        }
    }
    assert!(checked >= 45, "{checked} operations checked");
}

#[tokio::test]
async fn a_supervisor_changes_an_operators_state_with_a_reason_and_it_is_audited() {
    let h = Harness::new().await;
    let olena = h.sign_in("olena", Role::Operator).await;
    let sveta = h.sign_in("sveta", Role::Supervisor).await;
    let put = |who, body| h.put("/api/operators/olena/state", who, body);
    let (status, body) = put(&sveta, json!({"state": "logged_in"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Logging someone out, or pausing them, takes a reason.
    let (status, body) = put(&sveta, json!({"state": "logged_out"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = put(&sveta, json!({"state": "paused"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = put(&sveta, json!({"state": "paused", "reason": "Навчання"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["state"], &body["reason"]),
        (&json!("paused"), &json!("Навчання"))
    );
    // The operator's own change is theirs, not the audit log's.
    let (status, _) = put(&olena, json!({"state": "available"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = put(
        &sveta,
        json!({"state": "logged_out", "reason": "Кінець зміни"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let log =
        h.db.audit_log(Some("olena"), 10)
            .await
            .expect("the audit log");
    let seen: Vec<(&str, &str, Option<&str>)> = log
        .iter()
        .map(|e| {
            (
                e.actor_login.as_str(),
                e.action.as_str(),
                e.reason.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("sveta", "operator.state", Some("Кінець зміни")),
            ("sveta", "operator.state", Some("Навчання")),
            ("sveta", "operator.state", None),
        ],
        "newest first, the operator's own change not among them"
    );
    let out = &log[0];
    assert_eq!(out.actor_role, "supervisor");
    assert_eq!(
        out.before.as_deref(),
        Some(r#"{"reason":null,"state":"available"}"#)
    );
    assert_eq!(
        out.after.as_deref(),
        Some(r#"{"reason":null,"state":"logged_out"}"#)
    );
    assert_eq!(out.address, "192.0.2.10");

    // Today's figures: the supervisor's, not the operator's to read.
    let (status, body) = h.get("/api/operators/figures", &sveta).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let row = body["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["login"] == "olena")
        .expect("olena's figures");
    assert_eq!(row["answered"], 0);
    assert!(row["signed_in_ms"].as_u64().is_some(), "{row}");
    let (status, _) = h.get("/api/operators/figures", &olena).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = h
        .get(
            "/api/operators/figures?from=2026-12-05&to=2026-12-01",
            &sveta,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "to");
}

#[tokio::test]
async fn an_admin_adds_changes_disables_and_resets_users_and_every_step_is_audited() {
    let h = Harness::new().await;
    let root = h.sign_in("root", Role::Admin).await;
    let sveta = h.sign_in("sveta", Role::Supervisor).await;
    // Only admins.
    let (status, _) = h.get("/api/users", &sveta).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A message per wrong field, in Ukrainian, and nothing added.
    let (status, body) = h
        .post(
            "/api/users",
            &root,
            json!({"login": "Bad Login", "name": " ", "role": "boss", "password": "short", "email": "nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["login", "name", "role", "password", "email"]);
    let (status, body) = h
        .post(
            "/api/users",
            &root,
            json!({"login": "kovalenko", "name": "Коваленко", "role": "executor", "password": "dovgyi-parol"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "executor");

    let (status, body) = h
        .post(
            "/api/users",
            &root,
            json!({"login": "maria", "name": "Марія Бондар", "role": "supervisor",
                   "password": "dovgyi-parol", "email": "maria@example.ua"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (&body["role"], &body["email"]),
        (&json!("supervisor"), &json!("maria@example.ua"))
    );
    let (status, body) = h
        .post(
            "/api/users",
            &root,
            json!({"login": "maria", "name": "Інша", "role": "admin", "password": "dovgyi-parol"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "login");

    // She signs in; disabling her ends her session at once.
    let maria = h.sign_in_existing("maria", "dovgyi-parol").await;
    let (status, _) = h.get("/api/session", &maria).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = h
        .put(
            "/api/users/maria",
            &root,
            json!({"disabled": true, "reason": "звільнилася"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["disabled_at"].is_string());
    let (status, _) = h.get("/api/session", &maria).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // An admin does not lock themself out.
    let (status, body) = h
        .put("/api/users/root", &root, json!({"disabled": true}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Back, as an admin now, with a new password.
    let (status, body) = h
        .put(
            "/api/users/maria",
            &root,
            json!({"disabled": false, "role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = h
        .post(
            "/api/users/maria/password",
            &root,
            json!({"password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = h
        .post(
            "/api/users/maria/password",
            &root,
            json!({"password": "insha-dovga-fraza"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h
        .post(
            "/api/users/nobody/password",
            &root,
            json!({"password": "insha-dovga-fraza"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = h.get("/api/audit?target=maria", &root).await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["user.password", "user.update", "user.update", "user.add"],
        "newest first"
    );
    let disabled = &body["entries"][2];
    assert_eq!(disabled["reason"], "звільнилася");
    assert!(
        disabled["after"]
            .as_str()
            .unwrap()
            .contains(r#""disabled":true"#),
        "{disabled}"
    );
    assert!(
        !body.to_string().contains("dovgyi-parol") && !body.to_string().contains("insha-dovga"),
        "no password in the log"
    );
    let (status, _) = h.get("/api/audit", &sveta).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_supervisor_with_a_linked_softphone_listens_in_and_each_request_is_audited() {
    use crate::call::monitor::{MonitorRefusal, MonitorRequest};
    use crate::rtp::engine::MonitorMode;
    let h = Harness::new().await;
    let root = h.sign_in("root", Role::Admin).await;
    let olena = h.sign_in("olena", Role::Operator).await;
    let sveta = h.sign_in("sveta", Role::Supervisor).await;
    let call =
        CallId::from_uuid(stored_call(&h.db, "0611234567", "+380611234567", Utc::now()).await);
    h.calls.live.lock().unwrap().insert(call);
    let uri = format!("/api/calls/{call}/monitor");

    // Operators may not; a supervisor with no softphone is told to get one.
    let (status, _) = h.post(&uri, &olena, json!({"mode": "listen"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = h.post(&uri, &sveta, json!({"mode": "listen"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("софтфон"),
        "{body}"
    );

    // The admin links a softphone (an operator record in no queue) to her;
    // an executor cannot have one.
    let phone = NewOperator::new("sveta-phone", "1090", None, vec![], Utc::now());
    h.db.add_operator(&phone, PASSWORD, "hotline")
        .await
        .unwrap();
    let (status, body) = h
        .put("/api/users/sveta", &root, json!({"operator": "nobody"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "operator");
    let (status, body) = h
        .put(
            "/api/users/sveta",
            &root,
            json!({"operator": "sveta-phone"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["extension"], "1090");
    // Her console is still a supervisor's: the phone is not an operator to work as.
    let (_, session) = h.get("/api/session", &sveta).await;
    assert_eq!(session["operator"], Value::Null, "{session}");

    let (status, body) = h.post(&uri, &sveta, json!({"mode": "shout"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = h.post(&uri, &sveta, json!({"mode": "listen"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        (&body["extension"], &body["mode"]),
        (&json!("1090"), &json!("listen"))
    );
    let (status, body) = h.put(&uri, &sveta, json!({"mode": "whisper"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, monitors) = h.get("/api/calls/monitors", &sveta).await;
    assert_eq!(
        monitors["monitors"],
        json!([{"call": call.to_string(), "supervisor": "sveta", "state": "whisper"}])
    );
    let (status, _) = h.get("/api/calls/monitors", &olena).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The call's refusal comes back as it is.
    *h.calls.refuse_next.lock().unwrap() = Some(MonitorRefusal::NotYours { by: "sveta".into() });
    let (status, _) = h.delete(&uri, &root).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins do not listen in");
    let ivan = h.sign_in("ivan", Role::Supervisor).await;
    let (status, body) = h.delete(&uri, &ivan).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"].as_str().unwrap().contains("sveta"), "{body}");
    let (status, _) = h.delete(&uri, &sveta).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        h.calls
            .monitored
            .lock()
            .unwrap()
            .iter()
            .map(|(c, r)| (*c, r.clone()))
            .collect::<Vec<_>>(),
        [
            (
                call,
                MonitorRequest::Start {
                    supervisor: crate::call::monitor::Supervisor {
                        login: "sveta".into(),
                        extension: "1090".into()
                    },
                    mode: MonitorMode::Listen
                }
            ),
            (
                call,
                MonitorRequest::Mode {
                    by: "sveta".into(),
                    mode: MonitorMode::Whisper
                }
            ),
            (call, MonitorRequest::Stop { by: "sveta".into() }),
        ]
    );
    // A call not in progress.
    let other = format!("/api/calls/{}/monitor", CallId::random());
    let (status, _) = h.post(&other, &sveta, json!({"mode": "listen"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, audit) = h.get("/api/audit?limit=20", &root).await;
    let steps: Vec<String> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_login"] == "sveta")
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["after"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            "call.monitor.end -",
            r#"call.monitor.mode {"mode":"whisper"}"#,
            r#"call.monitor {"mode":"listen"}"#,
        ]
    );
}

#[tokio::test]
async fn an_admin_adds_changes_and_removes_operators_and_every_step_is_audited() {
    let h = Harness::new().await;
    let root = h.sign_in("root", Role::Admin).await;
    let sveta = h.sign_in("sveta", Role::Supervisor).await;
    let (status, _) = h.get("/api/admin/operators", &sveta).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins only");

    // Each wrong field named, nothing added; only configured queues.
    let (status, body) = h
        .post(
            "/api/admin/operators",
            &root,
            json!({"login": "Bad", "name": " ", "extension": "12a", "password": "short",
                   "queues": [{"queue": "nowhere", "penalty": 0}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["login", "name", "extension", "password", "queues"]);
    let ivan = json!({"login": "ivan", "name": "Іван", "extension": "1077",
                      "password": "dovgyi-parol", "queues": [{"queue": "general", "penalty": 2}]});
    let (status, body) = h.post("/api/admin/operators", &root, ivan.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["queues"], json!([{"queue": "general", "penalty": 2}]));
    let mut again = ivan.clone();
    again["login"] = json!("ivan2");
    let (status, body) = h.post("/api/admin/operators", &root, again).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "extension", "{body}");

    let (status, body) = h
        .put(
            "/api/admin/operators/ivan",
            &root,
            json!({"queues": [], "disabled": true, "reason": "звільнився"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["queues"], json!([]));
    assert!(body["disabled_at"].is_string(), "{body}");
    let (status, _) = h
        .put("/api/admin/operators/nobody", &root, json!({"name": "Х"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h
        .post(
            "/api/admin/operators/ivan/password",
            &root,
            json!({"password": "insha-dovga-fraza"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h.delete("/api/admin/operators/ivan", &root).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h.delete("/api/admin/operators/ivan", &root).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, audit) = h.get("/api/audit?target=ivan", &root).await;
    let steps: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "operator.remove",
            "operator.password",
            "operator.update",
            "operator.add"
        ]
    );
    let update = &audit["entries"][2];
    assert_eq!(update["reason"], "звільнився");
    assert!(
        update["before"].as_str().unwrap().contains("general:2")
            && update["after"]
                .as_str()
                .unwrap()
                .contains("\"disabled\":true"),
        "{update}"
    );
}

#[tokio::test]
async fn the_effective_configuration_is_for_admins_with_secrets_hidden() {
    let h = Harness::new().await;
    let root = h.sign_in("root", Role::Admin).await;
    let sveta = h.sign_in("sveta", Role::Supervisor).await;
    let (status, _) = h.get("/api/admin/config", &sveta).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = h.get("/api/admin/config", &root).await;
    assert_eq!(status, StatusCode::OK);
    let text = body["toml"].as_str().unwrap();
    // Every section, defaults included; the bot's token set but hidden.
    for section in [
        "[sip]",
        "[rtp]",
        "[http]",
        "[storage]",
        "[queues]",
        "[retention]",
        "[chatbot.telegram]",
    ] {
        assert!(text.contains(section), "{section} missing:\n{text}");
    }
    assert!(!text.contains("secret-token"), "{text}");
    assert!(text.contains(r#"token = "(hidden)""#), "{text}");
    // What the admin page reads parses back as settings.
    toml::from_str::<crate::config::Settings>(&text.replace("(hidden)", "x"))
        .expect("the effective configuration is a valid settings file");
}

#[tokio::test]
async fn a_supervisors_softphone_serves_no_queue() {
    let h = Harness::new().await;
    let root = h.sign_in("root", Role::Admin).await;
    h.sign_in("sveta", Role::Supervisor).await;
    let busy = NewOperator::new(
        "desk",
        "1091",
        None,
        vec![crate::store::QueueMembership::new("general", 0)],
        Utc::now(),
    );
    h.db.add_operator(&busy, PASSWORD, "hotline").await.unwrap();
    let (status, body) = h
        .put("/api/users/sveta", &root, json!({"operator": "desk"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "operator");
    let phone = NewOperator::new("sveta-phone", "1090", None, vec![], Utc::now());
    h.db.add_operator(&phone, PASSWORD, "hotline")
        .await
        .unwrap();
    let (status, body) = h
        .put(
            "/api/users/sveta",
            &root,
            json!({"operator": "sveta-phone"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Her phone is not put in a queue.
    let (status, body) = h
        .put(
            "/api/admin/operators/sveta-phone",
            &root,
            json!({"queues": [{"queue": "general", "penalty": 0}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "queues");
    let (status, _) = h
        .put(
            "/api/admin/operators/sveta-phone",
            &root,
            json!({"name": "Світланин софтфон"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}
