//! [`RegistrationNumber`]: the number an appeal is registered under and
//! told to the citizen, `1580-YYYY-NNNNNN` (the line's short number, the
//! year of registration and a sequence number within that year: six digits,
//! more once a year passes 999 999). A caller keys in only its digits, so
//! two numbers with the same digits are the same number ([`digits`]).
//!
//! Plain values: no IO.

use std::fmt;

use serde::Serialize;

/// The first part of every registration number: the hotline's number.
pub const REGISTRATION_PREFIX: &str = "1580";

/// The number of a registered appeal, as issued (or as imported: an
/// appeal registered elsewhere keeps the number it was given there).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(example = "1580-2026-000123")]
pub struct RegistrationNumber(String);

impl RegistrationNumber {
    /// The `seq`-th number of `year`: `1580-2026-000123`.
    pub fn issue(year: i32, seq: i64) -> RegistrationNumber {
        RegistrationNumber(format!("{REGISTRATION_PREFIX}-{year}-{seq:06}"))
    }

    /// A number as stored or imported, kept as written.
    pub fn new(text: impl Into<String>) -> RegistrationNumber {
        RegistrationNumber(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What a caller keys in: `1580-2026-000123` → `15802026000123`.
    pub fn digits(&self) -> String {
        digits(&self.0)
    }
}

/// The digits of a registration number written any way ("1580 2026
/// 000123", "1580-2026-000123"): stored beside the number, so a lookup by
/// digits is one indexed equality on either backend.
pub fn digits(written: &str) -> String {
    written.chars().filter(char::is_ascii_digit).collect()
}

impl fmt::Display for RegistrationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for RegistrationNumber {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for RegistrationNumber {
    fn from(text: &str) -> RegistrationNumber {
        RegistrationNumber(text.to_owned())
    }
}

impl From<String> for RegistrationNumber {
    fn from(text: String) -> RegistrationNumber {
        RegistrationNumber(text)
    }
}

impl From<RegistrationNumber> for String {
    fn from(number: RegistrationNumber) -> String {
        number.0
    }
}

impl PartialEq<str> for RegistrationNumber {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RegistrationNumber {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for RegistrationNumber {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_numbers_have_six_digits_at_least_and_keep_their_zeros() {
        assert_eq!(RegistrationNumber::issue(2026, 123), "1580-2026-000123");
        assert_eq!(
            RegistrationNumber::issue(2026, 1_234_567),
            "1580-2026-1234567"
        );
        assert_eq!(
            RegistrationNumber::issue(2026, 123).digits(),
            "15802026000123"
        );
    }

    #[test]
    fn digits_ignore_how_the_number_was_written() {
        assert_eq!(digits("1580 2026 000123"), "15802026000123");
        assert_eq!(digits("no digits"), "");
        let n = RegistrationNumber::new("1580-2026-7");
        assert_eq!(n.to_string(), "1580-2026-7");
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"1580-2026-7\"");
    }
}
