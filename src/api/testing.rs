//! The whole HTTP API without a socket or a call: the router driven with
//! `tower::ServiceExt::oneshot` over a throw-away SQLite database, with a
//! stand-in for the calls in progress ([`StandInCalls`]). The route tests
//! (`route_tests.rs`) and the API's fuzz target (`fuzz/fuzz_targets/api_json.rs`)
//! use it; compiled always, like [`crate::store::testing`], so the fuzz
//! crate, an outside user, can.
//!
//! ```text
//! let api = TestApi::new().await;
//! let sveta = api.sign_in("sveta", Role::Supervisor).await;
//! let (status, _, body) = api.call(Method::GET, "/api/queues", Some(&sveta), None).await;
//! ```

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::Utc;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::auth::{AuthSettings, CSRF_HEADER};
use super::console::Consoles;
use super::state::{AppState, CallControl, RecordingsDir};
use crate::appeal::attachments::AttachmentFiles;
use crate::call::monitor::{MonitorRefusal, MonitorRequest};
use crate::config::{BlockingSettings, NumberingSettings};
use crate::events::EventBus;
use crate::ids::CallId;
use crate::ivr::assets::{CurrentIvr, IvrAssets, IvrReloader, IvrSource};
use crate::media::PromptCache;
use crate::metrics::Metrics;
use crate::queue::QueueSet;
use crate::queue::service::QueueService;
use crate::store::testing::TestDb;
use crate::store::{NewOperator, NewUser, QueueMembership, Role, SessionLimits};

/// Every test user's password.
pub const PASSWORD: &str = "correct horse battery";
/// The largest upload the test router takes.
pub const MAX_UPLOAD: u64 = 1 << 20;
const QUEUES: &str = "[[queue]]\nname = \"general\"\n";

/// Calls "in progress" as a test sets them; the ones ended through the
/// API are noted.
#[derive(Default)]
pub struct StandInCalls {
    pub live: Mutex<HashSet<CallId>>,
    pub ended: Mutex<Vec<CallId>>,
    /// Monitoring requests to live calls, in order.
    pub monitored: Mutex<Vec<(CallId, MonitorRequest)>>,
    /// What the next monitoring request is answered (taken), else accepted.
    pub refuse_next: Mutex<Option<MonitorRefusal>>,
    metrics: Metrics,
}

impl CallControl for StandInCalls {
    fn end_call(&self, call: CallId) -> bool {
        let was_live = self.live.lock().unwrap().remove(&call);
        if was_live {
            self.ended.lock().unwrap().push(call);
        }
        was_live
    }

    fn monitor(
        &self,
        call: CallId,
        request: MonitorRequest,
    ) -> Option<tokio::sync::oneshot::Receiver<Result<(), MonitorRefusal>>> {
        if !self.live.lock().unwrap().contains(&call) {
            return None;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let answer = match self.refuse_next.lock().unwrap().take() {
            Some(refusal) => Err(refusal),
            None => {
                self.monitored.lock().unwrap().push((call, request));
                Ok(())
            }
        };
        let _ = tx.send(answer);
        Some(rx)
    }

    fn monitors(&self) -> Vec<(CallId, String, &'static str)> {
        let mut now: Vec<(CallId, String, &'static str)> = Vec::new();
        for (call, request) in self.monitored.lock().unwrap().iter() {
            match request {
                MonitorRequest::Start { supervisor, mode } => {
                    now.retain(|(c, _, _)| c != call);
                    now.push((*call, supervisor.login.clone(), mode.as_str()));
                }
                MonitorRequest::Mode { mode, .. } => {
                    for m in now.iter_mut().filter(|(c, _, _)| c == call) {
                        m.2 = mode.as_str();
                    }
                }
                MonitorRequest::Stop { .. } => now.retain(|(c, _, _)| c != call),
            }
        }
        now
    }

    fn active_calls(&self) -> usize {
        self.live.lock().unwrap().len()
    }

    fn rtp_ports_in_use(&self) -> usize {
        2 * self.active_calls()
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// A signed-in user: the session cookie and the CSRF token.
pub struct Signed {
    pub cookie: String,
    pub csrf: String,
}

/// The router over a fresh database and folders, removed on drop.
pub struct TestApi {
    pub router: Router,
    pub db: TestDb,
    pub calls: Arc<StandInCalls>,
    dir: TempFolder,
}

/// A folder under the system's temporary one, removed on drop.
struct TempFolder(PathBuf);

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestApi {
    /// A router as the server builds it: the sample configuration's
    /// defaults, a one-node IVR menu and one queue, `general`.
    pub async fn new() -> TestApi {
        TestApi::build(false).await
    }

    /// The same, in a city that takes anonymous appeals.
    pub async fn allowing_anonymous() -> TestApi {
        TestApi::build(true).await
    }

    async fn build(anonymous: bool) -> TestApi {
        let db = TestDb::sqlite().await.expect("a fresh SQLite database");
        let dir = TempFolder(
            std::env::temp_dir().join(format!("hotline-api-{}", uuid::Uuid::new_v4().simple())),
        );
        let scripts = dir.0.join("ivr");
        std::fs::create_dir_all(scripts.join("prompts/uk")).expect("a temporary folder");
        std::fs::write(
            scripts.join("main.toml"),
            "start = \"bye\"\n[nodes.bye]\ntype = \"hangup\"\n",
        )
        .expect("a temporary folder");
        let source = IvrSource {
            dir: scripts,
            entry: "main".into(),
            language: "uk".into(),
        };
        let cache = PromptCache::new();
        let assets = IvrAssets::load(&source.dir, &source.entry, &source.language, &cache)
            .expect("the one-node menu loads");
        let events = EventBus::new();
        let queues = QueueService::spawn(
            QueueSet::parse(QUEUES).expect("the queues parse"),
            db.store().clone(),
            events.clone(),
        );
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let disk = crate::disk::DiskWatch::spawn(dir.0.clone(), 0, 0, events.clone(), stopped);
        let calls = Arc::new(StandInCalls::default());
        let ivr = CurrentIvr::new(assets);
        let state = AppState {
            store: db.store().clone(),
            queues: queues.clone(),
            events: events.clone(),
            consoles: Consoles::spawn(
                events,
                db.store().clone(),
                crate::ivr::path::PathWords::new(ivr.clone(), queues.clone()),
            ),
            auth: Arc::new(AuthSettings {
                limits: SessionLimits::default(),
                secure_cookies: false,
                limiter: Default::default(),
            }),
            disk,
            attachments: AttachmentFiles::new(dir.0.join("attachments"), MAX_UPLOAD),
            recordings: RecordingsDir(dir.0.join("recordings")),
            numbering: NumberingSettings::default().plan(),
            blocking: BlockingSettings::default(),
            calls: calls.clone(),
            ivr: IvrReloader::new(
                source,
                cache,
                queues.queue_set(),
                BlockingSettings::default(),
                ivr,
            ),
            lifecycle: Arc::new(crate::appeal::lifecycle::Lifecycle::default()),
            watcher: Default::default(),
            anonymous: crate::appeal::AnonymousAppeals(anonymous),
            dialer: None,
            reports: Default::default(),
            public: crate::public::routes::Public::new(
                Default::default(),
                &AttachmentFiles::new(dir.0.join("attachments"), MAX_UPLOAD),
                Default::default(),
            ),
            chatbot: None,
            config: Arc::new(crate::api::state::EffectiveConfig::of(
                &toml::from_str::<crate::config::Settings>(
                    "[chatbot.telegram]\ntoken = \"123:secret-token\"\n",
                )
                .expect("test settings"),
            )),
        };
        let peer: SocketAddr = "192.0.2.10:50000".parse().expect("an address");
        let router = super::router(state, MAX_UPLOAD).layer(MockConnectInfo(peer));
        TestApi {
            router,
            db,
            calls,
            dir,
        }
    }

    /// The folder the IVR menu, recordings and attachments live in.
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// One request with an optional JSON body; the status, headers and
    /// JSON body of the answer (`Null` if it has none).
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        who: Option<&Signed>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let body = body.map(|b| b.to_string().into_bytes());
        self.call_raw(method, uri, who, body).await
    }

    /// One request with a body sent as it is, declared as JSON.
    pub async fn call_raw(
        &self,
        method: Method,
        uri: &str,
        who: Option<&Signed>,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(who) = who {
            request = request
                .header(header::COOKIE, &who.cookie)
                .header(CSRF_HEADER, &who.csrf);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body)),
            None => request.body(Body::empty()),
        }
        .expect("a well-formed request");
        self.send(request).await
    }

    /// Sends a request; the status, headers and JSON body of the answer.
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers every request");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("a body");
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (parts.status, parts.headers, json)
    }

    /// Adds a user with [`PASSWORD`]; an executor's user belongs to the
    /// organisation of the same code as its login, from the sample
    /// classifier (imported on the first executor); an operator's user to a
    /// new operator of the same login.
    pub async fn user(&self, login: &str, role: Role) {
        if role == Role::Executor
            && self
                .db
                .current_classifier_version()
                .await
                .expect("the classifier's version")
                .is_none()
        {
            crate::store::testing::sample_category(&self.db, "sample", Utc::now()).await;
        }
        // An operator's user signs in to an operator of the queue `general`.
        if role == Role::Operator {
            let extensions = self.db.list_operators().await.expect("the operators").len();
            let operator = NewOperator::new(
                login,
                &format!("{}", 200 + extensions),
                None,
                vec![QueueMembership::new("general", 0)],
                Utc::now(),
            );
            self.db
                .add_operator(&operator, PASSWORD, "hotline")
                .await
                .expect("the operator is added");
        }
        self.db
            .add_user(
                &NewUser::named(
                    login,
                    role,
                    (role == Role::Executor).then_some(login),
                    false,
                ),
                PASSWORD,
                Utc::now(),
            )
            .await
            .expect("the user is added");
    }

    /// Adds the user and signs in as the console does.
    pub async fn sign_in(&self, login: &str, role: Role) -> Signed {
        self.user(login, role).await;
        self.sign_in_existing(login, PASSWORD).await
    }

    /// Signs in a user who is there already, with their password.
    pub async fn sign_in_existing(&self, login: &str, password: &str) -> Signed {
        let (status, headers, body) = self
            .call(
                Method::POST,
                "/api/session",
                None,
                Some(json!({ "login": login, "password": password })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let cookie = headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned();
        let csrf = body["csrf_token"]
            .as_str()
            .expect("a CSRF token")
            .to_owned();
        Signed { cookie, csrf }
    }
}
