//! Caller numbers: normalising the many ways a Ukrainian number is written
//! to E.164 (`+380…`), and keeping them out of logs.
//!
//! [`Pii`] wraps personal data so `Debug`/`Display` print it redacted unless
//! the operator switched on `reveal_personal_data` for debugging.

use std::sync::atomic::{AtomicBool, Ordering};

static REVEAL: AtomicBool = AtomicBool::new(false);

/// Lets logs show personal data (the `[logging] reveal_personal_data` key).
pub fn reveal_personal_data(on: bool) {
    REVEAL.store(on, Ordering::Relaxed);
}

/// Personal data that must not reach a log by accident.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Pii<T>(pub T);

/// The last `n` characters of `text`: what a redacted number shows.
pub fn last_chars(text: &str, n: usize) -> String {
    let skip = text.chars().count().saturating_sub(n);
    text.chars().skip(skip).collect()
}

impl<T: std::fmt::Display> std::fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if REVEAL.load(Ordering::Relaxed) {
            return self.0.fmt(f);
        }
        // Keep the last two characters so support staff can tell calls apart.
        write!(f, "***{}", last_chars(&self.0.to_string(), 2))
    }
}

impl<T: std::fmt::Display> std::fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pii({self})")
    }
}

/// A number in E.164 form, `+` and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct E164(String);

impl E164 {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for E164 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How numbers without a country or area code are completed.
#[derive(Debug, Clone)]
pub struct NumberingPlan {
    /// `380` for Ukraine.
    pub country_code: String,
    /// Area code without the trunk prefix 0 (`61` for Zaporizhzhia).
    pub area_code: String,
}

impl Default for NumberingPlan {
    fn default() -> Self {
        Self {
            country_code: "380".into(),
            area_code: "61".into(),
        }
    }
}

impl NumberingPlan {
    /// Normalises a number as callers, trunks and operators write it:
    /// `+380 61 123-45-67`, `380611234567`, `0611234567`, `(061) 123 45 67`,
    /// `8 061 123 45 67` (the old long-distance prefix), `00380…`,
    /// `tel:+380611234567`, `sip:0611234567@host`, and 7-digit local numbers.
    /// Returns `None` for what is not a plausible number (anonymous, short
    /// service codes, letters).
    pub fn normalise(&self, raw: &str) -> Option<E164> {
        let mut s = raw.trim();
        for scheme in ["tel:", "sip:", "sips:"] {
            // get() rather than slicing: the text is whatever a peer sent,
            // and a byte offset may fall inside a multi-byte character.
            if s.get(..scheme.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
            {
                s = &s[scheme.len()..];
            }
        }
        let s = s.split(['@', ';']).next().unwrap_or(s);
        if s.chars().any(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        let plus = s.trim_start().starts_with('+');
        if !s
            .chars()
            .all(|c| c.is_ascii_digit() || " -().+/".contains(c))
        {
            return None;
        }
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        let cc = &self.country_code;
        let national_len = 9;
        let e164 = if plus {
            digits
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest.to_string()
        } else if digits.starts_with(cc.as_str()) && digits.len() == cc.len() + national_len {
            digits
        } else if digits.len() == national_len + 1 && digits.starts_with('0') {
            format!("{cc}{}", &digits[1..])
        } else if digits.len() == national_len + 2 && digits.starts_with("80") {
            // "8 0XX …": the Soviet-era long-distance prefix still in use.
            format!("{cc}{}", &digits[2..])
        } else if digits.len() + self.area_code.len() == national_len && !digits.starts_with('0') {
            format!("{cc}{}{digits}", self.area_code)
        } else {
            return None;
        };
        // E.164 allows at most 15 digits; ours are exactly cc + 9.
        let valid = if e164.starts_with(cc.as_str()) {
            e164.len() == cc.len() + national_len
        } else {
            (8..=15).contains(&e164.len())
        };
        valid.then(|| E164(format!("+{e164}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ukrainian_forms_are_one_number() {
        let plan = NumberingPlan::default();
        for raw in [
            "+380 61 123-45-67",
            "380611234567",
            "0611234567",
            "(061) 123 45 67",
            "8 061 123 45 67",
            "00380611234567",
            "tel:+380611234567",
            "sip:0611234567@127.0.0.1",
            "1234567",
            "123-45-67",
        ] {
            assert_eq!(
                plan.normalise(raw).map(|n| n.to_string()),
                Some("+380611234567".into()),
                "{raw}"
            );
        }
        assert_eq!(
            plan.normalise("+380 67 000 11 22").unwrap().as_str(),
            "+380670001122"
        );
        assert_eq!(
            plan.normalise("+48 22 123 45 67").unwrap().as_str(),
            "+48221234567"
        );
    }

    #[test]
    fn not_numbers() {
        let plan = NumberingPlan::default();
        for raw in [
            "anonymous",
            "",
            "1580",
            "sip:anonymous@anonymous.invalid",
            "+38061",
            "0611234567890",
            "12#34",
            "абв",
            "1234é",
            "sï:1",
        ] {
            assert_eq!(plan.normalise(raw), None, "{raw}");
        }
    }

    #[test]
    fn pii_is_redacted() {
        let n = Pii("+380611234567");
        assert_eq!(format!("{n}"), "***67");
        assert_eq!(format!("{n:?}"), "Pii(***67)");
    }
}
