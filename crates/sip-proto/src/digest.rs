//! HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616,
//! RFC 8760): parsing challenges and computing credentials with MD5 or
//! SHA-256, `qop=auth` or none.
//!
//! Pure functions; the client nonce comes in from the caller so results
//! are reproducible in tests.

use md5::Md5;
use sha2::{Digest as _, Sha256};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("not a Digest challenge")]
    NotDigest,
    #[error("challenge lacks {0}")]
    Missing(&'static str),
    #[error("unsupported algorithm {0}")]
    Algorithm(String),
    #[error("challenge offers no qop we support ({0})")]
    Qop(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    fn hash(self, data: &str) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(data.as_bytes())),
            Algorithm::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
        }
    }
}

/// A parsed `WWW-Authenticate` / `Proxy-Authenticate` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// true when the server offered `qop=auth`.
    pub qop_auth: bool,
    pub stale: bool,
}

impl Challenge {
    pub fn parse(value: &str) -> Result<Challenge, DigestError> {
        let value = value.trim();
        let (scheme, rest) = value
            .split_once(char::is_whitespace)
            .ok_or(DigestError::NotDigest)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(DigestError::NotDigest);
        }
        let params = parse_params(rest);
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        let algorithm = match get("algorithm").as_deref() {
            None => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("MD5") => Algorithm::Md5,
            Some(a) if a.eq_ignore_ascii_case("SHA-256") => Algorithm::Sha256,
            Some(other) => return Err(DigestError::Algorithm(other.to_string())),
        };
        let qop_auth = match get("qop") {
            None => false,
            Some(q) => {
                let auth = q.split(',').any(|o| o.trim().eq_ignore_ascii_case("auth"));
                if !auth {
                    return Err(DigestError::Qop(q));
                }
                true
            }
        };
        Ok(Challenge {
            realm: get("realm").ok_or(DigestError::Missing("realm"))?,
            nonce: get("nonce").ok_or(DigestError::Missing("nonce"))?,
            opaque: get("opaque"),
            algorithm,
            qop_auth,
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }
}

/// What the client signs.
#[derive(Debug, Clone)]
pub struct Credentials<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub method: &'a str,
    pub uri: &'a str,
    pub cnonce: &'a str,
    /// Nonce count: how many times this nonce has been used, from 1.
    pub nc: u32,
}

/// The `response` value of RFC 7616 §3.4.1.
pub fn response(ch: &Challenge, cr: &Credentials) -> String {
    let a = ch.algorithm;
    let ha1 = a.hash(&format!("{}:{}:{}", cr.username, ch.realm, cr.password));
    let ha2 = a.hash(&format!("{}:{}", cr.method, cr.uri));
    if ch.qop_auth {
        a.hash(&format!(
            "{ha1}:{}:{:08x}:{}:auth:{ha2}",
            ch.nonce, cr.nc, cr.cnonce
        ))
    } else {
        a.hash(&format!("{ha1}:{}:{ha2}", ch.nonce))
    }
}

/// The full `Authorization` header value answering `ch`.
pub fn authorization(ch: &Challenge, cr: &Credentials) -> String {
    let mut out = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", algorithm={}",
        cr.username,
        ch.realm,
        ch.nonce,
        cr.uri,
        response(ch, cr),
        ch.algorithm.name()
    );
    if ch.qop_auth {
        out.push_str(&format!(
            ", qop=auth, nc={:08x}, cnonce=\"{}\"",
            cr.nc, cr.cnonce
        ));
    }
    if let Some(opaque) = &ch.opaque {
        out.push_str(&format!(", opaque=\"{opaque}\""));
    }
    out
}

/// Splits `a="x, y", b=z` into pairs, honouring quotes and escapes.
pub(crate) fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let name: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if name.trim().is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            out.push((name.trim().to_string(), String::new()));
            continue;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_string();
        }
        out.push((name.trim().to_string(), value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1, whose example is the same for MD5 and SHA-256.
    fn rfc7616(algorithm: &str) -> (Challenge, Credentials<'static>) {
        let ch = Challenge::parse(&format!(
            "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm={algorithm}, \
             nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        ))
        .unwrap();
        let cr = Credentials {
            username: "Mufasa",
            password: "Circle of Life",
            method: "GET",
            uri: "/dir/index.html",
            cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            nc: 1,
        };
        (ch, cr)
    }

    #[test]
    fn rfc7616_md5() {
        let (ch, cr) = rfc7616("MD5");
        assert_eq!(response(&ch, &cr), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn rfc7616_sha256() {
        let (ch, cr) = rfc7616("SHA-256");
        assert_eq!(
            response(&ch, &cr),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        let header = authorization(&ch, &cr);
        assert!(header.contains("algorithm=SHA-256") && header.contains("nc=00000001"));
        assert!(header.contains("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""));
    }

    #[test]
    fn rfc2617_with_and_without_qop() {
        let cr = Credentials {
            username: "Mufasa",
            password: "Circle Of Life",
            method: "GET",
            uri: "/dir/index.html",
            cnonce: "0a4f113b",
            nc: 1,
        };
        // RFC 2617 §3.5.
        let ch = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert_eq!(response(&ch, &cr), "6629fae49393a05397450978507c4ef1");
        // No qop (RFC 2069 style, as many SIP registrars send): checked
        // against Python's hashlib.
        let ch = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\"",
        )
        .unwrap();
        assert_eq!(response(&ch, &cr), "670fd8c2df070c60b045671b8b24ff02");
    }

    #[test]
    fn bad_challenges() {
        assert_eq!(
            Challenge::parse("Basic realm=\"x\""),
            Err(DigestError::NotDigest)
        );
        assert_eq!(
            Challenge::parse("Digest nonce=\"n\""),
            Err(DigestError::Missing("realm"))
        );
        assert!(matches!(
            Challenge::parse("Digest realm=r, nonce=n, algorithm=SHA-512-256"),
            Err(DigestError::Algorithm(_))
        ));
        assert!(matches!(
            Challenge::parse("Digest realm=r, nonce=n, qop=\"auth-int\""),
            Err(DigestError::Qop(_))
        ));
        let stale = Challenge::parse("Digest realm=r, nonce=n, stale=TRUE").unwrap();
        assert!(stale.stale && !stale.qop_auth);
    }
}
