//! The working calendar: when the city works, in the city's time zone
//! (Europe/Kyiv, with daylight saving): working days and hours, public
//! holidays and moved days, the contact centre's and each executor's own.
//!
//! Role: answer questions of time as people count it: is this moment within
//! an executor's working hours, when does the next working period start (a
//! card registered at night reaches the executor then), when is the end of
//! the next working day (a closure proposed on Friday evening is due for
//! review on Monday), which year a moment falls in (registration numbers),
//! which local day (reports). Plain code: it reads a file once
//! ([`WorkingCalendar::load`]) and otherwise takes moments and returns
//! moments; no clock, no database.
//!
//! The file's format is in `docs/lifecycle.md`; `sip-config/calendar.toml` is
//! the shipped sample.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

/// The calendar a fresh install uses when the file is absent: Monday to
/// Friday, 08:00–17:00, no holidays, Europe/Kyiv.
pub const DEFAULT_PATH: &str = "sip-config/calendar.toml";

/// How far ahead a search for working time looks before it gives up: a
/// calendar without a single working day in a year is a mistake, caught
/// at load time; this bounds the loops whatever happens.
const SEARCH_DAYS: u64 = 400;

/// A calendar that cannot be read or makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("cannot read the working calendar {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("working calendar {path}: {message}")]
    Invalid { path: String, message: String },
}

/// Working hours of one day, local time: from `start` to `end`, in minutes
/// since midnight (`end` may be 1440, midnight at the end of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    start: u16,
    end: u16,
}

impl Hours {
    /// The whole day.
    pub const ALL_DAY: Hours = Hours {
        start: 0,
        end: 24 * 60,
    };

    /// Reads "08:00-17:00" (24:00 allowed as an end).
    pub fn parse(text: &str) -> Result<Hours, String> {
        let bad = || format!("{text:?} is not working hours like \"08:00-17:00\"");
        let (a, b) = text.split_once('-').ok_or_else(bad)?;
        // Exactly "HH:MM", 00:00 to 24:00.
        let minutes = |t: &str| -> Option<u16> {
            let t = t.trim();
            let (h, m) = t.split_once(':')?;
            if h.len() != 2 || m.len() != 2 || !t.bytes().all(|b| b.is_ascii_digit() || b == b':') {
                return None;
            }
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
        };
        let (start, end) = (minutes(a).ok_or_else(bad)?, minutes(b).ok_or_else(bad)?);
        if start >= end || start == 24 * 60 {
            return Err(format!("{text:?}: the hours end before they start"));
        }
        Ok(Hours { start, end })
    }
}

impl std::fmt::Display for Hours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start), hm(self.end))
    }
}

/// When one organisation works: hours for each weekday, and whether the
/// city's holidays and moved days apply to it (an emergency service that
/// works around the clock ignores them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Monday first; `None` is a day off.
    week: [Option<Hours>; 7],
    follows_holidays: bool,
}

impl Schedule {
    /// Every day, all day, holidays included.
    pub const AROUND_THE_CLOCK: Schedule = Schedule {
        week: [Some(Hours::ALL_DAY); 7],
        follows_holidays: false,
    };

    /// Monday to Friday, the same hours each day.
    pub fn weekdays(hours: Hours) -> Schedule {
        let mut week = [None; 7];
        week[..5].fill(Some(hours));
        Schedule {
            week,
            follows_holidays: true,
        }
    }
}

/// The city's calendar: its time zone, the contact centre's schedule (also
/// every executor's without one of its own), public holidays and moved
/// working days.
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    tz: Tz,
    centre: Schedule,
    executors: HashMap<String, Schedule>,
    /// Days off that would be working days by the week (with their names).
    holidays: BTreeMap<NaiveDate, String>,
    /// Days worked that would be off by the week (a Saturday worked in
    /// place of a bridge day), with their hours.
    working_days: BTreeMap<NaiveDate, Hours>,
}

impl Default for WorkingCalendar {
    /// Europe/Kyiv, Monday to Friday 08:00–17:00, no holidays.
    fn default() -> Self {
        WorkingCalendar {
            tz: chrono_tz::Europe::Kyiv,
            centre: Schedule::weekdays(Hours {
                start: 8 * 60,
                end: 17 * 60,
            }),
            executors: HashMap::new(),
            holidays: BTreeMap::new(),
            working_days: BTreeMap::new(),
        }
    }
}

/// The file as written (see `docs/lifecycle.md`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    #[serde(default = "default_time_zone")]
    time_zone: String,
    hours: WeekFile,
    #[serde(default)]
    holiday: Vec<HolidayFile>,
    #[serde(default)]
    working_day: Vec<WorkingDayFile>,
    #[serde(default)]
    executor: BTreeMap<String, WeekFile>,
}

fn default_time_zone() -> String {
    "Europe/Kyiv".to_string()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WeekFile {
    #[serde(default)]
    around_the_clock: bool,
    monday: Option<String>,
    tuesday: Option<String>,
    wednesday: Option<String>,
    thursday: Option<String>,
    friday: Option<String>,
    saturday: Option<String>,
    sunday: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayFile {
    date: NaiveDate,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkingDayFile {
    date: NaiveDate,
    hours: String,
    /// Why the day is worked: for the people who read the file.
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
}

impl WeekFile {
    fn schedule(&self) -> Result<Schedule, String> {
        let days = [
            &self.monday,
            &self.tuesday,
            &self.wednesday,
            &self.thursday,
            &self.friday,
            &self.saturday,
            &self.sunday,
        ];
        if self.around_the_clock {
            if days.iter().any(|d| d.is_some()) {
                return Err("around_the_clock and hours of a day both given".to_string());
            }
            return Ok(Schedule::AROUND_THE_CLOCK);
        }
        let mut week = [None; 7];
        for (slot, day) in week.iter_mut().zip(days) {
            *slot = day.as_deref().map(Hours::parse).transpose()?;
        }
        if week.iter().all(Option::is_none) {
            return Err("no working day in the week".to_string());
        }
        Ok(Schedule {
            week,
            follows_holidays: true,
        })
    }
}

impl WorkingCalendar {
    /// Reads and checks a calendar file; every problem is named with the
    /// file.
    pub fn load(path: &Path) -> Result<WorkingCalendar, CalendarError> {
        let text = std::fs::read_to_string(path).map_err(|source| CalendarError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| CalendarError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Reads a calendar from its text (what [`load`](Self::load) and the
    /// tests use).
    pub fn parse(text: &str) -> Result<WorkingCalendar, String> {
        let file: CalendarFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let tz: Tz = file
            .time_zone
            .parse()
            .map_err(|_| format!("unknown time zone {:?}", file.time_zone))?;
        let centre = file.hours.schedule().map_err(|e| format!("[hours]: {e}"))?;
        let mut executors = HashMap::new();
        for (code, week) in &file.executor {
            let schedule = week
                .schedule()
                .map_err(|e| format!("[executor.{code}]: {e}"))?;
            executors.insert(code.clone(), schedule);
        }
        let mut holidays = BTreeMap::new();
        for h in file.holiday {
            if h.name.trim().is_empty() {
                return Err(format!("holiday {} has no name", h.date));
            }
            if holidays.insert(h.date, h.name).is_some() {
                return Err(format!("holiday {} is listed twice", h.date));
            }
        }
        let mut working_days = BTreeMap::new();
        for w in file.working_day {
            let hours =
                Hours::parse(&w.hours).map_err(|e| format!("working day {}: {e}", w.date))?;
            if holidays.contains_key(&w.date) {
                return Err(format!("{} is both a holiday and a working day", w.date));
            }
            if working_days.insert(w.date, hours).is_some() {
                return Err(format!("working day {} is listed twice", w.date));
            }
        }
        Ok(WorkingCalendar {
            tz,
            centre,
            executors,
            holidays,
            working_days,
        })
    }

    /// The city's time zone.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// A moment on the city's clock.
    pub fn local(&self, at: DateTime<Utc>) -> DateTime<Tz> {
        at.with_timezone(&self.tz)
    }

    /// The year a moment falls in on the city's clock (registration numbers:
    /// a card filed at 00:30 on 1 January Kyiv time is the new year's).
    pub fn year(&self, at: DateTime<Utc>) -> i32 {
        self.local(at).year()
    }

    /// The day a moment falls on, on the city's clock.
    pub fn date(&self, at: DateTime<Utc>) -> NaiveDate {
        self.local(at).date_naive()
    }

    /// The contact centre's schedule.
    pub fn centre(&self) -> &Schedule {
        &self.centre
    }

    /// An executor's schedule: its own, or the contact centre's.
    pub fn executor(&self, code: &str) -> &Schedule {
        self.executors.get(code).unwrap_or(&self.centre)
    }

    /// The executors with a schedule of their own.
    pub fn executors_named(&self) -> impl Iterator<Item = &str> {
        self.executors.keys().map(String::as_str)
    }

    /// The holiday on `date`, if it is one.
    pub fn holiday(&self, date: NaiveDate) -> Option<&str> {
        self.holidays.get(&date).map(String::as_str)
    }

    /// The working hours of `date` for `who`, or `None` for a day off.
    pub fn hours(&self, who: &Schedule, date: NaiveDate) -> Option<Hours> {
        if who.follows_holidays {
            if self.holidays.contains_key(&date) {
                return None;
            }
            if let Some(hours) = self.working_days.get(&date) {
                return Some(*hours);
            }
        }
        who.week[date.weekday().num_days_from_monday() as usize]
    }

    /// Whether `date` is a working day for `who`.
    pub fn is_working_day(&self, who: &Schedule, date: NaiveDate) -> bool {
        self.hours(who, date).is_some()
    }

    /// The working period of `date` for `who` as moments, or `None`.
    fn period(&self, who: &Schedule, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let hours = self.hours(who, date)?;
        Some((self.moment(date, hours.start), self.moment(date, hours.end)))
    }

    /// The moment `minutes` after local midnight of `date`. Across a
    /// daylight-saving change: a time the clocks skip is taken an hour
    /// later, a time they repeat is the first of the two.
    pub fn moment(&self, date: NaiveDate, minutes: u16) -> DateTime<Utc> {
        let midnight = NaiveDateTime::new(date, NaiveTime::MIN);
        let wall = midnight + chrono::TimeDelta::minutes(i64::from(minutes));
        let local = self.tz.from_local_datetime(&wall).earliest().or_else(|| {
            self.tz
                .from_local_datetime(&(wall + chrono::TimeDelta::hours(1)))
                .earliest()
        });
        // Kyiv's clocks skip one hour at most; a wall time and the one an
        // hour later cannot both be skipped.
        local
            .map(|l| l.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&wall))
    }

    /// Whether `at` is within `who`'s working hours.
    pub fn is_working_time(&self, who: &Schedule, at: DateTime<Utc>) -> bool {
        let date = self.date(at);
        // A period that ends at 24:00 reaches into the next day's midnight;
        // yesterday's is looked at too for that reason.
        [date.pred_opt(), Some(date)]
            .into_iter()
            .flatten()
            .filter_map(|d| self.period(who, d))
            .any(|(start, end)| start <= at && at < end)
    }

    /// `at` itself if it is working time for `who`, else the start of the
    /// next working period: when a card filed at `at` reaches `who`.
    pub fn next_working_moment(&self, who: &Schedule, at: DateTime<Utc>) -> DateTime<Utc> {
        if self.is_working_time(who, at) {
            return at;
        }
        let today = self.date(at);
        (0..SEARCH_DAYS)
            .filter_map(|n| today.checked_add_days(Days::new(n)))
            .filter_map(|d| self.period(who, d))
            .map(|(start, _)| start)
            .find(|start| *start > at)
            .unwrap_or(at)
    }

    /// `at` itself if it falls within `hours` (local) of a working day of
    /// `who`, else the start of the next such window: when the contact
    /// centre may call a citizen (calling hours on its working days).
    pub fn next_moment_within(
        &self,
        who: &Schedule,
        hours: Hours,
        at: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let today = self.date(at);
        (0..SEARCH_DAYS)
            .filter_map(|n| today.checked_add_days(Days::new(n)))
            .filter(|d| self.is_working_day(who, *d))
            .map(|d| (self.moment(d, hours.start), self.moment(d, hours.end)))
            .find(|(_, end)| at < *end)
            .map(|(start, _)| start.max(at))
            .unwrap_or(at)
    }

    /// The end of the first working day of `who` that starts after the day
    /// of `at`: when something that arrived at `at` is due "by the end of
    /// the next working day" (a closure proposed on Friday evening, or on
    /// Friday at noon, is due by Monday's close; after a holiday Monday, by
    /// Tuesday's).
    pub fn end_of_next_working_day(&self, who: &Schedule, at: DateTime<Utc>) -> DateTime<Utc> {
        let today = self.date(at);
        (1..SEARCH_DAYS)
            .filter_map(|n| today.checked_add_days(Days::new(n)))
            .find_map(|d| self.period(who, d))
            .map(|(_, end)| end)
            .unwrap_or(at)
    }

    /// The working days of `who` from `from` to `to`, both included.
    pub fn working_days_between(&self, who: &Schedule, from: NaiveDate, to: NaiveDate) -> usize {
        from.iter_days()
            .take_while(|d| *d <= to)
            .filter(|d| self.is_working_day(who, *d))
            .count()
    }

    /// Checks that every executor with hours of its own is one the
    /// classifier knows; returns the unknown codes.
    pub fn unknown_executors<'a>(&'a self, known: &[&str]) -> Vec<&'a str> {
        let mut unknown: Vec<&str> = self
            .executors_named()
            .filter(|code| !known.contains(code))
            .collect();
        unknown.sort_unstable();
        unknown
    }
}

/// A Kyiv wall-clock time, "2026-12-02 11:00" (or with seconds), as a UTC
/// moment: for the tests of the rules that count the city's days.
#[cfg(test)]
pub(crate) fn kyiv(text: &str) -> DateTime<Utc> {
    let wall = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"))
        .expect("a time");
    chrono_tz::Europe::Kyiv
        .from_local_datetime(&wall)
        .single()
        .expect("not at a clock change")
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026 as a Kyiv office would work it, with one holiday on a Monday
    /// and one moved day.
    const SAMPLE: &str = r#"
        time_zone = "Europe/Kyiv"
        [hours]
        monday = "08:00-17:00"
        tuesday = "08:00-17:00"
        wednesday = "08:00-17:00"
        thursday = "08:00-17:00"
        friday = "08:00-15:45"

        [[holiday]]
        date = "2026-06-01"
        name = "Трійця (перенесено)"

        [[holiday]]
        date = "2026-01-01"
        name = "Новий рік"

        [[working_day]]
        date = "2026-06-06"
        hours = "09:00-13:00"
        name = "робоча субота замість 1 червня"

        [executor.vodokanal]
        around_the_clock = true

        [executor.cnap]
        monday = "09:00-20:00"
        saturday = "09:00-16:00"
    "#;

    fn calendar() -> WorkingCalendar {
        WorkingCalendar::parse(SAMPLE).expect("the sample parses")
    }

    #[test]
    fn the_year_and_day_are_kyivs_not_utcs() {
        let cal = calendar();
        // 00:30 on 1 January in Kyiv is 22:30 on 31 December UTC.
        let at = kyiv("2027-01-01 00:30:00");
        assert_eq!(at.year(), 2026);
        assert_eq!(cal.year(at), 2027);
        assert_eq!(
            cal.date(at),
            NaiveDate::from_ymd_opt(2027, 1, 1).expect("a date")
        );
        // Summer time: UTC+3.
        assert_eq!(
            kyiv("2026-07-01 02:59:59").to_rfc3339(),
            "2026-06-30T23:59:59+00:00"
        );
    }

    #[test]
    fn working_time_follows_the_week_the_holidays_and_moved_days() {
        let cal = calendar();
        let centre = cal.centre().clone();
        assert!(cal.is_working_time(&centre, kyiv("2026-12-04 08:00:00")));
        assert!(cal.is_working_time(&centre, kyiv("2026-12-04 15:44:59")));
        assert!(
            !cal.is_working_time(&centre, kyiv("2026-12-04 15:45:00")),
            "Friday ends early"
        );
        assert!(!cal.is_working_time(&centre, kyiv("2026-12-03 07:59:59")));
        assert!(
            !cal.is_working_time(&centre, kyiv("2026-12-05 10:00:00")),
            "Saturday"
        );
        assert!(
            !cal.is_working_time(&centre, kyiv("2026-06-01 10:00:00")),
            "a holiday Monday"
        );
        assert!(
            cal.is_working_time(&centre, kyiv("2026-06-06 10:00:00")),
            "a moved Saturday"
        );
        assert!(!cal.is_working_time(&centre, kyiv("2026-06-06 13:00:00")));
        assert_eq!(
            cal.holiday(NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date")),
            Some("Новий рік")
        );
        // An around-the-clock service works on holidays and at night.
        let vodokanal = cal.executor("vodokanal").clone();
        assert!(cal.is_working_time(&vodokanal, kyiv("2026-06-01 03:00:00")));
        assert!(cal.is_working_time(&vodokanal, kyiv("2026-12-05 23:59:59")));
        // One with its own week; an unknown code has the centre's.
        let cnap = cal.executor("cnap").clone();
        assert!(cal.is_working_time(&cnap, kyiv("2026-12-05 15:00:00")));
        assert!(
            !cal.is_working_time(&cnap, kyiv("2026-12-08 10:00:00")),
            "cnap is off on Tuesday"
        );
        assert_eq!(cal.executor("nobody"), &centre);
    }

    #[test]
    fn a_card_filed_at_night_reaches_the_executor_when_work_starts() {
        let cal = calendar();
        let centre = cal.centre().clone();
        let at = kyiv("2026-12-04 10:00:00");
        assert_eq!(
            cal.next_working_moment(&centre, at),
            at,
            "within hours: at once"
        );
        assert_eq!(
            cal.next_working_moment(&centre, kyiv("2026-12-04 19:30:00")),
            kyiv("2026-12-07 08:00:00"),
            "Friday evening: Monday morning"
        );
        assert_eq!(
            cal.next_working_moment(&centre, kyiv("2026-05-29 20:00:00")),
            kyiv("2026-06-02 08:00:00"),
            "over a holiday Monday"
        );
        assert_eq!(
            cal.next_working_moment(&centre, kyiv("2026-06-05 20:00:00")),
            kyiv("2026-06-06 09:00:00"),
            "onto a moved Saturday"
        );
        let vodokanal = cal.executor("vodokanal").clone();
        let night = kyiv("2026-12-05 03:00:00");
        assert_eq!(cal.next_working_moment(&vodokanal, night), night);
    }

    #[test]
    fn a_proposal_on_friday_evening_is_due_on_monday_or_after_the_holiday() {
        let cal = calendar();
        let centre = cal.centre().clone();
        assert_eq!(
            cal.end_of_next_working_day(&centre, kyiv("2026-12-04 18:30:00")),
            kyiv("2026-12-07 17:00:00")
        );
        assert_eq!(
            cal.end_of_next_working_day(&centre, kyiv("2026-12-04 11:00:00")),
            kyiv("2026-12-07 17:00:00"),
            "within Friday's hours too"
        );
        assert_eq!(
            cal.end_of_next_working_day(&centre, kyiv("2026-05-29 18:30:00")),
            kyiv("2026-06-02 17:00:00"),
            "Monday 1 June is a holiday"
        );
        assert_eq!(
            cal.end_of_next_working_day(&centre, kyiv("2026-06-05 18:30:00")),
            kyiv("2026-06-06 13:00:00"),
            "the moved Saturday counts"
        );
        assert_eq!(
            cal.working_days_between(
                &centre,
                NaiveDate::from_ymd_opt(2026, 6, 1).expect("a date"),
                NaiveDate::from_ymd_opt(2026, 6, 7).expect("a date"),
            ),
            5,
            "Tue-Fri and the moved Saturday"
        );
    }

    #[test]
    fn hours_follow_the_clock_across_daylight_saving() {
        let cal = calendar();
        let centre = cal.centre().clone();
        // Kyiv moves to summer time on the last Sunday of March (29 March
        // 2026): Friday's close is UTC+2, Monday's open UTC+3.
        assert_eq!(
            cal.next_working_moment(&centre, kyiv("2026-03-27 16:00:00"))
                .to_rfc3339(),
            "2026-03-30T05:00:00+00:00"
        );
        assert_eq!(
            cal.end_of_next_working_day(&centre, kyiv("2026-03-27 16:00:00"))
                .to_rfc3339(),
            "2026-03-30T14:00:00+00:00"
        );
        // Around the clock: the skipped hour does not break the day.
        let vodokanal = cal.executor("vodokanal").clone();
        let spring = Utc
            .with_ymd_and_hms(2026, 3, 29, 1, 30, 0)
            .single()
            .expect("a moment");
        assert!(cal.is_working_time(&vodokanal, spring));
        // Back to winter time on 25 October: 03:30 happens twice; a
        // period starting then begins at the first.
        assert_eq!(
            cal.moment(
                NaiveDate::from_ymd_opt(2026, 10, 25).expect("a date"),
                3 * 60 + 30
            )
            .to_rfc3339(),
            "2026-10-25T00:30:00+00:00"
        );
        assert_eq!(
            cal.moment(
                NaiveDate::from_ymd_opt(2026, 3, 29).expect("a date"),
                3 * 60 + 30
            )
            .to_rfc3339(),
            "2026-03-29T01:30:00+00:00",
            "03:30 does not exist that day: 04:30 summer time"
        );
    }

    #[test]
    fn the_shipped_calendar_and_its_switched_off_holidays_parse() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_PATH);
        let shipped = WorkingCalendar::load(&path).expect("the shipped calendar");
        assert_eq!(shipped.executor("vodokanal"), &Schedule::AROUND_THE_CLOCK);
        // The holidays, switched on, parse too and fall on weekdays.
        let text = std::fs::read_to_string(&path).expect("read");
        let on: String = text
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|r| r.starts_with("[[") || r.contains(" = "))
                    .unwrap_or(l)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let switched_on = WorkingCalendar::parse(&on).expect("with the holidays");
        assert_eq!(switched_on.holidays.len(), 11);
        for date in switched_on.holidays.keys() {
            assert!(
                shipped.is_working_day(shipped.centre(), *date),
                "{date} is a weekday"
            );
        }
    }

    #[test]
    fn a_bad_file_says_what_is_wrong() {
        let cases = [
            ("[hours]\nmonday = \"8-17\"", "is not working hours"),
            ("[hours]\nmonday = \"17:00-08:00\"", "end before they start"),
            ("[hours]\nmonday = \"08:00-25:00\"", "is not working hours"),
            ("[hours]\n", "no working day in the week"),
            (
                "time_zone = \"Europe/Kiev2\"\n[hours]\nmonday = \"08:00-17:00\"",
                "unknown time zone",
            ),
            (
                "[hours]\nmonday = \"08:00-17:00\"\nmondya = \"x\"",
                "unknown field",
            ),
            (
                "[hours]\nmonday = \"08:00-17:00\"\n[[holiday]]\ndate = \"2026-01-01\"\nname = \"a\"\n[[holiday]]\ndate = \"2026-01-01\"\nname = \"b\"",
                "listed twice",
            ),
            (
                "[hours]\nmonday = \"08:00-17:00\"\n[executor.x]\naround_the_clock = true\nmonday = \"08:00-17:00\"",
                "[executor.x]: around_the_clock and hours",
            ),
        ];
        for (text, expected) in cases {
            let err = WorkingCalendar::parse(text).expect_err(text);
            assert!(err.contains(expected), "{text:?}: {err}");
        }
        assert_eq!(calendar().unknown_executors(&["cnap"]), vec!["vodokanal"]);
        assert_eq!(Hours::parse("00:00-24:00"), Ok(Hours::ALL_DAY));
        assert_eq!(Hours::ALL_DAY.to_string(), "00:00-24:00");
    }
}
