//! Integration tests: the real server on port 0 (SIP, RTP, HTTP) with a
//! fresh database per test, called by peers we did not write (baresip and
//! sipp, see `peers`), over loopback with real RTP.

mod peers;

mod appeals;
mod auth;
mod blocking;
mod browser;
mod calls;
mod console;
mod crash;
mod disk;
mod edge;
mod flood;
mod ivr;
mod load;
mod media;
mod open311;
mod openapi;
mod operators;
mod public;
mod recordings;
mod registrar;
mod report_mail;
mod reports;
mod telegram;
mod trunk;
mod verification;
mod viber;

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use hotline::config::Settings;
use hotline::server::Application;
use hotline::store::Store;
use hotline::store::testing::TestDb;
use tokio::sync::watch;

/// Generous timeout for anything a peer should do "at once".
pub const T: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct AppOptions {
    pub backend: Backend,
    /// Source networks trusted as the "local" peer.
    pub trusted: Vec<&'static str>,
    pub answer_delay_ms: u64,
    /// `[sip] max_calls` (0 = no limit).
    pub max_calls: usize,
    pub media_timeout_secs: u64,
    /// Extra TOML appended to the configuration (e.g. a [[trunk]]).
    pub extra: String,
    /// IVR scripts (default: the shipped `ivr-scripts/`).
    pub scripts_dir: Option<PathBuf>,
    /// The queues' TOML (default: the shipped `sip-config/queues.toml`).
    pub queues: Option<String>,
    /// More keys for the `[queues]` section.
    pub queue_settings: String,
    /// The largest attachment, in MiB.
    pub attachment_max_mb: u32,
    /// Record here instead of a fresh temporary directory.
    pub recordings_dir: Option<PathBuf>,
    /// `[storage] disk_warn_mb` and `disk_min_mb`.
    pub disk_mb: (u64, u64),
    /// The "local" peer's `media`: "strict" or "symmetric".
    pub peer_media: &'static str,
    /// `[sip] open_access`: calls from any address.
    pub open_access: bool,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            backend: Backend::Sqlite,
            trusted: vec!["127.0.0.1"],
            peer_media: "strict",
            open_access: false,
            answer_delay_ms: 0,
            max_calls: 0,
            media_timeout_secs: 60,
            extra: String::new(),
            scripts_dir: None,
            queues: None,
            queue_settings: String::new(),
            attachment_max_mb: 25,
            recordings_dir: None,
            disk_mb: (2048, 256),
        }
    }
}

pub struct TestApp {
    /// An admin's signed-in session, made on first use.
    admin: tokio::sync::OnceCell<ApiSession>,
    pub events: hotline::events::EventBus,
    pub sip_addr: std::net::SocketAddr,
    pub http_addr: std::net::SocketAddr,
    pub recordings: tempfile::TempDir,
    pub db: TestDb,
    /// Calls out, when the configuration has `[outbound]`.
    pub dialer: Option<hotline::call::outbound::Dialer>,
    /// The rules of the card's life the server runs on.
    pub lifecycle: std::sync::Arc<hotline::appeal::lifecycle::Lifecycle>,
    shutdown: watch::Sender<bool>,
    run: Option<tokio::task::JoinHandle<()>>,
    /// The configuration it runs with, to start it again.
    settings: String,
}

impl TestApp {
    pub fn store(&self) -> &Store {
        self.db.store()
    }

    /// An operator (SIP extension `ext`, password `secret123`) serving the
    /// general queue; returns their id.
    pub async fn add_operator(&self, login: &str, ext: &str) -> uuid::Uuid {
        use hotline::store::operators::{DEFAULT_REALM, NewOperator, QueueMembership};
        let op = NewOperator::new(
            login,
            ext,
            None,
            vec![QueueMembership::new("general", 0)],
            chrono::Utc::now(),
        );
        self.store()
            .add_operator(&op, "secret123", DEFAULT_REALM)
            .await
            .expect("test operator");
        self.store()
            .operator_by_login(login)
            .await
            .expect("operator read")
            .expect("operator stored")
            .id
    }

    /// A call stored as if it had come in from 0611234567, taken by no
    /// operator.
    pub async fn stored_call(&self) -> uuid::Uuid {
        self.call_from("0611234567", "+380611234567", chrono::Utc::now())
            .await
    }

    /// A call stored as if it had come in from `caller_raw` (normalised to
    /// `caller_e164`) at `at`.
    pub async fn call_from(
        &self,
        caller_raw: &str,
        caller_e164: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> uuid::Uuid {
        hotline::store::testing::stored_call(self.store(), caller_raw, caller_e164, at).await
    }

    /// When the call task took the operator's 200 OK: the call's stored
    /// "operator-answered" step.
    pub async fn operator_answered_at(&self, call: uuid::Uuid) -> chrono::DateTime<chrono::Utc> {
        self.store()
            .call_events(call)
            .await
            .expect("the call's steps")
            .into_iter()
            .find(|e| e.kind == "operator-answered")
            .expect("operator-answered stored")
            .at
    }

    /// A session of a user with this role (created on the spot).
    pub async fn sign_in_as(&self, login: &str, role: hotline::store::Role) -> ApiSession {
        let password = "test-password";
        let user = hotline::store::NewUser {
            login: login.into(),
            display_name: login.into(),
            role,
            operator_login: (role == hotline::store::Role::Operator).then(|| login.to_string()),
            // Executor users are named after their organisation in these tests.
            executor: (role == hotline::store::Role::Executor).then(|| login.to_string()),
            head: false,
        };
        // An executor user names its organisation: the sample classifier's.
        if role == hotline::store::Role::Executor
            && self
                .store()
                .current_classifier_version()
                .await
                .unwrap()
                .is_none()
        {
            let classifier = hotline::appeal::classifier::Classifier::load(
                &repo().join(hotline::appeal::classifier::DEFAULT_PATH),
            )
            .expect("the sample classifier");
            self.store()
                .import_classifier(&classifier, "zaporizhzhia.toml", chrono::Utc::now())
                .await
                .expect("the sample classifier imports");
        }
        if self.store().user_by_login(login).await.unwrap().is_none() {
            self.store()
                .add_user(&user, password, chrono::Utc::now())
                .await
                .expect("test user");
        }
        sign_in(self.http_addr, login, password)
            .await
            .expect("test user signs in")
    }

    /// The admin session the API helpers use.
    pub async fn admin(&self) -> &ApiSession {
        self.admin
            .get_or_init(|| self.sign_in_as("test-admin", hotline::store::Role::Admin))
            .await
    }

    /// An API request as the admin: (status, body).
    pub async fn api(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let session = self.admin().await;
        let r = request(self.http_addr, method, path, &session.headers(), body).await;
        (r.status, r.body)
    }

    pub fn uri(&self, user: &str) -> String {
        format!("sip:{user}@{}", self.sip_addr)
    }

    /// Stops the server and starts it again on the same database and
    /// configuration (new ports), as after a restart of the process.
    pub async fn restart(&mut self) {
        self.stop().await;
        let settings = Settings::from_toml(&self.settings).expect("test settings");
        let app = Application::build(settings)
            .await
            .expect("server starts again");
        self.events = app.events();
        (self.dialer, self.lifecycle) = (app.dialer(), app.lifecycle());
        (self.sip_addr, self.http_addr) = (app.sip_addr(), app.http_addr());
        self.shutdown = app.shutdown_handle();
        self.admin = tokio::sync::OnceCell::new();
        self.run = Some(tokio::spawn(app.run_until_stopped()));
    }

    /// Sends the shutdown signal and waits until the server has stopped.
    pub async fn stop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(run) = self.run.take() {
            tokio::time::timeout(Duration::from_secs(20), run)
                .await
                .expect("server stops in time")
                .expect("server task");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("hotline=info"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

pub async fn fresh_db(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => TestDb::sqlite().await.expect("fresh SQLite database"),
        Backend::Postgres => match TestDb::postgres().await.expect("fresh PostgreSQL database") {
            Some(db) => db,
            None => panic!("PostgreSQL skipped by HOTLINE_TEST_SKIP_PG, but this test needs it"),
        },
    }
}

pub fn settings_toml(
    db_url: &str,
    recordings: &Path,
    queues_file: &Path,
    opts: &AppOptions,
) -> String {
    let trusted: Vec<String> = opts.trusted.iter().map(|a| format!("{a:?}")).collect();
    format!(
        r#"
[sip]
listen = "127.0.0.1:0"
answer_delay_ms = {delay}
max_calls = {max_calls}
open_access = {open_access}
shutdown_grace_secs = 5
[rtp]
port_min = 0
port_max = 0
media_timeout_secs = {media}
[http]
listen = "127.0.0.1:0"
[storage]
database_url = {db:?}
recordings_dir = {rec:?}
attachments_dir = {att:?}
attachment_max_mb = {att_mb}
disk_warn_mb = {warn_mb}
disk_min_mb = {min_mb}
[ivr]
scripts_dir = {ivr:?}
entry = "main"
[queues]
file = {queues:?}
{queue_settings}
[[peer]]
name = "local"
addresses = [{trusted}]
media = "{peer_media}"
{extra}
"#,
        delay = opts.answer_delay_ms,
        max_calls = opts.max_calls,
        open_access = opts.open_access,
        media = opts.media_timeout_secs,
        db = db_url,
        rec = recordings.display().to_string(),
        att = recordings.join("attachments").display().to_string(),
        att_mb = opts.attachment_max_mb,
        warn_mb = opts.disk_mb.0,
        min_mb = opts.disk_mb.1,
        ivr = opts
            .scripts_dir
            .clone()
            .unwrap_or_else(|| repo().join("ivr-scripts"))
            .display()
            .to_string(),
        trusted = trusted.join(", "),
        peer_media = opts.peer_media,
        extra = opts.extra,
        queues = queues_file.display().to_string(),
        queue_settings = opts.queue_settings,
    )
}

pub async fn spawn_app(opts: AppOptions) -> TestApp {
    let db = fresh_db(opts.backend).await;
    spawn_app_on(db, opts).await
}

/// [`spawn_app`] on a database the test has prepared.
pub async fn spawn_app_on(db: TestDb, opts: AppOptions) -> TestApp {
    init_tracing();
    let recordings = tempfile::tempdir().expect("temp dir");
    let queues_file = match &opts.queues {
        Some(text) => {
            let path = recordings.path().join("queues.toml");
            std::fs::write(&path, text).expect("queues file");
            path
        }
        None => repo().join("sip-config/queues.toml"),
    };
    let recordings_dir = opts
        .recordings_dir
        .clone()
        .unwrap_or_else(|| recordings.path().to_path_buf());
    let settings = settings_toml(db.url(), &recordings_dir, &queues_file, &opts);
    let app = Application::build(Settings::from_toml(&settings).expect("test settings"))
        .await
        .expect("server starts");
    let events = app.events();
    let (dialer, lifecycle) = (app.dialer(), app.lifecycle());
    let (sip_addr, http_addr, shutdown) = (app.sip_addr(), app.http_addr(), app.shutdown_handle());
    let run = tokio::spawn(app.run_until_stopped());
    TestApp {
        admin: tokio::sync::OnceCell::new(),
        events,
        sip_addr,
        http_addr,
        recordings,
        db,
        dialer,
        lifecycle,
        shutdown,
        run: Some(run),
        settings,
    }
}

/// A shipped Ukrainian prompt, decoded as the server decodes it.
pub fn prompt(name: &str) -> Vec<i16> {
    hotline::media::decode_file(repo().join(format!("ivr-scripts/prompts/uk/{name}.wav")))
        .expect("prompt decodes")
        .samples()
        .to_vec()
}

/// A stereo recording split into (left, right).
pub fn read_stereo(path: &Path) -> (hound::WavSpec, Vec<i16>, Vec<i16>) {
    let mut reader = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("{} is not a valid WAV: {e}", path.display()));
    let spec = reader.spec();
    let samples: Vec<i16> = reader
        .samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("samples");
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    (spec, left, right)
}

/// The test's call, once it has ended (calls are recorded as they end).
pub async fn ended_call(app: &TestApp) -> hotline::store::CallRecord {
    let store = app.store();
    eventually(T, || async {
        store
            .list_calls(10)
            .await
            .ok()?
            .into_iter()
            .find(|c| c.ended_at.is_some())
    })
    .await
    .expect("the call is recorded as ended")
}

/// Waits until `check` returns Some, polling.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A signed-in session: its cookie and CSRF token.
#[derive(Debug, Clone)]
pub struct ApiSession {
    pub cookie: String,
    pub csrf: String,
}

impl ApiSession {
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Cookie", format!("hotline_session={}", self.cookie)),
            ("X-CSRF-Token", self.csrf.clone()),
        ]
    }
}

/// Signs in through the API.
pub async fn sign_in(
    addr: std::net::SocketAddr,
    login: &str,
    password: &str,
) -> Result<ApiSession, String> {
    let body = serde_json::json!({ "login": login, "password": password }).to_string();
    let r = request(addr, "POST", "/api/session", &[], &body).await;
    if r.status != 200 {
        return Err(format!("sign-in: {} {}", r.status, r.body));
    }
    let cookie = r
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .and_then(|c| c.strip_prefix("hotline_session="))
        .ok_or("no session cookie")?
        .to_string();
    let json: serde_json::Value = serde_json::from_str(&r.body).map_err(|e| e.to_string())?;
    let csrf = json["csrf_token"]
        .as_str()
        .ok_or("no CSRF token")?
        .to_string();
    Ok(ApiSession { cookie, csrf })
}

/// A response: status, headers (lower-case names) and body.
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The body as sent (for binary answers).
    pub bytes: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A plain HTTP/1.1 request over a fresh connection: (status, body).
pub async fn http(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    let r = request(addr, method, path, &[], "").await;
    (r.status, r.body)
}

/// An HTTP/1.1 request with headers and a JSON body.
pub async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> HttpResponse {
    request_bytes(addr, method, path, headers, body.as_bytes()).await
}

/// A multipart/form-data body with one file field `file`: (content type,
/// body).
pub fn multipart(file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "hotline-test-boundary-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// An HTTP/1.1 request with headers and a body of any bytes (JSON unless a
/// Content-Type header says otherwise).
pub async fn request_bytes(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> HttpResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("HTTP connect");
    let extra: String = headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}\r\n"))
        .collect();
    // JSON unless the caller says otherwise.
    let json = if headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{extra}{json}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("HTTP write");
    s.write_all(body).await.expect("HTTP write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("HTTP read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let bytes = raw.get(split + 4..).unwrap_or_default().to_vec();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: body.to_string(),
        bytes,
    }
}

/// A 1×1 PNG, as a citizen's photo.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Every file under `dir`, at any depth (none if it cannot be read).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A copy of the shipped IVR scripts, to edit in a test.
pub fn scripts_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let ok = std::process::Command::new("cp")
        .arg("-r")
        .arg(repo().join("ivr-scripts/."))
        .arg(dir.path())
        .status()
        .expect("cp runs")
        .success();
    assert!(ok, "copying ivr-scripts");
    dir
}
