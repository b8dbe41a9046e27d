//! The call figures per city day, counted once the day is over, so that a
//! month's or a year's calls report adds up a row set per day instead of
//! reading millions of queue events (docs/reports.md, "Speed").
//!
//! Plain code: which days may be counted, and how a period splits into
//! the counted days and the runs of days still read from the events. The
//! store (`report::store`) counts and keeps the days; `report::build`
//! puts the two together.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::calls::{CallTally, HourRow, QueueRow, WrapUpRow};
use super::period::Period;

/// How long after its end a day's figures may still change: a call that
/// began before midnight ends after it (its talk time counts when it
/// ends), and a wrap-up that began before midnight ends after it.
pub const SETTLING: Duration = Duration::days(1);

/// The call figures of a stretch of time, as the store counts them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayFigures {
    pub queues: Vec<QueueRow>,
    pub wrap_ups: Vec<WrapUpRow>,
    pub hours: Vec<HourRow>,
    pub lookups: u64,
    pub outages: u64,
}

impl DayFigures {
    /// Counts them into `tally` (every figure adds up).
    pub fn feed(&self, tally: &mut CallTally) {
        for row in &self.queues {
            tally.queue(row);
        }
        for row in &self.wrap_ups {
            tally.wrap_up(row);
        }
        for row in &self.hours {
            tally.hour(row);
        }
        tally.self_service(self.lookups, self.outages);
    }
}

/// Whether a day that ends at `day_end` may be counted at `now`: it has
/// settled, and no call that arrived before its end is still going (a
/// call's talk time is known when it ends).
pub fn settled(day_end: DateTime<Utc>, now: DateTime<Utc>, calls_going: bool) -> bool {
    now >= day_end + SETTLING && !calls_going
}

/// How `period` is read: the days already `counted`, and the runs of
/// consecutive days that are not, as periods, oldest first.
pub fn split(period: Period, counted: &BTreeSet<NaiveDate>) -> (Vec<NaiveDate>, Vec<Period>) {
    let mut done = Vec::new();
    let mut runs: Vec<Period> = Vec::new();
    let mut run: Option<(NaiveDate, NaiveDate)> = None;
    for day in period.dates() {
        if counted.contains(&day) {
            done.push(day);
            if let Some((first, last)) = run.take() {
                runs.extend(Period::new(first, last).ok());
            }
        } else {
            run = Some(match run {
                Some((first, _)) => (first, day),
                None => (day, day),
            });
        }
    }
    if let Some((first, last)) = run {
        runs.extend(Period::new(first, last).ok());
    }
    (done, runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    #[test]
    fn a_period_splits_into_counted_days_and_runs_of_the_others() {
        let november = Period::new(d(1), d(30)).unwrap();
        let counted: BTreeSet<NaiveDate> = (1..=28).filter(|&n| n != 10).map(d).collect();
        let (done, runs) = split(november, &counted);
        assert_eq!(done.len(), 27);
        assert_eq!(
            runs,
            vec![
                Period::new(d(10), d(10)).unwrap(),
                Period::new(d(29), d(30)).unwrap()
            ]
        );
        let (done, runs) = split(november, &BTreeSet::new());
        assert!(done.is_empty());
        assert_eq!(runs, vec![november]);
        let all: BTreeSet<NaiveDate> = november.dates().collect();
        assert_eq!(split(november, &all), (all.into_iter().collect(), vec![]));
    }

    #[test]
    fn a_day_is_counted_a_day_after_it_ends_and_when_its_calls_have_ended() {
        let end = Utc.with_ymd_and_hms(2026, 11, 30, 22, 0, 0).unwrap();
        assert!(!settled(end, end + Duration::hours(23), false));
        assert!(settled(end, end + Duration::hours(24), false));
        assert!(
            !settled(end, end + Duration::days(3), true),
            "a call still going"
        );
    }
}
