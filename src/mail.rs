//! Outgoing e-mail: the city's SMTP server (`[reports.mail]`), reached with
//! STARTTLS or TLS and authentication, through `lettre`. Reports go out
//! this way (`report::sender`); the citizens' confirmations will too.
//!
//! [`MailSettings`] is the configuration, checked at start; [`Mailer`] is
//! the transport built from it; [`Outgoing`] is one message with its
//! attachment. A sending error says whether trying again can help
//! ([`SendError::permanent`]).

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;

use crate::secret::{ExposeSecret, SecretString};

/// How the connection to the SMTP server is protected.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[schema(as = MailSecurity)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which must succeed (port
    /// 587, submission).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same machine, and never with
    /// a password.
    None,
}

/// `[reports.mail]`: the SMTP server reports are sent through.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// The server's name, as its certificate names it.
    pub host: String,
    /// 587 for STARTTLS, 465 for TLS, 25 for a local relay.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    /// The account to authenticate as; none: no authentication.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    #[serde(serialize_with = "crate::secret::hidden_opt")]
    pub password: Option<SecretString>,
    /// The sender, e.g. "Гаряча лінія 15-80 <hotline@city.gov.ua>".
    pub from: String,
    /// A PEM file of certificates to trust besides the system's (a city's
    /// own certificate authority).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How long connecting may take; a whole message (the exchange and
    /// the attachment) may take [`MailSettings::send_deadline`], ten times
    /// as long.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// The first retry of a failed sending waits this long; each next one
    /// waits three times as long as the one before.
    #[serde(default = "default_retry")]
    pub retry_secs: u64,
    /// Attempts before a report is given up (and shown as failed).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
}

fn default_timeout() -> u64 {
    30
}

fn default_retry() -> u64 {
    60
}

fn default_attempts() -> u32 {
    8
}

impl MailSettings {
    /// The port: as set, or the usual one for the security chosen.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            Security::Starttls => 587,
            Security::Tls => 465,
            Security::None => 25,
        })
    }

    /// The longest a whole message may take.
    pub fn send_deadline(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.saturating_mul(10))
    }

    /// Checks the settings; the error names the field.
    pub fn check(&self) -> Result<(), String> {
        if self.host.trim().is_empty() {
            return Err("[reports.mail] host: the SMTP server's name".into());
        }
        if !looks_like_address(&self.from) {
            return Err(format!(
                "[reports.mail] from {:?}: an e-mail address, optionally with a name: \"Name <a@b.ua>\"",
                self.from
            ));
        }
        self.from
            .parse::<Mailbox>()
            .map_err(|e| format!("[reports.mail] from {:?}: {e}", self.from))?;
        match (&self.username, &self.password) {
            (Some(_), None) | (None, Some(_)) => {
                return Err("[reports.mail] username and password go together".into());
            }
            (Some(_), Some(_)) if self.security == Security::None => {
                return Err(
                    "[reports.mail] a password is never sent unencrypted: security = \"starttls\" or \"tls\""
                        .into(),
                );
            }
            _ => {}
        }
        if self.timeout_secs == 0 || self.retry_secs == 0 || self.max_attempts == 0 {
            return Err(
                "[reports.mail] timeout_secs, retry_secs and max_attempts must be above 0".into(),
            );
        }
        Ok(())
    }

    /// How long to wait before attempt `made + 1`, after `made` failed
    /// attempts; `None` once `max_attempts` have been made.
    pub fn retry_after(&self, made: u32) -> Option<Duration> {
        (made < self.max_attempts).then(|| {
            let factor = 3u64.saturating_pow(made.saturating_sub(1));
            Duration::from_secs(self.retry_secs.saturating_mul(factor).min(6 * 3600))
        })
    }
}

/// One message: to whom, about what, and the file it carries, if one.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to: Vec<String>,
    pub subject: String,
    /// Plain text.
    pub body: String,
    pub attachment: Option<MailFile>,
}

/// A file attached to a message.
#[derive(Debug, Clone)]
pub struct MailFile {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server stopped answering mid-message: worth a retry.
    #[error("the SMTP server did not finish within {0} s")]
    TimedOut(u64),
    /// The message could not be made (a bad address): no retry helps.
    #[error("{0}")]
    Message(String),
    #[error("{0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

impl SendError {
    /// The error's text with each of `addresses` masked, wherever the
    /// SMTP server's reply repeats it ("550 <taras@…>: no such user"):
    /// what a log or a stored row may keep of a citizen's failure.
    pub fn without(&self, addresses: &[String]) -> String {
        let mut text = self.to_string();
        for address in addresses.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
            let needle = address.to_ascii_lowercase();
            let masked = crate::phone::Pii(address).to_string();
            let mut from = 0;
            while let Some(at) = text[from..].to_ascii_lowercase().find(&needle) {
                let at = from + at;
                text.replace_range(at..at + needle.len(), &masked);
                from = at + masked.len();
            }
        }
        text
    }

    /// Whether trying again later cannot help: the server refused for good
    /// (a 5xx: a wrong password, an unknown recipient) or the message is
    /// malformed. Connection failures and 4xx answers are worth a retry.
    pub fn permanent(&self) -> bool {
        match self {
            SendError::Message(_) => true,
            SendError::TimedOut(_) => false,
            SendError::Smtp(e) => e.is_permanent(),
        }
    }
}

/// The SMTP transport, built once from [`MailSettings`].
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    deadline: Duration,
}

impl Mailer {
    /// Builds the transport; reads `ca_file`. Connects only when sending.
    pub fn new(settings: &MailSettings) -> Result<Mailer, String> {
        settings.check()?;
        let host = settings.host.trim().to_string();
        let tls = || -> Result<TlsParameters, String> {
            let mut builder = TlsParameters::builder(host.clone());
            if let Some(path) = &settings.ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("[reports.mail] ca_file {}: {e}", path.display()))?;
                let certificate = Certificate::from_pem(&pem)
                    .map_err(|e| format!("[reports.mail] ca_file {}: {e}", path.display()))?;
                builder = builder.add_root_certificate(certificate);
            }
            builder
                .build()
                .map_err(|e| format!("[reports.mail] TLS: {e}"))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
            .port(settings.port())
            .timeout(Some(Duration::from_secs(settings.timeout_secs)))
            .tls(match settings.security {
                Security::Starttls => Tls::Required(tls()?),
                Security::Tls => Tls::Wrapper(tls()?),
                Security::None => Tls::None,
            });
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_string(),
            ));
        }
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|e| format!("[reports.mail] from: {e}"))?;
        Ok(Mailer {
            transport: builder.build(),
            from,
            deadline: settings.send_deadline(),
        })
    }

    /// Sends one message.
    pub async fn send(&self, message: &Outgoing) -> Result<(), SendError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(message.subject.clone());
        for to in &message.to {
            let mailbox = to
                .parse::<Mailbox>()
                .map_err(|e| SendError::Message(format!("the address {to:?}: {e}")))?;
            builder = builder.to(mailbox);
        }
        let email = match &message.attachment {
            Some(file) => {
                let content_type = ContentType::parse(&file.content_type)
                    .map_err(|e| SendError::Message(format!("{}: {e}", file.content_type)))?;
                builder.multipart(
                    MultiPart::mixed()
                        .singlepart(SinglePart::plain(message.body.clone()))
                        .singlepart(
                            Attachment::new(file.name.clone())
                                .body(file.bytes.clone(), content_type),
                        ),
                )
            }
            None => builder.singlepart(SinglePart::plain(message.body.clone())),
        }
        .map_err(|e| SendError::Message(e.to_string()))?;
        // lettre's async client bounds only connecting (lettre#1027): a
        // server that stops answering would hold the sender for good.
        match tokio::time::timeout(self.deadline, self.transport.send(email)).await {
            Ok(sent) => sent.map(drop).map_err(SendError::from),
            Err(_) => Err(SendError::TimedOut(self.deadline.as_secs())),
        }
    }
}

/// The shape of an e-mail address ("a@b.ua" or "Name <a@b.ua>"), enough to
/// catch a typo in the configuration or a form (the SMTP server has the
/// last word).
pub fn looks_like_address(text: &str) -> bool {
    let address = match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        _ => text,
    };
    match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !address.contains(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> MailSettings {
        toml::from_str(text).expect("parses")
    }

    #[test]
    fn an_error_keeps_no_recipient_address() {
        let e = SendError::Message(
            "550 5.1.1 <Taras.Shevchenko@Example.com>: recipient rejected; \
             taras.shevchenko@example.com unknown"
                .into(),
        );
        let text = e.without(&[" taras.shevchenko@example.com ".into()]);
        assert!(!text.to_lowercase().contains("shevchenko"), "{text}");
        assert!(text.starts_with("550 5.1.1 <***om>"), "{text}");
        assert_eq!(e.without(&[]), e.to_string());
    }

    #[test]
    fn the_settings_are_checked_field_by_field() {
        let good = settings("host = \"smtp.city.ua\"\nfrom = \"Гаряча лінія <hotline@city.ua>\"");
        assert_eq!(good.check(), Ok(()));
        assert_eq!(good.port(), 587);
        let cases = [
            ("host = \" \"\nfrom = \"a@b.ua\"", "host"),
            ("host = \"h\"\nfrom = \"hotline\"", "from"),
            (
                "host = \"h\"\nfrom = \"a@b.ua\"\nusername = \"u\"",
                "go together",
            ),
            (
                "host = \"h\"\nfrom = \"a@b.ua\"\nsecurity = \"none\"\nusername = \"u\"\npassword = \"p\"",
                "never sent unencrypted",
            ),
            (
                "host = \"h\"\nfrom = \"a@b.ua\"\nmax_attempts = 0",
                "above 0",
            ),
        ];
        for (text, says) in cases {
            let err = settings(text).check().expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
        assert!(
            toml::from_str::<MailSettings>("host = \"h\"\nfrom = \"a@b.ua\"\nsecurity = \"ssl\"")
                .is_err()
        );
        let tls = settings("host = \"h\"\nfrom = \"a@b.ua\"\nsecurity = \"tls\"");
        assert_eq!(tls.port(), 465);
    }

    #[test]
    fn retries_wait_three_times_longer_each_time_then_stop() {
        let s = settings("host = \"h\"\nfrom = \"a@b.ua\"\nretry_secs = 60\nmax_attempts = 4");
        let waits: Vec<Option<u64>> = (1..=4)
            .map(|n| s.retry_after(n).map(|d| d.as_secs()))
            .collect();
        assert_eq!(waits, vec![Some(60), Some(180), Some(540), None]);
        let long =
            settings("host = \"h\"\nfrom = \"a@b.ua\"\nretry_secs = 3600\nmax_attempts = 20");
        assert_eq!(long.retry_after(10), Some(Duration::from_secs(6 * 3600)));
    }

    #[test]
    fn an_address_is_told_from_a_typo() {
        for good in ["a@b.ua", "Мер <mayor@city.gov.ua>", "x.y@z.com"] {
            assert!(looks_like_address(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.ua",
            "a@.ua",
            "a@b.",
            "a b@c.ua",
            "Мер <mayor>",
        ] {
            assert!(!looks_like_address(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_password_is_kept_out_of_debug() {
        let s =
            settings("host = \"h\"\nfrom = \"a@b.ua\"\nusername = \"u\"\npassword = \"s3cr3t-pw\"");
        assert!(!format!("{s:?}").contains("s3cr3t-pw"));
        assert!(Mailer::new(&s).is_ok());
    }

    #[tokio::test]
    async fn a_server_that_stops_answering_times_out_and_is_retried() {
        // Accepts the connection and never greets.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(socket);
        });
        let s = settings(&format!(
            "host = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n\
             from = \"a@b.ua\"\ntimeout_secs = 1"
        ));
        let mailer = Mailer::new(&s).unwrap();
        let message = Outgoing {
            to: vec!["c@d.ua".into()],
            subject: "s".into(),
            body: "b".into(),
            attachment: Some(MailFile {
                name: "r.csv".into(),
                content_type: "text/csv".into(),
                bytes: b"a,b\n".to_vec(),
            }),
        };
        let started = std::time::Instant::now();
        let err = mailer.send(&message).await.expect_err("no answer");
        assert!(matches!(err, SendError::TimedOut(10)), "{err:?}");
        assert!(!err.permanent());
        assert!(started.elapsed() < Duration::from_secs(20));
        held.abort();
    }
}
