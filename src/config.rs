//! Typed settings: `sip-config/hotline.toml` (or `--config PATH`), every key
//! overridable by `HOTLINE_<SECTION>__<KEY>` environment variables, with the
//! defaults documented in the shipped file.
//!
//! Reading and checking only; nothing here opens sockets or files other
//! than the configuration file itself.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::secret::{DatabaseUrl, SecretString};
use crate::sip::timer::TimerConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The file is sound; a `HOTLINE_*` variable is not (a mistyped name, a
    /// value of the wrong kind).
    #[error("environment: {} does not fit the configuration: {source}", .names.join(", "))]
    Environment {
        names: Vec<String>,
        source: Box<config::ConfigError>,
    },
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub sip: SipSettings,
    #[serde(default)]
    pub rtp: RtpSettings,
    #[serde(default)]
    pub http: HttpSettings,
    #[serde(default)]
    pub storage: StorageSettings,
    #[serde(default)]
    pub ivr: IvrSettings,
    #[serde(default)]
    pub queues: QueueSettings,
    #[serde(default)]
    pub numbering: NumberingSettings,
    #[serde(default)]
    pub appeals: AppealSettings,
    #[serde(default)]
    pub logging: LoggingSettings,
    #[serde(default)]
    pub blocking: BlockingSettings,
    #[serde(default)]
    pub retention: RetentionSettings,
    #[serde(default)]
    pub peer: Vec<PeerSettings>,
    #[serde(default)]
    pub trunk: Vec<TrunkSettings>,
    /// Calls hotline places (verification call-backs); none without it.
    #[serde(default)]
    pub outbound: Option<OutboundSettings>,
    /// Reports: the service level's threshold, the CSV's separator.
    #[serde(default)]
    pub reports: crate::report::ReportSettings,
    /// The citizens' pages: the appeal form, the status page.
    #[serde(default)]
    pub public: crate::public::PublicSettings,
    /// The chat-bots (docs/chatbots.md).
    #[serde(default)]
    pub chatbot: crate::chatbot::ChatbotSettings,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipSettings {
    /// UDP and TCP listen on this one address.
    pub listen: SocketAddr,
    /// Host or host:port for Via, Contact and SDP when behind NAT; empty
    /// means the listen address (or 127.0.0.1 when listening on any).
    pub public_address: String,
    /// Accept calls from any source, not only configured peers and trunks.
    pub open_access: bool,
    /// Ring this long (sending 180) before answering; 0 answers at once.
    pub answer_delay_ms: u64,
    /// Established calls (confirmed by ACK) beyond which a new call gets
    /// 503 (still put on file), so an overload turns callers away instead
    /// of spoiling every call's audio; 0 = no limit. Calls being set up
    /// are limited apart, by `admission`. `docs/BENCHMARKS.md` says what one
    /// core holds.
    pub max_calls: usize,
    /// Each source's limits on new calls and on calls being set up
    /// (`docs/sip.md`, "Admission").
    pub admission: crate::call::admission::AdmissionSettings,
    pub t1_ms: u64,
    pub t2_ms: u64,
    pub t4_ms: u64,
    /// Seconds to wait for calls to end cleanly at shutdown.
    pub shutdown_grace_secs: u64,
    /// Digest algorithms offered to registering softphones, in order.
    pub digest_algorithms: Vec<String>,
}

impl Default for SipSettings {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:5060".parse().expect("constant address"),
            public_address: String::new(),
            open_access: false,
            answer_delay_ms: 0,
            admission: Default::default(),
            max_calls: 0,
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
            shutdown_grace_secs: 5,
            digest_algorithms: vec!["MD5".into()],
        }
    }
}

impl SipSettings {
    pub fn timers(&self) -> TimerConfig {
        TimerConfig {
            t1: Duration::from_millis(self.t1_ms),
            t2: Duration::from_millis(self.t2_ms),
            t4: Duration::from_millis(self.t4_ms),
        }
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RtpSettings {
    /// Even port numbers from this range carry RTP, the odd one above RTCP.
    /// 0 and 0 let the system choose (tests).
    pub port_min: u16,
    pub port_max: u16,
    /// Fixed jitter-buffer delay in 20 ms frames.
    pub jitter_frames: usize,
    /// Hang up when no RTP has arrived for this long (0 = never).
    pub media_timeout_secs: u64,
    /// Real-time (SCHED_FIFO) priority for the media thread, 1 to 99; 0
    /// leaves it an ordinary thread. Needs CAP_SYS_NICE (or root).
    pub realtime_priority: u8,
}

impl Default for RtpSettings {
    fn default() -> Self {
        Self {
            port_min: 20000,
            port_max: 30000,
            jitter_frames: 3,
            media_timeout_secs: 60,
            realtime_priority: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    /// Mark the session cookie `Secure` (sent over HTTPS only): set it when
    /// the console is served over TLS (e.g. behind a TLS proxy).
    pub secure_cookies: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".parse().expect("constant address"),
            secure_cookies: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    pub database_url: DatabaseUrl,
    pub recordings_dir: PathBuf,
    /// Files attached to appeal cards: `<attachments_dir>/YYYY/MM/<uuid>.<ext>`.
    pub attachments_dir: PathBuf,
    /// The largest file an operator may attach to a card, in MiB.
    pub attachment_max_mb: u32,
    /// Free space on the recordings volume below which the server warns
    /// (log and supervisors' page), in MiB.
    pub disk_warn_mb: u64,
    /// Free space below which it says so loudly: calls are still answered,
    /// but recordings may stop early (each file stays playable).
    pub disk_min_mb: u64,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            database_url: DatabaseUrl::new("sqlite://hotline.db"),
            recordings_dir: "recordings".into(),
            attachments_dir: "attachments".into(),
            attachment_max_mb: 25,
            disk_warn_mb: 2048,
            disk_min_mb: 256,
        }
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IvrSettings {
    pub scripts_dir: PathBuf,
    /// The menu a new call starts in: `<scripts_dir>/<entry>.toml`.
    pub entry: String,
    /// Prompts are `<scripts_dir>/prompts/<language>/`.
    pub language: String,
}

impl Default for IvrSettings {
    fn default() -> Self {
        Self {
            scripts_dir: "ivr-scripts".into(),
            entry: "main".into(),
            language: "uk".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSettings {
    /// The queues (Asterisk `queues.conf` key names), see
    /// `sip-config/queues.toml`.
    pub file: PathBuf,
    /// A softphone that registers logs its operator in (available), and
    /// one whose last registration ends logs them out. Off: operators log
    /// in and out through the API only.
    pub login_on_register: bool,
    /// Operators who sit behind a PBX (Asterisk) instead of registering
    /// here: an operator with no registered phone is rung as
    /// `sip:<extension>@<address>` of this `[[trunk]]`. They log in and out
    /// through the API.
    pub member_trunk: Option<String>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            file: "sip-config/queues.toml".into(),
            login_on_register: true,
            member_trunk: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NumberingSettings {
    /// Country calling code without `+`.
    pub country_code: String,
    /// Area code (without the trunk 0) for local numbers dialled without it.
    pub area_code: String,
}

impl NumberingSettings {
    /// The plan numbers are normalised by.
    pub fn plan(&self) -> crate::phone::NumberingPlan {
        crate::phone::NumberingPlan {
            country_code: self.country_code.clone(),
            area_code: self.area_code.clone(),
        }
    }
}

impl Default for NumberingSettings {
    fn default() -> Self {
        Self {
            country_code: "380".into(),
            area_code: "61".into(),
        }
    }
}

/// The card's life (docs/lifecycle.md).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppealSettings {
    /// The working calendar: days, hours, holidays, executors' own hours.
    pub calendar: PathBuf,
    /// The share of a card's term left at which it is "due soon" (0.25:
    /// the last quarter).
    pub due_soon_share: f64,
    /// Whether anonymous appeals are taken (003 §10): a number and an
    /// executor, no name, no contact, no callback. Off unless the city's
    /// rules allow them.
    pub anonymous: bool,
    /// Asking citizens whether the work was done (docs/lifecycle.md,
    /// "Verification").
    pub verification: crate::appeal::verification::VerificationSettings,
}

impl Default for AppealSettings {
    fn default() -> Self {
        Self {
            calendar: PathBuf::from(crate::appeal::calendar::DEFAULT_PATH),
            due_soon_share: 0.25,
            anonymous: false,
            verification: Default::default(),
        }
    }
}

impl AppealSettings {
    /// The lifecycle's rules with the city's calendar, read and checked.
    pub fn lifecycle(
        &self,
    ) -> Result<crate::appeal::lifecycle::Lifecycle, crate::appeal::calendar::CalendarError> {
        if !(0.0..=1.0).contains(&self.due_soon_share) {
            return Err(crate::appeal::calendar::CalendarError::Invalid {
                path: "[appeals] due_soon_share".into(),
                message: format!("{} is not a share between 0 and 1", self.due_soon_share),
            });
        }
        let calendar = crate::appeal::calendar::WorkingCalendar::load(&self.calendar)?;
        let v = &self.verification;
        let attempts =
            v.attempts()
                .map_err(|message| crate::appeal::calendar::CalendarError::Invalid {
                    path: "[appeals.verification]".into(),
                    message,
                })?;
        Ok(
            crate::appeal::lifecycle::Lifecycle::new(calendar, self.due_soon_share)
                .with_verification(
                    crate::appeal::control::ControlRule::new(v.control.clone()),
                    attempts,
                    v.same_problem_days,
                ),
        )
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingSettings {
    /// A tracing filter, e.g. `info` or `hotline=debug,sqlx=warn`.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
    /// Show caller numbers in logs (for debugging only).
    pub reveal_personal_data: bool,
}

impl Default for LoggingSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: "text".into(),
            reveal_personal_data: false,
        }
    }
}

/// What a call from a blocked number gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockAction {
    /// `403 Forbidden`, never answered.
    Reject,
    /// Answered, told (the `blocked` menu) and hung up; recorded.
    Prompt,
}

/// What a call with no usable number (withheld, anonymous) gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnonymousPolicy {
    /// Served like any other call.
    Allow,
    Reject,
    Prompt,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockingSettings {
    pub action: BlockAction,
    pub anonymous: AnonymousPolicy,
    /// The menu file (in `[ivr] scripts_dir`) a call hears with `prompt`.
    pub prompt_menu: String,
    /// How long the operator's "end call and block caller" blocks a number,
    /// in days; 0 blocks it until a supervisor lifts it.
    pub operator_block_days: u32,
}

impl Default for BlockingSettings {
    fn default() -> Self {
        Self {
            action: BlockAction::Prompt,
            anonymous: AnonymousPolicy::Allow,
            prompt_menu: "blocked".into(),
            operator_block_days: 0,
        }
    }
}

/// How long recordings and cards are kept (000 §2.6-2.7), as `N days`,
/// `N weeks`, `N months` or `N years`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    pub recordings: String,
    pub cards: String,
    /// How often the server prunes, in minutes (0: only `hotline prune`).
    pub interval_mins: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            recordings: "3 months".into(),
            cards: "3 years".into(),
            interval_mins: 60,
        }
    }
}

impl RetentionSettings {
    pub fn recordings(&self) -> Result<crate::retention::Period, ConfigError> {
        self.recordings
            .parse()
            .map_err(|e| ConfigError::Invalid(format!("[retention] recordings: {e}")))
    }

    pub fn cards(&self) -> Result<crate::retention::Period, ConfigError> {
        self.cards
            .parse()
            .map_err(|e| ConfigError::Invalid(format!("[retention] cards: {e}")))
    }
}

/// An Asterisk box or trunk that sends us calls, trusted by source address.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSettings {
    pub name: String,
    /// Addresses or networks (`10.0.0.5`, `10.0.0.0/24`), or `this-host`
    /// for every address of this machine (loopback and its interfaces).
    pub addresses: Vec<String>,
    /// Where its calls' media may come from (`docs/sip.md`, "Media address").
    #[serde(default)]
    pub media: MediaLatch,
    /// Each of its callers' admission limits, if not `[sip.admission]`'s.
    #[serde(default)]
    pub admission: Option<crate::call::admission::Limits>,
}

/// How a peer's or trunk's calls take their media address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaLatch {
    /// Only the address in the SDP, both ways (a peer that sends from the
    /// address it signals, as Asterisk and trunks do).
    #[default]
    Strict,
    /// Symmetric RTP: the first packets from the SDP's or the signalling's
    /// IP set the address (a peer whose media passes a NAT).
    Symmetric,
}

/// A trunk we REGISTER to with digest authentication.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkSettings {
    pub name: String,
    /// The registrar's `host:port`; calls from this address are trusted.
    pub address: String,
    /// Domain for the AOR and Request-URI; defaults to the address's host.
    #[serde(default)]
    pub domain: String,
    pub username: String,
    #[serde(serialize_with = "crate::secret::hidden")]
    pub password: SecretString,
    #[serde(default)]
    pub realm: Option<String>,
    #[serde(default = "default_expiry")]
    pub expiry_secs: u64,
    #[serde(default = "yes")]
    pub register: bool,
    /// Where its calls' media may come from, as for a `[[peer]]`.
    #[serde(default)]
    pub media: MediaLatch,
    /// Each of its callers' admission limits, as for a `[[peer]]`.
    #[serde(default)]
    pub admission: Option<crate::call::admission::Limits>,
}

/// Calls out (`[outbound]`): through which trunk, as which number, how
/// many at once.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSettings {
    /// The `[[trunk]]` calls go out through: its address, domain and
    /// account (answering its digest challenge). An Asterisk box is a
    /// `[[trunk]]` with `register = false`.
    pub trunk: String,
    /// The hotline's number, as citizens see it (From and
    /// P-Asserted-Identity).
    pub caller_id: String,
    /// The name shown beside it.
    #[serde(default = "default_display")]
    pub display: String,
    /// How the citizen's number is dialled: `national` (0671234567) or
    /// `e164` (+380671234567).
    #[serde(default)]
    pub dial_format: DialFormat,
    /// Calls out at the same time, at most.
    #[serde(default = "default_outbound_calls")]
    pub max_calls: usize,
    /// How long a call rings before it counts as not answered.
    #[serde(default = "default_ring_secs")]
    pub ring_secs: u64,
    /// The longest a call out may last.
    #[serde(default = "default_max_call_secs")]
    pub max_call_secs: u64,
    /// The menu file (under `[ivr] dir`) the verification survey plays.
    #[serde(default = "default_survey")]
    pub survey_menu: String,
}

/// How a number is put in a call's Request-URI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DialFormat {
    /// The national form: the trunk prefix 0 and the rest (0671234567).
    #[default]
    National,
    /// `+` and the full international number.
    E164,
}

impl DialFormat {
    /// `e164` (`+380671234567`) as this format dials it.
    pub fn dial(self, e164: &str, country_code: &str) -> String {
        match self {
            DialFormat::E164 => e164.to_string(),
            DialFormat::National => {
                let digits = e164.trim_start_matches('+');
                match digits.strip_prefix(country_code) {
                    Some(rest) => format!("0{rest}"),
                    // Another country's number goes out in full.
                    None => format!("00{digits}"),
                }
            }
        }
    }
}

fn default_display() -> String {
    "15-80".into()
}

fn default_outbound_calls() -> usize {
    4
}

fn default_ring_secs() -> u64 {
    40
}

fn default_max_call_secs() -> u64 {
    180
}

fn default_survey() -> String {
    "survey".into()
}

fn default_expiry() -> u64 {
    600
}

fn yes() -> bool {
    true
}

/// Where the default configuration lives, relative to the working directory.
pub const DEFAULT_PATH: &str = "sip-config/hotline.toml";

impl Settings {
    /// Reads the file (which must exist) and applies environment overrides.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        Self::load_with(path, overrides())
    }

    /// [`Settings::load`] with these `HOTLINE_*` overrides.
    fn load_with(path: &Path, env: config::Map<String, String>) -> Result<Settings, ConfigError> {
        let file = || config::File::from(path).format(config::FileFormat::Toml);
        let names: Vec<String> = env.keys().cloned().collect();
        let combined = config::Config::builder()
            .add_source(file())
            .add_source(
                config::Environment::with_prefix("HOTLINE")
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true)
                    .source(Some(env)),
            )
            .build()
            .and_then(|c| c.try_deserialize::<Settings>());
        let settings = match combined {
            Ok(settings) => settings,
            Err(source) => {
                // Blame the file only if the file alone fails too.
                let file_alone = config::Config::builder()
                    .add_source(file())
                    .build()
                    .and_then(|c| c.try_deserialize::<Settings>());
                // The variables the error is about, when it names a key.
                let message = source.to_string();
                let named: Vec<String> = names
                    .iter()
                    .filter(|n| {
                        let key = n.rsplit("__").next().unwrap_or_default().to_lowercase();
                        let path = n.trim_start_matches("HOTLINE_").replace("__", ".");
                        message.contains(&format!("field `{key}`"))
                            || message.contains(&format!("key `{}`", path.to_lowercase()))
                    })
                    .cloned()
                    .collect();
                let names = if named.is_empty() { names } else { named };
                return Err(match (file_alone, names.is_empty()) {
                    (Ok(_), false) => ConfigError::Environment {
                        names,
                        source: Box::new(source),
                    },
                    _ => ConfigError::Load(source),
                });
            }
        };
        settings.check()?;
        Ok(settings)
    }

    /// Parses TOML text without environment overrides (tests).
    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        let settings: Settings = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()?
            .try_deserialize()?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        let r = &self.rtp;
        if (r.port_min, r.port_max) != (0, 0)
            && (r.port_min == 0 || r.port_min > r.port_max || r.port_max - r.port_min < 1)
        {
            return bad(format!(
                "[rtp] port range {}..{} needs at least one even/odd pair",
                r.port_min, r.port_max
            ));
        }
        self.retention.recordings()?;
        self.retention.cards()?;
        self.reports.check().map_err(ConfigError::Invalid)?;
        self.public.check().map_err(ConfigError::Invalid)?;
        self.chatbot.check().map_err(ConfigError::Invalid)?;
        if self.storage.disk_min_mb > self.storage.disk_warn_mb {
            return bad("[storage] disk_min_mb must not be above disk_warn_mb".into());
        }
        if self.blocking.prompt_menu.is_empty() {
            return bad("[blocking] prompt_menu must name a menu file".into());
        }
        if !(1..=1024).contains(&self.storage.attachment_max_mb) {
            return bad("[storage] attachment_max_mb must be 1 to 1024".into());
        }
        if self.sip.t1_ms == 0 || self.sip.t2_ms < self.sip.t1_ms {
            return bad("[sip] t1_ms must be > 0 and t2_ms >= t1_ms".into());
        }
        if let Some(bad) = self
            .sip
            .digest_algorithms
            .iter()
            .find(|a| !["MD5", "SHA-256"].contains(&a.to_ascii_uppercase().as_str()))
        {
            return Err(ConfigError::Invalid(format!(
                "[sip] digest_algorithms: {bad:?} is not MD5 or SHA-256"
            )));
        }
        if !matches!(self.logging.format.as_str(), "text" | "json") {
            return bad(format!(
                "[logging] format must be text or json, not {:?}",
                self.logging.format
            ));
        }
        for p in &self.peer {
            for a in p.addresses.iter().filter(|a| *a != THIS_HOST) {
                parse_net(a)
                    .map_err(|e| ConfigError::Invalid(format!("[[peer]] {}: {e}", p.name)))?;
            }
        }
        for t in &self.trunk {
            if t.address.is_empty() || t.username.is_empty() {
                return bad(format!("[[trunk]] {} needs address and username", t.name));
            }
        }
        if let Some(o) = &self.outbound {
            if !self.trunk.iter().any(|t| t.name == o.trunk) {
                return bad(format!(
                    "[outbound] trunk = {:?} names no [[trunk]]",
                    o.trunk
                ));
            }
            if o.caller_id.is_empty()
                || !o.caller_id.chars().all(|c| c.is_ascii_digit() || c == '+')
            {
                return bad(format!(
                    "[outbound] caller_id {:?} must be a number (digits, an optional +)",
                    o.caller_id
                ));
            }
            if o.max_calls == 0 || o.ring_secs == 0 || o.max_call_secs == 0 {
                return bad(
                    "[outbound] max_calls, ring_secs and max_call_secs must be above 0".into(),
                );
            }
        } else if self.appeals.verification.automated {
            return bad(
                "[appeals.verification] automated = true needs an [outbound] trunk to call through"
                    .into(),
            );
        }
        Ok(())
    }

    /// `host:port` for Via/Contact and the IP for SDP when configuration
    /// fixes them: `public_address` (a host name is resolved here, once),
    /// or a specific listen address. `None` when listening on every
    /// interface with no public address: then each call uses the local
    /// address that faces its peer.
    pub fn fixed_advertised(
        &self,
        bound: SocketAddr,
    ) -> Result<Option<(String, IpAddr)>, ConfigError> {
        let public = self.sip.public_address.trim();
        if public.is_empty() {
            return Ok((!bound.ip().is_unspecified()).then(|| (bound.to_string(), bound.ip())));
        }
        let invalid = || {
            ConfigError::Invalid(format!(
                "[sip] public_address {public:?} is not host or host:port"
            ))
        };
        let (host, port) = crate::sip::msg::split_host_port(public).ok_or_else(invalid)?;
        let port = port.unwrap_or(bound.port());
        let bare = host.trim_matches(['[', ']']);
        let ip = match bare.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => std::net::ToSocketAddrs::to_socket_addrs(&(bare, port))
                .ok()
                .and_then(|mut a| a.next())
                .map(|a| a.ip())
                .ok_or_else(|| {
                    ConfigError::Invalid(format!("[sip] public_address {bare:?} does not resolve"))
                })?,
        };
        Ok(Some((format!("{host}:{port}"), ip)))
    }
}

/// The `HOTLINE_<SECTION>__<KEY>` variables only: other `HOTLINE_*`
/// variables (test settings, wrappers' own) are not configuration keys.
/// The `HOTLINE_*` variables that override the file (`HOTLINE_SIP__LISTEN`).
fn overrides() -> config::Map<String, String> {
    std::env::vars()
        .filter(|(name, _)| {
            name.strip_prefix("HOTLINE_")
                .is_some_and(|rest| rest.contains("__"))
        })
        .collect()
}

/// The `addresses` entry that stands for every address of this machine.
pub const THIS_HOST: &str = "this-host";

/// Parses `10.0.0.5` or `10.0.0.0/24`.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net);
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{s:?} is not an address or network"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_sample_parses() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sip-config/hotline.toml"
        ))
        .unwrap();
        let s = Settings::from_toml(&text).unwrap();
        assert_eq!(s.sip.listen, "0.0.0.0:5060".parse().unwrap());
        assert_eq!(s.storage.database_url.expose(), "sqlite://hotline.db");
        assert!(
            s.peer
                .iter()
                .any(|p| p.addresses.iter().any(|a| a == THIS_HOST))
        );
    }

    #[test]
    fn a_mistyped_variable_is_named_and_the_file_not_blamed() {
        let sample = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sip-config/hotline.toml"
        ));
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<config::Map<String, String>>()
        };
        let good = Settings::load_with(sample, env(&[("HOTLINE_SIP__LISTEN", "127.0.0.1:5070")]));
        assert_eq!(good.unwrap().sip.listen, "127.0.0.1:5070".parse().unwrap());
        let typo = Settings::load_with(sample, env(&[("HOTLINE_SIP__LISTN", "127.0.0.1:5070")]));
        match typo {
            Err(e @ ConfigError::Environment { .. }) => {
                assert!(e.to_string().contains("HOTLINE_SIP__LISTN"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        // A broken file is still the file's fault.
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("hotline.toml");
        std::fs::write(&broken, "[sip]\nlistn = 1\n").unwrap();
        let e = Settings::load_with(&broken, env(&[("HOTLINE_SIP__LISTEN", "127.0.0.1:5070")]));
        assert!(matches!(e, Err(ConfigError::Load(_))), "{e:?}");
    }

    #[test]
    fn defaults_and_errors() {
        let s = Settings::from_toml("").unwrap();
        assert_eq!(s.rtp.media_timeout_secs, 60);
        assert!(Settings::from_toml("[sip]\nlisten = \"nonsense\"").is_err());
        assert!(Settings::from_toml("[sip]\nunknown_key = 1").is_err());
        assert!(Settings::from_toml("[rtp]\nport_min = 30000\nport_max = 20000").is_err());
        assert!(
            Settings::from_toml("[[peer]]\nname = \"x\"\naddresses = [\"300.1.1.1\"]").is_err()
        );
    }

    #[test]
    fn advertised_address_is_fixed_only_when_configured() {
        let s = Settings::from_toml("").unwrap();
        let any: SocketAddr = "0.0.0.0:5060".parse().unwrap();
        assert_eq!(s.fixed_advertised(any).unwrap(), None);
        let one: SocketAddr = "10.1.2.3:5060".parse().unwrap();
        assert_eq!(
            s.fixed_advertised(one).unwrap(),
            Some(("10.1.2.3:5060".into(), "10.1.2.3".parse().unwrap()))
        );
        let s = Settings::from_toml("[sip]\npublic_address = \"203.0.113.5\"").unwrap();
        assert_eq!(
            s.fixed_advertised(any).unwrap(),
            Some(("203.0.113.5:5060".into(), "203.0.113.5".parse().unwrap()))
        );
        let s = Settings::from_toml("[sip]\npublic_address = \"localhost:5080\"").unwrap();
        let (host, ip) = s.fixed_advertised(any).unwrap().unwrap();
        assert_eq!(host, "localhost:5080");
        assert!(ip.is_loopback());
    }
}
