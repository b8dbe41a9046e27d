//! Blocked callers over real SIP calls: refused (403) or told and hung up,
//! in every written form of the number, named by From, P-Asserted-Identity
//! or Remote-Party-ID; temporary blocks expiring; withheld numbers by their
//! own policy; the block list from the API and the command line.

use std::time::Duration;

use chrono::Utc;
use hotline::store::Disposition;
use hotline::store::Role;
use serde_json::Value;

use crate::peers::baresip::{Baresip, BaresipOptions};
use crate::peers::sipp::{run_scenario, scenario_path};
use crate::{AppOptions, T, TestApp, eventually, request, spawn_app};

const NUMBER: &str = "+380611234567";

fn reject_policy(anonymous: &str) -> AppOptions {
    AppOptions {
        extra: format!("[blocking]\naction = \"reject\"\nanonymous = \"{anonymous}\"\n"),
        ..Default::default()
    }
}

/// A call from `from_user` with one identity header (or `X-Identity: none`)
/// that must be refused with 403.
async fn refused(app: &TestApp, from_user: &str, identity: &str) {
    let out = run_scenario(
        &scenario_path("invite_identity_403.xml"),
        app.sip_addr,
        &[
            "-s",
            "1580",
            "-key",
            "from_user",
            from_user,
            "-key",
            "identity",
            identity,
        ],
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    out.ensure_success()
        .unwrap_or_else(|e| panic!("{from_user} / {identity}: {e}"));
}

async fn block(app: &TestApp, number: &str, reason: &str) -> (u16, Value) {
    let body = serde_json::json!({ "number": number, "reason": reason }).to_string();
    let (status, body) = app.api("POST", "/api/blocked", &body).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// A call that is answered, from `from_user`.
async fn answered(app: &TestApp, from_user: &str) -> Baresip {
    let mut caller = Baresip::spawn(BaresipOptions {
        from_user: from_user.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    caller.dial(&app.uri("1580")).await.unwrap();
    caller
        .wait_established(T)
        .await
        .unwrap_or_else(|e| panic!("{from_user} is not answered: {e}"));
    caller
}

#[tokio::test]
async fn a_blocked_number_is_refused_in_every_written_form_and_identity_header() {
    let app = spawn_app(reject_policy("allow")).await;
    // Blocked as a supervisor would type it; again in another form, which
    // is the same number: blocked already, not doubled.
    let (status, first) = block(&app, "(061) 123 45 67", "нецензурна лайка").await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["number"], NUMBER);
    let (status, second) = block(&app, "tel:+380611234567", "образи").await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["already_blocked"], true);
    let (_, list) = app.api("GET", "/api/blocked", "").await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["blocked"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["blocked"][0]["reason"], "нецензурна лайка");
    let (status, bad) = block(&app, "1580", "x").await;
    assert_eq!(status, 422, "a service code is not a number: {bad}");

    for (from, identity) in [
        ("0611234567", "X-Identity: none"),
        ("380611234567", "X-Identity: none"),
        ("+380611234567", "X-Identity: none"),
        (
            "anonymous",
            "P-Asserted-Identity: <sip:+380611234567@pbx.example>",
        ),
        ("anonymous", "P-Asserted-Identity: <tel:0611234567>"),
        (
            "anonymous",
            "Remote-Party-ID: \"Citizen\" <sip:0611234567@pbx.example>;party=calling;screen=yes",
        ),
        // The identity header wins over From.
        (
            "0500000000",
            "P-Asserted-Identity: <sip:380611234567@pbx.example>",
        ),
    ] {
        refused(&app, from, identity).await;
    }
    // Every attempt counted against the block.
    let (_, list) = app.api("GET", "/api/blocked", "").await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["blocked"][0]["attempts"], 7, "{list}");
    // None of them reached the menu, a queue or a recording.
    for call in app.store().list_calls(20).await.unwrap() {
        assert_eq!(call.disposition, Some(Disposition::Blocked), "{call:?}");
        assert_eq!(call.sip_status, Some(403));
        assert!(call.answered_at.is_none());
        assert!(
            app.store()
                .recordings_for_call(call.id)
                .await
                .unwrap()
                .is_empty()
        );
        let events = app.store().call_events(call.id).await.unwrap();
        assert!(events.iter().all(|e| e.kind == "screening"), "{events:?}");
    }
    // Another number gets through.
    let other = answered(&app, "0612223344").await;
    other.stop().await;
    // Lifted: the number gets through again, and the lift is on record.
    let (status, lifted) = app.api("DELETE", "/api/blocked/0611234567", "").await;
    assert_eq!(status, 200, "{lifted}");
    assert!(lifted.contains("\"end_reason\":\"lifted\""), "{lifted}");
    let (status, _) = app.api("DELETE", "/api/blocked/0611234567", "").await;
    assert_eq!(status, 404, "nothing left to lift");
    let again = answered(&app, "0611234567").await;
    again.stop().await;
    let (_, history) = app.api("GET", "/api/blocked?history=1", "").await;
    let history: Value = serde_json::from_str(&history).unwrap();
    let reasons: Vec<&str> = history["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["end_reason"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(reasons, ["lifted"], "{history}");
}

#[tokio::test]
async fn a_blocked_caller_is_told_so_and_hung_up_never_reaching_an_operator() {
    let app = spawn_app(AppOptions::default()).await;
    let (status, _) = block(&app, "061 123 45 67", "погрози").await;
    assert_eq!(status, 201);
    let mut caller = answered(&app, "0611234567").await;
    // Keys pressed do nothing: the blocked menu has none.
    tokio::time::sleep(Duration::from_millis(500)).await;
    caller.send_dtmf("0").await.unwrap();
    caller
        .wait_closed(Duration::from_secs(20))
        .await
        .expect("the server hangs up after the prompt");
    let call = crate::ended_call(&app).await;
    assert_eq!(call.disposition, Some(Disposition::Blocked));
    assert!(call.answered_at.is_some(), "answered, to be told");
    let events = app.store().call_events(call.id).await.unwrap();
    let kinds: Vec<String> = events
        .iter()
        .map(|e| format!("{} {}", e.kind, e.detail))
        .collect();
    assert!(
        kinds.contains(&"screening blocked prompt".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| k.starts_with("ivr blocked:blocked")),
        "{kinds:?}"
    );
    assert!(
        !kinds
            .iter()
            .any(|k| k.starts_with("queue") || k.contains("main:")),
        "a blocked caller reached the menu or a queue: {kinds:?}"
    );
    // Told, and recorded like every call: what the caller heard is the
    // blocked prompt.
    let recs = eventually(T, || async {
        let r = app.store().recordings_for_call(call.id).await.ok()?;
        r.first().filter(|r| r.ended_at.is_some()).cloned()
    })
    .await
    .expect("the call is recorded");
    let (_, _, heard) = crate::read_stereo(&app.recordings.path().join(&recs.path));
    let prompt = crate::prompt("blocked");
    assert!(
        heard.len() >= prompt.len() * 9 / 10,
        "the whole prompt was played: {} of {} samples",
        heard.len(),
        prompt.len()
    );
    let (_, list) = app.api("GET", "/api/blocked", "").await;
    assert!(list.contains("\"attempts\":1"), "{list}");
    caller.stop().await;
}

#[tokio::test]
async fn a_temporary_block_expires_and_its_expiry_is_recorded() {
    let app = spawn_app(reject_policy("allow")).await;
    let until = Utc::now() + chrono::TimeDelta::seconds(3);
    let body = serde_json::json!({
        "number": "0611234567", "reason": "тимчасово", "until": until.to_rfc3339(),
    })
    .to_string();
    let (status, body) = app.api("POST", "/api/blocked", &body).await;
    assert_eq!(status, 201, "{body}");
    refused(&app, "0611234567", "X-Identity: none").await;
    tokio::time::sleep_until(
        tokio::time::Instant::now() + (until - Utc::now()).to_std().unwrap_or_default(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let caller = answered(&app, "0611234567").await;
    caller.stop().await;
    // The sweep ends it, once, with the time it was due.
    let ended = app.store().expire_blocks(Utc::now()).await.unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].end_reason.as_deref(), Some("expired"));
    assert_eq!(ended[0].attempts, 1);
    assert!(
        app.store()
            .expire_blocks(Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn withheld_numbers_follow_their_own_policy() {
    let app = spawn_app(reject_policy("reject")).await;
    refused(&app, "anonymous", "X-Identity: none").await;
    let call = crate::ended_call(&app).await;
    assert_eq!(call.disposition, Some(Disposition::Blocked));
    let events = app.store().call_events(call.id).await.unwrap();
    assert!(
        events.iter().any(|e| e.detail == "withheld rejected"),
        "{events:?}"
    );
    // A number is served all the same.
    let caller = answered(&app, "0611234567").await;
    caller.stop().await;

    // By default withheld callers are served.
    let app = spawn_app(AppOptions::default()).await;
    let caller = answered(&app, "anonymous").await;
    caller.stop().await;
}

#[tokio::test]
async fn the_block_list_is_kept_from_the_command_line_and_by_role() {
    let app = spawn_app(AppOptions::default()).await;
    let hotline = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(["--config"])
            .arg(crate::repo().join("sip-config/hotline.toml"))
            .args(args)
            .env("HOTLINE_STORAGE__DATABASE_URL", app.db.url())
            .output()
            .expect("hotline runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out, err) = hotline(&[
        "block",
        "add",
        "+380 61 123-45-67",
        "--reason",
        "образи",
        "--until",
        "2099-01-01",
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("+380611234567 blocked until 2099-01-0"),
        "{out}"
    );
    let (ok, out, _) = hotline(&["block", "list"]);
    assert!(
        ok && out.contains("+380611234567") && out.contains("образи"),
        "{out}"
    );
    let (ok, _, err) = hotline(&["block", "add", "hello", "--reason", "x"]);
    assert!(!ok && err.contains("not a phone number"), "{err}");
    let (ok, out, err) = hotline(&["block", "remove", "sip:0611234567@pbx.example"]);
    assert!(ok, "{out}{err}");
    assert!(err.contains("block lifted"), "the lift is logged: {err}");
    let (ok, _, err) = hotline(&["block", "remove", "0611234567"]);
    assert!(!ok && err.contains("is not blocked"), "{err}");

    // Roles: supervisors and admins keep the list; others may not.
    let executor = app.sign_in_as("vodokanal", Role::Executor).await;
    let supervisor = app.sign_in_as("sveta", Role::Supervisor).await;
    let body = r#"{"number":"0671234567","reason":"x"}"#;
    for (session, code) in [(&executor, 403), (&supervisor, 201)] {
        let r = request(
            app.http_addr,
            "POST",
            "/api/blocked",
            &session.headers(),
            body,
        )
        .await;
        assert_eq!(r.status, code, "{}", r.body);
        let r = request(app.http_addr, "GET", "/api/blocked", &session.headers(), "").await;
        assert_eq!(r.status, if code == 201 { 200 } else { 403 });
    }
    let r = request(app.http_addr, "GET", "/api/blocked", &[], "").await;
    assert_eq!(r.status, 401);
}
