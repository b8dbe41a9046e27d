//! When each report is sent: `[[reports.schedule]]` entries read as rules
//! of the city's calendar, and the one decision the sender needs: which
//! report of which period is due now.
//!
//! A schedule's occurrences are moments on the city's clock (`at` on the
//! days its `days` rule picks). The due one is the latest occurrence not
//! after "now"; it covers the period just over as of its day
//! ([`ReportKind::default_period`]). A report missed while the server was
//! down is that latest occurrence, found at the next start and sent once
//! (its key is stored when sent); older missed occurrences are superseded
//! by it and not sent.
//!
//! Plain code: no clock, no database; the calendar gives days and hours.
//! The sender (`report::sender`) carries the schedules out.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc, Weekday};
use serde::Deserialize;

use super::kinds::ReportKind;
use super::period::Period;
use crate::appeal::calendar::WorkingCalendar;

/// How far back an occurrence is looked for: a monthly report's day is at
/// most a month and a bit ago.
const LOOK_BACK_DAYS: u64 = 62;

/// One `[[reports.schedule]]` entry as written.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    /// daily, weekly, monthly, fortnight, unresolved, calls.
    pub report: String,
    /// "HH:MM", the city's time.
    pub at: String,
    /// "working" (the contact centre's working days), "every" (every
    /// day), a weekday ("mon"…"sun"), "day 1" (a day of the month) or
    /// "fortnight mon" (every other Monday, counted from the ISO week's
    /// parity); the report's own default when left out.
    #[serde(default)]
    pub days: Option<String>,
    /// xlsx, pdf or csv.
    #[serde(default = "default_format")]
    pub format: String,
    /// Addresses it goes to (besides, for the daily report, each
    /// executor's head).
    #[serde(default)]
    pub to: Vec<String>,
}

fn default_format() -> String {
    "xlsx".into()
}

/// Which days a schedule picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayRule {
    Working,
    Every,
    Weekday(Weekday),
    MonthDay(u32),
    /// Every other `Weekday`: those in even ISO weeks.
    Fortnightly(Weekday),
}

impl DayRule {
    /// The rule as the configuration writes it: "working", "every", "mon",
    /// "day 1", "fortnight mon".
    pub fn config_text(self) -> String {
        let day = |d: Weekday| d.to_string().to_lowercase();
        match self {
            DayRule::Working => "working".into(),
            DayRule::Every => "every".into(),
            DayRule::Weekday(d) => day(d),
            DayRule::MonthDay(n) => format!("day {n}"),
            DayRule::Fortnightly(d) => format!("fortnight {}", day(d)),
        }
    }
}

/// A schedule checked and ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub kind: ReportKind,
    /// Minutes after the city's midnight.
    pub at: u16,
    pub days: DayRule,
    pub format: super::Format,
    pub to: Vec<String>,
}

/// A report due: of which schedule, for which period, since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub kind: ReportKind,
    pub period: Period,
    /// The moment it became due.
    pub at: DateTime<Utc>,
    /// Names the occurrence: a report sent under this key is not sent
    /// again ("weekly:2026-11-23_2026-11-29:08:00").
    pub key: String,
}

fn weekday(text: &str) -> Option<Weekday> {
    Some(match text {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

impl Schedule {
    /// Checks an entry; the error says what is wrong with which field.
    pub fn parse(entry: &ScheduleEntry) -> Result<Schedule, String> {
        let kind = ReportKind::parse(entry.report.trim())
            .filter(|k| *k != ReportKind::Period)
            .ok_or_else(|| {
                format!(
                    "report {:?}: daily, weekly, monthly, fortnight, unresolved or calls",
                    entry.report
                )
            })?;
        let (h, m) = entry
            .at
            .trim()
            .split_once(':')
            .and_then(|(h, m)| Some((h.parse::<u16>().ok()?, m.parse::<u16>().ok()?)))
            .filter(|(h, m)| *h < 24 && *m < 60)
            .ok_or_else(|| format!("at {:?}: a time of day, HH:MM", entry.at))?;
        let default = match kind {
            ReportKind::Daily | ReportKind::Calls => "working",
            ReportKind::Weekly | ReportKind::Unresolved => "mon",
            ReportKind::Monthly => "day 1",
            ReportKind::Fortnight => "fortnight mon",
            ReportKind::Period => "every",
        };
        let text = entry
            .days
            .as_deref()
            .unwrap_or(default)
            .trim()
            .to_lowercase();
        let days = match text.as_str() {
            "working" => DayRule::Working,
            "every" => DayRule::Every,
            other => {
                let bad = || {
                    format!(
                        "days {text:?}: working, every, mon…sun, \"day N\" or \"fortnight mon\""
                    )
                };
                if let Some(n) = other.strip_prefix("day ") {
                    let n: u32 = n.trim().parse().map_err(|_| bad())?;
                    if !(1..=28).contains(&n) {
                        return Err(format!(
                            "days {text:?}: a day of the month from 1 to 28 (every month has it)"
                        ));
                    }
                    DayRule::MonthDay(n)
                } else if let Some(d) = other.strip_prefix("fortnight ") {
                    DayRule::Fortnightly(weekday(d.trim()).ok_or_else(bad)?)
                } else {
                    DayRule::Weekday(weekday(other).ok_or_else(bad)?)
                }
            }
        };
        let format = super::Format::parse(&entry.format)
            .filter(|f| *f != super::Format::Json)
            .ok_or_else(|| format!("format {:?}: xlsx, pdf or csv", entry.format))?;
        let to: Vec<String> = entry.to.iter().map(|a| a.trim().to_string()).collect();
        if let Some(bad) = to.iter().find(|a| !crate::mail::looks_like_address(a)) {
            return Err(format!("to: {bad:?} is not an e-mail address"));
        }
        if to.is_empty() && kind != ReportKind::Daily {
            return Err(format!(
                "to: the {} report needs its recipients (the daily report goes to the \
                 executors' heads)",
                kind.as_str()
            ));
        }
        Ok(Schedule {
            kind,
            at: h * 60 + m,
            days,
            format,
            to,
        })
    }

    /// Names the schedule by what it sends, when and to whom, so the same
    /// entry keeps its name across restarts and reorderings of the file.
    pub fn identity(&self) -> String {
        format!(
            "{}|{:02}:{:02}|{}|{}|{}",
            self.kind.as_str(),
            self.at / 60,
            self.at % 60,
            self.days.config_text(),
            self.format.extension(),
            self.to.join(",")
        )
    }

    fn picks(&self, calendar: &WorkingCalendar, date: NaiveDate) -> bool {
        match self.days {
            DayRule::Every => true,
            DayRule::Working => calendar.is_working_day(calendar.centre(), date),
            DayRule::Weekday(d) => date.weekday() == d,
            DayRule::MonthDay(n) => date.day() == n,
            DayRule::Fortnightly(d) => date.weekday() == d && date.iso_week().week() % 2 == 0,
        }
    }

    /// The latest occurrence at or before `now`, if one falls in the last
    /// two months.
    pub fn latest(&self, calendar: &WorkingCalendar, now: DateTime<Utc>) -> Option<Occurrence> {
        let today = calendar.date(now);
        (0..=LOOK_BACK_DAYS)
            .filter_map(|back| today.checked_sub_days(Days::new(back)))
            .filter(|d| self.picks(calendar, *d))
            .map(|d| (d, calendar.moment(d, self.at)))
            .find(|(_, at)| *at <= now)
            .map(|(date, at)| {
                let period = self.kind.default_period(date);
                Occurrence {
                    kind: self.kind,
                    period,
                    at,
                    key: format!(
                        "{}:{}:{:02}:{:02}",
                        self.kind.as_str(),
                        period.slug(),
                        self.at / 60,
                        self.at % 60
                    ),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn entry(report: &str, at: &str, days: Option<&str>, to: &[&str]) -> ScheduleEntry {
        ScheduleEntry {
            report: report.into(),
            at: at.into(),
            days: days.map(str::to_string),
            format: "xlsx".into(),
            to: to.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn utc(m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, m, d, h, min, 0)
            .single()
            .expect("a time")
    }

    #[test]
    fn each_report_is_due_at_its_time_on_the_citys_clock() {
        let calendar = WorkingCalendar::default();
        let weekly = Schedule::parse(&entry("weekly", "08:00", None, &["mayor@city.example"]))
            .expect("valid");
        // Monday 7 December 2026, 08:00 in Kyiv is 06:00 UTC.
        let before = weekly
            .latest(&calendar, utc(12, 7, 5, 59))
            .expect("last week's");
        assert_eq!(
            before.period,
            Period::week(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())
        );
        let due = weekly
            .latest(&calendar, utc(12, 7, 6, 0))
            .expect("this Monday's");
        assert_eq!(due.at, utc(12, 7, 6, 0));
        assert_eq!(
            due.period,
            Period::week(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap())
        );
        assert_eq!(due.key, "weekly:2026-11-30_2026-12-06:08:00");
        // A server down all Monday finds it on Tuesday: the same key, so
        // it is sent once.
        let late = weekly
            .latest(&calendar, utc(12, 8, 9, 0))
            .expect("still Monday's");
        assert_eq!(late.key, due.key);
    }

    #[test]
    fn the_daily_report_skips_days_off_and_summer_time_moves_the_moment() {
        let calendar = WorkingCalendar::default();
        let daily = Schedule::parse(&entry("daily", "08:30", None, &[])).expect("valid");
        // Saturday 5 December: Friday's report is the latest.
        let saturday = daily
            .latest(&calendar, utc(12, 5, 12, 0))
            .expect("Friday's");
        assert_eq!(saturday.at, utc(12, 4, 6, 30));
        assert_eq!(
            saturday.period,
            Period::day(NaiveDate::from_ymd_opt(2026, 12, 3).unwrap())
        );
        // In July, 08:30 in Kyiv is 05:30 UTC.
        let july = daily
            .latest(&calendar, utc(7, 1, 5, 30))
            .expect("Wednesday's");
        assert_eq!(july.at, utc(7, 1, 5, 30));
    }

    #[test]
    fn monthly_and_fortnightly_days() {
        let calendar = WorkingCalendar::default();
        let monthly =
            Schedule::parse(&entry("monthly", "09:00", None, &["a@b.ua"])).expect("valid");
        let due = monthly
            .latest(&calendar, utc(12, 20, 10, 0))
            .expect("1 December's");
        assert_eq!(
            due.period,
            Period::month(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap())
        );
        let note = Schedule::parse(&entry("fortnight", "09:00", None, &["a@b.ua"])).expect("valid");
        let a = note.latest(&calendar, utc(12, 7, 12, 0)).expect("one");
        let b = note.latest(&calendar, utc(12, 14, 12, 0)).expect("another");
        assert_eq!(a, b, "every other Monday");
        assert_eq!(a.period.days(), 14);
    }

    #[test]
    fn a_rule_reads_back_as_written_and_names_its_schedule() {
        for days in [
            "working",
            "every",
            "mon",
            "sun",
            "day 1",
            "day 28",
            "fortnight fri",
        ] {
            let s = Schedule::parse(&entry("weekly", "07:05", Some(days), &["a@b.ua"])).unwrap();
            assert_eq!(s.days.config_text(), days);
            assert_eq!(
                Schedule::parse(&entry(
                    "weekly",
                    "07:05",
                    Some(&s.days.config_text()),
                    &["a@b.ua"]
                )),
                Ok(s.clone())
            );
        }
        // The same entry, the same name; another time or recipient, another.
        let name = |at: &str, to: &str| {
            Schedule::parse(&entry("weekly", at, None, &[to]))
                .unwrap()
                .identity()
        };
        assert_eq!(name("08:00", "a@b.ua"), name("08:00", "a@b.ua"));
        assert_ne!(name("08:00", "a@b.ua"), name("08:30", "a@b.ua"));
        assert_ne!(name("08:00", "a@b.ua"), name("08:00", "c@b.ua"));
        assert_eq!(name("08:00", "a@b.ua"), "weekly|08:00|mon|xlsx|a@b.ua");
    }

    #[test]
    fn a_wrong_entry_says_which_field_is_wrong() {
        let e = |report, at, days: Option<&str>, to: &[&str]| {
            Schedule::parse(&entry(report, at, days, to)).unwrap_err()
        };
        assert!(e("yearly", "08:00", None, &["a@b.ua"]).starts_with("report \"yearly\""));
        assert!(e("weekly", "8", None, &["a@b.ua"]).starts_with("at \"8\""));
        assert!(e("weekly", "25:00", None, &["a@b.ua"]).starts_with("at"));
        assert!(e("weekly", "08:00", Some("friday"), &["a@b.ua"]).starts_with("days"));
        assert!(e("monthly", "08:00", Some("day 31"), &["a@b.ua"]).contains("1 to 28"));
        assert!(e("weekly", "08:00", None, &["mayor at city"]).contains("not an e-mail"));
        assert!(e("weekly", "08:00", None, &[]).contains("needs its recipients"));
        assert!(
            Schedule::parse(&entry(
                "weekly",
                "08:00",
                None,
                &["Мер <mayor@city.example>"]
            ))
            .is_ok()
        );
    }
}
