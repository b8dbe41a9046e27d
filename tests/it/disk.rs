//! A full disk during recording: the recordings directory is a tmpfs of
//! 256 KiB (eight seconds of stereo 8 kHz audio). A call that outlasts it
//! keeps going, its recording stops early as a playable WAV holding what
//! fit, the server says the volume is critical, and the next call is still
//! answered (unrecorded, with no broken file left behind).
//!
//! Mounting needs root (as the test command runs here and in CI).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::peers::baresip::{Baresip, BaresipOptions};
use crate::{AppOptions, T, eventually, files_under, http, spawn_app};

/// A tmpfs mounted for the test, unmounted when dropped.
pub struct TinyDisk {
    dir: tempfile::TempDir,
}

impl TinyDisk {
    pub fn mount(size: &str) -> TinyDisk {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "cannot mount a {size} tmpfs (this test needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        TinyDisk { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// From now on nothing can be written to it, not even by root.
    pub fn make_read_only(&self) {
        let ok = std::process::Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(self.dir.path())
            .status()
            .expect("mount runs")
            .success();
        assert!(ok, "remounting read-only");
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn wavs(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect()
}

#[tokio::test]
async fn a_full_disk_cuts_the_recording_short_but_never_the_call_or_the_file() {
    let disk = TinyDisk::mount("256k");
    let app = spawn_app(AppOptions {
        recordings_dir: Some(disk.path().to_path_buf()),
        disk_mb: (2, 1),
        ..Default::default()
    })
    .await;
    // The server says so from the start.
    let (status, health) = http(app.http_addr, "GET", "/healthz").await;
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["recordings_volume"]["level"], "critical", "{health}");
    // And on the supervisors' live view.
    let (_, live) = app.api("GET", "/api/live", "").await;
    let live: Value = serde_json::from_str(&live).unwrap();
    assert_eq!(live["storage"]["level"], "critical", "{live}");

    // A call of 14 s: more than fits.
    let mut caller = Baresip::spawn(BaresipOptions {
        from_user: "0611234567".into(),
        tone_hz: Some(440),
        ..Default::default()
    })
    .await
    .unwrap();
    caller.dial(&app.uri("1580")).await.unwrap();
    caller.wait_established(T).await.unwrap();
    tokio::time::sleep(Duration::from_secs(14)).await;
    assert_eq!(
        app_active(&app).await,
        1,
        "the call goes on with the disk full"
    );
    caller.hangup().await.unwrap();
    let call = crate::ended_call(&app).await;
    assert_eq!(
        call.disposition,
        Some(hotline::store::Disposition::Answered)
    );
    let rec = eventually(T, || async {
        let r = app.store().recordings_for_call(call.id).await.ok()?;
        r.into_iter().next().filter(|r| r.ended_at.is_some())
    })
    .await
    .expect("the recording's row is completed");
    // The file is a valid WAV with what fit: several seconds, not all 14.
    let path = disk.path().join(&rec.path);
    let reader = hound::WavReader::open(&path).expect("a playable WAV");
    let frames = u64::from(reader.duration());
    let seconds = frames as f64 / 8000.0;
    assert!((4.0..10.0).contains(&seconds), "{seconds} s recorded");
    let samples: Vec<i16> = reader
        .into_samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("every sample readable");
    assert_eq!(samples.len() as u32 % 2, 0, "whole stereo frames");
    assert_eq!(rec.duration_ms, Some(frames * 1000 / 8000));
    assert_eq!(
        rec.size_bytes,
        Some(std::fs::metadata(&path).unwrap().len())
    );

    // The next call is answered all the same; nothing broken is left.
    let mut again = Baresip::spawn(BaresipOptions {
        from_user: "0612223344".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    again.dial(&app.uri("1580")).await.unwrap();
    again
        .wait_established(T)
        .await
        .expect("answered on a full disk");
    tokio::time::sleep(Duration::from_secs(2)).await;
    again.hangup().await.unwrap();
    again.stop().await;
    caller.stop().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for wav in wavs(disk.path()) {
        hound::WavReader::open(&wav)
            .unwrap_or_else(|e| panic!("{} is not a valid WAV: {e}", wav.display()));
    }
    let (_, health) = http(app.http_addr, "GET", "/healthz").await;
    assert!(health.contains("\"critical\""), "{health}");
}

async fn app_active(app: &crate::TestApp) -> u64 {
    let (_, health) = http(app.http_addr, "GET", "/healthz").await;
    let health: Value = serde_json::from_str(&health).unwrap();
    health["active_calls"].as_u64().unwrap_or(0)
}
