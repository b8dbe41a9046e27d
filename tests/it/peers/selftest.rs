//! Self-tests of the peer helpers, without the hotline server: baresip calls
//! baresip, sipp scenarios run against baresip. If these fail, the test
//! machine's baresip/sipp setup is broken, not the server. (~6 s.)

use std::time::Duration;

use super::baresip::{
    AnswerMode, Baresip, BaresipOptions, RegState, Registration, tone_ratio, wav_stats,
};
use super::sipp::{SippProcess, run_scenario, scenario_path};

const T: Duration = Duration::from_secs(5);

fn opts(user: &str) -> BaresipOptions {
    BaresipOptions {
        from_user: user.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn baresip_to_baresip_tone_and_dtmf() -> anyhow::Result<()> {
    let mut callee = Baresip::spawn(BaresipOptions {
        answer_mode: AnswerMode::Auto,
        tone_hz: Some(440),
        codecs: vec!["PCMU".into()],
        ..opts("agent")
    })
    .await?;
    let mut caller = Baresip::spawn(BaresipOptions {
        tone_hz: Some(1000),
        codecs: vec!["PCMU".into()],
        display_name: Some("Citizen Kane".into()),
        ..opts("0611234567")
    })
    .await?;
    caller.dial(&callee.uri_for("agent")).await?;
    caller.wait_established(T).await?;
    let inc = callee.wait_established(T).await?;
    assert_eq!(inc.peer_display_name.as_deref(), Some("Citizen Kane"));
    assert!(inc.peer_uri.as_deref().unwrap_or("").contains("0611234567"));

    tokio::time::sleep(Duration::from_secs(1)).await;
    let t0 = std::time::Instant::now();
    caller.send_dtmf("123#*9").await?;
    eprintln!("send_dtmf took {:?}", t0.elapsed());
    let mut got = String::new();
    for _ in 0..6 {
        let ev = callee.wait_event(|e| e.is("CALL_DTMF_START"), T).await?;
        got.push(ev.dtmf_digit().expect("CALL_DTMF_START has a digit"));
    }
    assert_eq!(got, "123#*9");
    tokio::time::sleep(Duration::from_secs(1)).await;

    let closed = caller.hangup().await?;
    assert_eq!(closed.param.as_deref(), Some("Connection reset by user"));
    assert_eq!(closed.sip_status(), None);
    let closed = callee.wait_closed(T).await?;
    assert_eq!(closed.param.as_deref(), Some("Connection reset by peer"));

    let heard_by_caller = caller.received_audio().await?;
    let heard_by_callee = callee.received_audio().await?;
    let s = wav_stats(&heard_by_caller)?;
    eprintln!("caller heard {s:?} in {}", heard_by_caller.display());
    assert_eq!(s.sample_rate, 8000);
    assert!(s.duration > Duration::from_secs(3), "{s:?}");
    let r440 = tone_ratio(&heard_by_caller, 440.0, Duration::from_millis(200))?;
    let r1000 = tone_ratio(&heard_by_caller, 1000.0, Duration::from_millis(200))?;
    eprintln!("caller: 440 ratio {r440}, 1000 ratio {r1000}");
    assert!(r440 > 0.8 && r1000 < 0.05);
    let r1000 = tone_ratio(&heard_by_callee, 1000.0, Duration::from_millis(200))?;
    let r440 = tone_ratio(&heard_by_callee, 440.0, Duration::from_millis(200))?;
    eprintln!("callee: 1000 ratio {r1000}, 440 ratio {r440}");
    assert!(r1000 > 0.8 && r440 < 0.05);
    caller.stop().await;
    callee.stop().await;
    Ok(())
}

#[tokio::test]
async fn pcma_only_and_wav_source() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // 22050 Hz like espeak-ng output: exercises the helper's resampling.
    let wav = dir.path().join("tone.wav");
    super::baresip::write_tone_wav(&wav, 1500.0, Duration::from_secs(2), 22050)?;
    let mut callee = Baresip::spawn(BaresipOptions {
        answer_mode: AnswerMode::Manual,
        codecs: vec!["PCMU".into(), "PCMA".into()],
        ..opts("agent")
    })
    .await?;
    let mut caller = Baresip::spawn(BaresipOptions {
        source_wav: Some(wav),
        codecs: vec!["PCMA".into()],
        ..opts("0611234567")
    })
    .await?;
    caller.dial(&callee.uri_for("agent")).await?;
    let ringing = caller.wait_event(|e| e.is("CALL_RINGING"), T).await?;
    eprintln!("ringing: {ringing:?}");
    callee.wait_event(|e| e.is("CALL_INCOMING"), T).await?;
    callee.accept().await?;
    caller.wait_established(T).await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    callee.hangup().await?;
    let closed = caller.wait_closed(T).await?;
    assert_eq!(closed.param.as_deref(), Some("Connection reset by peer"));
    assert!(callee.log().contains("Set audio encoder: PCMA"));
    let heard = callee.received_audio().await?;
    let s = wav_stats(&heard)?;
    let tone = tone_ratio(&heard, 1500.0, Duration::from_millis(100))?;
    eprintln!("callee heard {s:?}, 1500 Hz ratio over whole file {tone}");
    // 2 s of tone, then silence (the padding): the call must NOT end at 2 s.
    assert!(s.duration > Duration::from_secs(3), "{s:?}");
    assert!(tone > 0.8, "tone ratio {tone}");
    Ok(())
}

#[tokio::test]
async fn unsupported_codec_gets_488() -> anyhow::Result<()> {
    let callee = Baresip::spawn(BaresipOptions {
        answer_mode: AnswerMode::Auto,
        codecs: vec!["G722".into()],
        ..opts("agent")
    })
    .await?;
    let mut caller = Baresip::spawn(BaresipOptions {
        codecs: vec!["PCMU".into()],
        ..opts("0611234567")
    })
    .await?;
    caller.dial(&callee.uri_for("agent")).await?;
    let err = caller.wait_established(T).await.unwrap_err();
    eprintln!("expected error: {err}");
    let closed = caller
        .history()
        .iter()
        .find(|e| e.is("CALL_CLOSED"))
        .cloned()
        .expect("wait_established saw CALL_CLOSED");
    assert_eq!(closed.sip_status(), Some(488));
    assert_eq!(closed.param.as_deref(), Some("488 Not Acceptable Here"));

    // opus-only caller against the G722-only callee: also 488.
    let mut opus = Baresip::spawn(BaresipOptions {
        codecs: vec!["opus".into()],
        ..opts("0611234568")
    })
    .await?;
    opus.dial(&callee.uri_for("agent")).await?;
    let closed = opus.wait_closed(T).await?;
    assert_eq!(closed.sip_status(), Some(488));
    Ok(())
}

#[tokio::test]
async fn rejected_call_and_other_ip() -> anyhow::Result<()> {
    let mut callee = Baresip::spawn(BaresipOptions {
        local_ip: "127.0.0.2".into(),
        ..opts("agent")
    })
    .await?;
    let mut caller = Baresip::spawn(opts("0611234567")).await?;
    caller.dial(&callee.uri_for("agent")).await?;
    callee.wait_event(|e| e.is("CALL_INCOMING"), T).await?;
    callee.hangup().await?;
    let closed = caller.wait_closed(T).await?;
    assert_eq!(closed.sip_status(), Some(486));
    Ok(())
}

#[tokio::test]
async fn sipp_cancel_against_baresip() -> anyhow::Result<()> {
    let mut callee = Baresip::spawn(opts("agent")).await?;
    let out = run_scenario(
        &scenario_path("cancel.xml"),
        callee.sip_addr(),
        &[
            "-s",
            "agent",
            "-key",
            "from_user",
            "0611234567",
            "-d",
            "1000",
        ],
        Duration::from_secs(15),
    )
    .await?;
    out.ensure_success()?;
    assert_eq!(out.response_codes(), vec![180, 200, 487]);
    callee.wait_event(|e| e.is("CALL_INCOMING"), T).await?;
    let closed = callee.wait_closed(T).await?;
    assert_eq!(closed.param.as_deref(), Some("Connection reset by peer"));
    Ok(())
}

#[tokio::test]
async fn sipp_488_and_403_against_baresip() -> anyhow::Result<()> {
    let callee = Baresip::spawn(BaresipOptions {
        answer_mode: AnswerMode::Auto,
        codecs: vec!["G722".into()],
        ..opts("agent")
    })
    .await?;
    let g729 = [
        "-s",
        "agent",
        "-key",
        "from_user",
        "0611234567",
        "-key",
        "pt",
        "18",
        "-key",
        "rtpmap",
        "G729/8000",
    ];
    let out = run_scenario(
        &scenario_path("invite_488.xml"),
        callee.sip_addr(),
        &g729,
        Duration::from_secs(15),
    )
    .await?;
    out.ensure_success()?;
    // Same offer, but expecting 403: must fail, with a useful report.
    let out = run_scenario(
        &scenario_path("invite_403.xml"),
        callee.sip_addr(),
        &g729,
        Duration::from_secs(15),
    )
    .await?;
    assert!(!out.success);
    let report = out.report();
    eprintln!("{report}");
    assert!(report.contains("488 Not Acceptable Here"));
    // Missing -key: load error, reported.
    let out = run_scenario(
        &scenario_path("invite_488.xml"),
        callee.sip_addr(),
        &["-s", "agent"],
        Duration::from_secs(15),
    )
    .await;
    match out {
        Ok(o) => assert!(!o.success),
        Err(e) => eprintln!("missing key error: {e}"),
    }
    Ok(())
}

async fn register_against_sipp(
    scenario: &str,
    password: &str,
) -> anyhow::Result<(super::sipp::SippOutcome, Baresip)> {
    let registrar = SippProcess::spawn(
        &scenario_path(scenario),
        None,
        &[
            "-key",
            "user",
            "trunkuser",
            "-key",
            "pass",
            "s3cret",
            "-key",
            "realm",
            "hotline-test",
            "-key",
            "expires",
            "120",
        ],
        Duration::from_secs(10),
    )
    .await?;
    let mut ua = Baresip::spawn(BaresipOptions {
        registration: Some(Registration {
            registrar: registrar.local_addr().to_string(),
            user: "trunkuser".into(),
            password: Some(password.into()),
            expires: 60,
        }),
        ..opts("trunkuser")
    })
    .await?;
    let state = ua.wait_registration_done(T).await?;
    eprintln!("registration state with password {password:?}: {state:?}");
    let out = registrar.wait().await?;
    Ok((out, ua))
}

#[tokio::test]
async fn sipp_registrar_with_baresip() -> anyhow::Result<()> {
    for scenario in ["register_trunk_uas.xml", "register_trunk_uas_qop.xml"] {
        let (out, mut ua) = register_against_sipp(scenario, "s3cret").await?;
        out.ensure_success()?;
        assert_eq!(ua.registration_state().await?, RegState::Registered);
        ua.wait_registered(T).await?;
        let (out, mut ua) = register_against_sipp(scenario, "wrong").await?;
        assert!(!out.success, "wrong password accepted");
        assert!(
            out.errors.contains("digest authentication FAILED"),
            "{}",
            out.report()
        );
        assert_eq!(ua.registration_state().await?, RegState::Failed);
    }
    Ok(())
}
