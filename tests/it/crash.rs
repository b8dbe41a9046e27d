//! The `hotline` binary itself: killed with SIGKILL mid-call, the recording
//! on disk is still a playable WAV and the next start completes its rows;
//! SIGTERM stops it cleanly; environment variables override the file.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use hotline::store::{Disposition, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use crate::peers::baresip::{Baresip, BaresipOptions};
use crate::{AppOptions, T, eventually, fresh_db, settings_toml};

fn free_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// `hotline.toml` in `dir` for a server on `db`, recording to
/// `dir/recordings`, with the shipped queues.
fn write_config(dir: &Path, db: &str) -> std::path::PathBuf {
    let config = dir.join("hotline.toml");
    std::fs::write(
        &config,
        settings_toml(
            db,
            &dir.join("recordings"),
            &crate::repo().join("sip-config/queues.toml"),
            &AppOptions::default(),
        ),
    )
    .unwrap();
    config
}

fn start_server(config: &Path, log: &Path, sip: u16, http: u16) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["serve", "--config"])
        .arg(config)
        .env("HOTLINE_SIP__LISTEN", format!("127.0.0.1:{sip}"))
        .env("HOTLINE_HTTP__LISTEN", format!("127.0.0.1:{http}"))
        .env("RUST_LOG", "hotline=debug")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("hotline binary starts")
}

async fn healthy(http: u16) -> bool {
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", http)).await else {
        return false;
    };
    let req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut body = String::new();
    let _ = s.read_to_string(&mut body).await;
    body.starts_with("HTTP/1.1 200") && body.contains("\"status\":\"ok\"")
}

async fn wait_healthy(http: u16, log: &Path) {
    let ok = eventually(Duration::from_secs(20), || async {
        healthy(http).await.then_some(())
    })
    .await;
    assert!(
        ok.is_some(),
        "server did not become healthy:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

#[tokio::test]
async fn recording_survives_sigkill_and_is_completed_on_restart() {
    let db = fresh_db(crate::Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let recordings = dir.path().join("recordings");
    let config = write_config(dir.path(), db.url());
    let (sip, http) = (free_port(), free_port());
    let log = dir.path().join("server.log");
    let mut server = start_server(&config, &log, sip, http);
    wait_healthy(http, &log).await;

    let mut phone = Baresip::spawn(BaresipOptions {
        tone_hz: Some(1000),
        ..Default::default()
    })
    .await
    .unwrap();
    phone
        .dial(&format!("sip:1580@127.0.0.1:{sip}"))
        .await
        .unwrap();
    phone.wait_established(T).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.start_kill().unwrap(); // SIGKILL: no chance to tidy up
    server.wait().await.unwrap();

    let store: &Store = db.store();
    let calls = store.list_calls(10).await.unwrap();
    assert_eq!(calls.len(), 1);
    let rec = store
        .recordings_for_call(calls[0].id)
        .await
        .unwrap()
        .remove(0);
    assert!(
        rec.ended_at.is_none(),
        "the killed server could not finish the row"
    );
    let path = recordings.join(&rec.path);
    // Playable as it is, before any repair: the header was kept current.
    let reader = hound::WavReader::open(&path).expect("the killed recording is a valid WAV");
    let secs = reader.duration() as f64 / 8000.0;
    assert!(
        (1.5..=3.5).contains(&secs),
        "{secs:.2} s of a 3 s call survived the kill"
    );
    drop(reader);
    eprintln!("measured [sigkill]: {secs:.2} s of a 3 s call playable straight after SIGKILL");

    // Restart: the row is completed from the file, the call is closed.
    let mut server = start_server(&config, &log, sip, http);
    wait_healthy(http, &log).await;
    let rec = store.get_recording(rec.id).await.unwrap().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(rec.size_bytes, Some(size));
    assert!(
        rec.duration_ms.unwrap() >= 1500 && rec.ended_at.is_some(),
        "{rec:?}"
    );
    // The call ends when its recording does, not at the restart, and says
    // a crash ended it; it was answered.
    let call = store.get_call(calls[0].id).await.unwrap().unwrap();
    assert_eq!(call.disposition, Some(Disposition::Answered));
    assert_eq!(call.ended_by, Some(hotline::store::EndedBy::Crash));
    let (ended, recorded) = (call.ended_at.unwrap(), rec.ended_at.unwrap());
    assert!(
        (ended - recorded).num_milliseconds().abs() < 1000,
        "the call ended at {ended}, its recording at {recorded}"
    );

    // SIGTERM: a clean, prompt exit.
    let pid = server.id().expect("running") as i32;
    // SAFETY: kill(2) with a pid we own and a valid signal number.
    unsafe { libc_kill(pid, 15) };
    let status = tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(
        status.success(),
        "{status:?}\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    phone.stop().await;
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[tokio::test]
async fn environment_overrides_the_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["config", "check", "--config"])
        .arg(crate::repo().join("sip-config/hotline.toml"))
        .env("HOTLINE_SIP__LISTEN", "127.0.0.1:5070")
        .env("HOTLINE_RTP__PORT_MIN", "21000")
        .env(
            "HOTLINE_STORAGE__DATABASE_URL",
            "postgres://hotline@127.0.0.1/hotline",
        )
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("listen: 127.0.0.1:5070"), "{text}");
    assert!(text.contains("port_min: 21000"), "{text}");
    assert!(
        text.contains("postgres://hotline@127.0.0.1/hotline"),
        "{text}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["config", "check", "--config"])
        .arg(crate::repo().join("sip-config/hotline.toml"))
        .env("HOTLINE_SIP__LISTEN", "not-an-address")
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
}

#[tokio::test]
async fn config_check_never_prints_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hotline.toml");
    let sample = std::fs::read_to_string(crate::repo().join("sip-config/hotline.toml")).unwrap();
    std::fs::write(
        &config,
        format!(
            "{sample}\n[[trunk]]\nname = \"city\"\naddress = \"127.0.0.1:5099\"\n\
             username = \"hotline\"\npassword = \"trunk-s3cret\"\nregister = false\n"
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["config", "check", "--config"])
        .arg(&config)
        .current_dir(crate::repo())
        .env(
            "HOTLINE_STORAGE__DATABASE_URL",
            "postgres://hotline:db-s3cret@127.0.0.1/hotline",
        )
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(
        text.contains("postgres://hotline:***@127.0.0.1/hotline"),
        "{text}"
    );
    assert!(
        text.contains("name: \"city\""),
        "the trunk is shown: {text}"
    );
}

/// A sign-in whose login holds a line break and a forged event, and logins of
/// a megabyte (issue 15): the log keeps one line per event and grows by a
/// bounded amount however long the logins.
#[tokio::test]
async fn a_clients_text_cannot_forge_or_pad_the_log() {
    let db = fresh_db(crate::Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), db.url());
    let (sip, http) = (free_port(), free_port());
    let log = dir.path().join("server.log");
    let mut server = start_server(&config, &log, sip, http);
    wait_healthy(http, &log).await;
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], http).into();
    let before = std::fs::metadata(&log).unwrap().len();

    let forged =
        "ivan\n2026-12-04T10:00:00.000000Z  INFO hotline::api::auth: signed in login=admin\x1b[2J";
    let huge = "я".repeat(512 * 1024);
    let mut refused = 0;
    for login in std::iter::once(forged).chain(std::iter::repeat_n(huge.as_str(), 20)) {
        let body = serde_json::json!({ "login": login, "password": "wrong" }).to_string();
        let r = crate::request(addr, "POST", "/api/session", &[], &body).await;
        assert!(matches!(r.status, 401 | 429), "{} {}", r.status, r.body);
        refused += 1;
    }
    server.start_kill().unwrap();
    server.wait().await.unwrap();

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("2026-12-04T10:00:00.000000Z")),
        "a forged line reached the log:\n{text}"
    );
    assert!(!text.contains('\x1b'), "an escape sequence reached the log");
    assert!(
        text.contains("login=ivan\\n2026"),
        "the login is shown escaped"
    );
    let grown = std::fs::metadata(&log).unwrap().len() - before;
    eprintln!(
        "measured [log]: {refused} refused sign-ins with 1 MiB logins grew the log by {grown} bytes"
    );
    assert!(grown < 16 * 1024, "the log grew by {grown} bytes");
}

/// `hotline ARGS --config CONFIG` with these variables, run to its end;
/// panics with its standard error unless it succeeded when `ok`.
async fn hotline_cli(args: &[&str], config: &Path, env: &[(&str, &str)], ok: bool) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(args)
        .arg("--config")
        .arg(config)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.success(), ok, "{args:?}: {said}");
    said
}

/// `hotline serve` with this configuration and environment, expected to
/// refuse to start: (how long it took, what it printed).
async fn refused_start(config: &Path, env: &[(&str, String)]) -> (Duration, String) {
    let started = std::time::Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(["serve", "--config"])
            .arg(config)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("HOTLINE_SIP__LISTEN", format!("127.0.0.1:{}", free_port()))
            .env("HOTLINE_HTTP__LISTEN", format!("127.0.0.1:{}", free_port()))
            .output(),
    )
    .await
    .expect("it does not hang")
    .unwrap();
    assert!(!out.status.success(), "it refused to start");
    (
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Tried as a new admin would (issue 15): a server that cannot write its
/// folders or its database, or reach its database, or is given a mistyped
/// variable, refuses to start at once and names what is wrong, each cause
/// once.
#[tokio::test]
async fn a_server_that_cannot_work_refuses_to_start_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hotline.db");
    let config = write_config(dir.path(), &format!("sqlite://{}", db.display()));

    // Recordings on a read-only volume.
    let disk = crate::disk::TinyDisk::mount("1M");
    disk.make_read_only();
    let recordings = disk.path().join("recordings");
    let (_, said) = refused_start(
        &config,
        &[(
            "HOTLINE_STORAGE__RECORDINGS_DIR",
            recordings.display().to_string(),
        )],
    )
    .await;
    assert!(
        said.contains(&format!("recordings folder {}", recordings.display())),
        "{said}"
    );
    eprintln!("measured [start-up]: read-only recordings:\n{said}");

    // The database on a read-only volume: made and migrated, then frozen.
    let frozen = crate::disk::TinyDisk::mount("8M");
    let frozen_db = frozen.path().join("hotline.db");
    let url = format!("sqlite://{}", frozen_db.display());
    hotline_cli(
        &["demo", "seed"],
        &config,
        &[("HOTLINE_STORAGE__DATABASE_URL", &url)],
        true,
    )
    .await;
    frozen.make_read_only();
    let (_, said) = refused_start(&config, &[("HOTLINE_STORAGE__DATABASE_URL", url)]).await;
    assert!(
        said.contains(&frozen_db.display().to_string()) || said.contains("does not take writes"),
        "{said}"
    );

    eprintln!("measured [start-up]: read-only database:\n{said}");
    // PostgreSQL that is not there: its address and the refusal, at once.
    let (took, said) = refused_start(
        &config,
        &[(
            "HOTLINE_STORAGE__DATABASE_URL",
            "postgres://hotline@127.0.0.1:1/hotline".into(),
        )],
    )
    .await;
    assert!(said.contains("127.0.0.1:1/hotline"), "{said}");
    assert!(said.to_lowercase().contains("refused"), "{said}");
    assert!(took < Duration::from_secs(8), "said so in {took:?}");
    eprintln!("measured [start-up]: PostgreSQL absent, refused in {took:?}:\n{said}");

    // A mistyped variable is named as such, not blamed on the file.
    let (_, said) =
        refused_start(&config, &[("HOTLINE_SIP__LISTN", "127.0.0.1:5070".into())]).await;
    assert!(said.contains("HOTLINE_SIP__LISTN"), "{said}");
    eprintln!("measured [start-up]: a mistyped variable:\n{said}");
    // Each cause once.
    for line in said.lines().filter(|l| l.contains("caused by")) {
        let cause = line.trim().trim_start_matches("caused by: ");
        assert_eq!(said.matches(cause).count(), 1, "{said}");
    }
}

/// A fresh start makes its folders without a warning; `demo seed` twice is
/// fine.
#[tokio::test]
async fn a_first_start_makes_its_folders_quietly_and_seeding_twice_is_fine() {
    let db = fresh_db(crate::Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), db.url());
    for _ in 0..2 {
        hotline_cli(&["demo", "seed"], &config, &[], true).await;
    }
    // An operator for a queue the queues file does not have is refused.
    let add = ["operator", "add", "--login", "olena", "--extension", "2001"];
    let add = [
        &add[..],
        &["--password", "long-enough-1", "--queues", "genral"],
    ]
    .concat();
    let said = hotline_cli(&add, &config, &[], false).await;
    assert!(said.contains("no queue \"genral\""), "{said}");
    let (sip, http) = (free_port(), free_port());
    let log = dir.path().join("server.log");
    let mut server = start_server(&config, &log, sip, http);
    wait_healthy(http, &log).await;
    server.start_kill().unwrap();
    server.wait().await.unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("WARN"),
        "a first start warns of nothing:\n{text}"
    );
    assert!(
        dir.path().join("recordings").is_dir()
            && dir.path().join("recordings/attachments").is_dir()
    );
}
