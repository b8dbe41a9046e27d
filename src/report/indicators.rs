//! The regulation's indicators of appeals (000 §4.1): for a period, per
//! executor, per category, per section and per channel, and in total.
//!
//! Plain code: the store hands in the period's cards already counted by
//! group ([`CardCount`], one executor, category and channel each; a year
//! of a large city is a million cards, too many to carry one by one) and
//! the counted steps of the cards' histories ([`StepCount`]); [`Tally`]
//! adds them up; nothing here reads a clock or a database. Which cards
//! each count holds is written on its variant, and in `docs/reports.md`;
//! the store asks the database for exactly that ([`ON_THE_EXECUTOR`] is
//! the one list of states it takes from here).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::appeal::record::AppealStatus;

/// The groups a count belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The lead executor's code.
    pub executor: String,
    /// The classifier's issue type and section; `None` for a card filed
    /// without a category (the contact centre's triage).
    pub category: Option<String>,
    pub section: Option<String>,
    /// Where it came from: phone, web, chatbot, email, relay…
    pub channel: String,
}

/// Cards of one [`Group`] the period touches, counted by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardCount {
    /// Registered in the period; `repeats` of them registered as repeats
    /// of an earlier appeal.
    Received { count: u64, repeats: u64 },
    /// Closed in the period (not "not to be considered"): `on_time` of
    /// them with the work finished by the deadline, to the second (the
    /// accepted closure proposal,
    /// [`crate::appeal::lifecycle::Card::resolved_at`]; a card closed
    /// without one, by its closing moment), `late` after it. One time from
    /// registration to closure per card, in seconds.
    Closed {
        on_time: u64,
        late: u64,
        close_secs: Vec<u64>,
    },
    /// Not closed now, whenever registered; `overdue` of them past the
    /// deadline and waiting on the executor (one of [`ON_THE_EXECUTOR`]),
    /// not on the contact centre's decision or the citizen's answer.
    Open { count: u64, overdue: u64 },
}

/// States in which the deadline runs on the executor (docs/lifecycle.md:
/// while a closure proposal or the citizen's answer is awaited, it waits
/// on the contact centre).
pub const ON_THE_EXECUTOR: [AppealStatus; 5] = [
    AppealStatus::Registered,
    AppealStatus::Delivered,
    AppealStatus::InProgress,
    AppealStatus::Rework,
    AppealStatus::LongTerm,
];

/// A kind of step of a card's life that reports count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    ExtensionAsked,
    ExtensionGranted,
    MovedToLongTerm,
    /// The citizen was asked and said the work was done.
    Confirmed,
    /// The citizen was asked and said it was not.
    NotConfirmed,
}

/// How many steps of one kind cards of one group took in the period
/// (counted by the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepCount {
    pub group: Group,
    pub step: Step,
    pub count: u64,
}

/// The indicators of one group of cards.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Indicators {
    /// Registered in the period.
    pub received: u64,
    /// Closed in the period with the work finished by the deadline
    /// (`resolved_at <= deadline`; a card closed without a proposal by its
    /// closing moment).
    pub closed_on_time: u64,
    /// Closed in the period with the work finished after the deadline.
    pub closed_late: u64,
    /// Not closed now, whenever registered.
    pub open_now: u64,
    /// Not closed now, the deadline past, and waiting on the executor (not
    /// on the contact centre's decision or the citizen's answer).
    pub overdue_now: u64,
    /// Extensions asked for in the period, and granted.
    pub extensions_asked: u64,
    pub extensions_granted: u64,
    /// Moved to the socio-economic development plan in the period.
    pub moved_to_long_term: u64,
    /// Citizens who answered the verification in the period, and of them
    /// those who confirmed the work.
    pub verified: u64,
    pub confirmed: u64,
    /// Registered in the period as repeats of an earlier appeal.
    pub repeats: u64,
    /// Time from registration to closure of the cards closed in the
    /// period, in seconds (for the mean and the 90th percentile).
    #[serde(skip)]
    close_secs: Vec<u64>,
}

impl Indicators {
    /// Closed in the period, on time or late.
    pub fn closed(&self) -> u64 {
        self.closed_on_time + self.closed_late
    }

    /// The share of the period's closures done on time, in per cent.
    pub fn on_time_pct(&self) -> Option<f64> {
        percent(self.closed_on_time, self.closed())
    }

    /// The share of answered verifications that confirmed the work, in
    /// per cent (the control rule's 80 % line).
    pub fn confirmation_pct(&self) -> Option<f64> {
        percent(self.confirmed, self.verified)
    }

    /// Mean time from registration to closure, in whole seconds.
    pub fn mean_close_secs(&self) -> Option<u64> {
        let n = self.close_secs.len() as u64;
        (n > 0).then(|| self.close_secs.iter().sum::<u64>() / n)
    }

    /// The 90th percentile of the time to closure, by the nearest-rank
    /// method: the smallest time that at least 90 % of the closures took
    /// no longer than.
    pub fn p90_close_secs(&self) -> Option<u64> {
        nearest_rank(&self.close_secs, 90)
    }

    fn add_cards(&mut self, count: &CardCount) {
        match count {
            CardCount::Received { count, repeats } => {
                self.received += count;
                self.repeats += repeats;
            }
            CardCount::Closed {
                on_time,
                late,
                close_secs,
            } => {
                self.closed_on_time += on_time;
                self.closed_late += late;
                self.close_secs.extend_from_slice(close_secs);
            }
            CardCount::Open { count, overdue } => {
                self.open_now += count;
                self.overdue_now += overdue;
            }
        }
    }

    fn add_steps(&mut self, step: Step, count: u64) {
        let field = match step {
            Step::ExtensionAsked => &mut self.extensions_asked,
            Step::ExtensionGranted => &mut self.extensions_granted,
            Step::MovedToLongTerm => &mut self.moved_to_long_term,
            Step::Confirmed => {
                self.verified += count;
                &mut self.confirmed
            }
            Step::NotConfirmed => &mut self.verified,
        };
        *field += count;
    }

    /// Whether nothing at all was counted.
    pub fn is_empty(&self) -> bool {
        *self == Indicators::default()
    }
}

/// `part` of `whole` in per cent; `None` of nothing.
pub fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// The nearest-rank `pct`th percentile of `values` (in any order).
pub fn nearest_rank(values: &[u64], pct: u64) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    let rank = (values.len() as u64 * pct).div_ceil(100).max(1) as usize;
    let (_, nth, _) = sorted.select_nth_unstable(rank - 1);
    Some(*nth)
}

/// The indicators of a period, in total and by each grouping.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Breakdown {
    pub total: Indicators,
    pub by_executor: BTreeMap<String, Indicators>,
    /// By issue type code; cards without one under "".
    pub by_category: BTreeMap<String, Indicators>,
    /// By section code; cards without one under "".
    pub by_section: BTreeMap<String, Indicators>,
    pub by_channel: BTreeMap<String, Indicators>,
    /// Cards registered on each day of the period (the city's days).
    pub received_by_day: BTreeMap<NaiveDate, u64>,
}

/// Adds up cards and steps into a [`Breakdown`].
#[derive(Debug)]
pub struct Tally {
    tz: Tz,
    /// Count only this executor's cards (an executor's own report).
    only: Option<String>,
    breakdown: Breakdown,
}

impl Tally {
    /// Days counted in `tz`.
    pub fn new(tz: Tz) -> Tally {
        Tally {
            tz,
            only: None,
            breakdown: Breakdown::default(),
        }
    }

    /// Counts only the cards and steps of `executor`.
    pub fn only(mut self, executor: Option<&str>) -> Tally {
        self.only = executor.map(str::to_string);
        self
    }

    fn counts(&self, executor: &str) -> bool {
        self.only.as_deref().is_none_or(|only| only == executor)
    }

    /// Counts cards of one group (each card once per variant).
    pub fn cards(&mut self, group: &Group, count: &CardCount) {
        if !self.counts(&group.executor) {
            return;
        }
        for indicators in self.groups(group) {
            indicators.add_cards(count);
        }
    }

    /// Counts `count` cards registered in the hour that begins at `hour`
    /// (UTC; of the counted executor's, if only one is) on the city's day
    /// it falls on. The city's offset from UTC is whole hours, so an hour
    /// never straddles two days.
    pub fn received_in_hour(&mut self, hour: DateTime<Utc>, count: u64) {
        let day = hour.with_timezone(&self.tz).date_naive();
        *self.breakdown.received_by_day.entry(day).or_default() += count;
    }

    /// Counts steps taken in the period.
    pub fn steps(&mut self, count: &StepCount) {
        if !self.counts(&count.group.executor) {
            return;
        }
        for indicators in self.groups(&count.group) {
            indicators.add_steps(count.step, count.count);
        }
    }

    pub fn finish(self) -> Breakdown {
        let mut breakdown = self.breakdown;
        // Groups that a card touched only as "open now" stay: an
        // executor with open cards and nothing new is still reported.
        for map in [
            &mut breakdown.by_executor,
            &mut breakdown.by_category,
            &mut breakdown.by_section,
            &mut breakdown.by_channel,
        ] {
            map.retain(|_, i| !i.is_empty());
        }
        breakdown
    }

    fn groups<'a>(&'a mut self, group: &Group) -> [&'a mut Indicators; 5] {
        let b = &mut self.breakdown;
        [
            &mut b.total,
            b.by_executor.entry(group.executor.clone()).or_default(),
            b.by_category
                .entry(group.category.clone().unwrap_or_default())
                .or_default(),
            b.by_section
                .entry(group.section.clone().unwrap_or_default())
                .or_default(),
            b.by_channel.entry(group.channel.clone()).or_default(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const KYIV: Tz = chrono_tz::Europe::Kyiv;

    fn group(executor: &str, category: Option<&str>, channel: &str) -> Group {
        Group {
            executor: executor.into(),
            category: category.map(str::to_string),
            section: category.map(|c| c[..1].to_string()),
            channel: channel.into(),
        }
    }

    fn closed(on_time: u64, close_secs: &[u64]) -> CardCount {
        CardCount::Closed {
            on_time,
            late: close_secs.len() as u64 - on_time,
            close_secs: close_secs.to_vec(),
        }
    }

    #[test]
    fn closures_of_several_groups_add_up_with_one_mean_and_one_percentile() {
        let mut tally = Tally::new(KYIV);
        let hour = 3600;
        let phone = group("vodokanal", Some("101"), "phone");
        let web = group("vodokanal", Some("102"), "web");
        tally.cards(&phone, &closed(2, &[10 * hour, 90 * hour, 20 * hour]));
        tally.cards(&web, &closed(1, &[30 * hour]));
        let b = tally.finish();
        let v = &b.by_executor["vodokanal"];
        assert_eq!((v.closed_on_time, v.closed_late, v.closed()), (3, 1, 4));
        assert_eq!(v.on_time_pct(), Some(75.0));
        assert_eq!(v.mean_close_secs(), Some(150 * hour / 4));
        assert_eq!(
            v.p90_close_secs(),
            Some(90 * hour),
            "rank ceil(3.6) = 4 of the four, across both groups"
        );
        let p = &b.by_channel["phone"];
        assert_eq!((p.closed(), p.p90_close_secs()), (3, Some(90 * hour)));
        assert_eq!(b.by_category["102"].mean_close_secs(), Some(30 * hour));
        assert_eq!(b.by_section["1"], *v);
        assert_eq!(b.total, *v);
    }

    #[test]
    fn open_cards_count_as_open_and_the_overdue_among_them() {
        let mut tally = Tally::new(KYIV);
        let teplo = group("teplo", Some("201"), "phone");
        tally.cards(
            &teplo,
            &CardCount::Open {
                count: 5,
                overdue: 2,
            },
        );
        tally.cards(
            &teplo,
            &CardCount::Open {
                count: 2,
                overdue: 0,
            },
        );
        let b = tally.finish();
        let t = &b.by_executor["teplo"];
        assert_eq!((t.open_now, t.overdue_now), (7, 2));
        assert_eq!((t.received, t.closed()), (0, 0));
        assert!(!t.is_empty(), "an executor with open cards is reported");
    }

    #[test]
    fn steps_and_verifications_add_up_with_the_confirmation_rate() {
        let mut tally = Tally::new(KYIV);
        let count = |step, count| StepCount {
            group: group("shliakh", Some("301"), "web"),
            step,
            count,
        };
        tally.steps(&count(Step::ExtensionAsked, 3));
        tally.steps(&count(Step::ExtensionGranted, 2));
        tally.steps(&count(Step::MovedToLongTerm, 1));
        tally.steps(&count(Step::Confirmed, 4));
        tally.steps(&count(Step::NotConfirmed, 1));
        let b = tally.finish();
        let s = &b.by_channel["web"];
        assert_eq!((s.extensions_asked, s.extensions_granted), (3, 2));
        assert_eq!(s.moved_to_long_term, 1);
        assert_eq!((s.verified, s.confirmed), (5, 4));
        assert_eq!(s.confirmation_pct(), Some(80.0));
        assert_eq!(b.by_section["3"], *s);
        assert_eq!(b.by_category["301"], *s);
    }

    #[test]
    fn the_90th_percentile_is_the_nearest_rank() {
        let ten: Vec<u64> = (1..=10).collect();
        assert_eq!(nearest_rank(&ten, 90), Some(9));
        let eleven: Vec<u64> = (1..=11).rev().collect();
        assert_eq!(nearest_rank(&eleven, 90), Some(10), "rank ceil(9.9) = 10");
        assert_eq!(nearest_rank(&[7], 90), Some(7));
        assert_eq!(nearest_rank(&[], 90), None);
    }

    #[test]
    fn repeats_and_cards_without_a_category_are_grouped() {
        let mut tally = Tally::new(KYIV);
        let triage = group("centre", None, "phone");
        tally.cards(
            &triage,
            &CardCount::Received {
                count: 3,
                repeats: 1,
            },
        );
        let b = tally.finish();
        assert_eq!(b.by_category[""].repeats, 1);
        assert_eq!(b.total.repeats, 1);
        assert_eq!(b.by_section[""].received, 3);
    }

    #[test]
    fn an_hour_is_counted_on_the_citys_day_across_the_clock_change() {
        let mut tally = Tally::new(KYIV);
        let utc = |d, h| {
            Utc.with_ymd_and_hms(2026, 10, d, h, 0, 0)
                .single()
                .expect("a time")
        };
        // Summer time (UTC+3): 21:00 UTC on the 24th is midnight of the 25th.
        tally.received_in_hour(utc(24, 20), 1);
        tally.received_in_hour(utc(24, 21), 2);
        // Winter time (UTC+2) from 01:00 UTC on the 25th: 21:00 UTC is
        // 23:00 of the 25th, 22:00 UTC midnight of the 26th.
        tally.received_in_hour(utc(25, 21), 4);
        tally.received_in_hour(utc(25, 22), 8);
        let b = tally.finish();
        let day = |d| NaiveDate::from_ymd_opt(2026, 10, d).expect("a date");
        assert_eq!(
            b.received_by_day,
            BTreeMap::from([(day(24), 1), (day(25), 6), (day(26), 8)])
        );
    }

    #[test]
    fn an_executors_own_tally_leaves_the_others_out() {
        let mut tally = Tally::new(KYIV).only(Some("teplo"));
        let one = CardCount::Received {
            count: 1,
            repeats: 0,
        };
        tally.cards(&group("teplo", Some("101"), "phone"), &one);
        tally.cards(&group("vodokanal", Some("101"), "phone"), &one);
        let b = tally.finish();
        assert_eq!(b.total.received, 1);
        assert_eq!(b.by_executor.keys().collect::<Vec<_>>(), vec!["teplo"]);
        assert_eq!(b.by_category["101"].received, 1);
    }
}
