//! Reports e-mailed on schedule through a real SMTP server on loopback:
//! aiosmtpd (`smtp_server.py`) requiring STARTTLS and authentication, its
//! certificate issued by a throw-away CA the server is told to trust. The
//! messages are read back by Python's `email` package; the attachments by
//! openpyxl and pdftotext.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use hotline::report::schedule::{Schedule, ScheduleEntry};
use hotline::store::Role;
use serde_json::Value;

use crate::{AppOptions, Backend, eventually, fresh_db, repo, request, spawn_app_on};

const PASSWORD: &str = "smtp-pa55word";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The SMTP server, killed when dropped.
struct Smtp {
    child: Child,
}

impl Smtp {
    /// Makes the CA in `dir` (port 0) or starts the server on `port`.
    fn run(dir: &Path, port: u16) -> Option<Smtp> {
        let mut child = Command::new(crate::reports::python_bin())
            .arg(repo().join("tests/it/smtp_server.py"))
            .arg(dir)
            .arg(port.to_string())
            .args(["hotline", PASSWORD])
            .stdout(Stdio::piped())
            .spawn()
            .expect("the SMTP server starts (scripts/test installs aiosmtpd and trustme)");
        if port == 0 {
            assert!(child.wait().expect("the CA is made").success());
            return None;
        }
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the server says it is ready");
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        Some(Smtp { child })
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message the SMTP server accepted, read by Python's `email` package.
#[derive(Debug)]
struct Received {
    envelope: Value,
    subject: String,
    from: String,
    body: String,
    attachment_name: String,
    attachment_type: String,
    attachment: PathBuf,
}

fn received(dir: &Path) -> Vec<Received> {
    const READ: &str = r#"
import email, email.policy, json, pathlib, sys
path = pathlib.Path(sys.argv[1])
msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
body = msg.get_body(preferencelist=("plain",)).get_content()
parts = list(msg.iter_attachments())
assert len(parts) == 1, len(parts)
part = parts[0]
file = path.with_suffix("." + part.get_filename().rsplit(".", 1)[1])
file.write_bytes(part.get_content())
print(json.dumps({"subject": msg["subject"], "from": msg["from"], "body": body,
    "name": part.get_filename(), "type": part.get_content_type(), "path": str(file)}))
"#;
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the server's folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|eml| {
            let out = Command::new(crate::reports::python_bin())
                .args(["-c", READ])
                .arg(&eml)
                .output()
                .expect("python runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let read: Value = serde_json::from_slice(&out.stdout).expect("JSON");
            let text = |k: &str| read[k].as_str().expect(k).to_string();
            Received {
                envelope: serde_json::from_str(
                    &std::fs::read_to_string(eml.with_extension("json")).expect("envelope"),
                )
                .expect("envelope JSON"),
                subject: text("subject"),
                from: text("from"),
                body: text("body"),
                attachment_name: text("name"),
                attachment_type: text("type"),
                attachment: PathBuf::from(text("path")),
            }
        })
        .collect()
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        std::fs::read(path).expect("attachment"),
    ))
}

fn entries() -> Vec<ScheduleEntry> {
    let entry = |report: &str, format: &str, to: &[&str]| ScheduleEntry {
        report: report.into(),
        at: "00:00".into(),
        days: Some("every".into()),
        format: format.into(),
        to: to.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        entry("weekly", "xlsx", &["mayor@city.example"]),
        entry("daily", "pdf", &[]),
    ]
}

fn config(port: u16, dir: &Path, password: &str) -> String {
    format!(
        r#"
[reports.mail]
host = "127.0.0.1"
port = {port}
security = "starttls"
username = "hotline"
password = "{password}"
from = "Гаряча лінія 15-80 <hotline@city.example>"
ca_file = "{ca}"
timeout_secs = 5
retry_secs = 1
max_attempts = 5

[[reports.schedule]]
report = "weekly"
at = "00:00"
days = "every"
format = "xlsx"
to = ["mayor@city.example"]

[[reports.schedule]]
report = "daily"
at = "00:00"
days = "every"
format = "pdf"
"#,
        ca = dir.join("ca.pem").display()
    )
}

/// A city where the schedules were configured two days ago and the
/// server has been down since before today's 00:00: today's reports were
/// missed. The water utility's head has an address; no other head has.
async fn city_down_since_yesterday(dir: &Path, smtp_port: u16, password: &str) -> crate::TestApp {
    let db = fresh_db(Backend::Sqlite).await;
    let store = db.store();
    let classifier = hotline::appeal::classifier::Classifier::load(
        &repo().join(hotline::appeal::classifier::DEFAULT_PATH),
    )
    .expect("the sample classifier");
    store
        .import_classifier(&classifier, "zaporizhzhia.toml", Utc::now())
        .await
        .expect("imports");
    let head = hotline::store::NewUser::named("gnatiuk", Role::Executor, Some("vodokanal"), true);
    store
        .add_user(&head, "test-password", Utc::now())
        .await
        .expect("the head");
    assert!(
        store
            .set_user_email("gnatiuk", Some("gnatiuk@vodokanal.example"))
            .await
            .expect("an address")
    );
    for entry in entries() {
        let identity = Schedule::parse(&entry).expect("a schedule").identity();
        store
            .schedule_first_seen(&identity, Utc::now() - chrono::Duration::days(2))
            .await
            .expect("configured two days ago");
    }
    spawn_app_on(
        db,
        AppOptions {
            extra: config(smtp_port, dir, password),
            ..Default::default()
        },
    )
    .await
}

#[tokio::test]
async fn missed_reports_are_mailed_once_over_starttls_with_authentication_and_retried() {
    let dir = tempfile::tempdir().expect("temp dir");
    Smtp::run(dir.path(), 0);
    let port = free_port();
    // The SMTP server is not up yet: the first attempts fail and are
    // retried.
    let mut app = city_down_since_yesterday(dir.path(), port, PASSWORD).await;
    let weekly_tried = eventually(Duration::from_secs(10), || async {
        app.store()
            .deliveries(100)
            .await
            .ok()?
            .into_iter()
            .find(|d| d.kind.as_str() == "weekly" && d.attempts >= 1)
    })
    .await
    .expect("the weekly report is tried at once");
    assert_eq!(weekly_tried.status.as_str(), "pending", "{weekly_tried:?}");
    assert!(
        weekly_tried.last_error.is_some(),
        "the failure is kept: {weekly_tried:?}"
    );

    let _smtp = Smtp::run(dir.path(), port);
    let messages = eventually(Duration::from_secs(20), || async {
        let got = received(dir.path());
        (got.len() >= 2).then_some(got)
    })
    .await
    .expect("both reports arrive once the server is up");
    assert_eq!(messages.len(), 2, "{messages:?}");
    let deliveries = app.store().deliveries(100).await.expect("deliveries");

    for m in &messages {
        assert_eq!(m.envelope["login"], "hotline", "authenticated: {m:?}");
        assert_eq!(m.envelope["tls"], true, "over STARTTLS: {m:?}");
        assert!(m.from.contains("hotline@city.example"), "{}", m.from);
        assert!(m.body.contains("Добрий день"), "{}", m.body);
        // The file arrived as it was made.
        let sent = deliveries
            .iter()
            .find(|d| d.file_name.as_deref() == Some(m.attachment_name.as_str()))
            .expect("the delivery of this file");
        assert_eq!(sent.status.as_str(), "sent");
        assert_eq!(
            sent.file_sha256.as_deref(),
            Some(sha256(&m.attachment).as_str())
        );
        assert_eq!(
            sent.file_bytes,
            Some(std::fs::metadata(&m.attachment).expect("file").len())
        );
    }
    let weekly = messages
        .iter()
        .find(|m| m.envelope["to"] == serde_json::json!(["mayor@city.example"]))
        .expect("the weekly report to the mayor");
    assert!(
        weekly.subject.starts_with("Тижневий звіт"),
        "{}",
        weekly.subject
    );
    assert_eq!(
        weekly.attachment_type,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let first_cell: Value = crate::reports::python(
        "import openpyxl, json, sys\n\
         wb = openpyxl.load_workbook(sys.argv[1])\n\
         print(json.dumps(wb.worksheets[0].cell(1, 1).value))",
        &weekly.attachment,
    );
    assert!(
        first_cell
            .as_str()
            .is_some_and(|t| t.starts_with("Тижневий звіт")),
        "the workbook opens and is the weekly report: {first_cell}"
    );
    let daily = messages
        .iter()
        .find(|m| m.envelope["to"] == serde_json::json!(["gnatiuk@vodokanal.example"]))
        .expect("the daily report to the water utility's head");
    assert_eq!(daily.attachment_type, "application/pdf");
    assert!(
        daily
            .subject
            .starts_with("Щоденний звіт виконавця · КП «Водоканал»: "),
        "the organisation is named in the subject: {}",
        daily.subject
    );
    assert!(
        daily
            .attachment_name
            .starts_with("hotline-daily-vodokanal-"),
        "{}",
        daily.attachment_name
    );
    let text = crate::reports::pdftotext(&daily.attachment);
    assert!(text.contains("Щоденний звіт"), "{text}");
    assert!(
        text.contains("Водоканал"),
        "the utility's own report: {text}"
    );
    // Heads without an address: on file as skipped, with why.
    let skipped: Vec<_> = deliveries
        .iter()
        .filter(|d| d.status.as_str() == "skipped")
        .collect();
    assert!(!skipped.is_empty());
    assert!(skipped.iter().all(|d| {
        d.kind.as_str() == "daily"
            && d.last_error
                .as_deref()
                .is_some_and(|e| e.contains("no head of"))
    }));

    // A restart finds them sent: nothing goes twice.
    app.restart().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        received(dir.path()).len(),
        2,
        "a restart sends nothing again"
    );
    let after = app.store().deliveries(100).await.expect("deliveries");
    assert_eq!(after.len(), deliveries.len(), "no delivery is stored twice");
}

#[tokio::test]
async fn a_refused_password_leaves_the_report_failed_for_admins_to_see_and_send_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    Smtp::run(dir.path(), 0);
    let port = free_port();
    let _smtp = Smtp::run(dir.path(), port);
    let app = city_down_since_yesterday(dir.path(), port, "a-wrong-password").await;
    let failed = eventually(Duration::from_secs(10), || async {
        app.store()
            .deliveries(100)
            .await
            .ok()?
            .into_iter()
            .find(|d| d.kind.as_str() == "weekly" && d.status.as_str() == "failed")
    })
    .await
    .expect("a permanent refusal is not retried");
    assert_eq!(failed.attempts, 1, "{failed:?}");
    assert!(
        failed
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("535")),
        "the server's words: {failed:?}"
    );
    assert!(received(dir.path()).is_empty());

    // Admins see it; an executor's user does not.
    let (status, body) = app.api("GET", "/api/report-deliveries", "").await;
    assert_eq!(status, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(seen["mail"]["host"], "127.0.0.1");
    assert!(!body.contains("a-wrong-password"), "no password in the API");
    assert_eq!(seen["schedules"].as_array().map(Vec::len), Some(2));
    let row = seen["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .find(|d| d["id"] == failed.id.to_string())
        .expect("the failed delivery is listed");
    assert_eq!(row["status"], "failed");
    let executor = app.sign_in_as("vodokanal", Role::Executor).await;
    let refused = request(
        app.http_addr,
        "GET",
        "/api/report-deliveries",
        &executor.headers(),
        "",
    )
    .await;
    assert_eq!(refused.status, 403);

    // Sent again by an admin: one more attempt, refused again.
    let path = format!("/api/report-deliveries/{}/retry", failed.id);
    let (status, body) = app.api("POST", &path, "").await;
    assert_eq!(status, 204, "{body}");
    let again = eventually(Duration::from_secs(10), || async {
        app.store()
            .deliveries(100)
            .await
            .ok()?
            .into_iter()
            .find(|d| d.id == failed.id && d.attempts == 2 && d.status.as_str() == "failed")
    })
    .await;
    assert!(again.is_some(), "the retry was attempted");
    let (status, _) = app.api("POST", &path, "").await;
    assert_eq!(status, 204, "a failed one may be sent again each time");
}

/// An appeal filed on the public form with an e-mail is confirmed by a
/// plain-text message through the same SMTP server: its number, executor
/// and deadline, and the status page's link.
#[tokio::test]
async fn a_web_appeal_is_confirmed_by_e_mail() {
    let dir = tempfile::tempdir().expect("temp dir");
    Smtp::run(dir.path(), 0);
    let port = free_port();
    let _smtp = Smtp::run(dir.path(), port).expect("the SMTP server");
    let config = format!(
        r#"
[public]
site_url = "https://1580.city.example"
[reports.mail]
host = "127.0.0.1"
port = {port}
security = "starttls"
username = "hotline"
password = "{PASSWORD}"
from = "Гаряча лінія 15-80 <hotline@city.example>"
ca_file = "{ca}"
timeout_secs = 5
retry_secs = 1
"#,
        ca = dir.path().join("ca.pem").display()
    );
    let app = spawn_app_on(
        fresh_db(Backend::Sqlite).await,
        AppOptions {
            extra: config,
            ..Default::default()
        },
    )
    .await;
    crate::public::with_classifier(&app).await;
    let (category, _) = crate::public::category(&app, "холодн").await;
    let mut fields = crate::public::valid("067 123 45 67", &category);
    fields.push(("email", "maria@city.example"));
    let (status, body, _) = crate::public::post_form(&app, &fields, &[]).await;
    assert_eq!(status, 201, "{body}");
    let number = body["registration_number"].as_str().unwrap().to_string();
    let eml = eventually(Duration::from_secs(10), || async {
        std::fs::read_dir(dir.path())
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "eml"))
    })
    .await
    .expect("the confirmation arrives");
    const READ: &str = r#"
import email, email.policy, json, pathlib, sys
msg = email.message_from_bytes(pathlib.Path(sys.argv[1]).read_bytes(), policy=email.policy.default)
print(json.dumps({"subject": msg["subject"], "to": msg["to"], "type": msg.get_content_type(),
    "body": msg.get_content(), "attachments": len(list(msg.iter_attachments()))}))
"#;
    let read: Value = crate::reports::python(READ, &eml);
    assert_eq!(read["subject"], format!("Звернення {number} зареєстровано"));
    assert_eq!(read["to"], "maria@city.example");
    assert_eq!(read["type"], "text/plain");
    assert_eq!(read["attachments"], 0);
    let text = read["body"].as_str().unwrap();
    assert!(
        text.contains(&number) && text.contains("КП «Водоканал»"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "https://1580.city.example/public/status?number={number}"
        )),
        "{text}"
    );
    assert!(
        !text.contains("Коваленко"),
        "no name in the message: {text}"
    );
}
