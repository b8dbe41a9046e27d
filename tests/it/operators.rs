//! Operators over real calls: baresip softphones register as operators
//! (digest auth) and answer; another baresip calls in, walks the IVR to a
//! queue and is bridged. Audio is checked by decoding what each side
//! received and the stereo recording; queue steps by the stored events.

use std::time::Duration;

use chrono::Utc;
use hotline::media::analysis::tone_fraction;
use hotline::store::QueueEventKind;
use hotline::store::operators::{DEFAULT_REALM, NewOperator, QueueMembership};

use crate::peers::baresip::{AnswerMode, Baresip, BaresipOptions, Registration, tone_ratio};
use crate::{AppOptions, Backend, T, TestApp, eventually, read_stereo, spawn_app};

const CALLER_HZ: u32 = 440;
const OLENA_HZ: u32 = 1000;
const PETRO_HZ: u32 = 1400;

/// Queues for tests: short ring time, retry and announcements.
fn queues(ring_timeout: u32, announce: u32) -> String {
    let queue = |name: &str, weight: u32| {
        format!(
            r#"
[[queue]]
name = "{name}"
strategy = "longest-idle"
timeout = {ring_timeout}
retry = 1
wrapuptime = 0
maxlen = 0
announce-frequency = {announce}
announce-position = "yes"
servicelevel = 20
joinempty = "yes"
weight = {weight}
"#
        )
    };
    ["general", "housing", "roads"]
        .iter()
        .map(|q| queue(q, 0))
        .chain([queue("emergency", 10)])
        .collect()
}

/// The server with the test queues.
async fn queue_app(ring_timeout: u32, announce: u32) -> TestApp {
    queue_app_on(Backend::Sqlite, ring_timeout, announce).await
}

async fn queue_app_on(backend: Backend, ring_timeout: u32, announce: u32) -> TestApp {
    spawn_app(AppOptions {
        backend,
        queues: Some(queues(ring_timeout, announce)),
        ..Default::default()
    })
    .await
}

async fn add_operator(app: &TestApp, login: &str, ext: &str, queues: &[&str]) {
    let op = NewOperator::new(
        login,
        ext,
        Some(login),
        queues.iter().map(|q| QueueMembership::new(q, 0)).collect(),
        Utc::now(),
    );
    app.store()
        .add_operator(&op, "secret123", DEFAULT_REALM)
        .await
        .unwrap();
}

/// An operator's softphone, registered; returns once the registration
/// has logged the operator in.
async fn operator_phone(
    app: &TestApp,
    login: &str,
    ext: &str,
    tone: u32,
    mode: AnswerMode,
) -> Baresip {
    let phone = softphone(app, ext, tone, mode).await;
    wait_state(app, login, "available").await;
    phone
}

/// An operator's softphone: registers, answers by itself (or not), and
/// sends a tone.
async fn softphone(app: &TestApp, ext: &str, tone: u32, mode: AnswerMode) -> Baresip {
    let mut phone = Baresip::spawn(BaresipOptions {
        from_user: ext.into(),
        registration: Some(Registration {
            registrar: app.sip_addr.to_string(),
            user: ext.into(),
            password: Some("secret123".into()),
            expires: 300,
        }),
        answer_mode: mode,
        tone_hz: Some(tone),
        ..Default::default()
    })
    .await
    .expect("baresip starts");
    phone.wait_registered(T).await.expect("registered");
    phone
}

async fn caller(number: &str) -> Baresip {
    Baresip::spawn(BaresipOptions {
        from_user: number.into(),
        tone_hz: Some(CALLER_HZ),
        ..Default::default()
    })
    .await
    .expect("baresip starts")
}

/// Dials 1580 and presses `key` in the greeting (1 = emergency queue, 0 =
/// general).
async fn call_into_queue(app: &TestApp, phone: &mut Baresip, key: &str) {
    phone.dial(&app.uri("1580")).await.unwrap();
    phone.wait_established(T).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    phone.send_dtmf(key).await.unwrap();
}

/// Waits until the operator is in this state (as the API shows it).
async fn wait_state(app: &TestApp, login: &str, state: &str) {
    let found = eventually(T, || async {
        let (_, body) = app.api("GET", "/api/operators", "").await;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["operators"]
            .as_array()?
            .iter()
            .any(|o| o["login"] == login && o["state"] == state)
            .then_some(())
    })
    .await;
    assert!(found.is_some(), "{login} never became {state}");
}

async fn set_state(app: &TestApp, login: &str, body: &str) -> (u16, String) {
    app.api("PUT", &format!("/api/operators/{login}/state"), body)
        .await
}

async fn queue_stats(app: &TestApp, queue: &str) -> serde_json::Value {
    let (status, body) = app.api("GET", "/api/queues", "").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == queue)
        .cloned()
        .unwrap()
}

/// The kinds of the call's stored queue steps, in order.
async fn queue_kinds(app: &TestApp, call: uuid::Uuid) -> Vec<QueueEventKind> {
    app.store()
        .queue_events_for_call(call)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect()
}

fn share(samples: &[i16], hz: u32) -> f64 {
    tone_fraction(samples, f64::from(hz), 8000)
}

#[tokio::test]
async fn queued_caller_reaches_the_longest_idle_operator_and_both_are_heard() {
    longest_idle_operator_takes_the_call(Backend::Sqlite).await;
}

#[tokio::test]
async fn queued_caller_reaches_the_longest_idle_operator_on_postgres() {
    longest_idle_operator_takes_the_call(Backend::Postgres).await;
}

/// Two softphones registered as operators, a third calling in through the
/// IVR: the longest-idle operator takes the call, both are heard, the
/// stereo recording has both voices, the queue's figures count it.
async fn longest_idle_operator_takes_the_call(backend: Backend) {
    let app = queue_app_on(backend, 15, 0).await;
    add_operator(&app, "olena", "1001", &["general"]).await;
    add_operator(&app, "petro", "1002", &["general"]).await;
    // Olena's phone registers first: she has been idle longest.
    let mut olena = operator_phone(&app, "olena", "1001", OLENA_HZ, AnswerMode::Auto).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let petro = operator_phone(&app, "petro", "1002", PETRO_HZ, AnswerMode::Auto).await;

    let mut stream = app.events.subscribe();
    let mut citizen = caller("0501112233").await;
    call_into_queue(&app, &mut citizen, "0").await;
    let answered = olena
        .wait_established(Duration::from_secs(20))
        .await
        .expect("olena answers");
    assert!(
        answered
            .peer_uri
            .as_deref()
            .unwrap_or("")
            .contains("+380501112233"),
        "the operator's phone shows the caller: {answered:?}"
    );
    wait_state(&app, "olena", "on_call").await;
    // They talk.
    tokio::time::sleep(Duration::from_secs(3)).await;
    citizen.hangup().await.unwrap();
    olena
        .wait_closed(T)
        .await
        .expect("the operator's leg ends too");
    wait_state(&app, "olena", "available").await;
    assert!(
        !petro.history().iter().any(|e| e.is("CALL_INCOMING")),
        "petro's phone never rang"
    );

    // Each side heard the other.
    let heard_by_operator = tone_ratio(
        &olena.received_audio().await.unwrap(),
        CALLER_HZ as f32,
        Duration::from_millis(500),
    )
    .unwrap();
    eprintln!("measured [operators]: caller's tone at the operator: {heard_by_operator:.3}");
    assert!(heard_by_operator > 0.8, "{heard_by_operator}");
    let (samples, _) =
        crate::peers::baresip::read_wav_mono(&citizen.received_audio().await.unwrap()).unwrap();
    let tail: Vec<i16> = samples[samples.len().saturating_sub(16000)..]
        .iter()
        .map(|s| (s * 32767.0) as i16)
        .collect();
    let heard_by_caller = share(&tail, OLENA_HZ);
    eprintln!(
        "measured [operators]: operator's tone at the caller (last 2 s): {heard_by_caller:.3}"
    );
    assert!(heard_by_caller > 0.8, "{heard_by_caller}");

    // One stereo file from the answer: IVR, wait, conversation.
    let call = crate::ended_call(&app).await;
    let recs = app.store().recordings_for_call(call.id).await.unwrap();
    assert_eq!(recs.len(), 1);
    let (spec, left, right) = read_stereo(&app.recordings.path().join(&recs[0].path));
    assert_eq!((spec.channels, spec.sample_rate), (2, 8000));
    let last = |x: &[i16]| x[x.len() - 16000..x.len() - 4000].to_vec();
    let (l, r) = (
        share(&last(&left), CALLER_HZ),
        share(&last(&right), OLENA_HZ),
    );
    eprintln!(
        "measured [operators]: recording: caller tone in left {l:.3}, operator tone in right {r:.3}"
    );
    assert!(l > 0.8 && r > 0.8, "left {l}, right {r}");
    assert!(
        share(&last(&left), OLENA_HZ) < 0.05,
        "the operator is not in the left channel"
    );
    // The IVR is at the start of the right channel.
    assert!(share(&right[..8000], OLENA_HZ) < 0.05);

    let events = app.store().queue_events_for_call(call.id).await.unwrap();
    let kinds: Vec<QueueEventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            QueueEventKind::Joined,
            QueueEventKind::Ringing,
            QueueEventKind::Answered
        ]
    );
    let stats = queue_stats(&app, "general").await;
    assert_eq!(stats["answered"], 1);
    assert_eq!(stats["waiting"], 0);

    // The live stream told every step, in order.
    let mut seen = Vec::new();
    while let Ok(published) = stream.try_recv() {
        let json = serde_json::to_value(&published).unwrap();
        let what = match json["type"].as_str().unwrap() {
            "operator_state" => format!("{} {}", json["operator"], json["state"]),
            other => other.to_string(),
        };
        seen.push(what.replace('"', ""));
    }
    // (The call task and the queue service publish the last two
    // independently: either may come first.)
    let (steps, ending) = seen.split_at(seen.len().min(6));
    assert_eq!(
        steps,
        [
            "call_started",
            "queue_joined",
            "operator_ringing",
            "olena ringing",
            "queue_answered",
            "olena on_call",
        ],
        "{seen:?}"
    );
    let mut ending = ending.to_vec();
    ending.sort();
    assert_eq!(ending, ["call_ended", "olena available"], "{seen:?}");
    for p in [olena, petro, citizen] {
        p.stop().await;
    }
}

#[tokio::test]
async fn waiting_caller_hears_position_and_wait_then_is_answered() {
    let app = queue_app(15, 10).await;
    add_operator(&app, "olena", "1001", &["general"]).await;
    let mut olena = operator_phone(&app, "olena", "1001", OLENA_HZ, AnswerMode::Auto).await;
    let (status, body) = set_state(&app, "olena", r#"{"state":"paused","reason":"break"}"#).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = set_state(&app, "olena", r#"{"state":"paused"}"#).await;
    assert_eq!(status, 422, "a pause needs a reason: {body}");
    let (status, _) = set_state(&app, "nobody", r#"{"state":"available"}"#).await;
    assert_eq!(status, 404);

    let mut citizen = caller("0501112233").await;
    call_into_queue(&app, &mut citizen, "0").await;
    // Waits through an announcement (every 10 s, the shortest allowed).
    let store = app.store();
    let id = eventually(T, || async {
        Some(store.list_calls(1).await.ok()?.first()?.id)
    })
    .await
    .unwrap();
    let announced = eventually(Duration::from_secs(20), || async {
        let events = store.call_events(id).await.ok()?;
        events
            .iter()
            .any(|e| e.kind == "queue-announce")
            .then_some(())
    })
    .await;
    assert!(announced.is_some(), "no announcement in 20 s");
    // Let it be said to the end.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let stats = queue_stats(&app, "general").await;
    assert_eq!(stats["waiting"], 1, "{stats}");
    let longest = stats["longest_wait_ms"].as_u64().unwrap();
    assert!(longest >= 10_000, "{stats}");
    // The live view's snapshot: the caller in line, and for how long.
    let (status, body) = app.api("GET", "/api/live", "").await;
    assert_eq!(status, 200, "{body}");
    let live: serde_json::Value = serde_json::from_str(&body).unwrap();
    let general = live["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "general")
        .unwrap();
    assert_eq!(general["callers"][0]["call"], id.to_string(), "{live}");
    assert!(general["callers"][0]["waited_ms"].as_u64().unwrap() >= 10_000);
    assert_eq!(
        general["longest_wait_ms"],
        general["callers"][0]["waited_ms"]
    );
    let (status, body) = set_state(&app, "olena", r#"{"state":"available"}"#).await;
    assert_eq!(status, 200, "{body}");
    olena.wait_established(T).await.expect("olena answers");
    tokio::time::sleep(Duration::from_secs(1)).await;
    olena.hangup().await.unwrap();
    citizen
        .wait_closed(T)
        .await
        .expect("the operator's hang-up ends the caller's call");

    let call = crate::ended_call(&app).await;
    assert_eq!(call.ended_by.map(|e| e.as_str()), Some("operator"));
    let events = app.store().call_events(call.id).await.unwrap();
    let announcements: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "queue-announce")
        .collect();
    assert!(!announcements.is_empty(), "{events:?}");
    assert!(
        announcements[0].detail.contains("position 1"),
        "{announcements:?}"
    );
    let answered = app
        .store()
        .queue_events_for_call(call.id)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == QueueEventKind::Answered)
        .expect("answered");
    eprintln!(
        "measured [operators]: waited {} ms before the operator answered",
        answered.wait_ms.unwrap()
    );
    assert!(answered.wait_ms.unwrap() >= longest);
    // The caller heard it: "your place in the queue".
    let recs = app.store().recordings_for_call(call.id).await.unwrap();
    let (_, _, right) = read_stereo(&app.recordings.path().join(&recs[0].path));
    let (at, corr) =
        hotline::media::analysis::best_alignment(&right, &crate::prompt("queue/position")).unwrap();
    eprintln!(
        "measured [operators]: announcement in the recording at {:.1} s, correlation {corr:.3}",
        at as f64 / 8000.0
    );
    assert!(corr > 0.9, "{corr}");
    // The state history: available, paused (break), available, ringing,
    // on call, available.
    let op = app
        .store()
        .operator_by_login("olena")
        .await
        .unwrap()
        .unwrap();
    let history: Vec<String> = app
        .store()
        .operator_state_history(op.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| {
            format!(
                "{}{}",
                c.state.as_str(),
                c.reason.map(|r| format!(":{r}")).unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            "available",
            "paused:break",
            "available",
            "ringing",
            "on_call",
            "available"
        ]
    );
    olena.stop().await;
    citizen.stop().await;
}

#[tokio::test]
async fn an_unanswered_phone_passes_the_call_on_and_two_misses_pause_the_operator() {
    let app = queue_app(3, 0).await;
    add_operator(&app, "olena", "1001", &["general"]).await;
    add_operator(&app, "petro", "1002", &["general"]).await;
    // Olena is longest idle, but her phone only rings.
    let mut olena = operator_phone(&app, "olena", "1001", OLENA_HZ, AnswerMode::Manual).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut petro = operator_phone(&app, "petro", "1002", PETRO_HZ, AnswerMode::Auto).await;

    let mut citizen = caller("0501112233").await;
    call_into_queue(&app, &mut citizen, "0").await;
    olena
        .wait_event(|e| e.is("CALL_INCOMING"), Duration::from_secs(15))
        .await
        .expect("olena's phone rings first");
    let rang_at = std::time::Instant::now();
    let closed = olena.wait_closed(T).await.unwrap();
    let rang = rang_at.elapsed();
    eprintln!("measured [operators]: olena's phone rang {rang:?} (timeout 3 s)");
    assert!(
        rang >= Duration::from_millis(2500) && rang < Duration::from_secs(5),
        "{rang:?} {closed:?}"
    );
    petro
        .wait_established(T)
        .await
        .expect("petro answers after the timeout");
    // A second caller while petro talks: olena's phone rings again, and
    // again nobody answers it: two misses in a row pause her.
    let mut second = caller("0502220000").await;
    call_into_queue(&app, &mut second, "0").await;
    olena
        .wait_event(|e| e.is("CALL_INCOMING"), Duration::from_secs(15))
        .await
        .expect("olena's phone rings for the second caller");
    olena.wait_closed(T).await.unwrap();
    wait_state(&app, "olena", "paused").await;
    let (_, body) = app.api("GET", "/api/operators", "").await;
    assert!(body.contains("\"reason\":\"no answer\""), "{body}");
    second.hangup().await.unwrap();
    second.stop().await;

    tokio::time::sleep(Duration::from_secs(1)).await;
    citizen.hangup().await.unwrap();
    petro.wait_closed(T).await.unwrap();

    let call = app
        .store()
        .list_calls(10)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.caller_e164.as_deref() == Some("+380501112233"))
        .unwrap();
    let kinds = queue_kinds(&app, call.id).await;
    assert_eq!(
        kinds,
        [
            QueueEventKind::Joined,
            QueueEventKind::Ringing,
            QueueEventKind::Ringing,
            QueueEventKind::Answered
        ]
    );
    for p in [olena, petro, citizen] {
        p.stop().await;
    }
}

#[tokio::test]
async fn a_caller_who_hangs_up_while_queued_is_counted_abandoned() {
    let app = queue_app(15, 0).await;
    // Nobody logged in; the general queue takes callers anyway (joinempty).
    let mut citizen = caller("0501112233").await;
    call_into_queue(&app, &mut citizen, "0").await;
    let waiting = eventually(T, || async {
        let s = queue_stats(&app, "general").await;
        (s["waiting"] == 1).then_some(())
    })
    .await;
    assert!(waiting.is_some(), "the caller waits");
    tokio::time::sleep(Duration::from_secs(2)).await;
    citizen.hangup().await.unwrap();
    let call = crate::ended_call(&app).await;
    let abandoned = eventually(T, || async {
        app.store()
            .queue_events_for_call(call.id)
            .await
            .ok()?
            .into_iter()
            .find(|e| e.kind == QueueEventKind::Abandoned)
    })
    .await
    .expect("abandoned is stored");
    eprintln!(
        "measured [operators]: abandoned after {} ms in the queue",
        abandoned.wait_ms.unwrap()
    );
    assert!(abandoned.wait_ms.unwrap() >= 2000);
    let stats = queue_stats(&app, "general").await;
    assert_eq!(stats["waiting"], 0, "{stats}");
    assert_eq!(stats["abandoned"], 1, "{stats}");
    assert_eq!(stats["service_level_pct"], 0.0, "{stats}");
    citizen.stop().await;
}

#[tokio::test]
async fn the_emergency_queue_is_served_first() {
    let app = queue_app(15, 0).await;
    add_operator(&app, "olena", "1001", &["general", "emergency"]).await;
    let mut olena = operator_phone(&app, "olena", "1001", OLENA_HZ, AnswerMode::Auto).await;
    set_state(&app, "olena", r#"{"state":"paused","reason":"meeting"}"#).await;

    // The general caller arrives first, the emergency caller second.
    let mut general = caller("0501110000").await;
    call_into_queue(&app, &mut general, "0").await;
    let mut emergency = caller("0502220000").await;
    call_into_queue(&app, &mut emergency, "1").await;
    let both = eventually(Duration::from_secs(20), || async {
        let (g, e) = (
            queue_stats(&app, "general").await,
            queue_stats(&app, "emergency").await,
        );
        (g["waiting"] == 1 && e["waiting"] == 1).then_some(())
    })
    .await;
    assert!(both.is_some(), "both callers wait");

    set_state(&app, "olena", r#"{"state":"available"}"#).await;
    let answered = olena.wait_established(T).await.unwrap();
    assert!(
        answered
            .peer_uri
            .as_deref()
            .unwrap_or("")
            .contains("+380502220000"),
        "the emergency caller is taken first: {answered:?}"
    );
    let general_stats = queue_stats(&app, "general").await;
    assert_eq!(
        general_stats["waiting"], 1,
        "the general caller still waits"
    );
    for p in [olena, general, emergency] {
        p.stop().await;
    }
}

#[tokio::test]
async fn operators_transfer_the_caller_to_a_queue_and_to_an_extension() {
    let app = queue_app(15, 0).await;
    add_operator(&app, "olena", "1001", &["general"]).await;
    add_operator(&app, "petro", "1002", &["emergency"]).await;
    let mut olena = operator_phone(&app, "olena", "1001", OLENA_HZ, AnswerMode::Auto).await;
    let mut petro = operator_phone(&app, "petro", "1002", PETRO_HZ, AnswerMode::Auto).await;

    let mut citizen = caller("0501112233").await;
    call_into_queue(&app, &mut citizen, "0").await;
    olena
        .wait_established(Duration::from_secs(20))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Blind transfer from the operator's phone (REFER).
    olena
        .command("transfer", Some(&app.uri("emergency")))
        .await
        .expect("baresip transfers");
    olena
        .wait_closed(T)
        .await
        .expect("the transferring phone leaves the call");
    petro
        .wait_established(T)
        .await
        .expect("the emergency operator answers");
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Petro hands the caller back to Olena's extension.
    petro
        .command("transfer", Some(&app.uri("1001")))
        .await
        .expect("baresip transfers");
    petro.wait_closed(T).await.unwrap();
    olena
        .wait_established(T)
        .await
        .expect("olena answers the transferred caller");
    tokio::time::sleep(Duration::from_secs(2)).await;
    citizen.hangup().await.unwrap();
    olena.wait_closed(T).await.unwrap();

    let call = crate::ended_call(&app).await;
    let steps: Vec<(String, QueueEventKind)> = app
        .store()
        .queue_events_for_call(call.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.queue, e.kind))
        .collect();
    use QueueEventKind::*;
    let expected: Vec<(String, QueueEventKind)> = [
        ("general", Joined),
        ("general", Ringing),
        ("general", Answered),
        ("general", Transferred),
        ("emergency", Joined),
        ("emergency", Ringing),
        ("emergency", Answered),
        ("emergency", Transferred),
        ("emergency", Joined),
        ("emergency", Ringing),
        ("emergency", Answered),
    ]
    .into_iter()
    .map(|(q, k)| (q.to_string(), k))
    .collect();
    assert_eq!(steps, expected);
    // Still one recording, ending with olena's voice again.
    let recs = app.store().recordings_for_call(call.id).await.unwrap();
    assert_eq!(recs.len(), 1);
    let (_, left, right) = read_stereo(&app.recordings.path().join(&recs[0].path));
    let last = &right[right.len() - 12000..right.len() - 4000];
    let o = share(last, OLENA_HZ);
    eprintln!(
        "measured [operators]: after two transfers, olena's tone in the right channel {o:.3}"
    );
    assert!(o > 0.8, "{o}");
    assert!(share(&left[left.len() - 12000..left.len() - 4000], CALLER_HZ) > 0.8);
    // Petro's part is in the middle.
    let petro_heard = right
        .chunks(8000)
        .filter(|c| c.len() == 8000 && share(c, PETRO_HZ) > 0.8)
        .count();
    assert!(
        petro_heard >= 1,
        "petro's seconds in the recording: {petro_heard}"
    );
    for p in [olena, petro, citizen] {
        p.stop().await;
    }
}

#[tokio::test]
async fn hold_by_the_operator_plays_music_and_digits_pass_through() {
    let app = queue_app(15, 0).await;
    add_operator(&app, "olena", "1001", &["general"]).await;
    let mut olena = operator_phone(&app, "olena", "1001", OLENA_HZ, AnswerMode::Auto).await;
    // The caller's phone offers PCMA only, the operator's PCMU first: the
    // bridge transcodes.
    let mut citizen = Baresip::spawn(BaresipOptions {
        from_user: "0501112233".into(),
        tone_hz: Some(CALLER_HZ),
        codecs: vec!["PCMA".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    call_into_queue(&app, &mut citizen, "0").await;
    olena
        .wait_established(Duration::from_secs(20))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // A key pressed by the caller reaches the operator's phone.
    citizen.send_dtmf("7").await.unwrap();
    let digit = olena
        .wait_event(|e| e.is("CALL_DTMF_START"), T)
        .await
        .expect("the digit is passed through");
    assert_eq!(digit.dtmf_digit(), Some('7'));
    tokio::time::sleep(Duration::from_secs(1)).await;
    olena.command("hold", None).await.expect("baresip holds");
    tokio::time::sleep(Duration::from_secs(3)).await;
    olena
        .command("resume", None)
        .await
        .expect("baresip resumes");
    tokio::time::sleep(Duration::from_secs(2)).await;
    citizen.hangup().await.unwrap();
    olena.wait_closed(T).await.unwrap();

    let call = crate::ended_call(&app).await;
    // The caller's leg is PCMA, the operator's PCMU: the bridge transcodes.
    assert_eq!(call.codec.as_deref(), Some("PCMA"), "the caller's leg");
    let answered = app
        .store()
        .call_events(call.id)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "operator-answered")
        .unwrap();
    assert_eq!(answered.detail, "olena PCMU");
    let kinds: Vec<String> = app
        .store()
        .call_events(call.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in ["operator-answered", "operator-hold", "operator-resume"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
    }
    let recs = app.store().recordings_for_call(call.id).await.unwrap();
    let (_, left, right) = read_stereo(&app.recordings.path().join(&recs[0].path));
    let n = right.len();
    let talk = &right[n - 14000..n - 4000];
    let hold = &right[n - 36000..n - 24000];
    let (t, h) = (share(talk, OLENA_HZ), share(hold, OLENA_HZ));
    let music = hotline::media::analysis::rms(hold);
    eprintln!(
        "measured [operators]: operator tone after resume {t:.3}, during hold {h:.3} (music rms {music:.0})"
    );
    assert!(t > 0.8, "the operator is heard again after resume: {t}");
    assert!(
        h < 0.2 && music > 300.0,
        "music, not the operator, during hold: {h} {music}"
    );
    assert!(share(&left[n - 14000..n - 4000], CALLER_HZ) > 0.8);
    olena.stop().await;
    citizen.stop().await;
}

#[tokio::test]
async fn an_operator_behind_asterisk_is_rung_through_the_trunk() {
    use crate::peers::sipp::{SippProcess, scenario_path};
    // sipp plays the Asterisk box; operator 2001 sits behind it.
    let pbx = SippProcess::spawn(
        &scenario_path("operator_behind_trunk.xml"),
        None,
        &["-key", "ext", "2001"],
        Duration::from_secs(40),
    )
    .await
    .unwrap();
    let app = spawn_app(AppOptions {
        queues: Some(queues(15, 0)),
        queue_settings: "member_trunk = \"asterisk\"".into(),
        extra: format!(
            "[[trunk]]\nname = \"asterisk\"\naddress = \"{}\"\nusername = \"hotline\"\npassword = \"x\"\nregister = false\n",
            pbx.local_addr()
        ),
        ..Default::default()
    })
    .await;
    add_operator(&app, "oksana", "2001", &["general"]).await;
    // No phone registers here: the operator logs in through the API.
    let (status, body) = set_state(&app, "oksana", r#"{"state":"logged_in"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"available\""), "{body}");

    let mut citizen = caller("0501112233").await;
    call_into_queue(&app, &mut citizen, "0").await;
    let closed = citizen
        .wait_closed(Duration::from_secs(30))
        .await
        .expect("the operator's BYE ends the caller's call");
    eprintln!(
        "measured [operators]: caller's call closed: {:?}",
        closed.param
    );
    let outcome = pbx.wait().await.unwrap();
    outcome.ensure_success().unwrap();
    let call = crate::ended_call(&app).await;
    assert_eq!(call.ended_by.map(|e| e.as_str()), Some("operator"));
    let answered = app
        .store()
        .queue_events_for_call(call.id)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == QueueEventKind::Answered)
        .expect("answered through the trunk");
    let oksana = app
        .store()
        .operator_by_login("oksana")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answered.operator_id, Some(oksana.id));
    citizen.stop().await;
}

#[tokio::test]
async fn a_caller_whose_operator_phone_dies_goes_back_to_the_queue() {
    let app = spawn_app(AppOptions {
        queues: Some(queues(15, 0)),
        media_timeout_secs: 3,
        ..Default::default()
    })
    .await;
    add_operator(&app, "olena", "1001", &["general"]).await;
    add_operator(&app, "petro", "1002", &["general"]).await;
    let mut olena = operator_phone(&app, "olena", "1001", OLENA_HZ, AnswerMode::Auto).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut petro = operator_phone(&app, "petro", "1002", PETRO_HZ, AnswerMode::Auto).await;

    let mut citizen = caller("0501112233").await;
    call_into_queue(&app, &mut citizen, "0").await;
    olena
        .wait_established(Duration::from_secs(20))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Olena's softphone crashes: no BYE, no more RTP.
    olena.stop().await;
    let lost_at = std::time::Instant::now();
    petro
        .wait_established(Duration::from_secs(15))
        .await
        .expect("the caller reaches the next operator");
    eprintln!(
        "measured [operators]: caller back with an operator {:?} after the first one's phone died (media timeout 3 s)",
        lost_at.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    citizen.hangup().await.unwrap();
    petro.wait_closed(T).await.unwrap();
    let call = crate::ended_call(&app).await;
    let events = app.store().call_events(call.id).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "operator-lost" && e.detail == "olena")
    );
    assert_eq!(
        queue_kinds(&app, call.id).await,
        [
            QueueEventKind::Joined,
            QueueEventKind::Ringing,
            QueueEventKind::Answered,
            QueueEventKind::Joined,
            QueueEventKind::Ringing,
            QueueEventKind::Answered
        ]
    );
    petro.stop().await;
    citizen.stop().await;
}

const SVETA_HZ: u32 = 1800;

/// For each half second of a phone's received audio: whether `hz` is in
/// it (a share of the power above 0.15: a tone mixed with another still
/// counts).
fn heard_windows(path: &std::path::Path, hz: u32) -> Vec<bool> {
    let (samples, rate) = crate::peers::baresip::read_wav_mono(path).unwrap();
    assert_eq!(rate, 8000);
    samples
        .chunks_exact(4000)
        .map(|w| {
            let w: Vec<i16> = w.iter().map(|s| (s * 32767.0) as i16).collect();
            share(&w, hz) > 0.15
        })
        .collect()
}

fn count(windows: &[bool]) -> usize {
    windows.iter().filter(|w| **w).count()
}

/// Listen, whisper, barge (issue 21) with three independent SIP phones: a
/// caller, an operator and a supervisor whose softphone is linked to their
/// user. Listening, the supervisor hears both sides and nobody hears them;
/// whispering, the operator hears them and the caller does not; barging,
/// both do. The recording keeps what the caller heard, so listening and
/// whispering leave no trace of the supervisor in it. Each step is on the
/// call's record and in the audit log; other roles and other supervisors
/// are refused.
#[tokio::test]
async fn a_supervisor_listens_whispers_and_barges_in_from_the_console() {
    let app = queue_app(15, 0).await;
    add_operator(&app, "olena", "1001", &["general"]).await;
    // Sveta's softphone: an operator record in no queue, linked to her.
    add_operator(&app, "sveta-phone", "1090", &[]).await;
    let supervisor = hotline::store::NewUser {
        login: "sveta".into(),
        display_name: "Світлана".into(),
        role: hotline::store::Role::Supervisor,
        operator_login: Some("sveta-phone".into()),
        executor: None,
        head: false,
    };
    app.store()
        .add_user(&supervisor, "sveta-password", Utc::now())
        .await
        .unwrap();
    let sveta_api = crate::sign_in(app.http_addr, "sveta", "sveta-password")
        .await
        .unwrap();
    let as_sveta = |method: &'static str, path: String, body: &'static str| {
        let headers = sveta_api.headers();
        let addr = app.http_addr;
        async move {
            let r = crate::request(addr, method, &path, &headers, body).await;
            (r.status, r.body)
        }
    };
    let mut olena = operator_phone(&app, "olena", "1001", OLENA_HZ, AnswerMode::Auto).await;
    let mut sveta = softphone(&app, "1090", SVETA_HZ, AnswerMode::Auto).await;

    let mut citizen = caller("0501112233").await;
    call_into_queue(&app, &mut citizen, "0").await;
    olena
        .wait_established(Duration::from_secs(20))
        .await
        .expect("olena answers");
    wait_state(&app, "olena", "on_call").await;
    let (_, body) = app.api("GET", "/api/operators", "").await;
    let operators: serde_json::Value = serde_json::from_str(&body).unwrap();
    let call = operators["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["login"] == "olena")
        .and_then(|o| o["call"].as_str())
        .expect("the operator's call is in the live view")
        .to_string();
    let monitor = format!("/api/calls/{call}/monitor");

    // An operator may not listen in; a bad mode is refused.
    let operator = app
        .sign_in_as("olena", hotline::store::Role::Operator)
        .await;
    let r = crate::request(
        app.http_addr,
        "POST",
        &monitor,
        &operator.headers(),
        r#"{"mode":"listen"}"#,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let (status, _) = as_sveta("POST", monitor.clone(), r#"{"mode":"shout"}"#).await;
    assert_eq!(status, 422);

    // Listen: sveta's phone rings and answers by itself.
    let (status, body) = as_sveta("POST", monitor.clone(), r#"{"mode":"listen"}"#).await;
    assert_eq!(status, 202, "{body}");
    sveta
        .wait_established(T)
        .await
        .expect("sveta's phone answers");
    let (status, body) = as_sveta("GET", "/api/calls/monitors".into(), "").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"sveta\""), "{body}");
    // An admin may not listen in; another supervisor cannot end hers.
    let (status, _) = app.api("POST", &monitor, r#"{"mode":"barge"}"#).await;
    assert_eq!(status, 403);
    let ivan = app
        .sign_in_as("ivan", hotline::store::Role::Supervisor)
        .await;
    let r = crate::request(app.http_addr, "DELETE", &monitor, &ivan.headers(), "").await;
    assert_eq!(r.status, 409, "only sveta ends her monitoring: {}", r.body);
    assert!(r.body.contains("sveta"), "{}", r.body);
    tokio::time::sleep(Duration::from_secs(4)).await;

    let (status, body) = as_sveta("PUT", monitor.clone(), r#"{"mode":"whisper"}"#).await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, body) = as_sveta("PUT", monitor.clone(), r#"{"mode":"barge"}"#).await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, body) = as_sveta("DELETE", monitor.clone(), "").await;
    assert_eq!(status, 204, "{body}");
    sveta.wait_closed(T).await.expect("sveta's leg is hung up");
    tokio::time::sleep(Duration::from_millis(500)).await;
    citizen.hangup().await.unwrap();
    olena.wait_closed(T).await.expect("the operator's leg ends");

    // Sveta heard both sides together.
    let at_sveta = sveta.received_audio().await.unwrap();
    let (caller_w, olena_w) = (
        heard_windows(&at_sveta, CALLER_HZ),
        heard_windows(&at_sveta, OLENA_HZ),
    );
    let both = caller_w
        .iter()
        .zip(&olena_w)
        .filter(|(a, b)| **a && **b)
        .count();
    eprintln!(
        "measured [monitor]: half-seconds at the supervisor with both sides: {both} of {}",
        caller_w.len()
    );
    assert!(both >= 12, "{both} of {}", caller_w.len());
    // The operator heard her while whispered to and barged in on (7 s); the
    // caller only once she barged in (3 s); the recording as the caller.
    let at_olena = count(&heard_windows(
        &olena.received_audio().await.unwrap(),
        SVETA_HZ,
    ));
    let at_caller = count(&heard_windows(
        &citizen.received_audio().await.unwrap(),
        SVETA_HZ,
    ));
    let call_row = crate::ended_call(&app).await;
    let recs = app.store().recordings_for_call(call_row.id).await.unwrap();
    let (_, left, right) = read_stereo(&app.recordings.path().join(&recs[0].path));
    let in_recording = |x: &[i16]| {
        x.chunks_exact(4000)
            .filter(|w| share(w, SVETA_HZ) > 0.15)
            .count()
    };
    let (rec_left, rec_right) = (in_recording(&left), in_recording(&right));
    eprintln!(
        "measured [monitor]: half-seconds with the supervisor: at the operator {at_olena}, at the caller {at_caller}, recording left {rec_left} / right {rec_right}"
    );
    assert!((11..=16).contains(&at_olena), "{at_olena}");
    assert!((4..=8).contains(&at_caller), "{at_caller}");
    assert_eq!(rec_left, 0, "the caller's channel never has the supervisor");
    assert!(
        rec_right.abs_diff(at_caller) <= 2,
        "the recording has the supervisor only as the caller heard her: {rec_right} vs {at_caller}"
    );

    // On the call's record, and in the audit log.
    let events = app
        .store()
        .call_events(call_row.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.starts_with("monitor"))
        .map(|e| format!("{} {}", e.kind, e.detail))
        .collect::<Vec<_>>();
    assert_eq!(
        events,
        [
            "monitor-joined sveta listen",
            "monitor-mode sveta whisper",
            "monitor-mode sveta barge",
            "monitor-ended sveta",
        ]
    );
    let (_, audit) = app.api("GET", "/api/audit?limit=50", "").await;
    let audit: serde_json::Value = serde_json::from_str(&audit).unwrap();
    let actions: Vec<String> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_login"] == "sveta")
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap()
            )
        })
        .collect();
    for action in ["call.monitor", "call.monitor.mode", "call.monitor.end"] {
        assert!(
            actions.contains(&format!("{action} {call}")),
            "{action} missing: {actions:?}"
        );
    }
    // Over: the call is no longer there to listen to.
    let (status, _) = as_sveta("POST", monitor.clone(), r#"{"mode":"listen"}"#).await;
    assert_eq!(status, 404);
    for p in [olena, sveta, citizen] {
        p.stop().await;
    }
}
