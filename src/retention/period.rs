//! A retention period as the regulation states it: "3 months", "3 years".
//! Months and years are calendar ones (a recording of 30 November is kept
//! until 28 or 29 February), so a period is counted back from "now" with
//! the calendar, never as a fixed number of seconds.

use chrono::{DateTime, Months, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Days(u32),
    Months(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a period: write it as `N days`, `N weeks`, `N months` or `N years`, N from 1"
)]
pub struct PeriodError(String);

impl std::str::FromStr for Period {
    type Err = PeriodError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || PeriodError(text.to_owned());
        let mut words = text.split_whitespace();
        let (Some(n), Some(unit), None) = (words.next(), words.next(), words.next()) else {
            return Err(bad());
        };
        let n: u32 = n.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(bad());
        }
        let unit = unit.to_ascii_lowercase();
        let unit = unit.strip_suffix('s').unwrap_or(&unit);
        match unit {
            "day" => Ok(Period::Days(n)),
            "week" => n.checked_mul(7).map(Period::Days).ok_or_else(bad),
            "month" => Ok(Period::Months(n)),
            "year" => n.checked_mul(12).map(Period::Months).ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Period::Days(n) => write!(f, "{n} day{}", if n == 1 { "" } else { "s" }),
            Period::Months(n) if n % 12 == 0 => {
                let y = n / 12;
                write!(f, "{y} year{}", if y == 1 { "" } else { "s" })
            }
            Period::Months(n) => write!(f, "{n} month{}", if n == 1 { "" } else { "s" }),
        }
    }
}

impl Period {
    /// The moment this long before `now`: what started before it is older
    /// than the period.
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Period::Days(n) => now - chrono::TimeDelta::days(i64::from(n)),
            Period::Months(n) => now
                .checked_sub_months(Months::new(n))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn periods_parse_as_people_write_them() {
        assert_eq!("3 months".parse(), Ok(Period::Months(3)));
        assert_eq!("1 month".parse(), Ok(Period::Months(1)));
        assert_eq!("3 years".parse(), Ok(Period::Months(36)));
        assert_eq!(" 90  Days ".parse(), Ok(Period::Days(90)));
        assert_eq!("2 weeks".parse(), Ok(Period::Days(14)));
        for bad in [
            "",
            "3",
            "months",
            "0 days",
            "-1 days",
            "3 fortnights",
            "3 months ago",
            "1.5 years",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad:?}");
        }
        assert_eq!(Period::Months(36).to_string(), "3 years");
        assert_eq!(Period::Months(3).to_string(), "3 months");
        assert_eq!(Period::Days(1).to_string(), "1 day");
    }

    #[test]
    fn months_are_calendar_months() {
        let now = at("2026-05-31T12:00:00Z");
        assert_eq!(Period::Months(3).cutoff(now), at("2026-02-28T12:00:00Z"));
        assert_eq!(Period::Months(36).cutoff(now), at("2023-05-31T12:00:00Z"));
        assert_eq!(Period::Days(7).cutoff(now), at("2026-05-24T12:00:00Z"));
        // Far beyond the calendar: everything is younger.
        assert_eq!(
            Period::Months(u32::MAX).cutoff(now),
            DateTime::<Utc>::MIN_UTC
        );
    }
}
