//! Secrets that never print: passwords and tokens are [`SecretString`]s
//! (from the `secrecy` crate: `Debug` shows `[REDACTED]`, the value comes
//! out only through [`ExposeSecret::expose_secret`]); the database URL is a
//! [`DatabaseUrl`], shown everywhere with its password hidden
//! ([`redact_url`]), so `hotline config check`, a `Debug` of the settings
//! and an error naming the URL never carry it.
//!
//! Plain values: no IO.

use std::fmt;

pub use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Where the store lives: `sqlite://…` or `postgres://user:password@…`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl(SecretString::from(url.into()))
    }

    /// The URL itself, to connect with; never to show.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL with its password replaced by `***`, to show.
    pub fn redacted(&self) -> String {
        redact_url(self.expose())
    }
}

/// Shown as its redacted form (no password) wherever settings are
/// written out (the admins' effective configuration).
impl serde::Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

/// What a secret is written out as: never its value.
pub const HIDDEN: &str = "(hidden)";

/// `serialize_with` for a secret: [`HIDDEN`].
pub fn hidden<S: serde::Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(HIDDEN)
}

/// `serialize_with` for a secret that may be absent: [`HIDDEN`] if set.
pub fn hidden_opt<S: serde::Serializer>(
    secret: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => s.serialize_str(HIDDEN),
        None => s.serialize_none(),
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.redacted(), f)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// `url` with the password of its user info replaced by `***`, so it can go
/// into errors and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // Userinfo ends at the last '@' before the path ('@' inside a password
    // should be percent-encoded, but be generous anyway).
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_password_never_prints() {
        let url = DatabaseUrl::new("postgres://hotline:s3cret@db.example:5432/hotline");
        for shown in [format!("{url:?}"), url.to_string(), url.redacted()] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(
                shown.contains("hotline:***@db.example:5432/hotline"),
                "{shown}"
            );
        }
        assert_eq!(
            url.expose(),
            "postgres://hotline:s3cret@db.example:5432/hotline"
        );
        let password = SecretString::from("trunk-pass".to_owned());
        assert!(!format!("{password:?}").contains("trunk-pass"));
    }
}
