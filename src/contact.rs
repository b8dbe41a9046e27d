//! A citizen's contact as the block list keys it (000 §2.5.2, 004 §4.4):
//! a phone number, an e-mail address, or a messenger account. Each has
//! one stored form, so every way of writing it is one block:
//!
//! | kind | written as | stored |
//! |---|---|---|
//! | phone | `067 123 45 67`, `+380671234567`, `tel:…` | `+380671234567` |
//! | e-mail | `Taras@Example.com`, `mailto:…` | `mailto:taras@example.com` |
//! | Telegram | `telegram:123456789` (the user's id) | `telegram:123456789` |
//! | Viber | `viber:01234567890A=` (the user's id) | `viber:01234567890A=` |
//!
//! Plain code: no storage here.

use std::fmt;

use crate::phone::{NumberingPlan, Pii};

/// A blockable contact, in its one stored form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContactKey {
    /// E.164.
    Phone(String),
    /// Folded to lower case.
    Email(String),
    /// The Telegram user's numeric id.
    Telegram(String),
    /// The Viber user's id.
    Viber(String),
}

/// How a contact is written wrongly.
pub const EXAMPLES: &str = "067 123 45 67, name@example.ua, telegram:123456789 або viber:<id>";

impl ContactKey {
    /// The contact `text` names, as people type it: a number in any usual
    /// form, an e-mail address, or `telegram:`/`viber:` and the account's
    /// id. `None` when it is none of them.
    pub fn parse(text: &str, numbering: &NumberingPlan) -> Option<ContactKey> {
        let text = text.trim();
        if let Some(id) = strip_prefix_ci(text, "telegram:") {
            let id = id.trim();
            return (!id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_digit()))
                .then(|| ContactKey::Telegram(id.to_owned()));
        }
        if let Some(id) = strip_prefix_ci(text, "viber:") {
            let id = id.trim();
            let ok = !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b));
            return ok.then(|| ContactKey::Viber(id.to_owned()));
        }
        if let Some(address) = strip_prefix_ci(text, "mailto:") {
            return email(address.trim()).map(ContactKey::Email);
        }
        // A number first: `sip:0611234567@pbx` has an `@` too.
        if let Some(n) = numbering.normalise(text) {
            return Some(ContactKey::Phone(n.to_string()));
        }
        if text.contains('@') {
            return email(text).map(ContactKey::Email);
        }
        None
    }

    /// The key as stored; [`ContactKey::from_stored`] reads it back.
    pub fn stored(&self) -> String {
        match self {
            ContactKey::Phone(n) => n.clone(),
            ContactKey::Email(a) => format!("mailto:{a}"),
            ContactKey::Telegram(id) => format!("telegram:{id}"),
            ContactKey::Viber(id) => format!("viber:{id}"),
        }
    }

    /// A stored key, checked.
    pub fn from_stored(stored: &str) -> Option<ContactKey> {
        if let Some(n) = stored.strip_prefix('+') {
            return (n.len() >= 4 && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| ContactKey::Phone(stored.to_owned()));
        }
        let key = ContactKey::parse(stored, &NumberingPlan::default())?;
        (key.stored() == stored && !matches!(key, ContactKey::Phone(_))).then_some(key)
    }

    /// `phone`, `email`, `telegram` or `viber`.
    pub fn kind(&self) -> &'static str {
        match self {
            ContactKey::Phone(_) => "phone",
            ContactKey::Email(_) => "email",
            ContactKey::Telegram(_) => "telegram",
            ContactKey::Viber(_) => "viber",
        }
    }
}

/// The kind of a stored key by its prefix alone (rows written before a
/// check was as strict are still shown).
pub fn kind_of(stored: &str) -> &'static str {
    match stored.split_once(':').map(|(scheme, _)| scheme) {
        Some("mailto") => "email",
        Some("telegram") => "telegram",
        Some("viber") => "viber",
        _ => "phone",
    }
}

/// For logs: the kind and the last characters only.
impl fmt::Display for ContactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), Pii(self.stored()))
    }
}

/// A bare address (`name@host.tld`, no display name), folded.
fn email(address: &str) -> Option<String> {
    let ok = address.len() <= 254
        && crate::mail::looks_like_address(address)
        && !address.contains(['<', '>', ',', ';']);
    ok.then(|| address.to_lowercase())
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_of_writing_a_contact_is_one_key() {
        let plan = NumberingPlan::default();
        let parse = |t| ContactKey::parse(t, &plan).map(|k| k.stored());
        assert_eq!(parse("067 123 45 67").as_deref(), Some("+380671234567"));
        assert_eq!(parse("tel:+380671234567").as_deref(), Some("+380671234567"));
        assert_eq!(
            parse("sip:0611234567@pbx.example").as_deref(),
            Some("+380611234567")
        );
        assert_eq!(
            parse(" Taras@Example.COM ").as_deref(),
            Some("mailto:taras@example.com")
        );
        assert_eq!(
            parse("MAILTO:taras@example.com").as_deref(),
            Some("mailto:taras@example.com")
        );
        assert_eq!(
            parse("Telegram: 123456789").as_deref(),
            Some("telegram:123456789")
        );
        assert_eq!(
            parse("viber:01234567890A+b/c=").as_deref(),
            Some("viber:01234567890A+b/c=")
        );
        for wrong in [
            "",
            "telegram:@taras",
            "telegram:",
            "viber:a b",
            "taras@",
            "Тарас <taras@example.com>",
            "a@b.ua, c@d.ua",
            "12",
        ] {
            assert_eq!(parse(wrong), None, "{wrong:?}");
        }
    }

    #[test]
    fn stored_keys_read_back_and_nothing_else_does() {
        let plan = NumberingPlan::default();
        for text in ["+380671234567", "t@example.ua", "telegram:42", "viber:Zx9="] {
            let key = ContactKey::parse(text, &plan).unwrap();
            assert_eq!(ContactKey::from_stored(&key.stored()), Some(key));
        }
        for wrong in [
            "0671234567",
            "Taras@example.ua",
            "mailto:Taras@example.ua",
            "+38a",
        ] {
            assert_eq!(ContactKey::from_stored(wrong), None, "{wrong:?}");
        }
    }

    #[test]
    fn a_key_prints_redacted() {
        let key = ContactKey::Email("taras@example.com".into());
        assert_eq!(key.to_string(), "email:***om");
    }
}
