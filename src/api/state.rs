//! What the HTTP edge is given: [`AppState`], made of parts that handlers
//! take one by one (`State<Store>`, `State<QueueService>`…) through
//! `FromRef`, so a handler reaches only what it needs. The server assembles
//! it ([`crate::server`]); tests assemble one of their own.
//!
//! The calls in progress are behind [`CallControl`], the little the API may
//! ask of them, so `api` does not depend on the call layer.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::FromRef;

use super::auth::AuthSettings;
use super::console::Consoles;
use crate::appeal::attachments::AttachmentFiles;
use crate::config::BlockingSettings;
use crate::disk::DiskWatch;
use crate::events::EventBus;
use crate::ids::CallId;
use crate::ivr::assets::IvrReloader;
use crate::metrics::Metrics;
use crate::phone::NumberingPlan;
use crate::queue::service::QueueService;
use crate::store::Store;

/// What the API may ask of the calls in progress.
pub trait CallControl: Send + Sync {
    /// Ends a call in progress (BYE to both sides); `false` if it is not in
    /// progress.
    fn end_call(&self, call: CallId) -> bool;
    /// Asks a call in progress about its monitoring by a supervisor;
    /// `None` if the call is not in progress.
    fn monitor(
        &self,
        call: CallId,
        request: crate::call::monitor::MonitorRequest,
    ) -> Option<tokio::sync::oneshot::Receiver<Result<(), crate::call::monitor::MonitorRefusal>>>;
    /// The calls supervisors listen in on: the call, who, the state
    /// (`ringing`, `listen`, `whisper`, `barge`).
    fn monitors(&self) -> Vec<(CallId, String, &'static str)>;
    /// Calls in progress now.
    fn active_calls(&self) -> usize;
    /// RTP ports taken by calls now.
    fn rtp_ports_in_use(&self) -> usize;
    /// The server's counters.
    fn metrics(&self) -> &Metrics;
}

/// The folder the recordings' stored paths are relative to.
#[derive(Debug, Clone)]
pub struct RecordingsDir(pub PathBuf);

/// Everything the routes are given; each field is a part a handler can take
/// alone.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub store: Store,
    pub queues: QueueService,
    pub events: EventBus,
    pub consoles: Consoles,
    pub auth: Arc<AuthSettings>,
    pub disk: DiskWatch,
    pub attachments: AttachmentFiles,
    pub recordings: RecordingsDir,
    pub numbering: NumberingPlan,
    /// What blocked callers get, and how long an operator's block lasts.
    pub blocking: BlockingSettings,
    pub calls: Arc<dyn CallControl>,
    pub ivr: IvrReloader,
    /// The card's rules, with the city's working calendar.
    pub lifecycle: Arc<crate::appeal::lifecycle::Lifecycle>,
    /// Woken when a step may bring a delivery or a deadline nearer.
    pub watcher: crate::appeal::watcher::WatcherHandle,
    /// Whether anonymous appeals are taken (`[appeals] anonymous`).
    pub anonymous: crate::appeal::AnonymousAppeals,
    /// Calls out (click-to-call), when `[outbound]` is configured.
    pub dialer: Option<crate::call::outbound::Dialer>,
    /// `[reports]`: the service level, the CSV separator, the PDF heading.
    pub reports: Arc<crate::report::ReportSettings>,
    /// `[public]`: the citizens' pages, their limits and their counts.
    pub public: crate::public::routes::Public,
    /// The chat-bot, when a messenger is configured: its webhooks.
    pub chatbot: Option<crate::chatbot::service::Chatbot>,
    /// The settings in force, as the admins' page shows them.
    pub config: Arc<EffectiveConfig>,
}

/// The settings the server runs with (the file, `HOTLINE_*` overrides and
/// every default), written out as TOML with each secret hidden.
#[derive(Debug, Clone)]
pub struct EffectiveConfig {
    pub toml: String,
}

impl EffectiveConfig {
    pub fn of(settings: &crate::config::Settings) -> EffectiveConfig {
        let toml = toml::to_string_pretty(settings)
            .unwrap_or_else(|e| format!("# the settings could not be written out: {e}\n"));
        EffectiveConfig { toml }
    }
}

/// The caller's path through the menu in words: the menu in force and the
/// queues' titles.
impl FromRef<AppState> for crate::ivr::path::PathWords {
    fn from_ref(state: &AppState) -> Self {
        crate::ivr::path::PathWords::new(state.ivr.current(), state.queues.clone())
    }
}
