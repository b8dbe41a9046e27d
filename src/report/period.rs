//! A report's period: whole days of the city (Europe/Kyiv), from `first`
//! to `last` inclusive, and the moments they begin and end on the city's
//! clock, daylight-saving changes included (a day is 23, 24 or 25 hours).
//!
//! Plain code: no IO, no clock; the calendar gives the time zone.

use std::fmt;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::appeal::calendar::WorkingCalendar;

/// The longest period a report covers: a leap year and a day of slack.
pub const MAX_DAYS: u64 = 367;

/// What a period is, which says what "the previous one" is and how it
/// reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ReportSpan)]
pub enum Span {
    Day,
    /// Monday to Sunday.
    Week,
    /// Two weeks, Monday to the Sunday after next.
    Fortnight,
    Month,
    Year,
    /// Any run of days.
    Days,
}

/// Whole days of the city, `first` to `last` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ReportPeriod)]
pub struct Period {
    pub span: Span,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// Why a period was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("the period ends ({last}) before it begins ({first})")]
    Reversed { first: NaiveDate, last: NaiveDate },
    #[error("the period is {days} days long; a report covers at most {MAX_DAYS}")]
    TooLong { days: u64 },
    #[error("{0:?} is not a date (expected YYYY-MM-DD)")]
    NotADate(String),
    #[error("the period ends on {0} but has no first day")]
    NoStart(String),
}

impl Period {
    /// The days `first` to `last`: a month, a week… when they are one.
    pub fn new(first: NaiveDate, last: NaiveDate) -> Result<Period, PeriodError> {
        if last < first {
            return Err(PeriodError::Reversed { first, last });
        }
        let days = last.signed_duration_since(first).num_days().unsigned_abs() + 1;
        if days > MAX_DAYS {
            return Err(PeriodError::TooLong { days });
        }
        let span = [
            Period::day(first),
            Period::week(first),
            Period::fortnight(first),
            Period::month(first),
            Period::year(first),
        ]
        .into_iter()
        .find(|p| p.first == first && p.last == last)
        .map_or(Span::Days, |p| p.span);
        Ok(Period { span, first, last })
    }

    /// Parses "YYYY-MM-DD" dates, as typed on the command line or in a
    /// query string.
    pub fn parse(first: &str, last: &str) -> Result<Period, PeriodError> {
        let date = |s: &str| {
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map_err(|_| PeriodError::NotADate(s.to_string()))
        };
        Period::new(date(first)?, date(last)?)
    }

    pub fn day(day: NaiveDate) -> Period {
        Period {
            span: Span::Day,
            first: day,
            last: day,
        }
    }

    /// The week (Monday to Sunday) `day` is in.
    pub fn week(day: NaiveDate) -> Period {
        let first = monday_of(day);
        Period {
            span: Span::Week,
            first,
            last: first + Days::new(6),
        }
    }

    /// The two weeks that begin on the Monday of `day`'s week.
    pub fn fortnight(day: NaiveDate) -> Period {
        let first = monday_of(day);
        Period {
            span: Span::Fortnight,
            first,
            last: first + Days::new(13),
        }
    }

    /// The calendar month `day` is in.
    pub fn month(day: NaiveDate) -> Period {
        // The first of a month always exists, and so does the next
        // month's first within chrono's range of years.
        let first = day.with_day(1).unwrap_or(day);
        let next = first.checked_add_months(Months::new(1)).unwrap_or(first);
        Period {
            span: Span::Month,
            first,
            last: next.pred_opt().unwrap_or(first),
        }
    }

    /// The calendar year `day` is in.
    pub fn year(day: NaiveDate) -> Period {
        let first = NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day);
        let last = NaiveDate::from_ymd_opt(day.year(), 12, 31).unwrap_or(day);
        Period {
            span: Span::Year,
            first,
            last,
        }
    }

    /// The period of the same kind just before this one: the month before
    /// a month, the year before a year, otherwise as many days just
    /// before.
    pub fn previous(self) -> Period {
        let before = self.first.pred_opt().unwrap_or(self.first);
        match self.span {
            Span::Month => Period::month(before),
            Span::Year => Period::year(before),
            _ => {
                let first = self.first - Days::new(self.days() as u64);
                Period {
                    span: self.span,
                    first,
                    last: before,
                }
            }
        }
    }

    /// How many days it has.
    pub fn days(self) -> usize {
        self.last
            .signed_duration_since(self.first)
            .num_days()
            .unsigned_abs() as usize
            + 1
    }

    /// Its days in order.
    pub fn dates(self) -> impl Iterator<Item = NaiveDate> {
        self.first.iter_days().take(self.days())
    }

    /// The moment its first day begins in the city.
    pub fn start(self, calendar: &WorkingCalendar) -> DateTime<Utc> {
        calendar.moment(self.first, 0)
    }

    /// The moment after its last day ends in the city (not included).
    pub fn end(self, calendar: &WorkingCalendar) -> DateTime<Utc> {
        calendar.moment(self.last.succ_opt().unwrap_or(self.last), 0)
    }

    /// Whether `at` falls within it, on the city's clock.
    pub fn contains(self, calendar: &WorkingCalendar, at: DateTime<Utc>) -> bool {
        at >= self.start(calendar) && at < self.end(calendar)
    }

    /// A short name for files: "2026-11", "2026-11-23_2026-11-29".
    pub fn slug(self) -> String {
        match self.span {
            Span::Day => self.first.format("%Y-%m-%d").to_string(),
            Span::Month => self.first.format("%Y-%m").to_string(),
            Span::Year => self.first.format("%Y").to_string(),
            _ => format!(
                "{}_{}",
                self.first.format("%Y-%m-%d"),
                self.last.format("%Y-%m-%d")
            ),
        }
    }
}

impl fmt::Display for Period {
    /// In Ukrainian, as reports head it: "листопад 2026", "23.11.2026 –
    /// 29.11.2026", "2026 рік".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.span {
            Span::Day => write!(f, "{}", self.first.format("%d.%m.%Y")),
            Span::Month => write!(
                f,
                "{} {}",
                MONTHS[self.first.month0() as usize],
                self.first.year()
            ),
            Span::Year => write!(f, "{} рік", self.first.year()),
            _ => write!(
                f,
                "{} – {}",
                self.first.format("%d.%m.%Y"),
                self.last.format("%d.%m.%Y")
            ),
        }
    }
}

/// Months in the nominative, as a period's name.
const MONTHS: [&str; 12] = [
    "січень",
    "лютий",
    "березень",
    "квітень",
    "травень",
    "червень",
    "липень",
    "серпень",
    "вересень",
    "жовтень",
    "листопад",
    "грудень",
];

fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// The weekday as reports print it, Monday first.
pub fn weekday_short(day: Weekday) -> &'static str {
    ["пн", "вт", "ср", "чт", "пт", "сб", "нд"][day.num_days_from_monday() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a date")
    }

    #[test]
    fn spans_are_recognised_from_their_days() {
        let p = Period::new(date(2026, 11, 1), date(2026, 11, 30)).expect("a period");
        assert_eq!(p.span, Span::Month);
        assert_eq!(p.to_string(), "листопад 2026");
        let p = Period::new(date(2026, 11, 23), date(2026, 11, 29)).expect("a period");
        assert_eq!(p.span, Span::Week);
        assert_eq!(p.to_string(), "23.11.2026 – 29.11.2026");
        let p = Period::new(date(2026, 11, 24), date(2026, 11, 30)).expect("a period");
        assert_eq!(p.span, Span::Days, "seven days, but not Monday to Sunday");
        assert_eq!(
            Period::new(date(2026, 1, 1), date(2026, 12, 31)).map(|p| p.span),
            Ok(Span::Year)
        );
    }

    #[test]
    fn a_period_says_what_is_wrong_with_it() {
        assert_eq!(
            Period::new(date(2026, 12, 2), date(2026, 12, 1)),
            Err(PeriodError::Reversed {
                first: date(2026, 12, 2),
                last: date(2026, 12, 1)
            })
        );
        assert_eq!(
            Period::new(date(2025, 1, 1), date(2026, 12, 31)),
            Err(PeriodError::TooLong { days: 730 })
        );
        assert_eq!(
            Period::parse("2026-13-01", "2026-12-31"),
            Err(PeriodError::NotADate("2026-13-01".into()))
        );
        assert!(
            Period::parse("2024-01-01", "2024-12-31").is_ok(),
            "a leap year fits"
        );
    }

    #[test]
    fn the_previous_period_is_of_the_same_kind() {
        let march = Period::month(date(2026, 3, 15));
        assert_eq!(march.previous(), Period::month(date(2026, 2, 1)));
        assert_eq!(march.previous().days(), 28);
        let fortnight = Period::fortnight(date(2026, 11, 25));
        assert_eq!(fortnight.first, date(2026, 11, 23));
        assert_eq!(fortnight.last, date(2026, 12, 6));
        let before = fortnight.previous();
        assert_eq!(
            (before.first, before.last),
            (date(2026, 11, 9), date(2026, 11, 22))
        );
        assert_eq!(before.span, Span::Fortnight);
        assert_eq!(
            Period::year(date(2026, 5, 5)).previous(),
            Period::year(date(2025, 1, 1))
        );
        let days = Period::new(date(2026, 12, 1), date(2026, 12, 3)).expect("a period");
        assert_eq!(
            (days.previous().first, days.previous().last),
            (date(2026, 11, 28), date(2026, 11, 30))
        );
    }

    #[test]
    fn days_begin_at_the_citys_midnight_across_daylight_saving() {
        let calendar = WorkingCalendar::default();
        // Kyiv moves to summer time on 29 March 2026 (03:00 → 04:00) and
        // back on 25 October.
        let spring = Period::day(date(2026, 3, 29));
        assert_eq!(
            spring.start(&calendar).to_rfc3339(),
            "2026-03-28T22:00:00+00:00"
        );
        assert_eq!(
            spring.end(&calendar).to_rfc3339(),
            "2026-03-29T21:00:00+00:00"
        );
        let autumn = Period::day(date(2026, 10, 25));
        assert_eq!(
            autumn.start(&calendar).to_rfc3339(),
            "2026-10-24T21:00:00+00:00"
        );
        assert_eq!(
            autumn.end(&calendar).to_rfc3339(),
            "2026-10-25T22:00:00+00:00"
        );
        let october = Period::month(date(2026, 10, 1));
        assert_eq!(
            october.start(&calendar).to_rfc3339(),
            "2026-09-30T21:00:00+00:00"
        );
        assert_eq!(
            october.end(&calendar).to_rfc3339(),
            "2026-10-31T22:00:00+00:00"
        );
        let last_second = october.end(&calendar) - chrono::TimeDelta::seconds(1);
        assert!(october.contains(&calendar, last_second));
        assert!(!october.contains(&calendar, october.end(&calendar)));
    }
}
