//! Our registration to a SIP trunk (RFC 3261 §10 as a client): REGISTER,
//! answer a digest challenge, keep the binding alive by re-registering
//! before it expires, back off and retry when the trunk refuses.
//!
//! A plain state machine: it builds requests and reads responses, the
//! endpoint carries them in client transactions, and the caller supplies
//! the time.

use std::time::{Duration, Instant};

use rsip::headers::UntypedHeader;
use rsip::{Header, Method, Request, Response};
use tracing::{info, warn};

use secrecy::{ExposeSecret, SecretString};

use super::digest::{self, Challenge};
use super::{USER_AGENT, msg};

#[derive(Debug, Clone)]
pub struct RegistrationConfig {
    /// The trunk's name in configuration, for logs.
    pub name: String,
    /// The registrar's domain, used in the Request-URI and the AOR.
    pub domain: String,
    pub username: String,
    /// Never printed (`Debug` shows `[REDACTED]`).
    pub password: SecretString,
    /// If set, only a challenge for this realm is answered, so the
    /// password is never offered to a realm it was not meant for.
    pub realm: Option<String>,
    /// How long we ask the binding to last.
    pub expiry: Duration,
    /// `host:port` for our Contact.
    pub contact_host: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Idle,
    Registering,
    Registered { expires_at: Instant },
    Failed { reason: String, retry_at: Instant },
}

pub struct Registration {
    cfg: RegistrationConfig,
    status: Status,
    call_id: String,
    from_tag: String,
    cseq: u32,
    challenge: Option<Challenge>,
    nc: u32,
    /// Consecutive challenges answered without success.
    auth_tries: u32,
    failures: u32,
    next: Option<Instant>,
    /// The expiry asked for in the REGISTER under way (0 = unregistering).
    asked: Duration,
}

impl Registration {
    pub fn new(cfg: RegistrationConfig, now: Instant) -> Self {
        Self {
            call_id: format!("{}@hotline", msg::random_token()),
            from_tag: msg::random_token(),
            cseq: 0,
            challenge: None,
            nc: 0,
            auth_tries: 0,
            failures: 0,
            status: Status::Idle,
            next: Some(now),
            asked: cfg.expiry,
            cfg,
        }
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// `host:port` for the Via and Contact of our REGISTERs.
    pub fn contact_host(&self) -> &str {
        &self.cfg.contact_host
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }

    /// When the time comes: the REGISTER to send, if any.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Request> {
        if self.next.is_none_or(|t| t > now) {
            return None;
        }
        self.next = None;
        self.status = Status::Registering;
        self.auth_tries = 0;
        Some(self.build(self.cfg.expiry))
    }

    /// A final response to our REGISTER; may return the next REGISTER
    /// (the authenticated retry).
    pub fn on_response(&mut self, now: Instant, resp: &Response) -> Option<Request> {
        let code = resp.status_code.code();
        match code {
            200..=299 if self.asked.is_zero() => {
                info!(trunk = %self.cfg.name, "unregistered");
                self.status = Status::Idle;
                self.next = None;
                None
            }
            200..=299 => {
                let granted =
                    granted_expiry(resp, &self.cfg.contact_host).unwrap_or(self.cfg.expiry);
                let refresh = refresh_after(granted);
                info!(trunk = %self.cfg.name, seconds = granted.as_secs(), "registered");
                self.status = Status::Registered {
                    expires_at: now + granted,
                };
                self.next = Some(now + refresh);
                self.failures = 0;
                self.auth_tries = 0;
                None
            }
            401 | 407 => {
                let header = if code == 401 {
                    "WWW-Authenticate"
                } else {
                    "Proxy-Authenticate"
                };
                let challenge = msg::first_header(resp, header).map(|v| Challenge::parse(&v));
                match challenge {
                    Some(Ok(ch)) => self.answer_challenge(now, ch, code),
                    Some(Err(e)) => {
                        self.fail(now, format!("cannot answer challenge: {e}"));
                        None
                    }
                    None => {
                        self.fail(now, format!("{code} without a challenge"));
                        None
                    }
                }
            }
            423 => {
                // Interval Too Brief: take the registrar's minimum.
                let min = msg::first_header(resp, "Min-Expires")
                    .and_then(|v| v.trim().parse::<u64>().ok());
                match min {
                    Some(secs) if secs > self.cfg.expiry.as_secs() => {
                        self.cfg.expiry = Duration::from_secs(secs);
                        Some(self.build(self.cfg.expiry))
                    }
                    _ => {
                        self.fail(now, "423 without a usable Min-Expires".into());
                        None
                    }
                }
            }
            _ => {
                self.fail(now, format!("registrar answered {code}"));
                None
            }
        }
    }

    /// The REGISTER transaction timed out.
    pub fn on_timeout(&mut self, now: Instant) {
        self.fail(now, "no answer from registrar".into());
    }

    /// A REGISTER removing our binding (expires 0), for shutdown; `None`
    /// if we hold no binding.
    pub fn unregister(&mut self) -> Option<Request> {
        let registered = matches!(self.status, Status::Registered { .. });
        self.next = None;
        self.status = Status::Idle;
        self.auth_tries = 0;
        registered.then(|| self.build(Duration::ZERO))
    }

    fn answer_challenge(&mut self, now: Instant, ch: Challenge, code: u16) -> Option<Request> {
        if let Some(realm) = &self.cfg.realm {
            if *realm != ch.realm {
                self.fail(
                    now,
                    format!("challenge for realm {:?}, configured {realm:?}", ch.realm),
                );
                return None;
            }
        }
        // A second challenge right after our answer means the password is
        // wrong, unless the server says our nonce was merely stale.
        if self.auth_tries >= 1 && !ch.stale {
            self.fail(now, "credentials rejected".into());
            return None;
        }
        self.auth_tries += 1;
        self.nc = 0;
        self.challenge = Some(ch);
        let mut req = self.build(self.asked);
        let proxy = code == 407;
        self.sign(&mut req, proxy);
        Some(req)
    }

    fn sign(&mut self, req: &mut Request, proxy: bool) {
        let Some(ch) = &self.challenge else { return };
        self.nc += 1;
        let cnonce = msg::random_token();
        let uri = req.uri.to_string();
        let value = digest::authorization(
            ch,
            &digest::Credentials {
                username: &self.cfg.username,
                password: self.cfg.password.expose_secret(),
                method: "REGISTER",
                uri: &uri,
                cnonce: &cnonce,
                nc: self.nc,
            },
        );
        let header = if proxy {
            Header::ProxyAuthorization(rsip::headers::ProxyAuthorization::new(value))
        } else {
            Header::Authorization(rsip::headers::Authorization::new(value))
        };
        req.headers.push(header);
    }

    fn fail(&mut self, now: Instant, reason: String) {
        self.failures += 1;
        // 30 s, 60 s, 120 s … capped at 10 minutes.
        let backoff = Duration::from_secs(
            30u64
                .saturating_mul(1 << self.failures.min(5).saturating_sub(1))
                .min(600),
        );
        warn!(trunk = %self.cfg.name, %reason, retry_in = backoff.as_secs(), "registration failed");
        self.status = Status::Failed {
            reason,
            retry_at: now + backoff,
        };
        self.next = Some(now + backoff);
        self.challenge = None;
    }

    fn build(&mut self, expiry: Duration) -> Request {
        self.cseq += 1;
        self.asked = expiry;
        let aor = format!("sip:{}@{}", self.cfg.username, self.cfg.domain);
        let mut headers = rsip::Headers::default();
        headers.push(Header::MaxForwards(rsip::headers::MaxForwards::new("70")));
        headers.push(Header::From(rsip::headers::From::new(format!(
            "<{aor}>;tag={}",
            self.from_tag
        ))));
        headers.push(Header::To(rsip::headers::To::new(format!("<{aor}>"))));
        headers.push(Header::CallId(rsip::headers::CallId::new(
            self.call_id.clone(),
        )));
        headers.push(Header::CSeq(rsip::headers::CSeq::new(format!(
            "{} REGISTER",
            self.cseq
        ))));
        headers.push(Header::Contact(rsip::headers::Contact::new(format!(
            "<sip:{}@{}>;expires={}",
            self.cfg.username,
            self.cfg.contact_host,
            expiry.as_secs()
        ))));
        headers.push(Header::Expires(rsip::headers::Expires::new(
            expiry.as_secs().to_string(),
        )));
        headers.push(Header::UserAgent(rsip::headers::UserAgent::new(USER_AGENT)));
        let mut req = Request {
            method: Method::Register,
            uri: rsip::Uri::try_from(format!("sip:{}", self.cfg.domain).as_str())
                .unwrap_or_default(),
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        };
        // Re-use a known challenge pre-emptively on refreshes (§22.3).
        if self.challenge.is_some() && self.auth_tries == 0 {
            self.sign(&mut req, false);
        }
        req
    }
}

/// Re-register well before the binding lapses: at 85 % of the granted
/// time, but never later than 5 s before it ends.
fn refresh_after(granted: Duration) -> Duration {
    let early = granted.mul_f64(0.85);
    let latest = granted.saturating_sub(Duration::from_secs(5));
    early.min(latest).max(Duration::from_secs(1))
}

/// The expiry the registrar granted: our Contact's `expires` parameter in
/// the 200, else the Expires header (§10.2.4).
fn granted_expiry(resp: &Response, contact_host: &str) -> Option<Duration> {
    let from_contact = msg::header_values(resp, "Contact")
        .into_iter()
        .find_map(|c| {
            if !c.contains(contact_host) {
                return None;
            }
            msg::header_param(&c, "expires")?.parse::<u64>().ok()
        });
    from_contact
        .or_else(|| msg::first_header(resp, "Expires").and_then(|v| v.trim().parse().ok()))
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire;
    use rsip::SipMessage;

    fn cfg() -> RegistrationConfig {
        RegistrationConfig {
            name: "trunk".into(),
            domain: "sip.example.ua".into(),
            username: "1580".into(),
            password: SecretString::from("secret"),
            realm: Some("sip.example.ua".into()),
            expiry: Duration::from_secs(300),
            contact_host: "127.0.0.1:5060".into(),
        }
    }

    fn response(req: &Request, code: u16, extra: &str) -> Response {
        let text = String::from_utf8(wire::serialize(&SipMessage::Request(req.clone()))).unwrap();
        let headers: String = text
            .lines()
            .filter(|l| {
                ["From:", "To:", "Call-ID:", "CSeq:"]
                    .iter()
                    .any(|h| l.starts_with(h))
            })
            .map(|l| format!("{l}\r\n"))
            .collect();
        let raw = format!(
            "SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx\r\n{headers}{extra}Content-Length: 0\r\n\r\n"
        );
        match wire::parse(raw.as_bytes()).unwrap() {
            SipMessage::Response(r) => r,
            _ => unreachable!(),
        }
    }

    #[test]
    fn challenge_answer_and_refresh_before_expiry() {
        let t0 = Instant::now();
        let mut reg = Registration::new(cfg(), t0);
        let first = reg.handle_timeout(t0).expect("registers at once");
        assert!(msg::first_header(&first, "Authorization").is_none());
        let challenge = "WWW-Authenticate: Digest realm=\"sip.example.ua\", nonce=\"abc\", qop=\"auth\", algorithm=SHA-256\r\n";
        let second = reg
            .on_response(t0, &response(&first, 401, challenge))
            .expect("answers the challenge");
        let auth = msg::first_header(&second, "Authorization").expect("signed");
        assert!(auth.contains("algorithm=SHA-256") && auth.contains("username=\"1580\""));
        assert_eq!(
            msg::cseq(&second).unwrap().0,
            msg::cseq(&first).unwrap().0 + 1
        );
        assert_eq!(
            msg::call_id(&second).unwrap(),
            msg::call_id(&first).unwrap()
        );
        let ok = response(
            &second,
            200,
            "Contact: <sip:1580@127.0.0.1:5060>;expires=120\r\n",
        );
        assert!(reg.on_response(t0, &ok).is_none());
        assert_eq!(
            reg.status(),
            &Status::Registered {
                expires_at: t0 + Duration::from_secs(120)
            }
        );
        assert_eq!(reg.poll_timeout(), Some(t0 + Duration::from_secs(102)));
        let refresh = reg
            .handle_timeout(t0 + Duration::from_secs(102))
            .expect("refreshes");
        assert!(
            msg::first_header(&refresh, "Authorization").is_some(),
            "re-uses the nonce"
        );
    }

    #[test]
    fn unregister_is_signed_and_answers_a_new_challenge_with_expiry_zero() {
        let t0 = Instant::now();
        let mut reg = Registration::new(cfg(), t0);
        let first = reg.handle_timeout(t0).unwrap();
        let ch = "WWW-Authenticate: Digest realm=\"sip.example.ua\", nonce=\"n1\"\r\n";
        let second = reg.on_response(t0, &response(&first, 401, ch)).unwrap();
        reg.on_response(t0, &response(&second, 200, "Expires: 300\r\n"));
        let bye = reg.unregister().expect("registered, so it unregisters");
        assert_eq!(msg::first_header(&bye, "Expires").as_deref(), Some("0"));
        assert!(msg::first_header(&bye, "Authorization").is_some());
        let ch2 = "WWW-Authenticate: Digest realm=\"sip.example.ua\", nonce=\"n2\", stale=true\r\n";
        let again = reg
            .on_response(t0, &response(&bye, 401, ch2))
            .expect("re-signed");
        assert_eq!(msg::first_header(&again, "Expires").as_deref(), Some("0"));
        assert!(reg.on_response(t0, &response(&again, 200, "")).is_none());
        assert_eq!((reg.status(), reg.poll_timeout()), (&Status::Idle, None));
        assert!(reg.unregister().is_none(), "nothing to remove any more");
    }

    #[test]
    fn wrong_password_fails_and_backs_off() {
        let t0 = Instant::now();
        let mut reg = Registration::new(cfg(), t0);
        let first = reg.handle_timeout(t0).unwrap();
        let ch = "WWW-Authenticate: Digest realm=\"sip.example.ua\", nonce=\"n1\"\r\n";
        let second = reg.on_response(t0, &response(&first, 401, ch)).unwrap();
        let ch2 = "WWW-Authenticate: Digest realm=\"sip.example.ua\", nonce=\"n2\"\r\n";
        assert!(reg.on_response(t0, &response(&second, 401, ch2)).is_none());
        assert!(matches!(reg.status(), Status::Failed { .. }));
        assert_eq!(reg.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    }

    #[test]
    fn foreign_realm_is_not_answered() {
        let t0 = Instant::now();
        let mut reg = Registration::new(cfg(), t0);
        let first = reg.handle_timeout(t0).unwrap();
        let ch = "WWW-Authenticate: Digest realm=\"evil.example\", nonce=\"n1\"\r\n";
        assert!(reg.on_response(t0, &response(&first, 401, ch)).is_none());
        assert!(matches!(reg.status(), Status::Failed { .. }));
    }

    #[test]
    fn refresh_margin() {
        assert_eq!(
            refresh_after(Duration::from_secs(3600)),
            Duration::from_secs(3060)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(20)),
            Duration::from_secs(15)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(2)),
            Duration::from_secs(1)
        );
    }
}
