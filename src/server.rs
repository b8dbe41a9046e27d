//! Putting the server together: storage (with crash recovery), the recorder,
//! prompts, SIP transport and core, trunk registrations and the HTTP API.
//!
//! [`Application::build`] binds every socket (port 0 works, for tests) and
//! reports the real addresses; [`Application::run_until_stopped`] runs until
//! the shutdown signal and then stops cleanly: no new calls, active calls
//! hung up with BYE, every recording closed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::api::{AppState, RecordingsDir};
use crate::call::{CallContext, Origin};
use crate::config::{MediaLatch, Settings, parse_net};
use crate::events::EventBus;
use crate::ivr::Diagnostic;
use crate::ivr::assets::{CurrentIvr, IvrReloader, IvrSource, load_checked};
use crate::media::PromptCache;
use crate::queue::QueueSet;
use crate::queue::service::QueueService;
use crate::recording::{self, Recorder};
use crate::rtp::ports::PortPool;
use crate::sip::core::{Core, Trunk};
use crate::sip::registration::{Registration, RegistrationConfig};
use crate::sip::transport::SipTransport;
use crate::sip::{Endpoint, EndpointConfig};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Recording(#[from] crate::recording::RecordingError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("the IVR scripts have errors:\n{}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
    Ivr(Vec<Diagnostic>),
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("trunk {name}: cannot resolve {address}")]
    Resolve { name: String, address: String },
    #[error("{}: {source}", .path.display())]
    Queues {
        path: PathBuf,
        source: crate::queue::ConfigError,
    },
    #[error(transparent)]
    Calendar(#[from] crate::appeal::calendar::CalendarError),
    #[error("[queues] member_trunk = {0:?} names no [[trunk]]")]
    MemberTrunk(String),
    #[error("{0}")]
    Mail(String),
    #[error("the chat-bot: {0}")]
    Chatbot(String),
    #[error("cannot start the media engine's thread: {0}")]
    MediaEngine(#[source] std::io::Error),
    #[error("cannot write the {what} folder {}: {source}", .path.display())]
    NotWritable {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A folder the server writes to: made on first start, and tried with a
/// file, so a folder the server cannot write stops it at once, named,
/// instead of failing every call's recording later.
fn check_writable(what: &'static str, dir: &Path) -> Result<(), ServerError> {
    let fail = |source| ServerError::NotWritable {
        what,
        path: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(".hotline-write-check");
    std::fs::write(&probe, b"hotline").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)
}

/// An executor the calendar gives hours of its own but the classifier does
/// not know is most likely a mistyped code: its cards would silently keep
/// the contact centre's hours, so the start says so. Before a classifier is
/// imported every code is unknown and nothing is said.
async fn warn_unknown_executors(
    store: &Store,
    lifecycle: &crate::appeal::lifecycle::Lifecycle,
) -> Result<(), ServerError> {
    let executors = store.current_executors().await?;
    if executors.is_empty() {
        return Ok(());
    }
    let known: Vec<&str> = executors.iter().map(|e| e.code.as_str()).collect();
    let unknown = lifecycle.calendar().unknown_executors(&known);
    if !unknown.is_empty() {
        warn!(
            codes = %unknown.join(", "),
            "the working calendar gives hours to executors the classifier does not have; their cards keep the contact centre's hours"
        );
    }
    Ok(())
}

/// The running server's handles.
pub struct Application {
    sip_addr: SocketAddr,
    http_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    core: tokio::task::JoinHandle<()>,
    http: tokio::task::JoinHandle<()>,
    recorder: Recorder,
    ctx: Arc<CallContext>,
    reloader: IvrReloader,
    dialer: Option<crate::call::outbound::Dialer>,
    lifecycle: Arc<crate::appeal::lifecycle::Lifecycle>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, ServerError> {
        check_writable("recordings", &settings.storage.recordings_dir)?;
        check_writable("attachments", &settings.storage.attachments_dir)?;
        let lifecycle = Arc::new(settings.appeals.lifecycle()?);
        let store = Store::connect(settings.storage.database_url.expose()).await?;
        store.check_writable().await?;
        recover(&store, &settings.storage.recordings_dir).await;
        warn_unknown_executors(&store, &lifecycle).await?;
        let pruner = crate::retention::Pruner::from_settings(store.clone(), &settings)?;
        // The regulation's periods are the least a city keeps (000 §2.6-2.7).
        let now = Utc::now();
        if pruner.recordings.cutoff(now) > crate::retention::Period::Months(3).cutoff(now) {
            warn!(recordings = %pruner.recordings, "[retention] recordings is shorter than the regulation's 3 months");
        }
        if pruner.appeals.cutoff(now) > crate::retention::Period::Months(36).cutoff(now) {
            warn!(appeals = %pruner.appeals, "[retention] cards is shorter than the regulation's 3 years");
        }
        // Uploads a crash cut short, before any new one can begin; files and
        // rows are made to agree by the housekeeping task, beside the calls.
        pruner.attachments.sweep_incoming();
        let recorder = Recorder::spawn(settings.storage.recordings_dir.clone())?;
        let prompts = PromptCache::new();
        let ivr_source = IvrSource::from_settings(&settings.ivr);
        let queues =
            QueueSet::load(&settings.queues.file).map_err(|source| ServerError::Queues {
                path: settings.queues.file.clone(),
                source,
            })?;
        // An operator in a queue the file no longer has is never offered a
        // call from it: said at every start, by name.
        for operator in store.list_operators().await? {
            for m in operator
                .queues
                .iter()
                .filter(|m| queues.get(&m.queue).is_none())
            {
                warn!(operator = %operator.login, queue = %m.queue, file = %settings.queues.file.display(), "an operator's queue is not in the queues file");
            }
        }
        let ivr = load_checked(&ivr_source, &prompts, &queues, &settings.blocking)
            .map_err(ServerError::Ivr)?;
        let ivr = CurrentIvr::new(ivr);
        let events = EventBus::new();
        let queue_titles = queues.titles();
        let queue_service = QueueService::spawn(queues, store.clone(), events.clone());
        let reloader = IvrReloader::new(
            ivr_source,
            prompts,
            queue_service.queue_set(),
            settings.blocking.clone(),
            ivr.clone(),
        );

        let (transport, inbound) =
            SipTransport::bind(settings.sip.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    what: "SIP",
                    addr: settings.sip.listen,
                    source,
                })?;
        let sip_addr = transport.local_addr();
        let fixed = settings
            .fixed_advertised(sip_addr)
            .map_err(ServerError::Config)?;
        // Where nothing is fixed, the default (used only where no peer is
        // known) is loopback; calls and trunks get the address facing them.
        let advertised = fixed
            .as_ref()
            .map(|(h, _)| h.clone())
            .unwrap_or_else(|| format!("127.0.0.1:{}", sip_addr.port()));
        let host_towards = |peer: std::net::IpAddr| match &fixed {
            Some((host, _)) => host.clone(),
            None => {
                let ip = crate::call::local_ip_towards(peer)
                    .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
                SocketAddr::new(ip, sip_addr.port()).to_string()
            }
        };

        let mut origins: Vec<Origin> = settings
            .peer
            .iter()
            .map(|p| Origin {
                name: p.name.clone(),
                networks: p
                    .addresses
                    .iter()
                    .filter_map(|a| parse_net(a).ok())
                    .collect(),
                this_host: p.addresses.iter().any(|a| a == crate::config::THIS_HOST),
                strict_media: p.media == MediaLatch::Strict,
                admission: p.admission,
            })
            .collect();
        let mut trunks = Vec::new();
        for t in &settings.trunk {
            let registrar = resolve(t).await?;
            origins.push(Origin {
                name: t.name.clone(),
                networks: vec![registrar.ip().into()],
                this_host: false,
                strict_media: t.media == MediaLatch::Strict,
                admission: t.admission,
            });
            if t.register {
                let domain = if t.domain.is_empty() {
                    crate::sip::msg::split_host_port(&t.address)
                        .map(|(h, _)| h)
                        .unwrap_or_default()
                } else {
                    t.domain.clone()
                };
                let cfg = RegistrationConfig {
                    name: t.name.clone(),
                    domain,
                    username: t.username.clone(),
                    password: t.password.clone(),
                    realm: t.realm.clone(),
                    expiry: Duration::from_secs(t.expiry_secs),
                    contact_host: host_towards(registrar.ip()),
                };
                trunks.push(Trunk::new(
                    Registration::new(cfg, std::time::Instant::now()),
                    registrar,
                ));
            }
        }

        let member_trunk = match &settings.queues.member_trunk {
            None => None,
            Some(name) => {
                let t = settings
                    .trunk
                    .iter()
                    .find(|t| t.name == *name)
                    .ok_or_else(|| ServerError::MemberTrunk(name.clone()))?;
                let address = resolve(t).await?;
                let host = if t.domain.is_empty() {
                    t.address.clone()
                } else {
                    t.domain.clone()
                };
                Some(crate::sip::core::MemberTrunk { host, address })
            }
        };
        let media = crate::rtp::engine::MediaEngine::spawn(crate::rtp::engine::MediaSettings {
            jitter_frames: settings.rtp.jitter_frames,
            media_timeout: Duration::from_secs(settings.rtp.media_timeout_secs),
            realtime_priority: settings.rtp.realtime_priority,
        })
        .map_err(ServerError::MediaEngine)?;
        let ctx = Arc::new(CallContext {
            store: store.clone(),
            city_tz: lifecycle.calendar().time_zone(),
            recorder: recorder.clone(),
            ports: PortPool::new(
                settings.sip.listen.ip(),
                settings.rtp.port_min,
                settings.rtp.port_max,
            ),
            advertised: fixed.clone(),
            sip_port: sip_addr.port(),
            ivr,
            origins,
            open_access: settings.sip.open_access,
            numbering: settings.numbering.plan(),
            answer_delay: Duration::from_millis(settings.sip.answer_delay_ms),
            max_calls: settings.sip.max_calls,
            media,
            active: AtomicUsize::new(0),
            established: AtomicUsize::new(0),
            live: Default::default(),
            monitors: Default::default(),
            queues: queue_service.clone(),
            events: events.clone(),
            login_on_register: settings.queues.login_on_register,
            blocking: settings.blocking.clone(),
            metrics: Default::default(),
        });

        let (shutdown, shutdown_rx) = watch::channel(false);
        let disk = crate::disk::DiskWatch::spawn(
            settings.storage.recordings_dir.clone(),
            settings.storage.disk_warn_mb,
            settings.storage.disk_min_mb,
            events.clone(),
            shutdown_rx.clone(),
        );
        let attachments = pruner.attachments.clone();
        spawn_housekeeping(
            pruner,
            Duration::from_secs(settings.retention.interval_mins * 60),
            shutdown_rx.clone(),
        );
        let commands = tokio::sync::mpsc::unbounded_channel();
        let dialer = match &settings.outbound {
            None => None,
            Some(o) => {
                let t = settings
                    .trunk
                    .iter()
                    .find(|t| t.name == o.trunk)
                    .ok_or_else(|| {
                        ServerError::Config(crate::config::ConfigError::Invalid(format!(
                            "[outbound] trunk = {:?} names no [[trunk]]",
                            o.trunk
                        )))
                    })?;
                let address = resolve(t).await?;
                let domain = if t.domain.is_empty() {
                    t.address.clone()
                } else {
                    t.domain.clone()
                };
                let trunk = crate::call::outbound::OutboundTrunk {
                    name: t.name.clone(),
                    address,
                    domain,
                    auth: Some(crate::sip::LegAuth {
                        username: t.username.clone(),
                        password: secrecy::ExposeSecret::expose_secret(&t.password).to_string(),
                    }),
                };
                info!(trunk = %t.name, max_calls = o.max_calls, "calls out enabled");
                Some(crate::call::outbound::Dialer::new(
                    ctx.clone(),
                    commands.0.clone(),
                    trunk,
                    o.clone(),
                    settings.numbering.country_code.clone(),
                ))
            }
        };
        let endpoint = Endpoint::new(EndpointConfig {
            timers: settings.sip.timers(),
            advertised: advertised.clone(),
            supported: Vec::new(),
            answer_guard: settings.sip.timers().timeout()
                + Duration::from_millis(settings.sip.answer_delay_ms),
        });
        let core = Core {
            registrar: crate::sip::registrar::Registrar::new(
                crate::store::operators::DEFAULT_REALM,
                rand::random(),
                std::time::Instant::now(),
            )
            .with_algorithms(&settings.sip.digest_algorithms),
            register_steps: tokio::sync::mpsc::unbounded_channel(),
            registered: Default::default(),
            legs: Default::default(),
            member_trunk,
            endpoint,
            transport,
            inbound,
            trunks,
            ctx: ctx.clone(),
            shutdown: shutdown_rx.clone(),
            grace: Duration::from_secs(settings.sip.shutdown_grace_secs),
            admission: crate::call::admission::Admission::new(settings.sip.admission),
            commands,
            outbound: Default::default(),
        };
        let core = tokio::spawn(core.run());

        let listener = tokio::net::TcpListener::bind(settings.http.listen)
            .await
            .map_err(|source| ServerError::Bind {
                what: "HTTP",
                addr: settings.http.listen,
                source,
            })?;
        let http_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            what: "HTTP",
            addr: settings.http.listen,
            source,
        })?;
        let consoles = crate::api::console::Consoles::spawn(
            events.clone(),
            store.clone(),
            crate::ivr::path::PathWords::new(reloader.current(), queue_service.clone()),
        );
        let watcher = {
            let consoles = consoles.clone();
            crate::appeal::watcher::spawn(
                store.clone(),
                lifecycle.clone(),
                move |step| {
                    consoles.card_changed(
                        &step.registration_number,
                        step.step,
                        step.status,
                        &step.notices,
                    )
                },
                shutdown_rx.clone(),
            )
        };
        if let (Some(dialer), true) = (&dialer, settings.appeals.verification.automated) {
            let consoles = consoles.clone();
            let watcher = watcher.clone();
            crate::appeal::verification_calls::spawn(
                store.clone(),
                lifecycle.clone(),
                dialer.clone(),
                Arc::new(move |taken| {
                    crate::appeal::lifecycle_routes::tell_consoles(&consoles, taken);
                    watcher.poke();
                }),
                shutdown_rx.clone(),
            );
        }
        let reports = Arc::new(crate::report::ReportSettings {
            queue_titles,
            ..settings.reports.clone()
        });
        crate::report::build::spawn_day_counter(
            store.clone(),
            lifecycle.calendar().clone(),
            reports.clone(),
            shutdown_rx.clone(),
        );
        let bell = crate::public::outbox::OutboxBell::default();
        if let Some(mail) = &settings.reports.mail {
            let schedules = settings.reports.schedules().map_err(ServerError::Mail)?;
            let mailer = crate::mail::Mailer::new(mail).map_err(ServerError::Mail)?;
            // The citizens' confirmations (docs/web.md).
            crate::public::outbox::spawn(
                store.clone(),
                mailer.clone(),
                mail.clone(),
                bell.clone(),
                shutdown_rx.clone(),
            );
            if !schedules.is_empty() {
                crate::report::sender::spawn(
                    crate::report::sender::Sender {
                        store: store.clone(),
                        calendar: lifecycle.calendar().clone(),
                        settings: reports.clone(),
                        mail: mail.clone(),
                        mailer,
                        schedules,
                    },
                    shutdown_rx.clone(),
                );
            }
        }
        if settings.reports.mail.is_none() {
            match store.mail_waiting().await {
                Ok(0) => {}
                Ok(n) => warn!(
                    waiting = n,
                    "citizens' e-mails wait to be sent: [reports.mail] is not set up"
                ),
                Err(e) => warn!(error = %e, "cannot count the citizens' e-mails waiting"),
            }
        }
        let public =
            crate::public::routes::Public::new(settings.public.clone(), &attachments, bell);
        let chatbot = crate::chatbot::service::Chatbot::new(
            &settings.chatbot,
            crate::chatbot::service::Parts {
                store: store.clone(),
                rules: lifecycle.clone(),
                numbering: settings.numbering.plan(),
                files: attachments.clone(),
                consoles: consoles.clone(),
                watcher: watcher.clone(),
            },
            &settings.ivr.scripts_dir,
            &settings.ivr.language,
        )
        .map_err(ServerError::Chatbot)?;
        if let Some(bot) = &chatbot {
            bot.start(shutdown_rx.clone());
        }
        let state = AppState {
            store: store.clone(),
            queues: queue_service.clone(),
            events: events.clone(),
            consoles,
            auth: Arc::new(crate::api::auth::AuthSettings {
                limits: crate::store::SessionLimits::default(),
                secure_cookies: settings.http.secure_cookies,
                limiter: Default::default(),
            }),
            disk,
            recordings: RecordingsDir(settings.storage.recordings_dir.clone()),
            numbering: settings.numbering.plan(),
            blocking: settings.blocking.clone(),
            calls: ctx.clone(),
            ivr: reloader.clone(),
            attachments,
            lifecycle: lifecycle.clone(),
            anonymous: crate::appeal::AnonymousAppeals(settings.appeals.anonymous),
            dialer: dialer.clone(),
            watcher,
            reports,
            public,
            chatbot,
            config: Arc::new(crate::api::state::EffectiveConfig::of(&settings)),
        };
        let max_upload = state.attachments.max_bytes();
        let app = crate::api::router(state, max_upload);
        let mut http_stop = shutdown_rx;
        let http = tokio::spawn(async move {
            let stop = async move {
                let _ = http_stop.wait_for(|s| *s).await;
            };
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                warn!(error = %e, "HTTP server failed");
            }
        });
        info!(sip = %sip_addr, http = %http_addr, advertised = %advertised, db = store.backend_name(), "hotline started");
        Ok(Application {
            reloader,
            sip_addr,
            http_addr,
            shutdown,
            core,
            http,
            recorder,
            ctx,
            dialer,
            lifecycle,
        })
    }

    /// Places calls out, when `[outbound]` is configured.
    pub fn dialer(&self) -> Option<crate::call::outbound::Dialer> {
        self.dialer.clone()
    }

    /// The rules of the card's life in force.
    pub fn lifecycle(&self) -> Arc<crate::appeal::lifecycle::Lifecycle> {
        self.lifecycle.clone()
    }

    pub fn sip_addr(&self) -> SocketAddr {
        self.sip_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The internal event stream (calls, queues, operators' states).
    pub fn events(&self) -> EventBus {
        self.ctx.events.clone()
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.ctx.active.load(Ordering::Relaxed)
    }

    /// Reloads the IVR scripts (SIGHUP, `POST /api/ivr/reload`).
    pub fn ivr_reloader(&self) -> IvrReloader {
        self.reloader.clone()
    }

    /// A handle that stops the server when sent `true`.
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }

    /// Runs until the shutdown handle fires, then stops cleanly.
    pub async fn run_until_stopped(self) {
        let _ = self.core.await;
        let _ = self.http.await;
        let recorder = self.recorder;
        // Closes any file a call did not finish; blocking, so off the runtime.
        let _ = tokio::task::spawn_blocking(move || recorder.shutdown()).await;
        self.ctx.store.close().await;
        info!("hotline stopped");
    }
}

/// A trunk's address, resolved once at start-up.
async fn resolve(t: &crate::config::TrunkSettings) -> Result<SocketAddr, ServerError> {
    tokio::net::lookup_host(&t.address)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| ServerError::Resolve {
            name: t.name.clone(),
            address: t.address.clone(),
        })
}

/// How often blocks past their `until` are ended (and logged).
const BLOCK_EXPIRY_EVERY: Duration = Duration::from_secs(30);

/// The server's own schedule: expired blocks ended and logged, and the
/// retention prune every `prune_every` (never, if zero), the first an
/// interval after start-up, so a restart does not prune at once.
fn spawn_housekeeping(
    pruner: crate::retention::Pruner,
    prune_every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        // Files and rows agree again after any crash (of a prune, a call or
        // an upload); beside the calls, so start-up does not wait on a walk
        // of the recordings.
        if let Err(e) = pruner.reconcile(Utc::now()).await {
            warn!(error = %e, "the sweep of recordings and attachments failed");
        }
        let start = tokio::time::Instant::now();
        let mut expiry = tokio::time::interval_at(start + BLOCK_EXPIRY_EVERY, BLOCK_EXPIRY_EVERY);
        let mut next_prune = (!prune_every.is_zero()).then(|| start + prune_every);
        loop {
            let prune_due = async {
                match next_prune {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let stopped = async {
                // The guard `wait_for` returns must not live across awaits.
                let _ = stop.wait_for(|s| *s).await.map(|_| ());
            };
            tokio::select! {
                _ = stopped => return,
                _ = expiry.tick() => match pruner.store.expire_blocks(Utc::now()).await {
                    Ok(ended) => {
                        for b in ended {
                            info!(number = %crate::phone::Pii(b.number.clone()), until = ?b.until, attempts = b.attempts, "block expired");
                        }
                    }
                    Err(e) => warn!(error = %e, "cannot end expired blocks"),
                },
                _ = prune_due => {
                    next_prune = Some(tokio::time::Instant::now() + prune_every);
                    if let Err(e) = pruner.prune(Utc::now(), false).await {
                        warn!(error = %e, "the retention prune failed; it runs again at the next interval");
                    }
                }
            }
        }
    });
}

/// After a crash: repair the WAV files of recordings that never finished,
/// complete their rows from what is on disk, and close calls left open.
/// A file is gone when its directory can be read and it is not there (an
/// unmounted volume loses nothing).
fn gone(path: &Path, recordings_dir: &Path) -> bool {
    std::fs::read_dir(recordings_dir).is_ok() && matches!(path.try_exists(), Ok(false))
}

pub async fn recover(store: &Store, recordings_dir: &Path) {
    let unfinished = match store.unfinished_recordings().await {
        Ok(r) => r,
        Err(e) => return warn!(error = %e, "cannot list unfinished recordings"),
    };
    for rec in unfinished {
        let path = recordings_dir.join(&rec.path);
        match recording::repair_file(&path) {
            Ok(outcome) => {
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                let ended = rec.started_at
                    + chrono::Duration::from_std(outcome.duration).unwrap_or_default();
                let ms = outcome.duration.as_millis() as u64;
                if let Err(e) = store.finish_recording(rec.id, ended, ms, size).await {
                    warn!(error = %e, "cannot complete a recovered recording's row");
                }
                info!(recording = %rec.id, seconds = outcome.duration.as_secs_f64(), repaired = outcome.changed, "recovered unfinished recording");
            }
            Err(e) if gone(&path, recordings_dir) => {
                // The call's file never reached the disk (or was lost with
                // it): the row says so instead of staying unfinished.
                warn!(recording = %rec.id, error = %e, "an unfinished recording's file is missing");
                if let Err(e) = store.mark_recording_missing(rec.id, Utc::now()).await {
                    warn!(error = %e, "cannot mark a missing recording");
                }
            }
            Err(e) => {
                warn!(recording = %rec.id, error = %e, "cannot repair an unfinished recording")
            }
        }
    }
    match store.close_calls_after_crash(Utc::now()).await {
        Ok(0) => {}
        Ok(n) => info!(calls = n, "closed calls left open by an earlier run"),
        Err(e) => warn!(error = %e, "cannot close calls left open"),
    }
}
