//! The contact centre's call figures for a period: per queue, per operator
//! and in total; calls by hour of the day and by weekday and hour, on the
//! city's clock.
//!
//! Plain code: the store counts the period's queue events, wrap-up
//! episodes and calls per hour in the database ([`QueueRow`],
//! [`WrapUpRow`], [`HourRow`]) and [`CallTally`] turns them into figures.
//! The definitions (service level, abandon rate…) are here and in
//! `docs/reports.md`.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::indicators::percent;
use crate::store::QueueEventKind;

/// What a queue row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueOutcome {
    /// The caller entered the queue: a call offered to it.
    Joined,
    /// The queue would not take the caller (full, nobody logged in).
    Refused,
    Answered,
    /// The caller hung up while waiting.
    Abandoned,
    /// Sent elsewhere, or left another way (a timeout, a key).
    Left,
}

impl QueueOutcome {
    /// The outcome a queue event stands for; `None` for the events that
    /// are not one (ringing, a place in line).
    pub fn of(kind: QueueEventKind) -> Option<QueueOutcome> {
        use QueueEventKind as K;
        match kind {
            K::Joined => Some(QueueOutcome::Joined),
            K::Refused => Some(QueueOutcome::Refused),
            K::Answered => Some(QueueOutcome::Answered),
            K::Abandoned => Some(QueueOutcome::Abandoned),
            K::Transferred | K::Left => Some(QueueOutcome::Left),
            K::Ringing | K::Position => None,
        }
    }

    /// The event kind the outcome is written as (a transfer as left).
    pub fn kind(self) -> QueueEventKind {
        use QueueEventKind as K;
        match self {
            QueueOutcome::Joined => K::Joined,
            QueueOutcome::Refused => K::Refused,
            QueueOutcome::Answered => K::Answered,
            QueueOutcome::Abandoned => K::Abandoned,
            QueueOutcome::Left => K::Left,
        }
    }
}

/// Queue events of one kind, of one queue and operator, with the wait
/// within the service level's threshold or beyond it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRow {
    pub queue: String,
    /// The operator who answered (answered rows only).
    pub operator: Option<String>,
    pub outcome: QueueOutcome,
    /// Waited at most the threshold (answered and abandoned rows).
    pub within_threshold: bool,
    pub count: u64,
    /// Sum of the waits, in milliseconds.
    pub wait_ms: u64,
    /// Sum of the talk times of answered rows, in seconds: from the answer
    /// to the end of the call, or to the caller's transfer to a queue.
    pub talk_secs: u64,
}

/// One operator's wrap-up episodes in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapUpRow {
    pub operator: String,
    pub count: u64,
    pub secs: u64,
}

/// Inbound calls that arrived in one hour (UTC, whole hour).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourRow {
    pub hour: DateTime<Utc>,
    pub calls: u64,
    /// Of them, from blocked numbers (turned away).
    pub blocked: u64,
}

/// The figures of one queue, one operator or all.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallFigures {
    /// Callers who entered a queue.
    pub offered: u64,
    /// Callers the queue would not take.
    pub refused: u64,
    pub answered: u64,
    /// Answered after waiting at most the threshold (20 s by default).
    pub answered_within: u64,
    pub abandoned: u64,
    /// Abandoned after waiting longer than the threshold: only these count
    /// against the service level (a caller who gives up within it was
    /// never kept waiting too long).
    pub abandoned_after: u64,
    /// Left the queue another way (transferred, a timeout, a key).
    pub left: u64,
    wait_ms_answered: u64,
    talk_secs: u64,
    wrap_ups: u64,
    wrap_up_secs: u64,
}

impl CallFigures {
    /// Answered within the threshold, of the callers answered or abandoned
    /// after it, in per cent.
    pub fn service_level_pct(&self) -> Option<f64> {
        percent(self.answered_within, self.answered + self.abandoned_after)
    }

    /// Abandoned, of the callers offered, in per cent.
    pub fn abandon_pct(&self) -> Option<f64> {
        percent(self.abandoned, self.offered)
    }

    /// Mean wait of the answered callers, in whole seconds.
    pub fn mean_wait_secs(&self) -> Option<u64> {
        (self.answered > 0).then(|| self.wait_ms_answered / self.answered / 1000)
    }

    /// Mean talk time of the answered calls, in whole seconds.
    pub fn mean_talk_secs(&self) -> Option<u64> {
        (self.answered > 0).then(|| self.talk_secs / self.answered)
    }

    /// Mean length of a wrap-up after a call, in whole seconds.
    pub fn mean_wrap_up_secs(&self) -> Option<u64> {
        (self.wrap_ups > 0).then(|| self.wrap_up_secs / self.wrap_ups)
    }

    fn add(&mut self, row: &QueueRow) {
        match row.outcome {
            QueueOutcome::Joined => self.offered += row.count,
            QueueOutcome::Refused => self.refused += row.count,
            QueueOutcome::Left => self.left += row.count,
            QueueOutcome::Answered => {
                self.answered += row.count;
                if row.within_threshold {
                    self.answered_within += row.count;
                }
                self.wait_ms_answered += row.wait_ms;
                self.talk_secs += row.talk_secs;
            }
            QueueOutcome::Abandoned => {
                self.abandoned += row.count;
                if !row.within_threshold {
                    self.abandoned_after += row.count;
                }
            }
        }
    }

    fn add_wrap_ups(&mut self, row: &WrapUpRow) {
        self.wrap_ups += row.count;
        self.wrap_up_secs += row.secs;
    }
}

/// The period's call figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallReport {
    pub total: CallFigures,
    pub by_queue: BTreeMap<String, CallFigures>,
    pub by_operator: BTreeMap<String, CallFigures>,
    /// Inbound calls that arrived, and of them from blocked numbers.
    pub calls: u64,
    pub blocked: u64,
    /// Callers who heard an appeal's status read out by the voice menu, or
    /// the outages at their address or in the city: served without an
    /// operator.
    pub status_lookups: u64,
    pub outage_announcements: u64,
    /// Inbound calls by the hour of the day they arrived (0–23, the city's
    /// clock).
    pub by_hour: [u64; 24],
    /// Inbound calls by weekday (Monday first) and hour.
    pub by_weekday_hour: [[u64; 24]; 7],
    /// Inbound calls by day.
    pub by_day: BTreeMap<NaiveDate, u64>,
}

/// Adds up the store's rows into a [`CallReport`].
#[derive(Debug)]
pub struct CallTally {
    tz: Tz,
    report: CallReport,
}

impl CallTally {
    pub fn new(tz: Tz) -> CallTally {
        CallTally {
            tz,
            report: CallReport::default(),
        }
    }

    pub fn queue(&mut self, row: &QueueRow) {
        let r = &mut self.report;
        r.total.add(row);
        r.by_queue.entry(row.queue.clone()).or_default().add(row);
        if let Some(operator) = &row.operator {
            r.by_operator.entry(operator.clone()).or_default().add(row);
        }
    }

    pub fn wrap_up(&mut self, row: &WrapUpRow) {
        let r = &mut self.report;
        r.total.add_wrap_ups(row);
        r.by_operator
            .entry(row.operator.clone())
            .or_default()
            .add_wrap_ups(row);
    }

    /// Counts an hour's calls where they fall on the city's clock: Kyiv's
    /// offsets are whole hours, so a UTC hour is one local hour.
    pub fn hour(&mut self, row: &HourRow) {
        let local = row.hour.with_timezone(&self.tz);
        let r = &mut self.report;
        r.calls += row.calls;
        r.blocked += row.blocked;
        let hour = local.hour() as usize;
        r.by_hour[hour] += row.calls;
        r.by_weekday_hour[local.weekday().num_days_from_monday() as usize][hour] += row.calls;
        *r.by_day.entry(local.date_naive()).or_default() += row.calls;
    }

    pub fn self_service(&mut self, status_lookups: u64, outage_announcements: u64) {
        self.report.status_lookups += status_lookups;
        self.report.outage_announcements += outage_announcements;
    }

    pub fn finish(self) -> CallReport {
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_outcome_is_kept_as_the_event_it_is_read_back_from() {
        for kind in QueueEventKind::ALL {
            if let Some(outcome) = QueueOutcome::of(*kind) {
                assert_eq!(QueueOutcome::of(outcome.kind()), Some(outcome), "{kind}");
            }
        }
        assert_eq!(
            QueueOutcome::of(QueueEventKind::Transferred),
            Some(QueueOutcome::Left)
        );
        assert_eq!(QueueOutcome::of(QueueEventKind::Ringing), None);
    }

    fn row(outcome: QueueOutcome, within: bool, count: u64) -> QueueRow {
        QueueRow {
            queue: "general".into(),
            operator: (outcome == QueueOutcome::Answered).then(|| "olena".into()),
            outcome,
            within_threshold: within,
            count,
            wait_ms: 0,
            talk_secs: 0,
        }
    }

    #[test]
    fn a_caller_who_gives_up_within_the_threshold_does_not_count_against_the_service_level() {
        let mut tally = CallTally::new(chrono_tz::Europe::Kyiv);
        tally.queue(&row(QueueOutcome::Joined, false, 4));
        tally.queue(&QueueRow {
            wait_ms: 5_000 + 25_000,
            talk_secs: 60 + 120,
            ..row(QueueOutcome::Answered, true, 1)
        });
        tally.queue(&QueueRow {
            wait_ms: 25_000,
            ..row(QueueOutcome::Answered, false, 1)
        });
        // Abandoned after 19 s (within 20) and after 21 s (beyond).
        tally.queue(&row(QueueOutcome::Abandoned, true, 1));
        tally.queue(&row(QueueOutcome::Abandoned, false, 1));
        let r = tally.finish();
        let g = &r.by_queue["general"];
        assert_eq!((g.offered, g.answered, g.abandoned), (4, 2, 2));
        assert_eq!(g.abandon_pct(), Some(50.0));
        // 1 within 20 s of (2 answered + 1 abandoned after 20 s).
        let sl = g.service_level_pct().expect("a service level");
        assert!((sl - 100.0 / 3.0).abs() < 1e-9, "{sl}");
        assert_eq!(g.mean_wait_secs(), Some(27));
        assert_eq!(r.by_operator["olena"].answered, 2);
        assert_eq!(r.by_operator["olena"].offered, 0, "offers are the queue's");
    }

    #[test]
    fn hours_fall_on_the_citys_clock_across_the_autumn_change() {
        let mut tally = CallTally::new(chrono_tz::Europe::Kyiv);
        // 25 October 2026: 00:00 UTC is 03:00 summer time; 01:00 UTC is
        // 03:00 again, winter time; 22:00 UTC is midnight of Monday.
        for (h, calls) in [(0, 2), (1, 3), (22, 5)] {
            tally.hour(&HourRow {
                hour: Utc
                    .with_ymd_and_hms(2026, 10, 25, h, 0, 0)
                    .single()
                    .expect("a time"),
                calls,
                blocked: 1,
            });
        }
        let r = tally.finish();
        assert_eq!(r.by_hour[3], 5, "both 3 o'clocks");
        assert_eq!(r.by_hour[0], 5);
        assert_eq!(r.by_weekday_hour[6][3], 5, "Sunday");
        assert_eq!(r.by_weekday_hour[0][0], 5, "Monday");
        assert_eq!((r.calls, r.blocked), (10, 3));
        let sunday = NaiveDate::from_ymd_opt(2026, 10, 25).expect("a date");
        assert_eq!(r.by_day[&sunday], 5);
    }

    #[test]
    fn wrap_ups_are_averaged_per_operator() {
        let mut tally = CallTally::new(chrono_tz::Europe::Kyiv);
        tally.wrap_up(&WrapUpRow {
            operator: "olena".into(),
            count: 4,
            secs: 130,
        });
        let r = tally.finish();
        assert_eq!(r.by_operator["olena"].mean_wrap_up_secs(), Some(32));
        assert_eq!(r.total.mean_wrap_up_secs(), Some(32));
        assert_eq!(r.total.mean_talk_secs(), None);
    }
}
