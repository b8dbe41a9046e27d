//! The HTTP API's JSON bodies: any bytes as the body of every route that
//! takes one, sent anonymously or by any role, through the whole router
//! over a real SQLite database (`hotline::api::testing`). Each input gets a
//! freshly registered card and a fresh call, so a sequence of requests can
//! take the card through its life. No panic; never a 5xx; every refusal is
//! JSON that says what is wrong: an `error`, or a form's `errors` field by
//! field.
#![no_main]

use std::sync::OnceLock;

use axum::http::{Method, StatusCode};
use chrono::Utc;
use hotline::api::testing::{Signed, TestApi};
use hotline::store::Role;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

struct World {
    runtime: tokio::runtime::Runtime,
    api: TestApi,
    /// Anonymous, then an operator, a supervisor, the card's executor's
    /// user and an admin.
    people: Vec<Option<Signed>>,
    /// A card as an operator files it, for a new card per input.
    card: Value,
}

/// Every route with a JSON body: its method and path, `{n}` the input's
/// card, `{call}` its call.
const ROUTES: [(&str, &str); 9] = [
    ("POST", "/api/session"),
    ("POST", "/api/appeals"),
    ("POST", "/api/appeals/{n}/actions"),
    ("POST", "/api/appeals/{n}/calls"),
    ("POST", "/api/blocked"),
    ("POST", "/api/calls/{call}/block"),
    ("POST", "/api/appeals/{n}/hold"),
    ("PUT", "/api/operators/olena/state"),
    ("POST", "/api/recordings/{call}/hold"),
];

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        // The sample classifier and configuration are read from the package root.
        std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (api, people, card) = runtime.block_on(async {
            let api = TestApi::new().await;
            let category =
                hotline::store::testing::sample_category(&api.db, "sample", Utc::now()).await;
            let sample = hotline::store::testing::sample_appeal(category);
            let card = json!({
                "surname": sample.surname, "first_name": sample.first_name,
                "patronymic": sample.patronymic, "address": sample.address,
                "contact_phone": sample.contact_phone, "essence": sample.essence,
                "category_id": category,
            });
            let sveta = api.sign_in("sveta", Role::Supervisor).await;
            let (status, _, filed) = api
                .call(
                    Method::POST,
                    "/api/appeals",
                    Some(&sveta),
                    Some(card.clone()),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{filed}");
            let executor = filed["executor"].as_str().unwrap().to_owned();
            let people = vec![
                None,
                Some(api.sign_in("olena", Role::Operator).await),
                Some(sveta),
                Some(api.sign_in(&executor, Role::Executor).await),
                Some(api.sign_in("admin", Role::Admin).await),
            ];
            (api, people, card)
        });
        World {
            runtime,
            api,
            people,
            card,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    world.runtime.block_on(async {
        let api = &world.api;
        let operator = world.people[1].as_ref();
        let (status, _, filed) = api
            .call(
                Method::POST,
                "/api/appeals",
                operator,
                Some(world.card.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{filed}");
        let number = filed["registration_number"].as_str().unwrap().to_owned();
        let call = hotline::store::testing::stored_call(
            &api.db,
            "0611234567",
            "+380611234567",
            Utc::now(),
        )
        .await;
        // Requests separated by 0xFF (never in UTF-8 JSON); the first byte
        // of each: the route, and who sends it.
        for chunk in data.split(|b| *b == 0xff).filter(|c| !c.is_empty()).take(8) {
            let (how, body) = (chunk[0], &chunk[1..]);
            let (method, path) = ROUTES[usize::from(how & 0x0f) % ROUTES.len()];
            let who = world.people[usize::from(how >> 4) % world.people.len()].as_ref();
            let uri = path
                .replace("{n}", &number)
                .replace("{call}", &call.to_string());
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let (status, _, answer) = api.call_raw(method, &uri, who, Some(body.to_vec())).await;
            assert!(
                !status.is_server_error(),
                "{uri}: {status} {answer} for {:?}",
                String::from_utf8_lossy(body)
            );
            if status.is_client_error() {
                // One error, or a form's errors field by field.
                let error = answer["error"].as_str().unwrap_or_default();
                let fields = answer["errors"].as_array().is_some_and(|errors| {
                    !errors.is_empty()
                        && errors.iter().all(|e| {
                            e["field"].as_str().is_some_and(|f| !f.is_empty())
                                && e["message"].as_str().is_some_and(|m| !m.is_empty())
                        })
                });
                assert!(
                    !error.trim().is_empty() || fields,
                    "{uri}: {status} says what is wrong in JSON: {answer}"
                );
            }
        }
    });
});
