//! Whole calls from baresip: handshake, a tone both ways, RFC 4733 digits,
//! hang-up by the caller; then the recording and the call record are checked
//! against what really happened on the wire.

use std::time::Duration;

use hotline::media::analysis::{best_alignment, rms, tone_fraction};
use hotline::store::{Disposition, EndedBy};

use crate::peers::baresip::{Baresip, BaresipOptions, read_wav_mono};
use crate::{AppOptions, Backend, T, prompt, read_stereo, spawn_app};

const TONE_HZ: u32 = 1000;
const DIGITS: &str = "159#*0";

fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples.iter().map(|s| (s * 32767.0) as i16).collect()
}

async fn full_call(codec: &str, backend: Backend, transport_tcp: bool) {
    let app = spawn_app(AppOptions {
        backend,
        ..Default::default()
    })
    .await;
    let mut phone = Baresip::spawn(BaresipOptions {
        codecs: vec![codec.into()],
        tone_hz: Some(TONE_HZ),
        from_user: "0611234567".into(),
        ..Default::default()
    })
    .await
    .expect("baresip starts");
    let uri = if transport_tcp {
        format!("{};transport=tcp", app.uri("1580"))
    } else {
        app.uri("1580")
    };
    phone.dial(&uri).await.expect("dial");
    phone.wait_established(T).await.expect("call is answered");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    phone.send_dtmf(DIGITS).await.expect("DTMF");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    phone.hangup().await.expect("hang up");

    // Digits: each exactly once, in order.
    let store = app.store();
    let call = crate::eventually(T, || async {
        let calls = store.list_calls(10).await.ok()?;
        calls.into_iter().find(|c| c.ended_at.is_some())
    })
    .await
    .expect("the call is recorded as ended");
    let events = store.call_events(call.id).await.unwrap();
    let digits: String = events
        .iter()
        .filter(|e| e.kind == "dtmf")
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(digits, DIGITS, "each key press detected exactly once");

    // The call record.
    assert_eq!(call.caller_raw, "0611234567");
    assert_eq!(call.caller_e164.as_deref(), Some("+380611234567"));
    assert_eq!(call.called_number, "1580");
    assert_eq!(call.source, "local");
    assert_eq!(call.source_addr.ip().to_string(), "127.0.0.1");
    assert_eq!(
        call.transport.as_str(),
        if transport_tcp { "tcp" } else { "udp" }
    );
    assert_eq!(call.codec.as_deref(), Some(codec));
    assert_eq!(call.sip_status, Some(200));
    assert_eq!(call.disposition, Some(Disposition::Answered));
    assert_eq!(call.ended_by, Some(EndedBy::Caller));
    let answered = call.answered_at.expect("answer time");
    let ended = call.ended_at.expect("end time");
    assert!(call.arrived_at <= answered && answered < ended);
    let call_ms = (ended - answered).num_milliseconds();
    assert!((4000..8000).contains(&call_ms), "call lasted {call_ms} ms");

    // The recording row and file.
    let recordings = store.recordings_for_call(call.id).await.unwrap();
    assert_eq!(recordings.len(), 1);
    let rec = &recordings[0];
    assert_eq!((rec.sample_rate, rec.channels), (8000, 2));
    let path = app.recordings.path().join(&rec.path);
    let expected_prefix = answered.format("%Y/%m/%d/").to_string();
    assert!(
        rec.path.starts_with(&expected_prefix) && rec.path.ends_with(".wav"),
        "path {}",
        rec.path
    );
    assert!(
        !rec.path.contains("0611234567"),
        "no phone numbers in paths"
    );
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(rec.size_bytes, Some(size));
    let (spec, left, right) = read_stereo(&path);
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let wav_ms = left.len() as i64 * 1000 / 8000;
    assert_eq!(rec.duration_ms, Some(wav_ms as u64));
    assert!(
        (wav_ms - call_ms).abs() <= 100,
        "WAV lasts {wav_ms} ms, the call {call_ms} ms"
    );

    // Left = the caller's tone. While a key is down baresip sends
    // telephone-events instead of audio, so those frames are
    // silent; every window with sound must be the tone, and most must have it.
    // 20 ms windows line up with the frames the recording is made of.
    let windows: Vec<&[i16]> = left[4000..left.len() - 4000].chunks_exact(160).collect();
    let voiced: Vec<f64> = windows
        .iter()
        .filter(|w| rms(w) > 1000.0)
        .map(|w| tone_fraction(w, TONE_HZ as f64, 8000))
        .collect();
    assert!(
        voiced.len() * 10 >= windows.len() * 6,
        "{} of {} windows carry sound",
        voiced.len(),
        windows.len()
    );
    let worst = voiced.iter().copied().fold(1.0, f64::min);
    assert!(
        worst > 0.9,
        "left channel holds the caller's tone (worst window {worst:.3})"
    );
    // Right = what the caller heard, from its first sample.
    // The IVR's greeting, up to the first key press (which stops it).
    let prompt = prompt("greeting");
    let needle = &prompt[..8000];
    let (offset, right_corr) =
        best_alignment(&right, needle).expect("prompt found in right channel");
    assert!(
        right_corr > 0.95 && offset < 160,
        "right channel is the prompt (corr {right_corr:.3} at {offset})"
    );
    let (_, cross) = best_alignment(&left, needle).unwrap_or((0, 0.0));
    assert!(
        cross < 0.5,
        "the prompt does not leak into the caller's channel ({cross:.3})"
    );

    // What the caller received is the prompt.
    let heard = phone
        .received_audio()
        .await
        .expect("baresip's received audio");
    let (heard, rate) = read_wav_mono(&heard).unwrap();
    assert_eq!(rate, 8000);
    let (_, corr) = best_alignment(&to_i16(&heard), needle).expect("prompt in received audio");
    assert!(corr > 0.95, "the caller heard the prompt (corr {corr:.3})");
    eprintln!(
        "measured [{codec} {backend:?} tcp={transport_tcp}]: call {call_ms} ms, WAV {wav_ms} ms (diff {} ms), \
         digits {digits}, caller tone worst frame {worst:.3}, prompt in right channel corr {right_corr:.3} at {offset} samples, \
         prompt heard by caller corr {corr:.3}",
        wav_ms - call_ms
    );
    phone.stop().await;
}

#[tokio::test]
async fn pcmu_call_on_sqlite() {
    full_call("PCMU", Backend::Sqlite, false).await;
}

#[tokio::test]
async fn pcma_call_on_sqlite() {
    full_call("PCMA", Backend::Sqlite, false).await;
}

#[tokio::test]
async fn pcmu_call_on_postgres() {
    full_call("PCMU", Backend::Postgres, false).await;
}

#[tokio::test]
async fn pcma_call_on_postgres() {
    full_call("PCMA", Backend::Postgres, false).await;
}

#[tokio::test]
async fn call_over_tcp() {
    full_call("PCMU", Backend::Sqlite, true).await;
}
