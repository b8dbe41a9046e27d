//! The console's websocket: the card pops up on the ringing operator's
//! console, keyed to the call, with the caller's earlier appeals and the
//! repair works at their address; nobody else gets it; a console that
//! reconnects gets the current call again. The client is tokio-tungstenite
//! (a browser test comes with the console page).

use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use hotline::store::{Role, demo};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::peers::baresip::{AnswerMode, Baresip, BaresipOptions, Registration};
use crate::{ApiSession, AppOptions, T, TestApp, spawn_app};

/// A console: its messages as they arrive, each with when.
struct Console {
    rx: mpsc::UnboundedReceiver<(chrono::DateTime<Utc>, Value)>,
}

impl Console {
    async fn open(app: &TestApp, session: &ApiSession) -> Console {
        let url = format!("ws://{}/ws", app.http_addr);
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "Cookie",
            format!("hotline_session={}", session.cookie)
                .parse()
                .unwrap(),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket opens");
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(message)) = ws.next().await {
                if let Ok(text) = message.to_text() {
                    if let Ok(v) = serde_json::from_str::<Value>(text) {
                        if tx.send((Utc::now(), v)).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = ws.close(None).await;
        });
        Console { rx }
    }

    /// The next message of this type (others are skipped).
    async fn next(&mut self, kind: &str) -> (chrono::DateTime<Utc>, Value) {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let (at, v) = self.rx.recv().await.expect("console open");
                if v["type"] == kind {
                    return (at, v);
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {kind} message"))
    }

    /// Every message that came, without waiting.
    fn drained(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Ok((_, v)) = self.rx.try_recv() {
            out.push(v);
        }
        out
    }
}

pub async fn operator_with_user(app: &TestApp, login: &str, ext: &str) -> ApiSession {
    app.add_operator(login, ext).await;
    app.sign_in_as(login, Role::Operator).await
}

pub async fn phone(app: &TestApp, ext: &str) -> Baresip {
    phone_answering(app, ext, AnswerMode::Manual).await
}

/// A softphone registered as `ext`, answering as `answer_mode` says.
pub async fn phone_answering(app: &TestApp, ext: &str, answer_mode: AnswerMode) -> Baresip {
    let mut p = Baresip::spawn(BaresipOptions {
        from_user: ext.into(),
        registration: Some(Registration {
            registrar: app.sip_addr.to_string(),
            user: ext.into(),
            password: Some("secret123".into()),
            expires: 300,
        }),
        answer_mode,
        ..Default::default()
    })
    .await
    .unwrap();
    p.wait_registered(T).await.unwrap();
    p
}

/// The operator's ringing phone is answered; the console's `call_answered`.
async fn answer(phone: &mut Baresip, console: &mut Console) -> (chrono::DateTime<Utc>, Value) {
    phone
        .wait_event(|e| e.is("CALL_INCOMING"), T)
        .await
        .unwrap();
    phone.accept().await.unwrap();
    phone.wait_established(T).await.unwrap();
    console.next("call_answered").await
}

/// The demo appeal's caller (0611234567) calls 1580 and presses 0.
pub async fn citizen_asks_for_an_operator(app: &TestApp) -> Baresip {
    let mut citizen = Baresip::spawn(BaresipOptions {
        from_user: "0611234567".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    citizen.dial(&app.uri("1580")).await.unwrap();
    citizen.wait_established(T).await.unwrap();
    // The greeting has started: keys barge in.
    tokio::time::sleep(Duration::from_millis(800)).await;
    citizen.send_dtmf("0").await.unwrap();
    citizen
}

#[tokio::test]
async fn the_card_pops_up_on_the_ringing_operators_console_only() {
    let app = spawn_app(AppOptions::default()).await;
    // The caller has an earlier appeal, and an outage is on at their address.
    demo::seed(app.store(), Utc::now()).await.unwrap();
    let olena_session = operator_with_user(&app, "olena", "1001").await;
    let petro_session = operator_with_user(&app, "petro", "1002").await;
    let supervisor = app.sign_in_as("sveta", Role::Supervisor).await;
    let mut olena_phone = phone(&app, "1001").await;
    // Petro is paused: only olena can be offered the call.
    let petro_phone = phone(&app, "1002").await;
    let (status, _) = app
        .api(
            "PUT",
            "/api/operators/petro/state",
            r#"{"state":"paused","reason":"training"}"#,
        )
        .await;
    assert_eq!(status, 200);

    let mut olena = Console::open(&app, &olena_session).await;
    let mut petro = Console::open(&app, &petro_session).await;
    let mut live = Console::open(&app, &supervisor).await;
    let (_, hello) = olena.next("hello").await;
    assert_eq!(hello["operator"], "olena");
    assert_eq!(hello["v"], 1);
    // Then where she stands, for her controls.
    let (_, own) = olena.next("operator_state").await;
    assert_eq!(own["state"], "available");

    let mut citizen = citizen_asks_for_an_operator(&app).await;

    let (_, offered) = olena.next("call_offered").await;
    let card = &offered["call"];
    assert_eq!(card["caller"], demo::CALLER);
    assert_eq!(card["queue"], "general");
    assert!(card["sip_call_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(card["waited_ms"].as_u64().is_some());
    let path = card["ivr_path"].as_array().unwrap();
    assert!(
        path.iter().any(|s| s == "main:operator-queue enter"),
        "{path:?}"
    );
    // The same steps in parts the page puts in words: a node's title from
    // the menu file, a queue node's from its queue.
    assert_eq!(card["queue_title"], "Загальна");
    let steps = card["ivr_steps"].as_array().unwrap();
    assert_eq!(steps.len(), path.len());
    assert_eq!(
        steps[0],
        json!({"node": "main:greeting", "title": "Привітання", "kind": "play", "what": "enter", "value": null})
    );
    let queued = steps
        .iter()
        .find(|s| s["node"] == "main:operator-queue")
        .expect("the queue step");
    assert_eq!(
        (&queued["title"], &queued["kind"], &queued["what"]),
        (&json!("Загальна"), &json!("queue"), &json!("enter"))
    );
    assert_eq!(
        card["earlier_appeals"][0]["registration_number"],
        demo::APPEAL_NUMBER
    );
    assert_eq!(card["repair_works"][0]["service"], "water");
    assert!(card["address"].as_str().is_some());
    let call_id = card["id"].as_str().unwrap().to_string();

    let (received_at, answered) = answer(&mut olena_phone, &mut olena).await;
    let (_, own) = olena.next("operator_state").await;
    assert_eq!(own["state"], "on_call");
    assert_eq!(answered["call"]["id"], call_id.as_str());
    // From the call task taking the operator's 200 OK (its stored
    // "operator-answered" step) to the message at the console.
    let call_uuid: uuid::Uuid = call_id.parse().unwrap();
    let took_200 = app.operator_answered_at(call_uuid).await;
    let latency = (received_at - took_200).num_microseconds().unwrap();
    eprintln!(
        "measured [console]: operator's 200 OK taken → call_answered at the console: {:.2} ms",
        latency as f64 / 1000.0
    );
    assert!(latency < 1_000_000, "{latency} µs");

    // A console opened now gets the current call at once.
    let mut again = Console::open(&app, &olena_session).await;
    again.next("hello").await;
    let (_, current) = again.next("call_answered").await;
    assert_eq!(current["call"]["id"], call_id.as_str());

    // "End call and block caller", pressed during the call: not petro's to
    // press, a reason is needed, then the call ends for both sides.
    let path = format!("/api/calls/{call_id}/block");
    let reason = r#"{"reason":"образи на адресу оператора"}"#;
    let r = crate::request(
        app.http_addr,
        "POST",
        &path,
        &petro_session.headers(),
        reason,
    )
    .await;
    assert_eq!(r.status, 403, "not petro's call");
    let r = crate::request(
        app.http_addr,
        "POST",
        &path,
        &olena_session.headers(),
        r#"{"reason":" "}"#,
    )
    .await;
    assert_eq!(r.status, 422);
    let r = crate::request(
        app.http_addr,
        "POST",
        &path,
        &olena_session.headers(),
        reason,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.contains("\"call_ended\":true"), "{}", r.body);
    citizen
        .wait_closed(T)
        .await
        .expect("the caller's call ends");
    olena_phone
        .wait_closed(T)
        .await
        .expect("the operator's leg ends");
    let blocked = app
        .store()
        .blocked_numbers(Utc::now(), false)
        .await
        .unwrap();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].number, demo::CALLER);
    assert_eq!(blocked[0].call_id, Some(call_id.parse().unwrap()));
    assert_eq!(blocked[0].blocked_by.as_deref(), Some("olena"));
    let (_, ended) = olena.next("call_ended").await;
    assert_eq!(ended["call_id"], call_id.as_str());

    // Petro's console saw nothing of it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let petros: Vec<Value> = petro.drained();
    assert!(
        petros
            .iter()
            .all(|m| m["type"] == "hello" || m["type"] == "operator_state"),
        "another operator's call reached petro: {petros:?}"
    );
    // Only his own state: paused, as set before the call.
    assert!(
        petros
            .iter()
            .filter(|m| m["type"] == "operator_state")
            .all(|m| m["state"] == "paused"),
        "{petros:?}"
    );
    // The supervisor's live view saw the queue steps.
    let steps: Vec<String> = live
        .drained()
        .iter()
        .filter(|m| m["type"] == "event")
        .map(|m| m["event"]["type"].as_str().unwrap_or("").to_string())
        .collect();
    for step in [
        "queue_joined",
        "operator_ringing",
        "queue_answered",
        "call_ended",
    ] {
        assert!(steps.iter().any(|s| s == step), "{step} missing: {steps:?}");
    }
    // Olena's own calls today.
    let r = crate::request(
        app.http_addr,
        "GET",
        "/api/my/calls",
        &olena_session.headers(),
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mine: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(mine["calls"][0]["id"], call_id.as_str());
    assert_eq!(mine["calls"][0]["caller"], demo::CALLER);
    for p in [olena_phone, petro_phone, citizen] {
        p.stop().await;
    }
}

#[tokio::test]
async fn the_websocket_needs_a_session_and_tells_an_executor_of_its_own_cards_only() {
    let app = spawn_app(AppOptions::default()).await;
    let url = format!("ws://{}/ws", app.http_addr);
    let refused = tokio_tungstenite::connect_async(url.clone()).await;
    assert!(refused.is_err(), "no session, no websocket");
    // Executor users are named after their organisation in these tests.
    let vodokanal = app.sign_in_as("vodokanal", Role::Executor).await;
    let oblenergo = app.sign_in_as("oblenergo", Role::Executor).await;
    let mut mine = Console::open(&app, &vodokanal).await;
    let mut theirs = Console::open(&app, &oblenergo).await;
    mine.next("hello").await;
    theirs.next("hello").await;
    // A card for the water utility, filed by a supervisor over the API.
    let supervisor = app.sign_in_as("sveta", Role::Supervisor).await;
    let filed = Utc::now();
    let number = crate::appeals::file_card_for(&app, &supervisor, "vodokanal").await;
    let (at, changed) = mine.next("card_changed").await;
    assert_eq!(changed["registration_number"], number.as_str(), "{changed}");
    assert_eq!(changed["step"], "registered");
    assert!(
        at - filed < chrono::TimeDelta::seconds(1),
        "within a second"
    );
    // The electricity company's console hears nothing of it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let heard = theirs.drained();
    assert!(
        heard.iter().all(|m| m["type"] != "card_changed"),
        "another executor is told nothing: {heard:?}"
    );
}

/// Screen-pop latency with 500 consoles connected (issue 7's bench, not
/// the test suite: `scripts/bench` runs it on a release build). Olena's
/// console and 499 other operators' consoles are open; ten citizens in
/// turn reach Olena, and each time the interval from the call task taking
/// her phone's 200 OK to `call_answered` at her console is measured.
#[tokio::test]
#[ignore = "a benchmark: scripts/bench runs it"]
async fn screen_pop_with_500_consoles_connected() {
    const CONSOLES: usize = 500;
    const CALLS: usize = 10;
    let app = spawn_app(AppOptions::default()).await;
    demo::seed(app.store(), Utc::now()).await.unwrap();
    let olena_session = operator_with_user(&app, "olena", "1001").await;
    let mut olena_phone = phone(&app, "1001").await;
    let mut olena = Console::open(&app, &olena_session).await;
    olena.next("hello").await;
    let mut others = Vec::new();
    for i in 1..CONSOLES {
        let login = format!("op{i:03}");
        let session = operator_with_user(&app, &login, &format!("{}", 2000 + i)).await;
        others.push(Console::open(&app, &session).await);
    }
    for console in &mut others {
        console.next("hello").await;
    }
    let mut latencies = screen_pops(&app, &mut olena_phone, &mut olena, &mut others, CALLS).await;
    latencies.sort_by(|a, b| a.total_cmp(b));
    eprintln!(
        "measured [screen-pop-500]: {CONSOLES} consoles, {CALLS} calls: p50 {:.2} ms, max {:.2} ms, all {:?}",
        latencies[CALLS / 2],
        latencies[CALLS - 1],
        latencies
    );
    assert_eq!(latencies.len(), CALLS);
}

/// `calls` citizens ask for an operator one after the other and olena
/// answers each: the screen-pop's latency of each, in ms (her console's
/// `call_answered` after the 200 on her leg). The other consoles are
/// drained as it goes.
async fn screen_pops(
    app: &TestApp,
    olena_phone: &mut Baresip,
    olena: &mut Console,
    others: &mut [Console],
    calls: usize,
) -> Vec<f64> {
    let mut latencies = Vec::new();
    for _ in 0..calls {
        let mut citizen = citizen_asks_for_an_operator(app).await;
        let (_, offered) = olena.next("call_offered").await;
        let call: uuid::Uuid = offered["call"]["id"].as_str().unwrap().parse().unwrap();
        let (received_at, answered) = answer(olena_phone, olena).await;
        assert_eq!(answered["call"]["id"], call.to_string());
        let took_200 = app.operator_answered_at(call).await;
        latencies.push((received_at - took_200).num_microseconds().unwrap() as f64 / 1000.0);
        citizen.hangup().await.unwrap();
        olena_phone.wait_closed(T).await.unwrap();
        citizen.stop().await;
        let (status, _) = app
            .api(
                "PUT",
                "/api/operators/olena/state",
                r#"{"state":"available"}"#,
            )
            .await;
        assert_eq!(status, 200);
        olena.next("operator_state").await;
        for console in others.iter_mut() {
            console.drained();
        }
    }
    latencies
}

/// Issue 21's load: a whole city signed in — 300 operators and 500
/// executors, each with the console's websocket open and fetching its list
/// as the pages do when something changes (an operator their calls of
/// today, an executor their organisation's new cards), spread so that every
/// client asks once every 10 s — while calls come in and pop up on one
/// operator's screen. Measures every API request's time (p50, p99, max)
/// and the screen-pop latency under that load.
#[tokio::test]
#[ignore = "a benchmark: scripts/bench runs it"]
async fn a_whole_city_signed_in_300_operators_and_500_executors() {
    const OPERATORS: usize = 300;
    const EXECUTORS: usize = 500;
    const CALLS: usize = 10;
    const EVERY: Duration = Duration::from_secs(10);
    let app = spawn_app(AppOptions::default()).await;
    demo::seed(app.store(), Utc::now()).await.unwrap();
    let classifier = hotline::appeal::classifier::Classifier::load(
        &crate::repo().join(hotline::appeal::classifier::DEFAULT_PATH),
    )
    .unwrap();
    if app
        .store()
        .current_classifier_version()
        .await
        .unwrap()
        .is_none()
    {
        app.store()
            .import_classifier(&classifier, "zaporizhzhia.toml", Utc::now())
            .await
            .unwrap();
    }
    let olena_session = operator_with_user(&app, "olena", "1001").await;
    let mut olena_phone = phone(&app, "1001").await;
    let mut olena = Console::open(&app, &olena_session).await;
    olena.next("hello").await;

    let started = std::time::Instant::now();
    // Who signs in, and the list each fetches.
    let mut clients: Vec<(ApiSession, &'static str)> = Vec::new();
    for i in 1..OPERATORS {
        let login = format!("op{i:03}");
        let session = operator_with_user(&app, &login, &format!("{}", 2000 + i)).await;
        clients.push((session, "/api/my/calls"));
    }
    for i in 0..EXECUTORS {
        let login = format!("ex{i:03}");
        let user = hotline::store::NewUser {
            login: login.clone(),
            display_name: login.clone(),
            role: Role::Executor,
            operator_login: None,
            executor: Some("vodokanal".into()),
            head: false,
        };
        app.store()
            .add_user(&user, "test-password", Utc::now())
            .await
            .unwrap();
        let session = crate::sign_in(app.http_addr, &login, "test-password")
            .await
            .unwrap();
        clients.push((session, "/api/inbox?tab=new"));
    }
    eprintln!(
        "measured [city-load]: {} users signed in in {:.0} s",
        clients.len() + 1,
        started.elapsed().as_secs_f64()
    );
    let mut consoles = Vec::new();
    for (session, _) in &clients {
        consoles.push(Console::open(&app, session).await);
    }
    for console in &mut consoles {
        console.next("hello").await;
    }

    // Every client fetches its list once every EVERY, spread over it.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let times = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(f64, u16)>::new()));
    let n = clients.len();
    let mut pollers = Vec::new();
    for (i, (session, path)) in clients.into_iter().enumerate() {
        let (stop, times, addr) = (stop.clone(), times.clone(), app.http_addr);
        pollers.push(tokio::spawn(async move {
            tokio::time::sleep(EVERY * i as u32 / n as u32).await;
            let mut tick = tokio::time::interval(EVERY);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                let at = std::time::Instant::now();
                let r = crate::request(addr, "GET", path, &session.headers(), "").await;
                let ms = at.elapsed().as_secs_f64() * 1000.0;
                times.lock().unwrap().push((ms, r.status));
            }
        }));
    }
    // One period for every client to be polling, then calls.
    tokio::time::sleep(EVERY).await;
    let mut pops = screen_pops(&app, &mut olena_phone, &mut olena, &mut consoles, CALLS).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for p in pollers {
        let _ = p.await;
    }
    let times = times.lock().unwrap().clone();
    let failed = times.iter().filter(|(_, s)| *s != 200).count();
    let mut ms: Vec<f64> = times.iter().map(|(t, _)| *t).collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms[((ms.len() as f64 * q) as usize).min(ms.len() - 1)];
    pops.sort_by(|a, b| a.total_cmp(b));
    eprintln!(
        "measured [city-load]: {} clients, {} API requests ({failed} not 200): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; screen-pop over {CALLS} calls: p50 {:.2} ms, max {:.2} ms",
        n,
        ms.len(),
        at(0.5),
        at(0.99),
        ms[ms.len() - 1],
        pops[CALLS / 2],
        pops[CALLS - 1],
    );
    assert_eq!(failed, 0);
    assert!(at(0.99) <= 50.0, "API p99 {:.1} ms", at(0.99));
}
