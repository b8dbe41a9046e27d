//! The console's pages in a real browser (Debian's Chromium, headless, at
//! 1366×768, through chromedriver): an operator signs in, a real call from
//! baresip is queued to their registered baresip softphone, the card pops
//! up with the caller's number and earlier appeals, the operator files the
//! appeal and reads out the registration number; the supervisor's live
//! view follows it all; the card appears in the executor's inbox at once,
//! and the executor and the supervisor take it through its life to its
//! closure (accepted, commented, extended, closure proposed with a photo,
//! closed). A walk-in card is filled with the keyboard alone, in English,
//! with an attachment.
//!
//! Screenshots go to `tests/artifacts/` (kept by the test run, not by git).

use std::time::Duration;

use chrono::Utc;
use fantoccini::key::Key;
use hotline::appeal::classifier::Classifier;
use hotline::store::{Role, demo};
use serde_json::{Value, json};

use crate::console::{citizen_asks_for_an_operator, operator_with_user, phone};
use crate::peers::browser::{Browser, HEIGHT, WIDTH};
use crate::{AppOptions, PNG, T, TestApp, spawn_app};

const W: Duration = Duration::from_secs(15);

pub(crate) fn artifact(name: &str) -> std::path::PathBuf {
    crate::repo().join("tests/artifacts").join(name)
}

async fn import_classifier(app: &TestApp) {
    let classifier =
        Classifier::load(&crate::repo().join("classifier/zaporizhzhia.toml")).expect("classifier");
    app.store()
        .import_classifier(&classifier, "zaporizhzhia.toml", Utc::now())
        .await
        .expect("import");
}

/// Signs in through the page's form and waits for the view and the
/// websocket.
async fn sign_in(browser: &Browser, app: &TestApp, path: &str, login: &str, view: &str) {
    sign_in_to(browser, app, path, login, view, true).await
}

/// Signs in and waits for the view (and the websocket, if it has one).
pub(crate) async fn sign_in_to(
    browser: &Browser,
    app: &TestApp,
    path: &str,
    login: &str,
    view: &str,
    live: bool,
) {
    browser
        .goto(&format!("http://{}{path}", app.http_addr))
        .await
        .unwrap();
    browser
        .until(
            "the sign-in form",
            "return !document.getElementById('view-sign-in').hidden",
            W,
        )
        .await
        .unwrap();
    browser.type_into("#login", login).await.unwrap();
    browser
        .type_into("#password", &("test-password".to_owned() + &Key::Enter))
        .await
        .unwrap();
    let connected = if live {
        " && document.getElementById('connection').dataset.open === 'yes'"
    } else {
        ""
    };
    browser
        .until(
            view,
            &format!("return !document.getElementById('{view}').hidden{connected}"),
            W,
        )
        .await
        .unwrap();
}

fn js_str(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Alt+K, a search that picks the category, Alt+E and the essence: the
/// keyboard path an operator takes.
async fn category_and_essence(browser: &Browser, search: &str, essence: &str) {
    browser.keys(&(Key::Alt + "k" + &Key::Null)).await.unwrap();
    // What an earlier search left is replaced.
    browser
        .keys(&(Key::Control + "a" + &Key::Null))
        .await
        .unwrap();
    browser
        .keys(&(search.to_owned() + &Key::Enter))
        .await
        .unwrap();
    browser.keys(&(Key::Alt + "e" + &Key::Null)).await.unwrap();
    browser.keys(essence).await.unwrap();
}

/// The registration number the page shows once the card is saved.
async fn registration_number(browser: &Browser) -> String {
    js_str(
        &browser
            .until(
                "the registration number",
                "const s = document.getElementById('saved'); \
                 return !s.hidden && document.getElementById('saved-number').textContent",
                W,
            )
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn an_operator_gets_the_card_on_screen_files_the_appeal_and_the_executor_takes_it_to_closure()
{
    let app = spawn_app(AppOptions::default()).await;
    demo::seed(app.store(), Utc::now()).await.unwrap();
    import_classifier(&app).await;
    operator_with_user(&app, "olena", "1001").await;
    app.sign_in_as("sveta", Role::Supervisor).await;
    let mut softphone = phone(&app, "1001").await;

    let operator = Browser::start().await.expect("chromium starts");
    let supervisor = Browser::start().await.expect("chromium starts");
    // The executor whose card it will be (КП «Водоканал»), at its inbox.
    app.sign_in_as("vodokanal", Role::Executor).await;
    let executor = Browser::start().await.expect("chromium starts");
    sign_in(&executor, &app, "/", "vodokanal", "view-inbox").await;
    sign_in(&operator, &app, "/", "olena", "view-console").await;
    // The same operator on another page (recordings) in a second window:
    // the call is announced there too.
    let elsewhere = Browser::start().await.expect("chromium starts");
    sign_in(&elsewhere, &app, "/recordings", "olena", "view-recordings").await;
    // The phone registered: the operator is available, and says so.
    operator
        .until(
            "the operator's state",
            "return document.getElementById('my-state').dataset.state === 'available'",
            W,
        )
        .await
        .unwrap();
    sign_in(&supervisor, &app, "/", "sveta", "view-live").await;
    // The wallboard on a big screen.
    let wallboard = Browser::start().await.expect("chromium starts");
    wallboard.resize(1920, 1080).await.unwrap();
    sign_in(&wallboard, &app, "/wallboard", "sveta", "view-wallboard").await;
    let olena_row = |state: &str| {
        format!(
            "const r = document.querySelector('#live-operators tr[data-operator=\"olena\"]'); return r && r.dataset.state === '{state}'"
        )
    };
    supervisor
        .until("olena available", &olena_row("available"), W)
        .await
        .unwrap();

    // A citizen calls and asks for an operator.
    let mut citizen = citizen_asks_for_an_operator(&app).await;

    // The card pops up while the phone rings: the caller, their earlier
    // appeal, the outage at their address, the path through the menu.
    operator
        .until(
            "the card pops up",
            "return document.getElementById('call-banner').dataset.phase === 'offered'",
            W,
        )
        .await
        .unwrap();
    assert_eq!(operator.text("#call-caller").await.unwrap(), demo::CALLER);
    let earlier = operator.text("#earlier").await.unwrap();
    assert!(earlier.contains(demo::APPEAL_NUMBER), "{earlier}");
    let works = operator.text("#works").await.unwrap();
    assert!(!works.is_empty() && works != "—", "{works}");
    // The path through the menu in words, no codes.
    let path = operator.text("#ivr-path").await.unwrap();
    assert!(path.contains("Привітання"), "{path}");
    assert!(!path.contains("main:"), "{path}");
    // On the other page: a bar with the caller and the queue, and the
    // tab's title.
    let alert = elsewhere
        .until(
            "the call announced on the recordings page",
            "const a = document.getElementById('call-alert'); \
             return !a.hidden && document.title.startsWith('☎') && a.textContent",
            W,
        )
        .await
        .unwrap();
    assert!(js_str(&alert).contains(demo::CALLER), "{alert}");
    let prefilled = operator
        .js(
            "return [document.getElementById('f-contact_phone').value, document.getElementById('f-address').value, document.activeElement.id]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(prefilled, json!([demo::CALLER, demo::ADDRESS, "f-surname"]));
    supervisor
        .until("olena ringing", &olena_row("ringing"), W)
        .await
        .unwrap();
    // The wallboard: one caller waiting in the general queue, olena
    // counted as ringing.
    wallboard
        .until(
            "the caller on the wallboard",
            "const q = document.querySelector('.wb-queue[data-queue=\"general\"] .wb-big'); \
             const r = document.querySelector('.wb-state[data-state=\"ringing\"] .wb-big'); \
             return q && q.dataset.waiting === '1' && r && r.textContent === '1'",
            W,
        )
        .await
        .unwrap();
    wallboard
        .screenshot(&artifact("wallboard.png"))
        .await
        .unwrap();
    wallboard.close().await;

    softphone
        .wait_event(|e| e.is("CALL_INCOMING"), T)
        .await
        .unwrap();
    softphone.accept().await.unwrap();
    softphone.wait_established(T).await.unwrap();
    operator
        .until(
            "the call is answered",
            "return document.getElementById('call-banner').dataset.phase === 'answered'",
            W,
        )
        .await
        .unwrap();
    let call_id = js_str(
        &operator
            .js(
                "return document.getElementById('call-banner').dataset.callId",
                vec![],
            )
            .await
            .unwrap(),
    );
    let call_uuid: uuid::Uuid = call_id.parse().expect("the banner carries our call id");
    elsewhere
        .until(
            "the alert gone once answered",
            "return document.getElementById('call-alert').hidden && !document.title.startsWith('☎')",
            W,
        )
        .await
        .unwrap();

    // Screen-pop latency: from the call task taking the operator's 200 OK
    // (its stored step) to call_answered arriving in the page.
    let received_ms = operator
        .js(
            "const t = window.hotline.views[0].timings.find(t => t.type === 'call_answered'); return t && t.receivedAt",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .expect("the page noted when call_answered arrived");
    let took_200 = app.operator_answered_at(call_uuid).await;
    let latency_ms = received_ms - took_200.timestamp_micros() as f64 / 1000.0;
    eprintln!(
        "measured [browser]: operator's 200 OK taken → call_answered in Chromium: {latency_ms:.2} ms"
    );
    assert!(
        (0.0..1000.0).contains(&latency_ms),
        "{latency_ms} ms from the 200 OK to the page"
    );
    operator
        .screenshot(&artifact("console-screen-pop.png"))
        .await
        .unwrap();
    supervisor
        .until("olena on a call", &olena_row("on_call"), W)
        .await
        .unwrap();

    // Saving without the mandatory fields: a message per field, in the
    // browser, and nothing in the database.
    operator.css("#save").await.unwrap().click().await.unwrap();
    for field in ["surname", "first_name", "patronymic", "essence", "category"] {
        let message = operator.text(&format!("#e-{field}")).await.unwrap();
        assert!(!message.is_empty(), "no message for {field}");
    }
    assert!(
        app.store()
            .appeals_by_phone(demo::CALLER, 10)
            .await
            .unwrap()
            .iter()
            .all(|a| a.call_id != Some(call_uuid)),
        "nothing saved"
    );

    // The operator fills it in, with the keyboard.
    operator.type_into("#f-surname", "Шевченко").await.unwrap();
    operator.keys(&(Key::Tab + "Тарас")).await.unwrap();
    operator.keys(&(Key::Tab + "Григорович")).await.unwrap();
    // Enter in the classifier search takes the best match, not the first
    // in file order: "освітл" is street lighting, not a lift's cabin.
    category_and_essence(&operator, "освітл", "").await;
    let chosen = operator
        .until(
            "a category chosen",
            "const s = document.getElementById('f-category'); \
             const o = s.options[s.selectedIndex]; \
             return o && o.value && o.textContent",
            W,
        )
        .await
        .unwrap();
    assert_eq!(js_str(&chosen), "Не працює освітлення вулиці");
    category_and_essence(
        &operator,
        "Відсутнє холодне",
        "Третій день немає холодної води в будинку, під'їзд 2.",
    )
    .await;
    let info = operator.text("#category-info").await.unwrap();
    assert!(info.contains("Водоканал"), "{info}");
    // Ctrl+Enter saves from the issue's text.
    operator
        .keys(&(Key::Control + &Key::Enter + &Key::Null))
        .await
        .unwrap();
    let number = registration_number(&operator).await;
    assert!(
        number.len() == 16 && number.starts_with("1580-") && number[5..9].parse::<u32>().is_ok(),
        "{number}"
    );
    // The card filed on the call is in the executor's inbox at once, without
    // a reload (the rest of its life at the end of this test).
    executor
        .until(
            "the filed card in the executor's inbox, live",
            &format!("return document.querySelector(\"tr[data-number='{number}']\")"),
            W,
        )
        .await
        .unwrap();
    let organisation = executor.text("#inbox-org").await.unwrap();
    assert!(organisation.contains("Водоканал"), "{organisation}");
    // Large enough to read out: the number's font is at least 40 px.
    let size = operator
        .js(
            "return parseFloat(getComputedStyle(document.getElementById('saved-number')).fontSize)",
            vec![],
        )
        .await
        .unwrap();
    assert!(size.as_f64().unwrap() >= 40.0, "{size}");
    operator
        .screenshot(&artifact("console-registered.png"))
        .await
        .unwrap();

    // The database holds it: the call, the deadline, the executor.
    let card = app
        .store()
        .appeal_detail(&number)
        .await
        .unwrap()
        .expect("the appeal is stored");
    assert_eq!(card.record.call_id, Some(call_uuid));
    assert_eq!(card.surname.as_deref(), Some("Шевченко"));
    assert_eq!(card.record.caller_phone, demo::CALLER);
    assert_eq!(card.record.executor, "vodokanal", "the executor is a key");
    assert_eq!(
        card.record.deadline - card.record.created_at,
        chrono::TimeDelta::hours(3),
        "emergency class: 3 hours"
    );
    assert!(
        !card.calls[0].recordings.is_empty(),
        "the card reaches the call's recording"
    );

    // "End call and block caller": a reason, then both legs end.
    operator
        .css("#block-caller")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    operator
        .keys(&("Нецензурна лайка на адресу оператора".to_owned() + &Key::Enter))
        .await
        .unwrap();
    citizen
        .wait_closed(T)
        .await
        .expect("the caller's call ends");
    softphone
        .wait_closed(T)
        .await
        .expect("the operator's leg ends");
    let block = app
        .store()
        .active_block(demo::CALLER, Utc::now())
        .await
        .unwrap();
    assert!(block.is_some(), "the caller's number is on the block list");
    operator
        .until(
            "the call ended",
            "return document.getElementById('call-banner').dataset.phase === 'ended'",
            W,
        )
        .await
        .unwrap();

    // Wrap-up, then done by the button; the live view follows.
    operator
        .until(
            "wrap-up",
            "return document.getElementById('my-state').dataset.state === 'wrap_up'",
            W,
        )
        .await
        .unwrap();
    supervisor
        .until("olena in wrap-up", &olena_row("wrap_up"), W)
        .await
        .unwrap();
    operator
        .css("#wrapup-done")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    supervisor
        .until("olena available again", &olena_row("available"), W)
        .await
        .unwrap();
    let answered = supervisor
        .until(
            "today's figures",
            "const r = document.querySelector('#live-queues tr[data-queue=\"general\"]'); return r && r.children[3].textContent === '1' && r.children[3].textContent",
            W,
        )
        .await
        .unwrap();
    assert_eq!(answered, "1");
    // Her own calls today list it.
    operator
        .until(
            "my calls",
            "return document.querySelectorAll('#my-calls tr').length === 1",
            W,
        )
        .await
        .unwrap();
    supervisor
        .screenshot(&artifact("live-view.png"))
        .await
        .unwrap();
    operator.close().await;
    supervisor.close().await;
    citizen.stop().await;
    softphone.stop().await;

    // The card filed on the call lives on: the executor and the contact
    // centre take it to its closure.
    the_card_lives_to_its_closure(&app, &executor, &number, "olena").await;
    executor.close().await;
}

#[tokio::test]
async fn a_walk_in_card_is_filed_with_the_keyboard_alone_in_english_with_a_photo() {
    let app = spawn_app(AppOptions::default()).await;
    demo::seed(app.store(), Utc::now()).await.unwrap();
    import_classifier(&app).await;
    operator_with_user(&app, "olena", "1001").await;
    let browser = Browser::start().await.expect("chromium starts");
    sign_in(&browser, &app, "/", "olena", "view-console").await;

    // English, and back to it after a reload.
    browser.css("#lang").await.unwrap().click().await.unwrap();
    browser.client.refresh().await.unwrap();
    browser
        .until(
            "the console again",
            "return !document.getElementById('view-console').hidden",
            W,
        )
        .await
        .unwrap();
    assert_eq!(browser.text("#card-title").await.unwrap(), "Appeal card");
    assert_eq!(
        browser
            .js("return document.documentElement.lang", vec![])
            .await
            .unwrap(),
        "en"
    );

    // The whole screen fits 1366×768 without scrolling sideways, and the
    // save button is on it.
    let fits = browser
        .js(
            "const b = document.getElementById('save').getBoundingClientRect(); \
             return [document.documentElement.scrollWidth, innerWidth, innerHeight, b.bottom]",
            vec![],
        )
        .await
        .unwrap();
    let n = |i: usize| fits[i].as_f64().unwrap();
    assert_eq!(n(1), f64::from(WIDTH), "{fits}");
    assert!(n(0) <= n(1), "scrolls sideways: {fits}");
    assert!(
        n(3) <= n(2) && n(2) <= f64::from(HEIGHT),
        "save is off screen: {fits}"
    );

    // A repeat of the demo appeal, found by its number: the citizen's
    // name and address come from the original.
    browser
        .type_into("#find-number", &("15802026000123".to_owned() + &Key::Enter))
        .await
        .unwrap();
    browser
        .until(
            "the found appeal",
            "return document.querySelector('#found li.appeal')",
            W,
        )
        .await
        .unwrap();

    // Alt+N: a new walk-in card, the first field focused; then Tab from
    // field to field, as the keyboard alone would.
    browser.keys(&(Key::Alt + "n" + &Key::Null)).await.unwrap();
    let focused = browser
        .js("return document.activeElement.id", vec![])
        .await
        .unwrap();
    assert_eq!(focused, "f-surname");
    let order = browser
        .js(
            "const ids = []; for (const e of document.querySelectorAll('#card input, #card select, #card textarea, #card button')) if (!e.closest('[hidden]')) ids.push(e.id); return ids",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        order,
        json!([
            "f-surname",
            "f-first_name",
            "f-patronymic",
            "f-address",
            "f-contact_phone",
            "f-other_contact",
            "f-email",
            "f-category-filter",
            "f-category",
            "f-kind",
            "f-latitude",
            "f-longitude",
            "f-essence",
            "f-files",
            "save",
            "clear-card"
        ]),
        "the tab order follows the card"
    );
    let mut keys = String::from("Коваленко");
    for value in [
        "Марія",
        "Іванівна",
        "вул. Перемоги, 5, кв. 1",
        "067 123 45 67",
        "",
        "not-an-email",
    ] {
        keys += &Key::Tab;
        keys += value;
    }
    browser.keys(&keys).await.unwrap();
    // Enter saves: the browser's own checks stop it, with a message.
    browser.keys(&Key::Enter).await.unwrap();
    let email_error = browser.text("#e-email").await.unwrap();
    assert!(email_error.contains("name@example.com"), "{email_error}");
    assert_eq!(
        browser
            .js("return document.activeElement.id", vec![])
            .await
            .unwrap(),
        "f-email",
        "the first wrong field gets the focus"
    );
    // Every label names its field for screen readers.
    let unlabelled = browser
        .js(
            "return [...document.querySelectorAll('#card input, #card select, #card textarea')].filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, json!([]), "fields without a label");

    browser
        .js("document.getElementById('f-email').select()", vec![])
        .await
        .unwrap();
    browser.keys("maria@example.com").await.unwrap();
    category_and_essence(
        &browser,
        "Порив водогону",
        "Тече вода з-під асфальту біля будинку.",
    )
    .await;
    let photo = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    std::fs::write(photo.path(), PNG).unwrap();
    browser
        .type_into("#f-files", &photo.path().display().to_string())
        .await
        .unwrap();
    // Back in a text field, Enter saves.
    browser
        .js("document.getElementById('f-address').focus()", vec![])
        .await
        .unwrap();
    browser.keys(&Key::Enter).await.unwrap();
    let number = registration_number(&browser).await;
    browser
        .until(
            "the photo is attached",
            "return document.querySelector('#saved-files li.ok')",
            W,
        )
        .await
        .unwrap();
    let card = app
        .store()
        .appeal_detail(&number)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(card.record.call_id, None, "a walk-in has no call");
    assert_eq!(
        card.channel,
        Some(hotline::appeal::Channel::WalkIn),
        "{number}"
    );
    assert_eq!(card.record.caller_phone, "+380671234567");
    assert_eq!(card.email.as_deref(), Some("maria@example.com"));
    assert_eq!(card.attachments.len(), 1);
    assert_eq!(card.attachments[0].content_type, "image/png");
    assert_eq!(card.attachments[0].size_bytes, PNG.len() as u64);

    // A repeat: from the found appeal, the original's citizen.
    browser.keys(&(Key::Alt + "n" + &Key::Null)).await.unwrap();
    browser
        .js(
            "document.querySelector('#found li.appeal button:last-child').click()",
            vec![],
        )
        .await
        .unwrap();
    browser
        .until(
            "marked as a repeat",
            "return !document.getElementById('repeat-chip').hidden && document.getElementById('repeat-number').textContent",
            W,
        )
        .await
        .unwrap();
    browser
        .screenshot(&artifact("console-walk-in-repeat.png"))
        .await
        .unwrap();
    browser.close().await;
}

#[tokio::test]
async fn a_supervisor_finds_yesterdays_call_by_the_callers_number_plays_it_and_seeks() {
    let app = spawn_app(AppOptions::default()).await;
    let yesterday = Utc::now() - chrono::TimeDelta::days(1);
    // Yesterday's call: 30 s of audio; others around it.
    let (target, _, _) =
        crate::recordings::recorded_call(&app, yesterday, demo::CALLER, None, 30 * 16_000).await;
    crate::recordings::recorded_call(&app, Utc::now(), demo::CALLER, None, 800).await;
    crate::recordings::recorded_call(&app, yesterday, "+380671112233", None, 800).await;
    app.sign_in_as("sveta", Role::Supervisor).await;
    let browser = Browser::start().await.expect("chromium starts");
    sign_in_to(
        &browser,
        &app,
        "/recordings",
        "sveta",
        "view-recordings",
        false,
    )
    .await;

    let day = yesterday
        .with_timezone(&chrono::Local)
        .format("%Y-%m-%d")
        .to_string();
    browser
        .js(
            "document.getElementById('rs-from').value = arguments[0]; \
             document.getElementById('rs-to').value = arguments[0];",
            vec![json!(day)],
        )
        .await
        .unwrap();
    // The number as the citizen says it; Enter searches.
    browser
        .type_into("#rs-caller", &("(061) 123 45 67".to_owned() + &Key::Enter))
        .await
        .unwrap();
    browser
        .until(
            "one recording found",
            "return document.getElementById('rec-total').textContent === '1' && \
             document.querySelectorAll('#rec-list tr').length === 1",
            W,
        )
        .await
        .unwrap();
    // Opened with the keyboard.
    browser
        .js("document.querySelector('#rec-list tr').focus()", vec![])
        .await
        .unwrap();
    browser.keys(&Key::Enter).await.unwrap();
    // Nothing is fetched until it is played (the access log counts plays,
    // not opened pages).
    browser
        .until(
            "the player",
            &format!(
                "return document.getElementById('rec-audio').src.endsWith('/api/recordings/{target}/audio')"
            ),
            W,
        )
        .await
        .unwrap();
    assert!(
        app.store()
            .recording_accesses(None, None, Some(target), 10)
            .await
            .unwrap()
            .is_empty(),
        "opening the details plays nothing"
    );
    // Play, then seek to 20 s: it plays on from there.
    browser
        .js("document.getElementById('rec-audio').play()", vec![])
        .await
        .unwrap();
    let length = browser
        .until(
            "the length",
            "const a = document.getElementById('rec-audio'); return a.readyState >= 1 && a.duration",
            W,
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!((length - 30.0).abs() < 0.1, "{length} s");
    browser
        .until(
            "playing",
            "return document.getElementById('rec-audio').currentTime > 0.3",
            W,
        )
        .await
        .unwrap();
    browser
        .js(
            "document.getElementById('rec-audio').currentTime = 20",
            vec![],
        )
        .await
        .unwrap();
    browser
        .until(
            "playing from 20 s",
            "const a = document.getElementById('rec-audio'); \
             return !a.seeking && a.currentTime > 20.2 && a.currentTime < 25",
            W,
        )
        .await
        .unwrap();
    let facts = browser.text("#rec-facts").await.unwrap();
    assert!(facts.contains(demo::CALLER), "{facts}");
    browser
        .screenshot(&artifact("recordings-player.png"))
        .await
        .unwrap();
    // Every request of the player is in the access log, as sveta's plays
    // with the ranges it asked for.
    let log = app
        .store()
        .recording_accesses(None, None, Some(target), 100)
        .await
        .unwrap();
    assert!(!log.is_empty());
    assert!(log.iter().all(|a| a.login == "sveta" && a.action == "play"));
    assert!(
        log.iter()
            .any(|a| a.range.as_deref().is_some_and(|r| r.starts_with("bytes="))),
        "{log:?}"
    );

    // The block list: a number blocked in any written form, then lifted.
    let row = "#blocked-list tr[data-number=\"+380611234567\"]";
    browser
        .goto(&format!("http://{}/blocked", app.http_addr))
        .await
        .unwrap();
    browser
        .until(
            "the block list",
            "return !document.getElementById('view-blocked').hidden",
            W,
        )
        .await
        .unwrap();
    browser
        .type_into("#ba-number", "(061) 123 45 67")
        .await
        .unwrap();
    browser
        .type_into(
            "#ba-reason",
            &("Образи операторів".to_owned() + &Key::Enter),
        )
        .await
        .unwrap();
    browser
        .until(
            "the number on the list",
            &format!("return document.querySelector('{row}')"),
            W,
        )
        .await
        .unwrap();
    let blocked = app.store().active_block(demo::CALLER, Utc::now()).await;
    assert!(blocked.unwrap().is_some());
    browser
        .screenshot(&artifact("blocked-list.png"))
        .await
        .unwrap();
    // Unblocking asks once more, naming the number; "no" lifts nothing.
    browser
        .js(
            &format!("document.querySelector('{row} button').click()"),
            vec![],
        )
        .await
        .unwrap();
    let asked = browser.text(&format!("{row} .confirm")).await.unwrap();
    assert!(asked.contains(demo::CALLER), "{asked}");
    browser
        .js(
            &format!("document.querySelectorAll('{row} button')[1].click()"),
            vec![],
        )
        .await
        .unwrap();
    browser
        .until(
            "asked no more",
            &format!("const r = document.querySelector('{row}'); return r && !r.querySelector('.confirm')"),
            W,
        )
        .await
        .unwrap();
    let blocked = app.store().active_block(demo::CALLER, Utc::now()).await;
    assert!(blocked.unwrap().is_some(), "\"no\" lifted nothing");
    browser
        .js(
            &format!("document.querySelector('{row} button').click()"),
            vec![],
        )
        .await
        .unwrap();
    browser
        .js(
            &format!("document.querySelector('{row} button.danger').click()"),
            vec![],
        )
        .await
        .unwrap();
    browser
        .until(
            "the number lifted",
            &format!("return !document.querySelector('{row}')"),
            W,
        )
        .await
        .unwrap();
    let blocked = app.store().active_block(demo::CALLER, Utc::now()).await;
    assert!(blocked.unwrap().is_none());
    browser.close().await;
}

/// The same card life over PostgreSQL (the call's test above runs on
/// SQLite): a card the contact centre files appears in the executor's inbox
/// at once, and is taken to its closure.
#[tokio::test]
async fn a_cards_life_in_the_browser_on_postgresql() {
    let app = spawn_app(AppOptions {
        backend: crate::Backend::Postgres,
        ..Default::default()
    })
    .await;
    import_classifier(&app).await;
    app.sign_in_as("vodokanal", Role::Executor).await;
    let sveta = app.sign_in_as("sveta", Role::Supervisor).await;
    let executor = Browser::start().await.expect("chromium starts");
    sign_in(&executor, &app, "/", "vodokanal", "view-inbox").await;
    let number = crate::appeals::file_card_for(&app, &sveta, "vodokanal").await;
    executor
        .until(
            "the new card in the inbox, live",
            &format!("return document.querySelector(\"tr[data-number='{number}']\")"),
            W,
        )
        .await
        .unwrap();
    the_card_lives_to_its_closure(&app, &executor, &number, "sveta").await;
    executor.close().await;
}

/// The rest of a card's life in the browsers, from the executor's inbox
/// where it has just appeared: the executor accepts it (the form says what
/// is missing first), comments, asks for an extension with a document; the
/// supervisor, in the decisions queue of a browser of their own, approves
/// it and the deadline moves; the executor proposes closure with a photo as
/// proof; the supervisor closes the card; the executor's page follows
/// without a reload, and the history has every step with its author.
async fn the_card_lives_to_its_closure(
    app: &TestApp,
    executor: &Browser,
    number: &str,
    registered_by: &str,
) {
    let row = format!("tr[data-number='{number}']");
    executor.click(&row).await.unwrap();
    let step = |action: &str| format!("#inbox-card button[data-action='{action}']");
    let submit = "#inbox-card form button[type=submit]";
    executor
        .until(
            "the card's steps",
            &format!("return document.querySelector(\"{}\")", step("accept")),
            W,
        )
        .await
        .unwrap();
    executor
        .screenshot(&artifact("executor-new-card.png"))
        .await
        .unwrap();

    // Accept, naming the person responsible (the form says what is missing
    // first).
    executor.click(&step("accept")).await.unwrap();
    executor.click(submit).await.unwrap();
    let error = executor.text("#inbox-card form .error").await.unwrap();
    assert!(error.contains("Відповідальна особа"), "{error}");
    executor
        .type_into("#step-accept-responsible", "Гнатюк О. В., майстер")
        .await
        .unwrap();
    executor.click(submit).await.unwrap();
    let panel_says = |text: &str| {
        format!("return document.getElementById('inbox-card').textContent.includes({text:?})")
    };
    executor
        .until(
            "accepted",
            &panel_says("відповідальний: Гнатюк О. В., майстер"),
            W,
        )
        .await
        .unwrap();

    executor.click(&step("comment")).await.unwrap();
    executor
        .type_into("#step-comment-text", "Бригада виїхала.")
        .await
        .unwrap();
    executor.click(submit).await.unwrap();
    executor
        .until(
            "the comment in the history",
            &panel_says("Бригада виїхала."),
            W,
        )
        .await
        .unwrap();

    // An extension asked with a justifying document; the supervisor, in
    // the decisions queue, approves it and the deadline moves.
    let document = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    std::fs::write(document.path(), PNG).unwrap();
    let until = (Utc::now() + chrono::TimeDelta::days(10))
        .format("%Y-%m-%d")
        .to_string();
    executor.click(&step("request_extension")).await.unwrap();
    executor
        .js(
            "document.getElementById('step-request_extension-until').value = arguments[0]",
            vec![json!(until)],
        )
        .await
        .unwrap();
    executor
        .type_into(
            "#step-request_extension-reason",
            "Чекаємо на засувку від постачальника.",
        )
        .await
        .unwrap();
    executor
        .type_into(
            "#step-request_extension-documents",
            &document.path().display().to_string(),
        )
        .await
        .unwrap();
    executor.click(submit).await.unwrap();
    executor
        .until(
            "the extension asked",
            &panel_says("продовження терміну до"),
            W,
        )
        .await
        .unwrap();
    let supervisor = Browser::start().await.expect("chromium starts");
    sign_in(&supervisor, app, "/decisions", "sveta", "view-decisions").await;
    approve_in_the_queue(&supervisor, &row, "supervisor-extension.png").await;
    executor
        .until("the deadline moved", &panel_says("термін продовжено"), W)
        .await
        .unwrap();
    let (_, card) = app.api("GET", &format!("/api/appeals/{number}"), "").await;
    let card: Value = serde_json::from_str(&card).unwrap();
    assert!(
        js_str(&card["deadline"]).starts_with(&until),
        "the deadline is the one asked for: {card}"
    );
    assert_eq!(card["life"]["control"], "additional", "{card}");

    // Closure proposed with a photo as proof.
    let photo = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    std::fs::write(photo.path(), PNG).unwrap();
    executor.click(&step("propose_closure")).await.unwrap();
    executor
        .type_into(
            "#step-propose_closure-summary",
            "Воду подано, засувку замінено.",
        )
        .await
        .unwrap();
    executor
        .type_into(
            "#step-propose_closure-proof",
            &photo.path().display().to_string(),
        )
        .await
        .unwrap();
    executor.click(submit).await.unwrap();
    executor
        .until(
            "the closure proposed",
            &panel_says("запропоновано до закриття"),
            W,
        )
        .await
        .unwrap();
    executor
        .screenshot(&artifact("executor-closure-proposed.png"))
        .await
        .unwrap();

    // The supervisor accepts it; an emergency card is always verified, and
    // the citizen confirms to the control staff.
    approve_in_the_queue(&supervisor, &row, "supervisor-decision.png").await;
    let olena = app.sign_in_as("kontrol", Role::Supervisor).await;
    let confirmed = crate::request(
        app.http_addr,
        "POST",
        &format!("/api/appeals/{number}/actions"),
        &olena.headers(),
        r#"{"action": "verify", "result": "confirmed", "rating": 5}"#,
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);

    // The executor's page follows without a reload.
    executor
        .until(
            "the card closed on the executor's screen",
            "return [...document.querySelectorAll('#inbox-tabs button')]\
             .some(b => b.dataset.tab === 'closed' && b.textContent.endsWith('1'))",
            W,
        )
        .await
        .unwrap();
    executor
        .until("closed in the open card", &panel_says("закрито"), W)
        .await
        .unwrap();

    let (status, body) = app
        .api("GET", &format!("/api/appeals/{number}/history"), "")
        .await;
    assert_eq!(status, 200, "{body}");
    let history: Vec<Value> = serde_json::from_str(&body).unwrap();
    let steps: Vec<(String, String)> = history
        .iter()
        .map(|h| (js_str(&h["kind"]), js_str(&h["login"])))
        .collect();
    let expected = [
        ("registered", registered_by),
        ("accepted", "vodokanal"),
        ("commented", "vodokanal"),
        ("attached", "vodokanal"),
        ("extension_requested", "vodokanal"),
        ("extended", "sveta"),
        ("attached", "vodokanal"),
        ("closure_proposed", "vodokanal"),
        ("sent_to_verification", "sveta"),
        ("confirmed", "kontrol"),
    ];
    assert_eq!(
        steps,
        expected.map(|(k, l)| (k.to_string(), l.to_string())),
        "{body}"
    );
    assert!(history[3]["details"].get("proof").is_none(), "{body}");
    assert_eq!(
        history[1]["executor"], "vodokanal",
        "for its organisation: {body}"
    );
    assert_eq!(history[5]["executor"], Value::Null, "{body}");
    assert_eq!(history[6]["details"]["proof"], true, "{body}");
    supervisor.close().await;
}

/// The supervisor picks the card in the decisions queue and approves what
/// it asks; the queue empties.
async fn approve_in_the_queue(supervisor: &Browser, row: &str, screenshot: &str) {
    supervisor
        .until(
            "the request in the decisions queue",
            // Clicked where it is found: the queue redraws itself when a
            // change arrives, so an element found a moment earlier may be
            // gone by the click.
            &format!(
                "const r = document.querySelector(\"{row}\"); if (r) r.click(); return r && true"
            ),
            W,
        )
        .await
        .unwrap();
    let approve = "#decision-card button[data-action='approve']";
    supervisor
        .until(
            "the approve button",
            &format!("return document.querySelector(\"{approve}\")"),
            W,
        )
        .await
        .unwrap();
    supervisor.screenshot(&artifact(screenshot)).await.unwrap();
    supervisor.click(approve).await.unwrap();
    supervisor
        .click("#decision-card form button[type=submit]")
        .await
        .unwrap();
    supervisor
        .until(
            "the queue emptied",
            "return document.getElementById('decisions-count').textContent === '0'",
            W,
        )
        .await
        .unwrap();
}

/// An admin on the users page: a short password refused under its field,
/// a supervisor added, then disabled with a reason; the audit log below
/// says so.
#[tokio::test]
async fn an_admin_adds_and_disables_a_user_in_the_browser() {
    let app = spawn_app(AppOptions::default()).await;
    app.sign_in_as("root", Role::Admin).await;
    let browser = Browser::start().await.expect("chromium starts");
    sign_in_to(&browser, &app, "/users", "root", "view-users", false).await;
    browser
        .until(
            "the users listed",
            "return document.querySelector('#users-list tr[data-login=\"root\"]')",
            W,
        )
        .await
        .unwrap();
    browser.type_into("#ua-login", "maria").await.unwrap();
    browser.type_into("#ua-name", "Марія Бондар").await.unwrap();
    browser.type_into("#ua-password", "short").await.unwrap();
    browser.click("#ua-form button[type=submit]").await.unwrap();
    let message = browser
        .until(
            "the password's message",
            "return document.getElementById('e-ua-password').textContent",
            W,
        )
        .await
        .unwrap();
    assert!(js_str(&message).contains("8"), "{message}");
    assert!(app.store().user_by_login("maria").await.unwrap().is_none());
    // A generated password, and she is added.
    browser.click("#ua-generate").await.unwrap();
    browser.click("#ua-form button[type=submit]").await.unwrap();
    browser
        .until(
            "maria listed",
            "return document.querySelector('#users-list tr[data-login=\"maria\"]')",
            W,
        )
        .await
        .unwrap();
    let maria = app.store().user_by_login("maria").await.unwrap().unwrap();
    assert_eq!(maria.display_name, "Марія Бондар");
    assert_eq!(maria.role, Role::Supervisor);

    // Disabled, with a reason.
    browser
        .click("#users-list tr[data-login=\"maria\"] button")
        .await
        .unwrap();
    browser.click("#ue-disabled").await.unwrap();
    browser
        .type_into("#ue-reason", "звільнилася")
        .await
        .unwrap();
    browser
        .click("tr[data-control=\"maria\"] button[type=submit]")
        .await
        .unwrap();
    browser
        .until(
            "maria disabled",
            "const r = document.querySelector('#users-list tr[data-login=\"maria\"]'); \
             return r && r.classList.contains('muted')",
            W,
        )
        .await
        .unwrap();
    let maria = app.store().user_by_login("maria").await.unwrap().unwrap();
    assert!(maria.disabled_at.is_some());
    let log = browser.text("#audit-list").await.unwrap();
    assert!(
        log.contains("звільнилася") && log.contains("maria"),
        "{log}"
    );
    browser
        .screenshot(&artifact("admin-users.png"))
        .await
        .unwrap();
    browser.close().await;
}

/// A supervisor listens in from the live view (issue 21): `Слухати` on a
/// talking operator's row rings her softphone (auto-answering here), the
/// row then says she listens and offers the other modes and hanging up;
/// `Підказувати` switches, `Покласти слухавку` ends it and her phone is
/// hung up.
#[tokio::test]
async fn a_supervisor_listens_in_and_whispers_from_the_live_view() {
    let app = spawn_app(AppOptions::default()).await;
    demo::seed(app.store(), Utc::now()).await.unwrap();
    operator_with_user(&app, "olena", "1001").await;
    // Sveta's softphone, linked to her by the admin.
    let phone_record =
        hotline::store::NewOperator::new("sveta-phone", "1090", None, vec![], Utc::now());
    app.store()
        .add_operator(
            &phone_record,
            "secret123",
            hotline::store::operators::DEFAULT_REALM,
        )
        .await
        .unwrap();
    app.sign_in_as("sveta", Role::Supervisor).await;
    let (status, body) = app
        .api("PUT", "/api/users/sveta", r#"{"operator":"sveta-phone"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    let mut olena_phone = phone(&app, "1001").await;
    let mut sveta_phone =
        crate::console::phone_answering(&app, "1090", crate::peers::baresip::AnswerMode::Auto)
            .await;

    let supervisor = Browser::start().await.expect("chromium starts");
    sign_in(&supervisor, &app, "/", "sveta", "view-live").await;
    let mut citizen = citizen_asks_for_an_operator(&app).await;
    // (The demo caller first hears the outage at their address.)
    olena_phone
        .wait_event(|e| e.is("CALL_INCOMING"), Duration::from_secs(40))
        .await
        .unwrap();
    olena_phone.accept().await.unwrap();
    olena_phone.wait_established(T).await.unwrap();

    let olena_buttons = "return [...document.querySelectorAll('#live-operators tr[data-operator=\"olena\"] button[data-monitor]')].map(b => b.dataset.monitor).join(' ')";
    let buttons = supervisor
        .until(
            "listen buttons on olena's row",
            &format!("const b = (() => {{ {olena_buttons} }})(); return b.includes('monitor_do_listen') && b"),
            W,
        )
        .await
        .unwrap();
    assert_eq!(
        js_str(&buttons),
        "monitor_do_listen monitor_do_whisper monitor_do_barge"
    );
    supervisor
        .click("#live-operators tr[data-operator=\"olena\"] button[data-monitor=\"monitor_do_listen\"]")
        .await
        .unwrap();
    sveta_phone
        .wait_established(T)
        .await
        .expect("sveta's softphone answers");
    let state = supervisor
        .until(
            "olena's row says sveta listens",
            "const r = document.querySelector('#live-operators tr[data-operator=\"olena\"] td.state'); \
             return r && r.textContent.includes('слухає') && r.textContent",
            W,
        )
        .await
        .unwrap();
    assert!(js_str(&state).contains("sveta"), "{state}");
    let buttons = supervisor.js(olena_buttons, vec![]).await.unwrap();
    assert_eq!(
        js_str(&buttons),
        "monitor_do_whisper monitor_do_barge monitorStop"
    );
    supervisor
        .click("#live-operators tr[data-operator=\"olena\"] button[data-monitor=\"monitor_do_whisper\"]")
        .await
        .unwrap();
    supervisor
        .until(
            "olena's row says sveta whispers",
            "const r = document.querySelector('#live-operators tr[data-operator=\"olena\"] td.state'); \
             return r && r.textContent.includes('підказує')",
            W,
        )
        .await
        .unwrap();
    supervisor
        .screenshot(&artifact("live-monitor.png"))
        .await
        .unwrap();
    supervisor
        .click("#live-operators tr[data-operator=\"olena\"] button[data-monitor=\"monitorStop\"]")
        .await
        .unwrap();
    sveta_phone
        .wait_closed(T)
        .await
        .expect("her softphone is hung up");
    supervisor
        .until(
            "listen offered again",
            &format!("return (() => {{ {olena_buttons} }})().startsWith('monitor_do_listen')"),
            W,
        )
        .await
        .unwrap();
    citizen.hangup().await.unwrap();
    supervisor.close().await;
    for p in [olena_phone, sveta_phone, citizen] {
        p.stop().await;
    }
}

/// The operators' page (issue 21): an admin adds an operator (a bad
/// extension is refused under its field), puts them in two queues with
/// penalties, takes one away (applied at once to the signed-in operator),
/// and removes them after confirming; each step is in the audit log.
#[tokio::test]
async fn an_admin_keeps_operators_and_their_queues_in_the_browser() {
    let app = spawn_app(AppOptions::default()).await;
    app.sign_in_as("root", Role::Admin).await;
    let browser = Browser::start().await.expect("chromium starts");
    sign_in_to(
        &browser,
        &app,
        "/operators",
        "root",
        "view-operators",
        false,
    )
    .await;
    let queues = browser
        .until(
            "the queues to pick",
            "const q = [...document.querySelectorAll('#oa-queues input[type=checkbox]')].map(i => i.dataset.queue); \
             return q.length >= 2 && q",
            W,
        )
        .await
        .unwrap();
    let queues: Vec<String> = serde_json::from_value(queues).unwrap();
    let (first, second) = (queues[0].clone(), queues[1].clone());
    browser.type_into("#oa-login", "ivan").await.unwrap();
    browser
        .type_into("#oa-name", "Іван Сидоренко")
        .await
        .unwrap();
    browser.type_into("#oa-extension", "10a").await.unwrap();
    browser.click("#oa-generate").await.unwrap();
    browser.click(&format!("#oa-q-{first}")).await.unwrap();
    browser.click(&format!("#oa-q-{second}")).await.unwrap();
    browser
        .js(
            &format!(
                "const p = document.getElementById('oa-p-{second}'); p.value = '3'; return true"
            ),
            vec![],
        )
        .await
        .unwrap();
    browser.click("#oa-form button[type=submit]").await.unwrap();
    let message = browser
        .until(
            "the extension's message",
            "return document.getElementById('e-oa-extension').textContent",
            W,
        )
        .await
        .unwrap();
    assert!(js_str(&message).contains("цифр"), "{message}");
    assert!(
        app.store()
            .operator_by_login("ivan")
            .await
            .unwrap()
            .is_none()
    );
    browser
        .js(
            "document.getElementById('oa-extension').value = ''; return true",
            vec![],
        )
        .await
        .unwrap();
    browser.type_into("#oa-extension", "1077").await.unwrap();
    browser.click("#oa-form button[type=submit]").await.unwrap();
    let row = browser
        .until(
            "ivan listed",
            "const r = document.querySelector('#operators-list tr[data-login=\"ivan\"]'); return r && r.textContent",
            W,
        )
        .await
        .unwrap();
    assert!(js_str(&row).contains("(3)"), "{row}");
    let ivan = app
        .store()
        .operator_by_login("ivan")
        .await
        .unwrap()
        .unwrap();
    let served: Vec<(String, u32)> = ivan
        .queues
        .iter()
        .map(|m| (m.queue.clone(), m.penalty))
        .collect();
    let mut expected = vec![(first.clone(), 0), (second.clone(), 3)];
    expected.sort();
    assert_eq!(served, expected);
    // Signed in, then the second queue taken away: applied at once.
    let (status, _) = app
        .api(
            "PUT",
            "/api/operators/ivan/state",
            r#"{"state":"available"}"#,
        )
        .await;
    assert_eq!(status, 200);
    browser
        .click("#operators-list tr[data-login=\"ivan\"] button[data-action=\"edit\"]")
        .await
        .unwrap();
    browser.click(&format!("#oe-q-{second}")).await.unwrap();
    browser
        .type_into("#oe-reason", "лише загальна")
        .await
        .unwrap();
    browser
        .click("tr[data-control=\"ivan\"] button[type=submit]")
        .await
        .unwrap();
    browser
        .until(
            "ivan's queues saved",
            "const r = document.querySelector('#operators-list tr[data-login=\"ivan\"]'); \
             return r && !document.querySelector('tr[data-control=\"ivan\"]') && !r.textContent.includes('(3)')",
            W,
        )
        .await
        .unwrap();
    let live = crate::eventually(T, || async {
        let (_, body) = app.api("GET", "/api/live", "").await;
        let v: Value = serde_json::from_str(&body).ok()?;
        let ivan = v["operators"]
            .as_array()?
            .iter()
            .find(|o| o["login"] == "ivan")?
            .clone();
        (ivan["queues"] == json!([first.clone()]) && ivan["state"] == "available").then_some(ivan)
    })
    .await;
    assert!(
        live.is_some(),
        "the service took the new queues at once, ivan still available"
    );
    browser
        .screenshot(&artifact("admin-operators.png"))
        .await
        .unwrap();

    // Removing asks first.
    browser
        .click("#operators-list tr[data-login=\"ivan\"] button[data-action=\"remove\"]")
        .await
        .unwrap();
    browser
        .click("tr[data-control=\"ivan\"] button[data-confirm=\"remove\"]")
        .await
        .unwrap();
    browser
        .until(
            "ivan gone",
            "return !document.querySelector('#operators-list tr[data-login=\"ivan\"]')",
            W,
        )
        .await
        .unwrap();
    assert!(
        app.store()
            .operator_by_login("ivan")
            .await
            .unwrap()
            .is_none()
    );
    let (_, audit) = app.api("GET", "/api/audit?target=ivan", "").await;
    let audit: Value = serde_json::from_str(&audit).unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // (The admin's sign-in of ivan above is a staff change too.)
    assert_eq!(
        actions,
        [
            "operator.remove",
            "operator.update",
            "operator.state",
            "operator.add"
        ]
    );
    browser.close().await;
}

/// Copies a folder (the shipped voice menu) to `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The voice menu page (issue 21): the tree of the menu in force with its
/// titles and keys; a prompt played; a file that is not audio refused
/// with a message and nothing replaced; a studio recording (44.1 kHz
/// stereo) taken, converted and in force at once; a broken menu file found
/// by the check and refused by the reload, the running menu kept.
#[tokio::test]
async fn an_admin_checks_the_voice_menu_and_replaces_a_prompt_in_the_browser() {
    let ivr = tempfile::tempdir().unwrap();
    copy_tree(&crate::repo().join("ivr-scripts"), ivr.path());
    let app = spawn_app(AppOptions {
        scripts_dir: Some(ivr.path().to_path_buf()),
        ..Default::default()
    })
    .await;
    app.sign_in_as("root", Role::Admin).await;
    let browser = Browser::start().await.expect("chromium starts");
    sign_in_to(&browser, &app, "/ivr", "root", "view-ivr", false).await;
    let tree = browser
        .until(
            "the menu tree",
            "const t = document.getElementById('ivr-tree'); return t.querySelector('[data-file=\"main\"] .ivr-node') && t.textContent",
            W,
        )
        .await
        .unwrap();
    let tree = js_str(&tree);
    assert!(tree.contains("main.toml (вхід)"), "{tree}");
    assert!(tree.contains("Привітання"), "{tree}");
    assert!(tree.contains("клавіша 1"), "{tree}");
    // Played as callers hear it.
    let before = app
        .store()
        .audit_log(Some("greeting"), 10)
        .await
        .unwrap()
        .len();
    let played = crate::request_bytes(
        app.http_addr,
        "GET",
        "/api/admin/ivr/prompt?name=greeting",
        &app.admin().await.headers(),
        b"",
    )
    .await;
    assert_eq!(played.status, 200);
    assert_eq!(&played.bytes[..4], b"RIFF");
    browser
        .click("#ivr-prompts tr[data-prompt=\"greeting\"] button")
        .await
        .unwrap();
    let src = browser
        .until(
            "the player loads the prompt",
            "const a = document.getElementById('ivr-audio'); return a.src.includes('greeting') && a.src",
            W,
        )
        .await
        .unwrap();
    assert!(js_str(&src).contains("/api/admin/ivr/prompt?name=greeting"));

    // Not audio: refused, nothing replaced.
    let greeting = ivr.path().join("prompts/uk/greeting.wav");
    let original = std::fs::read(&greeting).unwrap();
    let junk = tempfile::Builder::new().suffix(".wav").tempfile().unwrap();
    std::fs::write(junk.path(), b"this is not a recording").unwrap();
    browser
        .type_into(
            "input[data-prompt=\"greeting\"]",
            &junk.path().display().to_string(),
        )
        .await
        .unwrap();
    let refused = browser
        .until(
            "the refusal",
            "const r = document.getElementById('ivr-result').textContent; return r.includes('аудіо') && r",
            W,
        )
        .await
        .unwrap();
    assert!(js_str(&refused).contains("аудіо"), "{refused}");
    assert_eq!(std::fs::read(&greeting).unwrap(), original);

    // A studio recording: 44.1 kHz stereo, 1.5 s of a tone.
    let studio = tempfile::Builder::new().suffix(".wav").tempfile().unwrap();
    {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(studio.path(), spec).unwrap();
        for i in 0..(44_100 * 3 / 2) {
            let v =
                ((i as f64 * 2.0 * std::f64::consts::PI * 600.0 / 44_100.0).sin() * 8000.0) as i16;
            w.write_sample(v).unwrap();
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
    }
    browser
        .js(
            "document.getElementById('ivr-result').textContent = ''; return true",
            vec![],
        )
        .await
        .unwrap();
    browser
        .type_into(
            "input[data-prompt=\"greeting\"]",
            &studio.path().display().to_string(),
        )
        .await
        .unwrap();
    browser
        .until(
            "the prompt replaced",
            "const r = document.querySelector('#ivr-prompts tr[data-prompt=\"greeting\"] td.num'); return r && r.textContent === '1.5 с'",
            W,
        )
        .await
        .unwrap();
    let kept = hotline::media::decode_file(&greeting).unwrap();
    assert!((kept.duration().as_secs_f64() - 1.5).abs() < 0.05);
    assert_eq!(
        app.store()
            .audit_log(Some("greeting"), 10)
            .await
            .unwrap()
            .len(),
        before + 1,
        "the replacement is audited"
    );
    browser
        .screenshot(&artifact("admin-ivr.png"))
        .await
        .unwrap();

    // A broken menu file: the check names it, the reload refuses it.
    let main = ivr.path().join("main.toml");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(
        &main,
        format!("{text}\n[nodes.broken]\ntype = \"play\"\nnext = \"nowhere\"\n"),
    )
    .unwrap();
    browser.click("#ivr-check").await.unwrap();
    let problems = browser
        .until(
            "the check's problems",
            "const r = document.getElementById('ivr-result'); return r.querySelector('li') && r.textContent",
            W,
        )
        .await
        .unwrap();
    assert!(js_str(&problems).contains("main.toml"), "{problems}");
    browser.click("#ivr-reload").await.unwrap();
    browser
        .until(
            "the reload refused",
            "const r = document.getElementById('ivr-result'); return r.querySelector('.error') && r.querySelector('li')",
            W,
        )
        .await
        .unwrap();
    let (_, body) = app.api("GET", "/api/admin/ivr", "").await;
    assert!(!body.contains("main:broken"), "the running menu is kept");
    browser.close().await;
}
