//! The registrar operators' softphones REGISTER with (RFC 3261 §10.3):
//! digest challenges (RFC 7616, MD5 and SHA-256), nonces that expire and
//! cannot be replayed, several contacts per extension with their expiry,
//! refresh and removal, and a slow-down for addresses that keep failing.
//!
//! Sans-IO and two-phase, because the credentials live in the database:
//! [`Registrar::begin`] looks at a REGISTER and either answers at once or
//! asks for the credentials of a user; [`Registrar::finish`] takes them and
//! answers. Nothing here reads a clock or touches a socket.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use md5::Md5;
use rsip::Request;
use sha2::{Digest as _, Sha256};

use super::{Flow, msg};

/// Shortest and longest registration we grant, in seconds.
pub const MIN_EXPIRES: u64 = 60;
pub const MAX_EXPIRES: u64 = 3600;
/// Asked for when a REGISTER names no expiry.
pub const DEFAULT_EXPIRES: u64 = 600;

/// What a user's digest credentials are made of (HA1 for each algorithm).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

/// A registered contact of an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI as given.
    pub contact: String,
    /// Where the REGISTER came from: requests to the phone go back along it.
    pub flow: Flow,
    pub expires_at: Instant,
    pub call_id: String,
}

/// The answer to a REGISTER: a status and the headers to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub code: u16,
    pub headers: Vec<(&'static str, String)>,
    /// For logs: why.
    pub reason: &'static str,
}

/// What `begin` decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    Answer(Answer),
    /// Look up this user's credentials and call `finish`.
    NeedCredentials {
        username: String,
    },
}

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    since: Option<Instant>,
}

pub struct Registrar {
    realm: String,
    /// Offered in this order: clients should take the first they support,
    /// but some (libre/baresip 1.0) give up on a first one they do not.
    algorithms: Vec<&'static str>,
    secret: [u8; 32],
    nonce_ttl: Duration,
    epoch: Instant,
    /// Highest nonce count seen per nonce (replay protection).
    used: HashMap<String, u32>,
    bindings: HashMap<String, Vec<Binding>>,
    failures: HashMap<IpAddr, Failures>,
}

/// Failures from one address within this window count together.
const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// From this many failures on, answers to the address are delayed.
pub const FAILURES_BEFORE_SLOWDOWN: u32 = 5;

impl Registrar {
    /// `secret` keys the nonces; `epoch` is any fixed instant (nonces carry
    /// their age relative to it).
    pub fn new(realm: impl Into<String>, secret: [u8; 32], epoch: Instant) -> Self {
        Self {
            realm: realm.into(),
            algorithms: vec!["MD5", "SHA-256"],
            secret,
            nonce_ttl: Duration::from_secs(300),
            epoch,
            used: HashMap::new(),
            bindings: HashMap::new(),
            failures: HashMap::new(),
        }
    }

    /// Sets the order algorithms are offered in (`MD5`, `SHA-256`);
    /// unknown names are ignored, and an empty list keeps the default.
    pub fn with_algorithms(mut self, names: &[String]) -> Self {
        let chosen: Vec<&'static str> = names
            .iter()
            .filter_map(|n| {
                ["MD5", "SHA-256"]
                    .into_iter()
                    .find(|a| a.eq_ignore_ascii_case(n))
            })
            .collect();
        if !chosen.is_empty() {
            self.algorithms = chosen;
        }
        self
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// How long to hold back the answer to this address (repeated failures
    /// slow an attacker down; a phone with a good password is never held).
    pub fn delay_for(&self, ip: IpAddr, now: Instant) -> Duration {
        let Some(f) = self.failures.get(&ip) else {
            return Duration::ZERO;
        };
        if f.since
            .is_none_or(|s| now.duration_since(s) > FAILURE_WINDOW)
            || f.count < FAILURES_BEFORE_SLOWDOWN
        {
            return Duration::ZERO;
        }
        // 1 s, 2 s, 4 s … at most 30 s.
        Duration::from_secs(1u64 << (f.count - FAILURES_BEFORE_SLOWDOWN).min(5))
            .min(Duration::from_secs(30))
    }

    /// Failures counted for this address now.
    pub fn failures(&self, ip: IpAddr) -> u32 {
        self.failures.get(&ip).map_or(0, |f| f.count)
    }

    /// The live contacts of an extension.
    pub fn contacts(&self, user: &str, now: Instant) -> Vec<&Binding> {
        self.bindings
            .get(user)
            .map(|b| b.iter().filter(|b| b.expires_at > now).collect())
            .unwrap_or_default()
    }

    /// Drops expired bindings and nonce records.
    pub fn sweep(&mut self, now: Instant) {
        for list in self.bindings.values_mut() {
            list.retain(|b| b.expires_at > now);
        }
        self.bindings.retain(|_, l| !l.is_empty());
        self.failures.retain(|_, f| {
            f.since
                .is_some_and(|s| now.duration_since(s) <= FAILURE_WINDOW)
        });
        let ttl = self.nonce_ttl;
        let epoch = self.epoch;
        self.used
            .retain(|nonce, _| nonce_age(nonce, epoch, now).is_some_and(|age| age <= ttl));
    }

    /// `<age>.<random>.<mac>`: stateless (we keep nothing per challenge),
    /// unique per challenge (so nonce counts of different phones never mix),
    /// and unforgeable.
    fn nonce(&self, now: Instant) -> String {
        let stamp = now.duration_since(self.epoch).as_secs();
        let salt: u64 = rand::random();
        format!("{stamp:x}.{salt:016x}.{}", self.sign(stamp, salt))
    }

    fn sign(&self, stamp: u64, salt: u64) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(&stamp.to_be_bytes());
        mac.update(&salt.to_be_bytes());
        mac.update(self.realm.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// Ours, untampered, and not older than the TTL?
    fn nonce_valid(&self, nonce: &str, now: Instant) -> (bool, bool) {
        let mut parts = nonce.split('.');
        let (Some(stamp), Some(salt), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return (false, false);
        };
        let (Ok(stamp), Ok(salt)) = (
            u64::from_str_radix(stamp, 16),
            u64::from_str_radix(salt, 16),
        ) else {
            return (false, false);
        };
        if !constant_time_eq(self.sign(stamp, salt).as_bytes(), sig.as_bytes()) {
            return (false, false);
        }
        let fresh = nonce_age(nonce, self.epoch, now).is_some_and(|age| age <= self.nonce_ttl);
        (true, fresh)
    }

    fn challenge(&self, now: Instant, stale: bool) -> Answer {
        let nonce = self.nonce(now);
        let stale = if stale { ", stale=true" } else { "" };
        let headers = self
            .algorithms
            .iter()
            .map(|alg| {
                (
                    "WWW-Authenticate",
                    format!("Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={alg}, qop=\"auth\"{stale}", self.realm),
                )
            })
            .collect();
        Answer {
            code: 401,
            headers,
            reason: if stale.is_empty() {
                "challenge"
            } else {
                "stale nonce"
            },
        }
    }

    fn fail(&mut self, ip: IpAddr, now: Instant) {
        let f = self.failures.entry(ip).or_default();
        if f.since
            .is_none_or(|s| now.duration_since(s) > FAILURE_WINDOW)
        {
            *f = Failures {
                count: 0,
                since: Some(now),
            };
        }
        f.count += 1;
    }

    /// First look at a REGISTER.
    pub fn begin(&mut self, now: Instant, req: &Request, from: IpAddr) -> Begin {
        let delay = self.delay_for(from, now);
        if !delay.is_zero() {
            // Over the failure threshold: no password is checked for this
            // address until the delay has passed, so guessing cannot go on
            // at full speed (answering late would not stop that).
            return Begin::Answer(Answer {
                code: 503,
                headers: vec![("Retry-After", delay.as_secs().max(1).to_string())],
                reason: "too many failures",
            });
        }
        // The address of record is a SIP URI (§10.2, RFC 4475 §3.3.4).
        let aor = msg::first_header(req, "To").unwrap_or_default();
        let scheme = msg::addr_uri(&aor)
            .and_then(|u| u.split_once(':'))
            .map(|(s, _)| s);
        if !scheme.is_some_and(|s| s.eq_ignore_ascii_case("sip") || s.eq_ignore_ascii_case("sips"))
        {
            return Begin::Answer(Answer {
                code: 400,
                headers: Vec::new(),
                reason: "the address of record is not a SIP URI",
            });
        }
        let Some(params) = digest_credentials(req) else {
            return Begin::Answer(self.challenge(now, false));
        };
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let (Some(username), Some(nonce)) = (get("username"), get("nonce")) else {
            return Begin::Answer(Answer {
                code: 400,
                headers: Vec::new(),
                reason: "bad Authorization",
            });
        };
        if get("realm") != Some(self.realm.as_str()) {
            return Begin::Answer(self.challenge(now, false));
        }
        match self.nonce_valid(nonce, now) {
            (false, _) => Begin::Answer(self.challenge(now, false)),
            (true, false) => Begin::Answer(self.challenge(now, true)),
            (true, true) => Begin::NeedCredentials {
                username: username.to_string(),
            },
        }
    }

    /// Completes a REGISTER with the user's credentials (`None`: no such
    /// user). `source` is where it came from.
    pub fn finish(
        &mut self,
        now: Instant,
        req: &Request,
        source: Flow,
        credentials: Option<&Credentials>,
    ) -> Answer {
        let ip = source.remote.ip();
        let forbidden = |reason| Answer {
            code: 403,
            headers: Vec::new(),
            reason,
        };
        let Some(params) = digest_credentials(req) else {
            return self.challenge(now, false);
        };
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        let (Some(username), Some(nonce), Some(uri), Some(response)) =
            (get("username"), get("nonce"), get("uri"), get("response"))
        else {
            return Answer {
                code: 400,
                headers: Vec::new(),
                reason: "bad Authorization",
            };
        };
        let Some(cred) = credentials else {
            self.fail(ip, now);
            return forbidden("unknown user");
        };
        let algorithm = get("algorithm").unwrap_or_else(|| "MD5".into());
        if !self
            .algorithms
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&algorithm))
        {
            // Only what we offered: no downgrade to MD5 when it is off.
            return self.challenge(now, false);
        }
        let (ha1, hash): (&str, fn(&str) -> String) = if algorithm.eq_ignore_ascii_case("SHA-256") {
            (&cred.ha1_sha256, |s| {
                hex::encode(Sha256::digest(s.as_bytes()))
            })
        } else if algorithm.eq_ignore_ascii_case("MD5") {
            (&cred.ha1_md5, |s| hex::encode(Md5::digest(s.as_bytes())))
        } else {
            return Answer {
                code: 400,
                headers: Vec::new(),
                reason: "unsupported algorithm",
            };
        };
        let ha2 = hash(&format!("REGISTER:{uri}"));
        let (count, expected) = match (get("qop"), get("nc"), get("cnonce")) {
            (Some(qop), Some(nc), Some(cnonce)) if qop.eq_ignore_ascii_case("auth") => {
                let Ok(count) = u32::from_str_radix(&nc, 16) else {
                    return Answer {
                        code: 400,
                        headers: Vec::new(),
                        reason: "bad nc",
                    };
                };
                // A nonce count must grow: the same (nonce, nc) again is a replay.
                let seen = self.used.get(&nonce).copied().unwrap_or(0);
                if count <= seen {
                    self.fail(ip, now);
                    return self.challenge(now, true);
                }
                (
                    count,
                    hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")),
                )
            }
            (None, _, _) => {
                // Without qop a nonce may be used once only.
                if self.used.contains_key(&nonce) {
                    self.fail(ip, now);
                    return self.challenge(now, true);
                }
                (u32::MAX, hash(&format!("{ha1}:{nonce}:{ha2}")))
            }
            _ => {
                return Answer {
                    code: 400,
                    headers: Vec::new(),
                    reason: "bad qop",
                };
            }
        };
        if !constant_time_eq(
            expected.as_bytes(),
            response.to_ascii_lowercase().as_bytes(),
        ) {
            self.fail(ip, now);
            return forbidden("wrong password");
        }
        // Recorded only now, so a forged request cannot burn a phone's nonce.
        self.used.insert(nonce.clone(), count);
        // The To header names the address of record being registered.
        let aor_user = msg::first_header(req, "To")
            .as_deref()
            .and_then(msg::addr_uri)
            .and_then(msg::uri_user)
            .map(str::to_string);
        if aor_user.as_deref() != Some(username.as_str()) {
            return forbidden("may not register another user");
        }
        self.failures.remove(&ip);
        self.update_bindings(now, req, source, &username)
    }

    fn update_bindings(&mut self, now: Instant, req: &Request, source: Flow, user: &str) -> Answer {
        let call_id = msg::call_id(req).unwrap_or_default();
        let default_expires =
            msg::first_header(req, "Expires").and_then(|v| v.trim().parse::<u64>().ok());
        let contacts = msg::header_values(req, "Contact");
        if contacts.iter().any(|c| c.trim() == "*") {
            if default_expires != Some(0) || contacts.len() != 1 {
                return Answer {
                    code: 400,
                    headers: Vec::new(),
                    reason: "Contact: * needs Expires: 0",
                };
            }
            self.bindings.remove(user);
            return Answer {
                code: 200,
                headers: Vec::new(),
                reason: "all contacts removed",
            };
        }
        // All or nothing (§10.3): check every contact before changing any.
        let brief = contacts.iter().any(|c| {
            let expires = contact_expires(c)
                .or(default_expires)
                .unwrap_or(DEFAULT_EXPIRES);
            expires != 0 && expires < MIN_EXPIRES
        });
        if brief {
            return Answer {
                code: 423,
                headers: vec![("Min-Expires", MIN_EXPIRES.to_string())],
                reason: "too brief",
            };
        }
        for c in &contacts {
            let Some(uri) = msg::addr_uri(c) else {
                continue;
            };
            let expires = contact_expires(c)
                .or(default_expires)
                .unwrap_or(DEFAULT_EXPIRES);
            let list = self.bindings.entry(user.to_string()).or_default();
            list.retain(|b| b.contact != uri);
            if expires > 0 {
                list.push(Binding {
                    contact: uri.to_string(),
                    flow: source,
                    expires_at: now + Duration::from_secs(expires.min(MAX_EXPIRES)),
                    call_id: call_id.clone(),
                });
            }
        }
        let headers = self
            .contacts(user, now)
            .iter()
            .map(|b| {
                (
                    "Contact",
                    format!(
                        "<{}>;expires={}",
                        b.contact,
                        b.expires_at.duration_since(now).as_secs()
                    ),
                )
            })
            .collect();
        Answer {
            code: 200,
            headers,
            reason: "registered",
        }
    }
}

fn nonce_age(nonce: &str, epoch: Instant, now: Instant) -> Option<Duration> {
    let stamp = u64::from_str_radix(nonce.split_once('.')?.0, 16).ok()?;
    let made = epoch + Duration::from_secs(stamp);
    Some(now.saturating_duration_since(made))
}

fn contact_expires(contact: &str) -> Option<u64> {
    msg::header_param(contact, "expires")?.parse().ok()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `Digest a="x", b=y` → pairs (quoted values unquoted).
/// The parameters of the first `Authorization` in the Digest scheme.
/// Credentials in a scheme we do not know are not ours to judge: they are
/// passed over, and without Digest ones the client is challenged (§22.4,
/// RFC 4475 §3.1.1.10).
fn digest_credentials(req: &Request) -> Option<Vec<(String, String)>> {
    msg::header_values(req, "Authorization")
        .into_iter()
        .find_map(|value| {
            let (scheme, params) = value.trim().split_once(char::is_whitespace)?;
            scheme
                .eq_ignore_ascii_case("Digest")
                .then(|| super::digest::parse_params(params))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{self, Challenge};
    use crate::{Transport, wire};

    const REALM: &str = "hotline";

    fn creds(user: &str, password: &str) -> Credentials {
        Credentials {
            ha1_md5: hex::encode(Md5::digest(format!("{user}:{REALM}:{password}").as_bytes())),
            ha1_sha256: hex::encode(Sha256::digest(
                format!("{user}:{REALM}:{password}").as_bytes(),
            )),
        }
    }

    fn flow() -> Flow {
        Flow {
            transport: Transport::Udp,
            remote: "127.0.0.1:5062".parse().unwrap(),
        }
    }

    fn register(user: &str, auth: Option<String>, contact: &str, expires: Option<u64>) -> Request {
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let expires = expires
            .map(|e| format!("Expires: {e}\r\n"))
            .unwrap_or_default();
        let raw = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\n\
             From: <sip:{user}@127.0.0.1>;tag=a\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: reg1\r\nCSeq: 2 REGISTER\r\n\
             Contact: {contact}\r\n{expires}{auth}Content-Length: 0\r\n\r\n"
        );
        match wire::parse(raw.as_bytes()).unwrap() {
            rsip::SipMessage::Request(r) => r,
            _ => unreachable!(),
        }
    }

    /// The Authorization a client computes from our challenge.
    fn answer(challenge: &Answer, algorithm: &str, user: &str, password: &str, nc: u32) -> String {
        let header = challenge
            .headers
            .iter()
            .find(|(_, v)| v.contains(&format!("algorithm={algorithm}")))
            .unwrap();
        let ch = Challenge::parse(&header.1).unwrap();
        digest::authorization(
            &ch,
            &digest::Credentials {
                username: user,
                password,
                method: "REGISTER",
                uri: "sip:127.0.0.1",
                cnonce: "c0ffee",
                nc,
            },
        )
    }

    fn registrar(t0: Instant) -> Registrar {
        Registrar::new(REALM, [7; 32], t0)
    }

    fn challenge_for(r: &mut Registrar, now: Instant) -> Answer {
        match r.begin(
            now,
            &register("1001", None, "<sip:1001@127.0.0.1:5062>", None),
            flow().remote.ip(),
        ) {
            Begin::Answer(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn register_with_sha256_and_md5() {
        let t0 = Instant::now();
        for alg in ["SHA-256", "MD5"] {
            let mut r = registrar(t0);
            let ch = challenge_for(&mut r, t0);
            assert_eq!(ch.code, 401);
            assert_eq!(ch.headers.len(), 2, "both algorithms offered");
            let req = register(
                "1001",
                Some(answer(&ch, alg, "1001", "secret123", 1)),
                "<sip:1001@127.0.0.1:5062>",
                Some(120),
            );
            assert_eq!(
                r.begin(t0, &req, flow().remote.ip()),
                Begin::NeedCredentials {
                    username: "1001".into()
                }
            );
            let a = r.finish(t0, &req, flow(), Some(&creds("1001", "secret123")));
            assert_eq!((a.code, a.reason), (200, "registered"), "{alg}");
            assert_eq!(
                a.headers,
                vec![(
                    "Contact",
                    "<sip:1001@127.0.0.1:5062>;expires=120".to_string()
                )]
            );
            assert_eq!(r.contacts("1001", t0).len(), 1);
            assert!(
                r.contacts("1001", t0 + Duration::from_secs(121)).is_empty(),
                "expired"
            );
        }
    }

    #[test]
    fn wrong_password_unknown_user_and_slowdown() {
        let t0 = Instant::now();
        let mut r = registrar(t0);
        let ip = flow().remote.ip();
        for i in 1..=FAILURES_BEFORE_SLOWDOWN {
            let ch = challenge_for(&mut r, t0);
            let req = register(
                "1001",
                Some(answer(&ch, "MD5", "1001", "wrong", 1)),
                "<sip:1001@h>",
                None,
            );
            let a = r.finish(t0, &req, flow(), Some(&creds("1001", "secret123")));
            assert_eq!((a.code, a.reason), (403, "wrong password"));
            assert_eq!(r.failures(ip), i);
        }
        assert_eq!(
            r.delay_for(ip, t0),
            Duration::from_secs(1),
            "from the 5th failure on: 1 s, 2 s, 4 s …"
        );
        // While slowed down, no password is even looked at.
        let probe = register("1001", None, "<sip:1001@h>", None);
        match r.begin(t0, &probe, ip) {
            Begin::Answer(a) => assert_eq!((a.code, a.headers[0].1.as_str()), (503, "1")),
            other => panic!("{other:?}"),
        }
        // Another address is not affected.
        assert!(matches!(
            r.begin(t0, &probe, "127.0.0.2".parse().unwrap()),
            Begin::Answer(Answer { code: 401, .. })
        ));
        // After the window, the record is forgotten (and swept).
        let later = t0 + Duration::from_secs(301);
        assert_eq!(r.delay_for(ip, later), Duration::ZERO);
        r.sweep(later);
        assert_eq!(r.failures(ip), 0);
        let ch = challenge_for(&mut r, later);
        let req = register(
            "9999",
            Some(answer(&ch, "MD5", "9999", "x", 1)),
            "<sip:9999@h>",
            None,
        );
        assert_eq!(r.finish(later, &req, flow(), None).reason, "unknown user");
        // A good password clears the record.
        let ch = challenge_for(&mut r, later);
        let req = register(
            "1001",
            Some(answer(&ch, "MD5", "1001", "secret123", 1)),
            "<sip:1001@h>",
            None,
        );
        assert_eq!(
            r.finish(later, &req, flow(), Some(&creds("1001", "secret123")))
                .code,
            200
        );
        assert_eq!(r.failures(ip), 0);
    }

    #[test]
    fn only_offered_algorithms_are_accepted_and_forgeries_do_not_burn_nonces() {
        let t0 = Instant::now();
        let mut r = registrar(t0).with_algorithms(&["SHA-256".to_string()]);
        let ch = challenge_for(&mut r, t0);
        assert_eq!(ch.headers.len(), 1);
        // An MD5 answer (downgrade) is challenged again, not accepted.
        let nonce = ch.headers[0]
            .1
            .split("nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let md5_ch = Answer {
            code: 401,
            headers: vec![(
                "WWW-Authenticate",
                format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\""),
            )],
            reason: "",
        };
        let req = register(
            "1001",
            Some(answer(&md5_ch, "MD5", "1001", "secret123", 1)),
            "<sip:1001@h>",
            None,
        );
        assert_eq!(
            r.finish(t0, &req, flow(), Some(&creds("1001", "secret123")))
                .code,
            401
        );
        // A forged request with a huge nonce count does not spoil the nonce.
        let forged = answer(&ch, "SHA-256", "1001", "guess", 0xffff_fff0);
        let req = register("1001", Some(forged), "<sip:1001@h>", None);
        assert_eq!(
            r.finish(t0, &req, flow(), Some(&creds("1001", "secret123")))
                .code,
            403
        );
        let real = register(
            "1001",
            Some(answer(&ch, "SHA-256", "1001", "secret123", 1)),
            "<sip:1001@h>",
            None,
        );
        assert_eq!(
            r.finish(t0, &real, flow(), Some(&creds("1001", "secret123")))
                .code,
            200
        );
    }

    #[test]
    fn replays_and_stale_or_forged_nonces_are_challenged() {
        let t0 = Instant::now();
        let mut r = registrar(t0);
        let ch = challenge_for(&mut r, t0);
        let auth = answer(&ch, "SHA-256", "1001", "secret123", 1);
        let req = register("1001", Some(auth.clone()), "<sip:1001@h>", None);
        let c = creds("1001", "secret123");
        assert_eq!(r.finish(t0, &req, flow(), Some(&c)).code, 200);
        // The very same request again: a replay.
        let again = r.finish(t0, &req, flow(), Some(&c));
        assert_eq!((again.code, again.reason), (401, "stale nonce"));
        // The next nonce count is fine.
        let next = register(
            "1001",
            Some(answer(&ch, "SHA-256", "1001", "secret123", 2)),
            "<sip:1001@h>",
            None,
        );
        assert_eq!(r.finish(t0, &next, flow(), Some(&c)).code, 200);
        // After the nonce's lifetime: stale.
        let late = register(
            "1001",
            Some(answer(&ch, "SHA-256", "1001", "secret123", 3)),
            "<sip:1001@h>",
            None,
        );
        match r.begin(t0 + Duration::from_secs(301), &late, flow().remote.ip()) {
            Begin::Answer(a) => assert!(a.headers[0].1.contains("stale=true")),
            other => panic!("{other:?}"),
        }
        // A nonce we never made.
        let forged = auth.replace(
            &ch.headers[0].1.split("nonce=\"").nth(1).unwrap()[..4],
            "ffff",
        );
        let forged = register("1001", Some(forged), "<sip:1001@h>", None);
        assert!(matches!(
            r.begin(t0, &forged, flow().remote.ip()),
            Begin::Answer(Answer { code: 401, .. })
        ));
    }

    #[test]
    fn several_contacts_refresh_remove_and_brief_expiry() {
        let t0 = Instant::now();
        let mut r = registrar(t0);
        let c = creds("1001", "secret123");
        let mut nc = 0;
        let mut send = |r: &mut Registrar, contact: &str, expires: Option<u64>| {
            nc += 1;
            let ch = challenge_for(r, t0);
            let req = register(
                "1001",
                Some(answer(&ch, "MD5", "1001", "secret123", nc)),
                contact,
                expires,
            );
            r.finish(t0, &req, flow(), Some(&c))
        };
        assert_eq!(
            send(&mut r, "<sip:1001@10.0.0.1:5060>", Some(600)).code,
            200
        );
        let a = send(&mut r, "<sip:1001@10.0.0.2:5060>;expires=300", None);
        assert_eq!(a.headers.len(), 2, "two phones for one extension");
        assert_eq!(send(&mut r, "<sip:1001@10.0.0.2:5060>", Some(30)).code, 423);
        let a = send(&mut r, "<sip:1001@10.0.0.1:5060>;expires=0", None);
        assert_eq!(a.headers.len(), 1, "one removed");
        assert_eq!(send(&mut r, "*", Some(0)).code, 200);
        assert!(r.contacts("1001", t0).is_empty());
        assert_eq!(send(&mut r, "*", Some(60)).code, 400);
    }

    #[test]
    fn may_not_register_someone_else() {
        let t0 = Instant::now();
        let mut r = registrar(t0);
        let ch = challenge_for(&mut r, t0);
        // Credentials of 1001, but To names 1002.
        let auth = answer(&ch, "MD5", "1001", "secret123", 1);
        let raw = register("1002", Some(auth.clone()), "<sip:1002@h>", None);
        let a = r.finish(t0, &raw, flow(), Some(&creds("1001", "secret123")));
        assert_eq!((a.code, a.reason), (403, "may not register another user"));
    }
}
