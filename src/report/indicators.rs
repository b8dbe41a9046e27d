//! The regulation's indicators of appeals (000 §4.1): for a period, per
//! executor, per category, per section and per channel, and in total.
//!
//! Plain code: the store hands in one [`CardFact`] per card the period
//! touches and the counted steps of the cards' histories
//! ([`StepCount`]); [`Tally`] adds them up; nothing here reads a clock or
//! a database. How each figure is counted is written on its field, and in
//! `docs/reports.md`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::appeal::record::AppealStatus;

/// What reports need to know of one card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardFact {
    /// The lead executor's code.
    pub executor: String,
    /// The classifier's issue type and section; `None` for a card filed
    /// without a category (the contact centre's triage).
    pub category: Option<String>,
    pub section: Option<String>,
    /// Where it came from: phone, web, chatbot, email, relay…
    pub channel: String,
    pub status: AppealStatus,
    pub created_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    /// When its life ended (closed, or not to be considered).
    pub finished_at: Option<DateTime<Utc>>,
    /// When the executor finished the work (the accepted closure
    /// proposal); see [`crate::appeal::lifecycle::Card::resolved_at`].
    pub resolved_at: Option<DateTime<Utc>>,
    /// Registered as a repeat of an earlier appeal.
    pub repeat: bool,
}

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

/// How many steps of one kind cards of one executor, category and channel
/// took in the period (counted by the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepCount {
    pub executor: String,
    pub category: Option<String>,
    pub section: Option<String>,
    pub channel: String,
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

    fn add_card(&mut self, card: &CardFact, window: Window) {
        if window.holds(card.created_at) {
            self.received += 1;
            if card.repeat {
                self.repeats += 1;
            }
        }
        match card.finished_at {
            Some(finished) if card.status == AppealStatus::Closed && window.holds(finished) => {
                let done = card.resolved_at.unwrap_or(finished);
                if done <= card.deadline {
                    self.closed_on_time += 1;
                } else {
                    self.closed_late += 1;
                }
                let secs = finished
                    .signed_duration_since(card.created_at)
                    .num_seconds();
                self.close_secs.push(secs.max(0).unsigned_abs());
            }
            _ => {}
        }
        if !card.status.is_final() {
            self.open_now += 1;
            if on_the_executor(card.status) && card.deadline < window.now {
                self.overdue_now += 1;
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

/// States in which the deadline runs on the executor (docs/lifecycle.md:
/// while a closure proposal or the citizen's answer is awaited, it waits
/// on the contact centre).
fn on_the_executor(status: AppealStatus) -> bool {
    use AppealStatus as S;
    matches!(
        status,
        S::Registered | S::Delivered | S::InProgress | S::Rework | S::LongTerm
    )
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

/// The period's moments and the report's "now".
#[derive(Debug, Clone, Copy)]
struct Window {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
}

impl Window {
    fn holds(self, at: DateTime<Utc>) -> bool {
        at >= self.start && at < self.end
    }
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
    window: Window,
    tz: Tz,
    /// Count only this executor's cards (an executor's own report).
    only: Option<String>,
    breakdown: Breakdown,
}

impl Tally {
    /// For the period from `start` to `end` (not included), with "now" at
    /// `now`, days counted in `tz`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>, tz: Tz) -> Tally {
        Tally {
            window: Window { start, end, now },
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

    /// Counts one card (each card once).
    pub fn card(&mut self, card: &CardFact) {
        if !self.counts(&card.executor) {
            return;
        }
        let window = self.window;
        if window.holds(card.created_at) {
            let day = card.created_at.with_timezone(&self.tz).date_naive();
            *self.breakdown.received_by_day.entry(day).or_default() += 1;
        }
        for group in self.groups(&card.executor, &card.category, &card.section, &card.channel) {
            group.add_card(card, window);
        }
    }

    /// Counts steps taken in the period.
    pub fn steps(&mut self, count: &StepCount) {
        if !self.counts(&count.executor) {
            return;
        }
        for group in self.groups(
            &count.executor,
            &count.category,
            &count.section,
            &count.channel,
        ) {
            group.add_steps(count.step, count.count);
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

    fn groups<'a>(
        &'a mut self,
        executor: &str,
        category: &Option<String>,
        section: &Option<String>,
        channel: &str,
    ) -> [&'a mut Indicators; 5] {
        let b = &mut self.breakdown;
        [
            &mut b.total,
            b.by_executor.entry(executor.to_string()).or_default(),
            b.by_category
                .entry(category.clone().unwrap_or_default())
                .or_default(),
            b.by_section
                .entry(section.clone().unwrap_or_default())
                .or_default(),
            b.by_channel.entry(channel.to_string()).or_default(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const KYIV: Tz = chrono_tz::Europe::Kyiv;

    fn at(d: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, s)
            .single()
            .expect("a time")
    }

    fn card(executor: &str, created: DateTime<Utc>, deadline: DateTime<Utc>) -> CardFact {
        CardFact {
            executor: executor.into(),
            category: Some("101".into()),
            section: Some("1".into()),
            channel: "phone".into(),
            status: AppealStatus::InProgress,
            created_at: created,
            deadline,
            finished_at: None,
            resolved_at: None,
            repeat: false,
        }
    }

    fn closed(mut c: CardFact, resolved: DateTime<Utc>, finished: DateTime<Utc>) -> CardFact {
        c.status = AppealStatus::Closed;
        c.resolved_at = Some(resolved);
        c.finished_at = Some(finished);
        c
    }

    #[test]
    fn closed_on_time_is_the_work_done_by_the_deadline_to_the_second() {
        // November: 1st 00:00 to December 1st 00:00 (UTC here for clarity).
        let mut tally = Tally::new(at(1, 0, 0, 0), at(30, 23, 59, 59), at(30, 12, 0, 0), KYIV);
        let deadline = at(10, 12, 0, 0);
        let one_before = deadline - chrono::TimeDelta::seconds(1);
        let one_after = deadline + chrono::TimeDelta::seconds(1);
        let made = at(10, 9, 0, 0);
        // Finished one second before and after the deadline; the closing
        // decision a day later counts for neither.
        tally.card(&closed(
            card("vodokanal", made, deadline),
            one_before,
            at(11, 9, 0, 0),
        ));
        tally.card(&closed(
            card("vodokanal", made, deadline),
            one_after,
            at(11, 9, 0, 0),
        ));
        tally.card(&closed(
            card("vodokanal", made, deadline),
            deadline,
            at(11, 9, 0, 0),
        ));
        let b = tally.finish();
        let v = &b.by_executor["vodokanal"];
        assert_eq!((v.closed_on_time, v.closed_late, v.closed()), (2, 1, 3));
        assert_eq!(v.received, 3);
        assert_eq!(v.mean_close_secs(), Some(24 * 3600));
        assert_eq!(b.total, *v);
    }

    #[test]
    fn open_and_overdue_are_counted_now_and_only_on_the_executor() {
        let now = at(20, 12, 0, 0);
        let mut tally = Tally::new(at(1, 0, 0, 0), at(8, 0, 0, 0), now, KYIV);
        let past = at(19, 0, 0, 0);
        let mut waiting = card("teplo", at(2, 0, 0, 0), past);
        waiting.status = AppealStatus::ClosureProposed;
        let overdue = card("teplo", at(15, 0, 0, 0), past);
        let not_yet = card("teplo", at(15, 0, 0, 0), at(21, 0, 0, 0));
        let mut rejected = card("teplo", at(15, 0, 0, 0), past);
        rejected.status = AppealStatus::Rejected;
        rejected.finished_at = Some(at(16, 0, 0, 0));
        for c in [&waiting, &overdue, &not_yet, &rejected] {
            tally.card(c);
        }
        let b = tally.finish();
        let t = &b.by_executor["teplo"];
        assert_eq!(t.open_now, 3, "all but the one not to be considered");
        assert_eq!(t.overdue_now, 1, "the proposal waits on the contact centre");
        assert_eq!(t.received, 1, "registered 1–7 November: only the first");
        assert_eq!(t.closed(), 0, "not considered is not closed");
    }

    #[test]
    fn steps_and_verifications_add_up_with_the_confirmation_rate() {
        let mut tally = Tally::new(at(1, 0, 0, 0), at(30, 0, 0, 0), at(30, 0, 0, 0), KYIV);
        let count = |step, count| StepCount {
            executor: "shliakh".into(),
            category: Some("301".into()),
            section: Some("3".into()),
            channel: "web".into(),
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
        let mut tally = Tally::new(at(1, 0, 0, 0), at(30, 0, 0, 0), at(30, 0, 0, 0), KYIV);
        let mut triage = card("centre", at(3, 0, 0, 0), at(4, 0, 0, 0));
        triage.category = None;
        triage.section = None;
        triage.repeat = true;
        tally.card(&triage);
        let b = tally.finish();
        assert_eq!(b.by_category[""].repeats, 1);
        assert_eq!(b.total.repeats, 1);
        assert_eq!(b.by_section[""].received, 1);
    }

    #[test]
    fn an_executors_own_tally_leaves_the_others_out() {
        let mut tally =
            Tally::new(at(1, 0, 0, 0), at(30, 0, 0, 0), at(30, 0, 0, 0), KYIV).only(Some("teplo"));
        tally.card(&card("teplo", at(3, 0, 0, 0), at(4, 0, 0, 0)));
        tally.card(&card("vodokanal", at(3, 0, 0, 0), at(4, 0, 0, 0)));
        let b = tally.finish();
        assert_eq!(b.total.received, 1);
        assert_eq!(b.by_executor.keys().collect::<Vec<_>>(), vec!["teplo"]);
        assert_eq!(b.by_category["101"].received, 1);
    }
}
