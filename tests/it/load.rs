//! A smoke run of the load generator (`hotline-load`), so it cannot rot:
//! 20 calls over 2 s, each pressing 0 into the queue and held 5 s, with RTP
//! both ways; every call answered, every key recognised, nothing lost, and
//! every recording valid and of the right length.

use serde_json::Value;

use crate::{AppOptions, spawn_app};

#[tokio::test]
async fn twenty_calls_from_the_load_generator() {
    let app = spawn_app(AppOptions {
        // The shipped queue holds 50; the smoke run stays well below.
        ..Default::default()
    })
    .await;
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("run.json");
    let target = app.sip_addr.to_string();
    let http = app.http_addr.to_string();
    let json_arg = json.display().to_string();
    let args = [
        "run", "--target", &target, "--http", &http, "--calls", "20", "--rate", "10", "--hold",
        "5", "--keys", "0", "--json", &json_arg,
    ];
    let bin = env!("CARGO_BIN_EXE_hotline-load");
    let out = tokio::process::Command::new(bin)
        .args(args)
        .output()
        .await
        .expect("hotline-load runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["attempted"], 20, "{stdout}");
    assert_eq!(report["answered"], 20, "{stdout}");
    assert_eq!(report["failed"], 0, "{stdout}");
    assert_eq!(report["dtmf_recognised"], 20, "{stdout}");
    assert_eq!(report["rtp_lost_inbound"], 0, "{stdout}");
    assert_eq!(report["rtp_lost_outbound"], 0, "{stdout}");
    assert!(
        report["rtp_received"].as_u64().unwrap() > 20 * 200,
        "{stdout}"
    );
    assert!(
        report["setup"]["p99_ms"].as_f64().unwrap() < 1000.0,
        "{stdout}"
    );
    let dir = app.recordings.path().display().to_string();
    let verify = tokio::process::Command::new(bin)
        .args([
            "verify-recordings",
            "--dir",
            &dir,
            "--expect",
            "20",
            "--min-secs",
            "4",
            "--max-secs",
            "7",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
