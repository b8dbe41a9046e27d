//! The 15-80 menu over real calls from baresip: keys pressed on the phone,
//! what the caller heard decoded and matched against the prompts the menu
//! should have played, the path kept on the call record; `hotline ivr
//! check` on good and broken files; reload keeping the last good version.

use std::time::Duration;

use chrono::Utc;
use hotline::ivr::say;
use hotline::media::analysis::best_alignment;
use hotline::store::demo;

use crate::peers::baresip::{Baresip, BaresipOptions, read_wav_mono};
use crate::{AppOptions, T, prompt, scripts_copy, spawn_app};

/// Concatenated samples of these prompts, as the server plays them.
fn spoken(names: &[String]) -> Vec<i16> {
    names.iter().flat_map(|n| prompt(n)).collect()
}

fn heard(path: &std::path::Path) -> Vec<i16> {
    let (samples, rate) = read_wav_mono(path).expect("received audio");
    assert_eq!(rate, 8000);
    samples.iter().map(|s| (s * 32767.0) as i16).collect()
}

/// Where `needle` is in `haystack`, asserting a clear match.
fn find(haystack: &[i16], needle: &[i16], what: &str) -> usize {
    let (at, corr) = best_alignment(haystack, needle).unwrap_or((0, 0.0));
    eprintln!(
        "measured [ivr]: {what}: correlation {corr:.3} at {:.2} s",
        at as f64 / 8000.0
    );
    assert!(
        corr > 0.9,
        "{what} was not heard (best correlation {corr:.3})"
    );
    at
}

async fn ivr_steps(app: &crate::TestApp) -> Vec<String> {
    let call = crate::ended_call(app).await;
    let events = app.store().call_events(call.id).await.unwrap();
    events
        .into_iter()
        .filter(|e| e.kind == "ivr")
        .map(|e| e.detail)
        .collect()
}

#[tokio::test]
async fn menu_4_reads_back_a_seeded_appeal() {
    let app = spawn_app(AppOptions::default()).await;
    demo::seed(app.store(), Utc::now()).await.unwrap();
    let appeal = app
        .store()
        .appeal_by_registration_number(demo::APPEAL_NUMBER)
        .await
        .unwrap()
        .unwrap();
    // Another caller: no announcement for this number.
    let mut phone = Baresip::spawn(BaresipOptions {
        from_user: "0501112233".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    phone.dial(&app.uri("1580")).await.unwrap();
    phone.wait_established(T).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    phone.send_dtmf("4").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    phone.send_dtmf("15802026000123#").await.unwrap();

    let mut expected = vec!["appeal".to_string()];
    expected.extend(say::registration_number(demo::APPEAL_NUMBER));
    expected.extend([
        "appeal-status".to_string(),
        "status/in-progress".to_string(),
        "appeal-deadline".to_string(),
    ]);
    // On the city's clock (the working calendar's Europe/Kyiv).
    expected.extend(say::deadline(
        appeal
            .deadline
            .with_timezone(&chrono_tz::Europe::Kyiv)
            .naive_local(),
    ));
    let readback = spoken(&expected);
    tokio::time::sleep(Duration::from_secs_f64(
        readback.len() as f64 / 8000.0 + 1.5,
    ))
    .await;
    phone.hangup().await.unwrap();

    let audio = heard(&phone.received_audio().await.unwrap());
    let greeting_at = find(&audio, &prompt("greeting")[..8000], "greeting");
    let enter_at = find(
        &audio,
        &prompt("enter-number")[..4000],
        "enter-number after key 4",
    );
    let readback_at = find(
        &audio,
        &readback,
        "the appeal's number, status and deadline",
    );
    assert!(
        greeting_at < enter_at && enter_at < readback_at,
        "in order: {greeting_at} {enter_at} {readback_at}"
    );

    let steps = ivr_steps(&app).await;
    for step in [
        "main:greeting enter",
        "main:greeting barge-in 4",
        "main:main-menu key 4",
        "main:status-number collected 15802026000123",
        "main:status appeal 1580-2026-000123 in_progress",
    ] {
        assert!(
            steps.iter().any(|s| s == step),
            "path lacks {step:?}: {steps:?}"
        );
    }
    phone.stop().await;
}

#[tokio::test]
async fn outage_at_callers_address_first_then_menu_5() {
    // On PostgreSQL, so the IVR's lookups run on both backends.
    let app = spawn_app(AppOptions {
        backend: crate::Backend::Postgres,
        ..Default::default()
    })
    .await;
    demo::seed(app.store(), Utc::now()).await.unwrap();
    let work = app
        .store()
        .active_repair_works(Utc::now())
        .await
        .unwrap()
        .remove(0);
    // On the city's clock (the working calendar's Europe/Kyiv), whatever the machine's.
    let until = say::deadline(
        work.expected_end
            .with_timezone(&chrono_tz::Europe::Kyiv)
            .naive_local(),
    );
    // The seeded appeal's caller: their address has a water outage.
    let mut phone = Baresip::spawn(BaresipOptions {
        from_user: "0611234567".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    phone.dial(&app.uri("1580")).await.unwrap();
    phone.wait_established(T).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // "5" during the greeting: the announcement for the address comes
    // first, then the menu takes the 5 and lists every outage.
    phone.send_dtmf("5").await.unwrap();
    let mut at_address = vec![
        "outage-at-your-address",
        "outage/emergency",
        "service/water",
        "outage-until",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    at_address.extend(until.clone());
    let mut listing = vec![
        "outages-intro",
        "outage/emergency",
        "service/water",
        "outage-until",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    listing.extend(until);
    let (a, b) = (spoken(&at_address), spoken(&listing));
    tokio::time::sleep(Duration::from_secs_f64(
        (a.len() + b.len()) as f64 / 8000.0 + 1.5,
    ))
    .await;
    phone.hangup().await.unwrap();

    let audio = heard(&phone.received_audio().await.unwrap());
    let first = find(&audio, &a, "the outage at the caller's address");
    let second = find(&audio, &b, "menu 5's list of outages");
    assert!(first < second);
    let steps = ivr_steps(&app).await;
    assert!(
        steps.iter().any(|s| s == "main:outage-check outages 1"),
        "{steps:?}"
    );
    assert!(
        steps.iter().any(|s| s == "main:main-menu key 5"),
        "{steps:?}"
    );
    assert!(
        steps.iter().any(|s| s == "main:outages outages 1"),
        "{steps:?}"
    );
    phone.stop().await;
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in file")
        + 1
}

#[tokio::test]
async fn ivr_check_reports_file_and_line() {
    let run = |dir: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(["ivr", "check"])
            .arg(dir)
            .arg("--config")
            .arg(crate::repo().join("sip-config/hotline.toml"))
            .output()
            .expect("hotline runs")
    };
    let good = run(&crate::repo().join("ivr-scripts"));
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stdout)
    );
    assert!(String::from_utf8_lossy(&good.stdout).contains("OK, 25 nodes"));

    let dir = scripts_copy();
    let main = dir.path().join("main.toml");
    let text = std::fs::read_to_string(&main).unwrap();
    let broken = text
        .replace("next = \"status\"", "next = \"stauts\"")
        .replace(
            "prompt = \"transfer-operator\"",
            "prompt = \"transfer-operater\"",
        )
        .replace(
            "\"5\" = \"outages\"",
            "\"5\" = \"outages\", \"x\" = \"roads\"",
        );
    std::fs::write(&main, &broken).unwrap();
    let out = run(dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let at = |needle| format!("main.toml:{}:", line_of(&broken, needle));
    for (needle, message) in [
        ("next = \"stauts\"", "unknown node main:stauts"),
        ("transfer-operater", "missing prompt \"transfer-operater\""),
        ("\"x\" = \"roads\"", "bad key \"x\""),
    ] {
        let expected = format!("{} {message}", at(needle));
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(&at(needle)) && l.contains(message)),
            "{expected} not in:\n{stdout}"
        );
    }
}

#[tokio::test]
async fn reload_refuses_a_broken_version_and_takes_a_good_one() {
    let dir = scripts_copy();
    let app = spawn_app(AppOptions {
        scripts_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .await;
    let main = dir.path().join("main.toml");
    let original = std::fs::read_to_string(&main).unwrap();

    // Broken (an unknown node), and with another greeting: had the broken
    // version been taken, calls would hear "goodbye" first.
    let broken = original
        .replace("next = \"outage-check\"", "next = \"nowhere\"")
        .replace("prompt = \"greeting\"", "prompt = \"goodbye\"");
    std::fs::write(&main, broken).unwrap();
    let (status, body) = app.api("POST", "/api/ivr/reload", "").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("unknown node main:nowhere"), "{body}");

    // Still the old version: a call hears the greeting, not "goodbye".
    let call = |expected: &'static str| {
        let uri = app.uri("1580");
        async move {
            let mut phone = Baresip::spawn(BaresipOptions {
                from_user: "0501112233".into(),
                ..Default::default()
            })
            .await
            .unwrap();
            phone.dial(&uri).await.unwrap();
            phone.wait_established(T).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1500)).await;
            phone.hangup().await.unwrap();
            let audio = heard(&phone.received_audio().await.unwrap());
            find(&audio, &prompt(expected)[..6000], expected);
            let other = if expected == "greeting" {
                "goodbye"
            } else {
                "greeting"
            };
            let (_, corr) = best_alignment(&audio, &prompt(other)[..6000]).unwrap_or((0, 0.0));
            assert!(
                corr < 0.5,
                "{other} must not be heard (correlation {corr:.3})"
            );
            phone.stop().await;
        }
    };
    call("greeting").await;

    // A menu that routes to a queue nobody defined is refused as well.
    std::fs::write(
        &main,
        original.replace("queue = \"roads\"", "queue = \"raods\""),
    )
    .unwrap();
    let (status, body) = app.api("POST", "/api/ivr/reload", "").await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("main.toml:")
            && body.contains("raods")
            && body.contains("not defined in the queues file"),
        "{body}"
    );

    // A good edit is taken by the next call.
    std::fs::write(
        &main,
        original.replace("prompt = \"greeting\"", "prompt = \"goodbye\""),
    )
    .unwrap();
    let (status, body) = app.api("POST", "/api/ivr/reload", "").await;
    assert_eq!(status, 200, "{body}");
    call("goodbye").await;
}

#[tokio::test]
async fn keys_sent_as_sip_info_drive_the_menu() {
    let app = spawn_app(AppOptions::default()).await;
    // "4" as dtmf-relay during the greeting: menu 4 (enter your number);
    // "#" as application/dtmf: an empty entry, so the collection asks again.
    let out = crate::peers::sipp::run_scenario(
        &crate::peers::sipp::scenario_path("info_dtmf.xml"),
        app.sip_addr,
        &[
            "-s",
            "1580",
            "-key",
            "from_user",
            "0501112233",
            "-key",
            "relay_digit",
            "4",
            "-key",
            "plain_digit",
            "#",
        ],
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    out.ensure_success().unwrap();
    let call = crate::ended_call(&app).await;
    let events = app.store().call_events(call.id).await.unwrap();
    let digits: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "dtmf")
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(digits, vec!["4", "#"]);
    let steps: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "ivr")
        .map(|e| e.detail.as_str())
        .collect();
    assert!(steps.contains(&"main:main-menu key 4"), "{steps:?}");
    assert!(
        steps.contains(&"main:status-number timeout")
            || steps.contains(&"main:status-number too short "),
        "{steps:?}"
    );
}
