//! Recordings for supervisors: search, play with HTTP Range requests
//! checked byte for byte against the file, the access log of every play and
//! download, holds, every role against every recording route, and
//! `hotline prune` listing and removing exactly what is past three months,
//! also when it is killed half-way.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use hotline::store::{NewQueueEvent, NewRecording, QueueEventKind, Role};
use serde_json::Value;
use uuid::Uuid;

use crate::{ApiSession, AppOptions, TestApp, request, spawn_app};

/// A recorded call at `at` from `caller`, its WAV (a valid header and
/// `samples` of a pattern) under the app's recordings directory; answered
/// by `operator` (an operator id) in `queue` if given. Returns (recording,
/// call, the file's bytes).
pub async fn recorded_call(
    app: &TestApp,
    at: DateTime<Utc>,
    caller: &str,
    operator: Option<Uuid>,
    samples: usize,
) -> (Uuid, Uuid, Vec<u8>) {
    let call = app.call_from(caller, caller, at).await;
    let mut joined = NewQueueEvent::new(at, "general", call, QueueEventKind::Joined);
    joined.position = Some(1);
    app.store().add_queue_event(&joined).await.unwrap();
    if let Some(op) = operator {
        let mut answered = NewQueueEvent::new(
            at + TimeDelta::seconds(5),
            "general",
            call,
            QueueEventKind::Answered,
        );
        answered.operator_id = Some(op);
        answered.wait_ms = Some(5000);
        app.store().add_queue_event(&answered).await.unwrap();
    }
    let id = Uuid::new_v4();
    let relative = hotline::recording::relative_path_for(id, at);
    let path = app.recordings.path().join(&relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..samples {
        w.write_sample(((i * 7919) % 65536) as i16).unwrap();
    }
    w.finalize().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    app.store()
        .insert_recording(&NewRecording {
            id,
            call_id: call,
            path: relative.to_string_lossy().into_owned(),
            started_at: at,
            sample_rate: 8000,
            channels: 2,
        })
        .await
        .unwrap();
    let ms = (samples / 2) as u64 * 1000 / 8000;
    app.store()
        .finish_recording(
            id,
            at + TimeDelta::milliseconds(ms as i64),
            ms,
            bytes.len() as u64,
        )
        .await
        .unwrap();
    (id, call, bytes)
}

async fn operator(app: &TestApp, login: &str, ext: &str) -> (Uuid, ApiSession) {
    let id = app.add_operator(login, ext).await;
    (id, app.sign_in_as(login, Role::Operator).await)
}

async fn get(
    app: &TestApp,
    session: &ApiSession,
    path: &str,
    range: Option<&str>,
) -> crate::HttpResponse {
    let mut headers = session.headers();
    if let Some(r) = range {
        headers.push(("Range", r.to_owned()));
    }
    request(app.http_addr, "GET", path, &headers, "").await
}

#[tokio::test]
async fn range_requests_give_exactly_the_bytes_asked_for_and_every_access_is_logged() {
    let app = spawn_app(AppOptions::default()).await;
    let (id, call, file) = recorded_call(&app, Utc::now(), "+380611234567", None, 40_000).await;
    let supervisor = app.sign_in_as("sveta", Role::Supervisor).await;
    let path = format!("/api/recordings/{id}/audio");
    let len = file.len();

    let whole = get(&app, &supervisor, &path, None).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.bytes, file);
    assert_eq!(whole.header("content-type"), Some("audio/wav"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert!(
        whole
            .header("content-disposition")
            .unwrap()
            .starts_with("inline")
    );

    for (range, start, end) in [
        ("bytes=0-99".to_owned(), 0, 99),
        ("bytes=30000-30999".to_owned(), 30000, 30999),
        (format!("bytes={}-", len - 10), len - 10, len - 1),
        ("bytes=-500".to_owned(), len - 500, len - 1),
        // Past the end is cut at the end.
        (
            format!("bytes={}-{}", len - 5, len + 1000),
            len - 5,
            len - 1,
        ),
    ] {
        let r = get(&app, &supervisor, &path, Some(&range)).await;
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(r.bytes, file[start..=end], "{range}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {start}-{end}/{len}").as_str()),
            "{range}"
        );
    }
    // Beyond the file: 416 with the length.
    let r = get(
        &app,
        &supervisor,
        &path,
        Some(&format!("bytes={}-", len + 10)),
    )
    .await;
    assert_eq!(r.status, 416);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );
    // Not a range at all: ignored, the whole file (RFC 9110 §14.2).
    let r = get(&app, &supervisor, &path, Some("lines=1-2")).await;
    assert!(r.status == 200 || r.status == 416, "{}", r.status);
    if r.status == 200 {
        assert_eq!(r.bytes, file);
    }
    // A download says so.
    let r = get(&app, &supervisor, &format!("{path}?download=1"), None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("attachment")
    );

    // Nine requests, nine lines in the access log, readable by admins only.
    let (status, log) = app
        .api("GET", &format!("/api/recording-access?recording={id}"), "")
        .await;
    assert_eq!(status, 200, "{log}");
    let log: Value = serde_json::from_str(&log).unwrap();
    let rows = log["access"].as_array().unwrap();
    assert_eq!(rows.len(), 9, "{log}");
    assert!(
        rows.iter()
            .all(|r| r["login"] == "sveta" && r["call_id"] == call.to_string())
    );
    assert!(rows.iter().all(|r| r["address"] == "127.0.0.1"));
    assert_eq!(rows.iter().filter(|r| r["action"] == "download").count(), 1);
    assert!(rows.iter().any(|r| r["range"] == "bytes=-500"));
    let r = get(&app, &supervisor, "/api/recording-access", None).await;
    assert_eq!(r.status, 403, "supervisors do not read the access log");
    let admin = app.admin().await.clone();
    let csv = get(&app, &admin, "/api/recording-access?format=csv", None).await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(csv.body.lines().count(), 1 + 9, "{}", csv.body);
    assert!(csv.body.starts_with("at,login,role,action"));

    // A purged recording is gone for good: 410.
    app.store()
        .claim_recordings(Utc::now() + TimeDelta::days(1), Utc::now(), 10)
        .await
        .unwrap();
    let r = get(&app, &supervisor, &path, None).await;
    assert_eq!(r.status, 410);
}

#[tokio::test]
async fn supervisors_find_a_call_by_caller_operator_queue_appeal_and_duration_on_sqlite() {
    supervisors_find_a_call(crate::Backend::Sqlite).await;
}

#[tokio::test]
async fn supervisors_find_a_call_by_caller_operator_queue_appeal_and_duration_on_postgres() {
    supervisors_find_a_call(crate::Backend::Postgres).await;
}

async fn supervisors_find_a_call(backend: crate::Backend) {
    let app = spawn_app(AppOptions {
        backend,
        ..Default::default()
    })
    .await;
    let (olena, _) = operator(&app, "olena", "1001").await;
    let now = Utc::now();
    let yesterday = now - TimeDelta::days(1);
    let (target, target_call, _) =
        recorded_call(&app, yesterday, "+380611234567", Some(olena), 16_000 * 2).await;
    recorded_call(&app, now, "+380611234567", None, 800).await;
    recorded_call(&app, yesterday, "+380671112233", Some(olena), 800).await;
    for i in 0..30 {
        recorded_call(
            &app,
            now - TimeDelta::days(3) - TimeDelta::minutes(i),
            "+380501234567",
            None,
            100,
        )
        .await;
    }
    let supervisor = app.sign_in_as("sveta", Role::Supervisor).await;
    let find = |query: String| {
        let app = &app;
        let supervisor = supervisor.clone();
        async move {
            let r = get(app, &supervisor, &format!("/api/recordings?{query}"), None).await;
            assert_eq!(r.status, 200, "{query}: {}", r.body);
            serde_json::from_str::<Value>(&r.body).unwrap()
        }
    };
    let day = yesterday
        .with_timezone(&chrono::Local)
        .format("%Y-%m-%d")
        .to_string();
    // Yesterday's call, by the caller's number as a person would type it.
    let found = find(format!(
        "from={day}&to={day}&caller=%28061%29%20123%2045%2067"
    ))
    .await;
    assert_eq!(found["total"], 1, "{found}");
    let item = &found["recordings"][0];
    assert_eq!(item["id"], target.to_string());
    assert_eq!(item["operator"], "olena");
    assert_eq!(item["queue"], "general");
    assert_eq!(item["waited_ms"], 5000);
    assert_eq!(item["duration_ms"], 2000);
    assert_eq!(item["audio_url"], format!("/api/recordings/{target}/audio"));
    // By operator, queue, call id, duration.
    assert_eq!(find("operator=olena".into()).await["total"], 2);
    assert_eq!(find("queue=general".into()).await["total"], 33);
    assert_eq!(find("queue=roads".into()).await["total"], 0);
    assert_eq!(find(format!("call_id={target_call}")).await["total"], 1);
    assert_eq!(find("min_secs=1".into()).await["total"], 1);
    assert_eq!(find("max_secs=1".into()).await["total"], 32);
    // By the appeal registered on the call.
    let category = hotline::store::testing::sample_category(app.store(), "t", now).await;
    let card = app
        .store()
        .register_appeal(
            &hotline::appeal::NewAppeal {
                surname: "Шевченко".into(),
                first_name: "Тарас".into(),
                patronymic: "Григорович".into(),
                address: "вул. Соборна, 1".into(),
                contact_phone: "+380611234567".into(),
                essence: "Немає води.".into(),
                category_id: Some(category),
                call_id: Some(target_call),
                ..Default::default()
            },
            &hotline::appeal::lifecycle::Lifecycle::default(),
            &hotline::appeal::lifecycle_store::Author::system(),
            now,
        )
        .await
        .unwrap()
        .record;
    let by_card = find(format!(
        "appeal={}",
        card.registration_number.replace('-', "")
    ))
    .await;
    assert_eq!(by_card["total"], 1);
    assert_eq!(
        by_card["recordings"][0]["appeals"][0],
        card.registration_number.as_str()
    );
    // Paging: newest first, 10 a page.
    let page1 = find("per_page=10&page=1".into()).await;
    let page4 = find("per_page=10&page=4".into()).await;
    assert_eq!(page1["total"], 33);
    assert_eq!(page1["recordings"].as_array().unwrap().len(), 10);
    assert_eq!(page4["recordings"].as_array().unwrap().len(), 3);
    // A wrong field says what is wrong.
    let r = get(&app, &supervisor, "/api/recordings?from=yesterday", None).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("\"field\":\"from\""), "{}", r.body);
    // The details: path through the menu, the call, holds.
    let detail = get(
        &app,
        &supervisor,
        &format!("/api/recordings/{target}"),
        None,
    )
    .await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    let detail: Value = serde_json::from_str(&detail.body).unwrap();
    assert_eq!(detail["appeals"][0], card.registration_number.as_str());
    assert!(detail["holds"].as_array().unwrap().is_empty());
    // A hold, then released.
    let r = request(
        app.http_addr,
        "POST",
        &format!("/api/recordings/{target}/hold"),
        &supervisor.headers(),
        r#"{"reason":"скарга громадянина"}"#,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let hold: Value = serde_json::from_str(&r.body).unwrap();
    let detail = get(
        &app,
        &supervisor,
        &format!("/api/recordings/{target}"),
        None,
    )
    .await;
    assert!(detail.body.contains("скарга громадянина"));
    let r = request(
        app.http_addr,
        "DELETE",
        &format!("/api/holds/{}", hold["id"].as_str().unwrap()),
        &supervisor.headers(),
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn every_role_against_every_recording_route_on_sqlite() {
    every_role_against_every_recording_route(crate::Backend::Sqlite).await;
}

#[tokio::test]
async fn every_role_against_every_recording_route_on_postgres() {
    every_role_against_every_recording_route(crate::Backend::Postgres).await;
}

async fn every_role_against_every_recording_route(backend: crate::Backend) {
    let app = spawn_app(AppOptions {
        backend,
        ..Default::default()
    })
    .await;
    let (olena_id, olena) = operator(&app, "olena", "1001").await;
    let (_, petro) = operator(&app, "petro", "1002").await;
    let now = Utc::now();
    let (hers, _, _) = recorded_call(
        &app,
        now - TimeDelta::hours(1),
        "+380611234567",
        Some(olena_id),
        800,
    )
    .await;
    let (old_hers, _, _) = recorded_call(
        &app,
        now - TimeDelta::hours(25),
        "+380611234567",
        Some(olena_id),
        800,
    )
    .await;
    let (nobodys, _, _) =
        recorded_call(&app, now - TimeDelta::hours(1), "+380611234567", None, 800).await;
    let supervisor = app.sign_in_as("sveta", Role::Supervisor).await;
    let executor = app.sign_in_as("vodokanal", Role::Executor).await;
    let admin = app.admin().await.clone();

    let routes = |rec: Uuid| {
        vec![
            ("GET", format!("/api/recordings/{rec}"), ""),
            ("GET", format!("/api/recordings/{rec}/audio"), ""),
            ("GET", format!("/api/recordings/{rec}/audio?download=1"), ""),
            (
                "POST",
                format!("/api/recordings/{rec}/hold"),
                r#"{"reason":"x"}"#,
            ),
        ]
    };
    // (session, [her recent, her old, nobody's] for detail/audio/download, hold)
    #[rustfmt::skip]
    let expected: Vec<(&ApiSession, [[u16; 4]; 3])> = vec![
        (&olena,      [[200, 200, 200, 403], [403, 403, 403, 403], [403, 403, 403, 403]]),
        (&petro,      [[403, 403, 403, 403], [403, 403, 403, 403], [403, 403, 403, 403]]),
        (&executor,   [[403, 403, 403, 403], [403, 403, 403, 403], [403, 403, 403, 403]]),
        (&supervisor, [[200, 200, 200, 201], [200, 200, 200, 201], [200, 200, 200, 201]]),
        (&admin,      [[200, 200, 200, 201], [200, 200, 200, 201], [200, 200, 200, 201]]),
    ];
    for (session, by_recording) in &expected {
        for (rec, codes) in [hers, old_hers, nobodys].into_iter().zip(by_recording) {
            for ((method, path, body), code) in routes(rec).into_iter().zip(codes) {
                let r = request(app.http_addr, method, &path, &session.headers(), body).await;
                assert_eq!(
                    r.status, *code,
                    "{method} {path} as {session:?}: {}",
                    r.body
                );
            }
        }
    }
    // Releasing a hold: supervisors and admins only, each on a fresh hold.
    for (session, code) in [
        (None, 401),
        (Some(&olena), 403),
        (Some(&petro), 403),
        (Some(&executor), 403),
        (Some(&supervisor), 200),
        (Some(&admin), 200),
    ] {
        let r = request(
            app.http_addr,
            "POST",
            &format!("/api/recordings/{nobodys}/hold"),
            &supervisor.headers(),
            r#"{"reason":"x"}"#,
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let hold: Value = serde_json::from_str(&r.body).unwrap();
        let path = format!("/api/holds/{}", hold["id"].as_str().unwrap());
        let headers = session.map(|s| s.headers()).unwrap_or_default();
        let r = request(app.http_addr, "DELETE", &path, &headers, "").await;
        assert_eq!(r.status, code, "DELETE {path} as {session:?}: {}", r.body);
    }
    // Without a session: 401 everywhere.
    for (method, path, body) in routes(hers).into_iter().chain([
        ("GET", "/api/recordings".to_owned(), ""),
        ("GET", "/api/recording-access".to_owned(), ""),
    ]) {
        let r = request(app.http_addr, method, &path, &[], body).await;
        assert_eq!(r.status, 401, "{method} {path}");
    }
    // The list: an operator sees only her calls of the last 24 hours.
    for (session, total) in [(&olena, 1), (&petro, 0), (&supervisor, 3), (&admin, 3)] {
        let r = get(&app, session, "/api/recordings", None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let list: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(list["total"], total, "{session:?}: {list}");
    }
    assert_eq!(
        get(&app, &executor, "/api/recordings", None).await.status,
        403
    );
    // The access log: admins only.
    for (session, code) in [
        (&olena, 403),
        (&supervisor, 403),
        (&executor, 403),
        (&admin, 200),
    ] {
        assert_eq!(
            get(&app, session, "/api/recording-access", None)
                .await
                .status,
            code
        );
    }
    // Every play and download above is in it: 3 by olena, 6 by sveta, 6 by the admin.
    let (_, log) = app.api("GET", "/api/recording-access", "").await;
    let log: Value = serde_json::from_str(&log).unwrap();
    let count = |login: &str| {
        log["access"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["login"] == login)
            .count()
    };
    assert_eq!(
        (count("olena"), count("sveta"), count("test-admin")),
        (2, 6, 6),
        "{log}"
    );
}

#[tokio::test]
async fn prune_dry_run_lists_exactly_the_recordings_older_than_three_months_and_a_killed_prune_is_finished()
 {
    let app = spawn_app(AppOptions::default()).await;
    // A prune counts from the real time (`--now` only with `--dry-run`);
    // no recording lies within half an hour of the limit, so the seconds
    // between here and the command do not matter.
    let now = Utc::now();
    let cutoff = hotline::retention::Period::Months(3).cutoff(now);
    let mut old = Vec::new();
    let mut young = Vec::new();
    for i in 0..600i64 {
        let at = cutoff - TimeDelta::hours(300) + TimeDelta::hours(i) + TimeDelta::minutes(30);
        let (id, _, _) = recorded_call(&app, at, "+380611234567", None, 16).await;
        if at < cutoff {
            old.push(id)
        } else {
            young.push(id)
        }
    }
    let hotline = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"));
        cmd.args(["--config"])
            .arg(crate::repo().join("sip-config/hotline.toml"))
            .args(args)
            .env("HOTLINE_STORAGE__DATABASE_URL", app.db.url())
            .env("HOTLINE_STORAGE__RECORDINGS_DIR", app.recordings.path())
            .env(
                "HOTLINE_STORAGE__ATTACHMENTS_DIR",
                app.recordings.path().join("attachments"),
            );
        cmd
    };
    let now_arg = now.to_rfc3339();
    let out = hotline(&["prune", "--dry-run", "--now", &now_arg])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let listed: std::collections::HashSet<Uuid> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("recording "))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(listed, old.iter().copied().collect(), "{stdout}");
    assert!(
        stdout.contains(&format!("would remove {} recording(s)", old.len())),
        "{stdout}"
    );
    for id in old.iter().chain(&young) {
        let rec = app.store().get_recording(*id).await.unwrap().unwrap();
        assert!(rec.purged_at.is_none() && app.recordings.path().join(&rec.path).exists());
    }

    // A prune killed half-way, then the next one (with its sweep) finishes.
    let refused = hotline(&["prune", "--now", &now_arg]).output().unwrap();
    assert!(!refused.status.success(), "--now only with --dry-run");
    let mut child = hotline(&["prune"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let _ = child.kill();
    let _ = child.wait();
    for id in &young {
        let rec = app.store().get_recording(*id).await.unwrap().unwrap();
        assert!(
            rec.purged_at.is_none() && app.recordings.path().join(&rec.path).exists(),
            "young {id} touched"
        );
    }
    let out = hotline(&["prune"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for id in &old {
        let rec = app.store().get_recording(*id).await.unwrap().unwrap();
        assert!(rec.purged_at.is_some(), "{id} not pruned");
        assert!(
            !app.recordings.path().join(&rec.path).exists(),
            "{id}'s file left behind"
        );
    }
    for id in &young {
        let rec = app.store().get_recording(*id).await.unwrap().unwrap();
        assert!(rec.purged_at.is_none() && app.recordings.path().join(&rec.path).exists());
    }
    let out = hotline(&["prune", "--dry-run", "--now", &now_arg])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("would remove 0 recording(s)"));
}
