//! Automated verification calls through a trunk on loopback, played by
//! sipp (a SIP implementation we did not write): the trunk demands digest
//! authentication of the INVITE and answers with early media, the citizen
//! presses keys by SIP INFO; a busy line and a call nobody answers are
//! retried on the schedule (moments chosen by the test) and then left to
//! the operators. On SQLite and PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hotline::appeal::lifecycle::{Action, EntryKind};
use hotline::appeal::record::AppealStatus;
use hotline::appeal::verification::{AttemptResult, Channel, Mode};
use hotline::appeal::verification_calls::start_due;
use hotline::store::{Direction, Disposition, Role};
use uuid::Uuid;

use hotline::store::testing::person;

use crate::browser::{artifact, sign_in_to};
use crate::peers::browser::Browser;
use crate::peers::sipp::{SippProcess, scenario_path};
use crate::{AppOptions, Backend, TestApp, spawn_app};

/// hotline calls first.
const AUTOMATED: &str = "automated = true";

/// A server calling out through the trunk at `trunk` with these
/// verification settings.
async fn app(backend: Backend, trunk: std::net::SocketAddr, verification: &str) -> TestApp {
    // Calling hours of one minute at midnight: the server's own caller
    // (real time) stays idle while the test picks the moments.
    let extra = format!(
        "[[trunk]]\nname = \"city\"\naddress = \"{trunk}\"\nusername = \"hotline\"\n\
         password = \"s3cret\"\nregister = false\n\
         [outbound]\ntrunk = \"city\"\ncaller_id = \"1580\"\nring_secs = 2\nmax_call_secs = 60\nmax_calls = 1\n\
         [appeals.verification]\ncalling_hours = \"00:00-00:01\"\n{verification}\n\
         [appeals.verification.control]\nselective_share = 1.0\n"
    );
    spawn_app(AppOptions {
        backend,
        extra,
        ..Default::default()
    })
    .await
}

/// A card taken through its life to an accepted closure: in automated
/// verification. Its id and number.
async fn in_verification(app: &TestApp, mode: Mode) -> (Uuid, String) {
    let store = app.store();
    let rules = &app.lifecycle;
    let category = hotline::store::testing::sample_category(store, "sample", Utc::now()).await;
    let (_, operator) = person("op1", Role::Operator, None);
    let registered = store
        .register_appeal(
            &hotline::store::testing::sample_appeal(category),
            rules,
            &operator,
            Utc::now(),
        )
        .await
        .expect("registered");
    let (id, number) = (
        registered.record.id,
        registered.record.registration_number.to_string(),
    );
    let lead = store.appeal_card(id).await.unwrap().unwrap().card.parts[0]
        .executor
        .clone();
    let (actor, author) = person("master", Role::Executor, Some(&lead));
    for action in [
        Action::Accept {
            responsible: "Майстер".into(),
        },
        Action::ProposeClosure {
            summary: "Замінено ділянку труби".into(),
            proof: vec![Uuid::new_v4()],
        },
    ] {
        store
            .take_step(rules, id, action, &actor, &author)
            .await
            .expect("the executor's step");
    }
    let (sv, sv_author) = person("sveta", Role::Supervisor, None);
    let approve = Action::Approve {
        record: None,
        note: None,
        executors: vec![],
    };
    let taken = store
        .take_step(rules, id, approve, &sv, &sv_author)
        .await
        .expect("approved");
    assert_eq!(taken.outcome.card.status, AppealStatus::Verification);
    let verifying = taken.outcome.card.verification.expect("verifying");
    assert_eq!(verifying.mode, mode);
    (id, number)
}

/// When the card's next attempt falls due.
async fn due_at(app: &TestApp, id: Uuid) -> DateTime<Utc> {
    app.store()
        .appeal_card(id)
        .await
        .unwrap()
        .unwrap()
        .card
        .verification
        .expect("still in verification")
        .next_at
}

/// One pass of the caller at `now`; the steps its calls took.
async fn pass(
    app: &TestApp,
    now: DateTime<Utc>,
) -> Vec<hotline::appeal::verification_store::Taken> {
    let dialer = app.dialer.as_ref().expect("[outbound] is configured");
    let handles = start_due(app.store(), &app.lifecycle, dialer, now, Arc::new(|_| {}))
        .await
        .expect("the caller reads the cards");
    let mut taken = Vec::new();
    for h in handles {
        taken.extend(h.await.expect("the call's task"));
    }
    taken
}

fn verification_of(
    entry: &hotline::appeal::lifecycle_store::HistoryEntry,
) -> (AttemptResult, Option<u8>, Option<Uuid>) {
    let v = entry
        .details
        .verification
        .as_ref()
        .expect("the attempt's details");
    assert_eq!(v.channel, Channel::Automated);
    (v.result, v.rating, v.call)
}

async fn the_citizen_confirms_by_keys_through_a_trunk_that_demands_digest(backend: Backend) {
    let trunk = SippProcess::spawn(
        &scenario_path("survey_trunk_uas.xml"),
        None,
        &[
            "-key",
            "user",
            "hotline",
            "-key",
            "pass",
            "s3cret",
            "-key",
            "realm",
            "city-trunk",
            "-key",
            "dialled",
            "0611234567",
            "-key",
            "solved",
            "1",
            "-key",
            "rating",
            "4",
        ],
        Duration::from_secs(60),
    )
    .await
    .expect("sipp starts");
    let app = app(backend, trunk.local_addr(), AUTOMATED).await;
    let (id, number) = in_verification(&app, Mode::Automated).await;
    // Nothing is called before the calling moment.
    let due = due_at(&app, id).await;
    assert!(
        pass(&app, due - chrono::TimeDelta::hours(1))
            .await
            .is_empty()
    );
    let taken = pass(&app, due).await;
    let out = trunk.wait().await.expect("sipp ran");
    out.ensure_success().unwrap();
    assert!(
        out.messages
            .contains("Authorization: Digest username=\"hotline\""),
        "{}",
        out.report()
    );
    assert!(
        out.messages.contains("INVITE sip:0611234567@"),
        "dialled in national form"
    );
    assert!(out.messages.contains("P-Asserted-Identity: <sip:1580@"));
    assert_eq!(taken.len(), 1, "one call, one step");
    let step = &taken[0].outcome;
    assert_eq!(step.entry.kind, EntryKind::Confirmed);
    assert_eq!(step.card.status, AppealStatus::Closed);

    let store = app.store();
    let history = store.appeal_history(id).await.unwrap();
    let confirmed = history
        .iter()
        .find(|e| e.kind == EntryKind::Confirmed)
        .expect("confirmed in the history");
    assert_eq!(confirmed.login, "system");
    let (result, rating, call) = verification_of(confirmed);
    assert_eq!((result, rating), (AttemptResult::Confirmed, Some(4)));
    let call = call.expect("the call is named");
    // The call is on file like an inbound one, recorded, and linked.
    let record = store.get_call(call).await.unwrap().expect("the call's row");
    assert_eq!(record.direction, Direction::Outbound);
    assert_eq!(record.disposition, Some(Disposition::Answered));
    assert_eq!(record.called_number, "+380611234567");
    assert_eq!(record.caller_raw, "1580");
    assert!(record.answered_at.is_some() && record.ended_at.is_some());
    let recordings = store.recordings_for_call(call).await.unwrap();
    assert_eq!(
        recordings.len(),
        1,
        "one recording, from the early media on"
    );
    let rec = &recordings[0];
    let seconds = rec.duration_ms.expect("finished") as f64 / 1000.0;
    assert!(seconds > 10.0, "the survey is recorded: {seconds} s");
    let wav = app.recordings.path().join(&rec.path);
    let reader = hound::WavReader::open(&wav).expect("a playable WAV");
    assert_eq!(reader.spec().sample_rate, 8000);
    let detail = store.appeal_detail(&number).await.unwrap().unwrap();
    assert!(
        detail.calls.iter().any(|c| c.call_id == call),
        "the call is linked to the card"
    );
    let events = store.call_events(call).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "progress" && e.detail == "183")
    );
    let digits: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "dtmf")
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(digits, ["1 (INFO)", "4 (INFO)"]);
    // The rate counts it.
    let span = hotline::appeal::control::Period::Month.containing(
        Utc::now()
            .with_timezone(&app.lifecycle.calendar().time_zone())
            .date_naive(),
    );
    let records = store
        .track_records(span, app.lifecycle.calendar())
        .await
        .unwrap();
    assert_eq!(records.iter().map(|r| r.confirmed).sum::<u32>(), 1);
}

#[tokio::test]
async fn the_citizen_confirms_by_keys_through_a_trunk_that_demands_digest_sqlite() {
    the_citizen_confirms_by_keys_through_a_trunk_that_demands_digest(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_citizen_confirms_by_keys_through_a_trunk_that_demands_digest_postgres() {
    the_citizen_confirms_by_keys_through_a_trunk_that_demands_digest(Backend::Postgres).await;
}

#[tokio::test]
async fn a_busy_line_is_called_again_the_next_day_then_the_operators_call() {
    // Two calls, both busy.
    let trunk = SippProcess::spawn(
        &scenario_path("busy_trunk_uas.xml"),
        None,
        &["-m", "2"],
        Duration::from_secs(30),
    )
    .await
    .expect("sipp starts");
    let app = app(
        Backend::Sqlite,
        trunk.local_addr(),
        "automated = true\nautomated_attempts = 2\nretry_after_hours = 20",
    )
    .await;
    let (id, _) = in_verification(&app, Mode::Automated).await;
    let first = due_at(&app, id).await;
    let taken = pass(&app, first).await;
    assert_eq!(taken.len(), 1);
    let entry = &taken[0].outcome.entry;
    assert_eq!(entry.kind, EntryKind::VerificationAttempt);
    let v = entry.details.verification.as_ref().unwrap();
    assert_eq!((v.result, v.attempt), (AttemptResult::Busy, 1));
    let next = v.next.clone().expect("tried again");
    assert_eq!(next.mode, Mode::Automated);
    // Not again before its time: 20 hours on, in calling hours.
    let second = due_at(&app, id).await;
    assert_eq!(second, next.next_at);
    assert!(second >= Utc::now() + chrono::TimeDelta::hours(20));
    assert!(
        pass(&app, second - chrono::TimeDelta::minutes(1))
            .await
            .is_empty()
    );
    let taken = pass(&app, second).await;
    assert_eq!(taken.len(), 1);
    let v = taken[0].outcome.entry.details.verification.clone().unwrap();
    assert_eq!((v.result, v.attempt), (AttemptResult::Busy, 2));
    assert_eq!(
        v.next.expect("the operators take over").mode,
        Mode::Operator,
        "after the automated attempts, the operators' list"
    );
    // The automated caller leaves it alone from now on.
    assert!(
        pass(&app, second + chrono::TimeDelta::days(3))
            .await
            .is_empty()
    );
    trunk.wait().await.unwrap().ensure_success().unwrap();
    let calls = app
        .store()
        .appeal_detail(&taken[0].registration_number)
        .await
        .unwrap()
        .unwrap()
        .calls;
    assert_eq!(calls.len(), 2, "both calls are linked");
    for c in calls {
        let record = app.store().get_call(c.call_id).await.unwrap().unwrap();
        assert_eq!(
            (record.direction, record.disposition, record.sip_status),
            (Direction::Outbound, Some(Disposition::Busy), Some(486))
        );
    }
}

#[tokio::test]
async fn a_call_nobody_answers_is_cancelled_after_the_ring_time() {
    let trunk = SippProcess::spawn(
        &scenario_path("ring_no_answer_uas.xml"),
        None,
        &[],
        Duration::from_secs(30),
    )
    .await
    .expect("sipp starts");
    let app = app(Backend::Sqlite, trunk.local_addr(), AUTOMATED).await;
    let (id, _) = in_verification(&app, Mode::Automated).await;
    // A second card due as well: one line ([outbound] max_calls = 1), one call.
    let (other, _) = in_verification(&app, Mode::Automated).await;
    let due = due_at(&app, id).await.max(due_at(&app, other).await);
    let started = std::time::Instant::now();
    let taken = pass(&app, due).await;
    assert_eq!(taken.len(), 1, "one call at a time");
    let called = taken[0].outcome.card.id;
    let waiting = if called == id { other } else { id };
    assert!(
        due_at(&app, waiting).await <= due,
        "the other card is still due"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "rang for ring_secs"
    );
    let out = trunk.wait().await.unwrap();
    out.ensure_success().unwrap();
    assert!(out.messages.contains("CANCEL sip:"), "{}", out.report());
    let v = taken[0].outcome.entry.details.verification.clone().unwrap();
    assert_eq!(v.result, AttemptResult::NoAnswer);
    let record = app
        .store()
        .get_call(v.call.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.disposition, Some(Disposition::NoAnswer));
    assert!(record.answered_at.is_none());
}

/// The operator's verification page in headless Chromium, with
/// click-to-call between two independent user agents: the operator's
/// softphone (baresip, registered) rings first and answers; then the
/// citizen behind the trunk (sipp) is called, answers, talks and hangs up.
/// The operator records the outcome on the page; the call is recorded, on
/// file, linked to the card and named by the outcome.
#[tokio::test]
async fn an_operator_calls_the_citizen_back_from_the_verification_page() {
    use crate::peers::baresip::{AnswerMode, Baresip, BaresipOptions, Registration};
    let trunk = SippProcess::spawn(
        &scenario_path("citizen_answers_uas.xml"),
        None,
        &[],
        Duration::from_secs(30),
    )
    .await
    .expect("sipp starts");
    let app = app(Backend::Sqlite, trunk.local_addr(), "").await;
    app.add_operator("olena", "1001").await;
    let (id, number) = in_verification(&app, Mode::Operator).await;
    let olena = app.sign_in_as("olena", Role::Operator).await;
    // No softphone registered yet: said at once, nothing rings.
    let path = format!("/api/verification/{number}/call");
    let r = crate::request(app.http_addr, "POST", &path, &olena.headers(), "").await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("softphone"), "{}", r.body);
    let mut phone = Baresip::spawn(BaresipOptions {
        from_user: "1001".into(),
        registration: Some(Registration {
            registrar: app.sip_addr.to_string(),
            user: "1001".into(),
            password: Some("secret123".into()),
            expires: 300,
        }),
        answer_mode: AnswerMode::Auto,
        tone_hz: Some(440),
        ..Default::default()
    })
    .await
    .unwrap();
    phone
        .wait_registered(Duration::from_secs(10))
        .await
        .unwrap();

    // The list shows the card, its report and the proof.
    let r = crate::request(
        app.http_addr,
        "GET",
        "/api/verification",
        &olena.headers(),
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(list[0]["registration_number"], number.as_str());
    assert_eq!(list[0]["report"], "Замінено ділянку труби");
    assert_eq!(list[0]["proof_files"], 1);
    assert_eq!(list[0]["mode"], "operator");

    // The page, as the operator uses it.
    let w = Duration::from_secs(15);
    let browser = Browser::start().await.unwrap();
    sign_in_to(
        &browser,
        &app,
        "/verification",
        "olena",
        "view-verification",
        true,
    )
    .await;
    let row = format!("#verification-list tr[data-number='{number}']");
    browser
        .until(
            "the card in the list",
            &format!("return document.querySelector(\"{row}\")"),
            w,
        )
        .await
        .unwrap();
    browser.click(&row).await.unwrap();
    browser
        .until(
            "the call button",
            "return document.getElementById('call-citizen')",
            w,
        )
        .await
        .unwrap();
    browser
        .screenshot(&artifact("verification-operator.png"))
        .await
        .unwrap();
    browser.click("#call-citizen").await.unwrap();
    phone
        .wait_established(Duration::from_secs(10))
        .await
        .unwrap();
    // The citizen talks 3 s and hangs up; the operator's leg ends too.
    phone.wait_closed(Duration::from_secs(20)).await.unwrap();
    trunk.wait().await.unwrap().ensure_success().unwrap();
    browser
        .until(
            "the call placed",
            "return document.querySelector('.call-box [role=status]').textContent.length > 20",
            w,
        )
        .await
        .unwrap();
    // The outcome, on the page: confirmed, rated 5.
    browser
        .click("#verification-card button[data-action='verify']")
        .await
        .unwrap();
    browser
        .js(
            "document.getElementById('step-verify-rating').value = '5'; return true;",
            vec![],
        )
        .await
        .unwrap();
    browser
        .screenshot(&artifact("verification-outcome.png"))
        .await
        .unwrap();
    browser
        .click("#verification-card form button[type=submit]")
        .await
        .unwrap();
    browser
        .until(
            "the list emptied",
            "return document.getElementById('verification-count').textContent === '0'",
            w,
        )
        .await
        .unwrap();
    browser.close().await;
    let call = app
        .store()
        .appeal_detail(&number)
        .await
        .unwrap()
        .unwrap()
        .calls
        .iter()
        .map(|c| c.call_id)
        .next_back()
        .expect("the call-back is linked");

    let store = app.store();
    let mut record = store.get_call(call).await.unwrap();
    for _ in 0..50 {
        if record.as_ref().is_some_and(|r| r.ended_at.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        record = store.get_call(call).await.unwrap();
    }
    let record = record.expect("the call's row");
    assert_eq!(record.direction, Direction::Outbound);
    assert_eq!(record.disposition, Some(Disposition::Answered));
    assert_eq!(record.ended_by, Some(hotline::store::EndedBy::Caller));
    let kinds: Vec<String> = store
        .call_events(call)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in ["click-to-call", "operator-answered", "bridged"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let recordings = store.recordings_for_call(call).await.unwrap();
    assert_eq!(recordings.len(), 1);
    let seconds = recordings[0].duration_ms.unwrap() as f64 / 1000.0;
    assert!(seconds >= 2.5, "the talk is recorded: {seconds} s");
    // The operator's tone is on the operator's channel of the recording.
    let wav = app.recordings.path().join(&recordings[0].path);
    let mut reader = hound::WavReader::open(&wav).expect("a playable WAV");
    assert_eq!(reader.spec().channels, 2);
    let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    let loud = |channel: usize| {
        samples
            .iter()
            .skip(channel)
            .step_by(2)
            .filter(|s| s.abs() > 1000)
            .count()
    };
    assert!(
        loud(0) + loud(1) > 8000,
        "someone was heard: {} {}",
        loud(0),
        loud(1)
    );
    // The outcome names the call.
    let card = store.appeal_card(id).await.unwrap().unwrap();
    assert_eq!(card.card.status, AppealStatus::Closed);
    let history = store.appeal_history(id).await.unwrap();
    let confirmed = history
        .iter()
        .find(|e| e.kind == EntryKind::Confirmed)
        .unwrap();
    let v = confirmed.details.verification.as_ref().unwrap();
    assert_eq!(
        (v.channel, v.rating, v.call),
        (Channel::Operator, Some(5), Some(call))
    );
    assert_eq!(confirmed.login, "olena");
    phone.stop().await;
}
